import assert from "node:assert/strict";
import { CheckError } from "./stack_http.ts";
import type { FlatSpan } from "./tempo_trace.ts";
import { checkJobsTrace, JOBS_PARENTS, jobsMetricQueries, linksTo } from "./check_jobs.ts";

function jobsTrace(): FlatSpan[] {
  const names = ["GET /jobs", ...Object.keys(JOBS_PARENTS), "process jobs"];
  const spans: FlatSpan[] = names.map((name, i) => ({
    service: "jobs",
    scope: { name: "jobs" },
    name,
    kind: "INTERNAL",
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: (i + 1).toString(16).padStart(16, "0"),
  }));
  for (const span of spans.slice(1)) {
    span.parentSpanId = spans.find((parent) => parent.name === JOBS_PARENTS[span.name])!.spanId;
  }
  return spans;
}

Deno.test("checkJobsTrace accepts the joined jobs trace and names the boundary that broke", () => {
  const spans = jobsTrace();
  assert.equal(checkJobsTrace(spans).name, "enqueue notifications");
  const broken = spans.map((span) =>
    span.name === "resize in worker" ? { ...span, parentSpanId: undefined } : span
  );
  assert.throws(() => checkJobsTrace(broken), (error) => {
    assert.ok(error instanceof CheckError);
    assert.match(error.message, /^"resize in worker" is not a child of "GET \/jobs"/);
    return true;
  });
  assert.throws(() => checkJobsTrace(spans.slice(0, -1)), /failed attempt and its retry/);
});

Deno.test("linksTo finds a link in Tempo's base64 ids; the metric queries name the app's series", () => {
  const b64 = (hex: string) => btoa(String.fromCharCode(...Uint8Array.fromHex(hex)));
  const traceId = "0af7651916cd43dd8448eb211c80319c";
  const body = {
    trace: {
      resourceSpans: [{
        scopeSpans: [{
          spans: [{}, { links: [{ traceId: b64(traceId), spanId: b64("b7ad6b7169203331") }] }],
        }],
      }],
    },
  };
  assert.ok(linksTo(body, traceId, "b7ad6b7169203331"));
  assert.ok(!linksTo(body, traceId, "b7ad6b7169203332"));
  assert.ok(!linksTo({}, traceId, "b7ad6b7169203331"));
  assert.match(
    jobsMetricQueries("jobs").failed,
    /^jobs_processed_total\{job="jobs",.*job_outcome="error"\}$/,
  );
});
