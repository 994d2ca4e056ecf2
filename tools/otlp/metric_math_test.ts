import assert from "node:assert/strict";
import {
  intervals,
  quantile,
  ratePerSecond,
  type Temporality,
  type VectorPoint,
  withinBins,
  withinWindow,
} from "./metric_math.ts";

const point = (startMs: number, timeMs: number, ...values: number[]): VectorPoint => ({
  startMs,
  timeMs,
  values,
});

/** The rate per second over `[fromMs, toMs]` of cumulative points. */
function rate(points: VectorPoint[], fromMs: number, toMs: number, temporality: Temporality = "cumulative") {
  return ratePerSecond(withinWindow(intervals(points, temporality), fromMs, toMs));
}

Deno.test("a rate is the difference of two cumulative points over the time between them", () => {
  const points = [point(1_000, 2_000, 10), point(1_000, 12_000, 60)];
  assert.equal(rate(points, 2_000, 12_000), 5);
  // The first point counts from zero at its start time.
  assert.equal(rate(points, 1_000, 2_000), 10);
  assert.equal(rate(points, 1_000, 12_000), 60 / 11);
});

Deno.test("without a start time, the first point is only a base: one point gives no rate", () => {
  assert.equal(rate([point(0, 2_000, 10)], 0, 10_000), undefined);
  assert.equal(rate([point(0, 2_000, 10), point(0, 4_000, 30)], 0, 10_000), 10);
});

Deno.test("a counter that goes down was reset: its new value is the increase, never a negative rate", () => {
  const points = [point(0, 0, 100), point(0, 10_000, 120), point(0, 20_000, 5)];
  const found = intervals(points, "cumulative");
  assert.deepEqual(found.map((interval) => [interval.increase[0], interval.reset]), [[20, false], [5, true]]);
  assert.equal(rate(points, 0, 20_000), 25 / 20);
  assert.equal(rate(points, 10_000, 20_000), 0.5);
});

Deno.test("a new start time is a restart even when the value did not go down", () => {
  // The process restarted at 15 s and counted 50 by 20 s; the gap between is not covered.
  const points = [point(1_000, 10_000, 50), point(15_000, 20_000, 50)];
  const found = intervals(points, "cumulative");
  assert.deepEqual(found.at(-1), { fromMs: 15_000, toMs: 20_000, increase: [50], reset: true });
  assert.equal(rate(points, 10_000, 20_000), 10);
  assert.equal(rate(points, 10_000, 15_000), undefined);
});

Deno.test("an interval that straddles the window contributes its share", () => {
  const points = [point(0, 0, 0), point(0, 10_000, 100)];
  assert.deepEqual(withinWindow(intervals(points, "cumulative"), 5_000, 20_000), {
    increase: [50],
    coveredMs: 5_000,
  });
  assert.equal(rate(points, 5_000, 20_000), 10);
});

Deno.test("delta points are increases over their own interval", () => {
  const points = [point(10_000, 20_000, 10), point(20_000, 30_000, 30)];
  assert.equal(rate(points, 10_000, 30_000, "delta"), 2);
  assert.equal(rate(points, 20_000, 30_000, "delta"), 3);
  // Without a start time, a delta point counts from the one before it.
  assert.equal(rate([point(0, 10_000, 30), point(0, 20_000, 10)], 0, 20_000, "delta"), 1);
});

Deno.test("points out of time order are skipped", () => {
  const points = [point(0, 0, 0), point(0, 10_000, 10), point(0, 5_000, 1_000), point(0, 20_000, 30)];
  assert.equal(rate(points, 0, 20_000), 1.5);
});

Deno.test("histogram vectors: count and buckets are differenced together, a bucket going down is a reset", () => {
  const points = [point(0, 0, 10, 5, 5), point(0, 1_000, 14, 5, 9), point(0, 2_000, 3, 3, 0)];
  assert.deepEqual(
    intervals(points, "cumulative").map(({ increase, reset }) => ({ increase, reset })),
    [{ increase: [4, 0, 4], reset: false }, { increase: [3, 3, 0], reset: true }],
  );
});

Deno.test("a percentile is interpolated within the bucket that holds it", () => {
  const bounds = [1, 2, 4];
  const buckets = [0, 10, 10, 0];
  assert.equal(quantile(0.5, bounds, buckets), 2);
  assert.equal(quantile(0.25, bounds, buckets), 1.5);
  assert.equal(quantile(0.75, bounds, buckets), 3);
  assert.equal(quantile(0.99, bounds, buckets), 2 + 2 * 0.98);
  assert.equal(quantile(0, bounds, buckets), 1);
  assert.equal(quantile(1, bounds, buckets), 4);
});

Deno.test("the outer buckets: from 0 or min, and up to max or the last bound", () => {
  assert.equal(quantile(0.5, [10], [4, 0]), 5);
  assert.equal(quantile(0.5, [10], [4, 0], { min: 2 }), 6);
  assert.equal(quantile(0.5, [1], [0, 4]), 1);
  assert.equal(quantile(0.5, [1], [0, 4], { max: 3 }), 2);
  assert.equal(quantile(0.5, [-5, 0], [2, 0, 0]), -5);
});

Deno.test("a percentile never lies outside the histogram's min and max", () => {
  // What Deno sent for 7 fast requests: all in the first bucket of http.server.request.duration.
  const bounds = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
  const buckets = [7, ...new Array(14).fill(0)];
  assert.equal(quantile(0.95, bounds, buckets, { min: 0.000147003, max: 0.002010955 }), 0.002010955);
  assert.ok(
    Math.abs(quantile(0.5, bounds, buckets, { min: 0.000147003 })! - (0.000147003 + 0.004852997 / 2)) < 1e-12,
  );
});

Deno.test("no percentile of an empty histogram, of buckets that do not match the bounds, or of q outside 0..1", () => {
  assert.equal(quantile(0.5, [1, 2], [0, 0, 0]), undefined);
  assert.equal(quantile(0.5, [1, 2], [1, 1]), undefined);
  assert.equal(quantile(1.5, [1], [1, 1]), undefined);
  assert.equal(quantile(Number.NaN, [1], [1, 1]), undefined);
});

Deno.test("bins in one pass give what a window gives for each bin", () => {
  const points = [point(0, 1_000, 3, 1, 2), point(0, 4_500, 10, 2, 8), point(5_000, 9_000, 4, 4, 0)];
  const found = intervals(points, "cumulative");
  const bins = withinBins(found, 0, 2_000, 6);
  bins.forEach((bin, i) => {
    const window = withinWindow(found, i * 2_000, (i + 1) * 2_000);
    if (window === undefined) return assert.equal(bin, undefined, `bin ${i}`);
    assert.ok(bin !== undefined && Math.abs(bin.coveredMs - window.coveredMs) < 1e-9, `bin ${i}`);
    bin.increase.forEach((value, v) => assert.ok(Math.abs(value - window.increase[v]) < 1e-9, `bin ${i}`));
  });
  assert.equal(bins[5], undefined, "nothing after the last point");
});
