/**
 * The API server of the example: a `Deno.serve` handler whose spans join the caller's trace.
 *
 * ```sh
 * OTEL_DENO=true OTEL_SERVICE_NAME=server deno run --allow-net server.ts
 * ```
 *
 * Deno creates the HTTP SERVER span of each request and makes it the active span, continuing the trace named
 * by the request's `traceparent` header. This module only adds what Deno cannot know: the route, and a span
 * of its own around the work it does.
 *
 * @module
 */
import { SpanStatusCode, trace } from "@opentelemetry/api";
import {
  readServerConfig,
  SERVER_VARIABLES,
  type ServerConfig,
  shutdownSignal,
  startupErrorMessage,
} from "./config/server_config.ts";
import { configOrExit, startupNotices } from "./config/startup.ts";

export type { ServerConfig };

const tracer = trace.getTracer("api-server", "1.0.0");

/** A route: answers with `headers` (the `traceresponse` header, when it is on), when there are any. */
type Route = (workMs: number, headers?: Record<string, string>) => Promise<Response> | Response;

const routes: Record<string, Route> = {
  "/": (workMs, headers) =>
    tracer.startActiveSpan("process-request", async (span) => {
      try {
        if (span.isRecording()) { // tracing on and sampled: build the event only for a span that keeps it
          span.addEvent("processing_request", {
            request_id: crypto.randomUUID(),
            timestamp: new Date().toISOString(),
          });
        }
        console.log("Server: Processing request in trace context");
        if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs));
        return Response.json({ message: "Hello from server!" }, { headers });
      } finally {
        span.end();
      }
    }),
  "/health": (_, headers) => Response.json({ status: "ok" }, { headers }),
  "/error": (_, headers) =>
    tracer.startActiveSpan("process-request", (span) => {
      const error = new Error("simulated failure");
      span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      span.end();
      console.error(`Server: ${error.message}`);
      return Response.json({ error: "simulated failure" }, { status: 500, headers });
    }),
};

/**
 * The path of a request's URL (`http://host/path?query` → `/path`), as sent: no dot segment resolved,
 * nothing decoded. It is found with string search, not `new URL(request.url)`, which cost more CPU per request
 * than the rest of an untraced handler (bench/README.md). `*` (`OPTIONS *`) and a bare authority (`CONNECT`)
 * come back whole, and match no route.
 */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start === -1) return url;
  const query = url.indexOf("?", start);
  return query === -1 ? url.slice(start) : url.slice(start, query);
}

/**
 * Creates the server's request handler: `GET /` (simulated work of `workMs`, default 50, in its own span),
 * `GET /health`, `GET /error` (fails on purpose), and `HEAD` of each; 404 and 405 as JSON errors. With
 * `traceResponse` (`TRACE_RESPONSE=true`), every traced response carries a `traceresponse` header (W3C Trace
 * Context Level 2) naming the trace and the server span. It is off by default because it measured 7–24 µs of
 * CPU per traced request (Deno sends a response with one header on a faster path; bench/README.md).
 */
export function createHandler(
  { workMs = 50, traceResponse = false }: { workMs?: number; traceResponse?: boolean } = {},
): (req: Request) => Promise<Response> | Response {
  // Not async, and the header is set before the route runs: no promise of its own per request.
  return (request) => {
    const httpSpan = trace.getActiveSpan(); // Deno's SERVER span of this request (undefined: tracing off)
    // undefined, not {}, when there is no header: an empty headers object still costs its copying.
    let headers: Record<string, string> | undefined;
    const context = traceResponse ? httpSpan?.spanContext() : undefined;
    if (context && trace.isSpanContextValid(context)) {
      const flags = context.traceFlags.toString(16).padStart(2, "0");
      headers = { traceresponse: `00-${context.traceId}-${context.spanId}-${flags}` };
    }
    const pathname = pathOf(request.url);
    const route = Object.hasOwn(routes, pathname) ? routes[pathname] : undefined;
    if (route === undefined) return Response.json({ error: "not found" }, { status: 404, headers });
    // HTTP semantic conventions: the route on the span, and the span named "{method} {route}".
    httpSpan?.setAttribute("http.route", pathname);
    httpSpan?.updateName(`${request.method} ${pathname}`);
    return request.method === "GET" || request.method === "HEAD"
      ? route(workMs, headers)
      : Response.json({ error: "method not allowed" }, {
        status: 405,
        headers: { ...headers, allow: "GET, HEAD" },
      });
  };
}

/**
 * Serves until SIGINT or SIGTERM, then shuts down gracefully: in-flight requests finish, and the process ends
 * on its own, so that Deno exports every span and log record it still holds. Requests still open after
 * `drainMs` (default 10 s) do not hold it: it exits with code 1 (and those requests leave no span).
 * `traceResponse` is {@linkcode createHandler}'s (default `false`).
 */
export async function serve(
  { hostname, port, workMs, drainMs = 10_000, traceResponse = false }:
    & Omit<ServerConfig, "traceResponse">
    & { drainMs?: number; traceResponse?: boolean },
) {
  const stop = shutdownSignal(); // listening first, so that a signal that comes right away is handled
  const server = Deno.serve({
    hostname,
    port,
    onListen: ({ hostname, port }) => console.log(`Server listening on http://${hostname}:${port}/`),
    onError: (error) => {
      console.error("Server: unexpected error:", error);
      return Response.json({ error: "internal server error" }, { status: 500 });
    },
  }, createHandler({ workMs, traceResponse }));
  stop.addEventListener("abort", () => {
    console.log("Server: shutting down");
    const deadline = setTimeout(() => {
      console.error(`Server: requests still open after ${drainMs} ms, exiting`);
      Deno.exit(1);
    }, drainMs);
    server.shutdown().finally(() => clearTimeout(deadline)); // stop accepting, let in-flight requests finish
  }, { once: true });
  await server.finished;
}

if (import.meta.main) {
  for (const line of startupNotices("Server", SERVER_VARIABLES)) console.error(line);
  const config = configOrExit("Server", readServerConfig);
  try {
    await serve(config);
  } catch (error) {
    const message = startupErrorMessage(error, config);
    if (message === undefined) throw error;
    console.error(`Server: ${message}`);
    Deno.exitCode = 2;
  }
}
