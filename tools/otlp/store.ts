/**
 * What an OTLP receiver accepted, in memory and bounded: spans and log records grouped by trace, the traces
 * changed longest ago evicted once more than a budget of records, or of bytes, is held, with a count of what
 * was dropped. Equal resources and scopes are held once, however many spans name them. The links of the
 * spans held are indexed the other way too, by the trace they point to, within caps of their own.
 *
 * @module
 */
import type { Attributes, LogRecord, Metric, Scope, Span } from "./decode.ts";
import { MetricStore } from "./metric_store.ts";
import { Interner } from "./_interner.ts";

/** The spans and log records of one trace. */
export interface Trace {
  /** The trace id, 32 lower-case hex digits. */
  traceId: string;
  /** The spans of the trace, in arrival order, each span id once (see `duplicateSpans`). */
  spans: Span[];
  /** The log records written inside the trace's spans, in arrival order. */
  logs: LogRecord[];
  /**
   * Spans that arrived again with a span id the trace already held: the first is kept, these are counted
   * (absent when none did).
   */
  duplicateSpans?: number;
}

/** What a store dropped to stay within its budget, or refused. */
export interface Dropped {
  /** Traces evicted, whole. */
  traces: number;
  /** Spans evicted with them. */
  spans: number;
  /** Log records evicted (with their trace, or, for those outside any trace, oldest first). */
  logs: number;
  /** Spans not stored because their trace already held a span with that id (the first one is kept). */
  duplicateSpans: number;
}

/** Options of {@linkcode TelemetryStore}. */
export interface StoreOptions {
  /**
   * The most spans and log records held together (default {@linkcode DEFAULT_MAX_RECORDS}). Past it, the
   * traces changed longest ago are evicted, whole, until a tenth of the budget is free again.
   */
  maxRecords?: number;
  /**
   * The most bytes held, as {@linkcode weigh} estimates them (default {@linkcode DEFAULT_MAX_BYTES}); past
   * it, traces are evicted as for `maxRecords`. Resources and scopes shared by many spans count once.
   */
  maxBytes?: number;
  /**
   * The most links to one trace the reverse index keeps (default {@linkcode MAX_LINKS_TO_TRACE}); past it,
   * links to that trace are counted, not kept (see {@linkcode TelemetryStore.linksTo}).
   */
  maxLinksToTrace?: number;
  /** The most links the reverse index keeps in all (default {@linkcode MAX_LINKS_INDEXED}). */
  maxLinksIndexed?: number;
}

/** The spans whose links point to spans of one trace, from the store's reverse index. */
export interface LinksTo {
  /** By the id of the span linked to, the spans held that link to it, in arrival order, each once. */
  bySpan: ReadonlyMap<string, readonly Span[]>;
  /**
   * Links to the trace that the index did not keep, past its caps (counted as they arrived: their spans
   * may since have been evicted).
   */
  leftOut: number;
}

/**
 * The default budget of a store: 50,000 spans and log records. Full of small spans, the heap holds about
 * 25 MiB of them; large records meet {@linkcode DEFAULT_MAX_BYTES} first (see `otlp/README.md`, Memory).
 */
export const DEFAULT_MAX_RECORDS = 50_000;

/**
 * The default byte budget: 64 MiB as {@linkcode weigh} counts, which the heap holds in about as much again
 * (object headers, maps); `deno task viewer` runs with a 256 MiB heap to match (see `otlp/README.md`).
 */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/** The default cap on the links to one trace the reverse index keeps: as many as a trace's answer sends. */
export const MAX_LINKS_TO_TRACE = 1000;

/**
 * The default cap on the links the reverse index keeps in all, so that a sender of many links to traces
 * that never arrive cannot grow it without bound: at {@linkcode LINK_BYTES} each, about 8 MiB.
 */
export const MAX_LINKS_INDEXED = 20_000;

/**
 * The bytes charged for one link kept in the reverse index (a slot holding the linking span, its share of
 * the maps), to the linking span's trace: an estimate that errs high, as {@linkcode weigh} does. A link to
 * a trace not held costs a map of its own, about 350 bytes; at 100, the link flood of `memory_test.ts` took
 * the viewer to 411 MiB, at 400 to 366.
 */
export const LINK_BYTES = 400;

/** The links that point to one trace, by the span they point to; those past the caps counted. */
interface Backlinks {
  bySpan: Map<string, Span[]>;
  count: number;
  leftOut: number;
}

/** A trace or a batch of log records outside any trace, in the list of what changed when (oldest first). */
interface Entry {
  trace?: Trace;
  logs?: LogRecord[];
  spanIds?: Set<string>;
  bytes: number;
  prev?: Entry;
  next?: Entry;
}

/** Everything the receiver has accepted, grouped by trace, within a budget of records and of bytes. */
export class TelemetryStore {
  /** How many spans and log records the store holds at most. */
  readonly maxRecords: number;
  /** How many bytes (as {@linkcode weigh} estimates them) the store holds at most. */
  readonly maxBytes: number;
  /** How many links to one trace the reverse index keeps at most. */
  readonly maxLinksToTrace: number;
  /** How many links the reverse index keeps at most. */
  readonly maxLinksIndexed: number;
  /** The metrics' series, within their own caps and a quarter of the byte budget (see `metric_store.ts`). */
  readonly metrics: MetricStore;
  #spans: Span[] = [];
  #logs: LogRecord[] = [];
  #byTrace = new Map<string, Entry>();
  // A doubly linked list of entries, least recently changed first: the order of eviction, and, read from
  // the tail, the newest traces in O(limit).
  #head?: Entry;
  #tail?: Entry;
  #held = 0;
  #bytes = 0;
  #resources = new Interner<Attributes>(weigh);
  #scopes = new Interner<Scope>(weigh);
  // By the trace linked to: the spans whose links point there, so that a trace's answer need not scan them.
  #linksTo = new Map<string, Backlinks>();
  #linksIndexed = 0;
  #dropped: Dropped = { traces: 0, spans: 0, logs: 0, duplicateSpans: 0 };
  #waiters = new Set<() => void>();
  #listeners = new Set<(traceId: string) => void>();

  /**
   * A store that holds at most `maxRecords` spans and log records, and `maxBytes` bytes, and indexes at most
   * `maxLinksIndexed` links, `maxLinksToTrace` to one trace.
   */
  constructor({
    maxRecords = DEFAULT_MAX_RECORDS,
    maxBytes = DEFAULT_MAX_BYTES,
    maxLinksToTrace = MAX_LINKS_TO_TRACE,
    maxLinksIndexed = MAX_LINKS_INDEXED,
  }: StoreOptions = {}) {
    if (!(maxRecords >= 1)) throw new RangeError(`maxRecords must be at least 1, got ${maxRecords}`);
    if (!(maxBytes >= 1)) throw new RangeError(`maxBytes must be at least 1, got ${maxBytes}`);
    // A cap of 0 on one trace would keep a count for every trace linked to, however many.
    if (!(maxLinksToTrace >= 1)) {
      throw new RangeError(`maxLinksToTrace must be at least 1, got ${maxLinksToTrace}`);
    }
    if (!(maxLinksIndexed >= 0)) {
      throw new RangeError(`maxLinksIndexed must be at least 0, got ${maxLinksIndexed}`);
    }
    this.maxRecords = maxRecords;
    this.maxBytes = maxBytes;
    this.maxLinksToTrace = maxLinksToTrace;
    this.maxLinksIndexed = maxLinksIndexed;
    this.metrics = new MetricStore({ maxBytes: Math.max(1, Math.floor(maxBytes / 4)) });
  }

  /** The spans held, in arrival order (read only: add with {@linkcode addSpans}). */
  get spans(): Span[] {
    return this.#spans;
  }

  /** The log records held, in arrival order (read only: add with {@linkcode addLogs}). */
  get logs(): LogRecord[] {
    return this.#logs;
  }

  /** What was evicted or refused so far. */
  get dropped(): Dropped {
    return { ...this.#dropped };
  }

  /**
   * The bytes held, as {@linkcode weigh} estimates them, each shared resource and scope once, with the
   * metrics' series.
   */
  get bytes(): number {
    return this.#bytes + this.#resources.bytes + this.#scopes.bytes + this.metrics.bytes;
  }

  /** How many traces are held. */
  get traceCount(): number {
    return this.#byTrace.size;
  }

  /**
   * Adds spans, filing each under its trace. A span whose trace already holds its span id is counted in
   * `dropped.duplicateSpans` and its trace's `duplicateSpans`, not stored. Each span's `resource` and
   * `scope` become the store's shared copy of an equal value. Each stored span's links are filed in the
   * reverse index (see {@linkcode linksTo}).
   */
  addSpans(spans: Span[]): void {
    const changed = new Set<string>();
    const shared = new Map<object, Attributes | Scope>();
    for (const span of spans) {
      const entry = this.#entry(span.traceId);
      const trace = entry.trace!;
      changed.add(span.traceId);
      if (entry.spanIds!.has(span.spanId)) {
        trace.duplicateSpans = (trace.duplicateSpans ?? 0) + 1;
        this.#dropped.duplicateSpans++;
        continue;
      }
      entry.spanIds!.add(span.spanId);
      span.resource = this.#share(shared, span.resource, this.#resources);
      span.scope = this.#share(shared, span.scope, this.#scopes);
      const bytes = weighSpan(span) + this.#indexLinks(span);
      entry.bytes += bytes;
      this.#bytes += bytes;
      this.#spans.push(span);
      trace.spans.push(span);
      this.#held++;
    }
    this.#changed(changed);
  }

  /** Adds log records, filing those written inside a span under its trace. */
  addLogs(logs: LogRecord[]): void {
    const untraced: LogRecord[] = [];
    const changed = new Set<string>();
    const shared = new Map<object, Scope>();
    let untracedBytes = 0;
    for (const log of logs) {
      log.scope = this.#share(shared, log.scope, this.#scopes);
      const bytes = weighLog(log);
      this.#bytes += bytes;
      this.#logs.push(log);
      if (log.traceId === undefined) {
        untraced.push(log);
        untracedBytes += bytes;
        continue;
      }
      const entry = this.#entry(log.traceId);
      entry.trace!.logs.push(log);
      entry.bytes += bytes;
      changed.add(log.traceId);
    }
    if (untraced.length > 0) this.#append({ logs: untraced, bytes: untracedBytes });
    this.#held += logs.length;
    this.#changed(changed);
  }

  /** Adds metrics to {@linkcode metrics}, which bounds them on its own; waiters see them. */
  addMetrics(metrics: Metric[]): void {
    this.metrics.add(metrics);
    this.#changed(new Set());
  }

  /** The trace with this id, or `undefined` when nothing of it arrived (or it was evicted). */
  trace(traceId: string): Trace | undefined {
    return this.#byTrace.get(traceId.toLowerCase())?.trace;
  }

  /** The span `spanId` of trace `traceId`, when it is held. */
  span(traceId: string, spanId: string): Span | undefined {
    return this.trace(traceId)?.spans.find((span) => span.spanId === spanId.toLowerCase());
  }

  /**
   * The spans held whose links point to spans of trace `traceId` (of another trace or its own), or
   * `undefined` when none do. Kept as spans arrive and as traces are evicted, so this costs nothing to
   * ask; at most {@linkcode maxLinksToTrace} of them, the rest counted in `leftOut`.
   */
  linksTo(traceId: string): LinksTo | undefined {
    const backlinks = this.#linksTo.get(traceId.toLowerCase());
    return backlinks && { bySpan: backlinks.bySpan, leftOut: backlinks.leftOut };
  }

  /**
   * All traces held, in the order their first span or log record arrived. Costs the number of traces held:
   * for a listing, see {@linkcode recentTraces}.
   */
  traces(): Trace[] {
    return [...this.#byTrace.values()].map((entry) => entry.trace!);
  }

  /** At most `limit` traces, the one that changed last (a span or log record arrived) first, in O(limit). */
  recentTraces(limit: number): Trace[] {
    const result: Trace[] = [];
    for (let entry = this.#tail; entry !== undefined && result.length < limit; entry = entry.prev) {
      if (entry.trace !== undefined) result.push(entry.trace);
    }
    return result;
  }

  /**
   * The traces held, the one that changed last first, one at a time, for a caller that pauses between steps
   * (a search in slices, see `search.ts`): each step costs one trace, where {@linkcode recentTraces} of them
   * all costs them all at once. A trace that changes during a pause moves ahead of the walk: it is given
   * again, or not at all if the walk had not reached it (`walkStore` in `search.ts` adds those); when the
   * trace last given is evicted meanwhile, every older one was too, and the walk ends.
   */
  *eachRecentTrace(): Generator<Trace, void, void> {
    for (let entry = this.#tail; entry !== undefined; entry = entry.prev) {
      if (entry.trace !== undefined) yield entry.trace;
    }
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

  #share<T extends object>(shared: Map<object, object>, value: T, interner: Interner<T>): T {
    let copy = shared.get(value) as T | undefined;
    if (copy === undefined) {
      // One user per span, released with it; the lookup by content once per value and call.
      copy = interner.acquire(value);
      shared.set(value, copy);
    } else {
      interner.acquire(copy);
    }
    return copy;
  }

  /**
   * Files the links of `span` (stored) under the traces they point to, within the caps; returns the bytes
   * that costs. A trace held may keep a count of what was left out with no link kept; one not held may not,
   * so that links to traces that never arrive cost nothing past the total cap.
   */
  #indexLinks(span: Span): number {
    let kept = 0;
    for (const { traceId, spanId } of span.links) {
      let backlinks = this.#linksTo.get(traceId);
      const full = this.#linksIndexed >= this.maxLinksIndexed;
      if (backlinks === undefined) {
        if (full && !this.#byTrace.has(traceId)) continue;
        backlinks = { bySpan: new Map(), count: 0, leftOut: 0 };
        this.#linksTo.set(traceId, backlinks);
      }
      const sources = backlinks.bySpan.get(spanId);
      // A span that links to one span twice is named once.
      if (sources?.at(-1) === span) continue;
      if (full || backlinks.count >= this.maxLinksToTrace) {
        backlinks.leftOut++;
        continue;
      }
      if (sources === undefined) backlinks.bySpan.set(spanId, [span]);
      else sources.push(span);
      backlinks.count++;
      this.#linksIndexed++;
      kept++;
    }
    return kept * LINK_BYTES;
  }

  /** The entry of trace `traceId`, made if need be, moved to the tail (changed last). */
  #entry(traceId: string): Entry {
    let entry = this.#byTrace.get(traceId);
    if (entry === undefined) {
      entry = { trace: { traceId, spans: [], logs: [] }, spanIds: new Set(), bytes: 0 };
      this.#byTrace.set(traceId, entry);
    } else if (entry !== this.#tail) {
      this.#unlink(entry);
    } else {
      return entry;
    }
    this.#append(entry);
    return entry;
  }

  #append(entry: Entry): void {
    entry.prev = this.#tail;
    entry.next = undefined;
    if (this.#tail) this.#tail.next = entry;
    else this.#head = entry;
    this.#tail = entry;
  }

  #unlink(entry: Entry): void {
    if (entry.prev) entry.prev.next = entry.next;
    else this.#head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.#tail = entry.prev;
    entry.prev = entry.next = undefined;
  }

  #changed(traceIds: Set<string>): void {
    if (this.#held > this.maxRecords || this.bytes > this.maxBytes) this.#evict();
    for (const check of [...this.#waiters]) check();
    for (const traceId of traceIds) for (const listener of this.#listeners) listener(traceId);
  }

  /**
   * Evicts the traces and log batches changed longest ago until a tenth of both budgets is free, in one
   * pass.
   */
  #evict(): void {
    const records = Math.floor(this.maxRecords * 0.9), bytes = Math.floor(this.maxBytes * 0.9);
    const evictedLogs = new Set<LogRecord>();
    const linkedTo = new Map<string, Set<string>>();
    let evictedSpans = false;
    while (this.#head !== undefined && (this.#held > records || this.bytes > bytes)) {
      const entry = this.#head;
      this.#unlink(entry);
      this.#bytes -= entry.bytes;
      const logs = entry.logs ?? entry.trace!.logs;
      for (const log of logs) {
        evictedLogs.add(log);
        this.#scopes.release(log.scope);
      }
      this.#held -= logs.length;
      this.#dropped.logs += logs.length;
      if (entry.trace === undefined) continue;
      const { spans, traceId } = entry.trace;
      this.#byTrace.delete(traceId);
      this.#dropLinksTo(traceId);
      for (const span of spans) {
        this.#resources.release(span.resource);
        this.#scopes.release(span.scope);
        for (const link of span.links) {
          if (!this.#linksTo.has(link.traceId)) continue;
          const spanIds = linkedTo.get(link.traceId);
          if (spanIds === undefined) linkedTo.set(link.traceId, new Set([link.spanId]));
          else spanIds.add(link.spanId);
        }
      }
      evictedSpans ||= spans.length > 0;
      this.#held -= spans.length;
      this.#dropped.traces++;
      this.#dropped.spans += spans.length;
    }
    if (evictedSpans) this.#spans = this.#spans.filter((span) => this.#byTrace.has(span.traceId));
    this.#pruneLinks(linkedTo);
    if (evictedLogs.size > 0) this.#logs = this.#logs.filter((log) => !evictedLogs.has(log));
  }

  /**
   * Forgets the links to trace `traceId`, evicted, and takes their bytes off the linking traces still held
   * (those evicted already took theirs with them).
   */
  #dropLinksTo(traceId: string): void {
    const backlinks = this.#linksTo.get(traceId);
    if (backlinks === undefined) return;
    this.#linksTo.delete(traceId);
    this.#linksIndexed -= backlinks.count;
    for (const sources of backlinks.bySpan.values()) {
      for (const source of sources) {
        const entry = this.#byTrace.get(source.traceId);
        if (entry === undefined) continue;
        entry.bytes -= LINK_BYTES;
        this.#bytes -= LINK_BYTES;
      }
    }
  }

  /**
   * Takes the spans of evicted traces out of the links to `linkedTo` (trace id to the span ids linked to),
   * once per eviction, so that a span linked to from many evicted traces is filtered once. Their bytes
   * went with their traces.
   */
  #pruneLinks(linkedTo: Map<string, Set<string>>): void {
    for (const [traceId, spanIds] of linkedTo) {
      const backlinks = this.#linksTo.get(traceId);
      if (backlinks === undefined) continue;
      for (const spanId of spanIds) {
        const sources = backlinks.bySpan.get(spanId);
        if (sources === undefined) continue;
        const held = sources.filter((source) => this.#byTrace.has(source.traceId));
        backlinks.count -= sources.length - held.length;
        this.#linksIndexed -= sources.length - held.length;
        if (held.length > 0) backlinks.bySpan.set(spanId, held);
        else backlinks.bySpan.delete(spanId);
      }
      const counted = backlinks.leftOut > 0 && this.#byTrace.has(traceId);
      if (backlinks.count === 0 && !counted) this.#linksTo.delete(traceId);
    }
  }
}

/**
 * The distinct resources of a trace's spans, in the order they first appear, and the index of each: what a
 * viewer sends once per trace rather than once per span. The store shares equal resources, so identity is
 * equality here.
 */
export function resourcesOf(trace: Trace): { resources: Attributes[]; indexOf: Map<Attributes, number> } {
  const indexOf = new Map<Attributes, number>();
  const resources: Attributes[] = [];
  for (const span of trace.spans) {
    if (indexOf.has(span.resource)) continue;
    indexOf.set(span.resource, resources.length);
    resources.push(span.resource);
  }
  return { resources, indexOf };
}

/**
 * An estimate of the bytes a decoded value takes on the heap: two per character of a string (V8 may hold
 * it as UTF-16), sixteen per number, and an object's or array's own slots. It errs high for small records.
 */
export function weigh(value: unknown): number {
  if (typeof value === "string") return 16 + 2 * value.length;
  if (value === null || typeof value !== "object") return 16;
  let bytes = 32;
  if (Array.isArray(value)) {
    for (const item of value) bytes += 8 + weigh(item);
    return bytes;
  }
  for (const key in value) bytes += 8 + weigh(key) + weigh((value as Record<string, unknown>)[key]);
  return bytes;
}

/** The bytes of a span of its own: everything but the shared resource and scope. */
function weighSpan(span: Span): number {
  let bytes = 400 + weigh(span.name) + weigh(span.attributes) + weigh(span.status.message ?? "");
  for (const event of span.events) bytes += 80 + weigh(event.name) + weigh(event.attributes);
  return bytes;
}

function weighLog(log: LogRecord): number {
  return 300 + weigh(log.body) + weigh(log.attributes) + weigh(log.severityText ?? "");
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
