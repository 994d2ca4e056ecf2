/**
 * `deno task --cwd tools/bench jobs`: what the jobs example's propagation costs, and whether its queue loses spans.
 *
 * 1. CPU µs per `inject`, per `extract`, per empty span, and per job through a Deno KV queue with and without
 *    `jobs/queue.ts`'s PRODUCER and CONSUMER spans and propagation (`jobs_child.ts cost`), in rounds with the
 *    variants in rotated order; median (range) over the rounds.
 * 2. Bursts of jobs sent at once through `jobs/queue.ts`: how many were processed, and how many of their
 *    spans (two per job) reached the receiver, with Deno's default batch queue (2048 spans) and a larger one.
 *
 * Flags: {@linkcode JOBS_BENCH_FLAGS}. Prints Markdown tables for tools/bench/README.md.
 *
 * @module
 */
import { startReceiver } from "@example/otlp/receiver";
import { otelEnv, runDeno } from "@example/harness/processes";
import { flagsOrExit } from "@example/harness/flags";
import { spread } from "./report.ts";

/** The flags of `deno task --cwd tools/bench jobs`. */
export const JOBS_BENCH_FLAGS = {
  rounds: { type: "number", default: 5, min: 1, max: 50, help: "rounds of the cost variants, rotated" },
  bursts: {
    type: "numbers",
    default: [500, 2000, 5000],
    min: 1,
    max: 100_000,
    help: "jobs sent at once, one burst each",
  },
} as const;

/** Runs `jobs_child.ts mode count` exporting to a fresh receiver; returns its JSON lines and the spans. */
async function child(mode: string, count: string, env: Record<string, string> = {}) {
  await using receiver = startReceiver({ port: 0 });
  const run = await runDeno("tools/bench/jobs_child.ts", {
    permissions: ["--unstable-kv"],
    args: [mode, count],
    env: { ...otelEnv("bench-jobs", { otlpEndpoint: receiver.url, protocol: "http/protobuf" }), ...env },
    timeoutMs: 300_000,
  });
  if (run.code !== 0) throw new Error(`jobs_child.ts ${mode} failed:\n${run.stderr}`);
  const lines: Record<string, number & string>[] = run.stdout.trim().split("\n").map((l) => JSON.parse(l));
  return { lines, spans: receiver.store.spans };
}

const fixed = (value: number) => value.toFixed(value < 10 ? 2 : 1);
const spreadText = (values: number[]) => {
  const { median, min, max } = spread(values);
  return `${fixed(median)} (${fixed(min)}–${fixed(max)})`;
};

/** The cost table: CPU µs per operation, and the queue's extra cost within each round. */
async function costTable(rounds: number): Promise<string[]> {
  const { lines } = await child("cost", String(rounds), { OTEL_BSP_MAX_QUEUE_SIZE: "200000" });
  const rows = [`| operation | CPU µs per operation, median (range) of ${rounds} rounds |`, "|---|---|"];
  for (const [variant, runs] of Map.groupBy(lines, (line) => line.variant)) {
    rows.push(`| ${variant} | ${spreadText(runs.map((run) => run.us))} |`);
  }
  // The queue's cost within each round, where both variants met the same noise.
  const extra = Map.groupBy(lines, (line) => line.round).values().map((round) => {
    const us = (variant: string) => round.find((line) => line.variant === variant)!.us;
    return us("KV job, jobs/queue.ts") - us("KV job, untraced");
  }).toArray();
  rows.push(`| jobs/queue.ts minus untraced, same round | ${spreadText(extra)} |`);
  return rows;
}

/** The burst table: jobs processed and spans arrived, with Deno's batch queue and a larger one. */
async function burstTable(bursts: number[]): Promise<string[]> {
  const rows = [
    "| jobs in one burst | processed | spans expected | spans arrived | with OTEL_BSP_MAX_QUEUE_SIZE=65536 |",
    "|---|---|---|---|---|",
  ];
  for (const jobs of bursts) {
    const arrived = [];
    let processed = 0;
    const settings: Record<string, string>[] = [{}, { OTEL_BSP_MAX_QUEUE_SIZE: "65536" }];
    for (const env of settings) {
      const { lines: [result], spans } = await child("burst", String(jobs), env);
      processed = result.processed;
      arrived.push(
        spans.filter((span) => span.name === "enqueue jobs" || span.name === "process jobs").length,
      );
    }
    rows.push(`| ${jobs} | ${processed} | ${2 * jobs} | ${arrived.join(" | ")} |`);
  }
  return rows;
}

if (import.meta.main) {
  const { rounds, bursts } = flagsOrExit("deno task --cwd tools/bench jobs", JOBS_BENCH_FLAGS);
  console.log((await costTable(rounds)).join("\n"));
  console.log("\n" + (await burstTable(bursts)).join("\n"));
}
