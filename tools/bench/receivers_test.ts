// The receiver section's tables, without running anything: `deno task --cwd tools/bench receiver --smoke`
// runs the section itself (in CI).
import assert from "node:assert/strict";
import { type ReceiverResults, type ReceiverRun, renderReceivers } from "./receivers.ts";

function run(receiver: "viewer" | "jaeger", round: number, rate: number, replayRate?: number): ReceiverRun {
  return {
    receiver,
    round,
    accepted: rate * 10,
    seconds: 10,
    spansPerSecond: rate,
    cpuMicrosPerSpan: receiver === "viewer" ? 4 : 8,
    rssMiB: 300,
    held: rate * 10,
    traceMs: 1,
    searchMs: 20,
    attributeSearchMs: 100,
    exportMs: { p50: 0.4, p99: 3 },
    replay: replayRate === undefined ? undefined : {
      spansPerSecond: replayRate,
      cpuMicrosPerSpan: receiver === "viewer" ? 3 : 6,
      rssMiB: 340,
      failed: 0,
    },
  };
}

function results(runs: ReceiverRun[]): ReceiverResults {
  return {
    commit: "abc",
    startedAt: "2026-01-01T00:00:00.000Z",
    machine: { cpu: "cpu", cores: 2, deno: "2.9.6", loadStart: "0", loadEnd: "0" },
    load: ["traces"],
    runs,
  };
}

Deno.test("renderReceivers: the viewer over Jaeger is taken within each round, then summarised", () => {
  const text = renderReceivers(results([
    run("viewer", 1, 30_000, 300_000),
    run("jaeger", 1, 20_000, 200_000),
    run("jaeger", 2, 40_000, 250_000),
    run("viewer", 2, 20_000, 250_000),
  ]));
  const ratioRows = text.split("\n").filter((line) => line.startsWith("| viewer ÷ jaeger"));
  assert.equal(ratioRows.length, 2);
  // Rates 30/20 and 20/40; CPU 4/8 in both rounds; replay 300/200 and 250/250.
  assert.ok(ratioRows[0].includes("| 1 (0.5 – 1.5) | 0.5 (0.5 – 0.5) |"));
  assert.equal(ratioRows[0].split("|").length, 12, "a label and ten figures");
  assert.ok(ratioRows[1].includes("| 1.25 (1 – 1.5) | 0.5 (0.5 – 0.5) |"));
  assert.ok(text.includes("## Replayed as fast as the receiver answers"));
});

Deno.test("renderReceivers: one receiver alone has no ratio row, and no replay table without a replay", () => {
  const text = renderReceivers(results([run("viewer", 1, 30_000)]));
  assert.ok(!text.includes("÷"));
  assert.ok(!text.includes("Replayed"));
  assert.ok(text.includes("| viewer | 30,000 (30,000 – 30,000) |"));
});
