/**
 * The viewer's web page and the JSON API it reads, served on 127.0.0.1 next to the OTLP receiver: a list of
 * the traces received (newest first, or searched: `@example/otlp/search`), the waterfall of one trace across
 * services with its critical path, each span's details with its self time and the log records written inside
 * it, and two traces compared (`@example/otlp/compare`). New traces are pushed to the page as server-sent
 * events.
 *
 * Everything the page shows is data from senders: the page builds its DOM with `textContent` only, and every
 * answer carries a strict Content-Security-Policy (scripts and styles from the viewer itself, nothing else).
 * Every answer is bounded: an unfiltered listing costs what it returns (the store's index, summaries kept
 * until their trace changes), a search works in slices, a trace's answer sends each resource once, none grows
 * past a number of characters, and the answers being sent share one budget (`web_answers.ts`).
 *
 * ```ts
 * import { startReceiver } from "@example/otlp/receiver";
 * import { startWebView } from "./web.ts";
 * await using receiver = startReceiver({ port: 0 });
 * await using web = startWebView({ store: receiver.store, port: 0 });
 * console.log(`open ${web.url}`);
 * ```
 *
 * @module
 */
import {
  isComplete,
  reportError,
  servicesByStart,
  type TelemetryStore,
  type Trace,
} from "@example/otlp/receiver";
import { resourcesOf } from "@example/otlp/store";
import type { Span } from "@example/otlp/decode";
import { criticalPath, selfTimes } from "@example/otlp/critical_path";
import { compareTraces } from "@example/otlp/compare";
import { isEverything, parseTraceQuery, searchTraces, walkStore } from "@example/otlp/search";
import { TerminalOutput } from "./terminal_output.ts";
import { cut } from "@example/otlp/terminal_text";
import { pageAssets } from "./web_assets.ts";
import { signalsAnswer } from "./metrics_logs_api.ts";
import { serveAgain } from "@example/otlp/listener";
import {
  AnswerBudget,
  AnswerSender,
  type AnswerSenderOptions,
  boundedJson,
  DEFAULT_MAX_ANSWER_CHARS,
  stringify,
} from "./web_answers.ts";

export { DEFAULT_MAX_ANSWER_CHARS };

/** One line of the trace list: what `GET /api/traces` returns for each trace. */
export interface TraceSummary {
  /** The trace id, 32 lower-case hex digits. */
  traceId: string;
  /** The root span's name (the earliest span without a parent that arrived), or "" when no span arrived. */
  name: string;
  /** The root span's service. */
  service: string;
  /** Every service with a span in the trace, the one whose first span started earliest first. */
  services: string[];
  /** How many spans arrived. */
  spans: number;
  /** How many log records carry the trace's id. */
  logs: number;
  /** How many spans have status ERROR. */
  errors: number;
  /** When the trace's earliest span started, in nanoseconds since the epoch, as a decimal string. */
  startTimeUnixNano: string;
  /** From the earliest span start to the latest span end, in nanoseconds, as a decimal string. */
  durationNanos: string;
  /** Whether the trace has one root and every span's parent arrived. */
  complete: boolean;
  /** How many spans arrived with an id the trace already held (the store keeps the first). */
  duplicateSpans: number;
}

/** Options of {@linkcode createWebHandler}. */
export interface WebHandlerOptions extends AnswerSenderOptions {
  /** How long changes are collected before they are pushed to the open pages, in milliseconds (default 100). */
  pushDelayMs?: number;
  /** The most characters of JSON in one answer (default {@linkcode DEFAULT_MAX_ANSWER_CHARS}). */
  maxAnswerChars?: number;
  /** How many searches run at once (default {@linkcode MAX_SEARCHES}); past it, a search is answered 503. */
  maxSearches?: number;
}

/**
 * The default number of searches that run at once: each reads every trace held in slices, so more would
 * only take turns with the receiver longer.
 */
export const MAX_SEARCHES = 2;

/** The web page's request handler, and a way to end the event streams it holds open. */
export interface WebHandler {
  /** Answers one request. */
  handle: (request: Request) => Promise<Response>;
  /** Ends every open event stream and stops listening to the store. */
  close(): void;
}

/** At most this many traces are listed when the request names no `limit`. */
const DEFAULT_LIST_LIMIT = 100;
/** The largest `limit` accepted. */
const MAX_LIST_LIMIT = 1000;
/** An open page is told at most this many trace ids per push; beyond it, that "many" traces changed. */
const MAX_PUSHED_IDS = 100;

/** The security headers of every answer. */
const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/** Summarises one trace for the trace list. */
export function summarizeTrace(trace: Trace): TraceSummary {
  const { spans, logs } = trace;
  const ids = new Set(spans.map((span) => span.spanId));
  let start: bigint | undefined, end: bigint | undefined;
  let root = undefined;
  for (const span of spans) {
    if (start === undefined || span.startTimeUnixNano < start) start = span.startTimeUnixNano;
    if (end === undefined || span.endTimeUnixNano > end) end = span.endTimeUnixNano;
    const isRoot = span.parentSpanId === undefined || !ids.has(span.parentSpanId);
    if (isRoot && (root === undefined || span.startTimeUnixNano < root.startTimeUnixNano)) root = span;
  }
  if (start === undefined) {
    for (const log of logs) if (start === undefined || log.timeUnixNano < start) start = log.timeUnixNano;
  }
  start ??= 0n;
  return {
    traceId: trace.traceId,
    name: root?.name ?? "",
    service: root?.service ?? logs[0]?.service ?? "",
    services: servicesByStart(trace.spans),
    spans: spans.length,
    logs: logs.length,
    errors: spans.filter((span) => span.status.code === "ERROR").length,
    startTimeUnixNano: String(start),
    durationNanos: String(end !== undefined && end > start ? end - start : 0n),
    complete: isComplete(trace),
    duplicateSpans: trace.duplicateSpans ?? 0,
  };
}

/**
 * Per-trace summaries kept between requests, each made again only after its trace changed, so that listing
 * costs what it returns: the store gives the traces that changed last in O(limit).
 */
export class TraceSummaries {
  #store: TelemetryStore;
  #summaries = new Map<string, TraceSummary>();
  #unsubscribe: () => void;

  /** Summaries of `store`'s traces, forgotten as the traces change. */
  constructor(store: TelemetryStore) {
    this.#store = store;
    this.#unsubscribe = store.onChange((traceId) => this.#summaries.delete(traceId));
  }

  /** The summary of `trace`, made again only after it changed. */
  of(trace: Trace): TraceSummary {
    let summary = this.#summaries.get(trace.traceId);
    if (summary === undefined) this.#summaries.set(trace.traceId, summary = summarizeTrace(trace));
    return summary;
  }

  /** At most `limit` summaries, of the traces that changed last, the latest first. */
  list(limit: number = DEFAULT_LIST_LIMIT): TraceSummary[] {
    const result = this.#store.recentTraces(limit).map((trace) => this.of(trace));
    // Traces the store evicted send no change: forget their summaries once they could add up.
    if (this.#summaries.size > 2 * this.#store.traceCount + MAX_LIST_LIMIT) {
      for (const traceId of this.#summaries.keys()) {
        if (this.#store.trace(traceId) === undefined) this.#summaries.delete(traceId);
      }
    }
    return result;
  }

  /** Stops listening to the store. */
  close(): void {
    this.#unsubscribe();
  }
}

/** The traces of `store`, summarised, the one that changed last first, at most `limit` of them. */
export function listTraces(store: TelemetryStore, limit: number = DEFAULT_LIST_LIMIT): TraceSummary[] {
  return store.recentTraces(limit).map(summarizeTrace);
}

/** A Host of this machine, with any port: a page that DNS rebinding points here sends its own name. */
const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/i;

/**
 * Creates the handler of the web page, its script and style, and its JSON API, reading from `store`.
 *
 * @throws {Error} when the page's files cannot be read (see `web_assets.ts`: `--allow-read=viewer/web`).
 */
export function createWebHandler(
  store: TelemetryStore,
  { pushDelayMs = 100, maxAnswerChars = DEFAULT_MAX_ANSWER_CHARS, maxSearches = MAX_SEARCHES, ...options }:
    WebHandlerOptions = {},
): WebHandler {
  const assets = pageAssets();
  const pages = new Set<_Page>();
  const summaries = new TraceSummaries(store);
  const sender = new AnswerSender(options);
  const api = { store, summaries, maxAnswerChars, searches: { running: 0, max: maxSearches } };
  const jsonHeaders = { ...SECURITY_HEADERS, "content-type": "application/json; charset=utf-8" };
  const unsubscribe = store.onChange((traceId) => {
    for (const page of pages) page.changed(traceId);
  });
  const events = (request: Request) => {
    const headers = { ...SECURITY_HEADERS, "content-type": "text/event-stream; charset=utf-8" };
    if (request.method === "HEAD") return new Response(null, { headers });
    const page = new _Page(pushDelayMs, () => pages.delete(page));
    pages.add(page);
    return new Response(page.stream, { headers });
  };
  const answer = async (path: string, params: URLSearchParams): Promise<Answer | undefined> => {
    if (path === "/api/traces") return await _search(api, params);
    const match = path.match(/^\/api\/traces\/([^/]*)$/);
    if (match) return _trace(store, match[1].toLowerCase(), maxAnswerChars);
    if (path === "/api/compare") return _compare(api, params);
    const signals = await signalsAnswer(path, params, store, maxAnswerChars);
    return signals && { status: signals.status, json: signals.json };
  };
  const handle = async (request: Request): Promise<Response> => {
    const refused = _refuse(request);
    if (refused !== undefined) return refused;
    const url = new URL(request.url);
    const path = url.pathname;
    const asset = assets.get(path);
    if (asset !== undefined) return _asset(asset.body, asset.type);
    if (path === "/api/events") return events(request);
    // Room for the largest answer is held while one is made: making it costs about as much as sending it.
    const room = sender.reserve(maxAnswerChars);
    if (room === undefined) return sender.busy(jsonHeaders);
    let found: Answer | undefined;
    try {
      found = await answer(path, url.searchParams);
    } finally {
      if (found === undefined) sender.release(room);
    }
    if (found !== undefined) {
      return sender.send(found.status, found.json, { ...jsonHeaders, ...found.headers }, room);
    }
    return _text(
      404,
      `not found: ${cut(path, 200)}; the web view serves /, /api/traces, /api/traces/{traceId}, ` +
        "/api/compare, /api/metrics, /api/logs",
    );
  };
  return {
    handle,
    close() {
      unsubscribe();
      summaries.close();
      sender.close();
      for (const page of pages) page.close();
    },
  };
}

/**
 * The answer to a request the web view does not serve: a Host that is not this machine (a DNS-rebinding
 * page gets 403; one no URL can hold, such as `a:1:1`, 400), or a method that would write.
 */
function _refuse(request: Request): Response | undefined {
  // HTTP/1.1 sends a Host; a request made in-process (or over HTTP/2) may carry its host in the URL only.
  const host = request.headers.get("host") ?? (URL.canParse(request.url) ? new URL(request.url).host : "");
  if (!LOOPBACK_HOST.test(host)) {
    return URL.canParse(`http://${host}/`)
      ? _text(403, `forbidden: this viewer answers only to 127.0.0.1 or localhost, not ${cut(host, 100)}`)
      : _text(400, "bad request: the Host header is not a host name and port");
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return _text(405, `method ${cut(request.method, 20)} not allowed: the web view is read-only`, {
      allow: "GET",
    });
  }
  return undefined;
}

/** A JSON answer: its status, its text and any headers of its own. */
interface Answer {
  status: number;
  json: string;
  headers?: Record<string, string>;
}

/** What the API's answers read: the store, the summaries kept, the bound of an answer, the searches running. */
interface Api {
  store: TelemetryStore;
  summaries: TraceSummaries;
  maxAnswerChars: number;
  searches: { running: number; max: number };
}

/**
 * `GET /api/traces?service=…&operation=…&attribute=k=v&error=true&minDurationMs=…&maxDurationMs=…&sort=…&limit=N`
 * (see `@example/otlp/search`): with no filter and the default order, the store's index, costing what it
 * returns; otherwise every trace held is searched, in slices, at most `maxSearches` searches at once.
 */
async function _search(api: Api, params: URLSearchParams): Promise<Answer> {
  const parsed = parseTraceQuery(params);
  if ("error" in parsed) return { status: 400, json: stringify(parsed) };
  const { query } = parsed;
  const { store, summaries, maxAnswerChars, searches } = api;
  if (isEverything(query)) {
    return _listAnswer(store.traceCount, store.traceCount, summaries.list(query.limit), maxAnswerChars);
  }
  if (searches.running >= searches.max) {
    return {
      status: 503,
      json: stringify({ error: `busy: ${searches.running} searches are running; try again shortly` }),
      headers: { "retry-after": "1" },
    };
  }
  searches.running++;
  try {
    // A trace at a time, so that the walk of the store is sliced with the search.
    using walk = walkStore(store);
    const found = await searchTraces(walk.traces, query);
    // A trace evicted while the search ran is not listed (it is still counted).
    const held = found.traces.filter((trace) => store.trace(trace.traceId) === trace);
    return _listAnswer(
      found.total,
      store.traceCount,
      held.map((trace) => summaries.of(trace)),
      maxAnswerChars,
    );
  } finally {
    searches.running--;
  }
}

/** A listing: `total` matches of the `held` traces, the summaries that fit in the bound. */
function _listAnswer(total: number, held: number, listed: TraceSummary[], maxAnswerChars: number): Answer {
  const traces = new AnswerBudget(maxAnswerChars - 300).take(listed, stringify);
  const left = listed.length - traces.length;
  const truncated = left === 0
    ? ""
    : `,"truncated":${
      JSON.stringify({ traces: left, reason: `an answer holds at most ${maxAnswerChars} characters` })
    }`;
  return {
    status: 200,
    json: `{"total":${total},"held":${held},"traces":[${traces.join(",")}]${truncated}}`,
  };
}

/** `GET /api/traces/{traceId}`. */
function _trace(store: TelemetryStore, traceId: string, maxAnswerChars: number): Answer {
  if (!/^[0-9a-f]{32}$/.test(traceId)) {
    return { status: 400, json: stringify({ error: "a trace id is 32 hex digits" }) };
  }
  const trace = store.trace(traceId);
  if (trace === undefined) {
    return { status: 404, json: stringify({ error: `no span or log record of trace ${traceId} arrived` }) };
  }
  return {
    status: 200,
    json: traceAnswer(trace, maxAnswerChars, linkTargets(store, trace), linkedFrom(store, trace)),
  };
}

/**
 * `GET /api/compare?a=ID&b=ID`: per service and span name, the count and total self time in each trace and
 * the difference (see `@example/otlp/compare`), what changed most first, with both traces' summaries.
 */
function _compare({ store, summaries, maxAnswerChars }: Api, params: URLSearchParams): Answer {
  const ids = [params.get("a") ?? "", params.get("b") ?? ""].map((id) => id.toLowerCase());
  const bad = ["a", "b"].filter((_, i) => !/^[0-9a-f]{32}$/.test(ids[i]));
  if (bad.length > 0) {
    return { status: 400, json: stringify({ error: `${bad.join(" and ")}: a trace id is 32 hex digits` }) };
  }
  const [a, b] = ids.map((id) => store.trace(id));
  if (a === undefined || b === undefined) {
    const missing = ids.filter((id) => store.trace(id) === undefined);
    return {
      status: 404,
      json: stringify({ error: `no span or log record of trace ${missing.join(" or ")} arrived` }),
    };
  }
  const rows = compareTraces(a.spans, b.spans);
  return {
    status: 200,
    json: boundedJson({ a: summaries.of(a), b: summaries.of(b) }, { rows }, maxAnswerChars),
  };
}

/**
 * The JSON of one trace: its critical path (`criticalPath`, see `@example/otlp/critical_path`), each distinct
 * resource once (`resources`), each span naming its resource by index and carrying its self time
 * (`selfTimeNanos`), and at most about `maxChars` characters: resources, spans and log records past that are left out (a
 * resource as `null`, so that the indices hold), and `truncated` says how many and why; `targets` are the
 * spans its links point to that the viewer holds ({@linkcode linkTargets}); `linked`, the spans whose links
 * point to its spans ({@linkcode linkedFrom}), sent as `linkedFrom` with what the rest of the bound leaves
 * room for, and `linkedFromLeftOut` counting the others. Made piece by piece, so a trace far larger than the
 * bound costs the bound.
 */
export function traceAnswer(
  trace: Trace,
  maxChars: number = DEFAULT_MAX_ANSWER_CHARS,
  targets: Record<string, { service: string; name: string }> = {},
  linked: LinkedFrom = { bySpan: {}, leftOut: 0 },
): string {
  const { resources, indexOf } = resourcesOf(trace);
  const targetsJson = JSON.stringify(targets);
  const budget = new AnswerBudget(maxChars - 300 - targetsJson.length);
  // The critical path first: it is what the waterfall marks, and at most two segments a span.
  const path = criticalPath(trace.spans);
  const segments = budget.take(path, stringify);
  const kept = budget.take(resources, stringify);
  const self = selfTimes(trace.spans);
  const spans = budget.take(
    trace.spans,
    (span) =>
      stringify({ ...span, resource: indexOf.get(span.resource), selfTimeNanos: self.get(span.spanId) }),
  );
  const logs = budget.take(trace.logs, stringify);
  const left = {
    resources: resources.length - kept.length,
    spans: trace.spans.length - spans.length,
    logs: trace.logs.length - logs.length,
    criticalPath: path.length - segments.length,
  };
  const truncated = budget.full
    ? `,"truncated":${
      JSON.stringify({
        ...left,
        reason:
          `an answer holds at most ${maxChars} characters: ${left.resources} resources, ${left.spans} ` +
          `spans, ${left.logs} log records and ${left.criticalPath} segments of the critical path are left out`,
      })
    }`
    : "";
  // The trace's own records first: links from elsewhere get what room is left, and none once it is full.
  const linkedGroups = Object.entries(linked.bySpan);
  const linkedKept = budget.take(
    linkedGroups,
    ([spanId, sources]) => `${JSON.stringify(spanId)}:${stringify(sources)}`,
  );
  const linkedLeft = linked.leftOut +
    linkedGroups.slice(linkedKept.length).reduce((sum, [, sources]) => sum + sources.length, 0);
  const allResources = [...kept, ...Array(left.resources).fill("null")];
  return `{"traceId":${JSON.stringify(trace.traceId)},"complete":${isComplete(trace)},` +
    `"duplicateSpans":${trace.duplicateSpans ?? 0},"criticalPath":[${segments.join(",")}],` +
    `"resources":[${allResources.join(",")}],` +
    `"spans":[${spans.join(",")}],"logs":[${logs.join(",")}],"linkTargets":${targetsJson},` +
    `"linkedFrom":{${linkedKept.join(",")}},"linkedFromLeftOut":${linkedLeft}${truncated}}`;
}

/** An open page's event stream: trace ids that changed, collected and pushed every `delayMs`. */
class _Page {
  readonly stream: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  /** The ids to push, or `null` for "more than {@linkcode MAX_PUSHED_IDS}". */
  #pending: Set<string> | null = new Set();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(readonly delayMs: number, readonly onClose: () => void) {
    this.stream = new ReadableStream({
      start: (controller) => {
        this.#controller = controller;
        controller.enqueue(new TextEncoder().encode("retry: 1000\n: connected\n\n"));
      },
      cancel: () => this.#end(),
    });
  }

  changed(traceId: string): void {
    if (this.#pending !== null) {
      this.#pending.add(traceId);
      if (this.#pending.size > MAX_PUSHED_IDS) this.#pending = null;
    }
    this.#timer ??= setTimeout(() => this.#push(), this.delayMs);
  }

  #push(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    // A page that does not read keeps one pending set, not a growing queue.
    if ((this.#controller.desiredSize ?? 1) <= 0) {
      this.#timer = setTimeout(() => this.#push(), this.delayMs);
      return;
    }
    const traceIds = this.#pending === null ? null : [...this.#pending];
    this.#pending = new Set();
    this.#controller.enqueue(
      new TextEncoder().encode(`event: traces\ndata: ${JSON.stringify({ traceIds })}\n\n`),
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#end();
    try {
      this.#controller.close();
    } catch {
      // Already cancelled by the page.
    }
  }

  #end(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.onClose();
  }
}

/**
 * At most this many links of one trace are looked up in the store for {@linkcode linkTargets}, and at most
 * this many links to it given by {@linkcode linkedFrom}.
 */
export const MAX_LINKS_LOOKED_UP = 1000;

/**
 * The spans the links of `trace` point to that `store` holds, keyed `traceId/spanId`, with their service
 * and name: the page makes those links clickable. Looks up at most {@linkcode MAX_LINKS_LOOKED_UP} links,
 * each linked trace's spans indexed once.
 */
export function linkTargets(
  store: TelemetryStore,
  trace: Trace,
): Record<string, { service: string; name: string }> {
  const targets: Record<string, { service: string; name: string }> = {};
  const indexes = new Map<string, Map<string, Span>>();
  const links = trace.spans.values().flatMap((span) => span.links).take(MAX_LINKS_LOOKED_UP);
  for (const { traceId, spanId } of links) {
    let index = indexes.get(traceId);
    if (index === undefined) {
      index = new Map(store.trace(traceId)?.spans.toReversed().map((span) => [span.spanId, span]));
      indexes.set(traceId, index);
    }
    const target = index.get(spanId);
    if (target) targets[`${traceId}/${spanId}`] = { service: target.service, name: target.name };
  }
  return targets;
}

/** A span whose link points to a span of the trace answered: what the page links back to. */
export interface LinkSource {
  /** The linking span's trace id (perhaps the trace answered). */
  traceId: string;
  /** The linking span's id. */
  spanId: string;
  /** The linking span's service. */
  service: string;
  /** The linking span's name. */
  name: string;
}

/** What {@linkcode linkedFrom} finds: the spans linking to a trace's spans, and how many were left out. */
export interface LinkedFrom {
  /** By the id of a span of the trace, the held spans whose links point to it, in arrival order. */
  bySpan: Record<string, LinkSource[]>;
  /** Links to the trace not given: past the store's caps, or past {@linkcode MAX_LINKS_LOOKED_UP}. */
  leftOut: number;
}

/**
 * The spans held (of other traces or this one) whose links point to the spans of `trace`, from the store's
 * reverse index ({@linkcode TelemetryStore.linksTo}), so no other trace is read: at most
 * {@linkcode MAX_LINKS_LOOKED_UP} of them, the rest counted. Links to span ids the trace does not hold are
 * not given.
 */
export function linkedFrom(store: TelemetryStore, trace: Trace): LinkedFrom {
  const index = store.linksTo(trace.traceId);
  const result: LinkedFrom = { bySpan: {}, leftOut: index?.leftOut ?? 0 };
  if (index === undefined) return result;
  let room = MAX_LINKS_LOOKED_UP;
  for (const { spanId } of trace.spans) {
    const sources = index.bySpan.get(spanId);
    if (sources === undefined) continue;
    const given = sources.slice(0, room);
    room -= given.length;
    result.leftOut += sources.length - given.length;
    if (given.length === 0) continue;
    result.bySpan[spanId] = given.map(({ traceId, spanId, service, name }) => ({
      traceId,
      spanId,
      service,
      name,
    }));
  }
  return result;
}

function _asset(body: string, type: string): Response {
  return new Response(body, { headers: { ...SECURITY_HEADERS, "content-type": type } });
}

function _text(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(message + "\n", {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/** A running web view. */
export interface WebView extends AsyncDisposable {
  /** The page's address, e.g. `http://127.0.0.1:4320/`. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** Ends the open pages' event streams and stops listening. */
  close(): Promise<void>;
}

/** Options of {@linkcode startWebView}. */
export interface StartWebViewOptions extends WebHandlerOptions {
  /** What to show: usually the receiver's store. */
  store: TelemetryStore;
  /** Default `127.0.0.1`. */
  hostname?: string;
  /** Default 4320; 0 picks a free one. */
  port?: number;
  /**
   * Where a request that failed is reported, one cleaned line at most each second (default: stderr, through
   * a bounded queue).
   */
  print?: (line: string) => void;
}

/** The web view's default port: next to OTLP/HTTP's 4318 (4319 is what the README suggests for a second receiver). */
export const DEFAULT_WEB_PORT = 4320;

/**
 * Serves the web view of `store` on `hostname:port`.
 *
 * @throws {Deno.errors.AddrInUse} when the port is taken.
 */
export function startWebView(
  { store, hostname = "127.0.0.1", port = DEFAULT_WEB_PORT, print, ...options }: StartWebViewOptions,
): WebView {
  const handler = createWebHandler(store, options);
  const onError = webErrorHandler(print ?? _stderrLine());
  // Listens again when an accept fails (no file descriptor left) rather than ending the program.
  const server = serveAgain({ hostname, port, onListen: () => {}, onError }, handler.handle, {
    who: "web view",
    print: print ?? _stderrLine(),
  });
  const close = async () => {
    handler.close();
    await server.shutdown();
  };
  return {
    url: `http://${hostname}:${server.addr.port}/`,
    port: server.addr.port,
    close,
    [Symbol.asyncDispose]: close,
  };
}

let stderr: TerminalOutput | undefined;
function _stderrLine(): (line: string) => void {
  return (line) => (stderr ??= new TerminalOutput(Deno.stderr)).print(line);
}

/** The web view's `onError`: the receiver's {@linkcode reportError}, answering in plain text. */
export function webErrorHandler(
  print: (line: string) => void,
  intervalMs = 1000,
): (error: unknown) => Response {
  const answer = () => _text(500, "the web view failed on this request");
  return reportError("web view", { print, intervalMs, answer });
}
