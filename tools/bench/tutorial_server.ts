/**
 * The server of Deno's tutorial "Distributed Tracing with Context Propagation in Deno"
 * (https://docs.deno.com/examples/otel_span_propagation_tutorial/), the yardstick of the benchmark: its
 * handler exactly, log line included, without the simulated work (the tutorial waits 50 ms, as `server.ts`
 * does with `SIMULATED_WORK_MS=50`; the benchmark runs both with none). Around the handler, three things differ:
 * it listens on `127.0.0.1` at `PORT`, says so as `server.ts` does (the harness waits for that line), and
 * stops gracefully on SIGTERM, so that its last spans leave and the benchmark can count them.
 *
 * ```sh
 * PORT=8000 OTEL_DENO=true deno run --allow-net=127.0.0.1 --allow-env=PORT tools/bench/tutorial_server.ts
 * ```
 *
 * @module
 */
import { trace } from "@opentelemetry/api";

const tracer = trace.getTracer("api-server", "1.0.0");

if (import.meta.main) {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? 8000),
    onListen: ({ hostname, port }) => console.log(`Server listening on http://${hostname}:${port}/`),
  }, (_req) => {
    // The tutorial's callback is async because it awaits its simulated work, which is left out here.
    // deno-lint-ignore require-await
    return tracer.startActiveSpan("process-api-request", async (span) => {
      // Add attributes to the span for better context
      span.setAttribute("http.route", "/");
      span.updateName("GET /");

      // Add a span event to see in traces
      span.addEvent("processing_request", {
        request_id: crypto.randomUUID(),
        timestamp: new Date().toISOString(),
      });

      // The tutorial simulates 50 ms of work here; the benchmark measures the server's own cost.

      console.log("Server: Processing request in trace context");

      // End the span when we're done
      span.end();

      return new Response(JSON.stringify({ message: "Hello from server!" }), {
        headers: { "Content-Type": "application/json" },
      });
    });
  });
  Deno.addSignalListener("SIGTERM", () => server.shutdown());
}
