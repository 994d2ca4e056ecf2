/**
 * The metrics a receiver accepted, in memory and bounded: one series per service, metric and set of
 * attributes, each the latest points in a ring buffer. Everything that could grow is capped, and what a cap
 * turned away is counted: series in all and per metric, points per series, attributes per series and the
 * length of their keys and values, buckets per histogram, and an estimate of the bytes held (each series
 * is charged for its full ring when it is made, so a series never grows past what was admitted).
 *
 * Points that cannot be a measurement (NaN or infinite values, a counter below zero, a histogram with
 * negative counts or bounds out of order, no time) are dropped and counted; a point no newer than its
 * series' latest one is a duplicate or out of order, and dropped too.
 *
 * @module
 */
import type { AttributeValue, Metric, MetricKind, MetricPoint, MetricTemporality } from "./decode.ts";
import type { VectorPoint } from "./metric_math.ts";

/** Limits of a {@linkcode MetricStore}. */
export interface MetricStoreOptions {
  /** Series held in all (default 2000). */
  maxSeries?: number;
  /** Series of one metric of one service (default 500). */
  maxSeriesPerMetric?: number;
  /** Points kept per series, the latest (default 120: two minutes at a 1 s export interval, two hours at 60 s). */
  pointsPerSeries?: number;
  /** Attributes kept per series (default 32); the rest are dropped, and counted. */
  maxAttributes?: number;
  /** The longest metric name, attribute key or value kept, in characters (default 256); longer is cut. */
  maxLabelLength?: number;
  /** The most buckets a histogram may have (default 100). */
  maxBuckets?: number;
  /** The bytes the series may take, as estimated (default 16 MiB). */
  maxBytes?: number;
  /**
   * When all series are taken, one not updated for this long (by arrival, default 5 minutes) makes room for
   * a new one; otherwise the new one is dropped.
   */
  staleAfterMs?: number;
  /**
   * A point more than this ahead of its arrival (default 1 minute) is dropped and counted: a sender's clock far
   * ahead would otherwise make its series' next correct points look out of order.
   */
  maxAheadMs?: number;
}

/** What a metric store turned away. */
export interface MetricsDropped {
  /** New series refused because a series cap or the byte budget was reached. */
  series: number;
  /** Series removed, stale, to make room for new ones. */
  staleSeries: number;
  /** Points dropped: not a measurement (NaN, infinite, negative count, bad buckets) or too many buckets. */
  invalidPoints: number;
  /** Points no newer than their series' latest point. */
  outOfOrderPoints: number;
  /** Points more than `maxAheadMs` ahead of their arrival (the sender's clock runs ahead). */
  futurePoints: number;
  /** Attribute keys or values, or metric names, cut to the longest length kept. */
  truncatedLabels: number;
  /** Attributes dropped past the most kept per series. */
  droppedAttributes: number;
}

/** One point as held: times in milliseconds, values as one vector (see `metric_math.ts`). */
export interface StoredPoint extends VectorPoint {
  /** `[value]` for a gauge or sum; `[count, ...bucketCounts]` for a histogram. */
  values: Float64Array;
  /** A histogram's smallest value, when sent. */
  min?: number;
  /** A histogram's largest value, when sent. */
  max?: number;
}

/** One series: a metric of one service with one set of attributes, and its latest points. */
export interface Series {
  /** The service that sends it. */
  service: string;
  /** The metric's name (cut to the longest length kept). */
  name: string;
  /** The metric's unit. */
  unit: string;
  /** Gauge, sum or histogram. */
  kind: MetricKind;
  /** How its points relate to time. */
  temporality: MetricTemporality;
  /** Whether it is a counter (a monotonic sum). */
  monotonic: boolean;
  /** Its attributes, each value as text (non-strings as JSON), cut to the longest length kept. */
  attributes: Record<string, string>;
  /** A histogram's bucket bounds. */
  bounds: number[];
  /** When a point of it last arrived, in ms since the epoch (this machine's clock). */
  receivedMs: number;
  /** Its points, oldest first. */
  points(): StoredPoint[];
  /** Its latest point. */
  latest(): StoredPoint | undefined;
}

/** The bounded metrics of a receiver. */
export class MetricStore {
  /** Metric export requests received. */
  requests = 0;
  /** Metrics received (each metric of each request). */
  received = 0;
  readonly #options: Required<MetricStoreOptions>;
  #series = new Map<string, _Series>();
  /** The same series, the one updated longest ago first (re-inserted on each update). */
  #byAge = new Map<string, _Series>();
  #perMetric = new Map<string, number>();
  #bytes = 0;
  #dropped: MetricsDropped = {
    series: 0,
    staleSeries: 0,
    invalidPoints: 0,
    outOfOrderPoints: 0,
    futurePoints: 0,
    truncatedLabels: 0,
    droppedAttributes: 0,
  };

  /** A store within the limits given (each has a default). */
  constructor(options: MetricStoreOptions = {}) {
    this.#options = {
      maxSeries: 2000,
      maxSeriesPerMetric: 500,
      pointsPerSeries: 120,
      maxAttributes: 32,
      maxLabelLength: 256,
      maxBuckets: 100,
      maxBytes: 16 * 1024 * 1024,
      staleAfterMs: 5 * 60_000,
      maxAheadMs: 60_000,
      ...options,
    };
    for (const [name, value] of Object.entries(this.#options)) {
      if (!(value >= 1)) throw new RangeError(`${name} must be at least 1, got ${value}`);
    }
  }

  /** The limits in force. */
  get limits(): Readonly<Required<MetricStoreOptions>> {
    return this.#options;
  }

  /** What was turned away so far. */
  get dropped(): MetricsDropped {
    return { ...this.#dropped };
  }

  /** The bytes held, as estimated (each series' full ring). */
  get bytes(): number {
    return this.#bytes;
  }

  /** How many series are held. */
  get seriesCount(): number {
    return this.#series.size;
  }

  /** The series held, in the order they were made. */
  series(): Series[] {
    return [...this.#series.values()];
  }

  /** Files the points of decoded metrics under their series. `nowMs` is the arrival time (default now). */
  add(metrics: readonly Metric[], nowMs = Date.now()): void {
    this.requests++;
    this.received += metrics.length;
    for (const metric of metrics) {
      const name = this.#label(metric.name);
      for (const point of metric.points) {
        const values = this.#valuesOf(metric, point);
        if (values === undefined) {
          this.#dropped.invalidPoints++;
          continue;
        }
        if (Number(point.timeUnixNano / 1_000_000n) > nowMs + this.#options.maxAheadMs) {
          this.#dropped.futurePoints++;
          continue;
        }
        const series = this.#seriesFor(metric, name, point, nowMs);
        if (series === undefined) continue;
        if (!series.push(this.#stored(point, values))) {
          this.#dropped.outOfOrderPoints++;
          continue;
        }
        series.receivedMs = nowMs;
        this.#byAge.delete(series.identity.key);
        this.#byAge.set(series.identity.key, series);
      }
    }
  }

  /** The point's values as a vector, or `undefined` when it cannot be a measurement. */
  #valuesOf(metric: Metric, point: MetricPoint): Float64Array | undefined {
    if (point.timeUnixNano <= 0n) return undefined;
    if (metric.kind !== "histogram") {
      const value = point.value ?? 0;
      if (!Number.isFinite(value) || (metric.monotonic && value < 0)) return undefined;
      return Float64Array.of(value);
    }
    const buckets = point.bucketCounts ?? [];
    const bounds = point.explicitBounds ?? [];
    if (buckets.length > this.#options.maxBuckets + 1) return undefined;
    const counts = [point.count ?? 0, ...buckets];
    if (counts.some((count) => !(count >= 0 && Number.isFinite(count)))) return undefined;
    if (bounds.some((bound, i) => !Number.isFinite(bound) || (i > 0 && bound <= bounds[i - 1]))) {
      return undefined;
    }
    for (const field of ["min", "max"] as const) {
      const value = point[field];
      if (value !== undefined && !Number.isFinite(value)) return undefined;
    }
    return Float64Array.from(counts);
  }

  #stored(point: MetricPoint, values: Float64Array): StoredPoint {
    return {
      startMs: Number(point.startTimeUnixNano) / 1e6,
      timeMs: Number(point.timeUnixNano) / 1e6,
      values,
      // Always both fields, so that every point has one shape (reading points is the views' hot loop).
      min: point.min,
      max: point.max,
    };
  }

  /** The series of a point, made if need be and if the caps allow; `undefined` (and counted) if not. */
  #seriesFor(metric: Metric, name: string, point: MetricPoint, nowMs: number): _Series | undefined {
    const attributes = this.#attributes(point.attributes);
    const instance = metric.resource["service.instance.id"];
    const identity = [metric.service, instance ?? null, metric.scope.name, name, metric.kind, attributes];
    const key = JSON.stringify(identity);
    const bounds = point.explicitBounds ?? [];
    const found = this.#series.get(key);
    if (found !== undefined) {
      if (bounds.length === found.bounds.length && bounds.every((bound, i) => bound === found.bounds[i])) {
        return found;
      }
      // New bounds make the earlier points incomparable (and may cost more): the series is made again.
      this.#remove(found);
    }
    const metricKey = JSON.stringify([metric.service, name]);
    const bytes = _seriesBytes(key, this.#options.pointsPerSeries, bounds.length);
    if (
      (this.#perMetric.get(metricKey) ?? 0) >= this.#options.maxSeriesPerMetric ||
      !this.#makeRoom(bytes, nowMs)
    ) {
      this.#dropped.series++;
      return undefined;
    }
    const series = new _Series(metric, name, attributes, bounds, this.#options.pointsPerSeries, {
      key,
      metricKey,
      bytes,
    });
    this.#series.set(key, series);
    this.#byAge.set(key, series);
    this.#perMetric.set(metricKey, (this.#perMetric.get(metricKey) ?? 0) + 1);
    this.#bytes += bytes;
    return series;
  }

  /** Whether a series of `bytes` fits, after removing the stalest series if that is what it takes. */
  #makeRoom(bytes: number, nowMs: number): boolean {
    const full = () =>
      this.#series.size >= this.#options.maxSeries || this.#bytes + bytes > this.#options.maxBytes;
    while (full()) {
      const stalest: _Series | undefined = this.#byAge.values().next().value;
      if (stalest === undefined || nowMs - stalest.receivedMs < this.#options.staleAfterMs) return false;
      this.#remove(stalest);
      this.#dropped.staleSeries++;
    }
    return true;
  }

  #remove(series: _Series): void {
    this.#series.delete(series.identity.key);
    this.#byAge.delete(series.identity.key);
    this.#bytes -= series.identity.bytes;
    const left = (this.#perMetric.get(series.identity.metricKey) ?? 1) - 1;
    if (left > 0) this.#perMetric.set(series.identity.metricKey, left);
    else this.#perMetric.delete(series.identity.metricKey);
  }

  /** A point's attributes as sorted text labels, within the caps. */
  #attributes(attributes: Record<string, AttributeValue>): Record<string, string> {
    const keys = Object.keys(attributes).sort();
    if (keys.length > this.#options.maxAttributes) {
      this.#dropped.droppedAttributes += keys.length - this.#options.maxAttributes;
      keys.length = this.#options.maxAttributes;
    }
    const labels: Record<string, string> = {};
    for (const key of keys) {
      const value = attributes[key];
      const text = typeof value === "string" ? value : JSON.stringify(value);
      Object.defineProperty(labels, this.#label(key), {
        value: this.#label(text),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return labels;
  }

  #label(text: string): string {
    if (text.length <= this.#options.maxLabelLength) return text;
    this.#dropped.truncatedLabels++;
    return text.slice(0, this.#options.maxLabelLength - 1) + "…";
  }
}

/** The estimated bytes of a series with a full ring of `points` points of `bounds + 2` values. */
function _seriesBytes(key: string, points: number, bounds: number): number {
  return 600 + 4 * key.length + 8 * bounds + points * (96 + 8 * (bounds + 2));
}

class _Series implements Series {
  service: string;
  name: string;
  unit: string;
  kind: MetricKind;
  temporality: MetricTemporality;
  monotonic: boolean;
  receivedMs = 0;
  #ring: StoredPoint[] = [];
  #next = 0;

  constructor(
    metric: Metric,
    name: string,
    readonly attributes: Record<string, string>,
    readonly bounds: number[],
    readonly capacity: number,
    readonly identity: { key: string; metricKey: string; bytes: number },
  ) {
    this.service = metric.service;
    this.name = name;
    this.unit = metric.unit.slice(0, 64);
    this.kind = metric.kind;
    this.temporality = metric.temporality;
    this.monotonic = metric.monotonic;
  }

  /** Adds a point newer than the latest; says whether it did. */
  push(point: StoredPoint): boolean {
    const latest = this.latest();
    if (latest !== undefined && point.timeMs <= latest.timeMs) return false;
    if (this.#ring.length < this.capacity) this.#ring.push(point);
    else this.#ring[this.#next] = point;
    this.#next = (this.#next + 1) % this.capacity;
    return true;
  }

  points(): StoredPoint[] {
    if (this.#ring.length < this.capacity) return [...this.#ring];
    return this.#ring.slice(this.#next).concat(this.#ring.slice(0, this.#next));
  }

  latest(): StoredPoint | undefined {
    if (this.#ring.length === 0) return undefined;
    return this.#ring[(this.#next - 1 + this.capacity) % this.capacity];
  }
}
