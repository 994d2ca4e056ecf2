import assert from "node:assert/strict";
import type { Metric } from "@example/otlp/decode";
import { httpDuration as duration, testMetric } from "@example/otlp/sample_metrics";
import { MetricStore } from "@example/otlp/metric_store";
import { httpSummaries, metricSummaries, serviceSummaries } from "./metrics_summary.ts";
import { summaryLine, summaryLines } from "./terminal_summary.ts";

const S = 1_000_000_000n;

function gauge(name: string, values: [number, number, Record<string, string>][]): Metric {
  return testMetric({
    name,
    unit: "By",
    service: "server",
    points: values.map(([second, value, attributes]) => ({
      attributes,
      timeUnixNano: BigInt(second) * S,
      value,
    })),
  });
}

Deno.test("per route: the request rate, the error rate and percentiles over the window, from cumulative points", () => {
  const store = new MetricStore();
  // 200s: 10 in the first 10 s (all under 5 ms), then 30 more by 70 s (20 between 10 and 25 ms).
  store.add([duration(200, [[11, [10, 0, 0, 0, 0, 0]], [71, [20, 0, 20, 0, 0, 0]]])]);
  // 500s: 6 by 71 s, 3 of them in the last minute, between 50 and 100 ms.
  store.add([duration(500, [[11, [0, 0, 0, 0, 3, 0]], [71, [0, 0, 0, 0, 6, 0]]])]);
  const [summary] = httpSummaries(store, { windowMs: 60_000 });
  assert.equal(summary.route, "GET /");
  assert.equal(summary.side, "server");
  // Last minute (11 s to 71 s): 30 + 3 requests, 3 of them failed.
  assert.equal(summary.requestRate, 33 / 60);
  assert.equal(summary.errorRate, 3 / 60);
  assert.equal(summary.errorRatio, 3 / 33);
  // p50 of the minute: rank 16.5 of 33 → the 10–25 ms bucket (ranks 10 to 30) → interpolated.
  assert.ok(Math.abs(summary.p50! - (0.01 + 0.015 * (16.5 - 10) / 20)) < 1e-12);
  // p99: rank 32.67 → the 50–100 ms bucket, which holds the last 3.
  assert.ok(Math.abs(summary.p99! - (0.05 + 0.05 * (32.67 - 30) / 3)) < 1e-9);
  // The chart spans the data (1 s to 71 s) in 30 bins: a bin after 11 s has the last minute's rate, one
  // before it the first interval's (13 requests in 10 s).
  const { startMs, binMs, values } = summary.rateChart;
  assert.equal(startMs, 1000);
  values.forEach((value, i) => {
    const [from, to] = [startMs + i * binMs, startMs + (i + 1) * binMs];
    if (from >= 11_000) assert.ok(Math.abs(value! - 33 / 60) < 1e-9, `bin ${i}: ${value}`);
    if (to <= 11_000) assert.ok(Math.abs(value! - 13 / 10) < 1e-9, `bin ${i}: ${value}`);
  });
});

Deno.test("a restarted server is a reset, never a negative rate", () => {
  const store = new MetricStore();
  store.add([duration(200, [[11, [50, 0, 0, 0, 0, 0]]], { start: 1 })]);
  // The process restarted at 20 s: its new start time and smaller count are a reset.
  store.add([duration(200, [[30, [5, 0, 0, 0, 0, 0]]], { start: 20 })]);
  const [summary] = httpSummaries(store, { windowMs: 60_000 });
  // 50 over 1–11 s, then 5 over 20–30 s: 55 requests over the 20 s covered.
  assert.equal(summary.requestRate, 55 / 20);
  assert.ok(summary.rateChart.values.every((value) => value === null || value >= 0));
});

Deno.test("every metric: counters and histograms as rates, gauges as their latest value summed over series", () => {
  const store = new MetricStore();
  store.add([
    gauge("v8js.memory.heap.size", [[10, 100, { space: "old" }], [10, 20, { space: "new" }]]),
    gauge("v8js.memory.heap.size", [[20, 300, { space: "old" }], [20, 40, { space: "new" }]]),
    duration(200, [[11, [10, 0, 0, 0, 0, 0]]]),
  ]);
  const summaries = metricSummaries(store);
  assert.deepEqual(
    summaries.map(({ name, measure, value, series }) => ({ name, measure, value, series })),
    [
      { name: "http.server.request.duration", measure: "rate", value: 1, series: 1 },
      { name: "v8js.memory.heap.size", measure: "latest", value: 340, series: 2 },
    ],
  );
  assert.equal(summaries[1].chart.values.at(-1), 340);
});

Deno.test("the terminal summary: one line per service, its name printed safely", () => {
  const store = new MetricStore();
  assert.match(summaryLines(store)[0], /no HTTP metrics yet/);
  store.add([duration(200, [[11, [10, 0, 0, 0, 0, 0]]]), duration(500, [[11, [0, 0, 0, 0, 10, 0]]])]);
  const [summary] = serviceSummaries(store);
  const p95 = `${(summary.p95! * 1000).toFixed(1)} ms`;
  assert.deepEqual(summaryLines(store), [
    `[metrics] ${"server".padEnd(24)} 2.00 req/s  errors 1.00/s (50.0%)  p95 ${p95}`,
  ]);
  const hostile = summaryLine({ ...summary, service: "evil\u001b[2J\nname" });
  assert.equal(
    hostile,
    `[metrics] evil<U+001B>[2J⏎name${" ".repeat(4)} 2.00 req/s  errors 1.00/s (50.0%)  p95 ${p95}`,
  );
});

Deno.test("a second instance whose clock runs an hour ahead does not move the route's window", () => {
  const store = new MetricStore();
  store.add([duration(200, [[11, [10, 0, 0, 0, 0, 0]], [71, [20, 0, 20, 0, 0, 0]]])], 72_000);
  const alone = httpSummaries(store, { windowMs: 60_000, nowMs: 72_000 })[0];
  // The same route from another instance of the service, one point stamped an hour ahead of it, which the
  // store takes (the store's own guard is tested in metric_store_test.ts): 60 s after the last good point.
  const ahead = { ...duration(200, [[71 + 3600, [1, 0, 0, 0, 0, 0]]], { start: 61 + 3600 }) };
  ahead.resource = { ...ahead.resource, "service.instance.id": "b" };
  store.add([ahead], 3600_000 + 72_000);
  const [summary] = httpSummaries(store, { windowMs: 60_000, nowMs: 72_000 });
  assert.equal(store.series().length, 2);
  assert.equal(summary.requestRate, alone.requestRate);
  assert.equal(summary.requestRate, 30 / 60);
  assert.deepEqual(summary.rateChart, alone.rateChart);
  assert.equal(serviceSummaries(store, { nowMs: 72_000 })[0].requestRate, 30 / 60);
});
