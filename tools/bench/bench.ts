/**
 * `deno task --cwd tools/bench bench`: what tracing costs, measured fairly on a small shared machine. Puts closed-loop load
 * (wrk, from a second process, fixed connections) on the tutorial's server and on the example's `server.ts`,
 * with tracing off and on in several settings, and on the same handler on Node.js with and without the
 * OpenTelemetry SDK: every configuration once per round, in rotated order, for several rounds; the report
 * gives the median and range over the rounds, and takes every ratio within a round. It measures the example
 * client's call path with tracing off and on the same way, finds where spans start to be lost under
 * rate-limited load (vegeta) and which batch settings lose none, and times how long a trace takes to become
 * visible. Writes `results.md`, `results.json` and (with the server table) `chart.svg` to `--out` (default
 * `tools/bench/results`).
 *
 * Exports go to a raw sink (`raw_sink.ts`) in this process, which only stores the bodies during a run; they
 * are decoded and counted after the run, so that decoding takes no CPU from the server under test. The
 * time-to-visible runs use the example's receiver, which keeps the traces.
 *
 * ```sh
 * deno task --cwd tools/bench install         # once: tools/bench/install.sh (npm ci in tools/bench/node, vegeta, wrk)
 * deno task --cwd tools/bench bench                 # the full run, about 15 minutes
 * deno task --cwd tools/bench smoke           # under a minute: proves the harness works, measures nothing worth reading
 * deno task --cwd tools/bench bench --rounds=3 --sections=servers --cases=tutorial-off,tutorial-traced,deno-off,deno-protobuf
 * ```
 *
 * @module
 */
import process from "node:process";
import { FlagError, type FlagValues, helpText, parseFlags } from "@example/harness/flags";
import { startReceiver, TelemetryStore } from "@example/otlp/receiver";
import { CountingStore, type Received } from "./counting_store.ts";
import { type RawSink, type SinkTotals, startRawSink } from "./raw_sink.ts";
import { runWrk, type WrkResult } from "./wrk.ts";
import {
  checkTools,
  type LoadResult,
  type MachineCpu,
  machineCpu,
  type ProcessUsage,
  processUsage,
  runClientLoad,
  runRateLoad,
} from "./load_and_usage.ts";
import {
  type ChildEnv as Env,
  childEnv,
  runClient,
  type Runtime,
  startServer,
} from "@example/harness/processes";
import { describeMachine, machineLoad } from "./machine.ts";
import {
  type BenchResults,
  type ClientRun,
  cpuShares,
  renderChart,
  renderMarkdown,
  type ServerRun,
  spanCount,
  summarizeServers,
  type VisibleRun,
} from "./report.ts";

/** One server configuration to put under load. */
export interface ServerCase {
  /** A short name, used in the results and on the command line (`--cases`). */
  id: string;
  /** The name in the report. */
  label: string;
  /** What it runs on. */
  runtime: Runtime;
  /** Deno only: the server's script (default `server.ts`; the tutorial's is `tools/bench/tutorial_server.ts`). */
  script?: string;
  /** Whether the server exports telemetry (to the sink). */
  traced: boolean;
  /** The settings (OTEL_*, and `server.ts`'s own) beyond turning tracing on and pointing it at the sink. */
  settings: Env;
  /** The id of the untraced run to compare with. */
  baseline?: string;
  /** The id of the tutorial's server in the same tracing setting, to compare with. */
  yardstick?: string;
  /** The sampling ratio, when sampling drops a share of the traces. */
  ratio?: number;
  /** Log records exported per request: 1 where Deno exports `console.log` (its default), else 0. */
  logsPerRequest?: number;
}

const TUTORIAL = "tools/bench/tutorial_server.ts";

/**
 * The server configurations of the main table. Every server writes one log line per request to standard
 * output; Deno also exports it as a log record unless `OTEL_DENO_CONSOLE=ignore`, the Node.js SDK does not.
 */
export const SERVER_CASES: ServerCase[] = [
  {
    id: "tutorial-off",
    label: "Tutorial's server, tracing off",
    runtime: "deno",
    script: TUTORIAL,
    traced: false,
    settings: {},
  },
  {
    id: "tutorial-traced",
    label: "Tutorial's server, traced",
    runtime: "deno",
    script: TUTORIAL,
    traced: true,
    settings: {},
    baseline: "tutorial-off",
    logsPerRequest: 1,
  },
  {
    id: "deno-off",
    label: "server.ts, tracing off",
    runtime: "deno",
    traced: false,
    settings: {},
    yardstick: "tutorial-off",
  },
  {
    id: "deno-protobuf",
    label: "server.ts, traced (http/protobuf)",
    runtime: "deno",
    traced: true,
    settings: {},
    baseline: "deno-off",
    yardstick: "tutorial-traced",
    logsPerRequest: 1,
  },
  {
    id: "deno-json",
    label: "server.ts, traced, http/json",
    runtime: "deno",
    traced: true,
    settings: { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" },
    baseline: "deno-off",
    logsPerRequest: 1,
  },
  {
    id: "deno-traces-only",
    label: "server.ts, traced, console not exported",
    runtime: "deno",
    traced: true,
    settings: { OTEL_DENO_CONSOLE: "ignore" },
    baseline: "deno-off",
  },
  {
    id: "deno-always-off",
    label: "server.ts, tracing on, sampler always_off",
    runtime: "deno",
    traced: true,
    settings: { OTEL_TRACES_SAMPLER: "always_off" },
    baseline: "deno-off",
    ratio: 0,
    logsPerRequest: 1,
  },
  {
    id: "deno-always-off-quiet",
    label: "server.ts, sampler always_off, console not exported",
    runtime: "deno",
    traced: true,
    settings: { OTEL_TRACES_SAMPLER: "always_off", OTEL_DENO_CONSOLE: "ignore" },
    baseline: "deno-off",
    ratio: 0,
  },
  {
    id: "deno-ratio-0.1",
    label: "server.ts, traced, sampled 0.1",
    runtime: "deno",
    traced: true,
    settings: { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" },
    baseline: "deno-off",
    ratio: 0.1,
    logsPerRequest: 1,
  },
  { id: "node-off", label: "Node.js, no SDK", runtime: "node", traced: false, settings: {} },
  {
    id: "node-sdk",
    label: "Node.js, OTel SDK (http/protobuf)",
    runtime: "node",
    traced: true,
    settings: {},
    baseline: "node-off",
  },
];

/** Batch and sampling settings tried against the rate at which the defaults lost spans. */
export const TUNED_SETTINGS: Env[] = [
  { OTEL_BSP_MAX_QUEUE_SIZE: "16384" },
  {
    OTEL_BSP_MAX_QUEUE_SIZE: "16384",
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "2048",
    OTEL_BSP_SCHEDULE_DELAY: "1000",
  },
  { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" },
];

/** Options of {@linkcode runBench}. */
export interface BenchOptions {
  /** Rounds of the server and client tables: every configuration once per round, in rotated order. */
  rounds: number;
  /** Connections of the closed-loop load generator. */
  connections: number;
  /** Seconds per measured run. */
  durationSeconds: number;
  /** Seconds of load before each measured run. */
  warmupSeconds: number;
  /** Concurrent calls of the client runs. */
  clientConcurrency: number;
  /** Rates (requests per second) of the span-loss search with the default settings. */
  rates: number[];
  /** Rates of the span-loss search against a sink that holds each answer `sinkDelayMs`. */
  slowRates: number[];
  /** How long the slow sink holds each answer, in milliseconds. */
  sinkDelayMs: number;
  /** Seconds per rate-limited run. */
  rateSeconds: number;
  /** Settings tried at the rates where the defaults lost spans (and at the highest rate). */
  tuned: Env[];
  /** Also try them flat out (closed loop, as in the main table). */
  tunedFlatOut: boolean;
  /** Batch delays (ms) of the time-to-visible runs, and trials per delay. */
  visibleDelays: number[];
  /** Trials per batch delay. */
  visibleTrials: number;
  /** Also time a Tempo behind a Collector, when its API answers (`--tempo`). */
  tempo?: { api: string; otlpEndpoint: string };
  /** The server configurations to put under load. */
  cases: ServerCase[];
  /** Which parts of the benchmark to run. */
  sections: Set<"servers" | "clients" | "loss" | "visible">;
  /** Called with one line of progress at a time. */
  log: (line: string) => void;
}

const SPANS_PER_REQUEST = 2;

/** CPU counters at one moment: the machine's, this process's (the sink), and a server's. */
interface CpuSnapshot {
  machine: MachineCpu;
  sink: ReturnType<typeof process.cpuUsage>;
  server: ProcessUsage;
  at: number;
}

async function cpuSnapshot(serverPid: number): Promise<CpuSnapshot> {
  const [machine, server] = await Promise.all([machineCpu(), processUsage(serverPid)]);
  return { machine, server, sink: process.cpuUsage(), at: performance.now() };
}

/** Wall, machine and sink seconds between two snapshots. */
function cpuDelta(before: CpuSnapshot, after: CpuSnapshot) {
  return {
    wallSeconds: (after.at - before.at) / 1000,
    machineSeconds: after.machine.busySeconds - before.machine.busySeconds,
    sinkSeconds: (after.sink.user + after.sink.system - before.sink.user - before.sink.system) / 1e6,
  };
}

/**
 * Puts one server configuration under load, exporting to `sink`; once the server has stopped (and exported
 * what it held), decodes what the sink stored and counts it.
 */
export async function runServerCase(
  serverCase: ServerCase,
  { sink, sinkDelayMs = 0, connections, durationSeconds, warmupSeconds, rate, run, round = 0 }: {
    sink: RawSink;
    /** How long `sink` holds each answer, for the record. */
    sinkDelayMs?: number;
    connections: number;
    durationSeconds: number;
    warmupSeconds: number;
    /** A constant request rate (vegeta, open model); omit for closed-loop load (wrk) as fast as answered. */
    rate?: number;
    /** Makes the service name unique to this run. */
    run: number;
    round?: number;
  },
): Promise<ServerRun> {
  const service = `bench-${serverCase.id}-${run}`;
  const server = await startServer({
    runtime: serverCase.runtime,
    script: serverCase.script,
    nodeSdk: serverCase.runtime === "node" && serverCase.traced,
    workMs: 0,
    env: tracingEnv(serverCase, service, sink),
    // Its line per request is read in large chunks, so that reading it takes next to no CPU.
    outputReadIntervalMs: 10,
  });
  let measured;
  try {
    measured = await measureLoad(server, { connections, durationSeconds, warmupSeconds, rate });
  } catch (error) {
    await server.stop();
    throw error;
  }
  const exit = await server.stop();
  if (exit.code !== 0 || exit.killed) {
    throw new Error(`${serverCase.label}: the server exited with code ${exit.code}:\n${exit.stderr}`);
  }
  // The server has exported everything on its way out; decoding happens now, off the measured path.
  const store = new CountingStore();
  const totals = await sink.drain(store);
  return serverRunOf(serverCase, measured, {
    received: store.received(service),
    totals,
    stderr: exit.stderr,
    rate,
    sinkDelayMs,
    round,
  });
}

/** The variables that turn tracing on for `serverCase`, exporting to `sink` as `service`; none untraced. */
function tracingEnv(serverCase: ServerCase, service: string, sink: RawSink): Env {
  if (!serverCase.traced) return {};
  return {
    ...(serverCase.runtime === "deno" ? { OTEL_DENO: "true" } : {}),
    OTEL_SERVICE_NAME: service,
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    ...serverCase.settings,
  };
}

/** What one server case's load measured: the warm-up (wrk only), the load, and CPU before and after it. */
interface Measured {
  warmup?: WrkResult;
  load: WrkResult | LoadResult;
  before: CpuSnapshot;
  after: CpuSnapshot;
}

/** Puts `server` under load: wrk after a warm-up, or vegeta at `rate`; CPU is sampled around the load. */
async function measureLoad(
  server: { url: string; pid: number },
  { connections, durationSeconds, warmupSeconds, rate }: {
    connections: number;
    durationSeconds: number;
    warmupSeconds: number;
    rate?: number;
  },
): Promise<Measured> {
  const warmup = rate === undefined && warmupSeconds > 0
    ? await runWrk({ url: server.url, connections, durationSeconds: warmupSeconds })
    : undefined;
  const before = await cpuSnapshot(server.pid);
  const load = rate === undefined
    ? await runWrk({ url: server.url, connections, durationSeconds })
    : await runRateLoad({ url: server.url, rate, durationSeconds });
  const after = await cpuSnapshot(server.pid);
  return { warmup, load, before, after };
}

/** The record of one server case: what was measured, and what the sink received of it. */
function serverRunOf(
  serverCase: ServerCase,
  { warmup, load, before, after }: Measured,
  { received, totals, stderr, rate, sinkDelayMs, round }: {
    received: Received;
    totals: SinkTotals;
    stderr: string;
    rate?: number;
    sinkDelayMs: number;
    round: number;
  },
): ServerRun {
  // wrk counts answers; vegeta counts requests sent (answered or not).
  const measuredRequests = "sent" in load ? load.sent : load.requests;
  const requests = (warmup?.requests ?? 0) + measuredRequests;
  const serverSeconds = after.server.cpuSeconds - before.server.cpuSeconds;
  const failed = load.non2xx + load.errors + (warmup ? warmup.non2xx + warmup.errors : 0);
  return {
    id: serverCase.id,
    label: serverCase.label,
    runtime: serverCase.runtime,
    round,
    baseline: serverCase.baseline,
    yardstick: serverCase.yardstick,
    settings: serverCase.settings,
    targetRate: rate,
    sinkDelayMs,
    requestsPerSecond: load.requestsPerSecond,
    latencyUs: { p50: load.latencyUs.p50, p99: load.latencyUs.p99 },
    ok: requests - failed,
    failed,
    peakRssKiB: after.server.peakRssKiB,
    cpuUsPerRequest: serverSeconds / Math.max(1, measuredRequests) * 1e6,
    cpu: cpuShares({ ...cpuDelta(before, after), serverSeconds }),
    spans: serverCase.traced
      ? spanCount(requests, SPANS_PER_REQUEST, received.spans, serverCase.ratio)
      : undefined,
    logs: serverCase.logsPerRequest
      ? spanCount(requests, serverCase.logsPerRequest, received.logs)
      : undefined,
    ...(totals.overflowed + totals.rejected > 0
      ? { sinkOverflowed: totals.overflowed + totals.rejected }
      : {}),
    ...(stderr.trim() === "" ? {} : { stderr: stderr.trim() }),
  };
}

function describe(run: ServerRun): string {
  const spans =
    (run.spans
      ? `, spans ${run.spans.received}/${run.spans.expected} (loss ${run.spans.lossPercent.toFixed(2)} %)`
      : "") +
    (run.logs
      ? `, log records ${run.logs.received}/${run.logs.expected} (loss ${run.logs.lossPercent.toFixed(2)} %)`
      : "");
  return `${run.label}${run.targetRate ? ` @ ${run.targetRate} req/s` : ""}: ${
    Math.round(run.requestsPerSecond)
  } req/s, p50 ${run.latencyUs.p50} µs, p99 ${run.latencyUs.p99} µs, RSS ${
    Math.round(run.peakRssKiB / 1024)
  } MiB${spans}`;
}

/** A configuration of the client section: the example client's call path with tracing off or on. */
interface ClientCase {
  id: string;
  label: string;
  traced: boolean;
  baseline?: string;
}

const CLIENT_CASES: ClientCase[] = [
  { id: "bench-client-off", label: "client.ts callApi, tracing off", traced: false },
  {
    id: "bench-client-on",
    label: "client.ts callApi, tracing on (protobuf)",
    traced: true,
    baseline: "bench-client-off",
  },
];

/**
 * Measures the example client's call path with tracing off and on, against an untraced Deno server: both
 * configurations once per round, in rotated order, each run in a new client process.
 */
async function runClients(options: BenchOptions, sink: RawSink): Promise<ClientRun[]> {
  const server = await startServer({ runtime: "deno", workMs: 0 });
  const runs: ClientRun[] = [];
  try {
    for (let round = 0; round < options.rounds; round++) {
      for (const clientCase of rotated(CLIENT_CASES, round)) {
        const service = `${clientCase.id}-${round}`;
        const env: Env = clientCase.traced
          ? {
            OTEL_DENO: "true",
            OTEL_SERVICE_NAME: service,
            OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
            OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
          }
          : {};
        const before = await cpuSnapshot(server.pid);
        const result = await runClientLoad(server.url, {
          concurrency: options.clientConcurrency,
          durationSeconds: options.durationSeconds,
          warmupSeconds: options.warmupSeconds,
          env,
        });
        const after = await cpuSnapshot(server.pid);
        // The client process has exited, exporting what it held; decode what the sink stored.
        const store = new CountingStore();
        await sink.drain(store);
        const calls = result.warmupCalls + result.calls + result.errors;
        const received = store.received(service).spans;
        const run: ClientRun = {
          id: clientCase.id,
          label: clientCase.label,
          round,
          baseline: clientCase.baseline,
          callsPerSecond: result.callsPerSecond,
          latencyUs: result.latencyUs,
          calls: result.calls,
          errors: result.errors,
          peakRssKiB: result.peakRssKiB,
          cpuUsPerCall: result.cpuSeconds / Math.max(1, calls) * 1e6,
          cpu: cpuShares({
            ...cpuDelta(before, after),
            serverSeconds: after.server.cpuSeconds - before.server.cpuSeconds,
            generatorSeconds: result.cpuSeconds,
          }),
          spans: clientCase.traced ? spanCount(calls, SPANS_PER_REQUEST, received) : undefined,
        };
        options.log(
          `round ${round + 1}/${options.rounds}: ${run.label}: ${Math.round(run.callsPerSecond)} calls/s, ` +
            `${Math.round(run.cpuUsPerCall)} µs CPU/call, p50 ${run.latencyUs.p50} µs, p99 ` +
            `${run.latencyUs.p99} µs, client peak RSS ${Math.round(run.peakRssKiB / 1024)} MiB` +
            (run.spans ? `, spans ${received}/${run.spans.expected}` : ""),
        );
        runs.push(run);
      }
    }
  } finally {
    await server.stop();
  }
  return runs;
}

/** Where the time-to-visible runs export to, and how they learn that a trace has arrived whole. */
export interface TraceSink {
  /** The name in the report. */
  name: string;
  /** The OTLP/HTTP base URL for OTEL_EXPORTER_OTLP_ENDPOINT. */
  otlpEndpoint: string;
  /** Resolves once the trace holds `spans` spans; rejects when `signal` aborts. */
  waitForTrace(traceId: string, spans: number, signal: AbortSignal): Promise<unknown>;
}

/** Counts the spans in a Tempo trace-by-id answer, whatever its API version's nesting. */
export function countTempoSpans(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((sum, item) => sum + countTempoSpans(item), 0);
  if (value === null || typeof value !== "object") return 0;
  return Object.entries(value).reduce(
    (sum, [key, item]) =>
      sum + (key === "spans" && Array.isArray(item) ? item.length : countTempoSpans(item)),
    0,
  );
}

/**
 * A Grafana Tempo behind an OpenTelemetry Collector (the `tools/stack/docker-compose.yml` stack, or `tools/stack/`), when its
 * API answers `GET /ready`; `undefined` otherwise.
 */
export async function findTempo(api: string, otlpEndpoint: string): Promise<TraceSink | undefined> {
  try {
    const ready = await fetch(new URL("/ready", api), { signal: AbortSignal.timeout(2000) });
    await ready.body?.cancel();
    if (!ready.ok) return undefined;
  } catch {
    return undefined;
  }
  return {
    name: "Tempo",
    otlpEndpoint,
    async waitForTrace(traceId, spans, signal) {
      while (true) {
        signal.throwIfAborted();
        const response = await fetch(new URL(`/api/traces/${traceId}`, api), { signal });
        if (response.ok && countTempoSpans(await response.json()) >= spans) return;
        await response.body?.cancel();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

/**
 * Time to visible: for each batch delay, runs `client.ts` against a traced server and measures from the
 * client's exit until `sink` holds the complete trace (4 spans).
 */
async function runVisible(options: BenchOptions, sink: TraceSink): Promise<VisibleRun[]> {
  const runs: VisibleRun[] = [];
  for (const delay of options.visibleDelays) {
    const otel = (service: string): Env => ({
      OTEL_DENO: "true",
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.otlpEndpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_BSP_SCHEDULE_DELAY: String(delay),
    });
    const server = await startServer({ runtime: "deno", workMs: 0, env: otel("server") });
    const trialsMs: number[] = [];
    try {
      for (let trial = 0; trial < options.visibleTrials; trial++) {
        // A random moment of the server's batch cycle, as for a client that runs whenever it likes: trials
        // run back to back would all start just after the previous batch left.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * delay));
        const client = await runClient(server.url, { env: otel("client") });
        const exited = performance.now();
        if (client.code !== 0 || client.traceId === undefined) {
          throw new Error(`client.ts failed (exit code ${client.code}) in the time-to-visible run`);
        }
        await sink.waitForTrace(client.traceId, 4, AbortSignal.timeout(delay + 30_000));
        trialsMs.push(Math.round(performance.now() - exited));
      }
    } finally {
      await server.stop();
    }
    options.log(
      `time to visible in ${sink.name}, OTEL_BSP_SCHEDULE_DELAY=${delay}: ${trialsMs.join(", ")} ms`,
    );
    runs.push({ sink: sink.name, scheduleDelayMs: delay, trialsMs });
  }
  return runs;
}

/**
 * `items` starting at position `round` (modulo their number) and wrapping around: over as many rounds as
 * there are items, each comes first once, and no configuration always runs right after the same other one
 * at the same point of the machine's other work.
 */
export function rotated<T>(items: T[], round: number): T[] {
  if (items.length === 0) return [];
  const start = round % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

/** Counts the runs of one benchmark, so that each run's ports and sinks are its own. */
interface Counter {
  run: number;
}

/** The server table: every case once per round, in rotated order. */
async function runServerRounds(options: BenchOptions, sink: RawSink, counter: Counter): Promise<ServerRun[]> {
  const runs: ServerRun[] = [];
  for (let round = 0; round < options.rounds; round++) {
    for (const serverCase of rotated(options.cases, round)) {
      const result = await runServerCase(serverCase, {
        sink,
        connections: options.connections,
        durationSeconds: options.durationSeconds,
        warmupSeconds: options.warmupSeconds,
        run: counter.run++,
        round,
      });
      options.log(`round ${round + 1}/${options.rounds}: ${describe(result)}`);
      runs.push(result);
    }
  }
  return runs;
}

/** The tuned batch settings next to the defaults, each as a case of its own. */
function tunedCases(defaults: ServerCase, tuned: Record<string, string>[]): ServerCase[] {
  return [{}, ...tuned].map((settings) => {
    const sampled = settings.OTEL_TRACES_SAMPLER_ARG;
    const isTuned = Object.keys(settings).length > 0;
    return {
      ...defaults,
      id: isTuned ? "deno-tuned" : defaults.id,
      label: isTuned ? "server.ts, traced, tuned" : defaults.label,
      settings,
      ratio: sampled === undefined ? undefined : Number(sampled),
    };
  });
}

/** Span loss by rate (vegeta), against the sink that answers at once and a slow one; then the tuned settings. */
async function runLoss(
  options: BenchOptions,
  sink: RawSink,
  counter: Counter,
): Promise<Pick<BenchResults, "lossByRate" | "tuned">> {
  const defaults = SERVER_CASES.find((serverCase) => serverCase.id === "deno-protobuf")!;
  await using slow = startRawSink({ delayMs: options.sinkDelayMs });
  const sinks = { 0: sink, [options.sinkDelayMs]: slow };
  const lossRun = async (serverCase: ServerCase, sinkDelayMs: number, rate: number | undefined) => {
    const result = await runServerCase(serverCase, {
      connections: options.connections,
      sink: sinks[sinkDelayMs],
      sinkDelayMs,
      durationSeconds: rate === undefined ? options.durationSeconds : options.rateSeconds,
      warmupSeconds: rate === undefined ? options.warmupSeconds : 0,
      rate,
      run: counter.run++,
    });
    const named = Object.entries(serverCase.settings).map(([name, value]) => `${name}=${value}`).join(" ");
    options.log(`${named || "defaults"}, sink delay ${sinkDelayMs} ms: ${describe(result)}`);
    return result;
  };
  const lossByRate: ServerRun[] = [];
  for (const rate of options.rates) lossByRate.push(await lossRun(defaults, 0, rate));
  for (const rate of options.slowRates) lossByRate.push(await lossRun(defaults, options.sinkDelayMs, rate));
  // The defaults again and the tuned settings, back to back: with the slow sink at its highest rate, and
  // flat out (closed loop, as in the main table) with the sink that answers at once.
  const groups: [number, number | undefined][] = [[options.sinkDelayMs, Math.max(...options.slowRates)]];
  if (options.tunedFlatOut) groups.push([0, undefined]);
  const tuned: ServerRun[] = [];
  for (const [sinkDelayMs, rate] of groups) {
    for (const serverCase of tunedCases(defaults, options.tuned)) {
      tuned.push(await lossRun(serverCase, sinkDelayMs, rate));
    }
  }
  return { lossByRate, tuned };
}

/** Time to visible: in the built-in receiver, then in Tempo when one answers. */
async function runVisibleSection(options: BenchOptions, skipped: string[]): Promise<VisibleRun[]> {
  await using receiver = startReceiver({ port: 0, store: new TelemetryStore() });
  const visible = await runVisible(options, {
    name: "the built-in receiver",
    otlpEndpoint: receiver.url,
    waitForTrace: (traceId, spans, signal) => receiver.store.waitForTrace(traceId, { spans, signal }),
  });
  const tempo = options.tempo && await findTempo(options.tempo.api, options.tempo.otlpEndpoint);
  if (tempo) visible.push(...await runVisible(options, tempo));
  else if (options.tempo) {
    skipped.push(`Time to visible in Tempo: no Tempo answered at ${options.tempo.api}.`);
  }
  return visible;
}

/** Runs the benchmark's sections and returns what they measured. */
export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const startedAt = new Date().toISOString();
  const machine = await describeMachine();
  options.log(
    `${machine.cpuModel}, ${machine.cores} cores; load ${machine.loadAverage.join(" ")}; builds: ${
      machine.builds.join(" ") || "none"
    }`,
  );
  await using sink = startRawSink();
  const { connections, durationSeconds, warmupSeconds, clientConcurrency, rounds } = options;
  const results: BenchResults = {
    startedAt,
    finishedAt: "",
    machine,
    loadAtEnd: { loadAverage: machine.loadAverage, builds: [] },
    parameters: { connections, durationSeconds, warmupSeconds, clientConcurrency, rounds },
    servers: [],
    clients: [],
    lossByRate: [],
    tuned: [],
    visible: [],
    skipped: [],
  };
  const counter = { run: 0 };
  if (options.sections.has("servers")) results.servers = await runServerRounds(options, sink, counter);
  if (options.sections.has("clients")) results.clients = await runClients(options, sink);
  if (options.sections.has("loss")) Object.assign(results, await runLoss(options, sink, counter));
  if (options.sections.has("visible")) results.visible = await runVisibleSection(options, results.skipped);
  results.finishedAt = new Date().toISOString();
  results.loadAtEnd = await machineLoad();
  return results;
}

/** The chart's caption: what was measured, where. */
export function chartCaption({ machine, parameters, startedAt }: BenchResults): string {
  return `GET /, wrk ${parameters.connections} connections, ${parameters.rounds} rounds of ` +
    `${parameters.durationSeconds} s; ${machine.cpuModel}, ${machine.cores} cores; Deno ${
      machine.versions.deno.split(" ")[0]
    }, Node.js ${machine.versions.node}; ${startedAt.slice(0, 10)}. Darker: untraced; whiskers: range.`;
}

/** Problems that mean the harness did not work (not that something was slow). */
export function harnessProblems(results: BenchResults): string[] {
  const problems: string[] = [];
  for (const run of [...results.servers, ...results.lossByRate, ...results.tuned]) {
    const where = `${run.label}${run.targetRate ? ` @ ${run.targetRate} req/s` : ""}`;
    if (run.ok === 0) problems.push(`${where}: no request was answered`);
    if (run.failed > 0) problems.push(`${where}: ${run.failed} requests failed`);
    if (run.spans && run.spans.expected > 0 && run.spans.received === 0) {
      problems.push(`${where}: no span arrived`);
    }
    if (run.sinkOverflowed) problems.push(`${where}: the sink lost ${run.sinkOverflowed} export requests`);
  }
  for (const run of results.clients) {
    if (run.calls === 0 || run.errors > 0) {
      problems.push(`${run.label}: ${run.calls} calls, ${run.errors} errors`);
    }
    if (run.spans && run.spans.received === 0) problems.push(`${run.label}: no span arrived`);
  }
  return problems;
}

/** The benchmark's flags. Each run is bounded: at most 2 minutes of load, at most 100,000 requests per second. */
export const BENCH_FLAGS = {
  smoke: { type: "boolean", help: "a short run that checks the harness works (its numbers mean nothing)" },
  rounds: { type: "number", default: 5, min: 1, max: 50, help: "rounds of every case, in rotated order" },
  duration: { type: "number", default: 5, min: 1, max: 120, help: "seconds of load per run" },
  warmup: { type: "number", default: 1, min: 0, max: 60, help: "seconds of load before each run" },
  connections: { type: "number", default: 32, min: 1, max: 1000, help: "wrk's connections" },
  "client-concurrency": {
    type: "number",
    default: 8,
    min: 1,
    max: 256,
    help: "calls in flight in the client section",
  },
  rates: {
    type: "numbers",
    default: [2000, 4000, 6000, 8000, 10000],
    min: 1,
    max: 100_000,
    help: "req/s of the span-loss runs against the sink that answers at once",
  },
  "slow-rates": {
    type: "numbers",
    default: [1000, 2000, 2500, 3000, 4000],
    min: 1,
    max: 100_000,
    help: "req/s of the span-loss runs against the slow sink",
  },
  "sink-delay": {
    type: "number",
    default: 100,
    min: 1,
    max: 5000,
    help: "ms the slow sink takes per export",
  },
  "rate-duration": {
    type: "number",
    default: 0,
    max: 120,
    help: "seconds of each span-loss run (0: as --duration)",
  },
  "visible-trials": {
    type: "number",
    default: 5,
    min: 1,
    max: 50,
    help: "trials per time-to-visible setting",
  },
  tempo: { type: "string", default: "http://127.0.0.1:3200", help: "Tempo's API (empty: skip Tempo)" },
  "tempo-otlp": {
    type: "string",
    default: "http://127.0.0.1:4318",
    help: "the OTLP endpoint in front of Tempo",
  },
  sections: {
    type: "strings",
    default: ["servers", "clients", "loss", "visible"],
    choices: ["servers", "clients", "loss", "visible"],
    help: "what to measure",
  },
  cases: {
    type: "strings",
    choices: SERVER_CASES.map((serverCase) => serverCase.id),
    help: "the server cases (default: all; the smoke run: one of each kind)",
  },
  out: {
    type: "string",
    help: "where results go, from tools/bench/ (default results, the smoke run results/smoke)",
  },
} as const;

const SMOKE_CASES = [
  "tutorial-off",
  "tutorial-traced",
  "deno-off",
  "deno-protobuf",
  "node-off",
  "node-sdk",
];

/** The options of a run from its flags: the smoke run overrides what would make it long. */
export function benchOptions(values: FlagValues<typeof BENCH_FLAGS>): BenchOptions {
  const smoke = values.smoke;
  const caseIds = values.cases ?? (smoke ? SMOKE_CASES : SERVER_CASES.map((c) => c.id));
  const duration = smoke ? 1 : values.duration;
  return {
    rounds: smoke ? 2 : values.rounds,
    connections: values.connections,
    durationSeconds: duration,
    warmupSeconds: smoke ? 0 : values.warmup,
    clientConcurrency: values["client-concurrency"],
    rates: smoke ? [500] : values.rates,
    slowRates: smoke ? [500] : values["slow-rates"],
    sinkDelayMs: values["sink-delay"],
    rateSeconds: smoke ? 1 : values["rate-duration"] || duration,
    tuned: smoke ? TUNED_SETTINGS.slice(0, 1) : TUNED_SETTINGS,
    tunedFlatOut: !smoke,
    visibleDelays: smoke ? [200] : [5000, 1000, 200],
    visibleTrials: smoke ? 1 : values["visible-trials"],
    tempo: smoke || values.tempo === ""
      ? undefined
      : { api: values.tempo, otlpEndpoint: values["tempo-otlp"] },
    cases: caseIds.map((id) => SERVER_CASES.find((serverCase) => serverCase.id === id)!),
    sections: new Set(values.sections as ("servers" | "clients" | "loss" | "visible")[]),
    log: (line) => console.log(line),
  };
}

/** Writes `results.json`, `results.md` and (with the server table) `chart.svg` to `out`; returns their paths. */
async function writeResults(out: string, results: BenchResults): Promise<string[]> {
  await Deno.mkdir(out, { recursive: true });
  await Deno.writeTextFile(`${out}/results.json`, JSON.stringify(results, null, 2) + "\n");
  await Deno.writeTextFile(`${out}/results.md`, renderMarkdown(results));
  const written = [`${out}/results.md`, `${out}/results.json`];
  if (results.servers.length > 0) {
    const chart = renderChart(summarizeServers(results.servers), chartCaption(results));
    await Deno.writeTextFile(`${out}/chart.svg`, chart);
    written.push(`${out}/chart.svg`);
  }
  // In the repository's own format, so that `deno fmt --check` passes on committed results.
  await new Deno.Command("deno", { args: ["fmt", "--quiet", ...written], env: childEnv(), clearEnv: true })
    .output();
  return written;
}

if (import.meta.main) {
  let parsed;
  try {
    parsed = parseFlags(BENCH_FLAGS, Deno.args);
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    console.error(`bench: ${error.message} (--help lists the flags)`);
    Deno.exit(2);
  }
  if (parsed.help) {
    console.log(
      helpText(
        "deno task --cwd tools/bench bench [flags]   (deno task --cwd tools/bench smoke: the smoke run)",
        BENCH_FLAGS,
      ),
    );
    Deno.exit(0);
  }
  const values = parsed.values;
  // Relative to the working directory: tools/bench/ under `deno task --cwd tools/bench bench`.
  const out = values.out ?? (values.smoke ? "results/smoke" : "results");
  await checkTools();
  const results = await runBench(benchOptions(values));
  console.log(`wrote ${(await writeResults(out, results)).join(", ")}`);
  const problems = harnessProblems(results);
  if (problems.length > 0) {
    console.error(`the harness did not work:\n${problems.map((problem) => `- ${problem}`).join("\n")}`);
    Deno.exitCode = 1;
  }
}
