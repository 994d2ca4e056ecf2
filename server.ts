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
}

type Route = (workMs: number) => Promise<Response> | Response;

const routes: Record<string, Route> = {
  "/": (workMs) =>
    tracer.startActiveSpan("process-request", async (span) => {
      try {
        span.addEvent("processing_request", {
          request_id: crypto.randomUUID(),
          timestamp: new Date().toISOString(),
        });
        console.log("Server: Processing request in trace context");
        if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs));
        return json(200, { message: "Hello from server!" });
      } finally {
        span.end();
      }
    }),
  "/health": () => json(200, { status: "ok" }),
  "/error": () =>
    tracer.startActiveSpan("process-request", (span) => {
      try {
        throw new Error("simulated failure");
      } catch (error) {
        fail(span, error as Error);
        console.error(`Server: ${(error as Error).message}`);
        return json(500, { error: "simulated failure" });
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
export function createHandler({ workMs = 50 }: HandlerOptions = {}): (
  request: Request,
) => Promise<Response> {
  return async (request) => {
    // Deno's SERVER span for this request; undefined-safe when tracing is off.
    const httpSpan = trace.getActiveSpan();
    const { pathname } = new URL(request.url);
    const route = Object.hasOwn(routes, pathname) ? routes[pathname] : undefined;
    let response: Response;
    if (route === undefined) {
      response = json(404, { error: "not found" });
    } else {
      // HTTP semantic conventions: the route on the span, and the span named "{method} {route}".
      httpSpan?.setAttribute("http.route", pathname);
      httpSpan?.updateName(`${request.method} ${pathname}`);
      response = request.method === "GET" || request.method === "HEAD"
        ? await route(workMs)
        : json(405, { error: "method not allowed" }, { allow: "GET, HEAD" });
    }
    const context = httpSpan?.spanContext();
    if (context && trace.isSpanContextValid(context)) {
      const flags = context.traceFlags.toString(16).padStart(2, "0");
      response.headers.set("traceresponse", `00-${context.traceId}-${context.spanId}-${flags}`);
    }
    return response;
  };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers });
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
  { hostname, port, workMs, drainMs = 10_000 }: ServerConfig & { drainMs?: number },
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
    }, createHandler({ workMs }));
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
