/**
 * Runs the example's server and client as real child processes with Deno's OpenTelemetry switched on and
 * exporting to a given OTLP endpoint: what `deno task demo` and the tests do.
 *
 * The children are started as `deno run` (the `deno` on `PATH`) from the repository root, with the
 * permissions of the `server` and `client` tasks, except that the server may listen on any port of its host
 * (it is started with `PORT=0` and reports the port it got).
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);

/** Environment variables for a child, on top of the parent's. */
export type ChildEnv = Record<string, string>;

/** Options shared by {@linkcode startServer} and {@linkcode runClient}. */
export interface ChildOptions {
  /** The OTLP/HTTP base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT`; omit to keep tracing off. */
  otlpEndpoint?: string;
  /** `http/json` (default, what Deno's own tests use) or `http/protobuf`. */
  protocol?: "http/json" | "http/protobuf";
  /** More variables, applied last. */
  env?: ChildEnv;
  /** Permission flags instead of the defaults. */
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

function command(script: string, permissions: string[], env: ChildEnv): Deno.Command {
  return new Deno.Command("deno", {
    args: ["run", ...permissions, script],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** A running server child. */
export interface ServerProcess extends AsyncDisposable {
  /** The URL of `GET /`, e.g. `http://127.0.0.1:41234/`. */
  url: string;
  port: number;
  process: Deno.ChildProcess;
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  stop(signal?: Deno.Signal): Promise<ExitResult>;
  /** Waits for the exit without signalling. */
  exited(): Promise<ExitResult>;
}

/** How a child ended and what it printed. */
export interface ExitResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** How long a child may take to start listening (or, for the client, to finish) before it is killed. */
const START_TIMEOUT_MS = 30_000;

/** The server task's permissions, with the listening port left open for `PORT=0`. */
export const SERVER_PERMISSIONS = [
  "--allow-net=127.0.0.1",
  "--allow-env=HOST,PORT,SIMULATED_WORK_MS,OTEL_EXPORTER_OTLP_ENDPOINT,OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,OTEL_EXPORTER_OTLP_PROTOCOL,OTEL_TRACES_SAMPLER_ARG,OTEL_PROPAGATORS",
];
/** The client task's permissions, for a server on 127.0.0.1 at any port. */
export const CLIENT_PERMISSIONS = [
  "--allow-net=127.0.0.1",
  "--allow-env=SERVER_URL,REQUEST_TIMEOUT_MS,MAX_RESPONSE_BYTES,GRAFANA_URL,OTEL_EXPORTER_OTLP_ENDPOINT,OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,OTEL_EXPORTER_OTLP_PROTOCOL,OTEL_TRACES_SAMPLER_ARG,OTEL_PROPAGATORS",
];

/**
 * Starts `server.ts` (or `options.script`) on 127.0.0.1 at a free port and resolves once it listens.
 *
 * @throws {Error} with the server's output when it exits before listening.
 */
export async function startServer(
  options: ChildOptions & {
    workMs?: number;
    /** Another script that serves like `server.ts` (the default) and prints the same line when listening. */
    script?: string;
  } = {},
): Promise<ServerProcess> {
  const env: ChildEnv = {
    ...otelEnv("server", options),
    // As in the server task: Deno 2.9 never answers a request whose baggage header has a bad percent-escape
    // (see tests/hostile_input_test.ts); the server uses no baggage, so it does not extract it.
    OTEL_PROPAGATORS: "tracecontext",
    HOST: "127.0.0.1",
    PORT: "0",
    SIMULATED_WORK_MS: String(options.workMs ?? 50),
    ...options.env,
  };
  const script = options.script ?? "server.ts";
  const process = command(script, options.permissions ?? SERVER_PERMISSIONS, env).spawn();
  const stdout = collect(process.stdout);
  const stderr = collect(process.stderr);
  const exit = (async () => {
    const status = await process.status;
    return { code: status.code, signal: status.signal, stdout: await stdout.text, stderr: await stderr.text };
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const listening = await Promise.race([
    stdout.line((line) => line.match(/^Server listening on (http:\/\/\S+)$/)?.[1]),
    exit.then(() => undefined),
    new Promise<null>((resolve) => timer = setTimeout(resolve, START_TIMEOUT_MS, null)),
  ]);
  clearTimeout(timer);
  if (listening === null) process.kill("SIGKILL");
  if (listening === undefined || listening === null) {
    const { code, stdout, stderr } = await exit;
    throw new Error(
      listening === null
        ? `${script} did not listen within ${START_TIMEOUT_MS} ms:\n${stdout}${stderr}`
        : `${script} exited with code ${code} before listening:\n${stdout}${stderr}`,
    );
  }
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    try {
      process.kill(signal);
    } catch {
      // Already exited.
    }
    return await exit;
  };
  return {
    url: listening,
    port: Number(new URL(listening).port),
    process,
    stop,
    exited: () => exit,
    [Symbol.asyncDispose]: () => stop().then(),
  };
}

/** What the client printed, and the trace id it named. */
export interface ClientResult extends ExitResult {
  /** The trace id from the client's `trace id: …` line, when it printed one. */
  traceId?: string;
}

/** Runs `client.ts` against `serverUrl` to its end. */
export async function runClient(serverUrl: string, options: ChildOptions = {}): Promise<ClientResult> {
  const env: ChildEnv = { ...otelEnv("client", options), SERVER_URL: serverUrl, ...options.env };
  const process = command("client.ts", options.permissions ?? CLIENT_PERMISSIONS, env).spawn();
  const timer = setTimeout(() => process.kill("SIGKILL"), START_TIMEOUT_MS);
  const output = await process.output().finally(() => clearTimeout(timer));
  const stdout = new TextDecoder().decode(output.stdout);
  return {
    code: output.code,
    signal: output.signal,
    stdout,
    stderr: new TextDecoder().decode(output.stderr),
    traceId: stdout.match(/^trace id: ([0-9a-f]{32})$/m)?.[1],
  };
}

/** Collects a stream's text, and lets a caller await the first line that matches. */
function collect(stream: ReadableStream<Uint8Array>) {
  let text = "";
  const waiters: Array<(line: string) => boolean> = [];
  const done = (async () => {
    let pending = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        for (const waiter of [...waiters]) if (waiter(line)) waiters.splice(waiters.indexOf(waiter), 1);
      }
    }
    return text;
  })();
  return {
    text: done,
    line<T>(match: (line: string) => T | undefined): Promise<T | undefined> {
      return new Promise((resolve) => {
        for (const line of text.split("\n")) {
          const value = match(line);
          if (value !== undefined) return resolve(value);
        }
        waiters.push((line) => {
          const value = match(line);
          if (value === undefined) return false;
          resolve(value);
          return true;
        });
        done.then(() => resolve(undefined));
      });
    },
  };
}
