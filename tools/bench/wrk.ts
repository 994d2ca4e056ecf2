/**
 * Closed-loop HTTP load with wrk (https://github.com/wg/wrk, Debian's `wrk` package): a fixed number of
 * connections, each sending its next request as soon as the previous one is answered. wrk is written in C and
 * needs a fraction of the CPU a JavaScript load generator does, which leaves more of a small machine to the
 * server under test. `wrk_report.lua` makes it print one JSON line at the end.
 *
 * @module
 */
import { childEnv } from "@example/harness/processes";

/** What one wrk run measured. */
export interface WrkResult {
  /** Responses received (any status). */
  requests: number;
  /** The run's length, in seconds. */
  seconds: number;
  /** Responses with a status of 400 or above. */
  non2xx: number;
  /** Connect, read and write errors and timeouts. */
  errors: number;
  /** Answered requests per second (responses below 400 over the run's duration). */
  requestsPerSecond: number;
  /** Latency percentiles of the responses, in microseconds. */
  latencyUs: { p50: number; p99: number; max: number; mean: number };
}

/** The JSON line `wrk_report.lua` prints. */
interface WrkReport {
  requests: number;
  durationUs: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  timeouts: number;
  non2xx: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

const REPORT_SCRIPT = new URL("wrk_report.lua", import.meta.url);

/** Parses the last line `wrk_report.lua` printed. @throws {Error} when there is none. */
export function parseWrkOutput(stdout: string): WrkResult {
  const line = stdout.trim().split("\n").findLast((line) => line.startsWith("{"));
  if (line === undefined) throw new Error(`wrk printed no report:\n${stdout.slice(-2000)}`);
  const report: WrkReport = JSON.parse(line);
  const seconds = report.durationUs / 1e6;
  const ok = report.requests - report.non2xx;
  return {
    requests: report.requests,
    seconds,
    non2xx: report.non2xx,
    errors: report.connectErrors + report.readErrors + report.writeErrors + report.timeouts,
    requestsPerSecond: seconds > 0 ? ok / seconds : 0,
    latencyUs: { p50: report.p50, p99: report.p99, max: report.max, mean: Math.round(report.mean) },
  };
}

/** What {@linkcode runWrk} sends, how hard and for how long. */
export interface WrkOptions {
  /** Where every request goes. */
  url: string;
  /** Connections, each sending its next request when its answer arrives. */
  connections: number;
  /** How long, in seconds. */
  durationSeconds: number;
  /**
   * A Lua script of wrk's hooks that ends by loading `wrk_report.lua` (default: that script alone, so every
   * request is a GET of `url`).
   */
  script?: URL;
  /** Variables for the script, beside the harness's own. */
  env?: Record<string, string>;
}

/**
 * Runs wrk against `url` with `connections` connections on one thread for `durationSeconds`.
 *
 * @throws {Error} when wrk is missing (`deno task --cwd tools/bench install`) or fails.
 */
export async function runWrk(
  { url, connections, durationSeconds, script = REPORT_SCRIPT, env = {} }: WrkOptions,
): Promise<WrkResult> {
  const output = await new Deno.Command("wrk", {
    args: [
      "--threads=1",
      `--connections=${connections}`,
      `--duration=${durationSeconds}s`,
      "--timeout=10s",
      `--script=${script.pathname}`,
      url,
    ],
    env: childEnv(env),
    clearEnv: true,
    stdin: "null",
  }).output();
  if (!output.success) throw new Error(`wrk failed:\n${new TextDecoder().decode(output.stderr)}`);
  return parseWrkOutput(new TextDecoder().decode(output.stdout));
}

/** The installed wrk's version line (`wrk -v`), or `undefined` when wrk cannot run. */
export async function wrkVersion(): Promise<string | undefined> {
  try {
    // `wrk -v` prints its version and exits with 1.
    const output = await new Deno.Command("wrk", { args: ["-v"], env: childEnv(), clearEnv: true }).output();
    return new TextDecoder().decode(output.stdout).split("\n")[0].match(/^wrk (\S+)/)?.[1];
  } catch {
    return undefined;
  }
}
