/**
 * `deno task --cwd bench receiver`: the receiver section of the benchmark. Puts telemetrygen's load (OTLP/HTTP
 * protobuf, 10-span traces, as fast as the receiver takes them) on the viewer (`deno task viewer`, default
 * settings) and on Jaeger v2 all-in-one (memory store, no flags), one after the other in rotated order, for
 * several rounds. For each run: spans accepted per second (counted by the receiver: the viewer's
 * `/api/stats`, Jaeger's `otelcol_receiver_accepted_spans`), CPU per accepted span (the receiver process's
 * user + system time from `/proc`), RSS after, spans held, the time to answer a trace by id and a search
 * over everything held, and the time to answer one of telemetrygen's exports sent alone. Then the replay:
 * telemetrygen's own exports, captured once, sent again by wrk on several connections with new trace ids
 * each pass (`wrk_replay.lua`), as fast as the receiver answers: telemetrygen sends one export at a time and
 * spends both cores making spans, so it, not the receiver, sets the first rate; the replay's rate is the
 * receiver's. Writes `receiver.json` and `receiver.md` to `--out`, with the commit.
 *
 * ```sh
 * deno task --cwd bench install                  # builds telemetrygen and jaeger (cached by version)
 * deno task --cwd bench receiver                 # 5 rounds of 15 s against both
 * deno task --cwd bench receiver --smoke         # the viewer alone, briefly: checks the tool, not the speed
 * ```
 *
 * @module
 */
import { childEnv, ROOT } from "@example/harness/processes";
import { denoRunOf } from "@example/harness/tasks";
import { flagsOrExit, type FlagValues } from "@example/harness/flags";
import { rotated } from "./bench.ts";
import { processUsage, procInfo } from "./load_and_usage.ts";
import { gitCommit, type Machine, machineLoad } from "./machine.ts";
import { runWrk } from "./wrk.ts";

/** Where `install_peers.sh` links the peers it built (from the Go module proxy, cached by version). */
export const PEERS = {
  telemetrygen: new URL(".bin/telemetrygen", import.meta.url).pathname,
  jaeger: new URL(".bin/jaeger", import.meta.url).pathname,
};

/** The receivers compared. */
export type ReceiverName = "viewer" | "jaeger";

/** What one run against one receiver measured. */
export interface ReceiverRun {
  /** Which receiver. */
  receiver: ReceiverName;
  /** The round (from 1). */
  round: number;
  /** Spans the receiver accepted during the run. */
  accepted: number;
  /** Seconds from the load's start to the last span accepted. */
  seconds: number;
  /** Accepted spans per second. */
  spansPerSecond: number;
  /** The receiver's user + system CPU time over the run, in µs per accepted span. */
  cpuMicrosPerSpan: number;
  /** The receiver's resident memory after the run, in MiB. */
  rssMiB: number;
  /** Spans held after the run. */
  held: number;
  /** Median milliseconds to answer one trace by id (of five). */
  traceMs: number;
  /** Median milliseconds to answer a search that matches nothing, so scans everything held (of three). */
  searchMs?: number;
  /**
   * Median milliseconds to answer a search by an attribute every span has with a value none has (of three):
   * the viewer's `attribute=`, Jaeger's `tags=`.
   */
  attributeSearchMs?: number;
  /**
   * Milliseconds to answer one export of telemetrygen's (about 100 spans) sent alone, after the load: the
   * median and the 99th percentile over {@linkcode EXPORTS} of them, one after another.
   */
  exportMs?: { p50: number; p99: number };
  /** The replay after it (`--replay` seconds; absent when 0). */
  replay?: ReplayRun;
}

/** What the replay of telemetrygen's exports measured on one receiver. */
export interface ReplayRun {
  /** Spans accepted per second of the replay. */
  spansPerSecond: number;
  /** The receiver's user + system CPU time over the replay, in µs per accepted span. */
  cpuMicrosPerSpan: number;
  /** The receiver's resident memory after it, in MiB. */
  rssMiB: number;
  /** Requests not answered with a 2xx, and connection errors. */
  failed: number;
}

/** The section's results. */
export interface ReceiverResults {
  /** `git rev-parse HEAD` of the code measured. */
  commit: string;
  /** When the run started (ISO). */
  startedAt: string;
  /** The machine: CPU model, cores, Deno, the load average at start and end. */
  machine: { cpu: string; cores: number; deno: string; loadStart: string; loadEnd: string };
  /** The load: telemetrygen's arguments. */
  load: string[];
  /** Every run, in the order run. */
  runs: ReceiverRun[];
}

/** The flags of the receiver section. */
export const RECEIVER_FLAGS = {
  smoke: { type: "boolean", help: "a short run against the viewer alone: checks the tool, not the speed" },
  rounds: { type: "number", default: 5, min: 1, max: 20, help: "rounds, each receiver once per round" },
  duration: { type: "number", default: 15, min: 1, max: 120, help: "seconds of load per run" },
  workers: { type: "number", default: 2, min: 1, max: 16, help: "telemetrygen's workers" },
  replay: {
    type: "number",
    default: 10,
    min: 0,
    max: 120,
    help: "seconds of telemetrygen's exports replayed by wrk after each load (0: none)",
  },
  connections: { type: "number", default: 4, min: 1, max: 64, help: "the replay's connections" },
  receivers: {
    type: "strings",
    default: ["viewer", "jaeger"],
    choices: ["viewer", "jaeger"],
    help: "what to measure",
  },
  out: { type: "string", default: "results/receiver", help: "where results go, from bench/" },
} as const;

/** Jaeger's ports under `jaeger_all_in_one.yaml`: its defaults moved into 20000–29999. */
const JAEGER = { otlp: 24318, api: 26686, metrics: 28888 };
const JAEGER_CONFIG = new URL("jaeger_all_in_one.yaml", import.meta.url).pathname;
const SERVICE = "bench-receiver";
const JAEGER_MAX_TRACES = 100_000;
const SPANS_PER_TRACE = 10;
/** An attribute every span of telemetrygen's has (`telemetrygen-client` or `-server`), with a value none has. */
const ABSENT_VALUE = { key: "service.peer.name", value: "nothing" };

/** A receiver under test: its process, where to send spans, and how to ask it what it holds. */
interface Running extends AsyncDisposable {
  pid: number;
  otlpPort: number;
  accepted(): Promise<number>;
  held(): Promise<number>;
  /** A trace id it holds, to ask for. */
  someTraceId(): Promise<string | undefined>;
  traceUrl(traceId: string): string;
  /** A search that scans everything held and matches nothing; `undefined` when the receiver has none. */
  searchUrl(): Promise<string | undefined>;
  /** A search by an attribute every span has, with a value none has. */
  attributeSearchUrl: string;
  /** Spans it found twice in one trace, where it counts them. */
  duplicates?(): Promise<number>;
}

async function waitUntil(what: string, ok: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await ok().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not start within ${ms} ms`);
}

async function json(url: string): Promise<unknown> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return await response.json();
}

/** The viewer as `deno task viewer` runs it (its permissions and V8 flags from deno.json), on free ports. */
async function startViewer(): Promise<Running> {
  const { argv, env } = denoRunOf("viewer");
  const child = new Deno.Command(argv[0], {
    args: [...argv.slice(1), "--port=0", "--web-port=0"],
    cwd: ROOT,
    env: childEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // The viewer prints its two addresses first; the rest of its output is read and dropped, as a terminal
  // would show it.
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while ((text.match(/127\.0\.0\.1:\d+/g) ?? []).length < 2) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`the viewer exited: ${text}`);
    text += value;
  }
  const [otlp, web] = (text.match(/127\.0\.0\.1:(\d+)/g) ?? []).map((address) =>
    Number(address.split(":")[1])
  );
  void (async () => {
    while (!(await lines.read()).done) { /* drained */ }
  })().catch(() => {});
  const base = `http://127.0.0.1:${web}`;
  const stats = async () =>
    await json(`${base}/api/stats`) as {
      spansAccepted: number;
      spansHeld: number;
      dropped: { duplicateSpans: number };
    };
  return {
    pid: child.pid,
    otlpPort: otlp,
    accepted: async () => (await stats()).spansAccepted,
    held: async () => (await stats()).spansHeld,
    duplicates: async () => (await stats()).dropped.duplicateSpans,
    someTraceId: async () => {
      const list = await json(`${base}/api/traces?limit=1`) as { traces: { traceId: string }[] };
      return list.traces[0]?.traceId;
    },
    traceUrl: (traceId) => `${base}/api/traces/${traceId}`,
    attributeSearchUrl:
      `${base}/api/traces?service=${SERVICE}&attribute=${ABSENT_VALUE.key}=${ABSENT_VALUE.value}` +
      "&limit=20",
    searchUrl: async () => {
      // The search of `/api/traces` (`service`, `minDurationMs`): where the viewer has it, a filter that
      // nothing passes leaves the list empty; without it, the filter is ignored.
      const url = `${base}/api/traces?service=${SERVICE}&minDurationMs=3600000&limit=20`;
      const answer = await json(url) as { traces: unknown[] };
      return answer.traces.length === 0 ? url : undefined;
    },
    async [Symbol.asyncDispose]() {
      child.kill("SIGINT");
      await child.status;
    },
  };
}

/**
 * Jaeger v2 all-in-one: its own configuration with the ports moved (`jaeger_all_in_one.yaml`): the memory
 * store, OTLP on 24318, the API on 26686, its metrics on 28888.
 */
async function startJaeger(jaeger: string): Promise<Running> {
  for (const port of Object.values(JAEGER)) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch {
      throw new Error(
        `port ${port} is taken: Jaeger's ports (${Object.values(JAEGER).join(", ")}) must be free`,
      );
    }
  }
  const child = new Deno.Command(jaeger, {
    args: [`--config=file:${JAEGER_CONFIG}`],
    env: childEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Its log is read and dropped, and shown when it does not start.
  let log = "";
  void child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (text) => void (log = (log + text).slice(-4000)) }),
  ).catch(() => {});
  const api = `http://127.0.0.1:${JAEGER.api}`;
  try {
    await waitUntil("jaeger", async () => (await fetch(`${api}/api/services`)).ok);
    await waitUntil(
      "jaeger's metrics",
      async () => (await fetch(`http://127.0.0.1:${JAEGER.metrics}/metrics`)).ok,
    );
  } catch (error) {
    child.kill();
    throw new Error(`${(error as Error).message}; its log ends:\n${log}`);
  }
  const search = async (limit: number) =>
    await json(`${api}/api/traces?service=${SERVICE}&limit=${limit}&lookback=2d`) as {
      data: { traceID: string; spans: unknown[] }[];
    };
  return {
    pid: child.pid,
    otlpPort: JAEGER.otlp,
    accepted: () => jaegerAccepted(),
    // Its memory store keeps the last 100,000 traces (of 10 spans here): below that, all it accepted. (Its
    // API would list them only as one JSON of every span, hundreds of MB.)
    held: async () => Math.min(await jaegerAccepted(), JAEGER_MAX_TRACES * SPANS_PER_TRACE),
    someTraceId: async () => (await search(1)).data[0]?.traceID,
    traceUrl: (traceId) => `${api}/api/traces/${traceId}`,
    attributeSearchUrl: `${api}/api/traces?service=${SERVICE}&tags=${
      encodeURIComponent(JSON.stringify({ [ABSENT_VALUE.key]: ABSENT_VALUE.value }))
    }&limit=20&lookback=2d`,
    searchUrl: () =>
      Promise.resolve(`${api}/api/traces?service=${SERVICE}&minDuration=1h&limit=20&lookback=2d`),
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** The sum of Jaeger's `otelcol_receiver_accepted_spans` series. */
async function jaegerAccepted(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${JAEGER.metrics}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("otelcol_receiver_accepted_spans")) sum += Number(line.split(" ").at(-1));
  }
  return sum;
}

/** The user + system CPU time of process `pid` so far, in µs (`/proc`, read by `node/proc.cjs`). */
async function cpuMicros(pid: number): Promise<number> {
  return (await processUsage(pid)).cpuSeconds * 1e6;
}

async function rssMiB(pid: number): Promise<number> {
  return (await processUsage(pid)).rssKiB / 1024;
}

/**
 * How many of telemetrygen's exports are captured once and sent to each receiver after its load, one at a
 * time: telemetrygen's rate follows the receiver's answer time, but also its own share of two cores, so the
 * answer time to an export sent alone is the steadier figure.
 */
const EXPORTS = 1000;

/** The first `count` request bodies telemetrygen sends (the load's shape, each trace new). */
async function captureExports(telemetrygen: string, count: number): Promise<Uint8Array[]> {
  const bodies: Uint8Array[] = [];
  const enough = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const body = await request.bytes();
    if (bodies.length < count) bodies.push(body);
    if (bodies.length === count) enough.resolve();
    return new Response(new Uint8Array(), { headers: { "content-type": "application/x-protobuf" } });
  });
  const load = new Deno.Command(telemetrygen, {
    args: loadArgs(server.addr.port, 10, 1),
    env: childEnv(),
    clearEnv: true,
    stdout: "null",
    stderr: "null",
  }).spawn();
  await Promise.race([enough.promise, load.status]);
  try {
    load.kill();
  } catch { /* it had exited */ }
  await load.status;
  await server.shutdown();
  return bodies;
}

/** The answer times to `bodies` sent to `url` one after another, in ms: median and 99th percentile. */
async function timeExports(url: string, bodies: Uint8Array[]): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (const body of bodies) {
    const start = performance.now();
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-protobuf" },
      body: body as BodyInit,
    });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: median(times), p99: times[Math.floor(times.length * 0.99)] };
}

/** The median of `times` runs of `fetch(url)` read whole, in ms. */
async function timed(url: string, times: number): Promise<number> {
  const all: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = performance.now();
    const response = await fetch(url);
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    all.push(performance.now() - start);
  }
  return median(all);
}

/** The median of `values`. */
export function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** telemetrygen's arguments for a run against `port`. */
export function loadArgs(port: number, seconds: number, workers: number): string[] {
  return [
    "traces",
    "--otlp-http",
    "--otlp-insecure",
    `--otlp-endpoint=127.0.0.1:${port}`,
    `--workers=${workers}`,
    "--rate=0",
    `--duration=${seconds}s`,
    `--child-spans=${SPANS_PER_TRACE - 1}`,
    `--service=${SERVICE}`,
  ];
}

/** One run: the load against a started receiver, then what it accepted, spent and holds. */
async function measure(
  receiver: ReceiverName,
  round: number,
  running: Running,
  telemetrygen: string,
  flags: FlagValues<typeof RECEIVER_FLAGS>,
  exports: Uint8Array[],
): Promise<ReceiverRun> {
  const cpuBefore = await cpuMicros(running.pid);
  const acceptedBefore = await running.accepted();
  const started = performance.now();
  const load = new Deno.Command(telemetrygen, {
    args: loadArgs(running.otlpPort, flags.duration, flags.workers),
    env: childEnv(),
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // The last time the count grew: the load is over once it has stood still for a second after telemetrygen
  // exited (it flushes what it queued at exit).
  let last = { count: acceptedBefore, at: started };
  let exited = false;
  const status = load.output().then((output) => {
    exited = true;
    return output;
  });
  while (!exited || performance.now() - last.at < 1000) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const count = await running.accepted();
    if (count !== last.count) last = { count, at: performance.now() };
  }
  const output = await status;
  if (!output.success) throw new Error(`telemetrygen failed: ${new TextDecoder().decode(output.stderr)}`);
  const accepted = last.count - acceptedBefore;
  const cpu = await cpuMicros(running.pid) - cpuBefore;
  const seconds = (last.at - started) / 1000;
  const traceId = await running.someTraceId();
  const searchUrl = await running.searchUrl();
  return {
    receiver,
    round,
    accepted,
    seconds,
    spansPerSecond: accepted / seconds,
    cpuMicrosPerSpan: cpu / accepted,
    rssMiB: await rssMiB(running.pid),
    held: await running.held(),
    traceMs: traceId === undefined ? NaN : await timed(running.traceUrl(traceId), 5),
    searchMs: searchUrl === undefined ? undefined : await timed(searchUrl, 3),
    attributeSearchMs: await timed(running.attributeSearchUrl, 3),
    exportMs: await timeExports(`http://127.0.0.1:${running.otlpPort}/v1/traces`, exports),
    replay: flags.replay > 0 ? await replay(running, flags.replay, flags.connections) : undefined,
  };
}

/** Where the replay's exports are written for wrk (`.exports/` is not committed). */
const REPLAY_EXPORTS = new URL(".exports/telemetrygen.bin", import.meta.url);
const REPLAY_SCRIPT = new URL("wrk_replay.lua", import.meta.url);

/** Writes `bodies` where `wrk_replay.lua` reads them: each a 4-byte big-endian length, then the body. */
async function writeExports(bodies: Uint8Array[]): Promise<void> {
  const out = new Uint8Array(bodies.reduce((size, body) => size + 4 + body.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const body of bodies) {
    view.setUint32(at, body.length);
    out.set(body, at + 4);
    at += 4 + body.length;
  }
  await Deno.mkdir(new URL(".", REPLAY_EXPORTS), { recursive: true });
  await Deno.writeFile(REPLAY_EXPORTS, out);
}

/** The replay: wrk sends the captured exports (new trace ids each pass) on `connections` for `seconds`. */
async function replay(running: Running, seconds: number, connections: number): Promise<ReplayRun> {
  const cpuBefore = await cpuMicros(running.pid);
  const acceptedBefore = await running.accepted();
  const duplicatesBefore = await running.duplicates?.() ?? 0;
  const sent = await runWrk({
    url: `http://127.0.0.1:${running.otlpPort}/v1/traces`,
    connections,
    durationSeconds: seconds,
    script: REPLAY_SCRIPT,
    env: { REPLAY_EXPORTS: REPLAY_EXPORTS.pathname },
  });
  const accepted = await running.accepted() - acceptedBefore;
  const cpu = await cpuMicros(running.pid) - cpuBefore;
  // Every pass sends new traces: a span found twice means wrk_replay.lua did not renew the trace ids.
  const duplicates = (await running.duplicates?.() ?? 0) - duplicatesBefore;
  if (duplicates > 0) {
    throw new Error(`the replay sent ${duplicates} spans twice: its trace ids were not renewed`);
  }
  return {
    spansPerSecond: accepted / sent.seconds,
    cpuMicrosPerSpan: cpu / accepted,
    rssMiB: await rssMiB(running.pid),
    failed: sent.non2xx + sent.errors,
  };
}

async function machine(): Promise<Omit<ReceiverResults["machine"], "loadEnd">> {
  const { cpuModel, cores, loadAverage } = await procInfo<Machine>("machine");
  return { cpu: cpuModel, cores, deno: Deno.version.deno, loadStart: loadAverage.join(" ") };
}

/** Runs the section: every receiver once per round, in rotated order. */
export async function runReceivers(
  flags: FlagValues<typeof RECEIVER_FLAGS>,
  log: (line: string) => void,
): Promise<ReceiverResults> {
  const { telemetrygen, jaeger } = PEERS;
  const receivers = (flags.smoke ? ["viewer"] : flags.receivers) as ReceiverName[];
  const results: ReceiverResults = {
    commit: await gitCommit(),
    startedAt: new Date().toISOString(),
    machine: { ...await machine(), loadEnd: "" },
    load: loadArgs(0, flags.duration, flags.workers),
    runs: [],
  };
  const exports = await captureExports(telemetrygen, flags.smoke ? 100 : EXPORTS);
  if (flags.replay > 0) await writeExports(exports);
  for (let round = 1; round <= flags.rounds; round++) {
    for (const receiver of rotated(receivers, round - 1)) {
      await using running = receiver === "viewer" ? await startViewer() : await startJaeger(jaeger);
      const run = await measure(receiver, round, running, telemetrygen, flags, exports);
      log(describe(run));
      results.runs.push(run);
    }
  }
  results.machine.loadEnd = (await machineLoad()).loadAverage.join(" ");
  return results;
}

function describe(run: ReceiverRun): string {
  const replay = run.replay === undefined
    ? ""
    : `; replay ${Math.round(run.replay.spansPerSecond)} spans/s, ` +
      `${run.replay.cpuMicrosPerSpan.toFixed(1)} µs/span, ${run.replay.rssMiB.toFixed(0)} MiB` +
      (run.replay.failed > 0 ? `, ${run.replay.failed} failed` : "");
  return `round ${run.round} ${run.receiver}: ${Math.round(run.spansPerSecond)} spans/s, ` +
    `${run.cpuMicrosPerSpan.toFixed(1)} µs/span, ${run.rssMiB.toFixed(0)} MiB, ${run.held} held, ` +
    `trace ${run.traceMs.toFixed(1)} ms, search ${run.searchMs?.toFixed(1) ?? "-"} ms, ` +
    `by attribute ${run.attributeSearchMs?.toFixed(1) ?? "-"} ms, ` +
    `one export ${run.exportMs?.p50.toFixed(2) ?? "-"} ms (p99 ${run.exportMs?.p99.toFixed(2) ?? "-"})` +
    replay;
}

/** A table cell: the median of `values` with the lowest and highest in parentheses ("-" when none). */
function cell(values: number[], digits: number): string {
  const shown = values.filter((value) => Number.isFinite(value));
  if (shown.length === 0) return "-";
  const f = (value: number) => value.toLocaleString("en-US", { maximumFractionDigits: digits });
  return `${f(median(shown))} (${f(Math.min(...shown))} – ${f(Math.max(...shown))})`;
}

/** A column of a table: the figure of a run, and the digits shown after the point. */
type Column = [(run: ReceiverRun) => number | undefined, number];

/**
 * One table row per receiver (the median of each figure over the rounds), and, when both ran, the viewer's
 * figures over Jaeger's, taken within each round and summarised the same way.
 */
function tableRows(runs: ReceiverRun[], columns: Column[]): string[] {
  const receivers = [...new Set(runs.map((run) => run.receiver))];
  const row = (label: string, valuesOf: (figure: Column[0]) => number[], digits?: number) =>
    `| ${label} | ${columns.map(([figure, shown]) => cell(valuesOf(figure), digits ?? shown)).join(" | ")} |`;
  const rows = receivers.map((receiver) =>
    row(
      receiver,
      (figure) => runs.filter((run) => run.receiver === receiver).map((run) => figure(run) ?? NaN),
    )
  );
  if (!receivers.includes("viewer") || !receivers.includes("jaeger")) return rows;
  const rounds = [...new Set(runs.map((run) => run.round))];
  const ratios = (figure: Column[0]) =>
    rounds.map((round) => {
      const of = (receiver: ReceiverName) =>
        figure(runs.find((run) => run.round === round && run.receiver === receiver)!) ?? NaN;
      return of("viewer") / of("jaeger");
    });
  return [...rows, row("viewer ÷ jaeger, per round", ratios, 2)];
}

/** The section's tables: per receiver, the median of each figure with the lowest and highest in parentheses. */
export function renderReceivers(results: ReceiverResults): string {
  const { machine, runs } = results;
  const load = tableRows(runs, [
    [(run) => run.spansPerSecond, 0],
    [(run) => run.cpuMicrosPerSpan, 1],
    [(run) => run.rssMiB, 0],
    [(run) => run.held, 0],
    [(run) => run.traceMs, 1],
    [(run) => run.searchMs, 1],
    [(run) => run.attributeSearchMs, 1],
    [(run) => run.exportMs?.p50, 2],
    [(run) => run.exportMs?.p99, 2],
  ]);
  const replayed = runs.filter((run) => run.replay !== undefined);
  const replay = tableRows(replayed, [
    [(run) => run.replay?.spansPerSecond, 0],
    [(run) => run.replay?.cpuMicrosPerSpan, 1],
    [(run) => run.replay?.rssMiB, 0],
  ]);
  return [
    "# Receivers under telemetrygen's load",
    "",
    `Commit \`${results.commit}\`, ${results.startedAt}; ${machine.cpu}, ${machine.cores} cores (shared), ` +
    `Deno ${machine.deno}; load average ${machine.loadStart} at the start, ${machine.loadEnd} at the end.`,
    "",
    `Load: \`telemetrygen ${results.load.join(" ")}\`. Median over the rounds (lowest – highest).`,
    "",
    "| receiver | accepted spans/s | CPU per accepted span, µs | RSS after, MiB | spans held | trace by id, ms " +
    "| search (matches none), ms | by attribute, ms | one export alone, ms | its p99, ms |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...load,
    ...(replayed.length === 0 ? [] : [
      "",
      "## Replayed as fast as the receiver answers",
      "",
      "telemetrygen's exports, captured once, sent again by wrk (`wrk_replay.lua`, new trace ids each pass) " +
      "on several connections after each load, into the store it left.",
      "",
      "| receiver | accepted spans/s | CPU per accepted span, µs | RSS after, MiB |",
      "|---|---|---|---|",
      ...replay,
    ]),
    "",
  ].join("\n");
}

if (import.meta.main) {
  const flags = flagsOrExit("deno task --cwd bench receiver", RECEIVER_FLAGS);
  if (flags.smoke) Object.assign(flags, { rounds: 1, duration: 2, workers: 1, replay: 2 });
  const results = await runReceivers(flags, (line) => console.log(line));
  const out = flags.smoke ? `${flags.out}/smoke` : flags.out;
  await Deno.mkdir(out, { recursive: true });
  await Deno.writeTextFile(`${out}/receiver.json`, JSON.stringify(results, null, 2) + "\n");
  await Deno.writeTextFile(`${out}/receiver.md`, renderReceivers(results));
  // In the repository's own format, as bench.ts writes its results, so that `deno fmt --check` passes.
  const written = [`${out}/receiver.md`, `${out}/receiver.json`];
  await new Deno.Command("deno", { args: ["fmt", "--quiet", ...written], env: childEnv(), clearEnv: true })
    .output();
  console.log(`wrote ${written.join(", ")}`);
  const broken = results.runs.filter((run) =>
    !(run.accepted > 0 && run.held > 0 && Number.isFinite(run.traceMs)) ||
    (run.replay !== undefined && !(run.replay.spansPerSecond > 0 && run.replay.failed === 0))
  );
  if (broken.length > 0) {
    console.error(`receiver: the tool did not work: ${broken.map(describe).join("; ")}`);
    Deno.exitCode = 1;
  }
}
