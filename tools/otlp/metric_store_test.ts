import assert from "node:assert/strict";
import { otelEnv, runDeno } from "@example/harness/processes";
import type { Metric, MetricPoint } from "./decode.ts";
import { MetricStore } from "./metric_store.ts";
import { createReceiverHandler, startReceiver, TelemetryStore } from "./receiver.ts";
import { testMetric } from "./sample_metrics.ts";

const NS = 1_000_000n;

function gauge(name: string, points: Partial<MetricPoint>[], extra: Partial<Metric> = {}): Metric {
  return testMetric({ name, points, ...extra });
}

Deno.test("Deno's own metrics arrive as the same series over OTLP/JSON and protobuf", async () => {
  await using receiver = startReceiver({ port: 0 });
  for (const protocol of ["http/json", "http/protobuf"] as const) {
    const result = await runDeno("tools/otlp/testdata/jobs_metrics.ts", {
      permissions: ["--allow-env=JOBS"],
      env: { ...otelEnv(`jobs ${protocol}`, { otlpEndpoint: receiver.url, protocol }), JOBS: "5" },
    });
    assert.equal(result.code, 0, result.stderr);
  }
  const seriesOf = (service: string) =>
    receiver.store.metrics.series().filter((series) =>
      series.service === service && series.name.startsWith("jobs.")
    )
      .map((series) => {
        const { name, kind, temporality, monotonic, attributes, bounds, unit } = series;
        const values = series.points().map((point) => [...point.values]);
        return { name, kind, temporality, monotonic, attributes, bounds, unit, values };
      })
      .sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);
  const json = seriesOf("jobs http/json");
  assert.deepEqual(json, seriesOf("jobs http/protobuf"));
  const done = { "job.outcome": "done" }, failed = { "job.outcome": "failed" };
  const counter = { kind: "sum", temporality: "cumulative", monotonic: true, bounds: [], unit: "{job}" };
  const histogram = {
    kind: "histogram",
    temporality: "cumulative",
    monotonic: false,
    bounds: [0.01, 0.1, 1],
  };
  assert.deepEqual(json, [
    { name: "jobs.duration", ...histogram, attributes: done, unit: "s", values: [[4, 0, 2, 2, 0]] },
    { name: "jobs.duration", ...histogram, attributes: failed, unit: "s", values: [[1, 0, 0, 1, 0]] },
    { name: "jobs.processed", ...counter, attributes: done, values: [[4]] },
    { name: "jobs.processed", ...counter, attributes: failed, values: [[1]] },
  ]);
});

Deno.test("a million series names: the store keeps its caps and counts what it refused", () => {
  const store = new MetricStore({ maxSeries: 1000, maxSeriesPerMetric: 100 });
  const batch = 100_000;
  for (let sent = 0; sent < 1_000_000; sent += batch) {
    store.add(Array.from({ length: batch }, (_, i) => gauge(`hostile.${sent + i}`, [{ value: 1 }])));
  }
  // One metric with a million attribute values: at most 100 series of it.
  store.add([
    gauge("one.metric", Array.from({ length: 1000 }, (_, i) => ({ attributes: { id: i }, value: i }))),
  ]);
  assert.equal(store.seriesCount, 1000);
  assert.ok(store.bytes <= store.limits.maxBytes);
  assert.equal(store.dropped.series, 1_000_000 - 1000 + 1000);
  // Once the hostile series have gone stale, new series get room again, the stalest first.
  store.add([gauge("later", [{ value: 1 }])], Date.now() + store.limits.staleAfterMs + 1);
  assert.equal(store.dropped.staleSeries, 1);
  assert.ok(store.series().some((series) => series.name === "later"));
});

Deno.test("huge names and labels are cut, extra attributes dropped, and the caps on bytes hold", () => {
  const store = new MetricStore({ maxAttributes: 4, maxBytes: 200_000 });
  const huge = "x".repeat(1_000_000);
  const attributes = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`${i}${huge}`, huge]));
  store.add([gauge(huge, [{ attributes, value: 1 }])]);
  const [series] = store.series();
  assert.equal(series.name.length, 256);
  assert.equal(Object.keys(series.attributes).length, 4);
  assert.ok(
    Object.entries(series.attributes).every(([key, value]) => key.length === 256 && value.length === 256),
  );
  assert.deepEqual(
    [store.dropped.droppedAttributes, store.dropped.truncatedLabels],
    [6, 1 + 4 * 2],
  );
  // Each series is charged its whole ring: this budget holds a few dozen and then refuses.
  for (let i = 0; i < 200; i++) store.add([gauge(`g${i}`, [{ value: i }])]);
  assert.ok(store.bytes <= 200_000 && store.dropped.series > 0);
});

Deno.test("points that are not measurements are dropped and counted; resets and late points too", () => {
  const store = new MetricStore({ pointsPerSeries: 3 });
  const at = (ms: number) => BigInt(ms) * NS;
  store.add([
    gauge("nan", [{ value: Number.NaN }, { value: Infinity }, { value: -Infinity }]),
    gauge("counter", [{ value: -1 }], { kind: "sum", monotonic: true, temporality: "cumulative" }),
    gauge("histogram", [
      { count: -1, bucketCounts: [-1, 0], explicitBounds: [1] },
      { count: 1, bucketCounts: [1, 0], explicitBounds: [Number.NaN] },
      { count: 2, bucketCounts: [1, 1, 0], explicitBounds: [2, 1] },
      {
        count: 1,
        bucketCounts: new Array(500).fill(0),
        explicitBounds: Array.from({ length: 499 }, (_, i) => i),
      },
    ], { kind: "histogram", temporality: "cumulative" }),
    gauge("no time", [{ value: 1, timeUnixNano: 0n }]),
  ]);
  assert.equal(store.dropped.invalidPoints, 3 + 1 + 4 + 1);
  assert.equal(store.seriesCount, 0);
  // A reset is kept as it came (the rates see it); a late or repeated point is not.
  const counter = (ms: number, value: number, start = 1) =>
    gauge("requests", [{ value, timeUnixNano: at(ms), startTimeUnixNano: at(start) }], {
      kind: "sum",
      monotonic: true,
      temporality: "cumulative",
    });
  for (const [ms, value, start] of [[10, 5], [20, 9], [20, 9], [15, 7], [30, 2, 25], [40, 4, 25]]) {
    store.add([counter(ms, value, start)]);
  }
  assert.equal(store.dropped.outOfOrderPoints, 2);
  const [series] = store.series();
  // Three points kept, the latest.
  assert.deepEqual(series.points().map((point) => [point.timeMs, point.values[0]]), [[20, 9], [30, 2], [
    40,
    4,
  ]]);
  assert.deepEqual(series.latest()?.values, Float64Array.of(4));
});

Deno.test("hostile metrics over HTTP: NaN, infinities, negative counts as JSON, an unsupported kind answered", async () => {
  const store = new TelemetryStore();
  const handle = createReceiverHandler(store);
  const point = (extra: object) => ({ timeUnixNano: "1000000000", ...extra });
  const body = {
    resourceMetrics: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "<img src=x>" } }] },
      scopeMetrics: [{
        metrics: [
          { name: "g", gauge: { dataPoints: [point({ asDouble: "NaN" }), point({ asDouble: "Infinity" })] } },
          {
            name: "c",
            sum: { isMonotonic: true, aggregationTemporality: 2, dataPoints: [point({ asInt: "-5" })] },
          },
          { name: "ok", gauge: { dataPoints: [point({ asInt: "7" })] } },
          { name: "e", exponentialHistogram: { dataPoints: [{}] } },
        ],
      }],
    }],
  };
  const response = await handle(
    new Request("http://127.0.0.1/v1/metrics", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {
    partialSuccess: {
      rejectedDataPoints: 1,
      errorMessage: 'metric "e" is an exponential histogram, which this receiver does not read',
    },
  });
  assert.equal(store.metrics.dropped.invalidPoints, 3);
  assert.deepEqual(store.metrics.series().map((series) => [series.service, series.name]), [[
    "<img src=x>",
    "ok",
  ]]);
  const wrong = await handle(
    new Request("http://127.0.0.1/v1/metrics", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        resourceMetrics: [{
          scopeMetrics: [{ metrics: [{ name: "g", gauge: { dataPoints: [{ asDouble: "1" }] } }] }],
        }],
      }),
    }),
  );
  assert.equal(wrong.status, 400);
  assert.match((await wrong.json()).message, /dataPoint\.asDouble must be a number/);
});

Deno.test("a point far ahead of its arrival is dropped and counted, and does not make the next ones late", () => {
  const store = new MetricStore();
  const at = (ms: number) => BigInt(ms) * 1_000_000n;
  const point = (ms: number, value: number) => gauge("g", [{ value, timeUnixNano: at(ms) }]);
  store.add([point(10_000, 1)], 10_000);
  store.add([point(10_000 + 86_400_000, 2)], 11_000); // a day ahead of the receiver's clock
  store.add([point(12_000, 3)], 12_000);
  store.add([point(13_000, 4)], 13_000);
  store.add([point(13_000 + 30_000, 5)], 14_000); // 29 s ahead: within a minute, kept
  assert.equal(store.dropped.futurePoints, 1);
  assert.equal(store.dropped.outOfOrderPoints, 0);
  assert.deepEqual(store.series()[0].points().map((p) => p.values[0]), [1, 3, 4, 5]);
});
