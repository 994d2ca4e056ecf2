/**
 * The critical path of a trace, as Jaeger's UI computes it, and each span's self time.
 *
 * The critical path starts at the root span's end and walks back in time: among the children that ended by
 * that point, the one that ended last is on the path, from its end back to its start (and its own children
 * the same way); time no child covers belongs to the parent; then the walk goes on from that child's start.
 * Children are first cut to their parent (one that outlives it ends where it ends; one wholly outside it is
 * left out). The result is segments, in time order, that together cover the root span.
 *
 * One difference from Jaeger's UI: it takes children that ended strictly before the point reached, so in a
 * staircase whose calls start the instant the one before ends, it gives each call but the last to the
 * parent; here a child that ends exactly there counts (and one of no length there does not, so the walk
 * always moves back).
 *
 * ```ts
 * import { criticalPath } from "./critical_path.ts";
 * const start = 1_000n;
 * const spans = [
 *   { spanId: "a", startTimeUnixNano: start, endTimeUnixNano: start + 10n },
 *   { spanId: "b", parentSpanId: "a", startTimeUnixNano: start + 2n, endTimeUnixNano: start + 8n },
 * ];
 * console.log(criticalPath(spans).map((s) => s.spanId)); // ["a", "b", "a"]
 * ```
 *
 * @module
 */

/** What the computations read of a span. */
export interface TimedSpan {
  /** The span id. */
  spanId: string;
  /** The parent's span id, absent for a root. */
  parentSpanId?: string;
  /** When the span started, in nanoseconds since the epoch. */
  startTimeUnixNano: bigint;
  /** When the span ended, in nanoseconds since the epoch. */
  endTimeUnixNano: bigint;
}

/** A stretch of time on the critical path, spent in span `spanId` itself. */
export interface CriticalSegment {
  /** The span the time is spent in. */
  spanId: string;
  /** Where the stretch starts, in nanoseconds since the epoch. */
  startTimeUnixNano: bigint;
  /** Where it ends. */
  endTimeUnixNano: bigint;
}

/** A span cut to its parent, with its children cut to it, sorted by end, latest first. */
interface Node {
  spanId: string;
  start: bigint;
  end: bigint;
  children: Node[];
  /** How many of `children` (by end, latest first) the walk has passed: they are never taken again. */
  passed: number;
}

/**
 * The root the critical path covers: the earliest span without a parent, or, when every span names one,
 * the earliest whose parent did not arrive. Other roots (orphans of a missing parent) are not on the path.
 */
export function rootSpan<T extends TimedSpan>(spans: readonly T[]): T | undefined {
  const ids = new Set(spans.map((span) => span.spanId));
  let root: T | undefined, orphan: T | undefined;
  for (const span of spans) {
    const earlier = (other: T | undefined) =>
      other === undefined || span.startTimeUnixNano < other.startTimeUnixNano;
    if (span.parentSpanId === undefined) {
      if (earlier(root)) root = span;
    } else if (!ids.has(span.parentSpanId) && earlier(orphan)) orphan = span;
  }
  return root ?? orphan;
}

/** The children of each span id, the first span of each id only (as the store keeps them). */
export function childrenOf<T extends TimedSpan>(spans: readonly T[]): Map<string, T[]> {
  const seen = new Set<string>();
  const children = new Map<string, T[]>();
  for (const span of spans) {
    if (seen.has(span.spanId)) continue;
    seen.add(span.spanId);
    if (span.parentSpanId === undefined) continue;
    const list = children.get(span.parentSpanId);
    if (list === undefined) children.set(span.parentSpanId, [span]);
    else list.push(span);
  }
  return children;
}

/**
 * The tree under `root`, each child cut to its parent's time, walked with a stack of its own (a chain of
 * thousands of spans must not exhaust the call stack) and each span visited once (a cycle of parent links
 * ends there).
 */
function cutTree(root: TimedSpan, children: Map<string, TimedSpan[]>): Node {
  const top: Node = {
    spanId: root.spanId,
    start: root.startTimeUnixNano,
    end: root.endTimeUnixNano > root.startTimeUnixNano ? root.endTimeUnixNano : root.startTimeUnixNano,
    children: [],
    passed: 0,
  };
  const seen = new Set([root.spanId]);
  const stack = [top];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    for (const child of children.get(node.spanId) ?? []) {
      if (seen.has(child.spanId)) continue;
      if (child.startTimeUnixNano > node.end || child.endTimeUnixNano < node.start) continue;
      seen.add(child.spanId);
      const start = child.startTimeUnixNano > node.start ? child.startTimeUnixNano : node.start;
      const end = child.endTimeUnixNano < node.end ? child.endTimeUnixNano : node.end;
      const cut = { spanId: child.spanId, start, end: end > start ? end : start, children: [], passed: 0 };
      node.children.push(cut);
      stack.push(cut);
    }
    node.children.sort((a, b) => a.end > b.end ? -1 : a.end < b.end ? 1 : 0);
  }
  return top;
}

/**
 * The child of `node` that ended last by `until` and started before it, or `undefined`. Children are sorted
 * by end and `until` only moves back, so each child is passed over once: a parent of n children costs n.
 */
function lastFinishing(node: Node, until: bigint): Node | undefined {
  while (node.passed < node.children.length) {
    const child = node.children[node.passed];
    if (child.end > until || child.start >= until) {
      node.passed++;
      continue;
    }
    node.passed++;
    return child;
  }
  return undefined;
}

/**
 * The critical path of the trace made of `spans`: segments in time order that together cover its root
 * span ({@linkcode rootSpan}), each naming the span the time is spent in. Empty when there is no span.
 */
export function criticalPath(spans: readonly TimedSpan[]): CriticalSegment[] {
  const root = rootSpan(spans);
  if (root === undefined) return [];
  let node = cutTree(root, childrenOf(spans));
  const reversed: CriticalSegment[] = [];
  const add = (spanId: string, start: bigint, end: bigint) => {
    if (end > start) reversed.push({ spanId, startTimeUnixNano: start, endTimeUnixNano: end });
  };
  const parents: Node[] = [];
  let until = node.end;
  while (true) {
    const child = lastFinishing(node, until);
    if (child !== undefined) {
      add(node.spanId, child.end, until);
      parents.push(node);
      node = child;
      until = child.end;
      continue;
    }
    add(node.spanId, node.start, until);
    const parent = parents.pop();
    if (parent === undefined) break;
    until = node.start;
    node = parent;
  }
  return reversed.reverse();
}

/**
 * Each span's self time, by span id: its duration less the time its children cover (the union of their
 * intervals, each cut to the span), in nanoseconds; never negative. The first span of each id only.
 */
export function selfTimes(spans: readonly TimedSpan[]): Map<string, bigint> {
  const children = childrenOf(spans);
  const result = new Map<string, bigint>();
  for (const span of spans) {
    if (result.has(span.spanId)) continue;
    const start = span.startTimeUnixNano;
    const end = span.endTimeUnixNano > start ? span.endTimeUnixNano : start;
    result.set(span.spanId, end - start - covered(children.get(span.spanId) ?? [], start, end));
  }
  return result;
}

/** How much of [start, end] the union of `spans`' intervals covers. */
function covered(spans: readonly TimedSpan[], start: bigint, end: bigint): bigint {
  const intervals: [bigint, bigint][] = [];
  for (const span of spans) {
    const from = span.startTimeUnixNano > start ? span.startTimeUnixNano : start;
    const to = span.endTimeUnixNano < end ? span.endTimeUnixNano : end;
    if (to > from) intervals.push([from, to]);
  }
  intervals.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  let total = 0n, reached = start;
  for (const [from, to] of intervals) {
    if (to <= reached) continue;
    total += to - (from > reached ? from : reached);
    reached = to;
  }
  return total;
}
