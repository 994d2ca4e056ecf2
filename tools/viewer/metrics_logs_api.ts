/**
 * The web view's answers about metrics and log records: `GET /api/metrics` (per service and route, the
 * request rate, error rate and latency percentiles with their charts, and every metric's rate or latest
 * value) and `GET /api/logs` (every log record, newest first, filtered). `web.ts` serves them.
 *
 * @module
 */
import type { TelemetryStore } from "@example/otlp/receiver";
import { listLogs, logFilterOf } from "./logs_query.ts";
import { httpSummaries, metricSummaries } from "./metrics_summary.ts";
import { boundedJson, stringify } from "./web_answers.ts";

/** An answer of the JSON API: its status and its JSON, at most the bound asked for. */
export interface ApiAnswer {
  /** The HTTP status. */
  status: number;
  /** The JSON text to send. */
  json: string;
}

/** The longest window `/api/metrics?window=` takes, in seconds. */
const MAX_WINDOW_S = 3600;

/**
 * The answer to `path` if it is `/api/metrics` or `/api/logs`, else `undefined`, each at most `maxChars`
 * characters of JSON (records past that left out, and `truncated` saying so).
 */
export async function signalsAnswer(
  path: string,
  params: URLSearchParams,
  store: TelemetryStore,
  maxChars: number,
): Promise<ApiAnswer | undefined> {
  if (path === "/api/metrics") return metricsAnswer(params, store, maxChars);
  if (path === "/api/logs") {
    const filter = logFilterOf(params);
    if ("error" in filter) return { status: 400, json: stringify(filter) };
    const { logs, ...counts } = await listLogs(store, filter);
    const { services, ...rest } = counts;
    return { status: 200, json: boundedJson(rest, { services, logs }, maxChars) };
  }
  return undefined;
}

function metricsAnswer(params: URLSearchParams, store: TelemetryStore, maxChars: number): ApiAnswer {
  const raw = params.get("window") ?? "60";
  const seconds = Number(raw);
  if (!/^\d+$/.test(raw) || seconds < 1 || seconds > MAX_WINDOW_S) {
    return {
      status: 400,
      json: stringify({
        error: `window takes whole seconds from 1 to ${MAX_WINDOW_S}, got ${JSON.stringify(raw)}`,
      }),
    };
  }
  const options = { windowMs: seconds * 1000, chartMs: Math.max(300, seconds * 5) * 1000, bins: 30 };
  const metrics = store.metrics;
  const fields = {
    windowSeconds: seconds,
    series: metrics.seriesCount,
    requests: metrics.requests,
    bytes: metrics.bytes,
    limits: metrics.limits,
    dropped: metrics.dropped,
  };
  const lists = { http: httpSummaries(metrics, options), metrics: metricSummaries(metrics, options) };
  return { status: 200, json: boundedJson(fields, lists, maxChars) };
}
