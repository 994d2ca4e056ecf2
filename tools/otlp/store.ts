/**
 * What an OTLP receiver accepted, in memory and bounded: spans and log records grouped by trace, the traces
 * changed longest ago evicted once more than a budget of records, or of bytes, is held, with a count of what
 * was dropped. Spans that came as protobuf are kept as their bytes with a small index of each (ids, times,
 * kind, status), in one buffer per trace off the JavaScript heap, and decoded when asked for; spans that
 * came decoded are kept as objects. Equal resources and scopes are held once, however many spans name them.
 * The links of the spans held are indexed the other way too, by the trace they point to, within caps of
 * their own.
 *
 * @module
 */
import {
  type Attributes,
  decodeStoredSpan,
  type LogRecord,
  type Metric,
  type Origin,
  type ScannedSpans,
  type Scope,
  type Span,
  SPAN_KINDS,
  storedSpanName,
} from "./decode.ts";
import { MetricStore } from "./metric_store.ts";
import { Interner } from "./_interner.ts";
import { holds, type Needle, needle } from "./_needle.ts";
import { F, fieldAt, H, HEADER, lastFieldAt } from "./_scan.ts";

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
  /**
   * What the store's index says of the trace (duration, errors, services…) without decoding its spans:
   * present on the traces a {@linkcode TelemetryStore} gives.
   */
  facts?(): TraceFacts;
  /**
   * Whether one span of the trace has `service`, the name `operation` and, when `error`, status ERROR (each
   * when given), and may have `attributes`, read from the store's index and the spans' bytes without decoding
   * the spans: present on the traces a {@linkcode TelemetryStore} gives. With `confirm`, a span that may
   * match is decoded, alone, and matches only if `confirm` says so: the answer is then exact.
   */
  hasSpan?(query: SpanQuery, confirm?: (span: Span) => boolean): boolean;
}

/** What {@linkcode Trace.hasSpan} asks of one span. */
export interface SpanQuery {
  /** The span's service. */
  service?: string;
  /** The span's name. */
  operation?: string;
  /** `true`: the span's status is ERROR. */
  error?: boolean;
  /**
   * Attributes the span may have, on itself or its resource, as key and value as a search compares it (a
   * string as it is, any other value as JSON). A necessary condition only, the values still need decoding:
   * a span cannot have one when its resource has no such key and its bytes do not hold an ASCII key, or,
   * for a value only a string (or bytes, as base64) can give, the value's bytes.
   */
  attributes?: (readonly [string, string])[];
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
   * The most of `maxBytes` that decoded records may take (spans that came as OTLP/JSON or through
   * {@linkcode TelemetryStore.addSpans}, log records), which live on the JavaScript heap (default the least
   * of `maxBytes` and {@linkcode DEFAULT_MAX_OBJECT_BYTES}); past it, traces are evicted as for `maxRecords`.
   */
  maxObjectBytes?: number;
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
 * The default budget of a store: 2,000,000 spans and log records, so that the byte budget binds first (see
 * `otlp/README.md`, Memory).
 */
export const DEFAULT_MAX_RECORDS = 2_000_000;

/**
 * The default byte budget: 160 MiB. Spans kept as protobuf cost their bytes, a 48-byte index each and
 * {@linkcode TRACE_BYTES} per trace: about 240 bytes a span of telemetrygen's shape (10-span traces), so
 * about 700,000 of them, in about 300 MiB of RSS (see `tools/viewer/README.md`).
 */
export const DEFAULT_MAX_BYTES = 160 * 1024 * 1024;

/**
 * The default budget of decoded records (see `maxObjectBytes`): 64 MiB as {@linkcode weigh} counts, which
 * the heap holds in about as much again (object headers, maps); `deno task viewer`'s heap limit matches.
 */
export const DEFAULT_MAX_OBJECT_BYTES = 64 * 1024 * 1024;

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

/** A span that links to a span of a trace: where to find it. */
interface LinkSource {
  traceId: string;
  spanId: string;
}

/** The links that point to one trace, by the span they point to; those past the caps counted. */
interface Backlinks {
  bySpan: Map<string, LinkSource[]>;
  count: number;
  leftOut: number;
}

/** An origin (service, resource, scope) shared by the spans kept as bytes, counted by its users. */
interface OriginSlot {
  origin: Origin;
  users: number;
}

/**
 * A trace, or a batch of log records outside any trace, in the list of what changed when (oldest first).
 * A trace's spans are records in one buffer: each a header of {@linkcode SCANNED_HEADER_BYTES} (ids, times,
 * kind, status, flags, origin, arrival number) and the span's protobuf bytes, decoded when asked; a span
 * that came decoded (OTLP/JSON, `addSpans`) is kept as it is, in `objects`, its record pointing there.
 */
class Entry {
  traceId: string | undefined;
  records: Uint8Array = NO_RECORDS;
  used = 0;
  spans = 0;
  objects: Span[] | undefined;
  logs: LogRecord[] = [];
  duplicateSpans = 0;
  /**
   * Spans with status ERROR, CLIENT spans, and the earliest start and latest end as 32-bit halves (signed:
   * read them with `>>> 0`).
   */
  errors = 0;
  clients = 0;
  startHi = 0;
  startLo = 0;
  endHi = 0;
  endLo = 0;
  /** How many times something of the trace arrived; its facts, as of `factsAt` arrivals. */
  changes = 0;
  facts: TraceFacts | undefined;
  factsAt = -1;
  /** The earliest start and the duration as BigInt, made for the count of spans and logs `timesAt`. */
  start = 0n;
  duration = 0n;
  timesAt = -1;
  /** The span ids, once the trace is large enough that a linear search for duplicates costs too much. */
  ids: Set<string> | undefined;
  /** Its view as a {@linkcode Trace}, once asked for. */
  trace: StoredTrace | undefined;
  /** The traces its spans link to, to take its spans out of their backlinks when it is evicted. */
  linksTo: Set<string> | undefined;
  bytes = 0;
  prev: Entry | undefined;
  next: Entry | undefined;

  constructor(traceId: string | undefined) {
    this.traceId = traceId;
  }
}

/** What a {@linkcode StoredTrace} asks of its store. */
interface ViewContext {
  decode(entry: Entry, at: number): Span;
  facts(entry: Entry): TraceFacts;
  names(entry: Entry): { name: string; service: string; services: string[] };
  hasSpan(entry: Entry, query: SpanQuery, confirm?: (span: Span) => boolean): boolean;
}

/** {@linkcode TraceFacts} from a trace's entry: counts at once, names and completeness when first read. */
class IndexFacts implements TraceFacts {
  readonly traceId: string;
  readonly spans: number;
  readonly logs: number;
  readonly errors: number;
  readonly startTimeUnixNano: bigint;
  readonly durationNanos: bigint;
  readonly duplicateSpans: number;
  readonly #entry: Entry;
  readonly #context: ViewContext;
  #names: { name: string; service: string; services: string[] } | undefined;
  #complete: boolean | undefined;
  #awaitsServer: boolean | undefined;

  /**
   * With `keep`, the times as BigInt are kept on the entry until the trace changes (a search asks every
   * trace held, again and again); without it (a trace asked about once, as it arrives), they are not, so
   * that the heap holds no more objects per trace than it must.
   */
  constructor(entry: Entry, context: ViewContext, keep: boolean) {
    this.#entry = entry;
    this.#context = context;
    this.traceId = entry.traceId!;
    this.spans = entry.spans;
    this.logs = entry.logs.length;
    this.errors = entry.errors;
    this.duplicateSpans = entry.duplicateSpans;
    const version = entry.spans + entry.logs.length * 2 ** 32;
    if (entry.timesAt === version) {
      this.startTimeUnixNano = entry.start;
      this.durationNanos = entry.duration;
      return;
    }
    let start = entry.spans > 0
      ? BigInt(entry.startHi >>> 0) << 32n | BigInt(entry.startLo >>> 0)
      : undefined;
    const end = entry.spans > 0 ? BigInt(entry.endHi >>> 0) << 32n | BigInt(entry.endLo >>> 0) : undefined;
    if (start === undefined) {
      for (const log of entry.logs) {
        if (start === undefined || log.timeUnixNano < start) start = log.timeUnixNano;
      }
    }
    this.startTimeUnixNano = start ?? 0n;
    this.durationNanos = end !== undefined && end > this.startTimeUnixNano
      ? end - this.startTimeUnixNano
      : 0n;
    if (keep) {
      [entry.start, entry.duration, entry.timesAt] = [this.startTimeUnixNano, this.durationNanos, version];
    }
  }

  /** Whether a CLIENT span has no child yet (worked out when first read). */
  get awaitsServer(): boolean {
    return this.#awaitsServer ??= this.#entry.clients > 0 && awaitsServer(this.#entry);
  }

  get name(): string {
    return (this.#names ??= this.#context.names(this.#entry)).name;
  }

  get service(): string {
    return (this.#names ??= this.#context.names(this.#entry)).service;
  }

  get services(): string[] {
    return (this.#names ??= this.#context.names(this.#entry)).services;
  }

  get complete(): boolean {
    return this.#complete ??= isWhole(this.#entry);
  }
}

/** A trace of the store, its spans decoded when read (see {@linkcode TelemetryStore.trace}). */
class StoredTrace implements Trace {
  readonly traceId: string;
  /** The log records written inside the trace's spans (an own field, so that `{ ...trace }` keeps it). */
  readonly logs: LogRecord[];
  readonly #entry: Entry;
  readonly #context: ViewContext;
  #spans: WeakRef<Span[]> | undefined;
  #decodedAt = -1;

  constructor(entry: Entry, context: ViewContext) {
    this.traceId = entry.traceId!;
    this.logs = entry.logs;
    this.#entry = entry;
    this.#context = context;
  }

  /** The spans, decoded: the same array while the trace holds as many spans and the memory is not needed. */
  get spans(): Span[] {
    const entry = this.#entry;
    const kept = this.#spans?.deref();
    if (kept !== undefined && this.#decodedAt === entry.spans) return kept;
    const spans: Span[] = [];
    for (let at = 0; at < entry.used; at = next(entry.records, at)) {
      spans.push(this.#context.decode(entry, at));
    }
    this.#spans = new WeakRef(spans);
    this.#decodedAt = entry.spans;
    return spans;
  }

  get duplicateSpans(): number | undefined {
    return this.#entry.duplicateSpans > 0 ? this.#entry.duplicateSpans : undefined;
  }

  /** What the store's index says of the trace, without decoding its spans. */
  facts(): TraceFacts {
    return this.#context.facts(this.#entry);
  }

  /** Whether a span has the service, name and status asked for, decoding at most the spans `confirm` reads. */
  hasSpan(query: SpanQuery, confirm?: (span: Span) => boolean): boolean {
    return this.#context.hasSpan(this.#entry, query, confirm);
  }
}

const NO_RECORDS = new Uint8Array(0);

/**
 * What a trace costs besides its records, as an estimate that errs high: the entry, its key, its place in
 * the map and the list, the buffer's objects.
 */
export const TRACE_BYTES = 512;

/** Traces of more spans than this keep a set of their span ids to find duplicates. */
const LINEAR_IDS = 16;

/**
 * What the store knows of a trace without decoding its spans: the answer of
 * {@linkcode TelemetryStore.summary}. `name`, `service` and `services` are worked out when first read.
 */
export interface TraceFacts {
  /** The trace id. */
  traceId: string;
  /** The root span's name: the earliest span whose parent the trace does not hold ("" without spans). */
  name: string;
  /** The root span's service (or, without spans, the first log record's). */
  service: string;
  /** The services of its spans, in the order their earliest span started. */
  services: string[];
  /** Spans held. */
  spans: number;
  /** Log records held. */
  logs: number;
  /** Spans with status ERROR. */
  errors: number;
  /** The earliest span's start (without spans, the earliest log record's time; 0 without either). */
  startTimeUnixNano: bigint;
  /** The latest span's end less `startTimeUnixNano` (0 when not later). */
  durationNanos: bigint;
  /** One root, and every parent held. */
  complete: boolean;
  /** Spans that came again with an id the trace held. */
  duplicateSpans: number;
  /** Whether a CLIENT span has no child yet: the called service's spans may still come. */
  awaitsServer: boolean;
}

/** Everything the receiver has accepted, grouped by trace, within a budget of records and of bytes. */
export class TelemetryStore {
  /** How many spans and log records the store holds at most. */
  readonly maxRecords: number;
  /** How many bytes (as {@linkcode weigh} estimates them) the store holds at most. */
  readonly maxBytes: number;
  /** How many of {@linkcode maxBytes} may be decoded records on the heap (see {@linkcode StoreOptions}). */
  readonly maxObjectBytes: number;
  /** How many links to one trace the reverse index keeps at most. */
  readonly maxLinksToTrace: number;
  /** How many links the reverse index keeps at most. */
  readonly maxLinksIndexed: number;
  /** The metrics' series, within their own caps and a quarter of the byte budget (see `metric_store.ts`). */
  readonly metrics: MetricStore;
  #logs: LogRecord[] = [];
  #byTrace = new Map<string, Entry>();
  // A doubly linked list of entries, least recently changed first: the order of eviction, and, read from
  // the tail, the newest traces in O(limit).
  #head?: Entry;
  #tail?: Entry;
  #held = 0;
  #spanCount = 0;
  #bytes = 0;
  #objectBytes = 0;
  #seq = 0;
  #accepted = { spans: 0, logs: 0 };
  #resources = new Interner<Attributes>(weigh);
  #scopes = new Interner<Scope>(weigh);
  #origins = new Map<number, OriginSlot>();
  #originIds = new Map<Attributes, Map<Scope, number>>();
  #nextOrigin = 0;
  // By the trace linked to: the spans whose links point there, so that a trace's answer need not scan them.
  #linksTo = new Map<string, Backlinks>();
  #linksIndexed = 0;
  #dropped: Dropped = { traces: 0, spans: 0, logs: 0, duplicateSpans: 0 };
  #waiters = new Set<() => void>();
  #listeners = new Set<(traceId: string) => void>();

  /**
   * A store that holds at most `maxRecords` spans and log records, and `maxBytes` bytes (`maxObjectBytes`
   * of them decoded), and indexes at most `maxLinksIndexed` links, `maxLinksToTrace` to one trace.
   */
  constructor({
    maxRecords = DEFAULT_MAX_RECORDS,
    maxBytes = DEFAULT_MAX_BYTES,
    maxObjectBytes = Math.min(maxBytes, DEFAULT_MAX_OBJECT_BYTES),
    maxLinksToTrace = MAX_LINKS_TO_TRACE,
    maxLinksIndexed = MAX_LINKS_INDEXED,
  }: StoreOptions = {}) {
    if (!(maxRecords >= 1)) throw new RangeError(`maxRecords must be at least 1, got ${maxRecords}`);
    if (!(maxBytes >= 1)) throw new RangeError(`maxBytes must be at least 1, got ${maxBytes}`);
    if (!(maxObjectBytes >= 1)) {
      throw new RangeError(`maxObjectBytes must be at least 1, got ${maxObjectBytes}`);
    }
    // A cap of 0 on one trace would keep a count for every trace linked to, however many.
    if (!(maxLinksToTrace >= 1)) {
      throw new RangeError(`maxLinksToTrace must be at least 1, got ${maxLinksToTrace}`);
    }
    if (!(maxLinksIndexed >= 0)) {
      throw new RangeError(`maxLinksIndexed must be at least 0, got ${maxLinksIndexed}`);
    }
    this.maxRecords = maxRecords;
    this.maxBytes = maxBytes;
    this.maxObjectBytes = maxObjectBytes;
    this.maxLinksToTrace = maxLinksToTrace;
    this.maxLinksIndexed = maxLinksIndexed;
    this.metrics = new MetricStore({
      maxBytes: Math.max(1, Math.floor(Math.min(maxBytes, DEFAULT_MAX_OBJECT_BYTES) / 4)),
    });
  }

  /**
   * The spans held, in arrival order, decoded: costs the number held (for a count, see
   * {@linkcode spanCount}).
   */
  get spans(): Span[] {
    const all: [number, Span][] = [];
    for (const entry of this.#byTrace.values()) {
      for (let at = 0; at < entry.used; at = next(entry.records, at)) {
        all.push([u32(entry.records, at + H.seq), this.#decode(entry, at)]);
      }
    }
    return all.sort(([a], [b]) => a - b).map(([, span]) => span);
  }

  /** How many spans are held. */
  get spanCount(): number {
    return this.#spanCount;
  }

  /** The log records held, in arrival order (read only: add with {@linkcode addLogs}). */
  get logs(): LogRecord[] {
    return this.#logs;
  }

  /** What was evicted or refused so far. */
  get dropped(): Dropped {
    return { ...this.#dropped };
  }

  /** The spans and log records given to the store so far, held or not (duplicates included). */
  get accepted(): { spans: number; logs: number } {
    return { ...this.#accepted };
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
   * Adds spans, filing each under its trace, as they are (on the heap: see `maxObjectBytes`). A span whose
   * trace already holds its span id is counted in `dropped.duplicateSpans` and its trace's
   * `duplicateSpans`, not stored. Each span's `resource` and `scope` become the store's shared copy of an
   * equal value. Each stored span's links are filed in the reverse index (see {@linkcode linksTo}).
   */
  addSpans(spans: Span[]): void {
    const changed = new Set<string>();
    const shared = new Map<object, Attributes | Scope>();
    for (const span of spans) this.#addObject(span, shared, changed);
    this.#changed(changed);
  }

  /**
   * Adds the spans of a request that {@linkcode scanTraces} read, keeping each as its bytes (those it had
   * to decode as they are), with the same rules as {@linkcode addSpans}.
   */
  addScanned(batch: ScannedSpans): void {
    const changed = new Set<string>();
    const origins = batch.origins.map((origin) => this.#acquireOrigin(origin));
    const shared = new Map<object, Attributes | Scope>();
    let decoded = 0;
    for (let i = 0; i < batch.count;) {
      while (decoded < batch.decoded.length && batch.decoded[decoded][0] === i) {
        this.#addObject(batch.decoded[decoded++][1], shared, changed);
      }
      // The spans of one trace that came one after another are filed together (in arrival order with those
      // decoded).
      const stop = decoded < batch.decoded.length ? batch.decoded[decoded][0] : batch.count;
      let end = i + 1;
      while (end < stop && batch.traceIds[end] === batch.traceIds[i]) end++;
      this.#addRun(batch, i, end, origins, changed);
      i = end;
    }
    while (decoded < batch.decoded.length) this.#addObject(batch.decoded[decoded++][1], shared, changed);
    for (const origin of origins) this.#releaseOrigin(origin);
    this.#changed(changed);
  }

  /** Adds log records, filing those written inside a span under its trace. */
  addLogs(logs: LogRecord[]): void {
    const untraced: LogRecord[] = [];
    const changed = new Set<string>();
    const shared = new Map<object, Scope>();
    let untracedBytes = 0;
    this.#accepted.logs += logs.length;
    for (const log of logs) {
      log.scope = this.#share(shared, log.scope, this.#scopes);
      const bytes = weighLog(log);
      this.#bytes += bytes;
      this.#objectBytes += bytes;
      this.#logs.push(log);
      if (log.traceId === undefined) {
        untraced.push(log);
        untracedBytes += bytes;
        continue;
      }
      const entry = this.#entry(log.traceId);
      entry.logs.push(log);
      entry.bytes += bytes;
      changed.add(log.traceId);
    }
    if (untraced.length > 0) {
      const entry = new Entry(undefined);
      entry.logs = untraced;
      entry.bytes = untracedBytes;
      this.#append(entry);
    }
    this.#held += logs.length;
    this.#changed(changed);
  }

  /** Adds metrics to {@linkcode metrics}, which bounds them on its own; waiters see them. */
  addMetrics(metrics: Metric[]): void {
    this.metrics.add(metrics);
    this.#changed(new Set());
  }

  /**
   * The trace with this id, or `undefined` when nothing of it arrived (or it was evicted). Its spans are
   * decoded when first read, and not again for this answer: ask again for what arrived since.
   */
  trace(traceId: string): Trace | undefined {
    const entry = this.#byTrace.get(traceId.toLowerCase());
    return entry && this.#view(entry);
  }

  /** Whether the store holds anything of trace `traceId`. */
  has(traceId: string): boolean {
    return this.#byTrace.has(traceId.toLowerCase());
  }

  /** The span `spanId` of trace `traceId`, when it is held (the first with that id). */
  span(traceId: string, spanId: string): Span | undefined {
    const entry = this.#byTrace.get(traceId.toLowerCase());
    if (entry === undefined) return undefined;
    const id = spanId.toLowerCase();
    if (!/^[0-9a-f]{16}$/.test(id)) return undefined;
    const key = idKey(Uint8Array.fromHex(id), 0);
    for (let at = 0; at < entry.used; at = next(entry.records, at)) {
      if (idKey(entry.records, at + H.spanId) === key) return this.#decode(entry, at);
    }
    return undefined;
  }

  /**
   * What the store knows of trace `traceId` without decoding its spans (only the root's name), or
   * `undefined` when it holds nothing of it. Costs the number of its spans.
   */
  summary(traceId: string): TraceFacts | undefined {
    const entry = this.#byTrace.get(traceId.toLowerCase());
    // Asked once per trace as it arrives (by the terminal): not kept, unlike a search's facts.
    return entry && this.#facts(entry, false);
  }

  /**
   * The spans held whose links point to spans of trace `traceId` (of another trace or its own), or
   * `undefined` when none do. Kept as spans arrive and as traces are evicted, so this costs the spans it
   * names; at most {@linkcode maxLinksToTrace} of them, the rest counted in `leftOut`.
   */
  linksTo(traceId: string): LinksTo | undefined {
    const backlinks = this.#linksTo.get(traceId.toLowerCase());
    if (backlinks === undefined) return undefined;
    const bySpan = new Map<string, Span[]>();
    for (const [spanId, sources] of backlinks.bySpan) {
      const spans = sources.map((source) => this.span(source.traceId, source.spanId)).filter((span) =>
        span !== undefined
      );
      if (spans.length > 0) bySpan.set(spanId, spans);
    }
    return { bySpan, leftOut: backlinks.leftOut };
  }

  /**
   * All traces held, in the order their first span or log record arrived (their spans decoded when read).
   * Costs the number of traces held: for a listing, see {@linkcode recentTraces}.
   */
  traces(): Trace[] {
    const result: Trace[] = [];
    for (const entry of this.#byTrace.values()) result.push(this.#view(entry));
    return result;
  }

  /** The ids of the traces held, in the order their first span or log record arrived. */
  traceIds(): string[] {
    return [...this.#byTrace.keys()];
  }

  /** At most `limit` traces, the one that changed last (a span or log record arrived) first, in O(limit). */
  recentTraces(limit: number): Trace[] {
    const result: Trace[] = [];
    for (let entry = this.#tail; entry !== undefined && result.length < limit; entry = entry.prev) {
      if (entry.traceId !== undefined) result.push(this.#view(entry));
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
      if (entry.traceId !== undefined) yield this.#view(entry);
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
      const facts = store.summary(traceId);
      return facts !== undefined && facts.spans >= spans && facts.complete && store.trace(traceId);
    }, { signal, what: `${spans} spans of trace ${traceId}` });
  }

  /** A view of `entry` as a {@linkcode Trace}: its spans decoded on first read. */
  /**
   * The view of `entry` as a {@linkcode Trace}, one per trace while it is held (so that a walk can tell a
   * trace given twice): its spans decoded when read, kept only while nothing else needs the memory.
   */
  #view(entry: Entry): Trace {
    return entry.trace ??= new StoredTrace(entry, this.#context);
  }

  readonly #context: ViewContext = {
    decode: (entry, at) => this.#decode(entry, at),
    facts: (entry) => this.#facts(entry),
    names: (entry) => this.#names(entry),
    hasSpan: (entry, query, confirm) => this.#hasSpan(entry, query, confirm),
  };

  /** Whether a span of `entry` matches `query` and `confirm` (see {@linkcode Trace.hasSpan}). */
  #hasSpan(entry: Entry, query: SpanQuery, confirm?: (span: Span) => boolean): boolean {
    const { service, operation, error } = query;
    const records = entry.records;
    const { wanted, needles } = prepared(query);
    // Spans of one origin come together: its service is compared once per run of them.
    let lastKey = NaN, sameService = true;
    for (let at = 0; at < entry.used; at = next(records, at)) {
      if (error === true && records[at + H.status] !== ERROR) continue;
      if (service !== undefined) {
        const key = this.#serviceKey(entry, at);
        if (key !== lastKey) [lastKey, sameService] = [key, this.#serviceOf(entry, key) === service];
        if (!sameService) continue;
      }
      if (records[at + H.flags] & F.object) {
        const span = entry.objects![u32(records, at + H.origin)];
        if (operation !== undefined && span.name !== operation) continue;
        if (
          needles.every(({ key }) =>
            Object.hasOwn(span.attributes, key) || Object.hasOwn(span.resource, key)
          ) &&
          (confirm === undefined || confirm(span))
        ) {
          return true;
        }
        continue;
      }
      const start = at + HEADER, stop = start + u32(records, at + H.length);
      if (operation !== undefined && !storedNameIs(records.subarray(start, stop), wanted!, operation)) {
        continue;
      }
      if (this.#mayHold(records, start, stop, u32(records, at + H.origin), needles)) {
        if (confirm === undefined || confirm(this.#decode(entry, at))) return true;
      }
    }
    return false;
  }

  /**
   * Whether the span in `records` from `start` to `stop`, of origin `origin`, may have each attribute of
   * `needles`: its resource has the key, or its bytes hold the key and (when there are any) one of the value's
   * forms. Plain loops, no view nor closure made: a search asks every span held.
   */
  #mayHold(
    records: Uint8Array,
    start: number,
    stop: number,
    origin: number,
    needles: Prepared["needles"],
  ): boolean {
    for (let n = 0; n < needles.length; n++) {
      const { key, utf, values } = needles[n];
      let found = holds(records, utf, start, stop);
      if (found && values.length > 0) {
        found = false;
        for (let v = 0; v < values.length && !found; v++) found = holds(records, values[v], start, stop);
      }
      if (!found && !Object.hasOwn(this.#origins.get(origin)!.origin.resource, key)) return false;
    }
    return true;
  }

  /** The span of the record at `at` of `entry`. */
  #decode(entry: Entry, at: number): Span {
    const records = entry.records;
    const index = u32(records, at + H.origin);
    if (records[at + H.flags] & F.object) return entry.objects![index];
    const length = u32(records, at + H.length);
    const bytes = records.subarray(at + HEADER, at + HEADER + length);
    return decodeStoredSpan(bytes, entry.traceId!, this.#origins.get(index)!.origin);
  }

  /** The facts of `entry`: kept until the trace changes (a search asks every trace held, again and again). */
  #facts(entry: Entry, keep = true): TraceFacts {
    if (entry.facts !== undefined && entry.factsAt === entry.changes) return entry.facts;
    const facts = new IndexFacts(entry, this.#context, keep);
    if (keep) [entry.facts, entry.factsAt] = [facts, entry.changes];
    return facts;
  }

  /** The root's name and service, and the services by their earliest start, of `entry`. */
  #names(entry: Entry): { name: string; service: string; services: string[] } {
    const records = entry.records;
    const ids = new Set<string>();
    for (let at = 0; at < entry.used; at = next(records, at)) ids.add(idKey(records, at + H.spanId));
    const first = new Map<number, bigint>(); // the earliest start by origin
    let root = -1, rootStart = 0n;
    for (let at = 0; at < entry.used; at = next(records, at)) {
      const spanStart = u64(records, at + H.start);
      const origin = this.#serviceKey(entry, at);
      const earliest = first.get(origin);
      if (earliest === undefined || spanStart < earliest) first.set(origin, spanStart);
      const isRoot = !(records[at + H.flags] & F.parent) || !ids.has(idKey(records, at + H.parent));
      if (isRoot && (root < 0 || spanStart < rootStart)) [root, rootStart] = [at, spanStart];
    }
    const byStart = [...first].sort(([, a], [, b]) => a < b ? -1 : a > b ? 1 : 0);
    const services = [...new Set(byStart.map(([origin]) => this.#serviceOf(entry, origin)))];
    const rootSpan = root < 0 ? undefined : this.#nameAndService(entry, root);
    return {
      name: rootSpan?.name ?? "",
      service: rootSpan?.service ?? entry.logs[0]?.service ?? "",
      services,
    };
  }

  /** A number per service of the record at `at`: its origin's, or, for a span kept whole, minus one less its index. */
  #serviceKey(entry: Entry, at: number): number {
    const index = u32(entry.records, at + H.origin);
    return entry.records[at + H.flags] & F.object ? -1 - index : index;
  }

  #serviceOf(entry: Entry, key: number): string {
    return key < 0 ? entry.objects![-1 - key].service : this.#origins.get(key)!.origin.service;
  }

  #nameAndService(entry: Entry, at: number): { name: string; service: string } {
    const records = entry.records;
    const index = u32(records, at + H.origin);
    if (records[at + H.flags] & F.object) return entry.objects![index];
    const length = u32(records, at + H.length);
    return {
      name: storedSpanName(records.subarray(at + HEADER, at + HEADER + length)),
      service: this.#origins.get(index)!.origin.service,
    };
  }

  /** Files a span kept as an object. */
  #addObject(span: Span, shared: Map<object, Attributes | Scope>, changed: Set<string>): void {
    this.#accepted.spans++;
    const entry = this.#entry(span.traceId);
    changed.add(span.traceId);
    const id = Uint8Array.fromHex(span.spanId);
    if (this.#isDuplicate(entry, id, 0)) return;
    span.resource = this.#share(shared, span.resource, this.#resources);
    span.scope = this.#share(shared, span.scope, this.#scopes);
    const objects = entry.objects ??= [];
    const at = this.#reserve(entry, HEADER);
    const records = entry.records;
    records.set(id, at + H.spanId);
    if (span.parentSpanId !== undefined) {
      records.set(Uint8Array.fromHex(span.parentSpanId), at + H.parent);
      records[at + H.flags] |= F.parent;
    }
    setU64(records, at + H.start, span.startTimeUnixNano);
    setU64(records, at + H.end, span.endTimeUnixNano);
    setU32(records, at + H.origin, objects.length);
    records[at + H.kind] = Math.max(0, SPAN_KINDS.indexOf(span.kind));
    records[at + H.status] = STATUS_CODES.indexOf(span.status.code);
    records[at + H.flags] |= F.object | (span.links.length > 0 ? F.links : 0);
    setU32(records, at + H.seq, this.#seq++ >>> 0);
    objects.push(span);
    const bytes = weighSpan(span) + this.#indexLinks(entry, span.traceId, span.spanId, span.links);
    entry.bytes += bytes;
    this.#bytes += bytes;
    this.#objectBytes += weighSpan(span);
    this.#stored(entry, records, at);
  }

  /** Files spans `from` to `to` of `batch`, all of one trace, as their bytes. */
  #addRun(batch: ScannedSpans, from: number, to: number, origins: number[], changed: Set<string>): void {
    const traceId = batch.traceIds[from];
    const entry = this.#entry(traceId);
    changed.add(traceId);
    const { pieces, body, headers } = batch;
    let size = 0;
    for (let i = from; i < to; i++) size += HEADER + pieces[i * 3 + 2] - pieces[i * 3] - 18;
    this.#reserve(entry, size, true);
    this.#accepted.spans += to - from;
    const hasLinks = batch.links.size > 0;
    for (let i = from; i < to; i++) {
      if (this.#isDuplicate(entry, headers, i * HEADER + H.spanId)) continue;
      const start = pieces[i * 3], tag = pieces[i * 3 + 1], stop = pieces[i * 3 + 2];
      const at = entry.used, records = entry.records;
      for (let k = 0; k < HEADER; k++) records[at + k] = headers[i * HEADER + k];
      if (tag > start) records.set(body.subarray(start, tag), at + HEADER);
      records.set(body.subarray(tag + 18, stop), at + HEADER + tag - start);
      const origin = origins[u32(records, at + H.origin)];
      setU32(records, at + H.origin, origin);
      setU32(records, at + H.length, stop - start - 18);
      setU32(records, at + H.seq, this.#seq++ >>> 0);
      this.#origins.get(origin)!.users++;
      entry.used += HEADER + stop - start - 18;
      const links = hasLinks ? batch.links.get(i) : undefined;
      if (links !== undefined) {
        const bytes = this.#indexLinks(entry, traceId, viewHex(records, at + H.spanId), links);
        entry.bytes += bytes;
        this.#bytes += bytes;
      }
      this.#stored(entry, records, at);
    }
  }

  /** Counts a span just filed at `at`; makes the set of span ids of a trace that has grown large. */
  #stored(entry: Entry, records: Uint8Array, at: number): void {
    const hi = u32(records, at + H.start + 4), lo = u32(records, at + H.start);
    // Kept as signed 32-bit numbers, which V8 holds in the object itself: as unsigned ones, past 2^31, each
    // took a number object of its own, three per trace held.
    const first = entry.spans === 0;
    if (first || hi < entry.startHi >>> 0 || (hi === entry.startHi >>> 0 && lo < entry.startLo >>> 0)) {
      entry.startHi = hi | 0;
      entry.startLo = lo | 0;
    }
    const endHi = u32(records, at + H.end + 4), endLo = u32(records, at + H.end);
    if (first || endHi > entry.endHi >>> 0 || (endHi === entry.endHi >>> 0 && endLo > entry.endLo >>> 0)) {
      entry.endHi = endHi | 0;
      entry.endLo = endLo | 0;
    }
    if (records[at + H.status] === ERROR) entry.errors++;
    if (records[at + H.kind] === CLIENT) entry.clients++;
    entry.spans++;
    this.#spanCount++;
    this.#held++;
    if (entry.ids !== undefined) entry.ids.add(idKey(records, at + H.spanId));
    else if (entry.spans > LINEAR_IDS) {
      entry.ids = new Set();
      for (let other = 0; other < entry.used; other = next(entry.records, other)) {
        entry.ids.add(idKey(entry.records, other + H.spanId));
      }
    }
  }

  /** Whether `entry` holds the span id at `at` of `bytes`; if so, counts the duplicate. */
  #isDuplicate(entry: Entry, bytes: Uint8Array, at: number): boolean {
    let found = false;
    if (entry.ids !== undefined) found = entry.ids.has(idKey(bytes, at));
    else {
      const records = entry.records;
      for (let other = 0; other < entry.used && !found; other = next(records, other)) {
        found = sameId(records, other + H.spanId, bytes, at);
      }
    }
    if (!found) return false;
    entry.duplicateSpans++;
    this.#dropped.duplicateSpans++;
    return true;
  }

  /**
   * Room for `size` more bytes of records in `entry`, charged; returns where they start. A trace that grows
   * again gets half as much room again as it needs, so that one of many requests is not copied each time.
   */
  #reserve(entry: Entry, size: number, bulk = false): number {
    const needed = entry.used + size;
    if (needed > entry.records.length) {
      const grown = entry.used === 0 && bulk
        ? needed
        : Math.max(needed, Math.ceil(entry.records.length * 1.5));
      const records = allocate(grown);
      records.set(entry.records.subarray(0, entry.used));
      const bytes = grown - entry.records.length;
      entry.records = records;
      entry.bytes += bytes;
      this.#bytes += bytes;
    }
    const at = entry.used;
    if (!bulk) entry.used += size;
    return at;
  }

  /** The store's origin for `origin` (its resource and scope shared), with one more user: its id. */
  #acquireOrigin(origin: Origin): number {
    const resource = this.#resources.acquire(origin.resource);
    const scope = this.#scopes.acquire(origin.scope);
    let byScope = this.#originIds.get(resource);
    if (byScope === undefined) this.#originIds.set(resource, byScope = new Map());
    let id = byScope.get(scope);
    if (id === undefined) {
      id = this.#nextOrigin++;
      byScope.set(scope, id);
      this.#origins.set(id, { origin: { service: origin.service, resource, scope }, users: 0 });
    } else {
      this.#resources.release(resource);
      this.#scopes.release(scope);
    }
    this.#origins.get(id)!.users++;
    return id;
  }

  #releaseOrigin(id: number): void {
    const slot = this.#origins.get(id)!;
    if (--slot.users > 0) return;
    this.#origins.delete(id);
    const { resource, scope } = slot.origin;
    const byScope = this.#originIds.get(resource)!;
    byScope.delete(scope);
    if (byScope.size === 0) this.#originIds.delete(resource);
    this.#resources.release(resource);
    this.#scopes.release(scope);
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
   * Files the links of the span `spanId` of trace `traceId` (stored) under the traces they point to, within
   * the caps; returns the bytes that costs. A trace held may keep a count of what was left out with no link
   * kept; one not held may not, so that links to traces that never arrive cost nothing past the total cap.
   */
  #indexLinks(
    entry: Entry,
    traceId: string,
    spanId: string,
    links: readonly { traceId: string; spanId: string }[],
  ): number {
    let kept = 0;
    for (const link of links) {
      let backlinks = this.#linksTo.get(link.traceId);
      const full = this.#linksIndexed >= this.maxLinksIndexed;
      if (backlinks === undefined) {
        if (full && !this.#byTrace.has(link.traceId)) continue;
        backlinks = { bySpan: new Map(), count: 0, leftOut: 0 };
        this.#linksTo.set(link.traceId, backlinks);
      }
      (entry.linksTo ??= new Set()).add(link.traceId);
      const sources = backlinks.bySpan.get(link.spanId);
      // A span that links to one span twice is named once.
      const last = sources?.at(-1);
      if (last !== undefined && last.traceId === traceId && last.spanId === spanId) continue;
      if (full || backlinks.count >= this.maxLinksToTrace) {
        backlinks.leftOut++;
        continue;
      }
      const source = { traceId, spanId };
      if (sources === undefined) backlinks.bySpan.set(link.spanId, [source]);
      else sources.push(source);
      backlinks.count++;
      this.#linksIndexed++;
      kept++;
    }
    return kept * LINK_BYTES;
  }

  /** The entry of trace `traceId`, made if need be, moved to the tail (changed last). */
  #entry(traceId: string): Entry {
    let entry = this.#byTrace.get(traceId);
    if (entry !== undefined) entry.changes++;
    if (entry === undefined) {
      entry = new Entry(traceId);
      entry.bytes = TRACE_BYTES;
      this.#bytes += TRACE_BYTES;
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

  #over(fraction: number): boolean {
    return this.#held > Math.floor(this.maxRecords * fraction) ||
      this.bytes > Math.floor(this.maxBytes * fraction) ||
      this.#objectBytes > Math.floor(this.maxObjectBytes * fraction);
  }

  #changed(traceIds: Set<string>): void {
    if (this.#over(1)) this.#evict();
    for (const check of [...this.#waiters]) check();
    for (const traceId of traceIds) for (const listener of this.#listeners) listener(traceId);
  }

  /**
   * Evicts the traces and log batches changed longest ago until a tenth of every budget is free, in one
   * pass.
   */
  #evict(): void {
    const evictedLogs = new Set<LogRecord>();
    const linkedTo = new Set<string>();
    while (this.#head !== undefined && this.#over(0.9)) {
      const entry = this.#head;
      this.#unlink(entry);
      this.#bytes -= entry.bytes;
      for (const log of entry.logs) {
        evictedLogs.add(log);
        this.#scopes.release(log.scope);
        const bytes = weighLog(log);
        this.#objectBytes -= bytes;
      }
      this.#held -= entry.logs.length;
      this.#dropped.logs += entry.logs.length;
      if (entry.traceId === undefined) continue;
      this.#byTrace.delete(entry.traceId);
      this.#dropLinksTo(entry.traceId);
      for (const traceId of entry.linksTo ?? []) linkedTo.add(traceId);
      const records = entry.records;
      for (let at = 0; at < entry.used; at = next(records, at)) {
        if (!(records[at + H.flags] & F.object)) this.#releaseOrigin(u32(records, at + H.origin));
      }
      for (const span of entry.objects ?? []) {
        this.#resources.release(span.resource);
        this.#scopes.release(span.scope);
        this.#objectBytes -= weighSpan(span);
      }
      this.#held -= entry.spans;
      this.#spanCount -= entry.spans;
      this.#dropped.traces++;
      this.#dropped.spans += entry.spans;
    }
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
   * Takes the spans of evicted traces out of the links to the traces in `linkedTo`, once per eviction.
   * Their bytes went with their traces.
   */
  #pruneLinks(linkedTo: Set<string>): void {
    for (const traceId of linkedTo) {
      const backlinks = this.#linksTo.get(traceId);
      if (backlinks === undefined) continue;
      for (const [spanId, sources] of backlinks.bySpan) {
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

const CLIENT = SPAN_KINDS.indexOf("CLIENT");
const ERROR = 2; // STATUS_CODES.indexOf("ERROR")

/** Whether `entry` has one root span and the parent of every other. */
function isWhole(entry: Entry): boolean {
  const records = entry.records;
  const ids = entry.ids ?? new Set<string>();
  if (entry.ids === undefined) {
    for (let at = 0; at < entry.used; at = next(records, at)) ids.add(idKey(records, at + H.spanId));
  }
  let roots = 0;
  for (let at = 0; at < entry.used; at = next(records, at)) {
    if (!(records[at + H.flags] & F.parent)) roots++;
    else if (!ids.has(idKey(records, at + H.parent))) return false;
  }
  return roots === 1;
}

/**
 * What {@linkcode Trace.hasSpan} looks for, as bytes, made once per query object: a search asks every
 * trace held with the same one.
 */
function prepared(query: SpanQuery): Prepared {
  let made = PREPARED.get(query);
  if (made === undefined) {
    const encoder = new TextEncoder();
    made = {
      wanted: query.operation === undefined ? undefined : encoder.encode(query.operation),
      // Keys of other characters may decode from other bytes (bad UTF-8 becomes U+FFFD): not looked for.
      needles: (query.attributes ?? []).filter(([key]) => /^\p{ASCII}+$/u.test(key))
        .map(([key, value]) => ({ key, utf: needle(encoder.encode(key)), values: valueNeedles(value) })),
    };
    PREPARED.set(query, made);
  }
  return made;
}

interface Prepared {
  wanted: Uint8Array | undefined;
  /** Per attribute: its key, the key's bytes, and bytes one of which a span with the value holds (none: any). */
  needles: { key: string; utf: Needle; values: Needle[] }[];
}

/**
 * Bytes one of which a span holds when it has an attribute whose value, as a search compares it, is `value`;
 * none when that cannot be told from bytes. A string value decodes from its own UTF-8 (or from a longer one,
 * cut: its start); bytes decode to base64. Numbers, `true`, `false`, `null`, arrays and lists come as JSON
 * (and doubles that are not finite as `NaN` or `Infinity`), from bytes of another form: not looked for, nor
 * values with U+FFFD, which bad UTF-8 decodes to.
 */
function valueNeedles(value: string): Needle[] {
  if (value === "" || NOT_ONLY_STRINGS.has(value) || /^[-0-9[{]/.test(value) || value.includes("\ufffd")) {
    return [];
  }
  const needles = [needle(new TextEncoder().encode(value))];
  if (value.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(value)) {
    const bytes = Uint8Array.fromBase64(value);
    if (bytes.length > 0) needles.push(needle(bytes));
  }
  return needles;
}

/** Texts of values that are not strings and start with a letter. */
const NOT_ONLY_STRINGS = new Set(["true", "false", "null", "NaN", "Infinity"]);

const PREPARED = new WeakMap<SpanQuery, Prepared>();

/**
 * Whether the span kept as `bytes` is named `name` (`wanted` as UTF-8), as its decoded name would say. An
 * ASCII name of at most 4,096 bytes decodes to itself, so its bytes are compared; any other (one the decoder
 * may cut, or change: invalid UTF-8, a byte-order mark) is decoded.
 */
function storedNameIs(bytes: Uint8Array, wanted: Uint8Array, name: string): boolean {
  const found = lastFieldAt(bytes, 0, bytes.length, 5);
  const start = found ? fieldAt.start : 0, stop = found ? fieldAt.stop : 0;
  let same = stop - start === wanted.length, ascii = stop - start <= 4096;
  for (let i = start; i < stop; i++) {
    if (bytes[i] >= 0x80) ascii = false;
    if (same && bytes[i] !== wanted[i - start]) same = false;
  }
  return ascii ? same : storedSpanName(bytes) === name;
}

/** Whether a CLIENT span of `entry` has no child yet. */
function awaitsServer(entry: Entry): boolean {
  const records = entry.records;
  if (entry.spans <= LINEAR_IDS) {
    // A small trace is searched pair by pair, which makes no key per span.
    for (let at = 0; at < entry.used; at = next(records, at)) {
      if (records[at + H.kind] !== CLIENT) continue;
      let child = false;
      for (let other = 0; other < entry.used && !child; other = next(records, other)) {
        child = (records[other + H.flags] & F.parent) !== 0 &&
          sameId(records, other + H.parent, records, at + H.spanId);
      }
      if (!child) return true;
    }
    return false;
  }
  const parents = new Set<string>();
  for (let at = 0; at < entry.used; at = next(records, at)) {
    if (records[at + H.flags] & F.parent) parents.add(idKey(records, at + H.parent));
  }
  for (let at = 0; at < entry.used; at = next(records, at)) {
    if (records[at + H.kind] === CLIENT && !parents.has(idKey(records, at + H.spanId))) return true;
  }
  return false;
}
const STATUS_CODES = ["UNSET", "OK", "ERROR"] as const;

/** The unsigned little-endian 32-bit number at `at` of `bytes`. */
function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | bytes[at + 1] << 8 | bytes[at + 2] << 16 | bytes[at + 3] << 24) >>> 0;
}

function setU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value;
  bytes[at + 1] = value >>> 8;
  bytes[at + 2] = value >>> 16;
  bytes[at + 3] = value >>> 24;
}

/** The unsigned little-endian 64-bit number at `at` of `bytes`. */
function u64(bytes: Uint8Array, at: number): bigint {
  return BigInt(u32(bytes, at + 4)) << 32n | BigInt(u32(bytes, at));
}

function setU64(bytes: Uint8Array, at: number, value: bigint): void {
  const wrapped = BigInt.asUintN(64, value);
  setU32(bytes, at, Number(wrapped & 0xffffffffn));
  setU32(bytes, at + 4, Number(wrapped >> 32n));
}

/**
 * Room for the records of a trace: small ones cut from slabs of {@linkcode SLAB_BYTES} (one backing store
 * for many traces, not one each; a slab is freed once every trace cut from it is gone, which, as traces are
 * evicted in the order they last changed, is soon after its last trace), large ones on their own.
 */
function allocate(size: number): Uint8Array {
  if (size > SLAB_BYTES / 8) return new Uint8Array(size);
  if (slabUsed + size > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const records = new Uint8Array(slab, slabUsed, size);
  slabUsed += (size + 7) & ~7;
  return records;
}

const SLAB_BYTES = 128 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES), slabUsed = 0;

/** Where the record after the one at `at` starts. */
function next(records: Uint8Array, at: number): number {
  const length = records[at + H.length] | records[at + H.length + 1] << 8 | records[at + H.length + 2] << 16 |
    records[at + H.length + 3] << 24;
  return at + HEADER + (length >>> 0);
}

/** The eight bytes of an id at `at` as a string of four UTF-16 units: a key for a set, not text. */
function idKey(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(
    bytes[at] | bytes[at + 1] << 8,
    bytes[at + 2] | bytes[at + 3] << 8,
    bytes[at + 4] | bytes[at + 5] << 8,
    bytes[at + 6] | bytes[at + 7] << 8,
  );
}

function sameId(a: Uint8Array, at: number, b: Uint8Array, bt: number): boolean {
  for (let i = 0; i < 8; i++) if (a[at + i] !== b[bt + i]) return false;
  return true;
}

function viewHex(bytes: Uint8Array, at: number): string {
  return bytes.subarray(at, at + 8).toHex();
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
  // A link's ids are two strings of their own on the heap: with links left out, 130,000 spans of 8 links
  // each passed the 256 MiB heap within the 64 MiB budget of decoded records.
  for (const link of span.links) {
    bytes += 80 + weigh(link.traceId) + weigh(link.spanId) + weigh(link.attributes);
  }
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
