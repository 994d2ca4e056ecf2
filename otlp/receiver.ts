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
  encodePartialSuccess,
  encodeSuccess,
  type Encoding,
  type LogRecord,
  OtlpDecodeError,
  type Span,
} from "./decode.ts";

/** The spans and log records of one trace. */
export interface Trace {
  traceId: string;
  spans: Span[];
  logs: LogRecord[];
}

/** Everything the receiver has accepted, grouped by trace. */
export class TelemetryStore {
  /** Every span accepted, in arrival order. */
  readonly spans: Span[] = [];
  /** Every log record accepted, in arrival order. */
  readonly logs: LogRecord[] = [];
  /** How many metric export requests arrived, and how many metrics they held. */
  metrics = { requests: 0, metrics: 0 };
  #byTrace = new Map<string, Trace>();
  #waiters = new Set<() => void>();
  #listeners = new Set<(traceId: string) => void>();

  /** Adds spans, filing each under its trace. */
  addSpans(spans: Span[]): void {
    for (const span of spans) {
      this.spans.push(span);
      this.#trace(span.traceId).spans.push(span);
    }
    this.#changed(new Set(spans.map((span) => span.traceId)));
  }

  /** Adds log records, filing those written inside a span under its trace. */
  addLogs(logs: LogRecord[]): void {
    for (const log of logs) {
      this.logs.push(log);
      if (log.traceId !== undefined) this.#trace(log.traceId).logs.push(log);
    }
    this.#changed(new Set(logs.flatMap((log) => log.traceId ?? [])));
  }

  /** The trace with this id, or `undefined` when nothing of it arrived. */
  trace(traceId: string): Trace | undefined {
    return this.#byTrace.get(traceId.toLowerCase());
  }

  /** All traces, in the order their first span or log record arrived. */
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
  waitForTrace(traceId: string, { spans = 1, signal }: { spans?: number; signal?: AbortSignal } = {}) {
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
    }
    return trace;
  }

  #changed(traceIds: Set<string>): void {
    for (const check of [...this.#waiters]) check();
    for (const traceId of traceIds) for (const listener of this.#listeners) listener(traceId);
  }
}

/**
 * Whether a trace is whole: it has exactly one root span, and the parent of every other span arrived.
 */
export function isComplete(trace: Trace): boolean {
  const ids = new Set(trace.spans.map((span) => span.spanId));
  const roots = trace.spans.filter((span) => span.parentSpanId === undefined);
  return roots.length === 1 &&
    trace.spans.every((span) => span.parentSpanId === undefined || ids.has(span.parentSpanId));
}

/** Options of {@linkcode createReceiverHandler}. */
export interface ReceiverOptions {
  /** The largest request body accepted, before and after gzip decompression (default 16 MiB). */
  maxBodyBytes?: number;
}

const SIGNALS = { "/v1/traces": "traces", "/v1/logs": "logs", "/v1/metrics": "metrics" } as const;
const MIB = 1024 * 1024;

/** Creates the HTTP handler of an OTLP/HTTP receiver that files what it accepts in `store`. */
export function createReceiverHandler(
  store: TelemetryStore,
  { maxBodyBytes = 16 * MIB }: ReceiverOptions = {},
): (request: Request) => Promise<Response> {
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
    let body: Uint8Array | undefined;
    try {
      let stream = request.body ?? new Blob().stream();
      if (contentEncoding === "gzip") stream = stream.pipeThrough(new DecompressionStream("gzip"));
      body = await readAtMost(stream, maxBodyBytes);
    } catch (error) {
      return status(400, `the body could not be read: ${(error as Error).message}`);
    }
    if (body === undefined) return tooLarge(maxBodyBytes);
    try {
      if (signal === "metrics") {
        const { accepted } = decodeMetrics(body, encoding);
        store.metrics.requests++;
        store.metrics.metrics += accepted.length;
        return success(encoding, encodeSuccess(encoding));
      }
      const decoded = signal === "traces" ? decodeTraces(body, encoding) : decodeLogs(body, encoding);
      if (signal === "traces") store.addSpans(decoded.accepted as Span[]);
      else store.addLogs(decoded.accepted as LogRecord[]);
      return success(
        encoding,
        decoded.rejected === 0
          ? encodeSuccess(encoding)
          : encodePartialSuccess(signal, encoding, decoded.rejected, decoded.errors.slice(0, 3).join("; ")),
      );
    } catch (error) {
      if (error instanceof OtlpDecodeError) return status(400, error.message);
      throw error;
    }
  };
}

/** Reads a stream whole, or returns `undefined` as soon as it holds more than `limit` bytes. */
async function readAtMost(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.byteLength;
    if (size > limit) return undefined;
    chunks.push(chunk);
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
  // gRPC status codes: 3 INVALID_ARGUMENT, 5 NOT_FOUND, 12 UNIMPLEMENTED, 8 RESOURCE_EXHAUSTED.
  const rpcCode = { 400: 3, 404: 5, 405: 12, 413: 8, 415: 3 }[code] ?? 2;
  return Response.json({ code: rpcCode, message }, { status: code, headers });
}

/** A running receiver. */
export interface Receiver extends AsyncDisposable {
  /** The base URL to give the exporters as `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  url: string;
  port: number;
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
