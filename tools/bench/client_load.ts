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
 * deno run --allow-net=127.0.0.1:8000 tools/bench/client_load.ts \
 *   --url=http://127.0.0.1:8000/ --concurrency=8 --duration=10
 * ```
 *
 * @module
 */
import process from "node:process";
import { FlagError, parseFlags } from "@example/harness/flags";
import { callApi } from "../../client.ts";

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

/** The flags of `client_load.ts`. */
export const CLIENT_LOAD_FLAGS = {
  url: { type: "string", default: "", help: "the server to call (required)" },
  concurrency: { type: "number", default: 8, min: 1, max: 256, help: "calls in flight" },
  duration: { type: "number", default: 10, min: 0.1, max: 120, fraction: true, help: "seconds of calls" },
  warmup: { type: "number", default: 0, max: 60, fraction: true, help: "seconds of calls before measuring" },
  hold: { type: "boolean", help: "wait until standard input closes before exiting" },
} as const;

if (import.meta.main) {
  const { values } = parseFlags(CLIENT_LOAD_FLAGS, Deno.args);
  if (values.url === "") throw new FlagError("--url is required");
  const concurrency = values.concurrency;
  const warmup = values.warmup === 0 ? undefined : await measureCalls(values.url, concurrency, values.warmup);
  const stats = await measureCalls(values.url, concurrency, values.duration);
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
