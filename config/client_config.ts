/**
 * The client's settings, read from the environment.
 *
 * @module
 */
import { parseHttpUrl, parseInteger, readEnv } from "./env.ts";
import { DEFAULT_GRAFANA_URL } from "./grafana_link.ts";

/** The variables the client reads (its task allows exactly these, and those of `otelWarnings`). */
export const CLIENT_VARIABLES = [
  "SERVER_URL",
  "REQUEST_TIMEOUT_MS",
  "MAX_RESPONSE_BYTES",
  "GRAFANA_URL",
] as const;

/** Where the client calls, how long it waits and how much it reads. */
export interface ClientConfig {
  /** What the client calls (`SERVER_URL`, default `http://localhost:8000/`). */
  url: URL;
  /** How long the whole call may take, answer and body, in milliseconds (`REQUEST_TIMEOUT_MS`, default 5000). */
  timeoutMs: number;
  /** The largest body the client reads, in bytes (`MAX_RESPONSE_BYTES`, default 1 MiB). */
  maxBytes: number;
  /** Where the Grafana of `docker compose up` is, for the link to the trace (`GRAFANA_URL`). */
  grafanaUrl: URL;
}

/** The default of `MAX_RESPONSE_BYTES`: 1 MiB, far more than the server's answers. */
export const DEFAULT_MAX_RESPONSE_BYTES = 1_048_576;

/**
 * Reads `SERVER_URL` (default `http://localhost:8000/`), `REQUEST_TIMEOUT_MS` (default 5000),
 * `MAX_RESPONSE_BYTES` (default 1 MiB) and `GRAFANA_URL` (default `http://localhost:3000`).
 *
 * @throws {ConfigError} when a value is not usable.
 */
export function readClientConfig(env: (name: string) => string | undefined = readEnv): ClientConfig {
  return {
    url: parseHttpUrl("SERVER_URL", env("SERVER_URL"), "http://localhost:8000/"),
    timeoutMs: parseInteger("REQUEST_TIMEOUT_MS", env("REQUEST_TIMEOUT_MS"), {
      fallback: 5000,
      min: 1,
      max: 600_000,
    }),
    maxBytes: parseInteger("MAX_RESPONSE_BYTES", env("MAX_RESPONSE_BYTES"), {
      fallback: DEFAULT_MAX_RESPONSE_BYTES,
      min: 1,
      max: 1_073_741_824,
    }),
    grafanaUrl: parseHttpUrl("GRAFANA_URL", env("GRAFANA_URL"), DEFAULT_GRAFANA_URL),
  };
}
