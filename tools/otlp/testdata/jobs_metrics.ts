// A program with the metrics of a job runner, a counter and a histogram recorded through
// npm:@opentelemetry/api, for the metric tests: it records `JOBS` jobs (default 5; every third one
// failed) and exits, which flushes them to OTEL_EXPORTER_OTLP_ENDPOINT.
import { metrics } from "@opentelemetry/api";

const meter = metrics.getMeter("jobs", "1.0.0");
const processed = meter.createCounter("jobs.processed", { unit: "{job}", description: "Jobs run" });
const duration = meter.createHistogram("jobs.duration", {
  unit: "s",
  description: "How long a job ran",
  advice: { explicitBucketBoundaries: [0.01, 0.1, 1] },
});
const jobs = Number(Deno.env.get("JOBS") ?? "5");
for (let i = 0; i < jobs; i++) {
  const outcome = i % 3 === 2 ? "failed" : "done";
  processed.add(1, { "job.outcome": outcome });
  duration.record(0.05 * (i + 1), { "job.outcome": outcome });
}
