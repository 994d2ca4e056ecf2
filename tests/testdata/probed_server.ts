// server.ts's handler with two probes for tests: every traced response carries a `traceresponse` header (W3C
// Trace Context Level 2) naming the trace and the SERVER span of its request, so that a test can find the
// spans of a request it sent by hand; and GET /__memory answers Deno.memoryUsage() after a garbage collection
// (when run with --v8-flags=--expose-gc), for the opt-in memory test of tests/collector_faults_test.ts.
import { trace } from "@opentelemetry/api";
import { createHandler } from "../../server.ts";

const env = (name: string, fallback: string) => Deno.env.get(name) || fallback;
const handler = createHandler(Number(env("SIMULATED_WORK_MS", "50")));
const gc = (globalThis as { gc?: () => void }).gc;
const server = Deno.serve({
  hostname: env("HOST", "127.0.0.1"),
  port: Number(env("PORT", "8000")),
  onListen: ({ hostname, port }) => console.log(`Server listening on http://${hostname}:${port}/`),
}, async (request) => {
  if (new URL(request.url).pathname === "/__memory") {
    gc?.();
    return Response.json(Deno.memoryUsage());
  }
  const context = trace.getActiveSpan()?.spanContext(); // Deno's SERVER span of this request
  const response = await handler(request);
  if (context && trace.isSpanContextValid(context)) {
    const flags = context.traceFlags.toString(16).padStart(2, "0");
    response.headers.set("traceresponse", `00-${context.traceId}-${context.spanId}-${flags}`);
  }
  return response;
});
Deno.addSignalListener("SIGTERM", () => server.shutdown());
await server.finished;
