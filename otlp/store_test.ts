import assert from "node:assert/strict";
import type { LogRecord, Span } from "./decode.ts";
import { isComplete, MAX_METRIC_NAMES, servicesByStart, TelemetryStore } from "./store.ts";

function span(trace: number, n: number, parent?: number): Span {
  return {
    traceId: trace.toString(16).padStart(32, "0"),
    spanId: (n + 1).toString(16).padStart(16, "0"),
    ...(parent === undefined ? {} : { parentSpanId: (parent + 1).toString(16).padStart(16, "0") }),
    name: `span ${n}`,
    kind: "INTERNAL",
    startTimeUnixNano: 1n,
    endTimeUnixNano: 2n,
    attributes: {},
    events: [],
    links: [],
    status: { code: "UNSET" },
    service: "test",
    resource: {},
    scope: { name: "test" },
  };
}

function log(body: string, traceId?: string): LogRecord {
  return { traceId, timeUnixNano: 1n, body, attributes: {}, service: "test", scope: { name: "test" } };
}

Deno.test("past its budget the store evicts the oldest traces, whole, and counts what it dropped", () => {
  const store = new TelemetryStore({ maxRecords: 10 });
  const changed: string[] = [];
  store.onChange((traceId) => changed.push(traceId));
  for (let trace = 1; trace <= 4; trace++) {
    store.addSpans([span(trace, 0), span(trace, 1, 0), span(trace, 2, 1)]);
  }
  // 12 spans > 10: the oldest traces go until a tenth of the budget is free (9 or fewer held).
  assert.deepEqual(store.traces().map((trace) => Number.parseInt(trace.traceId, 16)), [2, 3, 4]);
  assert.equal(store.trace((1).toString(16).padStart(32, "0")), undefined);
  assert.deepEqual(store.dropped, { traces: 1, spans: 3, logs: 0 });
  assert.equal(store.spans.length, 9);
  assert.ok(store.spans.every((span) => span.traceId !== (1).toString(16).padStart(32, "0")));
  assert.ok(store.traces().every(isComplete));
  assert.equal(changed.length, 4, "listeners heard of every arrival");
  // Log records count too; those in a trace go with it, the others oldest first.
  const trace2 = (2).toString(16).padStart(32, "0");
  store.addLogs([log("in trace 2", trace2), log("outside 1"), log("outside 2")]);
  assert.deepEqual(store.dropped, { traces: 2, spans: 6, logs: 1 });
  assert.deepEqual(store.logs.map((log) => log.body), ["outside 1", "outside 2"]);
  store.addLogs(Array.from({ length: 9 }, (_, i) => log(`later ${i}`)));
  assert.ok(store.spans.length + store.logs.length <= 10);
  assert.ok(!store.logs.some((log) => log.body === "outside 1"), "the oldest log records went first");
});

Deno.test("waitForTrace still resolves in a store that evicts", async () => {
  const store = new TelemetryStore({ maxRecords: 4 });
  const waiting = store.waitForTrace((9).toString(16).padStart(32, "0"), { spans: 2 });
  store.addSpans([span(8, 0), span(8, 1, 0), span(8, 2, 0)]);
  store.addSpans([span(9, 0), span(9, 1, 0)]);
  assert.equal((await waiting).spans.length, 2);
  assert.throws(() => new TelemetryStore({ maxRecords: 0 }), RangeError);
});

Deno.test("servicesByStart names each service once, in the order its earliest span started", () => {
  const at = (service: string, start: bigint): Span => ({ ...span(1, 0), service, startTimeUnixNano: start });
  // Arrival order server, client, server: the client started first.
  assert.deepEqual(servicesByStart([at("server", 5n), at("client", 1n), at("server", 3n)]), [
    "client",
    "server",
  ]);
  assert.deepEqual(servicesByStart([]), []);
});

Deno.test("a store counts metric exports and keeps at most MAX_METRIC_NAMES distinct names", async () => {
  const store = new TelemetryStore();
  const arrived = store.waitFor((store) => store.metricNames.has("jobs.processed"));
  store.addMetricNames(["jobs.processed", "jobs.duration", "jobs.processed"]);
  await arrived;
  assert.deepEqual(store.metrics, { requests: 1, metrics: 3 });
  store.addMetricNames(Array.from({ length: MAX_METRIC_NAMES * 2 }, (_, i) => `m${i}`));
  assert.equal(store.metricNames.size, MAX_METRIC_NAMES);
  assert.ok(store.metricNames.has("jobs.duration"));
});
