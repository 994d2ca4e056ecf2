/**
 * What the scale check makes of Tempo's answers: traces classified by kind as whole, absent or partial, the
 * binomial bounds for the kept share, the spread of span arrivals, and the report it prints.
 *
 * @module
 */
import type { CallKind, LoadResult } from "./load.ts";

/** The spans of one call's trace: client `call-api` and `GET`, server `GET /…` and `process-request`. */
export const SPANS_PER_TRACE = 4;

/** How many traces of one kind Tempo holds whole, and how many not at all. */
export interface KindCount {
  /** Traces of this kind the run made. */
  total: number;
  /** Those Tempo holds with all four spans. */
  whole: number;
  /** Those Tempo does not know. */
  absent: number;
}

/** The traces of a run by kind; `partial` lists those Tempo holds with fewer than four spans. */
export type Classified = Record<CallKind, KindCount> & { partial: string[] };

/**
 * Classifies each trace of `load` by the span count Tempo has for it (`counts`). Normal calls that were
 * slow themselves (`load.slowNormal`) are left out of `normal`: the latency policy keeps them.
 */
export function classifyTraces(load: LoadResult, counts: Map<string, number>): Classified {
  const slowNormal = new Set(load.slowNormal);
  const result: Classified = {
    error: { total: 0, whole: 0, absent: 0 },
    slow: { total: 0, whole: 0, absent: 0 },
    normal: { total: 0, whole: 0, absent: 0 },
    partial: [],
  };
  for (const kind of ["error", "slow", "normal"] as const) {
    for (const id of load.traces[kind]) {
      if (kind === "normal" && slowNormal.has(id)) continue;
      const spans = counts.get(id) ?? 0;
      result[kind].total++;
      if (spans === SPANS_PER_TRACE) result[kind].whole++;
      else if (spans === 0) result[kind].absent++;
      else result.partial.push(`${id} (${spans} spans)`);
    }
  }
  return result;
}

/**
 * The range a binomial count of `n` trials at probability `p` falls in except with a chance of about 1 in
 * 10,000 (normal approximation, 3.9 standard deviations each side), widened to whole numbers.
 */
export function binomialBounds(n: number, p: number): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [Math.max(0, Math.floor(n * p - 3.9 * sd)), Math.min(n, Math.ceil(n * p + 3.9 * sd))];
}

/** Spread of arrival times (ms) of each trace's spans, over the traces of `ids` that arrived. */
export function arrivalSpreads(
  arrivals: Map<string, { first: number; last: number }>,
  ids: string[],
): number[] {
  return ids.flatMap((id) => {
    const seen = arrivals.get(id);
    return seen === undefined ? [] : [seen.last - seen.first];
  }).sort((a, b) => a - b);
}

/** What the gateways sent to Tempo of the run's traces, against what Tempo holds of them. */
export interface TempoTally {
  /** Spans of the run's traces the gateways' samplers sent to Tempo (each span id once). */
  sent: number;
  /** Spans of the run's traces Tempo holds. */
  held: number;
  /** The traces whose counts differ, as `<trace id> (sent <n>, Tempo <m>)`. */
  differ: string[];
}

/**
 * Compares, trace by trace, the spans the gateways sent to Tempo (`sent`, from the check's tap beside
 * Tempo's exporter) with those Tempo holds (`held`), over the run's trace ids alone: spans of other traces,
 * such as those of another program exporting to the agent's port, neither add nor hide a loss.
 */
export function tallyTempo(
  ids: Iterable<string>,
  sent: ReadonlyMap<string, number>,
  held: ReadonlyMap<string, number>,
): TempoTally {
  const tally: TempoTally = { sent: 0, held: 0, differ: [] };
  for (const id of new Set(ids)) {
    const s = sent.get(id) ?? 0;
    const h = held.get(id) ?? 0;
    tally.sent += s;
    tally.held += h;
    if (s !== h) tally.differ.push(`${id} (sent ${s}, Tempo ${h})`);
  }
  return tally;
}

/** A trace as the check's taps hold it: its id and the service of each span. */
export interface TappedTrace {
  /** The trace id. */
  traceId: string;
  /** Its spans (each span id once). */
  spans: readonly { service: string }[];
}

/** The traces the gateways received that the run did not make, and those of them they sent to Tempo. */
export interface Others {
  /** Traces received. */
  traces: number;
  /** Their spans. */
  spans: number;
  /** The services that sent them, sorted. */
  services: string[];
  /** Traces sent to Tempo. */
  keptTraces: number;
  /** Their spans. */
  keptSpans: number;
}

/**
 * The traces outside the run (ids not in `runIds`) among those the gateways `received` (before sampling) and
 * `kept` (sent to Tempo). A trace held for its log records alone is not counted.
 */
export function othersThan(
  runIds: ReadonlySet<string>,
  received: Iterable<TappedTrace>,
  kept: Iterable<TappedTrace>,
): Others {
  const others: Others = { traces: 0, spans: 0, services: [], keptTraces: 0, keptSpans: 0 };
  const services = new Set<string>();
  for (const trace of received) {
    if (runIds.has(trace.traceId) || trace.spans.length === 0) continue;
    others.traces++;
    others.spans += trace.spans.length;
    for (const span of trace.spans) services.add(span.service);
  }
  for (const trace of kept) {
    if (runIds.has(trace.traceId) || trace.spans.length === 0) continue;
    others.keptTraces++;
    others.keptSpans += trace.spans.length;
  }
  others.services = [...services].sort();
  return others;
}

/**
 * How many traces outside the run (ids not in `runIds`) first arrived at or after `since` (as
 * `performance.now()`): those the gateways may still hold undecided once every trace of the run is decided.
 */
export function othersArrivedSince(
  arrivals: ReadonlyMap<string, { first: number }>,
  runIds: ReadonlySet<string>,
  since: number,
): number {
  let count = 0;
  for (const [id, { first }] of arrivals) if (!runIds.has(id) && first >= since) count++;
  return count;
}

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration as the Collector's configs take it (`12s`, `500ms`, `1m30s`) in milliseconds. */
export function durationMs(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((m) => m[0]).join("") !== text) {
    throw new RangeError(`not a duration such as 12s or 500ms: ${JSON.stringify(text)}`);
  }
  return parts.reduce((sum, m) => sum + Number(m[1]) * DURATION_UNITS_MS[m[2]], 0);
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** What one gateway did, from its own metrics, sampled every second during the run. */
export interface GatewayStats {
  /** The gateway's name (`gateway-1`, `gateway-2`). */
  name: string;
  /** Spans its OTLP receiver accepted. */
  acceptedSpans: number;
  /** Its largest resident memory, MiB. */
  peakRssMiB: number;
  /** The most spans it accepted in one second. */
  peakSpansPerS: number;
  /** Traces its tail sampling kept. */
  tracesSampled: number;
  /** Traces its tail sampling dropped. */
  tracesNotSampled: number;
  /** Spans that arrived after their trace's decision (they follow it, through the decision cache). */
  lateSpans: number;
}

/** What {@linkcode summarize} reports. */
export interface Report {
  /** The settings of the run. */
  options: {
    calls: number;
    percent: number;
    decisionWait: string;
    decisionCache: number;
    killGateway: boolean;
  };
  /** How long the client load took, in seconds. */
  loadS: number;
  /** Tempo's traces by kind. */
  classified: Classified;
  /** Arrival spreads at the gateways, ms, sorted. */
  spreads: number[];
  /** Each gateway's own metrics. */
  gateways: GatewayStats[];
  /** The run's traces: spans the gateways sent to Tempo, and those Tempo holds. */
  tempo: TempoTally;
  /** Spans the gateways sent to Tempo in all, by their own metric (`otelcol_exporter_sent_spans`). */
  sentToTempo: number;
  /** Traces the gateways received from outside the run. */
  others: Others;
  /** Calls whose outcome was not the planned one. */
  unexpected: string[];
}

function othersText(o: Others): string {
  if (o.traces === 0) return "nothing";
  return `${o.traces} traces of ${o.spans} spans (services ${o.services.join(", ")}), ` +
    `${o.keptTraces} of them (${o.keptSpans} spans) kept`;
}

/** The report as text lines. */
export function summarize(r: Report): string {
  const c = r.classified;
  const line = (kind: CallKind) =>
    `  ${kind.padEnd(6)} ${c[kind].total} traces: ${c[kind].whole} whole, ${c[kind].absent} absent`;
  const s = r.spreads;
  return [
    `${r.options.calls} calls in ${r.loadS.toFixed(1)} s, decision_wait ${r.options.decisionWait}, ` +
    `decision caches ${r.options.decisionCache || "off"}, ` +
    `${r.options.percent} % of the rest${r.options.killGateway ? ", gateway-2 killed mid-run" : ""}`,
    line("error"),
    line("slow"),
    line("normal") + ` (kept ${(100 * c.normal.whole / Math.max(1, c.normal.total)).toFixed(2)} %)`,
    `  partial: ${c.partial.length}${c.partial.length ? ` (e.g. ${c.partial.slice(0, 3).join(", ")})` : ""}`,
    `  spans of the run's traces sent to Tempo by the gateways: ${r.tempo.sent}, found in Tempo: ${r.tempo.held}` +
    (r.tempo.differ.length ? ` (differ: ${r.tempo.differ.slice(0, 3).join(", ")})` : ""),
    `  spans sent to Tempo in all (the gateways' metric): ${r.sentToTempo}; from outside the run: ` +
    othersText(r.others),
    `  arrival spread of a trace's spans at its gateway (ms): p50 ${quantile(s, 0.5).toFixed(0)}, ` +
    `p99 ${quantile(s, 0.99).toFixed(0)}, max ${(s.at(-1) ?? NaN).toFixed(0)} (${s.length} traces)`,
    ...r.gateways.map((g) =>
      `  ${g.name}: ${g.acceptedSpans} spans received (peak ${g.peakSpansPerS.toFixed(0)} spans/s), ` +
      `peak RSS ${
        g.peakRssMiB.toFixed(0)
      } MiB, traces kept ${g.tracesSampled}, dropped ${g.tracesNotSampled}, ` +
      `spans after their trace's decision ${g.lateSpans}`
    ),
    ...(r.unexpected.length ? [`  unexpected outcomes: ${r.unexpected.length} (${r.unexpected[0]})`] : []),
  ].join("\n");
}
