/**
 * The benchmark's results as data, and as a Markdown report and an SVG chart.
 *
 * @module
 */
import type { Machine } from "./machine.ts";

/** Spans a run should have produced, and how many the receiver got. */
export interface SpanCount {
  /** Requests that reached the server times spans per request (times the sampling ratio, if any). */
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
  /** Percentage of expected spans that did not arrive (0 when more arrived). */
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
  /** The id of the run this one is compared with (its untraced baseline), if any. */
  baseline?: string;
  /** The OTEL_* settings of the server. */
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
  /** Log records received (Deno exports `console.log` output as log records by default). */
  logsReceived: number;
  /** The end of the server's standard error, when it printed anything. */
  stderr?: string;
}

/** The example client's call path, with tracing off or on. */
export interface ClientRun {
  /** The client configuration's id. */
  id: string;
  /** The name in the report. */
  label: string;
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
  /** The client's peak resident set size, in KiB. */
  peakRssKiB: number;
  /** The client's CPU time per call, in microseconds. */
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

/** Everything one `deno task bench` measured. */
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
  };
  /** The servers flat out, each configuration once. */
  servers: ServerRun[];
  /** The client's call path, tracing off and on. */
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

function ratio(value: number, baseline: number | undefined): string {
  return baseline === undefined || baseline === 0 ? "1.00" : (value / baseline).toFixed(2);
}

function settings(run: ServerRun): string {
  const entries = Object.entries(run.settings);
  return entries.length === 0 ? "defaults" : entries.map(([name, value]) => `${name}=${value}`).join(" ");
}

function table(header: string[], rows: string[][]): string {
  const align = header.map((_, index) => index === 0 ? "---" : "---:");
  return [header, align, ...rows].map((row) => `| ${row.join(" | ")} |`).join("\n");
}

/** The main table: one row per server configuration, compared with its untraced baseline. */
export function serverTable(runs: ServerRun[]): string {
  const byId = new Map(runs.map((run) => [run.id, run]));
  return table(
    [
      "Configuration",
      "req/s",
      "p50 ms",
      "p99 ms",
      "peak RSS MiB",
      "server CPU µs/req",
      "spans expected",
      "spans received",
      "loss",
      "req/s vs untraced",
      "other load, cores",
    ],
    runs.map((run) => [
      run.label,
      integer.format(run.requestsPerSecond),
      ms(run.latencyUs.p50),
      ms(run.latencyUs.p99),
      mib(run.peakRssKiB),
      integer.format(run.cpuUsPerRequest),
      expected(run.spans),
      run.spans === undefined ? "–" : integer.format(run.spans.received),
      loss(run.spans),
      ratio(run.requestsPerSecond, run.baseline ? byId.get(run.baseline)?.requestsPerSecond : undefined),
      others(run.cpu),
    ]),
  );
}

function others(cpu: CpuShares): string {
  return cpu.others === undefined ? "–" : cpu.others.toFixed(2);
}

/** The client-side table: the example client's call path with tracing off and on. */
export function clientTable(runs: ClientRun[]): string {
  const byId = new Map(runs.map((run) => [run.id, run]));
  return table(
    [
      "Client",
      "calls/s",
      "p50 ms",
      "p99 ms",
      "peak RSS MiB",
      "client CPU µs/call",
      "spans expected",
      "spans received",
      "loss",
      "calls/s vs untraced",
      "other load, cores",
    ],
    runs.map((run) => [
      run.label,
      integer.format(run.callsPerSecond),
      ms(run.latencyUs.p50),
      ms(run.latencyUs.p99),
      mib(run.peakRssKiB),
      integer.format(run.cpuUsPerCall),
      expected(run.spans),
      run.spans === undefined ? "–" : integer.format(run.spans.received),
      loss(run.spans),
      ratio(run.callsPerSecond, run.baseline ? byId.get(run.baseline)?.callsPerSecond : undefined),
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
    `- Load: autocannon, ${results.parameters.connections} connections, ${results.parameters.warmupSeconds} s ` +
    `warm-up then ${results.parameters.durationSeconds} s per configuration (vegeta for the constant-rate runs); ` +
    "the load generator, the server and the receiving sink (the example's OTLP receiver, in the benchmark's " +
    "process) share the machine's cores.",
  ].join("\n");
}

/** The whole report, as Markdown. */
export function renderMarkdown(results: BenchResults, chartFile = "chart.svg"): string {
  const parts = [
    "# What tracing costs: benchmark results",
    "",
    `Run from ${results.startedAt} to ${results.finishedAt} with \`deno task bench\`.`,
    "",
    machineSection(results),
    "",
  ];
  if (results.servers.length > 0) {
    parts.push(
      "## Server throughput, latency and memory",
      "",
      `GET / of the example server (SIMULATED_WORK_MS=0), ${results.parameters.connections} connections. ` +
        "Spans expected = requests sent × 2 (the HTTP SERVER span and `process-request`), × the ratio when " +
        "sampling.",
      "",
      serverTable(results.servers),
      "",
      `![Requests per second and p99 latency per configuration](${chartFile})`,
      "",
    );
  }
  if (results.clients.length > 0) {
    parts.push(
      "## Client side: the example client's call path",
      "",
      `\`callApi\` from client.ts in ${results.parameters.clientConcurrency} concurrent loops against the untraced ` +
        "Deno server; spans expected = calls × 2 (`call-api` and the fetch CLIENT span).",
      "",
      clientTable(results.clients),
      "",
    );
  }
  if (results.lossByRate.length > 0 || results.tuned.length > 0) {
    const fast = results.lossByRate.filter((run) => run.sinkDelayMs === 0);
    const slow = results.lossByRate.filter((run) => run.sinkDelayMs > 0);
    const delay = slow[0]?.sinkDelayMs ?? results.tuned.find((run) => run.sinkDelayMs > 0)?.sinkDelayMs;
    parts.push(
      "## Span loss under sustained, rate-limited load",
      "",
      "GET / of the traced Deno server (OTLP http/protobuf, default batch settings) at a constant request " +
        "rate: vegeta sends each request when it is due, whether or not earlier ones were answered (at most " +
        "256 in flight). Spans expected = requests sent × 2; a target above what the server can answer shows " +
        "as a lower achieved rate.",
      "",
    );
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
  }
  if (results.visible.length > 0) {
    parts.push(
      "## Time to visible",
      "",
      "From the exit of one `client.ts` run to the complete trace (4 spans) in the receiver; the server runs " +
        "on, so its spans leave with its next batch.",
      "",
      visibleTable(results.visible),
      "",
    );
  }
  if (results.skipped.length > 0) {
    parts.push(
      "## Not run",
      "",
      ...results.skipped.map((line) => `- ${line}`),
      "",
    );
  }
  return parts.join("\n");
}

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * A horizontal bar chart of requests per second and p99 latency per server configuration, as SVG. Deno runs
 * are blue and Node.js runs green; untraced runs are darker.
 */
export function renderChart(runs: ServerRun[], caption = ""): string {
  const rowHeight = 26;
  const labelWidth = 330;
  const barWidth = 300;
  const gap = 100;
  const top = 50;
  const width = labelWidth + 2 * barWidth + gap + 60;
  const height = top + runs.length * rowHeight + 30;
  const maxRps = Math.max(1, ...runs.map((run) => run.requestsPerSecond));
  const maxP99 = Math.max(1, ...runs.map((run) => run.latencyUs.p99));
  const colour = (run: ServerRun) =>
    run.runtime === "deno" ? (run.spans ? "#6fa8dc" : "#1c4587") : (run.spans ? "#93c47d" : "#274e13");
  const byId = new Map(runs.map((run) => [run.id, run]));
  const lines = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${labelWidth}" y="20" font-weight="bold">Requests per second (ratio to untraced)</text>`,
    `<text x="${labelWidth + barWidth + gap}" y="20" font-weight="bold">p99 latency, ms</text>`,
  ];
  runs.forEach((run, index) => {
    const y = top + index * rowHeight;
    const rpsWidth = run.requestsPerSecond / maxRps * barWidth;
    const p99Width = run.latencyUs.p99 / maxP99 * barWidth;
    const baseline = run.baseline ? byId.get(run.baseline)?.requestsPerSecond : undefined;
    const x2 = labelWidth + barWidth + gap;
    lines.push(
      `<text x="${labelWidth - 8}" y="${y + 14}" text-anchor="end">${escape(run.label)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${rpsWidth.toFixed(1)}" height="18" fill="${colour(run)}"/>`,
      `<text x="${(labelWidth + rpsWidth + 4).toFixed(1)}" y="${y + 14}">${
        integer.format(run.requestsPerSecond)
      }${baseline ? ` (${ratio(run.requestsPerSecond, baseline)})` : ""}</text>`,
      `<rect x="${x2}" y="${y}" width="${p99Width.toFixed(1)}" height="18" fill="${colour(run)}"/>`,
      `<text x="${(x2 + p99Width + 4).toFixed(1)}" y="${y + 14}">${ms(run.latencyUs.p99)}</text>`,
    );
  });
  if (caption !== "") {
    lines.push(`<text x="${labelWidth}" y="${height - 8}" fill="#555">${escape(caption)}</text>`);
  }
  lines.push("</svg>", "");
  return lines.join("\n");
}
