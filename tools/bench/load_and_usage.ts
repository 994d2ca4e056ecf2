/**
 * The benchmark's own processes: the constant-rate load generator (vegeta; closed-loop load is `wrk.ts`),
 * the example client's call path (`client_load.ts`), and the readers of CPU time and memory (`node/proc.cjs`). The servers under
 * test and `client.ts` are started by the shared harness (`tools/harness/processes.ts`).
 *
 * Every child gets a clean environment ({@linkcode childEnv}), so that OpenTelemetry variables of the calling
 * shell cannot change a measurement.
 *
 * @module
 */
import { childEnv, NODE, NODE_PEER_DIR, ROOT, spawn } from "@example/harness/processes";
import { collectOutput } from "@example/harness/output";

/** CPU time and memory of a process, read from `/proc`. */
export interface ProcessUsage {
  /** Peak resident set size (VmHWM), in KiB. */
  peakRssKiB: number;
  /** User plus system CPU time so far, in seconds. */
  cpuSeconds: number;
}

/**
 * Runs `node/proc.cjs` (Deno reads `/proc` only with `--allow-all`) and returns what it printed, parsed.
 *
 * @throws {Error} when it fails.
 */
export async function procInfo<T>(...args: string[]): Promise<T> {
  const output = await new Deno.Command(NODE, {
    args: ["proc.cjs", ...args],
    cwd: NODE_PEER_DIR,
    env: childEnv(),
    clearEnv: true,
    stdin: "null",
  }).output();
  if (output.code !== 0) {
    throw new Error(`node proc.cjs ${args.join(" ")} failed:\n${new TextDecoder().decode(output.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/** CPU time of all cores since boot: busy and in total (busy + idle), in seconds. */
export interface MachineCpu {
  /** Busy CPU time (user, nice, system, interrupts, steal) of all cores since boot, in seconds. */
  busySeconds: number;
  /** Busy plus idle (and I/O wait) CPU time of all cores since boot, in seconds. */
  totalSeconds: number;
}

/** Reads the machine's CPU time counters (`/proc/stat`). */
export function machineCpu(): Promise<MachineCpu> {
  return procInfo<MachineCpu>("cpu");
}

/** The peak RSS and CPU time of process `pid` so far. */
export function processUsage(pid: number): Promise<ProcessUsage> {
  return procInfo<ProcessUsage>("usage", String(pid));
}

/** What the constant-rate load generator (vegeta) measured. */
export interface LoadResult {
  /** 2xx answers. */
  ok: number;
  /** Requests sent (answered or still in flight at the end). */
  sent: number;
  /** Answers other than 2xx during the measurement. */
  non2xx: number;
  /** Requests that failed without an answer (connection errors). */
  errors: number;
  /** The measurement's length, in seconds. */
  seconds: number;
  /** 2xx answers per second of the measurement. */
  requestsPerSecond: number;
  /** Latency percentiles, the maximum and the mean, in microseconds. */
  latencyUs: { p50: number; p99: number; max: number; mean: number };
  /** The load generator. */
  tool: string;
}

const VEGETA = new URL(".bin/vegeta", import.meta.url);

/** vegeta's JSON report (`vegeta report -type=json`); durations in nanoseconds. */
interface VegetaReport {
  latencies: { "50th": number; "99th": number; max: number; mean: number };
  duration: number;
  requests: number;
  throughput: number;
  status_codes: Record<string, number>;
  errors: string[] | null;
}

/**
 * Sends `rate` requests per second to `url` for `durationSeconds` at a constant pace (an open model: vegeta
 * does not wait for an answer before the next request is due), and returns what it measured in the shape of
 * {@linkcode LoadResult}. At most `maxWorkers` requests are in flight at once.
 *
 * @throws {Error} when vegeta is not installed (`tools/bench/install.sh`) or fails.
 */
export async function runRateLoad(
  { url, rate, durationSeconds, maxWorkers = 256 }: {
    url: string;
    rate: number;
    durationSeconds: number;
    maxWorkers?: number;
  },
): Promise<LoadResult> {
  const report = await runVegeta(url, [
    `-rate=${rate}/s`,
    `-duration=${durationSeconds}s`,
    `-max-workers=${maxWorkers}`,
    "-timeout=10s",
  ]);
  return loadResultOf(report);
}

/** Runs `vegeta attack <attackFlags>` on `GET url`, piped into `vegeta report -type=json`; gives the report. */
async function runVegeta(url: string, attackFlags: string[]): Promise<VegetaReport> {
  const attack = spawn(VEGETA, ["attack", ...attackFlags], ROOT, {}, { stdin: "piped" });
  const report = spawn(VEGETA, ["report", "-type=json"], ROOT, {}, { stdin: "piped" });
  const writer = attack.stdin.getWriter();
  await writer.write(new TextEncoder().encode(`GET ${url}\n`));
  await writer.close();
  const attackErrors = new Response(attack.stderr).text();
  const [attacked, reported] = await Promise.all([
    attack.status,
    report.output(),
    attack.stdout.pipeTo(report.stdin),
  ]);
  if (!attacked.success || !reported.success) {
    const stderr = attacked.success ? new TextDecoder().decode(reported.stderr) : await attackErrors;
    throw new Error(`vegeta failed:\n${stderr}`);
  }
  return JSON.parse(new TextDecoder().decode(reported.stdout));
}

/** vegeta's report as a {@linkcode LoadResult}: answers counted by status, durations in microseconds. */
function loadResultOf(result: VegetaReport): LoadResult {
  const ok = Object.entries(result.status_codes)
    .filter(([code]) => code.startsWith("2"))
    .reduce((sum, [, count]) => sum + count, 0);
  const seconds = result.duration / 1e9;
  return {
    ok,
    sent: result.requests,
    non2xx: Object.entries(result.status_codes)
      .filter(([code]) => code !== "0" && !code.startsWith("2"))
      .reduce((sum, [, count]) => sum + count, 0),
    errors: result.status_codes["0"] ?? 0,
    seconds,
    requestsPerSecond: ok / seconds,
    latencyUs: {
      p50: Math.round(result.latencies["50th"] / 1000),
      p99: Math.round(result.latencies["99th"] / 1000),
      max: Math.round(result.latencies.max / 1000),
      mean: Math.round(result.latencies.mean / 1000),
    },
    tool: "vegeta",
  };
}

/**
 * Checks that the load generators are installed.
 *
 * @throws {Error} saying how to install them when they are not.
 */
export async function checkTools(): Promise<void> {
  const succeeds = async (command: Deno.Command) => {
    try {
      return (await command.output()).success;
    } catch {
      return false; // Not found.
    }
  };
  const missing: string[] = [];
  const node = new Deno.Command(NODE, {
    args: ["--print", "require.resolve('@opentelemetry/sdk-node')"],
    cwd: NODE_PEER_DIR,
    env: childEnv(),
    clearEnv: true,
    stdout: "null",
    stderr: "null",
  });
  if (!await succeeds(node)) missing.push("tools/bench/node's packages and its pinned Node.js (npm ci)");
  if (!await succeeds(new Deno.Command(VEGETA, { args: ["-version"], stdout: "null", stderr: "null" }))) {
    missing.push("vegeta in tools/bench/.bin");
  }
  // `wrk -v` exits with 1 after printing its version: only a missing wrk throws.
  try {
    await new Deno.Command("wrk", { args: ["-v"], stdout: "null", stderr: "null" }).output();
  } catch {
    missing.push("wrk on PATH (Debian/Ubuntu: apt-get install wrk)");
  }
  if (missing.length > 0) {
    throw new Error(
      `missing: ${
        missing.join("; ")
      }. Install them with \`deno task --cwd tools/bench install\` (tools/bench/install.sh).`,
    );
  }
}

/** What `client_load.ts` measured. */
export interface ClientLoadResult {
  /** Calls completed during the warm-up. */
  warmupCalls: number;
  /** Calls completed in the measurement. */
  calls: number;
  /** Calls that failed. */
  errors: number;
  /** The measurement's length, in seconds. */
  seconds: number;
  /** Calls per second of the measurement. */
  callsPerSecond: number;
  /** Latency percentiles, in microseconds. */
  latencyUs: { p50: number; p99: number };
  /** The client process's own CPU time, from its start to the end of the measurement. */
  cpuSeconds: number;
  /** The client process's resident set size at the end of the measurement, in KiB. */
  rssKiBAtEnd: number;
  /** The V8 heap in use at the end of the measurement, in KiB. */
  heapUsedKiBAtEnd: number;
  /**
   * The client process's peak resident set size (VmHWM) from its start to the end of the measurement, in
   * KiB: read from `/proc` while it waits, before it exits (and exports the spans it still holds).
   */
  peakRssKiB: number;
}

/** How `client_load.ts` loads the server: see {@linkcode runClientLoad}. */
export interface ClientLoadOptions {
  /** Concurrent loops of calls. */
  concurrency: number;
  /** How long the measured calls go on, in seconds. */
  durationSeconds: number;
  /** How long calls go on before the measurement, in seconds (default 0). */
  warmupSeconds?: number;
  /** The client's OTEL_* variables (none: tracing off). */
  env?: Record<string, string>;
}

/**
 * Starts the example client's call path, `client_load.ts --hold`, against `url` with `env` (OTEL_* variables),
 * its standard input piped: it prints what it measured as one JSON line, then waits for standard input to close
 * before it exits.
 */
export function spawnClientLoad(
  url: string,
  { concurrency, durationSeconds, warmupSeconds = 0, env = {} }: ClientLoadOptions,
): Deno.ChildProcess {
  const { port } = new URL(url);
  return spawn(
    "deno",
    [
      "run",
      `--allow-net=127.0.0.1:${port}`,
      "tools/bench/client_load.ts",
      `--url=${url}`,
      `--concurrency=${concurrency}`,
      `--duration=${durationSeconds}`,
      `--warmup=${warmupSeconds}`,
      "--hold",
    ],
    ROOT,
    env,
    { stdin: "piped" },
  );
}

/**
 * Runs the example client's call path (`client_load.ts --hold`) against `url`, with `env` (OTEL_* variables),
 * reads its peak RSS once it has printed what it measured, then lets it exit.
 *
 * @throws {Error} with its output when it fails or takes longer than its calls should.
 */
export async function runClientLoad(
  url: string,
  { concurrency, durationSeconds, warmupSeconds = 0, env = {} }: ClientLoadOptions,
): Promise<ClientLoadResult> {
  const child = spawnClientLoad(url, { concurrency, durationSeconds, warmupSeconds, env });
  // Only a stuck run is killed: the calls take warm-up plus duration, start-up and exit take seconds.
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, (warmupSeconds + durationSeconds + 60) * 1000);
  const stdout = collectOutput(child.stdout);
  const stderr = collectOutput(child.stderr);
  const stdin = child.stdin.getWriter();
  try {
    const printed = await stdout.line((line) => line.startsWith("{") ? line : undefined);
    // While it waits for its standard input to close, its VmHWM is the peak of this run's calls alone.
    const peak = printed === undefined ? undefined : await processUsage(child.pid);
    await stdin.close();
    const status = await child.status;
    if (!status.success || printed === undefined || peak === undefined) {
      const why = `code ${status.code}${killed ? ", killed: too slow" : ""}`;
      throw new Error(`client_load.ts failed (${why}):\n${await stderr.text}`);
    }
    const result: Omit<ClientLoadResult, "peakRssKiB"> = JSON.parse(printed);
    return { ...result, peakRssKiB: peak.peakRssKiB };
  } finally {
    clearTimeout(timer);
    await stdin.close().catch(() => {}); // Closed already, or the process is gone.
    await child.status;
    await Promise.all([stdout.text, stderr.text]);
  }
}

/** Runs a command to its end and returns its standard output, trimmed (empty when it cannot run). */
export async function commandOutput(command: string | URL, args: string[], cwd: URL = ROOT): Promise<string> {
  try {
    const output = await new Deno.Command(command, { args, cwd, env: childEnv(), clearEnv: true }).output();
    return new TextDecoder().decode(output.stdout).trim();
  } catch {
    return "";
  }
}
