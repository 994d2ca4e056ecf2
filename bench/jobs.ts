/**
 * `deno task bench:jobs`: what the jobs example's propagation costs, and whether its queue loses spans.
 *
 * 1. CPU µs per `inject`, per `extract`, per empty span, and per job through a Deno KV queue with and without
 *    `jobs/queue.ts`'s PRODUCER and CONSUMER spans and propagation (`jobs_child.ts cost`), in rounds with the
 *    variants in rotated order; median (range) over the rounds.
 * 2. Bursts of jobs sent at once through `jobs/queue.ts`: how many were processed, and how many of their
 *    spans (two per job) reached the receiver, with Deno's default batch queue (2048 spans) and a larger one.
 *
 * `--rounds N` (default 5), `--bursts 500,2000,5000`. Prints Markdown tables for bench/README.md.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startReceiver } from "@example/otlp/receiver";
import { otelEnv, runDeno } from "@example/harness/processes";

const { rounds, bursts } = parseArgs({
  options: { rounds: { type: "string", default: "5" }, bursts: { type: "string", default: "500,2000,5000" } },
}).values;

/** Runs `jobs_child.ts mode count` exporting to a fresh receiver; returns its JSON lines and the spans. */
async function child(mode: string, count: string, env: Record<string, string> = {}) {
  await using receiver = startReceiver({ port: 0 });
  const run = await runDeno("bench/jobs_child.ts", {
    permissions: ["--unstable-kv"],
    args: [mode, count],
    env: { ...otelEnv("bench-jobs", { otlpEndpoint: receiver.url, protocol: "http/protobuf" }), ...env },
    timeoutMs: 300_000,
  });
  if (run.code !== 0) throw new Error(`jobs_child.ts ${mode} failed:\n${run.stderr}`);
  const lines: Record<string, number & string>[] = run.stdout.trim().split("\n").map((l) => JSON.parse(l));
  return { lines, spans: receiver.store.spans };
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)];
const fixed = (value: number) => value.toFixed(value < 10 ? 2 : 1);

const { lines } = await child("cost", rounds, { OTEL_BSP_MAX_QUEUE_SIZE: "200000" });
console.log(`| operation | CPU µs per operation, median (range) of ${rounds} rounds |\n|---|---|`);
for (const [variant, runs] of Map.groupBy(lines, (line) => line.variant)) {
  const us = runs.map((run) => run.us);
  console.log(`| ${variant} | ${fixed(median(us))} (${fixed(Math.min(...us))}–${fixed(Math.max(...us))}) |`);
}

// The queue's cost within each round, where both variants met the same noise.
const extra = Map.groupBy(lines, (line) => line.round).values().map((round) => {
  const us = (variant: string) => round.find((line) => line.variant === variant)!.us;
  return us("KV job, jobs/queue.ts") - us("KV job, untraced");
}).toArray();
console.log(
  `| jobs/queue.ts minus untraced, same round | ${fixed(median(extra))} (${fixed(Math.min(...extra))}–${
    fixed(Math.max(...extra))
  }) |`,
);

console.log(
  "\n| jobs in one burst | processed | spans expected | spans arrived | with OTEL_BSP_MAX_QUEUE_SIZE=65536 |",
);
console.log("|---|---|---|---|---|");
for (const jobs of bursts.split(",")) {
  const arrived = [];
  let processed = 0;
  const settings: Record<string, string>[] = [{}, { OTEL_BSP_MAX_QUEUE_SIZE: "65536" }];
  for (const env of settings) {
    const { lines: [result], spans } = await child("burst", jobs, env);
    processed = result.processed;
    arrived.push(spans.filter((span) => span.name === "enqueue jobs" || span.name === "process jobs").length);
  }
  console.log(`| ${jobs} | ${processed} | ${2 * Number(jobs)} | ${arrived.join(" | ")} |`);
}
