/**
 * An OTLP/HTTP sink for the benchmark that keeps its work off the measured path: during a run it only reads
 * each export request's body (with the receiver's bounded body reader) and stores it, answering at once (or after `delayMs`, like a far
 * collector). After the run, {@linkcode RawSink.drain} replays the stored requests through the example's own
 * receiver handler (`tools/otlp/receiver.ts`) into a store, which decodes and counts them. Decoding protobuf
 * costs far more CPU than reading bytes; on a small machine a receiver that decodes while the server is under
 * load takes CPU from the server, and more for traced runs than untraced ones.
 *
 * ```ts
 * import { CountingStore } from "./counting_store.ts";
 * await using sink = startRawSink();
 * // … a run exporting to sink.url …
 * const store = new CountingStore();
 * await sink.drain(store);
 * ```
 *
 * @module
 */
import { createBodyReader, createReceiverHandler, type TelemetryStore } from "@example/otlp/receiver";

/** One export request as it arrived. */
interface StoredRequest {
  path: string;
  headers: [string, string][];
  body: Uint8Array;
}

/** What the sink held, and what it had to let go. */
export interface SinkTotals {
  /** Export requests stored. */
  requests: number;
  /** Body bytes stored. */
  bytes: number;
  /**
   * Export requests answered but not stored: the sink already held `maxBytes`, or the body was past the
   * receiver's body bounds (answered with the receiver's 4xx or 503).
   */
  overflowed: number;
  /** Stored requests the receiver rejected when they were replayed (should be 0). */
  rejected: number;
}

/** A running raw sink. */
export interface RawSink extends AsyncDisposable {
  /** The base URL for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  url: string;
  /** Decodes everything stored so far into `store` (through the receiver's handler), then forgets it. */
  drain(store: TelemetryStore): Promise<SinkTotals>;
}

/** Options of {@linkcode startRawSink}. */
export interface RawSinkOptions {
  /** How long to hold each answer, in milliseconds (default 0: answer at once). */
  delayMs?: number;
  /** The most body bytes held between two drains (default 1 GiB); beyond it, requests are counted only. */
  maxBytes?: number;
}

const SUCCESS_TYPES: Record<string, string> = {
  "application/json": "{}",
  "application/x-protobuf": "",
};

/** Starts a raw sink on 127.0.0.1 at a free port. */
export function startRawSink({ delayMs = 0, maxBytes = 2 ** 30 }: RawSinkOptions = {}): RawSink {
  let stored: StoredRequest[] = [];
  let bytes = 0;
  let overflowed = 0;
  // The sink's own `maxBytes` bounds what it holds: each body is given back to the reader once stored.
  const bodies = createBodyReader();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const body = await bodies.read(request);
    if (body instanceof Response) {
      overflowed++;
      return body;
    }
    bodies.release(body);
    if (bytes + body.byteLength > maxBytes) overflowed++;
    else {
      // The reader decompressed the body: the replay must not decompress it again.
      const headers = [...request.headers].filter(([name]) =>
        name !== "content-encoding" && name !== "content-length"
      );
      stored.push({ path: new URL(request.url).pathname, headers, body });
      bytes += body.byteLength;
    }
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    // An empty export response (full success) in the request's encoding; the replay checks the body.
    const type = (request.headers.get("content-type") ?? "").split(";")[0].trim();
    return new Response(SUCCESS_TYPES[type] ?? "", {
      status: 200,
      headers: { "content-type": type in SUCCESS_TYPES ? type : "application/x-protobuf" },
    });
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  return {
    url,
    async drain(store) {
      const requests = stored;
      const totals: SinkTotals = { requests: requests.length, bytes, overflowed, rejected: 0 };
      stored = [];
      bytes = 0;
      overflowed = 0;
      const handler = createReceiverHandler(store, { maxBodyBytes: maxBytes });
      for (const { path, headers, body } of requests) {
        const response = await handler(
          new Request(new URL(path, url), { method: "POST", headers, body: body as BodyInit }),
        );
        await response.body?.cancel();
        if (!response.ok) totals.rejected++;
      }
      return totals;
    },
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
