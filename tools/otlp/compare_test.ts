import assert from "node:assert/strict";
import type { Span } from "./decode.ts";
import { compareTraces } from "./compare.ts";

/** A span of [start, end] milliseconds of service `service`. */
function span(
  spanId: string,
  service: string,
  name: string,
  start: number,
  end: number,
  parentSpanId?: string,
) {
  return {
    spanId,
    parentSpanId,
    service,
    name,
    startTimeUnixNano: BigInt(start) * 1_000_000n,
    endTimeUnixNano: BigInt(end) * 1_000_000n,
  } as Span;
}

Deno.test("compare: per service and span name, counts and self times in each trace, what changed most first", () => {
  // Before: one slow query under a 100 ms request. After: three fast queries and a cache lookup, 40 ms.
  const before = [
    span("r", "shop", "GET /", 0, 100),
    span("q", "db", "SELECT", 10, 90, "r"),
  ];
  const after = [
    span("r", "shop", "GET /", 0, 40),
    span("q1", "db", "SELECT", 5, 10, "r"),
    span("q2", "db", "SELECT", 10, 15, "r"),
    span("q3", "db", "SELECT", 15, 20, "r"),
    span("c", "cache", "GET", 20, 22, "r"),
  ];
  const rows = compareTraces(before, after).map((row) => ({
    ...row,
    selfNanosA: Number(row.selfNanosA / 1_000_000n),
    selfNanosB: Number(row.selfNanosB / 1_000_000n),
    diffNanos: Number(row.diffNanos / 1_000_000n),
  }));
  assert.deepEqual(rows, [
    { service: "db", name: "SELECT", countA: 1, countB: 3, selfNanosA: 80, selfNanosB: 15, diffNanos: -65 },
    { service: "shop", name: "GET /", countA: 1, countB: 1, selfNanosA: 20, selfNanosB: 23, diffNanos: 3 },
    { service: "cache", name: "GET", countA: 0, countB: 1, selfNanosA: 0, selfNanosB: 2, diffNanos: 2 },
  ]);
});

Deno.test("compare: a trace with itself changes nothing; ties go by count, then by name", () => {
  const spans = [span("r", "a", "x", 0, 10), span("c", "a", "y", 2, 4, "r")];
  assert.ok(compareTraces(spans, spans).every((row) => row.diffNanos === 0n && row.countA === row.countB));
  const rows = compareTraces([span("r", "a", "x", 0, 10)], [
    span("r", "a", "x", 0, 10),
    span("z", "b", "z", 0, 0),
  ]);
  assert.deepEqual(rows.map((row) => row.name), ["z", "x"], "one more span of no length comes first");
  assert.deepEqual(compareTraces([], []), []);
});
