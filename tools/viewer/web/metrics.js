/**
 * The Metrics view: per service and route, the request rate, error rate and p50 / p95 / p99 latency of
 * Deno's HTTP metrics, each with a small live chart; below, every metric each service sends, with its rate
 * or latest value. Read from `/api/metrics` every two seconds while the view is shown.
 *
 * @module
 */
import { sparkline } from "./chart.js";
import { $, el, getJson, serial } from "./dom.js";
import { pollWhileShown } from "./views.js";

/**
 * @typedef {{ startMs: number, binMs: number, values: (number | null)[] }} Chart
 *
 * @typedef {object} HttpSummary
 * @property {string} service
 * @property {"server" | "client"} side
 * @property {string} route
 * @property {number | null} requestRate
 * @property {number | null} errorRate
 * @property {number | null} errorRatio
 * @property {number | null} p50
 * @property {number | null} p95
 * @property {number | null} p99
 * @property {string} unit
 * @property {Chart} rateChart
 * @property {Chart} errorChart
 * @property {{ p50: Chart, p95: Chart, p99: Chart }} latencyCharts
 *
 * @typedef {object} MetricSummary
 * @property {string} service
 * @property {string} name
 * @property {string} unit
 * @property {string} kind
 * @property {boolean} monotonic
 * @property {number} series
 * @property {"rate" | "latest"} measure
 * @property {number | null} value
 * @property {number | null} p95
 * @property {Chart} chart
 *
 * @typedef {object} MetricsAnswer
 * @property {number} windowSeconds
 * @property {HttpSummary[]} http
 * @property {MetricSummary[]} metrics
 * @property {number} series
 * @property {number} requests
 * @property {{ maxSeries: number }} limits
 * @property {Record<string, number>} dropped
 */

const POLL_MS = 2000;

/**
 * A number in a few significant digits, or "–" for none.
 *
 * @param {number | null} value
 * @param {string} [suffix]
 */
function num(value, suffix = "") {
  if (value === null || !Number.isFinite(value)) return "–";
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US") + suffix;
  return value.toFixed(Math.abs(value) >= 10 ? 1 : 2) + suffix;
}

/**
 * A duration in the metric's unit (Deno: seconds) as milliseconds or seconds.
 *
 * @param {number | null} value
 * @param {string} unit
 */
function latency(value, unit) {
  if (value === null || !Number.isFinite(value)) return "–";
  // Deno names the unit of v8js.gc.duration "S": seconds, as for the others.
  const scale = { s: 1000, ms: 1, us: 0.001, ns: 1e-6 }[unit.toLowerCase()];
  if (scale === undefined) return num(value, " " + unit);
  const millis = value * scale;
  return millis >= 1000 ? num(millis / 1000, " s") : num(millis, " ms");
}

/**
 * A table cell holding a value and a chart.
 *
 * @param {string} text
 * @param {SVGSVGElement} chart
 * @param {string} className
 */
function chartCell(text, chart, className) {
  const cell = el("td", "with-chart " + className);
  cell.append(el("span", "value", text), chart);
  return cell;
}

/** @param {HttpSummary} row */
function httpRow(row) {
  const tr = el("tr");
  tr.dataset.service = row.service;
  tr.dataset.route = row.route;
  const errors = row.errorRate === null
    ? "–"
    : num(row.errorRate, "/s") + " (" + num((row.errorRatio ?? 0) * 100, "%") + ")";
  const latencies = [row.p50, row.p95, row.p99].map((value) => latency(value, row.unit)).join(" / ");
  const { p50, p95, p99 } = row.latencyCharts;
  tr.append(
    el("td", "svc", row.service),
    el("td", "side", row.side),
    el("td", "route", row.route),
    chartCell(
      num(row.requestRate, "/s"),
      sparkline([{ values: row.rateChart.values, className: "line rate" }], "requests per second"),
      "rate",
    ),
    chartCell(
      errors,
      sparkline([{ values: row.errorChart.values, className: "line errors" }], "errors per second"),
      "errors",
    ),
    chartCell(
      latencies,
      sparkline([
        { values: p50.values, className: "line p50" },
        { values: p95.values, className: "line p95" },
        { values: p99.values, className: "line p99" },
      ], "p50, p95 and p99 latency"),
      "latency",
    ),
  );
  return tr;
}

/** @param {MetricSummary} row */
function metricRow(row) {
  const tr = el("tr");
  tr.dataset.service = row.service;
  tr.dataset.metric = row.name;
  const kind = row.kind === "sum" ? (row.monotonic ? "counter" : "up-down sum") : row.kind;
  const value = row.measure === "rate" ? num(row.value, "/s") : num(row.value);
  const p95 = row.p95 === null ? "" : " · p95 " + latency(row.p95, row.unit);
  tr.append(
    el("td", "svc", row.service),
    el("td", "name", row.name),
    el("td", "kind", kind),
    el("td", "unit", row.unit),
    el("td", "num", row.series),
    chartCell(
      value + p95,
      sparkline(
        [{ values: row.chart.values, className: "line rate" }],
        row.measure === "rate" ? "per second" : "latest value",
      ),
      "value",
    ),
  );
  return tr;
}

/** @param {MetricsAnswer} answer */
function render(answer) {
  $("http-rows").replaceChildren(...answer.http.map(httpRow));
  $("metric-rows").replaceChildren(...answer.metrics.map(metricRow));
  $("no-http").hidden = answer.http.length > 0;
  $("no-metrics").hidden = answer.metrics.length > 0;
  $("window-note").textContent = "over the last " + answer.windowSeconds + " s of each sender's points";
  const dropped = Object.entries(answer.dropped).filter(([, n]) => n > 0).map(([what, n]) => what + " " + n);
  $("metrics-facts").textContent = answer.series + " series held (at most " + answer.limits.maxSeries +
    "), from " +
    answer.requests + " exports" + (dropped.length > 0 ? "; turned away: " + dropped.join(", ") : "");
}

const refresh = serial(async () => render(await getJson("/api/metrics")));

pollWhileShown("metrics", refresh, POLL_MS);
