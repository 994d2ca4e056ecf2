/**
 * The scale check: an agent Collector routing traces by trace id to two gateway Collectors with tail
 * sampling, which export to Tempo; three servers (two fast, one of them under `deno serve --parallel` with two
 * workers, and one slow) and a client load of a few
 * thousand calls, a known share of them to `/error` and to the slow server. Tempo must then hold every error
 * and every slow trace whole (all four spans), a share of the other traces within the binomial bounds of
 * the configured percentage, and no partial trace; both gateways must have taken part (their own metrics).
 * Tempo must hold, trace by trace, every span of the run's traces the gateways sent it, as a tap beside
 * Tempo's exporter counts them: other programs on the machine that export to the agent's port (the default
 * OTLP/HTTP one) add traces of their own, which are reported and left out of the count.
 * It also measures, at the gateways, how far apart the spans of one trace arrive.
 *
 * Tempo must already run (tools/stack/scale/run_scale.sh starts it); the Collectors are started here, on fixed
 * loopback ports (agent OTLP 4317/4318, health 13133, metrics 8888; gateways 14417/14418, health
 * 13134/13135, metrics 8889/8890), so run it in a network namespace of its own.
 *
 * ```sh
 * OTELCOL_SCALE_BIN=~/.cache/deno-example/otelcol-scale-0.161.0/otelcol deno run … tools/stack/scale/check_scale.ts
 * ```
 *
 * `--kill-gateway` kills gateway-2 (SIGKILL) `--kill-after-s` into the load and restarts it `--down-s`
 * later, then reports what was lost instead of asserting that nothing was.
 *
 * @module
 */
import { flagsOrExit } from "@example/harness/flags";
import { startServer, taskEnvFiles } from "@example/harness/processes";
import { runDeno } from "@example/harness/processes";
import { startReceiver, TelemetryStore } from "@example/otlp/receiver";
import { CheckError } from "../stack_http.ts";
import { flattenTrace, type TempoTraceResponse } from "../tempo_trace.ts";
import { startParallelServer } from "./parallel.ts";
import { type Collector, metricSum, readMetrics, startCollector } from "./collectors.ts";
import { type LoadResult, TRAFFIC_FLAGS } from "./load.ts";
import {
  arrivalSpreads,
  binomialBounds,
  type Classified,
  classifyTraces,
  durationMs,
  type GatewayStats,
  othersArrivedSince,
  othersThan,
  summarize,
  tallyTempo,
  type TempoTally,
} from "./sampling_report.ts";

/** The check's settings (command-line flags). */
export interface ScaleOptions {
  /** Calls the client load makes. */
  calls: number;
  /** Client loops calling at once. */
  concurrency: number;
  /** The share of calls to `/error`. */
  errorShare: number;
  /** The share of calls to the slow server. */
  slowShare: number;
  /** The probabilistic policy's percentage. */
  percent: number;
  /** The latency policy's threshold, ms. */
  slowMs: number;
  /** The gateways' `decision_wait` (`12s`). */
  decisionWait: string;
  /** The size of each decision cache (0: off). */
  decisionCache: number;
  /** Kill gateway-2 mid-run and measure what is lost, instead of checking that nothing is. */
  killGateway: boolean;
  /** Seconds into the load at which gateway-2 is killed. */
  killAfterS: number;
  /** Seconds gateway-2 stays down. */
  downS: number;
}

/** The gateways' exporter to Tempo (the others, in the check only, are the taps of testdata/tap.yaml). */
const TO_TEMPO = { exporter: "otlp_grpc/tempo" };

/** The check's receivers: every span the gateways receive, and every span they send to Tempo. */
interface Taps {
  /** Where the gateways send what they receive, before sampling. */
  received: string;
  /** Where they send what their samplers send to Tempo, beside Tempo's exporter. */
  sampled: string;
}

const AGENT = { grpc: "127.0.0.1:4317", http: "127.0.0.1:4318", health: "127.0.0.1:13133", metrics: 8888 };
const GATEWAYS = [
  { name: "gateway-1", grpc: "127.0.0.1:14417", health: "127.0.0.1:13134", metrics: 8889 },
  { name: "gateway-2", grpc: "127.0.0.1:14418", health: "127.0.0.1:13135", metrics: 8890 },
];

function gatewayConfig(binary: string, gateway: typeof GATEWAYS[number], taps: Taps, o: ScaleOptions) {
  return {
    name: gateway.name,
    binary,
    configs: ["tools/stack/scale/gateway.yaml", "tools/stack/scale/testdata/tap.yaml"],
    health: gateway.health,
    metrics: `127.0.0.1:${gateway.metrics}`,
    env: {
      GATEWAY_NAME: gateway.name,
      OTELCOL_OTLP_GRPC_ENDPOINT: gateway.grpc,
      OTELCOL_HEALTH_ENDPOINT: gateway.health,
      OTELCOL_METRICS_HOST: "127.0.0.1",
      OTELCOL_METRICS_PORT: String(gateway.metrics),
      TEMPO_OTLP_GRPC_ENDPOINT: Deno.env.get("TEMPO_OTLP_GRPC_ENDPOINT") ?? "127.0.0.1:14317",
      TAIL_DECISION_WAIT: o.decisionWait,
      TAIL_DECISION_CACHE_SIZE: String(o.decisionCache),
      TAIL_SAMPLING_PERCENT: String(o.percent),
      TAIL_SLOW_MS: String(o.slowMs),
      TAP_ENDPOINT: taps.received,
      TAP_SAMPLED_ENDPOINT: taps.sampled,
    },
  };
}

function agentConfig(binary: string, tap: string) {
  return {
    name: "agent",
    binary,
    configs: ["tools/stack/scale/agent.yaml"],
    health: AGENT.health,
    metrics: `127.0.0.1:${AGENT.metrics}`,
    env: {
      OTELCOL_OTLP_GRPC_ENDPOINT: AGENT.grpc,
      OTELCOL_OTLP_HTTP_ENDPOINT: AGENT.http,
      OTELCOL_HEALTH_ENDPOINT: AGENT.health,
      OTELCOL_METRICS_HOST: "127.0.0.1",
      OTELCOL_METRICS_PORT: String(AGENT.metrics),
      GATEWAY_1_ENDPOINT: GATEWAYS[0].grpc,
      GATEWAY_2_ENDPOINT: GATEWAYS[1].grpc,
      // Logs and metrics keep their own path; here the check's receiver stands in for Loki and Prometheus.
      LOKI_OTLP_ENDPOINT: tap,
      PROMETHEUS_OTLP_ENDPOINT: tap,
    },
  };
}

/** Samples the gateways' metrics every second until `done` settles; keeps peaks. */
async function watchGateways(
  gateways: Collector[],
  done: Promise<unknown>,
): Promise<Map<string, GatewayStats>> {
  const stats = new Map<string, GatewayStats>();
  const last = new Map<string, { spans: number; at: number }>();
  let finished = false;
  done.finally(() => finished = true);
  while (!finished) {
    for (const gateway of gateways) {
      const text = await readMetrics(gateway).catch(() => undefined); // a killed gateway does not answer
      if (text === undefined) continue;
      const spans = metricSum(text, "otelcol_receiver_accepted_spans");
      const rss = metricSum(text, "otelcol_process_memory_rss") / 2 ** 20;
      const entry = stats.get(gateway.name) ?? { ...emptyStats(gateway.name) };
      const before = last.get(gateway.name);
      const now = performance.now();
      if (before && spans >= before.spans) {
        entry.peakSpansPerS = Math.max(
          entry.peakSpansPerS,
          (spans - before.spans) / ((now - before.at) / 1000),
        );
      }
      last.set(gateway.name, { spans, at: now });
      entry.peakRssMiB = Math.max(entry.peakRssMiB, rss);
      stats.set(gateway.name, entry);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return stats;
}

function emptyStats(name: string): GatewayStats {
  return {
    name,
    acceptedSpans: 0,
    peakRssMiB: 0,
    peakSpansPerS: 0,
    tracesSampled: 0,
    tracesNotSampled: 0,
    lateSpans: 0,
  };
}

/** Runs the client load through the agent; resolves with the trace ids by kind. */
async function runClientLoad(urls: { fast: string[]; slow: string }, o: ScaleOptions): Promise<LoadResult> {
  const result = await runDeno("tools/stack/scale/load.ts", {
    // The client task's own defaults (its env file: Deno's default 5 s batch delay), not the harness's.
    permissions: [...taskEnvFiles("client"), "--allow-net=127.0.0.1"],
    args: [
      `--fast=${urls.fast.join(",")}`,
      `--slow=${urls.slow}`,
      `--calls=${o.calls}`,
      `--concurrency=${o.concurrency}`,
      `--error-share=${o.errorShare}`,
      `--slow-share=${o.slowShare}`,
      `--slow-ms=${o.slowMs}`,
    ],
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://${AGENT.http}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    },
    timeoutMs: 600_000,
  });
  if (result.code !== 0) throw new CheckError(`the client load failed (${result.code}):\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split("\n").at(-1)!);
}

/** The run as {@linkcode waitForDecisions} watches it at the taps. */
interface RunAtTaps {
  /** The run's trace ids. */
  ids: ReadonlySet<string>;
  /** When the spans of each trace (the run's and others) first and last reached the received tap. */
  arrivals: ReadonlyMap<string, { first: number; last: number }>;
  /** What the gateways sent to Tempo, by trace. */
  sampled: TelemetryStore;
  /** The gateways' `decision_wait`, ms. */
  decisionWaitMs: number;
}

/** The spans of each of `ids` that the gateways sent to Tempo (the sampled tap's count, each span id once). */
function sentByTrace(sampled: TelemetryStore, ids: Iterable<string>): Map<string, number> {
  return new Map([...ids].map((id) => [id, sampled.trace(id)?.spans.length ?? 0]));
}

/**
 * Waits until the gateways have decided every trace of the run and sent on what they kept: the run's last
 * span a `decision_wait` (and the sampler's tick and batch) behind, no trace held but others still within
 * theirs, nothing queued, and the run's spans sent to Tempo no longer moving. Another program may go on
 * exporting to the agent's port meanwhile, so the gateways need not become empty.
 */
async function waitForDecisions(gateways: Collector[], run: RunAtTaps, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let previous = -1;
  while (Date.now() < deadline) {
    const texts = await Promise.all(gateways.map(readMetrics));
    const held = texts.reduce(
      (n, t) => n + metricSum(t, "otelcol_processor_tail_sampling_sampling_traces_on_memory"),
      0,
    );
    const queued = texts.reduce((n, t) => n + metricSum(t, "otelcol_exporter_queue_size"), 0);
    const young = performance.now() - run.decisionWaitMs - 2000;
    const lastOfRun = Math.max(...[...run.ids].map((id) => run.arrivals.get(id)?.last ?? -Infinity));
    const undecidedOthers = othersArrivedSince(run.arrivals, run.ids, young);
    let sent = 0;
    for (const count of sentByTrace(run.sampled, run.ids).values()) sent += count;
    if (lastOfRun < young && held <= undecidedOthers && queued === 0 && sent === previous) return;
    previous = sent;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  throw new CheckError(`the gateways still hold undecided traces after ${timeoutMs / 1000} s`);
}

/** The number of spans Tempo holds for each trace id (0 when it does not know it). */
async function spansInTempo(tempoUrl: string, traceIds: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < traceIds.length) {
      const id = traceIds[next++];
      const res = await fetch(`${tempoUrl}/api/v2/traces/${id}`, { signal: AbortSignal.timeout(10_000) });
      if (res.status === 404) {
        await res.body?.cancel();
        counts.set(id, 0);
      } else if (res.ok) {
        counts.set(id, flattenTrace(await res.json() as TempoTraceResponse).length);
      } else {
        throw new CheckError(`Tempo answered ${res.status} for trace ${id}: ${(await res.text()).trim()}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return counts;
}

/** Polls Tempo until it holds `sent` spans of these traces (Tempo makes what it ingests searchable late). */
async function settledInTempo(tempoUrl: string, ids: string[], sent: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await spansInTempo(tempoUrl, ids);
    const held = [...counts.values()].reduce((a, b) => a + b, 0);
    if (held >= sent || Date.now() > deadline) return { counts, held };
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

/** Runs the check (or, with `killGateway`, the measurement); prints its report and returns it. */
export async function checkScale(binary: string, tempoUrl: string, o: ScaleOptions): Promise<Classified> {
  const store = new TelemetryStore({ maxRecords: 500_000 });
  const arrivals = new Map<string, { first: number; last: number }>();
  store.onChange((traceId) => {
    const now = performance.now();
    const seen = arrivals.get(traceId);
    if (seen === undefined) arrivals.set(traceId, { first: now, last: now });
    else seen.last = now;
  });
  await using tap = startReceiver({ port: 0, store });
  const sampled = new TelemetryStore({ maxRecords: 500_000 });
  await using sampledTap = startReceiver({ port: 0, store: sampled });
  const taps: Taps = { received: tap.url, sampled: sampledTap.url };
  const gateways: Collector[] = [];
  for (const g of GATEWAYS) gateways.push(await startCollector(gatewayConfig(binary, g, taps, o)));
  await using agent = await startCollector(agentConfig(binary, tap.url));
  try {
    const otlp = { otlpEndpoint: `http://${AGENT.http}`, protocol: "http/protobuf" as const };
    // One fast server runs under `deno serve --parallel` with two workers: its traces must join as well.
    const servers: { url: string; stop(): Promise<unknown> }[] = await Promise.all([
      startServer({ ...otlp, workMs: 5, outputReadIntervalMs: 1000 }),
      startParallelServer({ workers: 2, otlpEndpoint: otlp.otlpEndpoint, workMs: 5 }),
      startServer({ ...otlp, workMs: o.slowMs + 500, outputReadIntervalMs: 1000 }),
    ]);
    const started = performance.now();
    const load = runClientLoad({ fast: [servers[0].url, servers[1].url], slow: servers[2].url }, o);
    const watching = watchGateways(gateways, load);
    const restarted = o.killGateway ? killAndRestart(gateways, binary, taps, o) : Promise.resolve();
    const result = await load;
    await restarted; // gateway-2 back up before its share is waited for
    const loadS = (performance.now() - started) / 1000;
    await Promise.all(servers.map((server) => server.stop()));
    const ids = [...result.traces.error, ...result.traces.slow, ...result.traces.normal];
    const runIds = new Set(ids);
    const decisionWaitMs = durationMs(o.decisionWait);
    await waitForDecisions(gateways, { ids: runIds, arrivals, sampled, decisionWaitMs }, 180_000);
    const stats = await watching;
    let sentToTempo = 0;
    for (const gateway of gateways) {
      const text = await readMetrics(gateway);
      sentToTempo += metricSum(text, "otelcol_exporter_sent_spans", TO_TEMPO);
      const entry = stats.get(gateway.name) ?? emptyStats(gateway.name);
      entry.acceptedSpans = metricSum(text, "otelcol_receiver_accepted_spans");
      entry.tracesSampled = metricSum(
        text,
        "otelcol_processor_tail_sampling_global_count_traces_sampled",
        {
          sampled: "true",
        },
      );
      entry.tracesNotSampled = metricSum(
        text,
        "otelcol_processor_tail_sampling_global_count_traces_sampled",
        { sampled: "false" },
      );
      entry.lateSpans = metricSum(text, "otelcol_processor_tail_sampling_sampling_late_span_age_count") +
        metricSum(text, "otelcol_processor_tail_sampling_early_releases_from_cache_decision");
      stats.set(gateway.name, entry);
    }
    const sent = sentByTrace(sampled, ids);
    const sentSpans = [...sent.values()].reduce((a, b) => a + b, 0);
    const { counts } = await settledInTempo(tempoUrl, ids, sentSpans, o.killGateway ? 30_000 : 120_000);
    const tempo = tallyTempo(ids, sent, counts);
    const classified = classifyTraces(result, counts);
    const spreads = arrivalSpreads(arrivals, ids);
    console.log(summarize({
      options: o,
      loadS,
      classified,
      spreads,
      gateways: [...stats.values()],
      tempo,
      sentToTempo,
      others: othersThan(runIds, store.traces(), sampled.traces()),
      unexpected: result.unexpected,
    }));
    const agentText = await readMetrics(agent);
    // What the agent's exporter got through, and what it gave up on (queue full, retries exhausted).
    const spanLines = agentText.split("\n").filter((line) =>
      /^otelcol_exporter_(sent|send_failed|enqueue_failed)_spans\{/.test(line)
    );
    console.log(
      `  agent: ${spanLines.map((line) => line.replace(/,?service_[a-z_]+="[^"]*"/g, "")).join("; ")}`,
    );
    if (!o.killGateway) {
      assertVerdict(classified, [...stats.values()], o, { unexpected: result.unexpected, tempo });
    }
    return classified;
  } finally {
    for (const gateway of gateways) await gateway.stop();
  }
}

/** Kills gateway-2 `killAfterS` into the load and starts it again `downS` later. */
async function killAndRestart(gateways: Collector[], binary: string, taps: Taps, o: ScaleOptions) {
  await new Promise((resolve) => setTimeout(resolve, o.killAfterS * 1000));
  await gateways[1].kill();
  console.error(`killed gateway-2 (SIGKILL) ${o.killAfterS} s into the load`);
  await new Promise((resolve) => setTimeout(resolve, o.downS * 1000));
  gateways[1] = await startCollector(gatewayConfig(binary, GATEWAYS[1], taps, o));
  console.error(`restarted gateway-2 after ${o.downS} s`);
}

function assertVerdict(
  c: Classified,
  stats: GatewayStats[],
  o: ScaleOptions,
  { unexpected, tempo }: { unexpected: string[]; tempo: TempoTally },
) {
  const failures: string[] = [];
  if (unexpected.length > 0) failures.push(`${unexpected.length} calls went otherwise: ${unexpected[0]}`);
  if (c.error.whole !== c.error.total) {
    failures.push(`only ${c.error.whole} of ${c.error.total} error traces whole`);
  }
  if (c.slow.whole !== c.slow.total) {
    failures.push(`only ${c.slow.whole} of ${c.slow.total} slow traces whole`);
  }
  if (tempo.differ.length > 0) {
    failures.push(
      `Tempo holds ${tempo.held} of the ${tempo.sent} spans of the run's traces the gateways sent it; ` +
        `${tempo.differ.length} traces differ, e.g. ${tempo.differ[0]}`,
    );
  }
  if (c.partial.length > 0) failures.push(`${c.partial.length} partial traces, e.g. ${c.partial[0]}`);
  const [low, high] = binomialBounds(c.normal.total, o.percent / 100);
  if (c.normal.whole < low || c.normal.whole > high) {
    failures.push(`${c.normal.whole} of ${c.normal.total} other traces kept, outside [${low}, ${high}]`);
  }
  for (const gateway of stats) {
    if (gateway.acceptedSpans === 0) failures.push(`${gateway.name} received no span`);
  }
  if (failures.length > 0) throw new CheckError(failures.join("; "));
  console.log("ok: every error and slow trace whole, the share of the rest within bounds, no partial trace,");
  console.log("    every span of the run sent to Tempo held there, both gateways took part");
}

/** The flags of `check_scale.ts` (`tools/stack/scale/run_scale.sh` passes its arguments on). */
export const SCALE_FLAGS = {
  ...TRAFFIC_FLAGS,
  percent: {
    type: "number",
    default: 10,
    max: 100,
    fraction: true,
    help: "the gateways' probabilistic share",
  },
  "decision-wait": { type: "string", default: "12s", help: "tail_sampling's decision_wait" },
  "decision-cache": { type: "number", default: 200_000, help: "the decision caches' size (0: off)" },
  "kill-gateway": { type: "boolean", help: "kill gateway-2 mid-run and restart it" },
  "kill-after-s": { type: "number", default: 10, max: 600, help: "seconds into the load before the kill" },
  "down-s": { type: "number", default: 15, max: 600, help: "seconds the gateway stays down" },
} as const;

if (import.meta.main) {
  const values = flagsOrExit("check_scale.ts", SCALE_FLAGS);
  const binary = Deno.env.get("OTELCOL_SCALE_BIN");
  if (!binary) {
    console.error(
      "check_scale.ts: set OTELCOL_SCALE_BIN to the contrib Collector (tools/stack/build.sh otelcol-scale)",
    );
    Deno.exit(2);
  }
  try {
    await checkScale(binary, Deno.env.get("TEMPO_URL") ?? "http://127.0.0.1:3200", {
      calls: values.calls,
      concurrency: values.concurrency,
      errorShare: values["error-share"],
      slowShare: values["slow-share"],
      percent: values.percent,
      slowMs: values["slow-ms"],
      decisionWait: values["decision-wait"],
      decisionCache: values["decision-cache"],
      killGateway: values["kill-gateway"],
      killAfterS: values["kill-after-s"],
      downS: values["down-s"],
    });
  } catch (error) {
    if (!(error instanceof CheckError)) throw error;
    console.error(`FAILED: ${error.message}`);
    Deno.exit(1);
  }
}
