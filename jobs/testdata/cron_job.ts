/**
 * A `Deno.cron` job with nothing added for tracing but its own span: Deno opens the `deno.cron` root span
 * around each run, so the span and the log line of the handler join it. The job stops its schedule after the
 * first run, so the process ends, and Deno exports what it held, on its own.
 *
 * @module
 */
import { trace } from "@opentelemetry/api";

const tracer = trace.getTracer("cron-job");
const stop = new AbortController();

Deno.cron("nightly report", "* * * * *", { signal: stop.signal }, async () => {
  await tracer.startActiveSpan("build report", async (span) => {
    console.log("cron: the report was built");
    await new Promise((resolve) => setTimeout(resolve, 10));
    span.end();
  });
  stop.abort();
});
