/**
 * The benchmark's results as data, and as a Markdown report and an SVG chart.
 *
 * @module
 */
import type { Machine } from "./machine.ts";

/** Spans (or log records) a run should have produced, and how many the receiver got. */
export interface SpanCount {
  /** Requests that reached the server times spans (or log records) per request (times the sampling ratio). */
  expected: number;
  /** Spans the receiver got. */
  received: number;
  /** `true` when `expected` is a statistical expectation (ratio sampling), not an exact count. */
  approximate: boolean;
  /**
   * For an approximate expectation: three standard deviations of the number of spans sampling keeps; a
   * difference within it is no evidence of loss.
   */
  tolerance?: number;
  /** Percentage of expected spans (or log records) that did not arrive (0 when more arrived). */
  lossPercent: number;
}

/** Where the machine's CPU went during a run's load, in cores (CPU seconds per second). */
export interface CpuShares {
  /** The server under test (or, for a client run, the untraced server it calls). */
  server: number;
  /** The benchmark's own process, where the receiving sink runs. */
  sink: number;
  /** The load generator (autocannon, or the client), when it reports its CPU time (vegeta does not). */
  generator?: number;
  /** All cores together. */
  machine: number;
  /** The rest: other processes on the machine (machine − server − sink − generator), when known. */
  others?: number;
}

/** Splits the machine's busy time over a run into shares, in cores. */
export function cpuShares(
  { wallSeconds, machineSeconds, serverSeconds, sinkSeconds, generatorSeconds }: {
    wallSeconds: number;
    machineSeconds: number;
    serverSeconds: number;
    sinkSeconds: number;
    generatorSeconds?: number;
  },
): CpuShares {
  const cores = (seconds: number) => Math.round(seconds / wallSeconds * 100) / 100;
  return {
    server: cores(serverSeconds),
    sink: cores(sinkSeconds),
    ...(generatorSeconds === undefined ? {} : { generator: cores(generatorSeconds) }),
    machine: cores(machineSeconds),
    ...(generatorSeconds === undefined
      ? {}
      : { others: Math.max(0, cores(machineSeconds - serverSeconds - sinkSeconds - generatorSeconds)) }),
  };
}

/** One run of load against one server configuration. */
export interface ServerRun {
  /** The server configuration's id. */
  id: string;
  /** The name in the report. */
  label: string;
  /** What the server ran on. */
  runtime: "deno" | "node";
  /** The round this run belongs to (0 for runs outside the rounds). */
  round: number;
  /** The id of the run this one is compared with (its untraced baseline), if any. */
  baseline?: string;
  /** The id of the tutorial's server in the same tracing setting, to compare with, if any. */
  yardstick?: string;
  /** The settings of the server beyond tracing on (OTEL_*, and `server.ts`'s own, e.g. SIMULATED_WORK_MS). */
  settings: Record<string, string>;
  /** Requests per second the load generator was limited to, if any. */
  targetRate?: number;
  /** How long the sink held each export request before answering, in milliseconds (0: at once). */
  sinkDelayMs: number;
  /** 2xx answers per second of the measurement. */
  requestsPerSecond: number;
  /** Latency percentiles, in microseconds. */
  latencyUs: { p50: number; p99: number };
  /** Requests answered with 2xx (warm-up and measurement). */
  ok: number;
  /** Requests that failed: other statuses, errors and timeouts. */
  failed: number;
  /** The server's peak resident set size, in KiB. */
  peakRssKiB: number;
  /** Server CPU time (user + system) per request during the load, in microseconds. */
  cpuUsPerRequest: number;
  /** How the machine's CPU time was shared during the load. */
  cpu: CpuShares;
  /** Spans expected and received, when the server was traced. */
  spans?: SpanCount;
  /** Log records: Deno exports each `console.log` as one unless `OTEL_DENO_CONSOLE=ignore`. */
  logs?: SpanCount;
  /** Export requests the sink could not keep (it holds at most 1 GiB per run); should be 0. */
  sinkOverflowed?: number;
  /** The end of the server's standard error, when it printed anything. */
  stderr?: string;
}

/** The example client's call path, with tracing off or on. */
export interface ClientRun {
  /** The client configuration's id. */
  id: string;
  /** The name in the report. */
  label: string;
  /** The round this run belongs to. */
  round: number;
  /** The id of the run this one is compared with (tracing off), if any. */
  baseline?: string;
  /** Calls per second of the measurement. */
  callsPerSecond: number;
  /** Latency percentiles, in microseconds. */
  latencyUs: { p50: number; p99: number };
  /** Calls completed. */
  calls: number;
  /** Calls that failed. */
  errors: number;
  /**
   * The peak resident set size (VmHWM) of the client process of this run alone, in KiB: from its start to
   * the end of its measurement (read before it exits and exports what it still holds).
   */
  peakRssKiB: number;
  /** The client's CPU time per call (warm-up and measurement), in microseconds. */
  cpuUsPerCall: number;
  /** How the machine's CPU time was shared during the load. */
  cpu: CpuShares;
  /** Spans expected and received, when the client was traced. */
  spans?: SpanCount;
}

/** Time from the client's exit to the complete trace in the receiver, for one batch delay. */
export interface VisibleRun {
  /** Where the trace was awaited: the built-in receiver, or Tempo. */
  sink: string;
  /** `OTEL_BSP_SCHEDULE_DELAY` of the run, in milliseconds. */
  scheduleDelayMs: number;
  /** Milliseconds, one per trial, in trial order. */
  trialsMs: number[];
}

/** Everything one `deno task --cwd tools/bench bench` measured. */
export interface BenchResults {
  /** When the run started (ISO 8601). */
  startedAt: string;
  /** When the run ended (ISO 8601). */
  finishedAt: string;
  /** The machine at the start, and its load average and build processes at the end. */
  machine: Machine;
  /** The load average and build processes at the end. */
  loadAtEnd: { loadAverage: [number, number, number]; builds: string[] };
  /** The load parameters of the server and client runs. */
  parameters: {
    connections: number;
    durationSeconds: number;
    warmupSeconds: number;
    clientConcurrency: number;
    /** Rounds of the server and client tables: every configuration once per round, in rotated order. */
    rounds: number;
  };
  /** Every run of the server table's rounds, in the order they ran. */
  servers: ServerRun[];
  /** The client's call path, tracing off and on: every run of the rounds, in the order they ran. */
  clients: ClientRun[];
  /** Rate-limited runs with the default batch settings, with a sink that answers at once and a slow one. */
  lossByRate: ServerRun[];
  /**
   * The defaults and other batch or sampling settings, side by side: with the slow sink at its highest rate,
   * and flat out (no `targetRate`) with the sink that answers at once.
   */
  tuned: ServerRun[];
  /** Time-to-visible runs, one per sink and batch delay. */
  visible: VisibleRun[];
  /** What could not be run, and why. */
  skipped: string[];
}

/** Percentage of `expected` that did not arrive; 0 when nothing was expected or more arrived. */
export function lossPercent(expected: number, received: number): number {
  if (expected <= 0) return 0;
  return Math.max(0, (expected - received) / expected * 100);
}

/** The median of `values`. */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function ms(us: number): string {
  return (us / 1000).toFixed(us < 10_000 ? 2 : 1);
}

function mib(kib: number): string {
  return (kib / 1024).toFixed(0);
}

function loss(spans: SpanCount | undefined): string {
  if (spans === undefined) return "–";
  if (spans.expected === 0) {
    return spans.received === 0 ? "0 %" : `${integer.format(spans.received)} unexpected`;
  }
  if (spans.tolerance !== undefined && Math.abs(spans.expected - spans.received) <= spans.tolerance) {
    return `0 ± ${(spans.tolerance / spans.expected * 100).toFixed(1)} %`;
  }
  const value = spans.lossPercent === 0 ? "0" : spans.lossPercent.toFixed(spans.lossPercent < 0.1 ? 3 : 1);
  return `${spans.approximate ? "≈" : ""}${value} %`;
}

/**
 * The spans a run should have delivered: `requests × spansPerRequest`, or with ratio sampling the expected
 * share of it, with three standard deviations of tolerance.
 */
export function spanCount(
  requests: number,
  spansPerRequest: number,
  received: number,
  ratio?: number,
): SpanCount {
  const expected = requests * spansPerRequest * (ratio ?? 1);
  return {
    expected: Math.round(expected),
    received,
    approximate: ratio !== undefined,
    ...(ratio === undefined
      ? {}
      : { tolerance: Math.round(3 * spansPerRequest * Math.sqrt(requests * ratio * (1 - ratio))) }),
    lossPercent: lossPercent(expected, received),
  };
}

function expected(spans: SpanCount | undefined): string {
  if (spans === undefined) return "–";
  return `${spans.approximate ? "≈" : ""}${integer.format(spans.expected)}`;
}

function settings(run: ServerRun): string {
  const entries = Object.entries(run.settings);
  return entries.length === 0 ? "defaults" : entries.map(([name, value]) => `${name}=${value}`).join(" ");
}

function table(header: string[], rows: string[][]): string {
  const align = header.map((_, index) => index === 0 ? "---" : "---:");
  return [header, align, ...rows].map((row) => `| ${row.join(" | ")} |`).join("\n");
}

/** The median of a set of values and their range. */
export interface Spread {
  /** The median. */
  median: number;
  /** The lowest value. */
  min: number;
  /** The highest value. */
  max: number;
}

/** The median, minimum and maximum of `values` (all `NaN` when there are none). */
export function spread(values: number[]): Spread {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN };
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** One server configuration over all the rounds it ran in. */
export interface ServerSummary {
  /** The configuration's id (`ServerCase.id`). */
  id: string;
  /** Its name in the table. */
  label: string;
  /** What the server ran on. */
  runtime: "deno" | "node";
  /** Whether it exported telemetry. */
  traced: boolean;
  /** How many rounds it ran in. */
  rounds: number;
  /** Answered requests per second. */
  requestsPerSecond: Spread;
  /** Server CPU time per request, in microseconds. */
  cpuUsPerRequest: Spread;
  /** 99th percentile latency, in microseconds. */
  p99Us: Spread;
  /** Peak resident memory of the server, in KiB. */
  peakRssKiB: Spread;
  /** Requests per second over the untraced baseline's, each ratio taken within one round. */
  vsUntraced?: Spread;
  /** Requests per second over the tutorial's server's (same tracing setting), each within one round. */
  vsTutorial?: Spread;
  /** Spans over all rounds (loss = not received of expected). */
  spans?: SpanCount;
  /** Log records over all rounds, where the runtime exports them. */
  logs?: SpanCount;
  /** Requests that failed (non-2xx or errors), over all rounds. */
  failed: number;
}

function sumCounts(counts: (SpanCount | undefined)[]): SpanCount | undefined {
  const present = counts.filter((count): count is SpanCount => count !== undefined);
  if (present.length === 0) return undefined;
  const expected = present.reduce((sum, count) => sum + count.expected, 0);
  const received = present.reduce((sum, count) => sum + count.received, 0);
  const approximate = present.some((count) => count.approximate);
  const tolerance = approximate
    ? Math.round(Math.sqrt(present.reduce((sum, count) => sum + (count.tolerance ?? 0) ** 2, 0)))
    : undefined;
  return {
    expected,
    received,
    approximate,
    ...(tolerance === undefined ? {} : { tolerance }),
    lossPercent: lossPercent(expected, received),
  };
}

/** A run of a configuration in a round: what {@linkcode ratiosWithin} pairs up. */
interface RoundRun {
  id: string;
  round: number;
}

/** Ratios of each run's `value` to that of the run `otherId` of the same round. */
function ratiosWithin<T extends RoundRun>(
  runs: T[],
  all: T[],
  otherId: string | undefined,
  value: (run: T) => number,
): Spread | undefined {
  if (otherId === undefined) return undefined;
  const ratios = runs.flatMap((run) => {
    const other = all.find((candidate) => candidate.id === otherId && candidate.round === run.round);
    return other && value(other) > 0 ? [value(run) / value(other)] : [];
  });
  return ratios.length === 0 ? undefined : spread(ratios);
}

const requestsPerSecond = (run: ServerRun) => run.requestsPerSecond;

/** The runs of each configuration, configurations in first-seen order. */
function byConfiguration<T extends { id: string }>(runs: T[]): T[][] {
  return [...new Set(runs.map((run) => run.id))].map((id) => runs.filter((run) => run.id === id));
}

/** Groups the runs by configuration (in first-seen order) and summarises each over its rounds. */
export function summarizeServers(runs: ServerRun[]): ServerSummary[] {
  return byConfiguration(runs).map((mine) => {
    const first = mine[0];
    return {
      id: first.id,
      label: first.label,
      runtime: first.runtime,
      traced: first.spans !== undefined,
      rounds: mine.length,
      requestsPerSecond: spread(mine.map((run) => run.requestsPerSecond)),
      cpuUsPerRequest: spread(mine.map((run) => run.cpuUsPerRequest)),
      p99Us: spread(mine.map((run) => run.latencyUs.p99)),
      peakRssKiB: spread(mine.map((run) => run.peakRssKiB)),
      vsUntraced: ratiosWithin(mine, runs, first.baseline, requestsPerSecond),
      vsTutorial: ratiosWithin(mine, runs, first.yardstick, requestsPerSecond),
      spans: sumCounts(mine.map((run) => run.spans)),
      logs: sumCounts(mine.map((run) => run.logs)),
      failed: mine.reduce((sum, run) => sum + run.failed, 0),
    };
  });
}

function spreadText(value: Spread | undefined, format: (value: number) => string): string {
  if (value === undefined) return "–";
  return format(value.min) === format(value.max)
    ? format(value.median)
    : `${format(value.median)} (${format(value.min)}–${format(value.max)})`;
}

const twoDigits = (value: number) => value.toFixed(2);

/**
 * The main table: one row per server configuration, the median over the rounds with the range in
 * parentheses; ratios are taken within each round, then their median and range reported.
 */
export function serverTable(summaries: ServerSummary[]): string {
  return table(
    [
      "Configuration",
      "req/s",
      "vs tutorial",
      "vs untraced",
      "server CPU µs/req",
      "p99 ms",
      "peak RSS MiB",
      "spans lost",
      "log records lost",
    ],
    summaries.map((summary) => [
      summary.label,
      spreadText(summary.requestsPerSecond, (value) => integer.format(value)),
      spreadText(summary.vsTutorial, twoDigits),
      spreadText(summary.vsUntraced, twoDigits),
      spreadText(summary.cpuUsPerRequest, (value) => integer.format(value)),
      ms(summary.p99Us.median),
      mib(summary.peakRssKiB.median),
      summary.spans ? `${loss(summary.spans)} of ${expected(summary.spans)}` : "–",
      summary.logs ? `${loss(summary.logs)} of ${expected(summary.logs)}` : "–",
    ]),
  );
}

/** Every run of the rounds, in the order they ran: the raw numbers behind the main table. */
export function roundsTable(runs: ServerRun[]): string {
  return table(
    [
      "Round",
      "Configuration",
      "req/s",
      "server CPU µs/req",
      "p99 ms",
      "spans lost",
      "log records lost",
      "server, cores",
      "machine busy, cores",
    ],
    runs.map((run) => [
      String(run.round + 1),
      run.label,
      integer.format(run.requestsPerSecond),
      integer.format(run.cpuUsPerRequest),
      ms(run.latencyUs.p99),
      loss(run.spans),
      loss(run.logs),
      run.cpu.server.toFixed(2),
      run.cpu.machine.toFixed(2),
    ]),
  );
}

function others(cpu: CpuShares): string {
  return cpu.others === undefined ? "–" : cpu.others.toFixed(2);
}

/** One client configuration over all the rounds it ran in. */
export interface ClientSummary {
  /** The configuration's id (`ClientRun.id`). */
  id: string;
  /** Its name in the table. */
  label: string;
  /** How many rounds it ran in. */
  rounds: number;
  /** Calls per second of the measurement. */
  callsPerSecond: Spread;
  /** The client's CPU time per call, in microseconds. */
  cpuUsPerCall: Spread;
  /** Calls per second over the untraced client's, each ratio taken within one round. */
  vsUntraced?: Spread;
  /** Median latency, in microseconds. */
  p50Us: Spread;
  /** 99th percentile latency, in microseconds. */
  p99Us: Spread;
  /** Peak resident memory of each run's client process, in KiB. */
  peakRssKiB: Spread;
  /** Spans over all rounds (loss = not received of expected). */
  spans?: SpanCount;
  /** Calls completed in the measurements, over all rounds. */
  calls: number;
  /** Calls that failed, over all rounds. */
  errors: number;
}

const callsPerSecond = (run: ClientRun) => run.callsPerSecond;

/** Groups the client runs by configuration (in first-seen order) and summarises each over its rounds. */
export function summarizeClients(runs: ClientRun[]): ClientSummary[] {
  return byConfiguration(runs).map((mine) => {
    const first = mine[0];
    return {
      id: first.id,
      label: first.label,
      rounds: mine.length,
      callsPerSecond: spread(mine.map(callsPerSecond)),
      cpuUsPerCall: spread(mine.map((run) => run.cpuUsPerCall)),
      vsUntraced: ratiosWithin(mine, runs, first.baseline, callsPerSecond),
      p50Us: spread(mine.map((run) => run.latencyUs.p50)),
      p99Us: spread(mine.map((run) => run.latencyUs.p99)),
      peakRssKiB: spread(mine.map((run) => run.peakRssKiB)),
      spans: sumCounts(mine.map((run) => run.spans)),
      calls: mine.reduce((sum, run) => sum + run.calls, 0),
      errors: mine.reduce((sum, run) => sum + run.errors, 0),
    };
  });
}

/**
 * The client-side table: the example client's call path with tracing off and on, one row per configuration,
 * the median over the rounds with the range in parentheses; the ratio is taken within each round. Spans are
 * summed over the rounds.
 */
export function clientTable(summaries: ClientSummary[]): string {
  return table(
    [
      "Client",
      "calls/s",
      "client CPU µs/call",
      "calls/s vs untraced",
      "p50 ms",
      "p99 ms",
      "client peak RSS MiB",
      "spans expected",
      "spans received",
      "spans lost",
    ],
    summaries.map((summary) => [
      summary.label,
      spreadText(summary.callsPerSecond, (value) => integer.format(value)),
      spreadText(summary.cpuUsPerCall, (value) => integer.format(value)),
      spreadText(summary.vsUntraced, twoDigits),
      ms(summary.p50Us.median),
      ms(summary.p99Us.median),
      spreadText(summary.peakRssKiB, mib),
      expected(summary.spans),
      summary.spans === undefined ? "–" : integer.format(summary.spans.received),
      loss(summary.spans),
    ]),
  );
}

/** Every client run of the rounds, in the order they ran: the raw numbers behind the client table. */
export function clientRoundsTable(runs: ClientRun[]): string {
  return table(
    [
      "Round",
      "Client",
      "calls/s",
      "client CPU µs/call",
      "p50 ms",
      "p99 ms",
      "client peak RSS MiB",
      "spans lost",
      "client, cores",
      "server, cores",
      "machine busy, cores",
      "other load, cores",
    ],
    runs.map((run) => [
      String(run.round + 1),
      run.label,
      integer.format(run.callsPerSecond),
      integer.format(run.cpuUsPerCall),
      ms(run.latencyUs.p50),
      ms(run.latencyUs.p99),
      mib(run.peakRssKiB),
      loss(run.spans),
      run.cpu.generator === undefined ? "–" : run.cpu.generator.toFixed(2),
      run.cpu.server.toFixed(2),
      run.cpu.machine.toFixed(2),
      others(run.cpu),
    ]),
  );
}

/** Rate-limited runs: the rate asked for, the rate reached, and the spans lost. */
export function rateTable(runs: ServerRun[]): string {
  return table(
    [
      "Settings",
      "sink delay ms",
      "target req/s",
      "achieved req/s",
      "p99 ms",
      "spans expected",
      "spans received",
      "loss",
      "server cores",
      "machine busy, cores",
    ],
    runs.map((run) => [
      settings(run),
      String(run.sinkDelayMs),
      run.targetRate === undefined ? "max (closed loop)" : integer.format(run.targetRate),
      integer.format(run.requestsPerSecond),
      ms(run.latencyUs.p99),
      expected(run.spans),
      run.spans === undefined ? "–" : integer.format(run.spans.received),
      loss(run.spans),
      run.cpu.server.toFixed(2),
      run.cpu.machine.toFixed(2),
    ]),
  );
}

/** Time to visible, per batch delay. */
export function visibleTable(runs: VisibleRun[]): string {
  return table(
    ["Where", "OTEL_BSP_SCHEDULE_DELAY", "trials", "min ms", "median ms", "max ms"],
    runs.map((run) => [
      run.sink,
      `${run.scheduleDelayMs} ms${run.scheduleDelayMs === 5000 ? " (default)" : ""}`,
      String(run.trialsMs.length),
      integer.format(Math.min(...run.trialsMs)),
      integer.format(median(run.trialsMs)),
      integer.format(Math.max(...run.trialsMs)),
    ]),
  );
}

/** The machine, its load and the versions, as Markdown. */
export function machineSection(results: BenchResults): string {
  const { machine, loadAtEnd } = results;
  const versions = Object.entries(machine.versions).map(([name, version]) => `${name} ${version}`).join(", ");
  return [
    `- Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM.`,
    `- Load average (1/5/15 min) at the start: ${machine.loadAverage.join(" / ")}; at the end: ${
      loadAtEnd.loadAverage.join(" / ")
    }. Build processes running at the start: ${
      machine.builds.length === 0 ? "none" : machine.builds.join(", ")
    };` +
    ` at the end: ${loadAtEnd.builds.length === 0 ? "none" : loadAtEnd.builds.join(", ")}.`,
    `- Versions: ${versions}.`,
    `- Load: wrk (one thread), ${results.parameters.connections} connections, ${results.parameters.warmupSeconds} s ` +
    `warm-up then ${results.parameters.durationSeconds} s per configuration and round, ` +
    `${results.parameters.rounds} rounds in rotated order (vegeta for the constant-rate runs). The load ` +
    "generator, the server and the sink share the machine's cores; the sink only stores the raw export " +
    "requests during a run and decodes them after it.",
  ].join("\n");
}

function details(summary: string, table: string): string[] {
  return [`<details><summary>${summary}</summary>`, "", table, "", "</details>", ""];
}

function serverSection(results: BenchResults, chartFile: string): string[] {
  return [
    "## Server throughput, latency and memory",
    "",
    `GET / with no simulated work, ${results.parameters.connections} connections, ` +
    `${results.parameters.rounds} rounds. Each cell is the median over the rounds, with the lowest and ` +
    "highest round in parentheses. Ratios are taken within a round (against the run of the same round), " +
    "then summarised the same way. Spans expected = requests answered × 2 (the HTTP SERVER span and the " +
    "handler's own), × the ratio when sampling; log records expected = requests answered × 1 where the " +
    "runtime exports `console.log` (Deno's default), else none.",
    "",
    serverTable(summarizeServers(results.servers)),
    "",
    `![Requests per second and server CPU per request, median and range](${chartFile})`,
    "",
    ...details("Every run, in the order they ran", roundsTable(results.servers)),
  ];
}

function clientSection(results: BenchResults): string[] {
  const clientRounds = Math.max(...results.clients.map((run) => run.round)) + 1;
  const rounds = `${clientRounds} round${clientRounds === 1 ? "" : "s"}`;
  const { clientConcurrency, warmupSeconds, durationSeconds } = results.parameters;
  return [
    "## Client side: the example client's call path",
    "",
    `\`callApi\` from client.ts in ${clientConcurrency} concurrent loops against the untraced Deno server, ` +
    `${warmupSeconds} s warm-up then ${durationSeconds} s per configuration and round, ${rounds} in ` +
    "rotated order, each run in a new client process. Each cell " +
    "is the median over the rounds, with the lowest and highest round in parentheses; the ratio is taken " +
    "within a round.",
    "",
    "Client CPU µs/call: the client process's CPU time from its start to the end of its " +
    "measurement, over the calls it made (warm-up included). Client peak RSS: that process's own peak " +
    "resident memory (VmHWM) up to the end of its measurement; it grows with the run's length until V8's " +
    "heap sizing levels off. Spans expected = calls × 2 (`call-api` and the fetch CLIENT span), summed " +
    "over the rounds.",
    "",
    clientTable(summarizeClients(results.clients)),
    "",
    ...details("Every client run, in the order they ran", clientRoundsTable(results.clients)),
  ];
}

function lossSection(results: BenchResults): string[] {
  const fast = results.lossByRate.filter((run) => run.sinkDelayMs === 0);
  const slow = results.lossByRate.filter((run) => run.sinkDelayMs > 0);
  const delay = slow[0]?.sinkDelayMs ?? results.tuned.find((run) => run.sinkDelayMs > 0)?.sinkDelayMs;
  const parts = [
    "## Span loss under sustained, rate-limited load",
    "",
    "GET / of the traced Deno server (OTLP http/protobuf, default batch settings) at a constant request " +
    "rate: vegeta sends each request when it is due, whether or not earlier ones were answered (at most " +
    "256 in flight). Spans expected = requests sent × 2; a target above what the server can answer shows " +
    "as a lower achieved rate.",
    "",
  ];
  if (fast.length > 0) parts.push("The sink answers each export at once:", "", rateTable(fast), "");
  if (slow.length > 0) {
    parts.push(
      `The same sink holding each export request ${delay} ms before it answers, like a collector that is ` +
        "far away or busy (Deno sends one batch at a time and waits for the answer):",
      "",
      rateTable(slow),
      "",
    );
  }
  if (results.tuned.length > 0) {
    parts.push(
      "The defaults and other settings side by side, each group run back to back" +
        (delay === undefined ? "" : `: with the ${delay} ms sink at its highest rate, `) +
        `and flat out as in the first table (closed loop, ${results.parameters.connections} connections, ` +
        "sink answering at once).",
      "",
      rateTable(results.tuned),
      "",
    );
  }
  return parts;
}

function visibleSection(results: BenchResults): string[] {
  return [
    "## Time to visible",
    "",
    "From the exit of one `client.ts` run to the complete trace (4 spans) in the receiver; the server runs " +
    "on, so its spans leave with its next batch.",
    "",
    visibleTable(results.visible),
    "",
  ];
}

/** The whole report, as Markdown: each section that has results. */
export function renderMarkdown(results: BenchResults, chartFile = "chart.svg"): string {
  const parts = [
    "# What tracing costs: benchmark results",
    "",
    `Run from ${results.startedAt} to ${results.finishedAt} with \`deno task bench\`, on commit \`${
      results.machine.commit ?? "unrecorded"
    }\`.`,
    "",
    machineSection(results),
    "",
  ];
  if (results.servers.length > 0) parts.push(...serverSection(results, chartFile));
  if (results.clients.length > 0) parts.push(...clientSection(results));
  if (results.lossByRate.length > 0 || results.tuned.length > 0) parts.push(...lossSection(results));
  if (results.visible.length > 0) parts.push(...visibleSection(results));
  if (results.skipped.length > 0) {
    parts.push("## Not run", "", ...results.skipped.map((line) => `- ${line}`), "");
  }
  return parts.join("\n");
}

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * A horizontal bar chart, as SVG, of each server configuration's requests per second and server CPU time per
 * request: the bar is the median over the rounds, the whisker the range (lowest to highest round). Deno runs
 * are blue and Node.js runs green; untraced runs are darker.
 */
export function renderChart(summaries: ServerSummary[], caption = ""): string {
  const height = CHART.top + summaries.length * CHART.rowHeight + 30;
  const lines = [...chartHeader(height)];
  const maxRps = Math.max(1, ...summaries.map((summary) => summary.requestsPerSecond.max));
  const maxCpu = Math.max(1, ...summaries.map((summary) => summary.cpuUsPerRequest.max));
  summaries.forEach((summary, index) => {
    lines.push(...chartRow(summary, CHART.top + index * CHART.rowHeight, maxRps, maxCpu));
  });
  if (caption !== "") {
    lines.push(`<text x="${CHART.labelWidth}" y="${height - 8}" fill="#555">${escape(caption)}</text>`);
  }
  lines.push("</svg>", "");
  return lines.join("\n");
}

/** The chart's layout, in pixels. */
const CHART = (() => {
  const labelWidth = 330;
  const barWidth = 300;
  const gap = 170; // room for the longest req/s label ("44,808 (×tutorial 1.02)") before the CPU bars
  return { rowHeight: 26, labelWidth, barWidth, gap, top: 50, width: labelWidth + 2 * barWidth + gap + 90 };
})();

/** The chart's opening: the SVG element, its background and the two column titles. */
function chartHeader(height: number): string[] {
  const { width, labelWidth, barWidth, gap } = CHART;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${labelWidth}" y="20" font-weight="bold">Requests per second (median, range)</text>`,
    `<text x="${labelWidth + barWidth + gap}" y="20" font-weight="bold">Server CPU µs per request</text>`,
  ];
}

/** One server's row at `y`: its label, its req/s bar (with the ratio) and its CPU bar. */
function chartRow(summary: ServerSummary, y: number, maxRps: number, maxCpu: number): string[] {
  const { labelWidth, barWidth, gap } = CHART;
  const ratio = summary.vsTutorial ?? summary.vsUntraced;
  const fill = summary.runtime === "deno"
    ? (summary.traced ? "#6fa8dc" : "#1c4587")
    : (summary.traced ? "#93c47d" : "#274e13");
  const rpsText = `${integer.format(summary.requestsPerSecond.median)}${
    ratio ? ` (${summary.vsTutorial ? "×tutorial" : "×untraced"} ${twoDigits(ratio.median)})` : ""
  }`;
  return [
    `<text x="${labelWidth - 8}" y="${y + 14}" text-anchor="end">${escape(summary.label)}</text>`,
    ...chartBar(labelWidth, y, summary.requestsPerSecond, maxRps, fill, rpsText),
    ...chartBar(
      labelWidth + barWidth + gap,
      y,
      summary.cpuUsPerRequest,
      maxCpu,
      fill,
      integer.format(summary.cpuUsPerRequest.median),
    ),
  ];
}

/** A bar at `x, y` as long as the median of `value`, a whisker from its min to its max, and `text` after. */
function chartBar(x: number, y: number, value: Spread, max: number, fill: string, text: string): string[] {
  const scale = (number: number) => (number / max * CHART.barWidth).toFixed(1);
  const [lo, hi] = [x + Number(scale(value.min)), x + Number(scale(value.max))];
  return [
    `<rect x="${x}" y="${y}" width="${scale(value.median)}" height="18" fill="${fill}"/>`,
    `<line x1="${lo.toFixed(1)}" x2="${hi.toFixed(1)}" y1="${y + 9}" y2="${y + 9}" stroke="#333"/>`,
    `<line x1="${lo.toFixed(1)}" x2="${lo.toFixed(1)}" y1="${y + 4}" y2="${y + 14}" stroke="#333"/>`,
    `<line x1="${hi.toFixed(1)}" x2="${hi.toFixed(1)}" y1="${y + 4}" y2="${y + 14}" stroke="#333"/>`,
    `<text x="${(hi + 4).toFixed(1)}" y="${y + 14}">${text}</text>`,
  ];
}
