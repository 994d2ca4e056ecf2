/**
 * The client of the example: one `fetch` to the server inside a `call-api` span, so that the client's span,
 * the HTTP CLIENT span Deno creates for the fetch and the server's spans form one trace.
 *
 * ```sh
 * OTEL_DENO=true OTEL_SERVICE_NAME=client deno run --allow-net client.ts
 * ```
 *
 * @module
 */
import { SpanStatusCode, trace } from "@opentelemetry/api";
import { otelWarnings } from "./config/otel_env.ts";
import { ConfigError, parseHttpUrl, parseInteger, readEnv } from "./config/env.ts";
import { DEFAULT_GRAFANA_URL, grafanaTraceUrl } from "./stack/grafana_link.ts";

const tracer = trace.getTracer("api-client", "1.0.0");

/** What the server answered, and the trace the call belongs to. */
export interface CallResult {
  /** The HTTP status code. */
  status: number;
  /** The body, parsed as JSON. */
  body: unknown;
  /** The trace id of the call, 32 hex digits (all zeros when tracing is off). */
  traceId: string;
}

/** A failed call: the server could not be reached, did not answer in time, or answered badly. */
export class CallError extends Error {
  /** The error's name. */
  override name = "CallError";
  /** The trace id of the failed call. */
  traceId: string;
  /** A failed call with its message and the trace id of the call. */
  constructor(message: string, traceId: string, options?: ErrorOptions) {
    super(message, options);
    this.traceId = traceId;
  }
}

/**
 * Calls the server at `url` inside a new active span `call-api`. Deno propagates the span's context in the
 * `traceparent` header of the request. A `received_response` event records the status. Any failure is
 * recorded on the span as an exception with ERROR status and thrown as a {@linkcode CallError}.
 */
export function callApi(url: URL | string, { timeoutMs = 5000 } = {}): Promise<CallResult> {
  return tracer.startActiveSpan("call-api", async (span) => {
    const { traceId } = span.spanContext();
    try {
      let response: Response;
      try {
        response = await fetch(url, {
          headers: { accept: "application/json" },
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw error instanceof DOMException && error.name === "TimeoutError"
          ? new CallError(`no answer from ${url} within ${timeoutMs} ms`, traceId, { cause: error })
          : new CallError(`cannot reach ${url}: ${(error as Error).message}`, traceId, { cause: error });
      }
      span.addEvent("received_response", { "http.response.status_code": response.status });
      const text = await response.text();
      if (!response.ok) {
        throw new CallError(`${url} answered ${response.status} ${response.statusText}`, traceId);
      }
      try {
        return { status: response.status, body: JSON.parse(text), traceId };
      } catch (error) {
        throw new CallError(`${url} answered ${response.status} with a body that is not JSON`, traceId, {
          cause: error,
        });
      }
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Where the client calls and how long it waits, read from the environment. */
export interface ClientConfig {
  /** The server's URL (`SERVER_URL`, default `http://localhost:8000/`). */
  url: URL;
  /** How long to wait for the answer, in ms (`REQUEST_TIMEOUT_MS`, default 5000). */
  timeoutMs: number;
  /** Where the Grafana of `docker compose up` is, for the link to the trace. */
  grafanaUrl: URL;
}

/**
 * Reads `SERVER_URL` (default `http://localhost:8000/`), `REQUEST_TIMEOUT_MS` (default 5000) and
 * `GRAFANA_URL` (default `http://localhost:3000`).
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
    grafanaUrl: parseHttpUrl("GRAFANA_URL", env("GRAFANA_URL"), DEFAULT_GRAFANA_URL),
  };
}

function printTraceId(traceId: string, grafanaUrl: URL): void {
  if (/^0+$/.test(traceId)) {
    console.log("trace id: none (tracing is off; run with OTEL_DENO=true)");
  } else {
    console.log(`trace id: ${traceId}`);
    console.log(`Grafana:  ${grafanaTraceUrl(traceId, { grafanaUrl })}`);
  }
}

if (import.meta.main) {
  for (const warning of otelWarnings()) console.error(`Client: warning: ${warning}`);
  let config: ClientConfig | undefined;
  try {
    config = readClientConfig();
    const result = await callApi(config.url, { timeoutMs: config.timeoutMs });
    console.log(`Client: received ${JSON.stringify(result.body)}`);
    printTraceId(result.traceId, config.grafanaUrl);
  } catch (error) {
    if (!(error instanceof CallError || error instanceof ConfigError)) throw error;
    console.error(`Client: ${error.message}`);
    if (error instanceof CallError) printTraceId(error.traceId, config!.grafanaUrl);
    Deno.exitCode = error instanceof ConfigError ? 2 : 1;
  }
}
