/**
 * The jobs example's part of `deno task test:stack` ({@linkcode checkJobs}): one call through
 * `jobs/server.ts`, then
 *
 * 1. Tempo returns its trace with every boundary joined: each span a child of the one it was handed off
 *    from, the KV queue's failed attempt and its retry under the PRODUCER span;
 * 2. Tempo holds the batch trace whose span links to that trace's PRODUCER span (TraceQL search);
 * 3. Prometheus holds the app's own metrics: `jobs_processed_total` by outcome, with the failed attempt,
 *    and `jobs_duration_seconds` with the buckets its advice asked for.
 *
 * @module
 */
import { runClient } from "@example/harness/processes";
import { startJobsServer } from "@example/harness/jobs_server";
import { CheckError, get, getJson, ok, poll, type StackEndpoints } from "./stack_http.ts";
import { base64ToHex, type FlatSpan, flattenTrace } from "./tempo_trace.ts";

/** Each span of the jobs trace (by name) and the span it must be a child of. */
export const JOBS_PARENTS: Readonly<Record<string, string>> = {
  "enqueue jobs": "GET /jobs",
  "process jobs": "enqueue jobs",
  "enqueue notifications": "GET /jobs",
  "resize in worker": "GET /jobs",
  "convert in subprocess": "GET /jobs",
  "write audit record": "GET /jobs",
};

/** Checks the jobs trace as Tempo returns it; returns the PRODUCER span of `notifications`. */
export function checkJobsTrace(spans: FlatSpan[]): FlatSpan {
  for (const [name, parentName] of Object.entries(JOBS_PARENTS)) {
    const children = spans.filter((span) => span.name === name);
    const parent = spans.find((span) => span.name === parentName);
    if (children.length === 0) throw new CheckError(`the jobs trace has no span "${name}"`);
    for (const child of children) {
      if (parent === undefined || child.parentSpanId !== parent.spanId) {
        throw new CheckError(`"${name}" is not a child of "${parentName}": the context did not cross`);
      }
    }
  }
  if (spans.filter((span) => span.name === "process jobs").length !== 2) {
    throw new CheckError(`the KV queue's failed attempt and its retry are not both in the trace`);
  }
  return spans.find((span) => span.name === "enqueue notifications")!;
}

/** The PromQL queries of the jobs' metrics, for service `service`. */
export function jobsMetricQueries(service: string): { failed: string; bucket: string } {
  return {
    failed: `jobs_processed_total{job="${service}",job_boundary="queue",job_outcome="error"}`,
    bucket: `jobs_duration_seconds_bucket{job="${service}",job_boundary="worker",le="2.5"}`,
  };
}

/** Tempo's `GET /api/v2/traces/<id>`, only the spans' links (ids in base64). */
export interface TempoLinks {
  /** The trace, grouped by resource and scope. */
  trace?: {
    resourceSpans?: { scopeSpans?: { spans?: { links?: { traceId: string; spanId: string }[] }[] }[] }[];
  };
}

/** Whether a Tempo trace holds a span with a link to `spanId` of `traceId`. */
export function linksTo(body: TempoLinks, traceId: string, spanId: string): boolean {
  return (body.trace?.resourceSpans ?? []).some((resource) =>
    (resource.scopeSpans ?? []).some((scope) =>
      (scope.spans ?? []).some((span) =>
        (span.links ?? []).some((link) =>
          base64ToHex(link.traceId) === traceId && base64ToHex(link.spanId) === spanId
        )
      )
    )
  );
}

async function callJobs(otlpEndpoint: string): Promise<string> {
  const server = await startJobsServer({ otlpEndpoint, env: { OTEL_METRIC_EXPORT_INTERVAL: "1000" } });
  let client;
  try {
    client = await runClient(`${server.url}jobs?fail=1`, { otlpEndpoint, protocol: "http/protobuf" });
  } finally {
    await server.stop();
  }
  if (client.code !== 0 || !client.traceId) {
    throw new CheckError(
      `the client of the jobs service failed (exit code ${client.code}): ${client.stderr}`,
    );
  }
  ok(`jobs call done, trace id ${client.traceId}`);
  return client.traceId;
}

/** Runs the jobs example's checks against the stack; rejects with a {@linkcode CheckError}. */
export async function checkJobs(endpoints: StackEndpoints): Promise<void> {
  const { tempoUrl, prometheusUrl, otlpEndpoint, timeoutMs } = endpoints;
  const traceId = await callJobs(otlpEndpoint);
  const producer = await poll(`the jobs trace ${traceId} in Tempo`, timeoutMs, async () => {
    const res = await get(`${tempoUrl}/api/v2/traces/${traceId}`, "Tempo");
    if (!res.ok) {
      await res.body?.cancel();
      throw new CheckError(`Tempo answered ${res.status} for the jobs trace`);
    }
    return checkJobsTrace(flattenTrace(await res.json()));
  });
  ok(
    "Tempo returns the jobs trace with every boundary joined (KV queue with retry, worker, subprocess, after)",
  );
  await poll("the batch trace that links to the jobs trace", timeoutMs, async () => {
    const q = new URLSearchParams({ q: '{ name = "process notifications" }', limit: "20" });
    const found = await getJson(`${tempoUrl}/api/search?${q}`, "Tempo search") as {
      traces?: { traceID: string }[];
    };
    for (const { traceID } of found.traces ?? []) {
      const body = await getJson(`${tempoUrl}/api/v2/traces/${traceID}`, "Tempo") as TempoLinks;
      if (linksTo(body, traceId, producer.spanId)) return traceID;
    }
    throw new CheckError("no batch span links to the jobs trace yet");
  }).then((batch) => ok(`Tempo holds batch trace ${batch}, linked to the PRODUCER span`));
  for (const [what, query] of Object.entries(jobsMetricQueries("jobs"))) {
    await poll(`Prometheus to hold ${query}`, timeoutMs, async () => {
      const body = await getJson(
        `${prometheusUrl}/api/v1/query?${new URLSearchParams({ query })}`,
        "Prometheus",
      );
      const result = (body as { data?: { result?: { value: [number, string] }[] } }).data?.result ?? [];
      if (result.length === 0 || !(Number(result[0].value[1]) > 0)) {
        throw new CheckError(`no ${what} series yet`);
      }
      return true;
    });
    ok(`Prometheus has the app's metric ${query}`);
  }
}
