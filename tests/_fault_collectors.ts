/**
 * OTLP/HTTP collectors that misbehave on demand, for the fault tests: one that works (the receiver of
 * `tools/otlp/receiver.ts`), hangs (reads the request, never answers), fails (503 or 500), or answers with a
 * partial success; the mode can change while the programs under test keep running. Also a TCP listener that
 * accepts connections and never answers, and a way to find a port where nothing listens.
 *
 * @module
 */
import {
  type BodyReader,
  createBodyReader,
  createReceiverHandler,
  TelemetryStore,
} from "@example/otlp/receiver";
import { decodeTraces, encodePartialSuccess, type Encoding } from "@example/otlp/decode";

/** How a {@linkcode FaultCollector} answers export requests. */
export type CollectorMode = "ok" | "hang" | "503" | "500" | "partial";

/** One export request as the collector saw it. */
export interface ExportAttempt {
  /** The request's path, such as `/v1/traces`. */
  path: string;
  /** The mode when it arrived. */
  mode: CollectorMode;
  /** The spans it carried (trace exports only). */
  spans: number;
  /** The trace id of each span it carried. */
  traceIds: string[];
}

/** A running collector whose behaviour the test controls. */
export interface FaultCollector extends AsyncDisposable {
  /** The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** What it accepted (in `ok` and `partial` mode). */
  store: TelemetryStore;
  /** How it answers from now on. Leaving `hang` lets go of the requests it holds (with a 503). */
  mode: CollectorMode;
  /** Every export request, in arrival order. */
  attempts: ExportAttempt[];
  /** How many requests it holds without an answer right now (the exporter may have given up on them). */
  held: number;
  /**
   * Resolves with the first truthy value of `condition`, checked now and after every request the collector
   * sees or lets go; rejects when `signal` aborts, saying what was awaited.
   */
  until<T>(
    condition: (collector: FaultCollector) => T | undefined | false | null,
    options: { signal: AbortSignal; what: string },
  ): Promise<T>;
  /** Stops listening and lets go of the requests it holds. */
  close(): Promise<void>;
}

/** Starts a collector on 127.0.0.1 (a free port unless `port` is given), answering as `mode` says. */
export function startFaultCollector(
  { mode = "ok", port = 0 }: { mode?: CollectorMode; port?: number } = {},
): FaultCollector {
  const store = new TelemetryStore();
  const state: CollectorState = {
    receive: createReceiverHandler(store),
    bodies: createBodyReader(),
    checks: new Set(),
    releases: new Set(),
    changed: () => {
      for (const check of [...state.checks]) check();
    },
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    (request) => handle(request, collector, state),
  );
  const releaseAll = () => {
    for (const release of state.releases) release();
    state.releases.clear();
  };
  const close = async () => {
    releaseAll();
    await server.shutdown();
  };
  let current = mode;
  const collector: FaultCollector = {
    url: `http://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    store,
    get mode() {
      return current;
    },
    set mode(next: CollectorMode) {
      current = next;
      if (next !== "hang") releaseAll();
    },
    attempts: [],
    held: 0,
    until: (condition, options) => until(collector, state.checks, condition, options),
    close,
    [Symbol.asyncDispose]: close,
  };
  return collector;
}

/** What a collector's handler shares with the collector. */
interface CollectorState {
  /** The receiver's handler, for what the collector accepts. */
  receive: (request: Request) => Promise<Response>;
  /** The receiver's bounded body reader, for the requests the collector looks into itself. */
  bodies: BodyReader;
  /** The pending {@linkcode FaultCollector.until} conditions, each as the function that checks it. */
  checks: Set<() => void>;
  /** The held requests, each as the function that lets it go. */
  releases: Set<() => void>;
  /** Checks every pending condition. */
  changed(): void;
}

/** Records one export request and answers it as the collector's mode was when it arrived. */
async function handle(request: Request, collector: FaultCollector, state: CollectorState): Promise<Response> {
  const path = new URL(request.url).pathname;
  const arrivedIn = collector.mode;
  if (arrivedIn === "ok" || (arrivedIn === "partial" && path !== "/v1/traces")) {
    collector.attempts.push({ path, mode: arrivedIn, spans: 0, traceIds: [] });
    state.changed();
    return await state.receive(request);
  }
  const body = await state.bodies.read(request);
  if (body instanceof Response) return body;
  state.bodies.release(body);
  const encoding: Encoding = request.headers.get("content-type")?.includes("json") ? "json" : "protobuf";
  const traceIds = path === "/v1/traces" ? traceIdsOf(body, encoding) : [];
  collector.attempts.push({ path, mode: arrivedIn, spans: traceIds.length, traceIds });
  const answer = await misbehave(arrivedIn, collector, state, { request, body, encoding });
  state.changed();
  return answer;
}

/** The trace id of each span a trace export holds; none when it is not one the collector understands. */
function traceIdsOf(body: Uint8Array, encoding: Encoding): string[] {
  try {
    return decodeTraces(body, encoding).accepted.map((span) => span.traceId);
  } catch {
    return [];
  }
}

/** The answer of a collector that hangs, fails, or accepts only in part. */
async function misbehave(
  mode: Exclude<CollectorMode, "ok">,
  collector: FaultCollector,
  state: CollectorState,
  { request, body, encoding }: { request: Request; body: Uint8Array; encoding: Encoding },
): Promise<Response> {
  switch (mode) {
    case "hang": {
      collector.held++;
      state.changed();
      // Held until the mode changes or the collector closes; the exporter gives up long before.
      await new Promise<void>((resolve) => state.releases.add(resolve));
      collector.held--;
      return new Response(null, { status: 503 });
    }
    case "503":
      return new Response("collector unavailable", { status: 503, headers: { "retry-after": "1" } });
    case "500":
      return new Response("collector failed", { status: 500 });
    case "partial": {
      // Keep every span, but say one was rejected, as a collector that drops some would. The body is
      // already decompressed: the receiver must not decompress it again.
      const headers = new Headers(request.headers);
      headers.delete("content-encoding");
      headers.delete("content-length");
      await state.receive(new Request(request.url, { method: "POST", headers, body: body as BodyInit }));
      return new Response(
        encodePartialSuccess("traces", encoding, 1, "one span rejected by the test") as BodyInit,
        { headers: { "content-type": encoding === "json" ? "application/json" : "application/x-protobuf" } },
      );
    }
  }
  throw new Error(`unknown mode ${mode}`);
}

/**
 * Resolves with the first truthy value of `condition`, checked now and each time `checks` are run; rejects
 * when `signal` aborts, saying what was awaited.
 */
function until<T>(
  collector: FaultCollector,
  checks: Set<() => void>,
  condition: (collector: FaultCollector) => T | undefined | false | null,
  { signal, what }: { signal: AbortSignal; what: string },
): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const value = condition(collector);
      if (value) {
        finish();
        resolve(value);
      }
    };
    const abort = () => {
      finish();
      reject(new Error(`${what} did not happen: ${signal.reason?.message ?? signal.reason}`));
    };
    const finish = () => {
      checks.delete(check);
      signal.removeEventListener("abort", abort);
    };
    if (signal.aborted) return abort();
    checks.add(check);
    signal.addEventListener("abort", abort);
    check();
  });
}

/** A TCP listener that accepts connections, reads what comes, and never answers. */
export interface SilentListener extends AsyncDisposable {
  /** The port it listens on. */
  port: number;
  /** `http://127.0.0.1:<port>/`. */
  url: string;
  /** How many connections it accepted. */
  accepted: number;
  /** Stops listening and closes the connections it accepted. */
  close(): Promise<void>;
}

/** Starts a {@linkcode SilentListener} on 127.0.0.1 at a free port. */
export function startSilentListener(): SilentListener {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const reads: Promise<void>[] = [];
  const drain = async (conn: Deno.Conn) => {
    const buffer = new Uint8Array(16 * 1024);
    try {
      while ((await conn.read(buffer)) !== null) {
        // Read and forget, so the peer's writes never block.
      }
    } catch {
      // Closed by either side.
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  };
  let accepting: Promise<void> = Promise.resolve();
  const close = async () => {
    listener.close();
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    await accepting;
    await Promise.all(reads);
  };
  const silent: SilentListener = {
    port: listener.addr.port,
    url: `http://127.0.0.1:${listener.addr.port}/`,
    accepted: 0,
    close,
    [Symbol.asyncDispose]: close,
  };
  accepting = (async () => {
    try {
      for await (const conn of listener) {
        silent.accepted++;
        conns.add(conn);
        reads.push(drain(conn));
      }
    } catch {
      // The listener was closed.
    }
  })();
  return silent;
}

/**
 * Whether the opt-in variable `name` is `1` (and readable: the test runs with `--allow-env=<name>`), for
 * slow or memory-hungry tests that `deno task test` skips.
 */
export function optedIn(name: string): boolean {
  return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted" &&
    Deno.env.get(name) === "1";
}

/** Latency figures of a burst, in milliseconds. */
export interface BurstResult {
  /** How many requests got each status code. */
  statuses: Map<number, number>;
  /** Sorted. */
  latencies: number[];
  /** What went wrong with the requests that got no answer. */
  failures: string[];
}

/**
 * Sends `count` GET requests to `url`, `concurrency` at a time, with the headers `headersFor(i)` gives the
 * i-th, and records each status and latency. Each request is bounded by `timeoutMs`.
 */
export async function burst(
  url: string,
  { count, concurrency, headersFor = () => ({}), timeoutMs = 10_000 }: {
    count: number;
    concurrency: number;
    headersFor?: (i: number) => Record<string, string>;
    timeoutMs?: number;
  },
): Promise<BurstResult> {
  const result: BurstResult = { statuses: new Map(), latencies: [], failures: [] };
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const start = performance.now();
      try {
        const response = await fetch(url, { headers: headersFor(i), signal: AbortSignal.timeout(timeoutMs) });
        await response.arrayBuffer();
        result.statuses.set(response.status, (result.statuses.get(response.status) ?? 0) + 1);
        result.latencies.push(performance.now() - start);
      } catch (error) {
        result.failures.push(`request ${i}: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  result.latencies.sort((a, b) => a - b);
  return result;
}

/** `p50 / p99 / max` of sorted latencies, for printing. */
export function summarize(latencies: number[]): string {
  if (latencies.length === 0) return "no requests";
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return `p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${
    latencies[latencies.length - 1].toFixed(1)
  } ms (${latencies.length} requests)`;
}

/** A W3C trace id made of one repeated hex digit pattern, so a test can recognise its own traces. */
export function traceIdOf(tag: number): string {
  return tag.toString(16).padStart(8, "0").repeat(4);
}

/** A `traceparent` naming `traceId` and a parent span derived from `i`. */
export function traceparent(traceId: string, i: number): string {
  return `00-${traceId}-${(i + 1).toString(16).padStart(16, "0")}-01`;
}
