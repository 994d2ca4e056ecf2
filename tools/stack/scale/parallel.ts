/**
 * Starts the example's server under `deno serve --parallel` (entry file `tools/stack/scale/serve_parallel.ts`) on
 * 127.0.0.1 at a free port, with a given number of workers, for the scale check and the `--parallel`
 * benchmark.
 *
 * @module
 */
import { type ChildEnv, otelEnv, ROOT, spawn } from "@example/harness/processes";

export type { ChildEnv };
import { collectOutput } from "@example/harness/output";

/** The permissions of `serve_parallel.ts`: the network of the server task, and the one variable it reads. */
export const PARALLEL_PERMISSIONS = ["--allow-net=127.0.0.1", "--allow-env=SIMULATED_WORK_MS"];

/** A running `deno serve --parallel`. */
export interface ParallelServer extends AsyncDisposable {
  /** Where it listens, `http://127.0.0.1:<port>/`. */
  url: string;
  /** Its process id (every worker is a thread of it). */
  pid: number;
  /** Stops it (SIGTERM: `deno serve` drains and Deno exports what it holds) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startParallelServer}. */
export interface ParallelOptions {
  /** Workers (`DENO_JOBS`). */
  workers: number;
  /** Export to this OTLP/HTTP endpoint; omit for tracing off. */
  otlpEndpoint?: string;
  /** `SIMULATED_WORK_MS` (default 50, as `server.ts`). */
  workMs?: number;
  /** More variables, applied last. */
  env?: ChildEnv;
  /**
   * Read its output at most every this many milliseconds (default 10, as the benchmark does): it prints a
   * line per request, and a pipe read too rarely fills up and stalls it.
   */
  outputReadIntervalMs?: number;
}

/** Starts it and resolves once it listens. */
export async function startParallelServer(options: ParallelOptions): Promise<ParallelServer> {
  const env: ChildEnv = {
    ...otelEnv("server", { otlpEndpoint: options.otlpEndpoint, protocol: "http/protobuf" }),
    OTEL_PROPAGATORS: "tracecontext", // as the server task (config/server.env)
    DENO_JOBS: String(options.workers),
    SIMULATED_WORK_MS: String(options.workMs ?? 50),
    ...options.env,
  };
  const args = ["serve", "--parallel", "--host=127.0.0.1", "--port=0", ...PARALLEL_PERMISSIONS];
  const child = spawn("deno", [...args, "tools/stack/scale/serve_parallel.ts"], ROOT, env);
  const stdout = collectOutput(child.stdout, undefined, {
    readIntervalMs: options.outputReadIntervalMs ?? 10,
  });
  const stderr = collectOutput(child.stderr);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const url = await Promise.race([
    stderr.line((line) => line.match(/^deno serve: Listening on (http:\/\/[^\s/]+)/)?.[1]),
    new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), 30_000)),
  ]);
  clearTimeout(timer);
  const exit = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // Exited already.
    }
  };
  if (url === undefined) {
    exit("SIGKILL");
    await child.status;
    throw new Error(
      `deno serve --parallel did not listen within 30 s:\n${await stdout.text}${await stderr.text}`,
    );
  }
  // SIGTERM lets `deno serve` drain and Deno export what it holds; one that does not end in 10 s is killed.
  const stop = async () => {
    exit("SIGTERM");
    const kill = setTimeout(() => exit("SIGKILL"), 10_000);
    await child.status.finally(() => clearTimeout(kill));
    await stdout.text;
  };
  return { url: `${url}/`, pid: child.pid, stop, [Symbol.asyncDispose]: stop };
}
