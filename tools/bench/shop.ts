/**
 * `deno task --cwd tools/bench shop`: what the shop chapter's tracing costs, and what each of its problems does to
 * latency.
 *
 * 1. CPU µs per SQLite query without and with its CLIENT span (`shop_child.ts`), exporting to a receiver, in
 *    rounds with the variants in rotated order; median (range) over the rounds, and the span's cost within
 *    each round.
 * 2. The shop (`shop/start.ts`, traced, exporting to a receiver) under `shop/load.ts`'s steady load, once with
 *    no fault and once with each fault alone, in rotated order per round: p50, p95 and the share that failed.
 *
 * Flags: {@linkcode SHOP_BENCH_FLAGS}. Prints Markdown tables for bench/README.md.
 *
 * @module
 */
import { startReceiver } from "@example/otlp/receiver";
import { otelEnv, runDeno } from "@example/harness/processes";
import { flagsOrExit } from "@example/harness/flags";
import { FAULTS, startShop } from "@example/shop/service";
import { percentile, runLoad } from "@example/shop/load";
import { spread } from "./report.ts";

/** The flags of `deno task --cwd tools/bench shop`. */
export const SHOP_BENCH_FLAGS = {
  rounds: { type: "number", default: 3, min: 1, max: 20, help: "rounds, variants in rotated order" },
  queries: { type: "number", default: 20_000, min: 100, max: 1_000_000, help: "queries per cost run" },
  rate: { type: "number", default: 10, min: 1, max: 100, help: "checkouts a second under load" },
  duration: { type: "number", default: 20, min: 1, max: 600, help: "seconds of load per fault and round" },
} as const;

const fixed = (value: number) => value.toFixed(value < 10 ? 2 : 1);
const spreadText = (values: number[]) => {
  const { median, min, max } = spread(values);
  return `${fixed(median)} (${fixed(min)}–${fixed(max)})`;
};
const rotated = <T>(items: readonly T[], round: number) =>
  items.map((_, i) => items[(i + round) % items.length]);

/** CPU µs per query of one `shop_child.ts` run. */
async function queryCost(variant: string, queries: number): Promise<number> {
  await using receiver = startReceiver({ port: 0 });
  const run = await runDeno("tools/bench/shop_child.ts", {
    args: [variant, String(queries)],
    env: {
      ...otelEnv("bench-shop", { otlpEndpoint: receiver.url, protocol: "http/protobuf" }),
      OTEL_BSP_MAX_QUEUE_SIZE: String(queries * 2), // no span dropped
    },
    timeoutMs: 300_000,
  });
  if (run.code !== 0) throw new Error(`shop_child.ts ${variant} failed:\n${run.stderr}`);
  return JSON.parse(run.stdout).us;
}

async function costTable(rounds: number, queries: number): Promise<string[]> {
  const results: Record<string, number[]> = { plain: [], span: [] };
  const extra: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const us: Record<string, number> = {};
    for (const variant of rotated(["plain", "span"], round)) us[variant] = await queryCost(variant, queries);
    for (const [variant, value] of Object.entries(us)) results[variant].push(value);
    extra.push(us.span - us.plain);
  }
  return [
    `| query | CPU µs per query, median (range) of ${rounds} rounds |`,
    "|---|---|",
    `| the statement alone | ${spreadText(results.plain)} |`,
    `| inside its CLIENT span, exported | ${spreadText(results.span)} |`,
    `| the span's cost, within each round | ${spreadText(extra)} |`,
  ];
}

/** p50, p95 (ms) and the failed share of one fault's load run. */
async function loadRun(fault: string, rate: number, durationS: number) {
  await using receiver = startReceiver({ port: 0 });
  await using shop = await startShop({ otlpEndpoint: receiver.url, faults: fault === "none" ? [] : [fault] });
  const stats = await runLoad({ url: shop.url, rate, durationS });
  return {
    p50: percentile(stats.latenciesMs, 50),
    p95: percentile(stats.latenciesMs, 95),
    failed: (100 * (stats.failed + stats.skipped)) / Math.max(1, stats.sent + stats.skipped),
  };
}

async function loadTable(rounds: number, rate: number, durationS: number): Promise<string[]> {
  const variants = ["none", ...Object.keys(FAULTS)];
  const runs = new Map(variants.map((v) => [v, [] as { p50: number; p95: number; failed: number }[]]));
  for (let round = 0; round < rounds; round++) {
    for (const fault of rotated(variants, round)) {
      runs.get(fault)!.push(await loadRun(fault, rate, durationS));
    }
  }
  const rows = [
    `| FAULTS | p50 ms | p95 ms | failed % | (median (range) of ${rounds} rounds, ${rate}/s for ${durationS} s) |`,
    "|---|---|---|---|---|",
  ];
  for (const [fault, results] of runs) {
    const column = (key: "p50" | "p95" | "failed") => spreadText(results.map((r) => r[key]));
    rows.push(`| ${fault} | ${column("p50")} | ${column("p95")} | ${column("failed")} | |`);
  }
  return rows;
}

if (import.meta.main) {
  const flags = flagsOrExit("deno task --cwd tools/bench shop", SHOP_BENCH_FLAGS);
  console.log((await costTable(flags.rounds, flags.queries)).join("\n"));
  console.log();
  console.log((await loadTable(flags.rounds, flags.rate, flags.duration)).join("\n"));
}
