/**
 * The server's side of the example's plumbing: its settings, the signal that starts a graceful shutdown, and
 * the one-line messages for the errors that stop it at start.
 *
 * @module
 */
import { ConfigError, parseBoolean, parseInteger, readEnv } from "./env.ts";

/** The variables the server reads (its task allows exactly these, and those of `otelWarnings`). */
export const SERVER_VARIABLES = ["HOST", "PORT", "SIMULATED_WORK_MS", "TRACE_RESPONSE"] as const;

/** Where the server listens, how long its simulated work takes, and whether it sends `traceresponse`. */
export interface ServerConfig {
  /** The address to listen on (`HOST`, default `127.0.0.1`). */
  hostname: string;
  /** The port to listen on (`PORT`, default 8000; 0 picks a free one). */
  port: number;
  /** How long `GET /`'s simulated work takes, in milliseconds (`SIMULATED_WORK_MS`, default 50). */
  workMs: number;
  /** Whether each traced response carries a `traceresponse` header (`TRACE_RESPONSE`, default `false`). */
  traceResponse: boolean;
}

/**
 * Reads `HOST` (default `127.0.0.1`), `PORT` (default 8000), `SIMULATED_WORK_MS` (default 50) and
 * `TRACE_RESPONSE` (`true` or `false`, default `false`).
 *
 * @throws {ConfigError} when a value is not usable.
 */
export function readServerConfig(env: (name: string) => string | undefined = readEnv): ServerConfig {
  return {
    hostname: env("HOST") ?? "127.0.0.1",
    port: parseInteger("PORT", env("PORT"), { fallback: 8000, min: 0, max: 65535 }),
    workMs: parseInteger("SIMULATED_WORK_MS", env("SIMULATED_WORK_MS"), {
      fallback: 50,
      min: 0,
      max: 60_000,
    }),
    traceResponse: parseBoolean("TRACE_RESPONSE", env("TRACE_RESPONSE"), false),
  };
}

/**
 * An `AbortSignal` that aborts at the first SIGINT or SIGTERM (SIGINT only on Windows). Later signals are
 * ignored: `deno task` and a terminal's Ctrl-C can deliver the same stop twice, and a second signal must
 * neither repeat the shutdown nor kill the process while it still exports its telemetry. The listeners stay
 * for the life of the process; they do not keep it alive.
 */
export function shutdownSignal(): AbortSignal {
  const controller = new AbortController();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, () => controller.abort(signal));
  return controller.signal;
}

/**
 * The one line to print for an error that stops the server before it serves, or `undefined` for an error
 * that is a bug (to be thrown on).
 */
export function startupErrorMessage(error: unknown, { hostname, port }: ServerConfig): string | undefined {
  if (error instanceof ConfigError || error instanceof Deno.errors.NotCapable) return error.message;
  if (error instanceof Deno.errors.AddrInUse) {
    return `cannot listen on ${hostname}:${port}: the address is already in use (another server running?); ` +
      `stop that one, or choose another port: PORT=${port === 8001 ? 8002 : 8001} deno task server`;
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return `cannot listen on ${hostname}:${port}: no such address on this machine; set HOST to one of its ` +
      "addresses (127.0.0.1, or 0.0.0.0 for all)";
  }
  return undefined;
}
