/**
 * Two traces compared by where their time went: per service and span name, how many spans each has and
 * their total self time (see `critical_path.ts`), and the difference, what changed most first. A slow trace
 * against a fast one of the same request, or one before a fix against one after, shows which operation
 * took the time.
 *
 * @module
 */
import type { Span } from "./decode.ts";
import { selfTimes } from "./critical_path.ts";

/** One operation (service and span name) in both traces. */
export interface ComparisonRow {
  /** The spans' service. */
  service: string;
  /** The spans' name. */
  name: string;
  /** How many spans of it trace `a` has. */
  countA: number;
  /** How many spans of it trace `b` has. */
  countB: number;
  /** Their total self time in trace `a`, in nanoseconds. */
  selfNanosA: bigint;
  /** Their total self time in trace `b`, in nanoseconds. */
  selfNanosB: bigint;
  /** `selfNanosB - selfNanosA`: positive when `b` spent more. */
  diffNanos: bigint;
}

/** Per service and span name, the count and total self time of `spans`. */
function totals(
  spans: readonly Span[],
): Map<string, { service: string; name: string; count: number; self: bigint }> {
  const self = selfTimes(spans);
  const result = new Map<string, { service: string; name: string; count: number; self: bigint }>();
  const seen = new Set<string>();
  for (const span of spans) {
    if (seen.has(span.spanId)) continue;
    seen.add(span.spanId);
    const key = JSON.stringify([span.service, span.name]);
    let row = result.get(key);
    if (row === undefined) {
      result.set(key, row = { service: span.service, name: span.name, count: 0, self: 0n });
    }
    row.count++;
    row.self += self.get(span.spanId) ?? 0n;
  }
  return result;
}

const abs = (value: bigint) => value < 0n ? -value : value;

/**
 * One row per (service, span name) of either trace: the count and total self time in each, and the
 * difference. Sorted so that what changed most comes first: the largest difference in self time, then in
 * count, then by service and name.
 */
export function compareTraces(a: readonly Span[], b: readonly Span[]): ComparisonRow[] {
  const inA = totals(a), inB = totals(b);
  const rows: ComparisonRow[] = [];
  for (const key of new Set([...inA.keys(), ...inB.keys()])) {
    const left = inA.get(key), right = inB.get(key);
    const { service, name } = (left ?? right)!;
    const selfNanosA = left?.self ?? 0n, selfNanosB = right?.self ?? 0n;
    rows.push({
      service,
      name,
      countA: left?.count ?? 0,
      countB: right?.count ?? 0,
      selfNanosA,
      selfNanosB,
      diffNanos: selfNanosB - selfNanosA,
    });
  }
  return rows.sort((x, y) => {
    const time = abs(y.diffNanos) - abs(x.diffNanos);
    if (time !== 0n) return time > 0n ? 1 : -1;
    const count = Math.abs(y.countB - y.countA) - Math.abs(x.countB - x.countA);
    if (count !== 0) return count;
    return x.service < y.service
      ? -1
      : x.service > y.service
      ? 1
      : x.name < y.name
      ? -1
      : x.name > y.name
      ? 1
      : 0;
  });
}
