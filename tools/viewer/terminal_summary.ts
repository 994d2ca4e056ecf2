/**
 * The viewer's terminal summary: every N seconds (`deno task viewer --summary-every=N`), one line per
 * service with its request rate, error rate and p95 latency over the last minute of its HTTP metrics.
 *
 * ```text
 * [metrics] server  12.4 req/s  errors 0.50/s (4.0%)  p95 23.1 ms
 * ```
 *
 * @module
 */
import type { MetricStore } from "@example/otlp/metric_store";
import { serviceSummaries, type ServiceSummary, type SummaryOptions } from "./metrics_summary.ts";
import { cut, padEnd } from "@example/otlp/terminal_text";

/** How wide the service column is at most, in terminal columns. */
const SERVICE_COLUMNS = 24;

function rate(value: number | null): string {
  return value === null ? "–" : value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2);
}

function duration(value: number | null, unit: string): string {
  if (value === null) return "–";
  const scale = ({ s: 1000, ms: 1, us: 0.001, ns: 1e-6 } as Record<string, number>)[unit.toLowerCase()];
  if (scale === undefined) return `${rate(value)} ${cut(unit, 8)}`;
  const millis = value * scale;
  return millis >= 1000 ? `${rate(millis / 1000)} s` : `${rate(millis)} ms`;
}

/** One service's line: its name made safe to print (controls shown as `<U+XXXX>`, cut to a column). */
export function summaryLine(summary: ServiceSummary): string {
  const { requestRate, errorRate } = summary;
  const share = requestRate && errorRate !== null
    ? ` (${((errorRate / requestRate) * 100).toFixed(1)}%)`
    : "";
  return `[metrics] ${padEnd(cut(summary.service, SERVICE_COLUMNS), SERVICE_COLUMNS)} ` +
    `${rate(requestRate)} req/s  errors ${rate(errorRate)}/s${share}  p95 ${
      duration(summary.p95, summary.unit)
    }`;
}

/** The lines of every service with HTTP metrics, or one line saying there are none yet. */
export function summaryLines(store: MetricStore, options: SummaryOptions = {}): string[] {
  const summaries = serviceSummaries(store, options);
  if (summaries.length === 0) {
    return [
      "[metrics] no HTTP metrics yet (Deno exports every OTEL_METRIC_EXPORT_INTERVAL ms, 60000 by default)",
    ];
  }
  return summaries.map(summaryLine);
}

/** Prints {@linkcode summaryLines} every `everyMs` with `print`; returns a function that stops it. */
export function printSummaries(
  store: MetricStore,
  everyMs: number,
  print: (line: string) => void = console.log,
): () => void {
  const timer = setInterval(() => {
    for (const line of summaryLines(store)) print(line);
  }, everyMs);
  return () => clearInterval(timer);
}
