/**
 * What the viewer shows of metrics: per service and route, the request rate, error rate and p50 / p95 / p99
 * latency of Deno's HTTP duration histograms; per metric, its rate or latest value; each with a short
 * history in equal bins for a chart. The rates and percentiles come from `@example/otlp/metric_math`.
 *
 * Times are the senders' own (each point's time), so a viewer started late or a slow export does not bend
 * a rate: a window ends at the newest point of what it summarises, leaving out series whose newest point is
 * after the receiver's clock, so that one sender whose clock runs ahead cannot push the others out of it.
 *
 * @module
 */
import type { MetricStore, Series } from "@example/otlp/metric_store";
import {
  type Interval,
  intervals,
  quantile,
  ratePerSecond,
  type Windowed,
  withinBins,
  withinWindow,
} from "@example/otlp/metric_math";

/** How a summary is computed. */
export interface SummaryOptions {
  /** The window of the headline numbers, in ms (default 60 s). */
  windowMs?: number;
  /** How far back the charts go, in ms (default 5 minutes). */
  chartMs?: number;
  /** How many bins a chart has (default 30). */
  bins?: number;
  /** The receiver's clock, in ms since the epoch (default now): no window or chart ends after it. */
  nowMs?: number;
}

/** A chart: one value (or `null`, no data) per bin, oldest first. */
export interface Chart {
  /** Where the first bin starts, in ms since the epoch. */
  startMs: number;
  /** Each bin's width in ms. */
  binMs: number;
  /** The values. */
  values: (number | null)[];
}

/** One service's HTTP traffic on one route (server) or to one address (client). */
export interface HttpSummary {
  /** The service. */
  service: string;
  /** `server` for `http.server.request.duration`, `client` for `http.client.request.duration`. */
  side: "server" | "client";
  /** `GET /users` (the method and `http.route`), or for a client the method and `server.address:port`. */
  route: string;
  /** Requests per second over the window. */
  requestRate: number | null;
  /** Failed requests per second (`error.type` set, or a status of 500 and up; 400 and up for a client). */
  errorRate: number | null;
  /** The share of requests that failed, 0 to 1. */
  errorRatio: number | null;
  /** Latency percentiles over the window, in the metric's unit (`unit`). */
  p50: number | null;
  /** The 95th percentile. */
  p95: number | null;
  /** The 99th percentile. */
  p99: number | null;
  /** The histogram's unit (Deno: `s`). */
  unit: string;
  /** Requests per second, per bin. */
  rateChart: Chart;
  /** Failed requests per second, per bin. */
  errorChart: Chart;
  /** The 50th, 95th and 99th percentiles, per bin. */
  latencyCharts: { p50: Chart; p95: Chart; p99: Chart };
}

/** One metric of one service, summed over its series. */
export interface MetricSummary {
  /** The service. */
  service: string;
  /** The metric. */
  name: string;
  /** Its unit. */
  unit: string;
  /** Gauge, sum or histogram. */
  kind: Series["kind"];
  /** Whether a sum is a counter. */
  monotonic: boolean;
  /** How many series (attribute sets) it has. */
  series: number;
  /** What `value` is: a rate per second (counters, histogram counts) or the latest value (summed over series). */
  measure: "rate" | "latest";
  /** The value over the window (rate) or the latest one. */
  value: number | null;
  /** A histogram's 95th percentile over the window. */
  p95: number | null;
  /** `value` per bin. */
  chart: Chart;
}

/** The HTTP duration histograms of Deno's runtime and what they are for. */
const HTTP_DURATIONS = {
  "http.server.request.duration": "server",
  "http.client.request.duration": "client",
} as const;

/** One series with its intervals, computed once per summary. */
interface Prepared {
  series: Series;
  intervals: Interval[];
}

function prepare(series: Series): Prepared {
  return { series, intervals: intervals(series.points(), series.temporality) };
}

/** A series and what its intervals counted in one window or bin. */
interface Counted {
  series: Series;
  windowed: Windowed | undefined;
}

/** The shortest time a chart spans, in ms. */
const MIN_CHART_MS = 10_000;

/** The bins of a chart. */
interface Layout {
  startMs: number;
  binMs: number;
  bins: number;
}

/**
 * The bins of a chart of `series`: as far back as their data goes (at least 10 s, so that a short demo fills
 * its chart), at most `chartMs`, ending at their newest point.
 */
function layoutOf(
  series: readonly Series[],
  { chartMs = 300_000, bins = 30, nowMs }: SummaryOptions,
): Layout {
  let firstMs = Infinity;
  for (const one of series) {
    const [point] = one.points();
    if (point !== undefined) firstMs = Math.min(firstMs, point.startMs > 0 ? point.startMs : point.timeMs);
  }
  const endMs = newest(series, nowMs);
  const spanMs = Math.min(
    chartMs,
    Math.max(MIN_CHART_MS, endMs - (Number.isFinite(firstMs) ? firstMs : endMs)),
  );
  return { startMs: endMs - spanMs, binMs: spanMs / bins, bins };
}

/**
 * The newest point time of the series, leaving out those whose newest point is after `nowMs` (their sender's
 * clock runs ahead); `nowMs` when all are; 0 when they have no point.
 */
function newest(series: readonly Series[], nowMs = Date.now()): number {
  let end = 0, ahead = false;
  for (const one of series) {
    const timeMs = one.latest()?.timeMs ?? 0;
    if (timeMs > nowMs) ahead = true;
    else end = Math.max(end, timeMs);
  }
  return end === 0 && ahead ? nowMs : end;
}

/** What each series counted in `[fromMs, toMs]`. */
function inWindow(prepared: readonly Prepared[], fromMs: number, toMs: number): Counted[] {
  return prepared.map(({ series, intervals }) => ({
    series,
    windowed: withinWindow(intervals, fromMs, toMs),
  }));
}

/** What each series counted in each bin of `layout`: one list per bin. */
function inBins(prepared: readonly Prepared[], { startMs, binMs, bins }: Layout): Counted[][] {
  const perSeries = prepared.map(({ intervals }) => withinBins(intervals, startMs, binMs, bins));
  return Array.from(
    { length: bins },
    (_, bin) => prepared.map(({ series }, i) => ({ series, windowed: perSeries[i][bin] })),
  );
}

/** A chart of `value` over each bin's counts. */
function chartOf(layout: Layout, bins: Counted[][], value: (counted: Counted[]) => number | null): Chart {
  return { startMs: layout.startMs, binMs: layout.binMs, values: bins.map(value) };
}

/** The sum of the per-series rates, or `null` when no series covers the window. */
function rateOf(counted: readonly Counted[]): number | null {
  let total: number | null = null;
  for (const { windowed } of counted) {
    const rate = ratePerSecond(windowed);
    if (rate !== undefined) total = (total ?? 0) + rate;
  }
  return total;
}

/** The rate of the failed requests: 0 where requests but no failures were counted, `null` where neither. */
function errorRateOf(counted: readonly Counted[], side: "server" | "client"): number | null {
  const all = rateOf(counted);
  if (all === null) return null;
  return rateOf(counted.filter(({ series }) => isError(series, side))) ?? 0;
}

/** A percentile of the histograms together (those with the first one's bounds). */
function percentileOf(q: number, counted: readonly Counted[]): number | null {
  const bounds = counted[0]?.series.bounds ?? [];
  let buckets: number[] | undefined;
  let min = Infinity, max = -Infinity;
  for (const { series, windowed } of counted) {
    if (windowed === undefined) continue;
    if (series.bounds.length !== bounds.length || series.bounds.some((bound, i) => bound !== bounds[i])) {
      continue;
    }
    buckets ??= new Array(bounds.length + 1).fill(0);
    for (let i = 1; i < windowed.increase.length; i++) buckets[i - 1] += windowed.increase[i];
    const latest = series.latest();
    min = Math.min(min, latest?.min ?? -Infinity);
    max = Math.max(max, latest?.max ?? Infinity);
  }
  if (buckets === undefined) return null;
  const range = { ...(Number.isFinite(min) ? { min } : {}), ...(Number.isFinite(max) ? { max } : {}) };
  return quantile(q, bounds, buckets, range) ?? null;
}

function isError(series: Series, side: "server" | "client"): boolean {
  if (series.attributes["error.type"] !== undefined) return true;
  const status = Number(series.attributes["http.response.status_code"]);
  return status >= (side === "server" ? 500 : 400);
}

function routeOf(series: Series, side: "server" | "client"): string {
  const { attributes } = series;
  const method = attributes["http.request.method"] ?? "";
  const where = side === "server"
    ? attributes["http.route"] ?? "(no route)"
    : [attributes["server.address"], attributes["server.port"]].filter(Boolean).join(":") || "(no address)";
  return `${method} ${where}`.trim();
}

/** Groups series by a key, in the order the keys are first met. */
function groupBy<T>(items: Iterable<T>, keyOf: (item: T) => string | undefined): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    if (key === undefined) continue;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return groups;
}

/**
 * The HTTP traffic of each service, per route (server) or address (client), from Deno's
 * `http.server.request.duration` and `http.client.request.duration` histograms, sorted by service and route.
 */
export function httpSummaries(store: MetricStore, options: SummaryOptions = {}): HttpSummary[] {
  const { windowMs = 60_000 } = options;
  const http = store.series().filter((series) =>
    series.kind === "histogram" && Object.hasOwn(HTTP_DURATIONS, series.name)
  );
  const groups = groupBy(http, (series) => {
    const side = HTTP_DURATIONS[series.name as keyof typeof HTTP_DURATIONS];
    return JSON.stringify([series.service, side, routeOf(series, side)]);
  });
  const summaries = [...groups].map(([key, members]): HttpSummary => {
    const [service, side, route] = JSON.parse(key) as [string, "server" | "client", string];
    const all = members.map(prepare);
    const end = newest(members, options.nowMs);
    const window = inWindow(all, end - windowMs, end);
    const layout = layoutOf(members, options);
    const bins = inBins(all, layout);
    const requestRate = rateOf(window);
    const errorRate = errorRateOf(window, side);
    return {
      service,
      side,
      route,
      requestRate,
      errorRate,
      errorRatio: requestRate ? (errorRate ?? 0) / requestRate : null,
      p50: percentileOf(0.5, window),
      p95: percentileOf(0.95, window),
      p99: percentileOf(0.99, window),
      unit: members[0].unit,
      rateChart: chartOf(layout, bins, rateOf),
      errorChart: chartOf(layout, bins, (counted) => errorRateOf(counted, side)),
      latencyCharts: {
        p50: chartOf(layout, bins, (counted) => percentileOf(0.5, counted)),
        p95: chartOf(layout, bins, (counted) => percentileOf(0.95, counted)),
        p99: chartOf(layout, bins, (counted) => percentileOf(0.99, counted)),
      },
    };
  });
  return summaries.sort((a, b) => a.service.localeCompare(b.service) || a.route.localeCompare(b.route));
}

/** The latest value of each series in each bin (the last point in it), summed; `null` where none has one. */
function latestChart(members: readonly Series[], layout: Layout): Chart {
  const values: (number | null)[] = new Array(layout.bins).fill(null);
  const last = new Float64Array(layout.bins);
  for (const series of members) {
    last.fill(Number.NaN);
    for (const point of series.points()) {
      const bin = Math.ceil((point.timeMs - layout.startMs) / layout.binMs) - 1;
      if (bin >= 0 && bin < layout.bins) last[bin] = point.values[0];
    }
    for (let bin = 0; bin < layout.bins; bin++) {
      if (!Number.isNaN(last[bin])) values[bin] = (values[bin] ?? 0) + last[bin];
    }
  }
  return { startMs: layout.startMs, binMs: layout.binMs, values };
}

/** The latest value of the series, summed; `null` when they have none. */
function latestOf(members: readonly Series[]): number | null {
  let total: number | null = null;
  for (const series of members) {
    const point = series.latest();
    if (point !== undefined) total = (total ?? 0) + point.values[0];
  }
  return total;
}

/** Every metric of every service, summed over its series, sorted by service and name. */
export function metricSummaries(store: MetricStore, options: SummaryOptions = {}): MetricSummary[] {
  const { windowMs = 60_000 } = options;
  const groups = groupBy(
    store.series(),
    (series) => JSON.stringify([series.service, series.name, series.kind]),
  );
  const summaries = [...groups].map(([, members]): MetricSummary => {
    const [first] = members;
    const rate = first.kind === "histogram" || (first.kind === "sum" && first.monotonic);
    const layout = layoutOf(members, options);
    const base = {
      service: first.service,
      name: first.name,
      unit: first.unit,
      kind: first.kind,
      monotonic: first.monotonic,
      series: members.length,
    };
    if (!rate) {
      return {
        ...base,
        measure: "latest",
        value: latestOf(members),
        p95: null,
        chart: latestChart(members, layout),
      };
    }
    const all = members.map(prepare);
    const end = newest(members, options.nowMs);
    const window = inWindow(all, end - windowMs, end);
    return {
      ...base,
      measure: "rate",
      value: rateOf(window),
      p95: first.kind === "histogram" ? percentileOf(0.95, window) : null,
      chart: chartOf(layout, inBins(all, layout), rateOf),
    };
  });
  return summaries.sort((a, b) => a.service.localeCompare(b.service) || a.name.localeCompare(b.name));
}

/** One service's server traffic over all its routes: what the terminal summary prints. */
export interface ServiceSummary {
  /** The service. */
  service: string;
  /** Requests per second. */
  requestRate: number | null;
  /** Failed requests per second. */
  errorRate: number | null;
  /** The 95th percentile of the request duration, in `unit`. */
  p95: number | null;
  /** The duration's unit. */
  unit: string;
}

/** Each service's server traffic over all its routes (client traffic for a service that serves none). */
export function serviceSummaries(
  store: MetricStore,
  { windowMs = 60_000, nowMs }: SummaryOptions = {},
): ServiceSummary[] {
  const http = store.series().filter((series) =>
    series.kind === "histogram" && Object.hasOwn(HTTP_DURATIONS, series.name)
  );
  const byService = groupBy(http, (series) => series.service);
  return [...byService].sort(([a], [b]) => a.localeCompare(b)).map(([service, members]) => {
    const servers = members.filter((series) => series.name === "http.server.request.duration");
    const chosen = servers.length > 0 ? servers : members;
    const side = servers.length > 0 ? "server" : "client";
    const end = newest(chosen, nowMs);
    const window = inWindow(chosen.map(prepare), end - windowMs, end);
    return {
      service,
      requestRate: rateOf(window),
      errorRate: errorRateOf(window, side),
      p95: percentileOf(0.95, window),
      unit: chosen[0].unit,
    };
  });
}
