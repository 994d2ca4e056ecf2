/**
 * Starts the example's server and client as real child processes: what the tests, `deno task demo`, the
 * stack check and the benchmark run. One server of the benchmark is the Node.js peer (`tools/bench/node/`).
 *
 * - Children get exactly the environment given here, never the caller's: {@linkcode childEnv}.
 * - The server and the client run with the permissions of their `deno.json` tasks (the one source; see
 *   {@linkcode serverPermissions} and {@linkcode clientPermissions}) and the variables those tasks set.
 * - The server listens on port 0 and reports the port it got, so two runs never race for a port.
 *
 * ```ts ignore
 * import { runClient, startServer } from "./harness/processes.ts";
 * await using server = await startServer({ otlpEndpoint: "http://127.0.0.1:4318" });
 * const client = await runClient(server.url, { otlpEndpoint: "http://127.0.0.1:4318" });
 * console.log(client.traceId);
 * ```
 *
 * @module
 */
import { type CollectedOutput, collectOutput } from "./output.ts";
import { denoRunOf, envFileFlags, permissionFlags, scriptOf } from "./tasks.ts";

/** The repository's root directory, where children start. */
export const ROOT: URL = new URL("../../", import.meta.url);
/** The Node.js peer of the benchmark: `server.cjs`, `tracing.cjs` and their `node_modules`. */
export const NODE_PEER_DIR: URL = new URL("../bench/node/", import.meta.url);
/**
 * The Node.js that runs the peer: the release pinned in `tools/bench/node/package-lock.json` (the `node-linux-*`
 * packages; `npm ci` there installs the one for this machine), never the system's `node`.
 */
export const NODE: URL = new URL("node_modules/.bin/node", NODE_PEER_DIR);

/** Environment variables for a child. */
export type ChildEnv = Record<string, string>;

/**
 * What a child takes from the caller's environment: where to find programs and Deno's cache. Each is passed
 * only when the caller may read it (otherwise the child finds the same defaults on its own).
 */
export const PASSED_THROUGH: readonly string[] = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"];

/**
 * The whole environment of a child: {@linkcode PASSED_THROUGH} from the caller, `NO_COLOR=1`, and `extra`.
 * Use it with `clearEnv: true`, so that nothing else of the caller (such as `OTEL_TRACES_SAMPLER`) leaks in.
 */
export function childEnv(extra: ChildEnv = {}): ChildEnv {
  const env: ChildEnv = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  for (const variable of PASSED_THROUGH) {
    if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") continue;
    const value = Deno.env.get(variable);
    if (value !== undefined) env[variable] = value;
  }
  return { ...env, ...extra };
}

/** Options shared by {@linkcode startServer} and {@linkcode runClient}. */
export interface ChildOptions {
  /** The OTLP/HTTP base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT`; omit to keep tracing off. */
  otlpEndpoint?: string;
  /** `http/json` (default, what Deno's own tests use) or `http/protobuf`. */
  protocol?: "http/json" | "http/protobuf";
  /** More variables, applied last. */
  env?: ChildEnv;
  /** Permission flags (and other `deno run` flags) instead of the task's. */
  permissions?: string[];
}

/** Environment that turns Deno's OpenTelemetry on for a child, exporting quickly to `otlpEndpoint`. */
export function otelEnv(service: string, { otlpEndpoint, protocol = "http/json" }: ChildOptions): ChildEnv {
  if (otlpEndpoint === undefined) return { OTEL_DENO: "false" };
  return {
    OTEL_DENO: "true",
    OTEL_SERVICE_NAME: service,
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    // Short batch delays, so a long-running server's spans show up within a fraction of a second.
    OTEL_BSP_SCHEDULE_DELAY: "200",
    OTEL_BLRP_SCHEDULE_DELAY: "200",
  };
}

/**
 * The `server` task's permission flags, for a server on 127.0.0.1 at any port (it is started with `PORT=0`):
 * the task's own, with the ports taken out of `--allow-net`.
 */
export function serverPermissions(): string[] {
  return permissionFlags(denoRunOf("server")).map((flag) => {
    const [kind, list] = flag.split("=");
    if (kind !== "--allow-net" || list === undefined) return flag;
    const hosts = list.split(",").map((host) => host.replace(/:\d+$/, ""));
    return `${kind}=${[...new Set(hosts)].join(",")}`;
  });
}

/** The `client` task's permission flags, with `--allow-net` narrowed to the host and port of `serverUrl`. */
export function clientPermissions(serverUrl: string): string[] {
  const { hostname, port, protocol } = new URL(serverUrl);
  const address = `${hostname}:${port || (protocol === "https:" ? "443" : "80")}`;
  return permissionFlags(denoRunOf("client")).map((flag) =>
    flag.startsWith("--allow-net=") ? `--allow-net=${address}` : flag
  );
}

/**
 * The `--env-file` flags of a task: the server and the client always get their task's defaults from it, and
 * the variables the harness sets override them.
 */
export function taskEnvFiles(task: "server" | "client"): string[] {
  return envFileFlags(denoRunOf(task));
}

/** The variables a task sets in front of its `deno run` (`OTEL_DENO=true OTEL_SERVICE_NAME=server …`). */
export function taskEnv(task: "server" | "client"): ChildEnv {
  return { ...denoRunOf(task).env };
}

/** How a child ended and what it printed. */
export interface ExitResult {
  /** The exit code. */
  code: number;
  /** The signal that ended it, if one did. */
  signal: Deno.Signal | null;
  /** Its standard output (at most the last MiB). */
  stdout: string;
  /** Its standard error (at most the last MiB). */
  stderr: string;
  /** Whether it was killed with SIGKILL because it did not exit in time. */
  killed: boolean;
}

/** A running server child. */
export interface ServerProcess extends AsyncDisposable {
  /** The URL of `GET /`, e.g. `http://127.0.0.1:41234/`. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** Its process id. */
  pid: number;
  /** The child process itself. */
  process: Deno.ChildProcess;
  /**
   * Sends `signal` (default SIGTERM) and waits for the exit; sends SIGKILL when it has not exited after
   * `killAfterMs` (default 30 s).
   */
  stop(signal?: Deno.Signal, options?: { killAfterMs?: number }): Promise<ExitResult>;
  /** Waits for the exit without signalling. */
  exited(): Promise<ExitResult>;
}

/** How long a child may take to start listening (or, for the client, to finish) before it is killed. */
const START_TIMEOUT_MS = 30_000;

/** What a server runs on: Deno (the example's `server.ts`) or Node.js (the benchmark's peer). */
export type Runtime = "deno" | "node";

/** Options of {@linkcode startServer}. */
export interface ServerOptions extends ChildOptions {
  /** `SIMULATED_WORK_MS` (default 50). */
  workMs?: number;
  /** Another script that serves like `server.ts` (the default) and prints the same line when listening. */
  script?: string;
  /** `deno` (default): the example's `server.ts`; `node`: the benchmark's Node.js peer `server.cjs`. */
  runtime?: Runtime;
  /** Node.js only: load the OpenTelemetry SDK with HTTP auto-instrumentation (`--require ./tracing.cjs`). */
  nodeSdk?: boolean;
  /**
   * Deno only: a program (with its arguments) to run `deno` under, such as `["valgrind", "--tool=callgrind"]`:
   * the server runs as `wrapper… deno run …`, and `pid` is the wrapper's.
   */
  wrapper?: string[];
  /** How long the server may take to listen, in milliseconds (default 30 s). */
  startTimeoutMs?: number;
  /**
   * Read the server's output at most every this many milliseconds (default 0: as it comes). For load tests,
   * where the server prints a line per request and reading each line at once would take CPU from it.
   */
  outputReadIntervalMs?: number;
}

/**
 * The variables of a server started by {@linkcode startServer} (on top of {@linkcode childEnv}'s): for Deno,
 * those the `server` task sets; then tracing as `options` say, `HOST=127.0.0.1`, `PORT=0`,
 * `SIMULATED_WORK_MS`, and `options.env`.
 */
export function serverEnv(options: ServerOptions = {}): ChildEnv {
  const deno = (options.runtime ?? "deno") === "deno";
  const env: ChildEnv = {
    ...(deno ? taskEnv("server") : {}),
    ...otelEnv("server", options),
    HOST: "127.0.0.1",
    PORT: "0",
    SIMULATED_WORK_MS: String(options.workMs ?? 50),
  };
  if (!deno) delete env.OTEL_DENO;
  return { ...env, ...options.env };
}

/**
 * The variables of `client.ts` started by {@linkcode runClient} (on top of {@linkcode childEnv}'s): those the
 * `client` task sets, then tracing as `options` say, `SERVER_URL`, and `options.env`.
 */
export function clientEnv(serverUrl: string, options: ChildOptions = {}): ChildEnv {
  return { ...taskEnv("client"), ...otelEnv("client", options), SERVER_URL: serverUrl, ...options.env };
}

/**
 * Spawns `program args` in `cwd` hermetically: exactly {@linkcode childEnv}`(env)`, stdin closed (or piped,
 * for a child that waits for it to close), stdout and stderr piped.
 *
 * @throws {Error} when `args` grant every permission (`-A`, `--allow-all`).
 */
export function spawn(
  program: string | URL,
  args: string[],
  cwd: URL,
  env: ChildEnv,
  { stdin = "null" }: { stdin?: "null" | "piped" } = {},
): Deno.ChildProcess {
  // A child Deno is not bound by its parent's permissions (`--allow-run=deno` starts it with any flags): the
  // harness is what keeps each child to the flags it names.
  if (args.some((arg) => arg === "-A" || /^--allow-all(=|$)/.test(arg))) {
    throw new Error(`the harness starts no child with every permission: ${program} ${args.join(" ")}`);
  }
  return new Deno.Command(program, {
    args,
    cwd,
    env: childEnv(env),
    clearEnv: true,
    stdin,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/**
 * Starts `server.ts` (or `options.script`, or the Node.js peer) on 127.0.0.1 at port 0 and resolves once it
 * listens, with the port it reported.
 *
 * @throws {Error} with the server's output when it exits before listening or does not listen in time.
 */
export async function startServer(options: ServerOptions = {}): Promise<ServerProcess> {
  const runtime = options.runtime ?? "deno";
  const script = options.script ?? (runtime === "deno" ? scriptOf(denoRunOf("server")) : "server.cjs");
  const process = spawnServer(runtime, script, options);
  const stdout = collectOutput(process.stdout, undefined, { readIntervalMs: options.outputReadIntervalMs });
  const stderr = collectOutput(process.stderr);
  const ending = { killed: false };
  const exit: Promise<ExitResult> = (async () => {
    const status = await process.status;
    return {
      code: status.code,
      signal: status.signal,
      stdout: await stdout.text,
      stderr: await stderr.text,
      killed: ending.killed,
    };
  })();
  const url = await listeningUrl(process, stdout, exit, script, options.startTimeoutMs ?? START_TIMEOUT_MS);
  const stop = stopper(process, exit, ending);
  return {
    url,
    port: Number(new URL(url).port),
    pid: process.pid,
    process,
    stop,
    exited: () => exit,
    [Symbol.asyncDispose]: () => stop().then(),
  };
}

/** Spawns `script` on `runtime` as {@linkcode startServer} says, with the server's environment. */
function spawnServer(runtime: Runtime, script: string, options: ServerOptions): Deno.ChildProcess {
  const env = serverEnv(options);
  if (runtime !== "deno") {
    return spawn(
      NODE,
      [...(options.nodeSdk ? ["--require", "./tracing.cjs"] : []), script],
      NODE_PEER_DIR,
      env,
    );
  }
  const [program, ...prefix] = [...(options.wrapper ?? []), "deno"];
  return spawn(
    program,
    [...prefix, "run", ...taskEnvFiles("server"), ...(options.permissions ?? serverPermissions()), script],
    ROOT,
    env,
  );
}

/**
 * The URL the server prints once it listens; throws, with what it printed, when it exits first or does not
 * listen within `startTimeoutMs` (then it is killed).
 */
async function listeningUrl(
  process: Deno.ChildProcess,
  stdout: CollectedOutput,
  exit: Promise<ExitResult>,
  script: string,
  startTimeoutMs: number,
): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const listening = await Promise.race([
    stdout.line((line) => line.match(/^Server listening on (http:\/\/\S+)$/)?.[1]),
    exit.then(() => undefined),
    new Promise<null>((resolve) => timer = setTimeout(resolve, startTimeoutMs, null)),
  ]);
  clearTimeout(timer);
  if (listening === null) process.kill("SIGKILL");
  if (listening === undefined || listening === null) {
    const { code, stdout, stderr } = await exit;
    throw new Error(
      listening === null
        ? `${script} did not listen within ${startTimeoutMs} ms:\n${stdout}${stderr}`
        : `${script} exited with code ${code} before listening:\n${stdout}${stderr}`,
    );
  }
  return listening;
}

/** The {@linkcode ServerProcess.stop} of `process`; marks `ending.killed` when it had to SIGKILL it. */
function stopper(
  process: Deno.ChildProcess,
  exit: Promise<ExitResult>,
  ending: { killed: boolean },
): ServerProcess["stop"] {
  return async (signal = "SIGTERM", { killAfterMs = 30_000 } = {}) => {
    try {
      process.kill(signal);
    } catch {
      return await exit; // Already exited.
    }
    const timer = setTimeout(() => {
      ending.killed = true;
      try {
        process.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }, killAfterMs);
    try {
      return await exit;
    } finally {
      clearTimeout(timer);
    }
  };
}

/** What the client printed, and the trace id it named. */
export interface ClientResult extends ExitResult {
  /** The trace id from the client's `trace id: …` line, when it printed one. */
  traceId?: string;
}

/** Runs `client.ts` against `serverUrl` to its end (killed after 30 s). */
export async function runClient(serverUrl: string, options: ChildOptions = {}): Promise<ClientResult> {
  const result = await runDeno(scriptOf(denoRunOf("client")), {
    permissions: [...taskEnvFiles("client"), ...(options.permissions ?? clientPermissions(serverUrl))],
    env: clientEnv(serverUrl, options),
  });
  return { ...result, traceId: result.stdout.match(/^trace id: ([0-9a-f]{32})$/m)?.[1] };
}

/** Runs the `doctor` task's program (`deno task doctor`) with its task's flags and the variables `env`. */
export function runDoctor(env: ChildEnv): Promise<ExitResult> {
  const command = denoRunOf("doctor");
  return runDeno(scriptOf(command), { permissions: permissionFlags(command), env });
}

/** Options of {@linkcode runDeno}. */
export interface RunOptions {
  /** `deno run` flags, before the script. */
  permissions?: string[];
  /** Arguments after the script. */
  args?: string[];
  /** The child's variables, on top of {@linkcode childEnv}'s. */
  env?: ChildEnv;
  /** Kill it (SIGKILL) when it runs longer than this (default 30 s). */
  timeoutMs?: number;
}

/** Runs `deno run <permissions> <script> <args>` from the repository root to its end, hermetically. */
export async function runDeno(script: string, options: RunOptions = {}): Promise<ExitResult> {
  const process = spawn(
    "deno",
    ["run", ...(options.permissions ?? []), script, ...(options.args ?? [])],
    ROOT,
    options.env ?? {},
  );
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    process.kill("SIGKILL");
  }, options.timeoutMs ?? START_TIMEOUT_MS);
  const output = await process.output().finally(() => clearTimeout(timer));
  const text = new TextDecoder();
  return {
    code: output.code,
    signal: output.signal,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
    killed,
  };
}

/**
 * A port on 127.0.0.1 where nothing listened a moment ago, for a test of "nothing there" (a server that is
 * down, a collector that is absent). Never use it to start a server on: start it on port 0 instead.
 */
export function closedPort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/** The resident set size of process `pid` in MiB, as `ps` reports it (the tests' memory figures). */
export async function rssMiB(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(pid)],
    stdout: "piped",
  })
    .output();
  return Math.round(Number(new TextDecoder().decode(stdout).trim()) / 1024);
}
