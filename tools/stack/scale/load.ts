/**
 * The client load of the scale check: `--calls` calls through the example client's own call path
 * ({@linkcode callApi} of `client.ts`, so every call is one trace of four spans), from `--concurrency` loops,
 * a known share of them to `/error` and a known share to a slow server. Prints one JSON line: the trace id of
 * every call by kind (`error`, `slow`, `normal`) and the calls that failed in a way the plan did not expect.
 *
 * ```sh
 * OTEL_DENO=true OTEL_SERVICE_NAME=client deno run --allow-net=127.0.0.1 tools/stack/scale/load.ts \
 *   --fast=http://127.0.0.1:8001/,http://127.0.0.1:8002/ --slow=http://127.0.0.1:8003/ --calls=3000
 * ```
 *
 * @module
 */
import { flagsOrExit } from "@example/harness/flags";
import { callApi, CallError } from "../../../client.ts";

/** The kind of a planned call: what the tail sampler should make of its trace. */
export type CallKind = "error" | "slow" | "normal";

/** The trace ids of the calls made, by kind, and the calls that went otherwise than planned. */
export interface LoadResult {
  /** The trace id of every call, by the kind it was planned as. */
  traces: Record<CallKind, string[]>;
  /** Calls whose outcome was not the planned one (a normal call that failed, an error call that did not). */
  unexpected: string[];
  /** Normal calls that took `slowMs` or longer (the tail sampler keeps them as slow ones). */
  slowNormal: string[];
}

/**
 * The kinds of `calls` calls, `errorShare` and `slowShare` of them (rounded) errors and slow ones, spread
 * evenly over the run (every k-th call), so that a gateway killed mid-run meets all three kinds.
 */
export function planCalls(calls: number, errorShare: number, slowShare: number): CallKind[] {
  const plan: CallKind[] = Array(calls).fill("normal");
  const place = (kind: CallKind, count: number, offset: number) => {
    for (let i = 0; i < count; i++) plan[(Math.floor((i * calls) / count) + offset) % calls] = kind;
  };
  const errors = Math.round(calls * errorShare);
  place("error", errors, 0);
  place("slow", Math.round(calls * slowShare), Math.max(1, Math.floor(calls / Math.max(1, errors) / 2)));
  return plan;
}

/** Makes the planned calls: errors to `/error` of a fast server, slow ones to the slow server. */
export async function runLoad(
  plan: CallKind[],
  { fast, slow, concurrency, slowMs }: { fast: string[]; slow: string; concurrency: number; slowMs: number },
): Promise<LoadResult> {
  const result: LoadResult = { traces: { error: [], slow: [], normal: [] }, unexpected: [], slowNormal: [] };
  let next = 0;
  const loop = async () => {
    while (next < plan.length) {
      const i = next++;
      const kind = plan[i];
      const base = kind === "slow" ? slow : fast[i % fast.length];
      const url = kind === "error" ? new URL("/error", base) : new URL("/", base);
      const started = performance.now();
      try {
        const { traceId } = await callApi(url);
        result.traces[kind].push(traceId);
        if (kind === "normal" && performance.now() - started >= slowMs) result.slowNormal.push(traceId);
        if (kind === "error") result.unexpected.push(`${url}: answered 2xx`);
      } catch (error) {
        if (!(error instanceof CallError)) throw error;
        result.traces[kind].push(error.traceId);
        if (kind !== "error") result.unexpected.push(`${url}: ${error.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return result;
}

/** The flags that shape the client load, shared with `check_scale.ts`. */
export const TRAFFIC_FLAGS = {
  calls: { type: "number", default: 3000, min: 1, max: 1_000_000, help: "client calls" },
  "error-share": { type: "number", default: 0.1, max: 1, fraction: true, help: "share of calls to /error" },
  "slow-share": {
    type: "number",
    default: 0.05,
    max: 1,
    fraction: true,
    help: "share of calls to the slow server",
  },
  concurrency: { type: "number", default: 16, min: 1, max: 1000, help: "calls in flight" },
  "slow-ms": { type: "number", default: 1000, max: 60_000, help: "the slow server's simulated work" },
} as const;

/** The flags of `load.ts`. */
export const LOAD_FLAGS = {
  fast: { type: "strings", help: "the fast servers' URLs (required)" },
  slow: { type: "string", help: "the slow server's URL (required)" },
  ...TRAFFIC_FLAGS,
} as const;

if (import.meta.main) {
  const values = flagsOrExit("load.ts", LOAD_FLAGS);
  if (!values.fast || !values.slow) {
    console.error("load.ts: --fast and --slow are required (--help lists the flags)");
    Deno.exit(2);
  }
  const plan = planCalls(values.calls, values["error-share"], values["slow-share"]);
  const result = await runLoad(plan, {
    fast: values.fast,
    slow: values.slow,
    concurrency: values.concurrency,
    slowMs: values["slow-ms"],
  });
  console.log(JSON.stringify(result));
}
