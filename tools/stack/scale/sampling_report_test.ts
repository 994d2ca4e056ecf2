import assert from "node:assert/strict";
import {
  arrivalSpreads,
  binomialBounds,
  classifyTraces,
  durationMs,
  othersArrivedSince,
  othersThan,
  summarize,
  tallyTempo,
} from "./sampling_report.ts";

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

Deno.test("tallyTempo: counts the run's traces only, and names each trace Tempo holds otherwise", () => {
  // What the gateways sent: two of the run's traces and one from another program (not counted).
  const sent = new Map([["a", 4], ["b", 4], ["jaeger", 2]]);
  const ok = tallyTempo(["a", "b", "c"], sent, new Map([["a", 4], ["b", 4], ["jaeger", 2], ["c", 0]]));
  assert.deepEqual(ok, { sent: 8, held: 8, differ: [] });
  // A span sent but not held is a loss, even when another trace's extra span would make the totals match.
  const lost = tallyTempo(["a", "b", "c"], sent, new Map([["a", 4], ["b", 3], ["c", 1]]));
  assert.deepEqual(lost, { sent: 8, held: 8, differ: ["b (sent 4, Tempo 3)", "c (sent 0, Tempo 1)"] });
  assert.deepEqual(tallyTempo(["a", "a"], sent, new Map([["a", 2]])), {
    sent: 4,
    held: 2,
    differ: ["a (sent 4, Tempo 2)"],
  });
});

Deno.test("othersThan: the traces outside the run, their services, and those kept", () => {
  const trace = (traceId: string, ...services: string[]) => ({
    traceId,
    spans: services.map((service) => ({ service })),
  });
  const runIds = new Set(["r1", "r2"]);
  const received = [
    trace("r1", "client", "server"),
    trace("j1", "jaeger"),
    trace("j2", "jaeger", "jaeger"),
    trace("x", "other"),
    trace("logs-only"),
  ];
  assert.deepEqual(othersThan(runIds, received, [trace("r1", "client"), trace("j2", "jaeger", "jaeger")]), {
    traces: 3,
    spans: 4,
    services: ["jaeger", "other"],
    keptTraces: 1,
    keptSpans: 2,
  });
  assert.deepEqual(othersThan(runIds, [trace("r2", "server")], []), {
    traces: 0,
    spans: 0,
    services: [],
    keptTraces: 0,
    keptSpans: 0,
  });
});

Deno.test("othersArrivedSince: traces outside the run that first arrived at or after a time", () => {
  const arrivals = new Map([
    ["r1", { first: 50 }],
    ["old", { first: 10 }],
    ["edge", { first: 20 }],
    ["new", { first: 30 }],
  ]);
  assert.equal(othersArrivedSince(arrivals, new Set(["r1"]), 20), 2);
  assert.equal(othersArrivedSince(arrivals, new Set(["r1"]), 31), 0);
});

Deno.test("durationMs: reads the Collector's durations, and nothing else", () => {
  assert.equal(durationMs("12s"), 12_000);
  assert.equal(durationMs("500ms"), 500);
  assert.equal(durationMs("1m30s"), 90_000);
  assert.equal(durationMs("1.5s"), 1500);
  for (const bad of ["", "12", "s", "12 s", "12sx", "-1s"]) {
    assert.throws(() => durationMs(bad), RangeError, bad);
  }
});

Deno.test("summarize: the run's spans in Tempo beside the gateways' total, and what came from outside", () => {
  const count = { total: 0, whole: 0, absent: 0 };
  const others = { traces: 20, spans: 21, services: ["jaeger"], keptTraces: 2, keptSpans: 2 };
  const report = {
    options: { calls: 3000, percent: 10, decisionWait: "12s", decisionCache: 200_000, killGateway: false },
    loadS: 17,
    classified: { error: count, slow: count, normal: count, partial: [] },
    spreads: [],
    gateways: [],
    tempo: { sent: 2892, held: 2890, differ: ["a (sent 4, Tempo 2)"] },
    sentToTempo: 2894,
    others,
    unexpected: [],
  };
  const lines = summarize(report).split("\n");
  assert.ok(lines.includes(
    "  spans of the run's traces sent to Tempo by the gateways: 2892, found in Tempo: 2890 " +
      "(differ: a (sent 4, Tempo 2))",
  ));
  assert.ok(lines.includes(
    "  spans sent to Tempo in all (the gateways' metric): 2894; from outside the run: " +
      "20 traces of 21 spans (services jaeger), 2 of them (2 spans) kept",
  ));
  const none = summarize({ ...report, others: { ...others, traces: 0, spans: 0, services: [] } });
  assert.match(none, /from outside the run: nothing\n/);
});
