/**
 * The client side of the benchmark: calls the server with the example client's own call path
 * ({@linkcode callApi} from `client.ts`: the `call-api` span, the traced `fetch`, the JSON answer) from
 * `--concurrency` loops for `--duration` seconds, after `--warmup` seconds that are not measured, and prints
 * one JSON line: calls, calls per second, p50 and p99 latency in microseconds, the process's CPU time, and its
 * resident memory and V8 heap in use at the end of the measurement.
 *
 * Its peak RSS is read by the caller from `/proc/<pid>/status` (VmHWM), which Deno lets a program read only
 * with `--allow-all`: with `--hold` the process waits, after printing, until its standard input closes, so
 * that the caller can read it first. (`process.resourceUsage().maxRSS`, getrusage's `ru_maxrss`, is no use
 * here: Linux carries the peak of the process that spawned this one over into it.)
 *
 * Whether tracing is on is up to the environment (`OTEL_DENO`), as for `client.ts`. On exit Deno exports
 * the spans it still holds.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1:8000 bench/client_load.ts \
 *   --url=http://127.0.0.1:8000/ --concurrency=8 --duration=10
 * ```
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { callApi } from "../client.ts";

/** What {@linkcode measureCalls} measured. */
export interface CallStats {
  /** Calls completed in the measurement. */
  calls: number;
  /** Calls that failed. */
  errors: number;
  /** The measurement's length, in seconds. */
  seconds: number;
  /** Latency of each successful call, in milliseconds, sorted. */
  latenciesMs: number[];
}

/** Calls `url` with `callApi` from `concurrency` loops until `seconds` have passed. */
export async function measureCalls(url: string, concurrency: number, seconds: number): Promise<CallStats> {
  const latenciesMs: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const loop = async () => {
    while (performance.now() < end) {
      const before = performance.now();
      try {
        await callApi(url);
        latenciesMs.push(performance.now() - before);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - start) / 1000;
  latenciesMs.sort((a, b) => a - b);
  return { calls: latenciesMs.length, errors, seconds: elapsed, latenciesMs };
}

/** The value below which `p` percent of the sorted `values` fall (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      url: { type: "string" },
      concurrency: { type: "string", default: "8" },
      duration: { type: "string", default: "10" },
      warmup: { type: "string", default: "0" },
      hold: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.url === undefined) throw new Error("--url is required");
  const concurrency = Number(values.concurrency);
  const warmup = values.warmup === "0"
    ? undefined
    : await measureCalls(values.url, concurrency, Number(values.warmup));
  const stats = await measureCalls(values.url, concurrency, Number(values.duration));
  console.log(JSON.stringify({
    warmupCalls: warmup?.calls ?? 0,
    calls: stats.calls,
    errors: stats.errors + (warmup?.errors ?? 0),
    seconds: stats.seconds,
    callsPerSecond: stats.calls / stats.seconds,
    latencyUs: {
      p50: Math.round(percentile(stats.latenciesMs, 50) * 1000),
      p99: Math.round(percentile(stats.latenciesMs, 99) * 1000),
    },
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    rssKiBAtEnd: Math.round(Deno.memoryUsage().rss / 1024),
    heapUsedKiBAtEnd: Math.round(Deno.memoryUsage().heapUsed / 1024),
  }));
  if (values.hold) { for await (const _ of Deno.stdin.readable) { /* until standard input closes */ } }
}
