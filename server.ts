/**
 * The example's API server. Deno opens a SERVER span for each request, continuing the trace of the caller's
 * `traceparent` header; this file adds the route and a span of its own around the work. Run it with
 * `OTEL_DENO=true OTEL_SERVICE_NAME=server deno run --allow-net server.ts`.
 * @module
 */
import { SpanStatusCode, trace } from "@opentelemetry/api";

const tracer = trace.getTracer("api-server", "1.0.0");

/**
 * The request handler: `GET /` (with `workMs` of simulated work), `GET /health` and `GET /error` (fails on
 * purpose), and `HEAD` of each; anything else is a JSON 404 or 405.
 */
export function createHandler(workMs = 50): (request: Request) => Response | Promise<Response> {
  const routes: Record<string, () => Response | Promise<Response>> = {
    "/": () =>
      tracer.startActiveSpan("process-request", async (span) => {
        if (span.isRecording()) { // not when untraced or sampled out: the attributes cost to build
          span.addEvent("processing_request", {
            request_id: crypto.randomUUID(),
            timestamp: new Date().toISOString(),
          });
        }
        console.log("Server: Processing request in trace context");
        if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs));
        span.end();
        return Response.json({ message: "Hello from server!" });
      }),
    "/health": () => Response.json({ status: "ok" }),
    "/error": () =>
      tracer.startActiveSpan("process-request", (span) => {
        const error = new Error("simulated failure");
        span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
        span.end();
        console.error(`Server: ${error.message}`);
        return Response.json({ error: error.message }, { status: 500 });
      }),
  };
  return (request) => {
    // The path as sent, found without `new URL`, whose cost is in docs/decisions.md.
    const path = request.url.slice(request.url.indexOf("/", 8)).split("?", 1)[0];
    if (!Object.hasOwn(routes, path)) return Response.json({ error: "not found" }, { status: 404 });
    // Deno's SERVER span does not know the route: name it "{method} {route}", as the conventions say.
    const span = trace.getActiveSpan();
    span?.setAttribute("http.route", path);
    span?.updateName(`${request.method} ${path}`);
    if (request.method === "GET" || request.method === "HEAD") return routes[path]();
    return Response.json({ error: "method not allowed" }, { status: 405, headers: { allow: "GET, HEAD" } });
  };
}

/**
 * Serves until SIGINT or SIGTERM, then lets the requests in flight finish and the process end on its own,
 * so that Deno exports the telemetry it still holds. Requests still open after `drainMs` end it (exit 1), and
 * so does a failed accept (exit 2), which Deno gives up listening on: out of file descriptors, most often.
 */
export async function serve({ hostname, port, workMs, drainMs = 10_000 }: {
  hostname: string;
  port: number;
  workMs: number;
  drainMs?: number;
}): Promise<void> {
  let stopping = false;
  const stop = () => {
    if (stopping) return; // deno task and a terminal's Ctrl-C can deliver the same stop twice
    stopping = true;
    console.log("Server: shutting down");
    const deadline = setTimeout(() => {
      console.error(`Server: requests still open after ${drainMs} ms, exiting`);
      Deno.exit(1);
    }, drainMs);
    // A failed accept rejects this and `finished` alike: `finished` says it, below.
    server.shutdown().catch(() => {}).finally(() => clearTimeout(deadline));
  };
  // Listening before serving: a stop sent as soon as the server says it listens is handled.
  const signals = Deno.build.os === "windows" ? ["SIGINT"] as const : ["SIGINT", "SIGTERM"] as const;
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  const server = Deno.serve({
    hostname,
    port,
    onListen: ({ hostname, port }) => console.log(`Server listening on http://${hostname}:${port}/`),
    onError: (error) => {
      console.error("Server: unexpected error:", error);
      return Response.json({ error: "internal server error" }, { status: 500 });
    },
  }, createHandler(workMs));
  await server.finished.catch((error) => { // an accept failed: with no descriptor left (ulimit -n), most often
    console.error(`Server: stopped accepting connections: ${error.message}`);
    Deno.exit(2);
  });
}

const unread: string[] = [];
/** Variable `name`, or `undefined` if unset or not allowed: asked first, as reading without leave prompts. */
function env(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  if (state === "granted") return Deno.env.get(name)?.trim() || undefined;
  unread.push(name);
}

/** The whole number in variable `name`, or `fallback`; any other value stops the server (exit code 2). */
function wholeNumber(name: string, fallback: number, max: number): number {
  const value = env(name);
  if (value === undefined) return fallback;
  if (/^\d+$/.test(value) && Number(value) <= max) return Number(value);
  console.error(`Server: ${name} must be a whole number from 0 to ${max}, got ${JSON.stringify(value)}`);
  Deno.exit(2);
}

if (import.meta.main) {
  const hostname = env("HOST") ?? "127.0.0.1";
  const port = wholeNumber("PORT", 8000, 65535);
  const workMs = wholeNumber("SIMULATED_WORK_MS", 50, 60_000);
  if (unread.length > 0) console.error(`Server: no --allow-env=${unread.join()}: using the defaults`);
  try {
    await serve({ hostname, port, workMs });
  } catch (error) { // serve() fails only where it starts to listen: address in use, no such host, no leave
    console.error(`Server: cannot listen on ${hostname}:${port}: ${(error as Error).message}`);
    Deno.exit(2);
  }
}
