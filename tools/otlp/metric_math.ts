/**
 * Rates and percentiles from the cumulative sums and histograms that Deno exports.
 *
 * A cumulative point holds everything counted since its start time, so what happened between two exports
 * is the difference of two points. A point whose start time changed, or whose value went down, comes from a
 * restarted process (a reset): the whole of its value was counted since the reset, never a negative
 * increase. A series' first point, when its start time is known, counts from zero at that start.
 *
 * Each point's values are one vector: `[value]` for a sum, `[count, ...bucketCounts]` for a histogram, so
 * that counters and histograms take the same path. Over a window, each interval between two points
 * contributes the share of its increase that falls inside the window (increases are taken as spread evenly
 * over their interval), and the rate divides by the time the intervals cover inside the window.
 *
 * @module
 */

/** One exported point of a series, with times in milliseconds since the epoch. */
export interface VectorPoint {
  /** The point's start time (0 when the sender gave none). */
  startMs: number;
  /** When the point was taken. */
  timeMs: number;
  /** `[value]` for a sum, `[count, ...bucketCounts]` for a histogram. */
  values: ArrayLike<number>;
}

/** What was counted between two points: the increase over `(fromMs, toMs]`. */
export interface Interval {
  /** Where the interval starts, in ms since the epoch. */
  fromMs: number;
  /** Where it ends (the later point's time). */
  toMs: number;
  /** The increase of each value of the vector, never negative. */
  increase: number[];
  /** Whether the later point came from a restart (a new start time or a value that went down). */
  reset: boolean;
}

/** How a sum's or histogram's points relate to time (OTLP's `AggregationTemporality`). */
export type Temporality = "cumulative" | "delta" | "unspecified";

/**
 * The intervals between consecutive points (oldest first), as increases that are never negative. Delta
 * points are increases already, over `(startMs, timeMs]`. Points out of time order are skipped.
 */
export function intervals(points: readonly VectorPoint[], temporality: Temporality): Interval[] {
  const result: Interval[] = [];
  let previous: VectorPoint | undefined;
  for (const point of points) {
    if (previous !== undefined && point.timeMs <= previous.timeMs) continue;
    const interval = temporality === "delta"
      ? _deltaInterval(point, previous)
      : _cumulativeInterval(point, previous);
    if (interval !== undefined) result.push(interval);
    previous = point;
  }
  return result;
}

function _deltaInterval(point: VectorPoint, previous: VectorPoint | undefined): Interval | undefined {
  const fromMs = point.startMs > 0 && point.startMs < point.timeMs ? point.startMs : previous?.timeMs;
  if (fromMs === undefined) return undefined;
  return { fromMs, toMs: point.timeMs, increase: Array.from(point.values, _nonNegative), reset: false };
}

function _cumulativeInterval(point: VectorPoint, previous: VectorPoint | undefined): Interval | undefined {
  const knownStart = point.startMs > 0 && point.startMs < point.timeMs;
  if (previous === undefined) {
    // From zero at the start time; without one, the first point is only a base for the next.
    if (!knownStart) return undefined;
    return {
      fromMs: point.startMs,
      toMs: point.timeMs,
      increase: Array.from(point.values, _nonNegative),
      reset: false,
    };
  }
  const reset = (knownStart && previous.startMs > 0 && point.startMs !== previous.startMs) ||
    point.values.length !== previous.values.length || _wentDown(point.values, previous.values);
  if (reset) {
    const fromMs = knownStart && point.startMs >= previous.timeMs ? point.startMs : previous.timeMs;
    return { fromMs, toMs: point.timeMs, increase: Array.from(point.values, _nonNegative), reset: true };
  }
  const increase = new Array<number>(point.values.length);
  for (let i = 0; i < increase.length; i++) increase[i] = point.values[i] - previous.values[i];
  return { fromMs: previous.timeMs, toMs: point.timeMs, increase, reset: false };
}

function _wentDown(values: ArrayLike<number>, before: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] < before[i]) return true;
  return false;
}

function _nonNegative(value: number): number {
  return value > 0 ? value : 0;
}

/** What the intervals counted inside a window, and how much of the window they cover. */
export interface Windowed {
  /** The increase of each value of the vector inside the window (shares of intervals that straddle it). */
  increase: number[];
  /** The time the intervals cover inside the window, in milliseconds. */
  coveredMs: number;
}

/**
 * What `intervals` counted within `[fromMs, toMs]`: each interval gives the share of its increase that its
 * overlap with the window is of its length. `undefined` when no interval overlaps the window.
 */
export function withinWindow(
  intervals: readonly Interval[],
  fromMs: number,
  toMs: number,
): Windowed | undefined {
  let increase: number[] | undefined;
  let coveredMs = 0;
  for (const interval of intervals) {
    const overlap = Math.min(toMs, interval.toMs) - Math.max(fromMs, interval.fromMs);
    if (!(overlap > 0)) continue;
    const share = overlap / (interval.toMs - interval.fromMs);
    increase ??= new Array(interval.increase.length).fill(0);
    if (increase.length !== interval.increase.length) continue;
    interval.increase.forEach((value, i) => increase![i] += value * share);
    coveredMs += overlap;
  }
  return increase === undefined ? undefined : { increase, coveredMs };
}

/**
 * What `intervals` counted in each of `bins` equal bins of `binMs` from `startMs`: for each bin what
 * {@linkcode withinWindow} gives for it, found in one pass over the intervals (a chart of 30 bins costs as
 * much as one window).
 */
export function withinBins(
  intervals: readonly Interval[],
  startMs: number,
  binMs: number,
  bins: number,
): (Windowed | undefined)[] {
  const result: (Windowed | undefined)[] = new Array(bins).fill(undefined);
  for (const interval of intervals) {
    const first = Math.max(0, Math.floor((interval.fromMs - startMs) / binMs));
    const last = Math.min(bins - 1, Math.floor((interval.toMs - startMs) / binMs));
    for (let bin = first; bin <= last; bin++) {
      const from = startMs + bin * binMs;
      const overlap = Math.min(from + binMs, interval.toMs) - Math.max(from, interval.fromMs);
      if (!(overlap > 0)) continue;
      const windowed = result[bin] ??= {
        increase: new Array(interval.increase.length).fill(0),
        coveredMs: 0,
      };
      if (windowed.increase.length !== interval.increase.length) continue;
      const share = overlap / (interval.toMs - interval.fromMs);
      interval.increase.forEach((value, i) => windowed.increase[i] += value * share);
      windowed.coveredMs += overlap;
    }
  }
  return result;
}

/** The rate per second of the vector's first value inside a window, or `undefined` when nothing covers it. */
export function ratePerSecond(windowed: Windowed | undefined): number | undefined {
  if (windowed === undefined || !(windowed.coveredMs > 0)) return undefined;
  return windowed.increase[0] / (windowed.coveredMs / 1000);
}

/** Bounds known for every value of a histogram (its `min` and `max`), to sharpen the outer buckets. */
export interface ValueRange {
  /** No value was below this. */
  min?: number;
  /** No value was above this. */
  max?: number;
}

/**
 * The `q`-quantile (0 ≤ q ≤ 1) of a histogram with explicit bounds, interpolated linearly within the bucket
 * that holds it, as Prometheus's `histogram_quantile` does. Bucket `i` holds the values in
 * `(bounds[i-1], bounds[i]]`; the first starts at `min` when known, else at 0 (or, for a bound of 0 or less, is taken as that bound);
 * the last, unbounded one ends at `max` when known, else the answer is its lower bound. `undefined` for an
 * empty histogram or buckets that do not match the bounds.
 */
export function quantile(
  q: number,
  bounds: readonly number[],
  buckets: ArrayLike<number>,
  { min, max }: ValueRange = {},
): number | undefined {
  if (!(q >= 0 && q <= 1) || buckets.length !== bounds.length + 1) return undefined;
  let total = 0;
  for (let i = 0; i < buckets.length; i++) total += buckets[i];
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i];
    if (count <= 0 || below + count < rank) {
      below += count;
      continue;
    }
    const [lower, upper] = _bucketRange(i, bounds, min, max);
    const value = lower + (upper - lower) * ((rank - below) / count);
    return _clamp(value, min, max);
  }
  return _clamp(bounds.at(-1) ?? 0, min, max);
}

/** The range of values bucket `i` is taken to hold. */
function _bucketRange(i: number, bounds: readonly number[], min?: number, max?: number): [number, number] {
  if (i === bounds.length) {
    const lower = bounds[i - 1] ?? min ?? 0;
    return [lower, max !== undefined && max > lower ? max : lower];
  }
  const upper = bounds[i];
  if (i > 0) return [bounds[i - 1], upper];
  return [min !== undefined && min <= upper ? min : upper > 0 ? 0 : upper, upper];
}

function _clamp(value: number, min: number | undefined, max: number | undefined): number {
  if (min !== undefined && value < min) return min;
  if (max !== undefined && value > max) return max;
  return value;
}
