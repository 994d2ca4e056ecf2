/**
 * `deno task demo:jobs`: the jobs example in one command. Starts an OTLP receiver on a free port, runs
 * `jobs/server.ts` and the example's client (calling `GET /jobs?fail=1`) as real processes pointed at it,
 * stops the service gracefully once the client is done, and draws the whole trace with the batch trace that
 * links to it.
 *
 * Exits 0 only when every boundary joined; otherwise it says which boundary broke.
 *
 * @module
 */
import { startReceiver, TelemetryStore, type Trace } from "@example/otlp/receiver";
import type { Span } from "@example/otlp/decode";
import { startJobsServer } from "@example/harness/jobs_server";
import { callThroughClient, demoMain, type DemoOptions } from "@example/demo/demo";

/** A boundary the trace must cross, and how to tell it did. */
export interface Boundary {
  /** What the demo calls it when it breaks. */
  name: string;
  /** The span that must be in the trace. */
  span: string;
  /** Checks on the trace once that span is there; a message when one fails. */
  check?: (trace: Trace, spans: Span[]) => string | undefined;
}

const byName = (trace: Trace, name: string) => trace.spans.filter((span) => span.name === name);

/** The boundaries of the jobs example, in the order the README explains them. */
export const BOUNDARIES: readonly Boundary[] = [
  {
    name: "KV queue",
    span: "process jobs",
    check: (trace, spans) => {
      const producer = byName(trace, "enqueue jobs")[0];
      if (spans.some((span) => span.parentSpanId !== producer?.spanId)) {
        return "a consumer span is not a child of the PRODUCER span";
      }
      if (spans.length < 2 || !spans.some((span) => span.status.code === "ERROR")) {
        return `the failed attempt and its retry are not both there (${spans.length} attempts)`;
      }
    },
  },
  { name: "Web Worker", span: "resize in worker" },
  { name: "subprocess", span: "convert in subprocess" },
  {
    name: "work after the response",
    span: "write audit record",
    check: (trace, [audit]) => {
      const server = trace.spans.find((span) => span.kind === "SERVER");
      if (server === undefined || audit.endTimeUnixNano <= server.endTimeUnixNano) {
        return "its span did not end after the SERVER span";
      }
    },
  },
];

/** What the jobs demo found: the trace, the traces that link to it, and each boundary that broke. */
export interface JobsDemoResult {
  /** Whether every boundary joined. */
  ok: boolean;
  /** The client's trace, when any of it arrived. */
  trace?: Trace;
  /** The traces with a span that links to it (the batch). */
  linked: Trace[];
  /** Each boundary that broke, with why. */
  broken: string[];
}

/** The boundaries `trace` did not cross, each with why; the batch is checked through `linked`. */
export function brokenBoundaries(store: TelemetryStore, trace: Trace, linked: Trace[]): string[] {
  const broken: string[] = [];
  for (const boundary of BOUNDARIES) {
    const spans = byName(trace, boundary.span);
    if (spans.length === 0) {
      const elsewhere = store.spans.some((span) => span.name === boundary.span);
      broken.push(
        `${boundary.name}: "${boundary.span}" ${elsewhere ? "is in another trace" : "never arrived"}`,
      );
      continue;
    }
    const problem = boundary.check?.(trace, spans);
    if (problem) broken.push(`${boundary.name}: ${problem}`);
  }
  if (linked.length === 0) broken.push(`KV queue batch: no "process notifications" span links to the trace`);
  return broken;
}

/** The traces with a span that links to a span of `traceId`. */
export function linkedTo(store: TelemetryStore, traceId: string): Trace[] {
  return store.traces().filter((trace) =>
    trace.traceId !== traceId &&
    trace.spans.some((span) => span.links.some((link) => link.traceId === traceId))
  );
}

/** Runs the jobs example once against an in-process receiver. */
export async function runJobsDemo(
  { timeoutMs = 15_000, log = console.log, store }: DemoOptions = {},
): Promise<JobsDemoResult> {
  await using receiver = startReceiver({ port: 0, store });
  log(`OTLP receiver listening on ${receiver.url}`);
  const server = await startJobsServer({ otlpEndpoint: receiver.url });
  log(`jobs service (OTEL_SERVICE_NAME=jobs) listening on ${server.url}`);
  let traceId: string;
  try {
    const call = await callThroughClient(`${server.url}jobs?fail=1`, receiver.url, log);
    if ("failed" in call) return { ok: false, linked: [], broken: [call.failed] };
    traceId = call.traceId;
  } finally {
    // The graceful stop waits for the queued jobs (with their retry) and the background work.
    const exit = await server.stop("SIGTERM");
    log(`jobs service stopped (exit code ${exit.code})`);
  }
  const id = traceId;
  // Both processes have exported on exit; the wait only covers an export still being received.
  await receiver.store.waitFor((store) => {
    const trace = store.trace(id);
    return trace && brokenBoundaries(store, trace, linkedTo(store, id)).length === 0;
  }, { signal: AbortSignal.timeout(timeoutMs) }).catch(() => {});
  const trace = receiver.store.trace(id);
  if (trace === undefined) return { ok: false, linked: [], broken: [`no span of trace ${id} arrived`] };
  const linked = linkedTo(receiver.store, id);
  const broken = brokenBoundaries(receiver.store, trace, linked);
  return { ok: broken.length === 0, trace, linked, broken };
}

if (import.meta.main) {
  await demoMain("demo:jobs", async ({ store, draw }) => {
    const result = await runJobsDemo({ store });
    for (const trace of [result.trace, ...result.linked]) if (trace) draw(trace);
    if (result.ok) {
      console.log("\nOne request, one trace: every boundary joined, and the batch links back to it.");
      return true;
    }
    const count = result.broken.length;
    console.error(`\ndemo:jobs: ${count === 1 ? "a boundary" : `${count} boundaries`} broke:`);
    for (const line of result.broken) console.error(`  - ${line}`);
    return false;
  });
}
