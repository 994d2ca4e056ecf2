import assert from "node:assert/strict";
import { arrivalSpreads, binomialBounds, classifyTraces } from "./sampling_report.ts";

Deno.test("binomialBounds: holds the expected count and is about 3.9 standard deviations wide", () => {
  const [low, high] = binomialBounds(2500, 0.1); // mean 250, sd 15
  assert.ok(low <= 250 && high >= 250);
  assert.equal(low, Math.floor(250 - 3.9 * 15));
  assert.equal(high, Math.ceil(250 + 3.9 * 15));
  assert.deepEqual(binomialBounds(10, 0), [0, 0]);
});

Deno.test("classifyTraces: whole, absent and partial by kind; slow normal calls are left out", () => {
  const load = {
    traces: { error: ["e1", "e2"], slow: ["s1"], normal: ["n1", "n2", "n3", "n4"] },
    unexpected: [],
    slowNormal: ["n4"],
  };
  const counts = new Map([["e1", 4], ["e2", 3], ["s1", 4], ["n1", 4], ["n2", 0], ["n4", 4]]);
  const c = classifyTraces(load, counts);
  assert.deepEqual(c.error, { total: 2, whole: 1, absent: 0 });
  assert.deepEqual(c.slow, { total: 1, whole: 1, absent: 0 });
  assert.deepEqual(c.normal, { total: 3, whole: 1, absent: 2 }); // n3 unknown to Tempo: absent
  assert.deepEqual(c.partial, ["e2 (3 spans)"]);
});

Deno.test("arrivalSpreads: last minus first arrival, sorted, only for traces that arrived", () => {
  const arrivals = new Map([["a", { first: 10, last: 510 }], ["b", { first: 0, last: 20 }]]);
  assert.deepEqual(arrivalSpreads(arrivals, ["a", "b", "c"]), [20, 500]);
});
