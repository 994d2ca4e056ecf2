/**
 * Counts the CPU instructions a server spends per request, with valgrind's callgrind: a figure that does not
 * move with the machine's other work, where req/s and CPU time do (the main benchmark, `bench.ts`, measures
 * those). Each server runs under callgrind; after `--warmup` requests (so that V8 has compiled the hot path),
 * the counters are zeroed, `--requests` requests are sent one after another on one kept-alive connection, and
 * the counters are read. Instructions are counted per thread: the main thread runs the JavaScript handler;
 * the others are Deno's exporter and V8's background compiler and garbage collector, whose share depends on
 * how valgrind schedules threads, so the main thread's count is the one to compare.
 *
 * ```sh
 * deno task --cwd tools/bench instructions                      # the tutorial's server and server.ts, untraced and traced
 * deno task --cwd tools/bench instructions --traced --env=OTEL_TRACES_SAMPLER=always_off server.ts
 * deno task --cwd tools/bench instructions my_patched_copy.ts   # any script that serves like server.ts
 * ```
 *
 * Instructions are not time (a cache miss costs more than an add), but for two versions of the same handler on
 * the same runtime they rank like CPU time, and a difference of 0.1 % repeats.
 *
 * @module
 */
import { FlagError, helpText, parseFlags } from "@example/harness/flags";
import { startServer } from "@example/harness/processes";
import { startRawSink } from "./raw_sink.ts";

/** Where callgrind writes its counts; removed after each server. */
const OUT_DIR = new URL(".callgrind/", import.meta.url);

/** What one server spent per request. */
export interface InstructionCount {
  /** The script that served. */
  script: string;
  /** Whether Deno's OpenTelemetry was on (exporting to a sink that stores nothing). */
  traced: boolean;
  /** Requests counted. */
  requests: number;
  /** Instructions per request on the main thread (the JavaScript handler and Deno's HTTP server). */
  main: number;
  /** Instructions per request on all threads. */
  all: number;
}

/**
 * The instruction totals of callgrind's output files of one dump, one file per thread (`--separate-threads`):
 * `main` is thread 1's.
 *
 * @throws {Error} when a file has no `summary:` or `totals:` line, or there is no file of thread 1.
 */
export function parseCallgrindTotals(files: { name: string; text: string }[]): { main: number; all: number } {
  let main: number | undefined;
  let all = 0;
  for (const { name, text } of files) {
    const total = text.match(/^(?:summary|totals): (\d+)/m)?.[1];
    if (total === undefined) throw new Error(`no instruction total in callgrind output ${name}`);
    all += Number(total);
    if (/-0*1$/.test(name)) main = Number(total);
  }
  if (main === undefined) throw new Error("no callgrind output of the main thread (-01)");
  return { main, all };
}

async function callgrindControl(command: "-z" | "-d", pid: number, env: Record<string, string>) {
  // callgrind_control finds the process through a file named after the user and HOST: same variables.
  const output = await new Deno.Command("callgrind_control", {
    args: [command, String(pid)],
    env,
    clearEnv: true,
    stdin: "null",
  }).output();
  if (output.code !== 0) {
    throw new Error(`callgrind_control ${command} ${pid} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

async function sendRequests(url: string, count: number) {
  for (let i = 0; i < count; i++) {
    const response = await fetch(url);
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  }
}

/** Runs `script` under callgrind and counts its instructions per request of `GET /`. */
export async function countInstructions(
  script: string,
  { traced, warmup, requests, env = {} }: {
    traced: boolean;
    warmup: number;
    requests: number;
    env?: Record<string, string>;
  },
): Promise<InstructionCount> {
  await Deno.mkdir(OUT_DIR, { recursive: true });
  const prefix = new URL(`cg-${crypto.randomUUID()}`, OUT_DIR).pathname;
  await using sink = startRawSink({ maxBytes: 64 * 2 ** 20 });
  const serverEnv = { SIMULATED_WORK_MS: "0", ...env };
  const server = await startServer({
    script,
    wrapper: [
      "valgrind",
      "--tool=callgrind",
      "--separate-threads=yes",
      "--smc-check=all-non-file", // V8 writes machine code at run time
      `--callgrind-out-file=${prefix}`,
    ],
    otlpEndpoint: traced ? sink.url : undefined,
    protocol: "http/protobuf",
    env: serverEnv,
    startTimeoutMs: 180_000,
  });
  try {
    const controlEnv = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOST: "127.0.0.1" };
    await sendRequests(server.url, warmup);
    await callgrindControl("-z", server.pid, controlEnv);
    await sendRequests(server.url, requests);
    await callgrindControl("-d", server.pid, controlEnv);
    const files = [];
    for await (const entry of Deno.readDir(OUT_DIR)) {
      const name = new URL(entry.name, OUT_DIR).pathname;
      // The dump's files: <prefix>.<n>-<thread>; <n> counts dumps, and this run made one.
      if (name.startsWith(`${prefix}.`) && /\.\d+-\d+$/.test(name)) {
        files.push({ name, text: await Deno.readTextFile(name) });
      }
    }
    const { main, all } = parseCallgrindTotals(files);
    return { script, traced, requests, main: main / requests, all: all / requests };
  } finally {
    await server.stop();
    for await (const entry of Deno.readDir(OUT_DIR)) {
      const name = new URL(entry.name, OUT_DIR).pathname;
      if (name.startsWith(prefix)) await Deno.remove(name);
    }
  }
}

/** The results as a Markdown table, each row's ratio against the first row of the same tracing. */
export function instructionTable(counts: InstructionCount[]): string {
  const format = (n: number) => Math.round(n).toLocaleString("en-US");
  const lines = [
    "| Server | Tracing | main thread, instructions/request | vs first | all threads | vs first |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
  ];
  for (const count of counts) {
    const first = counts.find((other) => other.traced === count.traced)!;
    lines.push(
      `| ${count.script} | ${count.traced ? "traced" : "off"} | ${format(count.main)} | ` +
        `${(count.main / first.main).toFixed(3)} | ${format(count.all)} | ${
          (count.all / first.all).toFixed(3)
        } |`,
    );
  }
  return lines.join("\n");
}

/** The flags of `deno task --cwd tools/bench instructions`. */
export const INSTRUCTIONS_FLAGS = {
  traced: { type: "boolean", help: "count traced requests only" },
  untraced: { type: "boolean", help: "count untraced requests only" },
  warmup: { type: "number", default: 1500, help: "requests before the counters are zeroed" },
  requests: { type: "number", default: 1000, min: 1, help: "requests counted" },
  env: { type: "strings", default: [], repeated: true, help: "NAME=VALUE set for the server (repeatable)" },
} as const;

/** The environment that `--env=NAME=VALUE` flags give. @throws {FlagError} for an item without a name. */
export function envPairs(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at < 1) throw new FlagError(`--env wants NAME=VALUE, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

if (import.meta.main) {
  let parsed, env;
  try {
    parsed = parseFlags(INSTRUCTIONS_FLAGS, Deno.args, { positionals: true });
    env = envPairs(parsed.values.env);
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    console.error(`instructions: ${error.message}`);
    Deno.exit(2);
  }
  if (parsed.help) {
    const usage =
      "deno task --cwd tools/bench instructions [flags] [script ...]   (default: tools/bench/tutorial_server.ts server.ts)";
    console.log(helpText(usage, INSTRUCTIONS_FLAGS));
    Deno.exit(0);
  }
  const { values, positionals } = parsed;
  const { warmup, requests } = values;
  const scripts = positionals.length > 0 ? positionals : ["tools/bench/tutorial_server.ts", "server.ts"];
  const tracings = values.traced ? [true] : values.untraced ? [false] : [false, true];
  const counts: InstructionCount[] = [];
  for (const traced of tracings) {
    for (const script of scripts) {
      const count = await countInstructions(script, { traced, warmup, requests, env });
      console.error(
        `${script}, ${traced ? "traced" : "untraced"}: ${
          Math.round(count.main)
        } instructions per request on ` +
          `the main thread, ${Math.round(count.all)} on all threads`,
      );
      counts.push(count);
    }
  }
  console.log(instructionTable(counts));
}
