/**
 * OTLP/HTTP collectors that misbehave on demand, for the fault tests: one that works (the receiver of
 * `otlp/receiver.ts`), hangs (reads the request, never answers), fails (503 or 500), or answers with a
 * partial success; the mode can change while the programs under test keep running. Also a TCP listener that
 * accepts connections and never answers, and a way to find a port where nothing listens.
 *
 * @module
 */
import { createReceiverHandler, TelemetryStore } from "@example/otlp/receiver";
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
  const receive = createReceiverHandler(store);
  const checks = new Set<() => void>();
  const releases = new Set<() => void>();
  const changed = () => {
    for (const check of [...checks]) check();
  };

  const handler = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    const arrivedIn = collector.mode;
    if (arrivedIn === "ok" || (arrivedIn === "partial" && path !== "/v1/traces")) {
      collector.attempts.push({ path, mode: arrivedIn, spans: 0, traceIds: [] });
      changed();
      return await receive(request);
    }
    const body = new Uint8Array(await request.arrayBuffer());
    const encoding: Encoding = request.headers.get("content-type")?.includes("json") ? "json" : "protobuf";
    let traceIds: string[] = [];
    if (path === "/v1/traces") {
      try {
        traceIds = decodeTraces(body, encoding).accepted.map((span) => span.traceId);
      } catch {
        // Not a trace export the collector understands: count it without spans.
      }
    }
    collector.attempts.push({ path, mode: arrivedIn, spans: traceIds.length, traceIds });
    switch (arrivedIn) {
      case "hang": {
        collector.held++;
        changed();
        // Held until the mode changes or the collector closes; the exporter gives up long before.
        await new Promise<void>((resolve) => releases.add(resolve));
        collector.held--;
        changed();
        return new Response(null, { status: 503 });
      }
      case "503":
        changed();
        return new Response("collector unavailable", { status: 503, headers: { "retry-after": "1" } });
      case "500":
        changed();
        return new Response("collector failed", { status: 500 });
      case "partial": {
        // Keep every span, but say one was rejected, as a collector that drops some would.
        const accepted = new Request(request.url, { method: "POST", headers: request.headers, body });
        await receive(accepted);
        changed();
        return new Response(
          encodePartialSuccess("traces", encoding, 1, "one span rejected by the test") as BodyInit,
          {
            headers: { "content-type": encoding === "json" ? "application/json" : "application/x-protobuf" },
          },
        );
      }
    }
    throw new Error(`unknown mode ${arrivedIn}`);
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handler);
  const releaseAll = () => {
    for (const release of releases) release();
    releases.clear();
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
    until(condition, { signal, what }) {
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
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return collector;
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
