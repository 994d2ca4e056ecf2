import assert from "node:assert/strict";
import type { LogRecord, Span } from "./decode.ts";
import { isComplete, resourcesOf, servicesByStart, TelemetryStore } from "./store.ts";

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

Deno.test("past its budget the store evicts the traces changed longest ago, whole, and counts what it dropped", () => {
  const store = new TelemetryStore({ maxRecords: 10 });
  const changed: string[] = [];
  store.onChange((traceId) => changed.push(traceId));
  for (let trace = 1; trace <= 4; trace++) {
    store.addSpans([span(trace, 0), span(trace, 1, 0), span(trace, 2, 1)]);
  }
  // 12 spans > 10: the oldest traces go until a tenth of the budget is free (9 or fewer held).
  assert.deepEqual(store.traces().map((trace) => Number.parseInt(trace.traceId, 16)), [2, 3, 4]);
  assert.equal(store.trace((1).toString(16).padStart(32, "0")), undefined);
  assert.deepEqual(store.dropped, { traces: 1, spans: 3, logs: 0, duplicateSpans: 0 });
  assert.equal(store.spans.length, 9);
  assert.ok(store.spans.every((span) => span.traceId !== (1).toString(16).padStart(32, "0")));
  assert.ok(store.traces().every(isComplete));
  assert.equal(changed.length, 4, "listeners heard of every arrival");
  // Log records count too; those in a trace go with it, the others oldest first. Trace 2 just changed, so
  // trace 3 goes before it.
  const trace2 = (2).toString(16).padStart(32, "0");
  store.addLogs([log("in trace 2", trace2), log("outside 1"), log("outside 2")]);
  assert.deepEqual(store.dropped, { traces: 2, spans: 6, logs: 0, duplicateSpans: 0 });
  assert.deepEqual(store.traces().map((trace) => Number.parseInt(trace.traceId, 16)), [2, 4]);
  assert.deepEqual(store.logs.map((log) => log.body), ["in trace 2", "outside 1", "outside 2"]);
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

const id = (trace: number) => trace.toString(16).padStart(32, "0");

Deno.test("recentTraces lists the traces that changed last first, at most limit of them", () => {
  const store = new TelemetryStore();
  for (let trace = 1; trace <= 5; trace++) store.addSpans([span(trace, 0)]);
  store.addSpans([span(2, 1, 0)]);
  store.addLogs([log("late", id(4))]);
  assert.equal(store.traceCount, 5);
  assert.deepEqual(store.recentTraces(3).map((trace) => trace.traceId), [id(4), id(2), id(5)]);
  assert.equal(store.recentTraces(100).length, 5);
  assert.deepEqual(store.recentTraces(0), []);
});

Deno.test("a second span with the same id is counted as a duplicate, and the first one kept", () => {
  const store = new TelemetryStore();
  const changed: string[] = [];
  store.onChange((traceId) => changed.push(traceId));
  store.addSpans([span(1, 0)]);
  store.addSpans([{ ...span(1, 0), name: "again" }, span(1, 1, 0)]);
  const trace = store.trace(id(1))!;
  assert.deepEqual(trace.spans.map((span) => span.name), ["span 0", "span 1"]);
  assert.equal(trace.duplicateSpans, 1);
  assert.equal(store.dropped.duplicateSpans, 1);
  assert.equal(store.spans.length, 2);
  assert.deepEqual(changed, [id(1), id(1)]);
});

Deno.test("equal resources are held once and charged once, however many spans name them", () => {
  const store = new TelemetryStore();
  const big = { "service.name": "big", blob: "x".repeat(100_000) };
  const spans = (trace: number, resource = { ...big }) =>
    Array.from({ length: 1000 }, (_, n) => ({ ...span(trace, n), resource }));
  store.addSpans(spans(1));
  const afterOne = store.bytes;
  assert.ok(afterOne < 1_000 * 1_000 + 250_000, `${afterOne} bytes: the resource counted once`);
  store.addSpans(spans(2)); // another request, an equal resource: the same shared object
  const [first, second] = [store.trace(id(1))!, store.trace(id(2))!];
  assert.equal(first.spans[0].resource, second.spans[999].resource);
  assert.deepEqual(resourcesOf(first).resources, [big]);
  assert.equal(resourcesOf(second).indexOf.get(second.spans[5].resource), 0);
  assert.ok(store.bytes - afterOne < 1_000 * 1_000, "the second trace paid for its spans only");
});

Deno.test("past its byte budget the store evicts too, and lets go of resources no span names any more", () => {
  const store = new TelemetryStore({ maxBytes: 1_000_000 });
  for (let trace = 1; trace <= 20; trace++) {
    store.addSpans([{
      ...span(trace, 0),
      attributes: { blob: "y".repeat(100_000) },
      resource: { n: trace },
    }]);
    assert.ok(store.bytes <= 1_000_000, `${store.bytes} bytes held after trace ${trace}`);
  }
  assert.ok(store.dropped.traces >= 15);
  assert.ok(store.traceCount <= 5);
  assert.deepEqual(
    store.recentTraces(1).map((trace) => trace.spans[0].resource),
    [{ n: 20 }],
  );
  assert.throws(() => new TelemetryStore({ maxBytes: 0 }), RangeError);
});
