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
import { CallError, fetchSameOrigin, readJson } from "./config/http_call.ts";
import { CLIENT_VARIABLES, DEFAULT_MAX_RESPONSE_BYTES, readClientConfig } from "./config/client_config.ts";
import { configOrExit, startupNotices } from "./config/startup.ts";
import { traceLines } from "./config/grafana_link.ts";

export { CallError };

const tracer = trace.getTracer("api-client", "1.0.0");

/**
 * Calls the server at `url` inside a new active span `call-api`. Deno creates the CLIENT span of the fetch
 * and sends the trace in its `traceparent` header. The answer and its body must arrive within `timeoutMs`
 * (default 5000) and the body may be at most `maxBytes` (default 1 MiB); redirects are followed only within
 * the origin of `url`. Any failure is recorded on the span (exception, ERROR status) and thrown as a
 * {@linkcode CallError}.
 */
export function callApi(
  url: URL | string,
  { timeoutMs = 5000, maxBytes = DEFAULT_MAX_RESPONSE_BYTES }: { timeoutMs?: number; maxBytes?: number } = {},
): Promise<CallResult> {
  return tracer.startActiveSpan("call-api", async (span) => {
    const { traceId } = span.spanContext();
    try {
      const signal = AbortSignal.timeout(timeoutMs); // one deadline for the answer and its body
      const headers = { accept: "application/json" };
      const response = await fetchSameOrigin(new URL(url), { headers, signal, timeoutMs });
      span.addEvent("received_response", { "http.response.status_code": response.status });
      const body = await readJson(response, { timeoutMs, maxBytes });
      return { status: response.status, body, traceId };
    } catch (error) {
      const failure = new CallError(error instanceof Error ? error.message : String(error), traceId, {
        cause: error,
      });
      span.recordException(failure);
      span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
      throw failure;
    } finally {
      span.end();
    }
  });
}

/** What the server answered, and the trace the call belongs to. */
export interface CallResult {
  /** The HTTP status of the answer (2xx). */
  status: number;
  /** The answer's JSON body, parsed. */
  body: unknown;
  /** The trace id of the call, 32 hex digits (all zeros when tracing is off). */
  traceId: string;
}

if (import.meta.main) {
  for (const line of startupNotices("Client", CLIENT_VARIABLES)) console.error(line);
  const config = configOrExit("Client", readClientConfig);
  try {
    const { body, traceId } = await callApi(config.url, config);
    console.log(`Client: received ${JSON.stringify(body)}`);
    console.log(traceLines(traceId, config.grafanaUrl));
  } catch (error) {
    if (!(error instanceof CallError)) throw error;
    console.error(`Client: ${error.message}`);
    console.log(traceLines(error.traceId, config.grafanaUrl));
    Deno.exitCode = 1;
  }
}
