/**
 * The HTTP side of `deno task test:stack`: where the backends of the Grafana stack listen
 * ({@linkcode endpointsFromEnv}), asking them, waiting for data to arrive, and the one kind of failure the
 * check reports ({@linkcode CheckError}, printed as one line).
 *
 * @module
 */

/** A failed expectation of the end-to-end check. */
export class CheckError extends Error {
  /** The error's name. */
  override name = "CheckError";
}

const HINT = "start the stack first: `docker compose -f tools/stack/docker-compose.yml up -d`, " +
  "or `tools/stack/run_native.sh` (the same versions, native)";

/**
 * GETs `url`; when nothing answers, fails with one line naming `what` and how to start the stack.
 *
 * @throws {CheckError} when the connection fails or takes longer than 5 s.
 */
export async function get(url: string, what: string): Promise<Response> {
  try {
    return await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (error) {
    const cause = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : "";
    // "error sending request for url (...): client error (Connect): tcp connect error: Connection refused"
    const reason = (cause || (error as Error).message).split("\n")[0].split(": ").at(-1);
    throw new CheckError(`${what}: nothing answers at ${url} (${reason}); ${HINT}`);
  }
}

/**
 * GETs `url` and parses its JSON body.
 *
 * @throws {CheckError} when nothing answers, or the status is not 2xx (with the start of the body).
 */
export async function getJson(url: string, what: string): Promise<unknown> {
  const res = await get(url, what);
  const text = await res.text();
  if (!res.ok) throw new CheckError(`${what} answered ${res.status} at ${url}: ${text.trim().slice(0, 300)}`);
  return JSON.parse(text);
}

/**
 * Calls `attempt` once a second until it returns a value, for at most `timeoutMs`. A {@linkcode CheckError}
 * thrown by an attempt means "not yet"; the last one is named when time runs out.
 *
 * @throws {CheckError} on timeout; any other error at once.
 */
export async function poll<T>(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      if (!(error instanceof CheckError)) throw error;
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new CheckError(
    `timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`,
  );
}

/** Prints one passed step of the check. */
export function ok(message: string): void {
  console.log(`ok   ${message}`);
}

/** Where the stack listens, and how long the check waits for data to arrive. */
export interface StackEndpoints {
  /** Tempo's HTTP API. */
  tempoUrl: string;
  /** Loki's HTTP API. */
  lokiUrl: string;
  /** Prometheus's HTTP API. */
  prometheusUrl: string;
  /** The Collector's health_check extension. */
  healthUrl: string;
  /** Where the example exports OTLP/HTTP (the Collector). */
  otlpEndpoint: string;
  /** Grafana, only for the link printed at the end. */
  grafanaUrl: string;
  /** How long to wait for each piece of data, in milliseconds. */
  timeoutMs: number;
}

/** The endpoints from the environment, with the defaults of the compose file and the native run. */
export function endpointsFromEnv(): StackEndpoints {
  const env = (name: string, fallback: string) => (Deno.env.get(name) || fallback).replace(/\/+$/, "");
  return {
    tempoUrl: env("TEMPO_URL", "http://127.0.0.1:3200"),
    lokiUrl: env("LOKI_URL", "http://127.0.0.1:3100"),
    prometheusUrl: env("PROMETHEUS_URL", "http://127.0.0.1:9090"),
    healthUrl: env("OTELCOL_HEALTH_URL", "http://127.0.0.1:13133"),
    otlpEndpoint: env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
    grafanaUrl: env("GRAFANA_URL", "http://localhost:3000"),
    timeoutMs: Number(env("STACK_CHECK_TIMEOUT_S", "120")) * 1000,
  };
}
