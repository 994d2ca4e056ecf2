import assert from "node:assert/strict";
import type { LogRecord, Span } from "./decode.ts";
import {
  isComplete,
  LINK_BYTES,
  MAX_LINKS_INDEXED,
  MAX_LINKS_TO_TRACE,
  resourcesOf,
  servicesByStart,
  TelemetryStore,
} from "./store.ts";

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

Deno.test("a trace's start and duration are exact when the halves of its times pass 2^31", () => {
  const store = new TelemetryStore();
  // Low halves past 2^31 (and a high half past it: the year 2262 and later), on either side of each other.
  const times = [
    [0x0000_0001_9000_0000n, 0x0000_0001_f000_0000n],
    [0x0000_0001_8000_0001n, 0x0000_0002_0000_0005n],
    [0x9000_0000_8000_0000n, 0x9000_0000_ffff_ffffn],
  ];
  times.forEach(([start, end], n) => {
    store.addSpans([{ ...span(n + 1, 0), startTimeUnixNano: start, endTimeUnixNano: end }]);
    store.addSpans([{ ...span(n + 1, 1, 0), startTimeUnixNano: start + 1n, endTimeUnixNano: end - 1n }]);
  });
  const facts = times.map((_, n) => store.summary((n + 1).toString(16).padStart(32, "0"))!);
  assert.deepEqual(
    facts.map((fact) => [fact.startTimeUnixNano, fact.durationNanos]),
    times.map(([start, end]) => [start, end - start]),
  );
  // The earliest start wins over a later one, across the halves.
  store.addSpans([{
    ...span(2, 2, 0),
    startTimeUnixNano: 0x0000_0001_7fff_ffffn,
    endTimeUnixNano: 0x0000_0002_0000_0006n,
  }]);
  const second = store.summary((2).toString(16).padStart(32, "0"))!;
  assert.equal(second.startTimeUnixNano, 0x0000_0001_7fff_ffffn);
  assert.equal(second.durationNanos, 0x0000_0002_0000_0006n - 0x0000_0001_7fff_ffffn);
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

const linking = (trace: number, n: number, targets: [number, number][]): Span => ({
  ...span(trace, n),
  links: targets.map(([target, m]) => ({
    traceId: id(target),
    spanId: span(target, m).spanId,
    attributes: {},
  })),
});

/** The linking spans the index holds for trace `target`, as `trace:span` numbers, by the span linked to. */
function linksTo(store: TelemetryStore, target: number): Record<string, string[]> | undefined {
  const index = store.linksTo(id(target));
  return index && Object.fromEntries(
    [...index.bySpan].map(([spanId, sources]) => [
      spanId,
      sources.map((source) =>
        `${Number.parseInt(source.traceId, 16)}:${Number.parseInt(source.spanId, 16) - 1}`
      ),
    ]),
  );
}

Deno.test("the store indexes the links that point to each trace, and forgets them with either trace", () => {
  const store = new TelemetryStore({ maxRecords: 11 });
  store.addSpans([span(1, 0), linking(1, 1, [[1, 0]])]); // a link within its own trace
  // Trace 2 links twice to one span (named once), and to a trace never sent.
  store.addSpans([linking(2, 0, [[1, 0], [1, 0], [9, 3]]), linking(2, 1, [[1, 1]])]);
  store.addSpans([linking(3, 0, [[1, 0]])]);
  assert.deepEqual(linksTo(store, 1), {
    [span(1, 0).spanId]: ["1:1", "2:0", "3:0"],
    [span(1, 1).spanId]: ["2:1"],
  });
  assert.deepEqual(linksTo(store, 9), { [span(9, 3).spanId]: ["2:0"] });
  assert.equal(store.linksTo(id(1).toUpperCase())?.leftOut, 0);
  assert.equal(store.linksTo(id(4)), undefined);
  assert.equal(store.bytes, unlinkedBytes(store) + 5 * LINK_BYTES, "the index is charged to the store");

  // Trace 1 changes last; 6 spans of trace 4 evict traces 2 and 3, and their links with them.
  store.addSpans([span(1, 2)]);
  store.addSpans(Array.from({ length: 6 }, (_, n) => span(4, n)));
  assert.deepEqual(store.traces().map((trace) => Number.parseInt(trace.traceId, 16)), [1, 4]);
  assert.deepEqual(linksTo(store, 1), { [span(1, 0).spanId]: ["1:1"] });
  assert.equal(store.linksTo(id(9)), undefined, "links to a trace never sent go with the linking trace");

  // Trace 5 links to trace 4; trace 4's eviction forgets them, and the bytes go back to trace 5's own.
  store.addSpans([linking(5, 0, [[4, 0], [4, 1]])]);
  assert.equal(store.bytes, unlinkedBytes(store) + 3 * LINK_BYTES);
  store.addSpans(Array.from({ length: 4 }, (_, n) => span(6, n)));
  assert.deepEqual(store.traces().map((trace) => Number.parseInt(trace.traceId, 16)), [5, 6]);
  assert.equal(store.linksTo(id(4)), undefined);
  assert.equal(store.bytes, unlinkedBytes(store), "trace 5 no longer pays for its links");
});

/** The bytes of a store holding the spans `store` holds, with their links but no index of them. */
function unlinkedBytes(store: TelemetryStore): number {
  const copy = new TelemetryStore({ maxLinksIndexed: 0 });
  copy.addSpans(store.spans.map((span) => ({ ...span })));
  return copy.bytes;
}

Deno.test("a sender of many links cannot grow the index past its caps: per trace linked to, and in all", () => {
  // The defaults: 1,000 links to one trace kept, the rest counted.
  const store = new TelemetryStore();
  store.addSpans([span(1, 0)]);
  store.addSpans(
    Array.from({ length: 20 }, (_, n) => linking(2, n, Array.from({ length: 100 }, () => [1, 0]))),
  );
  store.addSpans(Array.from({ length: 1500 }, (_, n) => linking(3, n, [[1, 0]])));
  const toOne = store.linksTo(id(1))!;
  assert.equal(toOne.bySpan.get(span(1, 0).spanId)!.length, MAX_LINKS_TO_TRACE);
  assert.equal(toOne.leftOut, 520, "each span's repeated link counts once: 1,520, the first 1,000 kept");

  // 500 spans of 128 links, each to a trace never sent: no more than MAX_LINKS_INDEXED kept, nothing counted for
  // traces not held, so the index stops growing.
  const hostile = new TelemetryStore();
  hostile.addSpans([span(1, 0)]);
  let target = 1000;
  const spans = Array.from(
    { length: 500 },
    (_, n) => linking(2, n, Array.from({ length: 128 }, () => [target++, 0] as [number, number])),
  );
  hostile.addSpans(spans);
  let kept = 0;
  for (let t = 1000; t < target; t++) kept += hostile.linksTo(id(t))?.bySpan.size ?? 0;
  assert.equal(kept, MAX_LINKS_INDEXED);
  assert.equal(hostile.linksTo(id(target - 1)), undefined);
  // A trace held still learns that links to it were left out.
  hostile.addSpans([linking(3, 0, [[1, 0]])]);
  assert.deepEqual([hostile.linksTo(id(1))?.bySpan.size, hostile.linksTo(id(1))?.leftOut], [0, 1]);

  const small = new TelemetryStore({ maxLinksToTrace: 2, maxLinksIndexed: 3 });
  small.addSpans([linking(1, 0, [[7, 0], [7, 1], [7, 2], [8, 0], [8, 1]])]);
  assert.deepEqual([linksTo(small, 7), small.linksTo(id(7))?.leftOut], [{
    [span(7, 0).spanId]: ["1:0"],
    [span(7, 1).spanId]: ["1:0"],
  }, 1]);
  assert.deepEqual(linksTo(small, 8), { [span(8, 0).spanId]: ["1:0"] });
  assert.throws(() => new TelemetryStore({ maxLinksToTrace: 0 }), RangeError);
});
