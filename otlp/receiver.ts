/**
 * An OTLP/HTTP receiver that keeps what it receives in memory: `POST /v1/traces`, `/v1/logs` and
 * `/v1/metrics`, in OTLP/JSON (`application/json`) or protobuf (`application/x-protobuf`), optionally gzip'd.
 *
 * It answers as the OTLP/HTTP specification says: 200 with an export response (with `partialSuccess` when
 * it had to reject spans), and for bad requests a 4xx with a `google.rpc.Status`-shaped JSON body whose
 * message says what was wrong. Bad input never throws and never drops what the store already holds.
 *
 * ```ts
 * import { startReceiver } from "./receiver.ts";
 * await using receiver = startReceiver({ port: 0 });
 * // OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url for the programs under observation, then:
 * const spans = await receiver.store.waitFor((store) => store.spans.length >= 4);
 * ```
 *
 * @module
 */
import {
  decodeLogs,
  decodeMetrics,
  decodeTraces,
  DEFAULT_MAX_ITEMS,
  encodePartialSuccess,
  encodeSuccess,
  type Encoding,
  type LogRecord,
  OtlpDecodeError,
  type Span,
} from "./decode.ts";
import { TelemetryStore } from "./store.ts";

export {
  type Dropped,
  isComplete,
  servicesByStart,
  type StoreOptions,
  TelemetryStore,
  type Trace,
} from "./store.ts";

/** Options of {@linkcode createReceiverHandler}. */
export interface ReceiverOptions {
  /**
   * The largest request body accepted, before and after gzip decompression (default
   * {@linkcode DEFAULT_MAX_BODY_BYTES}).
   */
  maxBodyBytes?: number;
  /** The most spans, log records or metrics one request may hold (default 10,000). */
  maxItems?: number;
  /** How long reading one request's body may take, in milliseconds (default 10,000), before a 408. */
  bodyTimeoutMs?: number;
  /** How many requests are read and decoded at once (default 16); more are answered 503, to retry. */
  maxConcurrentRequests?: number;
}

/**
 * The default body limit: 4 MiB, about five times the largest batch Deno sends by default (512 HTTP spans:
 * 0.85 MB as OTLP/JSON, 0.12 MB as protobuf).
 */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

const SIGNALS = { "/v1/traces": "traces", "/v1/logs": "logs", "/v1/metrics": "metrics" } as const;

/** Creates the HTTP handler of an OTLP/HTTP receiver that files what it accepts in `store`. */
export function createReceiverHandler(
  store: TelemetryStore,
  {
    maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
    maxItems = DEFAULT_MAX_ITEMS,
    bodyTimeoutMs = 10_000,
    maxConcurrentRequests = 16,
  }: ReceiverOptions = {},
): (request: Request) => Promise<Response> {
  let inFlight = 0;
  const receive = async (request: Request, signal: "traces" | "logs" | "metrics"): Promise<Response> => {
    const contentType = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    const encoding: Encoding | undefined = contentType === "application/json"
      ? "json"
      : contentType === "application/x-protobuf"
      ? "protobuf"
      : undefined;
    if (encoding === undefined) {
      return status(
        415,
        `unsupported content type ${JSON.stringify(contentType)}: send application/json ` +
          "(OTEL_EXPORTER_OTLP_PROTOCOL=http/json) or application/x-protobuf (http/protobuf)",
      );
    }
    const contentEncoding = (request.headers.get("content-encoding") ?? "identity").toLowerCase();
    if (contentEncoding !== "identity" && contentEncoding !== "gzip") {
      return status(415, `unsupported content encoding ${JSON.stringify(contentEncoding)}: use gzip or none`);
    }
    const declared = Number(request.headers.get("content-length") ?? 0);
    if (declared > maxBodyBytes) return tooLarge(maxBodyBytes);
    let body: Uint8Array | "too large" | "too slow";
    try {
      let stream = request.body ?? new Blob().stream();
      if (contentEncoding === "gzip") stream = stream.pipeThrough(new DecompressionStream("gzip"));
      body = await readAtMost(stream, maxBodyBytes, bodyTimeoutMs);
    } catch (error) {
      return status(400, `the body could not be read: ${(error as Error).message}`);
    }
    if (body === "too large") return tooLarge(maxBodyBytes);
    if (body === "too slow") {
      return status(408, `the body did not arrive within ${bodyTimeoutMs} ms`, { connection: "close" });
    }
    try {
      if (signal === "metrics") {
        const decoded = decodeMetrics(body, encoding, { maxItems });
        store.addMetrics(decoded.accepted);
        return success(encoding, answer(signal, encoding, decoded));
      }
      const decoded = signal === "traces"
        ? decodeTraces(body, encoding, { maxItems })
        : decodeLogs(body, encoding, { maxItems });
      if (signal === "traces") store.addSpans(decoded.accepted as Span[]);
      else store.addLogs(decoded.accepted as LogRecord[]);
      return success(encoding, answer(signal, encoding, decoded));
    } catch (error) {
      if (error instanceof OtlpDecodeError) return status(error.status, error.message);
      throw error;
    }
  };
  return async (request) => {
    const path = new URL(request.url).pathname;
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
    if (inFlight >= maxConcurrentRequests) {
      // OTLP/HTTP: 503 is retryable, after Retry-After seconds.
      return status(503, `busy: ${maxConcurrentRequests} requests are being received; retry`, {
        "retry-after": "1",
        connection: "close",
      });
    }
    inFlight++;
    try {
      return await receive(request, signal);
    } finally {
      inFlight--;
    }
  };
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

/**
 * Reads a stream whole; says `"too large"` as soon as it holds more than `limit` bytes, and `"too slow"`
 * when it has not ended `timeoutMs` after the start. Either way the rest is not read.
 */
async function readAtMost(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  timeoutMs: number,
): Promise<Uint8Array | "too large" | "too slow"> {
  const reader = stream.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"too slow">((resolve) => timer = setTimeout(() => resolve("too slow"), timeoutMs));
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const next = await Promise.race([reader.read(), late]);
      if (next === "too slow") return next;
      if (next.done) break;
      size += next.value.byteLength;
      if (size > limit) return "too large";
      chunks.push(next.value);
    }
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
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
  const server = Deno.serve(
    { hostname, port, onListen: () => {} },
    createReceiverHandler(store, options),
  );
  const close = async () => {
    await server.shutdown();
  };
  const url = `http://${hostname}:${server.addr.port}`;
  return { url, port: server.addr.port, store, close, [Symbol.asyncDispose]: close };
}
