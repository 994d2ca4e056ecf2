/**
 * Searching the traces held, as Jaeger's search does: by service, operation (a span name), attributes and
 * error status, all on one span, and by the trace's duration; the matches sorted by recency or duration.
 * The search runs in slices (10 ms by default) that let the event loop run between them, so that a search
 * over everything held does not keep the receiver from taking spans.
 *
 * ```ts
 * import { parseTraceQuery, searchTraces } from "./search.ts";
 * import { TelemetryStore } from "./store.ts";
 * const store = new TelemetryStore();
 * const parsed = parseTraceQuery(new URLSearchParams("service=server&minDurationMs=100&sort=duration"));
 * if ("error" in parsed) throw new Error(parsed.error);
 * const { query } = parsed;
 * using walk = walkStore(store);
 * const { total, traces } = await searchTraces(walk.traces, query);
 * ```
 *
 * @module
 */
import type { AttributeValue, Span } from "./decode.ts";
import type { SpanQuery, TelemetryStore, Trace } from "./store.ts";

/** What a search asks for; every field given must hold. */
export interface TraceQuery {
  /** A span of this service (`service.name`). */
  service?: string;
  /** A span of this name (of `service`, when both are given). */
  operation?: string;
  /** Attributes (`[key, value]`) that one span has, on itself or its resource, each value as text. */
  attributes: [string, string][];
  /** `true`: a span with status ERROR (the same span as above); `false`: no span with it. */
  error?: boolean;
  /** The trace lasts at least this long, in nanoseconds (earliest start to latest end). */
  minDurationNanos?: bigint;
  /** The trace lasts at most this long, in nanoseconds. */
  maxDurationNanos?: bigint;
  /** `recent`: the trace that changed last first (the order given); `duration`: the longest first. */
  sort: "recent" | "duration";
  /** At most this many traces are returned (all matches are counted). */
  limit: number;
}

/** What {@linkcode searchTraces} finds. */
export interface SearchResult {
  /** How many traces match. */
  total: number;
  /** The first `limit` of them, in the order asked for. */
  traces: Trace[];
}

/** The parameters {@linkcode parseTraceQuery} takes. */
export const QUERY_PARAMETERS: readonly string[] = [
  "service",
  "operation",
  "attribute",
  "error",
  "minDurationMs",
  "maxDurationMs",
  "sort",
  "limit",
];

/** The default and largest `limit`. */
export const DEFAULT_SEARCH_LIMIT = 100, MAX_SEARCH_LIMIT = 1000;
/** The longest text a parameter's value may be, and the most `attribute` parameters. */
const MAX_PARAM_LENGTH = 1000, MAX_ATTRIBUTES = 16;
/** The longest duration a bound may name: a year, in milliseconds. */
const MAX_DURATION_MS = 365 * 24 * 3600 * 1000;

/**
 * Reads a {@linkcode TraceQuery} (as `{ query }`) from query parameters (see {@linkcode QUERY_PARAMETERS}), or says in one
 * line what is wrong with them: an unknown parameter, one given twice (but `attribute`), a value that is
 * not what it takes.
 */
export function parseTraceQuery(params: URLSearchParams): { query: TraceQuery } | { error: string } {
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (!QUERY_PARAMETERS.includes(name)) {
      return { error: `unknown parameter ${quote(name)}: a search takes ${QUERY_PARAMETERS.join(", ")}` };
    }
    if (name !== "attribute" && seen.has(name)) return { error: `${name} is given more than once` };
    if (value.length > MAX_PARAM_LENGTH) {
      return { error: `${name} is longer than ${MAX_PARAM_LENGTH} characters` };
    }
    seen.add(name);
  }
  const query: TraceQuery = { attributes: [], sort: "recent", limit: DEFAULT_SEARCH_LIMIT };
  const steps = [readText, readAttributes, readError, readDurations, readSort, readLimit];
  for (const step of steps) {
    const error = step(params, query);
    if (error !== undefined) return { error };
  }
  return { query };
}

type Step = (params: URLSearchParams, query: TraceQuery) => string | undefined;

const readText: Step = (params, query) => {
  for (const name of ["service", "operation"] as const) {
    const value = params.get(name);
    if (value !== null && value !== "") query[name] = value;
  }
  return undefined;
};

const readAttributes: Step = (params, query) => {
  const all = params.getAll("attribute");
  if (all.length > MAX_ATTRIBUTES) return `at most ${MAX_ATTRIBUTES} attribute parameters, got ${all.length}`;
  for (const pair of all) {
    const at = pair.indexOf("=");
    if (at < 1) return `attribute takes key=value, got ${quote(pair)}`;
    query.attributes.push([pair.slice(0, at), pair.slice(at + 1)]);
  }
  return undefined;
};

const readError: Step = (params, query) => {
  const value = params.get("error");
  if (value === null || value === "") return undefined;
  if (value !== "true" && value !== "false") return `error takes true or false, got ${quote(value)}`;
  query.error = value === "true";
  return undefined;
};

const readDurations: Step = (params, query) => {
  for (
    const [name, field] of [["minDurationMs", "minDurationNanos"], [
      "maxDurationMs",
      "maxDurationNanos",
    ]] as const
  ) {
    const value = params.get(name);
    if (value === null || value === "") continue;
    const ms = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || ms > MAX_DURATION_MS) {
      return `${name} takes milliseconds from 0 to ${MAX_DURATION_MS} (decimals allowed), got ${
        quote(value)
      }`;
    }
    query[field] = BigInt(Math.round(ms * 1e6));
  }
  const { minDurationNanos: min, maxDurationNanos: max } = query;
  if (min !== undefined && max !== undefined && min > max) return "minDurationMs is more than maxDurationMs";
  return undefined;
};

const readSort: Step = (params, query) => {
  const value = params.get("sort") ?? "";
  if (value === "") return undefined;
  if (value !== "recent" && value !== "duration") return `sort takes recent or duration, got ${quote(value)}`;
  query.sort = value;
  return undefined;
};

const readLimit: Step = (params, query) => {
  const raw = params.get("limit") ?? String(DEFAULT_SEARCH_LIMIT);
  const limit = Number(raw);
  if (!/^\d+$/.test(raw) || limit < 1 || limit > MAX_SEARCH_LIMIT) {
    return `limit takes a whole number from 1 to ${MAX_SEARCH_LIMIT}, got ${quote(raw)}`;
  }
  query.limit = limit;
  return undefined;
};

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? text.slice(0, 40) + "…" : text);
}

/** Whether `query` filters nothing (every trace matches) and lists by recency. */
export function isEverything(query: TraceQuery): boolean {
  return query.service === undefined && query.operation === undefined && query.attributes.length === 0 &&
    query.error === undefined && query.minDurationNanos === undefined &&
    query.maxDurationNanos === undefined &&
    query.sort === "recent";
}

/** What a search reads of a trace besides its spans, made once per trace and kept while it holds as many spans. */
interface Facts {
  spans: number;
  logs: number;
  durationNanos: bigint;
  errors: number;
}

const factsOf = new WeakMap<Trace, Facts>();

/**
 * A trace's duration (earliest span start to latest span end, or 0) and its count of ERROR spans, kept
 * with the trace until more spans or log records arrive (spans are only ever added).
 */
export function traceFacts(trace: Trace): { durationNanos: bigint; errors: number } {
  // The store's index answers without decoding the spans.
  if (trace.facts !== undefined) return trace.facts();
  const kept = factsOf.get(trace);
  if (kept !== undefined && kept.spans === trace.spans.length && kept.logs === trace.logs.length) return kept;
  let start: bigint | undefined, end: bigint | undefined, errors = 0;
  for (const span of trace.spans) {
    if (start === undefined || span.startTimeUnixNano < start) start = span.startTimeUnixNano;
    if (end === undefined || span.endTimeUnixNano > end) end = span.endTimeUnixNano;
    if (span.status.code === "ERROR") errors++;
  }
  const durationNanos = start !== undefined && end! > start ? end! - start : 0n;
  const facts = { spans: trace.spans.length, logs: trace.logs.length, durationNanos, errors };
  factsOf.set(trace, facts);
  return facts;
}

/** An attribute value as text, as a search compares it: strings as they are, the rest as JSON. */
export function valueText(value: AttributeValue): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Whether `span` is the one span a search's span conditions (service, operation, attributes, error) ask for. */
export function spanMatches(span: Span, query: TraceQuery): boolean {
  if (query.service !== undefined && span.service !== query.service) return false;
  if (query.operation !== undefined && span.name !== query.operation) return false;
  if (query.error === true && span.status.code !== "ERROR") return false;
  for (const [key, value] of query.attributes) {
    const own = Object.hasOwn(span.attributes, key) ? span.attributes[key] : undefined;
    if (own !== undefined && valueText(own) === value) continue;
    const resource = Object.hasOwn(span.resource, key) ? span.resource[key] : undefined;
    if (resource === undefined || valueText(resource) !== value) return false;
  }
  return true;
}

/**
 * Whether `trace` matches `query`; yields after every `SPANS_PER_STEP` spans examined, so that one large
 * trace is searched in slices too.
 */
function* matchSteps(trace: Trace, query: TraceQuery): Generator<void, boolean, void> {
  const facts = traceFacts(trace);
  if (query.minDurationNanos !== undefined && facts.durationNanos < query.minDurationNanos) return false;
  if (query.maxDurationNanos !== undefined && facts.durationNanos > query.maxDurationNanos) return false;
  if (query.error === false) return facts.errors === 0 && (yield* anySpan(trace, query));
  if (query.error === true && facts.errors === 0) return false;
  const spanConditions = query.service !== undefined || query.operation !== undefined ||
    query.attributes.length > 0 || query.error === true;
  return !spanConditions || (yield* anySpan(trace, query));
}

const SPANS_PER_STEP = 1000;

/** Whether the trace's duration is within the query's bounds: a test that makes no generator. */
function withinDurations(trace: Trace, query: TraceQuery): boolean {
  if (query.minDurationNanos === undefined && query.maxDurationNanos === undefined) return true;
  const { durationNanos } = traceFacts(trace);
  return !(query.minDurationNanos !== undefined && durationNanos < query.minDurationNanos) &&
    !(query.maxDurationNanos !== undefined && durationNanos > query.maxDurationNanos);
}

function* anySpan(trace: Trace, query: TraceQuery): Generator<void, boolean, void> {
  // The store answers service, name and status from its index and the names' bytes, and rules out a span
  // whose bytes do not hold the attribute keys (and string values): it decodes the others one at a time, only
  // to compare attribute values, until one matches.
  if (trace.hasSpan !== undefined) {
    const { spanQuery, confirm } = spanQueryOf(query);
    return trace.hasSpan(spanQuery, query.attributes.length > 0 ? confirm : undefined);
  }
  const spans = trace.spans;
  for (let i = 0; i < spans.length; i++) {
    if (spanMatches(spans[i], query)) return true;
    if (i % SPANS_PER_STEP === SPANS_PER_STEP - 1) yield;
  }
  return false;
}

/**
 * The span conditions of `query` as {@linkcode Trace.hasSpan} takes them, and the test of a decoded span:
 * one of each per query, not per trace.
 */
function spanQueryOf(query: TraceQuery): SpanSearch {
  let made = SPAN_QUERIES.get(query);
  if (made === undefined) {
    const { service, operation, attributes } = query;
    made = {
      spanQuery: { service, operation, error: query.error === true, attributes },
      confirm: (span) => spanMatches(span, query),
    };
    SPAN_QUERIES.set(query, made);
  }
  return made;
}

interface SpanSearch {
  spanQuery: SpanQuery;
  confirm: (span: Span) => boolean;
}

const SPAN_QUERIES = new WeakMap<TraceQuery, SpanSearch>();

/** Whether `trace` matches `query`, at once (see {@linkcode searchTraces} for many traces). */
export function matchesTrace(trace: Trace, query: TraceQuery): boolean {
  const steps = matchSteps(trace, query);
  for (let step = steps.next();; step = steps.next()) if (step.done) return step.value;
}

/** Options of {@linkcode searchTraces}. */
export interface SearchOptions {
  /** How long one slice of work runs before the event loop gets a turn, in milliseconds (default 10). */
  sliceMs?: number;
  /** Ends the search early, rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * The traces of `traces` (in the order given: the store's `eachRecentTrace` gives the one that changed last
 * first, a trace at a time; one given twice counts once) that match `query`, counted, and the first `query.limit` of them in the order asked for. Works in
 * slices of `sliceMs`, yielding to the event loop between them; it holds at most twice `limit` matches at a
 * time, however many match.
 */
export async function searchTraces(
  traces: Iterable<Trace>,
  query: TraceQuery,
  { sliceMs = 10, signal }: SearchOptions = {},
): Promise<SearchResult> {
  const kept: { trace: Trace; duration: bigint }[] = [];
  const byDuration = (a: { duration: bigint }, b: { duration: bigint }) =>
    a.duration > b.duration ? -1 : a.duration < b.duration ? 1 : 0;
  let total = 0, started = performance.now();
  const turn = async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    signal?.throwIfAborted();
    started = performance.now();
  };
  // A walk of the store in slices may give a trace that changed during a pause again: it counts once.
  const seen = new Set<Trace>();
  for (const trace of traces) {
    if (performance.now() - started >= sliceMs) await turn();
    if (seen.has(trace)) continue;
    seen.add(trace);
    if (!withinDurations(trace, query)) continue;
    const steps = matchSteps(trace, query);
    let step = steps.next();
    while (!step.done) {
      if (performance.now() - started >= sliceMs) await turn();
      step = steps.next();
    }
    if (!step.value) continue;
    total++;
    if (query.sort === "recent") {
      if (kept.length < query.limit) kept.push({ trace, duration: 0n });
      continue;
    }
    kept.push({ trace, duration: traceFacts(trace).durationNanos });
    if (kept.length >= 2 * query.limit) kept.sort(byDuration).length = query.limit;
  }
  if (query.sort === "duration") kept.sort(byDuration);
  return { total, traces: kept.slice(0, query.limit).map(({ trace }) => trace) };
}

/** The most traces {@linkcode walkStore} remembers as changed during a walk. */
const MAX_CHANGED = 100_000;

/**
 * Every trace of `store` for {@linkcode searchTraces}, a trace at a time: the store's walk from the trace
 * that changed last (`eachRecentTrace`, at most twice the traces held when it began), then the traces that
 * changed while it paused. A trace that changes moves ahead of the walk, so without these it could be
 * missed; one given twice counts once. Dispose of it (or call `done`) to stop listening to the store.
 */
export function walkStore(store: TelemetryStore): { traces: Iterable<Trace>; done(): void } & Disposable {
  const changed = new Set<string>();
  const done = store.onChange((traceId) => {
    if (changed.size < MAX_CHANGED) changed.add(traceId);
  });
  const limit = 2 * store.traceCount;
  function* traces(): Generator<Trace, void, void> {
    yield* store.eachRecentTrace().take(limit);
    for (const traceId of changed) {
      const trace = store.trace(traceId);
      if (trace !== undefined) yield trace;
    }
  }
  return { traces: traces(), done, [Symbol.dispose]: done };
}
