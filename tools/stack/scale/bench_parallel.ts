/**
 * Measures `deno serve --parallel`: requests per second and CPU time per request of the example's server
 * (`serve_parallel.ts`, no simulated work) at 1 and 2 workers, traced (exporting to the benchmark's raw sink)
 * and untraced, under wrk (`--connections`, default 32) for `--duration` seconds per variant, in `--rounds`
 * rounds whose order is rotated. Prints one line per run and the median and range per variant.
 *
 * ```sh
 * deno run --allow-run=deno,wrk,tools/bench/node/node_modules/.bin/node --allow-net=127.0.0.1 \
 *   --allow-env=PATH,HOME,DENO_DIR,XDG_CACHE_HOME tools/stack/scale/bench_parallel.ts --rounds=3
 * ```
 *
 * Needs `deno task --cwd tools/bench install` (wrk, and the Node.js that reads `/proc`).
 *
 * @module
 */
import { flagsOrExit, type FlagValues } from "@example/harness/flags";
import { spread } from "@example/bench/report";
import { processUsage } from "@example/bench/load_and_usage";
import { startRawSink } from "@example/bench/raw_sink";
import { runWrk } from "@example/bench/wrk";
import { startParallelServer } from "./parallel.ts";

/** One configuration of the server. */
interface Variant {
  workers: number;
  traced: boolean;
}

/** What one run of one variant measured. */
interface Run extends Variant {
  round: number;
  requestsPerSecond: number;
  cpuUsPerRequest: number;
}

const VARIANTS: Variant[] = [
  { workers: 1, traced: false },
  { workers: 2, traced: false },
  { workers: 1, traced: true },
  { workers: 2, traced: true },
];

async function measure(variant: Variant, connections: number, seconds: number): Promise<Omit<Run, "round">> {
  await using sink = startRawSink({ maxBytes: 2 ** 28 });
  await using server = await startParallelServer({
    workers: variant.workers,
    workMs: 0,
    otlpEndpoint: variant.traced ? sink.url : undefined,
  });
  await runWrk({ url: server.url, connections, durationSeconds: 2 }); // warm-up, not counted
  const before = await processUsage(server.pid);
  const result = await runWrk({ url: server.url, connections, durationSeconds: seconds });
  const after = await processUsage(server.pid);
  return {
    ...variant,
    requestsPerSecond: result.requestsPerSecond,
    cpuUsPerRequest: ((after.cpuSeconds - before.cpuSeconds) * 1e6) / result.requests,
  };
}

function label({ workers, traced }: Variant): string {
  return `${workers} worker${workers > 1 ? "s" : " "} ${traced ? "traced  " : "untraced"}`;
}

/** The flags of `bench_parallel.ts`. */
export const PARALLEL_BENCH_FLAGS = {
  rounds: { type: "number", default: 3, min: 1, max: 50, help: "rounds of every variant, in rotated order" },
  duration: { type: "number", default: 10, min: 1, max: 120, help: "seconds of load per run" },
  connections: { type: "number", default: 32, min: 1, max: 1000, help: "wrk's connections" },
} as const;

/** Every variant once per round, each round in another order; one line per run. */
async function runRounds({ rounds, duration, connections }: FlagValues<typeof PARALLEL_BENCH_FLAGS>) {
  const runs: Run[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < VARIANTS.length; i++) {
      const variant = VARIANTS[(i + round) % VARIANTS.length]; // rotated: each variant takes each slot
      const run = { round, ...(await measure(variant, connections, duration)) };
      runs.push(run);
      console.log(
        `round ${round + 1} ${label(run)}: ${run.requestsPerSecond.toFixed(0)} req/s, ` +
          `${run.cpuUsPerRequest.toFixed(1)} µs CPU/request`,
      );
    }
  }
  return runs;
}

/** One line per variant: req/s and CPU per request, median (range), and the ratio to 1 worker in the round. */
function summaryLine(runs: Run[], variant: Variant): string {
  const mine = runs.filter((r) => r.workers === variant.workers && r.traced === variant.traced);
  const range = (values: number[], digits: number) => {
    const { median, min, max } = spread(values);
    return `${median.toFixed(digits)} (${min.toFixed(digits)}–${max.toFixed(digits)})`;
  };
  // The ratio to 1 worker in the same round, so that the machine's noise between rounds cancels out.
  const ratios = mine.map((r) => {
    const one = runs.find((o) => o.round === r.round && o.workers === 1 && o.traced === r.traced)!;
    return r.requestsPerSecond / one.requestsPerSecond;
  });
  return `${label(variant)}   ${range(mine.map((r) => r.requestsPerSecond), 0)}`.padEnd(50) +
    range(mine.map((r) => r.cpuUsPerRequest), 1).padEnd(31) + spread(ratios).median.toFixed(2);
}

if (import.meta.main) {
  const runs = await runRounds(flagsOrExit("bench_parallel.ts", PARALLEL_BENCH_FLAGS));
  console.log(
    "\nvariant              req/s median (range)          CPU µs/request median (range)  2w/1w req/s",
  );
  for (const variant of VARIANTS) console.log(summaryLine(runs, variant));
}
