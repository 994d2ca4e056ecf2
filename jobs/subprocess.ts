/**
 * The subprocess of the jobs example: a Deno program the service starts for each job. Nothing propagates
 * into a child process on its own (denoland/deno#32752); the parent passes its context in `TRACEPARENT` and
 * `TRACESTATE`, OpenTelemetry's environment-variable carrier, and this program continues that trace.
 *
 * ```sh
 * OTEL_DENO=true TRACEPARENT=00-…-…-01 deno run --allow-env=TRACEPARENT,TRACESTATE jobs/subprocess.ts
 * ```
 *
 * A missing or malformed `TRACEPARENT` changes nothing but the trace: the span starts a fresh one.
 *
 * @module
 */
import { propagation, ROOT_CONTEXT, trace } from "@opentelemetry/api";

const tracer = trace.getTracer("jobs-subprocess", "1.0.0");

const carrier: Record<string, string> = {};
for (const [variable, key] of [["TRACEPARENT", "traceparent"], ["TRACESTATE", "tracestate"]]) {
  const value = Deno.env.get(variable);
  if (value !== undefined) carrier[key] = value;
}

tracer.startActiveSpan("convert in subprocess", {}, propagation.extract(ROOT_CONTEXT, carrier), (span) => {
  const input = Deno.args[0] ?? "";
  console.log(JSON.stringify({ converted: input.toUpperCase() }));
  span.end();
});
