/**
 * What an OTLP receiver accepted, in memory and bounded: spans and log records grouped by trace, the oldest
 * traces evicted once more than a budget of spans and log records is held, with a count of what was dropped.
 *
 * @module
 */
import type { LogRecord, Span } from "./decode.ts";

/** The spans and log records of one trace. */
export interface Trace {
  /** The trace id, 32 lower-case hex digits. */
  traceId: string;
  /** The spans of the trace, in arrival order. */
  spans: Span[];
  /** The log records written inside the trace's spans, in arrival order. */
  logs: LogRecord[];
}

/** What a store dropped to stay within its budget. */
export interface Dropped {
  /** Traces evicted, whole. */
  traces: number;
  /** Spans evicted with them. */
  spans: number;
  /** Log records evicted (with their trace, or, for those outside any trace, oldest first). */
  logs: number;
}

/** Options of {@linkcode TelemetryStore}. */
export interface StoreOptions {
  /**
   * The most spans and log records held together (default {@linkcode DEFAULT_MAX_RECORDS}). Past it, the
   * traces that arrived first are evicted, whole, until a tenth of the budget is free again.
   */
  maxRecords?: number;
}

/**
 * The default budget of a store: 50,000 spans and log records. Full of small spans, the receiver's heap
 * holds about 25 MiB and its RSS stays about 200 MiB however much arrives (the opt-in memory test of
 * `receiver_test.ts`).
 */
export const DEFAULT_MAX_RECORDS = 50_000;

/** How many distinct metric names a store keeps, so that a sender of endless names cannot grow it. */
export const MAX_METRIC_NAMES = 1_000;

/** Everything the receiver has accepted, grouped by trace, within a budget. */
export class TelemetryStore {
  /** How many spans and log records the store holds at most. */
  readonly maxRecords: number;
  /** How many metric export requests arrived, and how many metrics they held. */
  metrics = { requests: 0, metrics: 0 };
  #metricNames = new Set<string>();
  #spans: Span[] = [];
  #logs: LogRecord[] = [];
  #byTrace = new Map<string, Trace>();
  /** Traces and batches of log records outside any trace, in arrival order: the order of eviction. */
  #age = new Map<string, Trace | LogRecord[]>();
  #batches = 0;
  #held = 0;
  #dropped: Dropped = { traces: 0, spans: 0, logs: 0 };
  #waiters = new Set<() => void>();
  #listeners = new Set<(traceId: string) => void>();

  /** A store that holds at most `maxRecords` spans and log records. */
  constructor({ maxRecords = DEFAULT_MAX_RECORDS }: StoreOptions = {}) {
    if (!(maxRecords >= 1)) throw new RangeError(`maxRecords must be at least 1, got ${maxRecords}`);
    this.maxRecords = maxRecords;
  }

  /** The spans held, in arrival order (read only: add with {@linkcode addSpans}). */
  get spans(): Span[] {
    return this.#spans;
  }

  /** The log records held, in arrival order (read only: add with {@linkcode addLogs}). */
  get logs(): LogRecord[] {
    return this.#logs;
  }

  /** What was evicted so far to stay within the budget. */
  get dropped(): Dropped {
    return { ...this.#dropped };
  }

  /** Adds spans, filing each under its trace. */
  addSpans(spans: Span[]): void {
    for (const span of spans) {
      this.#spans.push(span);
      this.#trace(span.traceId).spans.push(span);
    }
    this.#held += spans.length;
    this.#changed(new Set(spans.map((span) => span.traceId)));
  }

  /** Adds log records, filing those written inside a span under its trace. */
  addLogs(logs: LogRecord[]): void {
    const untraced: LogRecord[] = [];
    for (const log of logs) {
      this.#logs.push(log);
      if (log.traceId !== undefined) this.#trace(log.traceId).logs.push(log);
      else untraced.push(log);
    }
    if (untraced.length > 0) this.#age.set(`logs ${this.#batches++}`, untraced);
    this.#held += logs.length;
    this.#changed(new Set(logs.flatMap((log) => log.traceId ?? [])));
  }

  /** Counts one metric export request holding metrics of these names, and keeps the first names. */
  addMetricNames(names: string[]): void {
    this.metrics.requests++;
    this.metrics.metrics += names.length;
    for (const name of names) {
      if (this.#metricNames.size >= MAX_METRIC_NAMES) break;
      this.#metricNames.add(name);
    }
    for (const check of [...this.#waiters]) check();
  }

  /** The names of the metrics that arrived (the first {@linkcode MAX_METRIC_NAMES} distinct ones). */
  get metricNames(): ReadonlySet<string> {
    return this.#metricNames;
  }

  /** The trace with this id, or `undefined` when nothing of it arrived (or it was evicted). */
  trace(traceId: string): Trace | undefined {
    return this.#byTrace.get(traceId.toLowerCase());
  }

  /** The span `spanId` of trace `traceId`, when it is held. */
  span(traceId: string, spanId: string): Span | undefined {
    return this.trace(traceId)?.spans.find((span) => span.spanId === spanId.toLowerCase());
  }

  /** All traces held, in the order their first span or log record arrived. */
  traces(): Trace[] {
    return [...this.#byTrace.values()];
  }

  /** Calls `listener` with a trace id each time something of that trace arrives; returns an unsubscribe. */
  onChange(listener: (traceId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolves with the first truthy value `condition` returns, checked now and after each arrival. Rejects
   * when `signal` aborts (for example `AbortSignal.timeout(10_000)`), saying what was awaited.
   */
  waitFor<T>(condition: (store: TelemetryStore) => T | undefined | false | null, {
    signal,
    what = "the awaited telemetry",
  }: { signal?: AbortSignal; what?: string } = {}): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        let value: T | undefined | false | null;
        try {
          value = condition(this);
        } catch (error) {
          finish();
          return reject(error);
        }
        if (value) {
          finish();
          resolve(value);
        }
      };
      const abort = () => {
        finish();
        reject(new Error(`${what} did not arrive: ${signal?.reason?.message ?? signal?.reason}`));
      };
      const finish = () => {
        this.#waiters.delete(check);
        signal?.removeEventListener("abort", abort);
      };
      if (signal?.aborted) return abort();
      this.#waiters.add(check);
      signal?.addEventListener("abort", abort);
      check();
    });
  }

  /**
   * Waits until the trace `traceId` is complete (see {@linkcode isComplete}) and holds at least `spans`
   * spans, then returns it. Rejects when `signal` aborts.
   */
  waitForTrace(
    traceId: string,
    { spans = 1, signal }: { spans?: number; signal?: AbortSignal } = {},
  ): Promise<Trace> {
    return this.waitFor((store) => {
      const trace = store.trace(traceId);
      return trace !== undefined && trace.spans.length >= spans && isComplete(trace) && trace;
    }, { signal, what: `${spans} spans of trace ${traceId}` });
  }

  #trace(traceId: string): Trace {
    let trace = this.#byTrace.get(traceId);
    if (trace === undefined) {
      trace = { traceId, spans: [], logs: [] };
      this.#byTrace.set(traceId, trace);
      this.#age.set(`trace ${traceId}`, trace);
    }
    return trace;
  }

  #changed(traceIds: Set<string>): void {
    if (this.#held > this.maxRecords) this.#evict();
    for (const check of [...this.#waiters]) check();
    for (const traceId of traceIds) for (const listener of this.#listeners) listener(traceId);
  }

  /** Evicts the oldest traces and log batches until a tenth of the budget is free, in one pass. */
  #evict(): void {
    const target = Math.floor(this.maxRecords * 0.9);
    const evictedLogs = new Set<LogRecord>();
    for (const [key, entry] of this.#age) {
      if (this.#held <= target) break;
      this.#age.delete(key);
      if (Array.isArray(entry)) {
        for (const log of entry) evictedLogs.add(log);
        this.#held -= entry.length;
        this.#dropped.logs += entry.length;
      } else {
        this.#byTrace.delete(entry.traceId);
        this.#held -= entry.spans.length + entry.logs.length;
        this.#dropped.traces++;
        this.#dropped.spans += entry.spans.length;
        this.#dropped.logs += entry.logs.length;
      }
    }
    this.#spans = this.#spans.filter((span) => this.#byTrace.has(span.traceId));
    this.#logs = this.#logs.filter((log) =>
      log.traceId === undefined ? !evictedLogs.has(log) : this.#byTrace.has(log.traceId)
    );
  }
}

/**
 * The services of `spans`, in the order their earliest span started (not the order their exports arrived
 * in), each once.
 */
export function servicesByStart(spans: readonly Span[]): string[] {
  const first = new Map<string, bigint>();
  for (const span of spans) {
    const start = first.get(span.service);
    if (start === undefined || span.startTimeUnixNano < start) {
      first.set(span.service, span.startTimeUnixNano);
    }
  }
  return [...first].sort(([, a], [, b]) => a < b ? -1 : a > b ? 1 : 0).map(([service]) => service);
}

/**
 * Whether a trace is whole: it has exactly one root span, and the parent of every other span arrived.
 */
export function isComplete(trace: Trace): boolean {
  const ids = new Set(trace.spans.map((span) => span.spanId));
  let roots = 0;
  for (const span of trace.spans) {
    if (span.parentSpanId === undefined) roots++;
    else if (!ids.has(span.parentSpanId)) return false;
  }
  return roots === 1;
}
