// The benchmark's arithmetic and rendering, without running anything: span expectations, loss, the tables and
// the chart. `deno task bench:smoke` runs the harness itself.
import assert from "node:assert/strict";
import { countTempoSpans } from "./bench.ts";
import { CountingStore } from "./counting_store.ts";
import {
  lossPercent,
  median,
  rateTable,
  renderChart,
  type ServerRun,
  serverTable,
  spanCount,
} from "./report.ts";

function run(overrides: Partial<ServerRun>): ServerRun {
  return {
    id: "deno-off",
    label: "Deno, tracing off",
    runtime: "deno",
    settings: {},
    sinkDelayMs: 0,
    requestsPerSecond: 50_000,
    latencyUs: { p50: 500, p99: 2_000 },
    ok: 500_000,
    failed: 0,
    peakRssKiB: 90 * 1024,
    cpuUsPerRequest: 16,
    cpu: { server: 1, sink: 0, generator: 0.8, machine: 1.85, others: 0.05 },
    logsReceived: 0,
    ...overrides,
  };
}

Deno.test("loss is the share of expected spans that did not arrive, never negative", () => {
  assert.equal(lossPercent(1000, 990), 1);
  assert.equal(lossPercent(1000, 1000), 0);
  assert.equal(lossPercent(1000, 1010), 0);
  assert.equal(lossPercent(0, 0), 0);
});

Deno.test("an exact span expectation is requests times spans per request", () => {
  assert.deepEqual(spanCount(1000, 2, 1990), {
    expected: 2000,
    received: 1990,
    approximate: false,
    lossPercent: 0.5,
  });
});

Deno.test("a sampled expectation carries three standard deviations of tolerance", () => {
  const count = spanCount(10_000, 2, 2_050, 0.1);
  assert.equal(count.expected, 2_000);
  assert.equal(count.approximate, true);
  // 3 × 2 × sqrt(10000 × 0.1 × 0.9) = 180
  assert.equal(count.tolerance, 180);
  const table = rateTable([
    run({ targetRate: 1000, spans: count, settings: { OTEL_TRACES_SAMPLER_ARG: "0.1" } }),
  ]);
  assert.match(table, /\| 0 ± 9\.0 % \| 1\.00 \| 1\.85 \|$/m, "within the tolerance it is no loss");
});

Deno.test("the median of an even and an odd number of values", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

Deno.test("the server table compares each run with its untraced baseline", () => {
  const table = serverTable([
    run({}),
    run({
      id: "deno-protobuf",
      label: "Deno, OTLP http/protobuf",
      baseline: "deno-off",
      requestsPerSecond: 10_000,
      spans: spanCount(120_000, 2, 240_000),
    }),
  ]);
  const rows = table.split("\n");
  assert.equal(rows.length, 4);
  assert.match(
    rows[3],
    /^\| Deno, OTLP http\/protobuf \| 10,000 \| 0\.50 \| 2\.00 \| 90 \| 16 \| 240,000 \| 240,000 \| 0 % \| 0\.20 \| 0\.05 \|$/,
  );
});

Deno.test("the chart is SVG with one labelled bar pair per run", () => {
  const svg = renderChart([
    run({}),
    run({ id: "x", label: "A <b>", baseline: "deno-off", requestsPerSecond: 25_000 }),
  ]);
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal(svg.match(/<rect x=/g)?.length, 4);
  assert.match(svg, /A &lt;b&gt;/);
  assert.match(svg, />25,000 \(0\.50\)</);
});

Deno.test("Tempo answers are counted whatever their nesting", () => {
  const v1 = { batches: [{ scopeSpans: [{ spans: [{}, {}] }] }, { scopeSpans: [{ spans: [{}] }] }] };
  const v2 = { trace: { resourceSpans: [{ scopeSpans: [{ spans: [{}, {}, {}, {}] }] }] } };
  assert.equal(countTempoSpans(v1), 3);
  assert.equal(countTempoSpans(v2), 4);
  assert.equal(countTempoSpans({}), 0);
});

Deno.test("the counting store counts per service and keeps nothing", () => {
  const store = new CountingStore();
  const span = { service: "a" } as Parameters<CountingStore["addSpans"]>[0][number];
  store.addSpans([span, span, { ...span, service: "b" }]);
  store.addLogs([{ service: "a" } as Parameters<CountingStore["addLogs"]>[0][number]]);
  assert.deepEqual(store.received("a"), { spans: 2, logs: 1 });
  assert.deepEqual(store.received("b"), { spans: 1, logs: 0 });
  assert.deepEqual(store.received("c"), { spans: 0, logs: 0 });
  assert.equal(store.spans.length, 0);
  assert.equal(store.traces().length, 0);
});
