/**
 * An OTLP/HTTP receiver that keeps what it receives in memory: `POST /v1/traces`, `/v1/logs` and
 * `/v1/metrics`, in OTLP/JSON (`application/json`) or protobuf (`application/x-protobuf`), optionally gzip'd.
 *
 * It answers as the OTLP/HTTP specification says: 200 with an export response (with `partialSuccess` when
 * it had to reject spans), and for bad requests a 4xx with a `google.rpc.Status`-shaped JSON body whose
 * message says what was wrong. Bad input never throws and never drops what the store already holds. It
 * answers only a loopback `Host` (127.0.0.1, localhost, [::1]), so that a page a DNS rebinding points here
 * cannot write or evict telemetry.
 *
 * ```ts
import { startReceiver } from "./receiver.ts";
 * await using receiver = startReceiver({ port: 0 });
 * // OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url for the programs under observation, then:
 * const spans = await receiver.store.waitFor((store) => store.spans.length >= 4);
 * ```
 *
 * @module
 */
import {
  decodeInSlices,
  decodeMetrics,
  DEFAULT_MAX_ITEMS,
  encodePartialSuccess,
  encodeSuccess,
  type Encoding,
  type LogRecord,
  OtlpDecodeError,
  scanTraces,
  type Span,
} from "./decode.ts";
import { TelemetryStore } from "./store.ts";
import { cut } from "./terminal_text.ts";
import { serveAgain } from "./listener.ts";

export {
  type Dropped,
  isComplete,
  servicesByStart,
  type StoreOptions,
  TelemetryStore,
  type Trace,
} from "./store.ts";

/** The bounds of a {@linkcode BodyReader} (see {@linkcode createBodyReader}). */
export interface BodyLimits {
  /**
   * The largest request body accepted, before and after gzip decompression (default
   * {@linkcode DEFAULT_MAX_BODY_BYTES}).
   */
  maxBodyBytes?: number;
  /** How long reading one request's body may take, in milliseconds (default 10,000), before a 408. */
  bodyTimeoutMs?: number;
  /**
   * How long a body may send nothing, in milliseconds (default 2,000), before a 408: a sender that trickles
   * gives its connection back long before the deadline.
   */
  bodyIdleMs?: number;
  /**
   * The most bytes that bodies still arriving may hold together (default
   * {@linkcode DEFAULT_MAX_BUFFERED_BYTES}) and bodies read but not yet given back; a request whose body
   * would pass it is answered 503. Requests still waiting for their bytes take no other slot.
   */
  maxBufferedBytes?: number;
  /**
   * How many bodies are read at once (default 1,024: each waiting connection costs Deno some 20 KiB). A
   * request past it takes the place of the one that has been arriving longest, which is answered 408.
   */
  maxReadingRequests?: number;
}

/** Options of {@linkcode createReceiverHandler}. */
export interface ReceiverOptions extends BodyLimits {
  /** The most spans, log records or metrics one request may hold (default 10,000). */
  maxItems?: number;
  /**
   * How many requests are decoded at once (default 4), in slices of 10 ms that take turns; the others wait
   * for a turn (their bodies counted in `maxBufferedBytes`), they are not refused.
   */
  maxConcurrentDecodes?: number;
}

/** The default bound on bytes held by bodies still arriving: 32 MiB, eight bodies of the largest size. */
export const DEFAULT_MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

/**
 * The default body limit: 4 MiB, about five times the largest batch Deno sends by default (512 HTTP spans:
 * 0.85 MB as OTLP/JSON, 0.12 MB as protobuf).
 */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

const SIGNALS = { "/v1/traces": "traces", "/v1/logs": "logs", "/v1/metrics": "metrics" } as const;

/** Creates the HTTP handler of an OTLP/HTTP receiver that files what it accepts in `store`. */
export function createReceiverHandler(
  store: TelemetryStore,
  { maxItems = DEFAULT_MAX_ITEMS, maxConcurrentDecodes = 4, ...limits }: ReceiverOptions = {},
): (request: Request) => Promise<Response> {
  const bodies = createBodyReader(limits);
  // Requests are decoded in slices (decodeInSlices), at most maxConcurrentDecodes at once, so that one
  // large request stalls neither the others nor the web page; those waiting for their turn keep their
  // bytes counted by the body reader.
  const inTurn = turns(maxConcurrentDecodes);
  const receive = async (request: Request, signal: Signal): Promise<Response> => {
    const encoding = encodingOf(request);
    if (encoding instanceof Response) return encoding;
    const body = await bodies.read(request);
    if (body instanceof Response) return body;
    try {
      return await inTurn(() => file(store, signal, body, encoding, maxItems));
    } finally {
      bodies.release(body);
    }
  };
  return async (request) => {
    const route = routeOf(request);
    return route instanceof Response ? route : await receive(request, route);
  };
}

type Signal = (typeof SIGNALS)[keyof typeof SIGNALS];

/** The signal a request exports, or the 4xx to answer when its Host, URL, path or method is wrong. */
function routeOf(request: Request): Signal | Response {
  const host = request.headers.get("host");
  if (host !== null && host !== lastHost && !LOOPBACK_HOST.test(host)) {
    return HOST_SYNTAX.test(host)
      ? status(
        403,
        "forbidden: this receiver answers only to a loopback Host (127.0.0.1, localhost, [::1])",
      )
      : status(400, "the Host header is malformed");
  }
  if (host !== null) lastHost = host;
  let path: string;
  // The path of `http://host/path` without a URL object for the usual URL (a query or anything unusual
  // takes the URL parser).
  const simple = SIMPLE_URL.exec(request.url);
  if (simple !== null) path = simple[1];
  else {
    try {
      path = new URL(request.url).pathname;
    } catch {
      return status(400, "the request's URL is malformed");
    }
  }
  const signal = Object.hasOwn(SIGNALS, path) ? SIGNALS[path as keyof typeof SIGNALS] : undefined;
  if (signal === undefined) {
    return status(
      404,
      "not found: this OTLP/HTTP receiver serves POST /v1/traces, /v1/logs and /v1/metrics",
    );
  }
  if (request.method !== "POST") {
    return status(405, `method ${request.method} not allowed on ${path}: use POST`, { allow: "POST" });
  }
  return signal;
}

/**
 * Reads request bodies within bounds, the receiver's and the tools' one way to read a body: each body at
 * most `maxBodyBytes` (before and after gzip decompression), within `bodyTimeoutMs`, never idle for
 * `bodyIdleMs`; all bodies read by it together at most `maxBufferedBytes`, at most `maxReadingRequests` at
 * once.
 */
export interface BodyReader {
  /**
   * The body of `request`, decompressed; or, when it is not within bounds, the answer to give (a 4xx, or a
   * retryable 503), shaped like `google.rpc.Status` as OTLP/HTTP asks. The bytes returned stay counted in
   * `maxBufferedBytes` until {@linkcode BodyReader.release} gives them back.
   */
  read(request: Request): Promise<Uint8Array | Response>;
  /** Gives back the bytes of a body {@linkcode BodyReader.read} returned, once it is done with them. */
  release(body: Uint8Array): void;
}

/** Creates a {@linkcode BodyReader} with the receiver's defaults for what `limits` leaves out. */
export function createBodyReader(
  {
    maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
    bodyTimeoutMs = 10_000,
    bodyIdleMs = 2_000,
    maxBufferedBytes = DEFAULT_MAX_BUFFERED_BYTES,
    maxReadingRequests = 1024,
  }: BodyLimits = {},
): BodyReader {
  const limits: ReadLimits = {
    limit: maxBodyBytes,
    timeoutMs: bodyTimeoutMs,
    idleMs: bodyIdleMs,
    buffered: { bytes: 0, limit: maxBufferedBytes, whole: 0 },
    reading: { active: new Set<() => void>(), limit: maxReadingRequests },
  };
  return {
    read: (request) => readBody(request, limits),
    release: (body) => {
      limits.buffered.bytes -= body.byteLength;
    },
  };
}

/** Runs the work given to it, at most `max` at once, the rest in the order they came. */
function turns(max: number): <T>(work: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (work) => {
    // A turn that ends is handed to the first waiting, so that `running` never passes `max`.
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

/** The encoding a request's `Content-Type` names, or the 415 to answer when it names none we read. */
function encodingOf(request: Request): Encoding | Response {
  const contentType = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (contentType === "application/json") return "json";
  if (contentType === "application/x-protobuf") return "protobuf";
  return status(
    415,
    `unsupported content type ${JSON.stringify(contentType)}: send application/json ` +
      "(OTEL_EXPORTER_OTLP_PROTOCOL=http/json) or application/x-protobuf (http/protobuf)",
  );
}

/**
 * The body of a request, decompressed, within `limits`; or the answer to give when it is not. The bytes
 * returned stay counted in `limits.buffered`: the caller gives them back.
 */
async function readBody(request: Request, limits: ReadLimits): Promise<Uint8Array | Response> {
  const contentEncoding = (request.headers.get("content-encoding") ?? "identity").toLowerCase();
  if (contentEncoding !== "identity" && contentEncoding !== "gzip") {
    return status(415, `unsupported content encoding ${JSON.stringify(contentEncoding)}: use gzip or none`);
  }
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > limits.limit) return tooLarge(limits.limit);
  let body;
  try {
    if (contentEncoding === "identity" && wholeFits(declared, limits)) {
      body = await readWhole(request, declared, limits);
    } else {
      let stream = request.body ?? new Blob().stream();
      if (contentEncoding === "gzip") stream = stream.pipeThrough(new DecompressionStream("gzip"));
      body = await readAtMost(stream, limits, contentEncoding === "identity" ? declared : 0);
    }
  } catch (error) {
    return status(400, `the body could not be read: ${(error as Error).message}`);
  }
  if (body === "too large") return tooLarge(limits.limit);
  if (body === "too slow") {
    return status(408, `the body did not arrive within ${limits.timeoutMs} ms`, { connection: "close" });
  }
  if (body === "idle") {
    return status(408, `the body sent nothing for ${limits.idleMs} ms`, { connection: "close" });
  }
  if (body === "cut off") {
    return status(408, `the body was still arriving when ${limits.reading.limit} newer ones were`, {
      connection: "close",
    });
  }
  if (body === "busy") {
    // OTLP/HTTP: 503 is retryable, after Retry-After seconds (OpenTelemetry SDKs retry; Deno does not).
    return status(503, `busy: bodies still arriving hold ${limits.buffered.limit} bytes; retry`, {
      "retry-after": "1",
      connection: "close",
    });
  }
  return body;
}

/** Decodes a request's body and files what it holds in `store`; answers as OTLP/HTTP says. */
async function file(
  store: TelemetryStore,
  signal: Signal,
  body: Uint8Array,
  encoding: Encoding,
  maxItems: number,
): Promise<Response> {
  try {
    if (signal === "metrics") {
      const decoded = decodeMetrics(body, encoding, { maxItems });
      store.addMetrics(decoded.accepted);
      return success(encoding, answer(signal, encoding, decoded));
    }
    if (signal === "traces" && encoding === "protobuf") {
      // Protobuf spans are scanned, not decoded: the store keeps their bytes and decodes them when asked.
      const scanned = await scanTraces(body, { maxItems });
      store.addScanned(scanned);
      return success(encoding, answer(signal, encoding, scanned));
    }
    const decoded = await decodeInSlices(signal, body, encoding, { maxItems });
    if (signal === "traces") store.addSpans(decoded.accepted as Span[]);
    else store.addLogs(decoded.accepted as LogRecord[]);
    return success(encoding, answer(signal, encoding, decoded));
  } catch (error) {
    if (error instanceof OtlpDecodeError) return status(error.status, error.message);
    throw error;
  }
}

/** The export response: success, or a partial success naming what was rejected. */
function answer(
  signal: "traces" | "logs" | "metrics",
  encoding: Encoding,
  decoded: { rejected: number; errors: string[] },
): Uint8Array | string {
  return decoded.rejected === 0
    ? encodeSuccess(encoding)
    : encodePartialSuccess(signal, encoding, decoded.rejected, decoded.errors.slice(0, 3).join("; "));
}

/** The last Host found to be a loopback one: a sender sends the same in every request. */
let lastHost: string | undefined;

/** A URL whose path is plain: `http://` or `https://`, a host, a path of letters, digits and slashes. */
const SIMPLE_URL = /^https?:\/\/[^/?#]+(\/[a-z0-9/]*)$/i;

/** A Host of this machine, with any port: a page that DNS rebinding points here sends its own name. */
const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/i;
/** A Host that is at least well-formed: a name or an IPv4 address, or an IPv6 one in brackets, and a port. */
const HOST_SYNTAX = /^([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$/i;

/** How {@linkcode readAtMost} bounds a body. */
interface ReadLimits {
  /** The most bytes of one body. */
  limit: number;
  /** How long the whole body may take. */
  timeoutMs: number;
  /** How long the body may send nothing. */
  idleMs: number;
  /**
   * The bytes all bodies still arriving hold, and the most they may; of them, those reserved by bodies
   * read whole and not yet read.
   */
  buffered: { bytes: number; limit: number; whole: number };
  /** The bodies being read, oldest first (each as the function that cuts it off), and the most at once. */
  reading: { active: Set<() => void>; limit: number };
}

/**
 * The largest declared body read whole in one step ({@linkcode readWhole}): Deno reads it without a stream
 * (under telemetrygen's 16 KB bodies the viewer spends about 7 % less CPU per span than streaming them).
 */
const WHOLE_MAX_BYTES = 64 * 1024;

/**
 * Whether a body of `declared` bytes is read whole: it is small, and the room reserved for such bodies (an
 * eighth of `buffered.limit`, within it) has `declared` bytes free. Otherwise it is streamed, counted as
 * it arrives.
 */
function wholeFits(declared: number, { buffered }: ReadLimits): boolean {
  return declared > 0 && declared <= WHOLE_MAX_BYTES &&
    buffered.whole + declared <= Math.floor(buffered.limit / 8) &&
    buffered.bytes + declared <= buffered.limit;
}

/**
 * Reads a body of `declared` bytes (at most {@linkcode WHOLE_MAX_BYTES}) in one step, its bytes counted in
 * `buffered` from the start (Deno holds at most that much of it). Its whole body must arrive within
 * `idleMs` (and `timeoutMs`), as it cannot be seen arriving; past `reading.limit` bodies it is cut off like
 * a streamed one. The bytes returned stay counted: the caller gives them back.
 */
async function readWhole(
  request: Request,
  declared: number,
  { timeoutMs, idleMs, buffered, reading }: ReadLimits,
): Promise<Uint8Array | Unread> {
  buffered.bytes += declared;
  buffered.whole += declared;
  let stop!: (why: "too slow" | "idle" | "cut off") => void;
  const stopped = new Promise<"too slow" | "idle" | "cut off">((resolve) => stop = resolve);
  const timer = setTimeout(() => stop(idleMs < timeoutMs ? "idle" : "too slow"), Math.min(idleMs, timeoutMs));
  const cutOff = () => stop("cut off");
  reading.active.add(cutOff);
  if (reading.active.size > reading.limit) {
    const [oldest] = reading.active;
    reading.active.delete(oldest);
    oldest();
  }
  const bytes = request.bytes();
  let whole = false;
  try {
    const read = await Promise.race([bytes, stopped]);
    if (typeof read === "string") {
      // The answer closes the connection, which ends the read.
      bytes.catch(() => {});
      return read;
    }
    if (read.byteLength !== declared) throw new Error(`the body was not ${declared} bytes long`);
    whole = true;
    return read;
  } finally {
    reading.active.delete(cutOff);
    clearTimeout(timer);
    buffered.whole -= declared;
    if (!whole) buffered.bytes -= declared; // on success, the caller gives the bytes back once it is done
  }
}

/** Why a body was not read whole. */
type Unread = "too large" | "too slow" | "idle" | "busy" | "cut off";

/**
 * Reads a stream whole; says `"too large"` as soon as it holds more than `limit` bytes, `"too slow"` when it
 * has not ended `timeoutMs` after the start, `"idle"` when nothing came for `idleMs`, `"busy"` when the
 * bodies still arriving would hold more than `buffered.limit` bytes, and `"cut off"` when more than
 * `reading.limit` bodies are being read and this one is the oldest. Either way the rest is not read.
 */
async function readAtMost(
  stream: ReadableStream<Uint8Array>,
  { limit, timeoutMs, idleMs, buffered, reading }: ReadLimits,
  declared = 0,
): Promise<Uint8Array | Unread> {
  const next = chunks(stream);
  // One timer per body, not one per read: it wakes at the deadline or when the body has been idle for
  // `idleMs` since its last bytes, whichever comes first, and re-arms itself while bytes keep coming.
  const started = performance.now();
  let lastRead = started, timer: ReturnType<typeof setTimeout> | undefined;
  let stop!: (why: "too slow" | "idle" | "cut off") => void;
  const stopped = new Promise<"too slow" | "idle" | "cut off">((resolve) => stop = resolve);
  const arm = () => {
    const now = performance.now();
    if (now - started >= timeoutMs) return stop("too slow");
    if (now - lastRead >= idleMs) return stop("idle");
    timer = setTimeout(arm, Math.min(started + timeoutMs, lastRead + idleMs) - now);
  };
  timer = setTimeout(arm, Math.min(timeoutMs, idleMs));
  const cutOff = () => stop("cut off");
  // A new body takes the place of the one that has been arriving longest: a sender that holds many
  // connections open slows only itself.
  reading.active.add(cutOff);
  if (reading.active.size > reading.limit) {
    const [oldest] = reading.active;
    reading.active.delete(oldest);
    oldest();
  }
  let body: Uint8Array = new Uint8Array(0), size = 0, whole = false;
  try {
    while (true) {
      if (size === body.length) body = grown(body, size, limit + 1, declared);
      const read = await Promise.race([next.read(body, size), stopped]);
      if (typeof read === "string") return read;
      lastRead = performance.now();
      body = read.into;
      if (read.done) break;
      if (buffered.bytes + read.length > buffered.limit) return "busy";
      size += read.length;
      buffered.bytes += read.length;
      if (size > limit) return "too large";
    }
    whole = true;
  } finally {
    reading.active.delete(cutOff);
    clearTimeout(timer);
    next.cancel();
    if (!whole) buffered.bytes -= size; // on success, the caller gives the bytes back once it is done
  }
  return body.subarray(0, size);
}

/**
 * `buffer` with room for more: twice the size (at least 1 KiB, at most `max`), its first `size` bytes kept;
 * once some bytes came, room for the whole declared length (and one byte more, to see a body longer than
 * it said) at once. It starts small because Deno reads into it as it waits: 10,000 connections each
 * waiting with 16 KiB of room made the process about 290 MiB larger than with 1 KiB.
 */
function grown(buffer: Uint8Array, size: number, max: number, declared: number): Uint8Array {
  const wanted = size > 0 && declared >= size ? declared + 1 : buffer.length * 2;
  const larger = new Uint8Array(Math.min(max, Math.max(1024, wanted)));
  larger.set(buffer.subarray(0, size));
  return larger;
}

/**
 * Reads a stream chunk by chunk into a buffer the caller gives: straight into it for a byte stream (a
 * request's own body: Deno's default reader allocates a large buffer per read, about 120 KiB more per
 * waiting connection), by copying otherwise (a decompressed body). Each read gives back the buffer to go on with.
 */
function chunks(stream: ReadableStream<Uint8Array>): {
  read(into: Uint8Array, at: number): Promise<{ into: Uint8Array; length: number; done: boolean }>;
  cancel(): void;
} {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = stream.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream.
  }
  const reader = byob ?? stream.getReader();
  let pending: Uint8Array | undefined; // what a default reader gave beyond the room there was
  return {
    async read(into, at) {
      if (byob !== undefined) {
        // The read takes `into`'s memory and gives it back in `value`, also at the end.
        const { value, done } = await byob.read(into.subarray(at));
        if (value === undefined) return { into: new Uint8Array(), length: 0, done: true };
        return { into: new Uint8Array(value.buffer), length: value.byteLength, done };
      }
      let chunk = pending;
      pending = undefined;
      if (chunk === undefined) {
        const { value, done } = await (reader as ReadableStreamDefaultReader<Uint8Array>).read();
        if (done) return { into, length: 0, done };
        chunk = value;
      }
      const length = Math.min(chunk.byteLength, into.length - at);
      into.set(chunk.subarray(0, length), at);
      if (length < chunk.byteLength) pending = chunk.subarray(length);
      return { into, length, done: false };
    },
    cancel: () => void reader.cancel().catch(() => {}),
  };
}

function success(encoding: Encoding, body: Uint8Array | string): Response {
  const type = encoding === "json" ? "application/json" : "application/x-protobuf";
  return new Response(body as BodyInit, { status: 200, headers: { "content-type": type } });
}

function tooLarge(limit: number): Response {
  return status(413, `the body is larger than this receiver accepts (${limit} bytes)`);
}

/** An error answer shaped like `google.rpc.Status`, as OTLP/HTTP asks, in JSON. */
function status(code: number, message: string, headers: Record<string, string> = {}): Response {
  // gRPC status codes: 3 INVALID_ARGUMENT, 4 DEADLINE_EXCEEDED, 5 NOT_FOUND, 8 RESOURCE_EXHAUSTED,
  // 12 UNIMPLEMENTED, 14 UNAVAILABLE.
  const rpcCode = { 400: 3, 404: 5, 405: 12, 408: 4, 413: 8, 415: 3, 503: 14 }[code] ?? 2;
  return Response.json({ code: rpcCode, message }, { status: code, headers });
}

/** A running receiver. */
export interface Receiver extends AsyncDisposable {
  /** The base URL to give the exporters as `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** Where what it accepts is kept. */
  store: TelemetryStore;
  /** Stops listening; what the store holds stays. */
  close(): Promise<void>;
}

/** Options of {@linkcode startReceiver}. */
export interface StartReceiverOptions extends ReceiverOptions {
  /** Default `127.0.0.1`. */
  hostname?: string;
  /** Default 4318, OTLP/HTTP's port; 0 picks a free one. */
  port?: number;
  /** Where to keep what arrives (default a new {@linkcode TelemetryStore} with its default budget). */
  store?: TelemetryStore;
}

/**
 * Starts a receiver on `hostname:port`.
 *
 * @throws {Deno.errors.AddrInUse} when the port is taken.
 */
export function startReceiver(
  { hostname = "127.0.0.1", port = 4318, store = new TelemetryStore(), ...options }: StartReceiverOptions =
    {},
): Receiver {
  // Listens again when an accept fails (no file descriptor left) rather than ending the program.
  const server = serveAgain(
    { hostname, port, onListen: () => {}, onError: reportError() },
    createReceiverHandler(store, options),
    { who: "receiver" },
  );
  const close = async () => {
    await server.shutdown();
  };
  const url = `http://${hostname}:${server.addr.port}`;
  return { url, port: server.addr.port, store, close, [Symbol.asyncDispose]: close };
}

/** Options of {@linkcode reportError}. */
export interface ReportErrorOptions {
  /** Where the line goes (default: stderr). */
  print?: (line: string) => void;
  /** At most one line each this many ms; the others are counted in the next (default 1000). */
  intervalMs?: number;
  /** The answer to the failed request (default: the receiver's JSON 500). */
  answer?: () => Response;
}

/**
 * An `onError` for `Deno.serve` (the receiver's, the web view's): one line on stderr naming `who`, the error's
 * text made visible and cut (it may quote what a sender wrote), at most one each `intervalMs`, and a 500.
 */
export function reportError(
  who = "receiver",
  { print = (line) => console.error(line), intervalMs = 1000, answer }: ReportErrorOptions = {},
): (error: unknown) => Response {
  let last = -Infinity, suppressed = 0;
  return (error) => {
    const now = performance.now();
    if (now - last < intervalMs) suppressed++;
    else {
      const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      const more = suppressed > 0 ? ` (and ${suppressed} more since the last)` : "";
      print(`${who}: a request failed: ${cut(text, 300)}${more}`);
      [last, suppressed] = [now, 0];
    }
    return answer?.() ?? status(500, `the ${who} failed on this request`);
  };
}
