/**
 * The API server of the example: a `Deno.serve` handler whose spans join the caller's trace.
 *
 * Run it with Deno's built-in OpenTelemetry switched on:
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
import { type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import { otelWarnings } from "./config/otel_env.ts";
import { ConfigError, parseInteger, readEnv } from "./config/env.ts";

const tracer = trace.getTracer("api-server", "1.0.0");

/** Options of {@linkcode createHandler}. */
export interface HandlerOptions {
  /** How long the simulated work of `GET /` takes, in milliseconds (default 50; 0 skips it). */
  workMs?: number;
  /**
   * Whether responses carry the `traceresponse` header when tracing is on (default `true`). It costs about
   * 10–15 µs of CPU per traced request: Deno sends a response with more than one header through a slower
   * path (see bench/README.md).
   */
  traceResponse?: boolean;
}

/** A route's handler: its response carries `headers` (the `traceresponse` header), when there are any. */
type Route = (workMs: number, headers?: Record<string, string>) => Promise<Response> | Response;

const routes: Record<string, Route> = {
  "/": (workMs, headers) =>
    tracer.startActiveSpan("process-request", async (span) => {
      try {
        span.addEvent("processing_request", {
          request_id: crypto.randomUUID(),
          timestamp: new Date().toISOString(),
        });
        console.log("Server: Processing request in trace context");
        if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs));
        return json(200, { message: "Hello from server!" }, headers);
      } finally {
        span.end();
      }
    }),
  "/health": (_, headers) => json(200, { status: "ok" }, headers),
  "/error": (_, headers) =>
    tracer.startActiveSpan("process-request", (span) => {
      try {
        throw new Error("simulated failure");
      } catch (error) {
        fail(span, error as Error);
        console.error(`Server: ${(error as Error).message}`);
        return json(500, { error: "simulated failure" }, headers);
      } finally {
        span.end();
      }
    }),
};

/**
 * Creates the server's request handler: `GET /` (simulated work in its own span), `GET /health` and
 * `GET /error` (fails on purpose), and `HEAD` of each. Unknown paths get 404 and other methods 405, both as
 * JSON errors.
 *
 * Every response carries a `traceresponse` header (W3C Trace Context Level 2) naming the trace and the
 * server span of the request, when tracing is on.
 */
export function createHandler({ workMs = 50, traceResponse = true }: HandlerOptions = {}): (
  request: Request,
) => Response | Promise<Response> {
  // Not async: a route that answers at once costs no extra promise.
  return (request) => {
    // Deno's SERVER span for this request; undefined-safe when tracing is off.
    const httpSpan = trace.getActiveSpan();
    let headers: Record<string, string> | undefined;
    const context = traceResponse ? httpSpan?.spanContext() : undefined;
    if (context && trace.isSpanContextValid(context)) {
      const flags = context.traceFlags.toString(16).padStart(2, "0");
      headers = { traceresponse: `00-${context.traceId}-${context.spanId}-${flags}` };
    }
    const { pathname } = new URL(request.url);
    const route = Object.hasOwn(routes, pathname) ? routes[pathname] : undefined;
    if (route === undefined) return json(404, { error: "not found" }, headers);
    // HTTP semantic conventions: the route on the span, and the span named "{method} {route}".
    httpSpan?.setAttribute("http.route", pathname);
    httpSpan?.updateName(`${request.method} ${pathname}`);
    return request.method === "GET" || request.method === "HEAD"
      ? route(workMs, headers)
      : json(405, { error: "method not allowed" }, { ...headers, allow: "GET, HEAD" });
  };
}

function json(status: number, body: unknown, headers?: Record<string, string>): Response {
  // No headers object at all when there are none: an empty one still costs its copying.
  return Response.json(body, headers === undefined ? { status } : { status, headers });
}

function fail(span: Span, error: Error): void {
  span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

/** Where the server listens and how long its simulated work takes, read from the environment. */
export interface ServerConfig {
  /** The address to listen on (`HOST`, default `127.0.0.1`). */
  hostname: string;
  /** The port to listen on (`PORT`, default 8000; 0 picks a free one). */
  port: number;
  /** How long `GET /` works before it answers, in ms (`SIMULATED_WORK_MS`, default 50). */
  workMs: number;
}

/**
 * Reads `HOST` (default `127.0.0.1`), `PORT` (default 8000) and `SIMULATED_WORK_MS` (default 50).
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
  };
}

/**
 * Serves until SIGINT or SIGTERM, then shuts down gracefully: in-flight requests finish, and the process then
 * ends on its own, so that Deno exports every span and log record it still holds. Requests still open after
 * `drainMs` (default 10 s) do not hold the process: it exits with code 1, and Deno still exports on the way.
 */
export async function serve(
  { hostname, port, workMs, drainMs = 10_000, traceResponse }:
    & ServerConfig
    & { drainMs?: number; traceResponse?: boolean },
): Promise<void> {
  // The signal listeners come first, so that a signal that arrives as soon as the server listens is handled.
  const shutdown = new AbortController();
  const stop = () => {
    console.log("Server: shutting down");
    shutdown.abort();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  try {
    const server = Deno.serve({
      hostname,
      port,
      onListen: ({ hostname, port }) => console.log(`Server listening on http://${hostname}:${port}/`),
      onError: (error) => {
        console.error("Server: unexpected error:", error);
        return json(500, { error: "internal server error" });
      },
    }, createHandler({ workMs, traceResponse }));
    // shutdown() lets in-flight requests finish (ServeOptions.signal would cut them off), within a deadline.
    shutdown.signal.addEventListener("abort", () => {
      const deadline = setTimeout(() => {
        console.error(`Server: requests still open after ${drainMs} ms, exiting`);
        Deno.exit(1);
      }, drainMs);
      server.shutdown().finally(() => clearTimeout(deadline));
    }, { once: true });
    await server.finished;
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, stop);
  }
}

if (import.meta.main) {
  for (const warning of otelWarnings()) console.error(`Server: warning: ${warning}`);
  try {
    await serve(readServerConfig());
  } catch (error) {
    if (
      !(error instanceof ConfigError || error instanceof Deno.errors.AddrInUse ||
        error instanceof Deno.errors.NotCapable)
    ) throw error;
    console.error(`Server: ${error.message}`);
    Deno.exitCode = 2;
  }
}
