import assert from "node:assert/strict";
import fc from "fast-check";
import { criticalPath, rootSpan, selfTimes, type TimedSpan } from "./critical_path.ts";

/** A span of [start, end] nanoseconds. */
function span(spanId: string, start: number, end: number, parentSpanId?: string): TimedSpan {
  return { spanId, parentSpanId, startTimeUnixNano: BigInt(start), endTimeUnixNano: BigInt(end) };
}

/** The path as [spanId, start, end] triples, easier to read than segments. */
function path(spans: TimedSpan[]): [string, number, number][] {
  return criticalPath(spans).map((s) => [s.spanId, Number(s.startTimeUnixNano), Number(s.endTimeUnixNano)]);
}

Deno.test("critical path: a staircase of sequential calls puts every call on the path, gaps on the parent", () => {
  assert.deepEqual(
    path([span("r", 0, 100), span("a", 0, 30, "r"), span("b", 30, 60, "r"), span("c", 60, 100, "r")]),
    [["a", 0, 30], ["b", 30, 60], ["c", 60, 100]],
    "a call that ends the instant the next starts counts",
  );
  assert.deepEqual(
    path([span("r", 0, 100), span("a", 10, 30, "r"), span("b", 40, 60, "r"), span("c", 70, 90, "r")]),
    [["r", 0, 10], ["a", 10, 30], ["r", 30, 40], ["b", 40, 60], ["r", 60, 70], ["c", 70, 90], ["r", 90, 100]],
  );
});

Deno.test("critical path: of overlapping children, the one that ended last before the point reached", () => {
  // a ends at 80, after c started (60): the walk back from c's start takes b, which ended at 50.
  assert.deepEqual(
    path([span("r", 0, 100), span("a", 10, 80, "r"), span("b", 20, 50, "r"), span("c", 60, 90, "r")]),
    [["r", 0, 20], ["b", 20, 50], ["r", 50, 60], ["c", 60, 90], ["r", 90, 100]],
  );
  // Nested: the path goes down into the child's own children; a1 ended after a2 started, so a has the rest.
  assert.deepEqual(
    path([span("r", 0, 100), span("a", 10, 90, "r"), span("a1", 20, 40, "a"), span("a2", 30, 70, "a")]),
    [["r", 0, 10], ["a", 10, 30], ["a2", 30, 70], ["a", 70, 90], ["r", 90, 100]],
  );
});

Deno.test("critical path: a child that outlives its parent is cut at the parent's end", () => {
  assert.deepEqual(path([span("r", 0, 100), span("a", 50, 150, "r")]), [["r", 0, 50], ["a", 50, 100]]);
  // Its own children past the cut are left out; a child wholly after the parent too.
  assert.deepEqual(
    path([
      span("r", 0, 100),
      span("a", 50, 150, "r"),
      span("a1", 120, 140, "a"),
      span("late", 200, 300, "r"),
    ]),
    [["r", 0, 50], ["a", 50, 100]],
  );
  // A child that started before its parent is cut at the parent's start.
  assert.deepEqual(path([span("r", 10, 100), span("a", 0, 40, "r")]), [["a", 10, 40], ["r", 40, 100]]);
});

Deno.test("critical path: a missing parent leaves its orphans off the path; with no root, the earliest orphan", () => {
  const spans = [span("orphan", 0, 500, "gone"), span("r", 10, 100), span("a", 20, 30, "r")];
  assert.equal(rootSpan(spans)?.spanId, "r");
  assert.deepEqual(path(spans), [["r", 10, 20], ["a", 20, 30], ["r", 30, 100]]);
  const orphans = [span("x", 50, 60, "gone"), span("y", 5, 40, "gone"), span("y1", 10, 20, "y")];
  assert.deepEqual(path(orphans), [["y", 5, 10], ["y1", 10, 20], ["y", 20, 40]]);
});

Deno.test("critical path: a single span, no span, a cycle, a duplicate id, a 10,000-deep chain", () => {
  assert.deepEqual(path([span("r", 5, 9)]), [["r", 5, 9]]);
  assert.deepEqual(path([]), []);
  // Parent links that form a cycle: no root at all, and a cycle under a root is walked once.
  assert.deepEqual(path([span("a", 0, 10, "b"), span("b", 0, 10, "a")]), []);
  assert.deepEqual(
    path([span("r", 0, 10), span("a", 1, 9, "r"), span("b", 2, 8, "a"), span("a", 3, 7, "b")]),
    [["r", 0, 1], ["a", 1, 2], ["b", 2, 8], ["a", 8, 9], ["r", 9, 10]],
    "the second span of id a is not kept",
  );
  const chain = Array.from(
    { length: 10_000 },
    (_, i) => span(`s${i}`, i, 20_000 - i, i ? `s${i - 1}` : undefined),
  );
  const segments = criticalPath(chain);
  assert.equal(segments.length, 2 * 10_000 - 1);
  assert.equal(segments[10_000 - 1].spanId, "s9999");
});

Deno.test("critical path: on any tree, segments in time order cover the root exactly, each inside its span", () => {
  const tree = fc.array(
    fc.record({
      parent: fc.nat(),
      start: fc.integer({ min: 0, max: 1000 }),
      length: fc.integer({ min: 0, max: 500 }),
    }),
    { maxLength: 40 },
  );
  fc.assert(fc.property(fc.integer({ min: 1, max: 1000 }), tree, (rootLength, rows) => {
    const spans = [span("s0", 0, rootLength)];
    rows.forEach((row, i) => {
      const parent = spans[row.parent % spans.length];
      spans.push(span(`s${i + 1}`, row.start, row.start + row.length, parent.spanId));
    });
    const segments = criticalPath(spans);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    assert.equal(segments[0].startTimeUnixNano, 0n);
    assert.equal(segments.at(-1)!.endTimeUnixNano, BigInt(rootLength));
    segments.forEach((segment, i) => {
      assert.ok(segment.endTimeUnixNano > segment.startTimeUnixNano);
      if (i > 0) assert.equal(segment.startTimeUnixNano, segments[i - 1].endTimeUnixNano);
      const owner = byId.get(segment.spanId)!;
      assert.ok(owner.startTimeUnixNano <= segment.startTimeUnixNano);
      assert.ok(segment.endTimeUnixNano <= owner.endTimeUnixNano);
    });
  }));
});

Deno.test("self time: the duration less the union of the children's intervals, cut to the span", () => {
  const times = selfTimes([
    span("r", 0, 100),
    span("a", 10, 50, "r"),
    span("b", 30, 70, "r"), // overlaps a: together they cover 10..70
    span("c", 90, 150, "r"), // outlives r: counts up to 100
    span("c1", 95, 99, "c"),
    span("orphan", 0, 10, "gone"),
  ]);
  assert.deepEqual(Object.fromEntries(times), { r: 30n, a: 40n, b: 40n, c: 56n, c1: 4n, orphan: 10n });
  assert.deepEqual(Object.fromEntries(selfTimes([span("x", 10, 5)])), { x: 0n }, "an end before the start");
});
