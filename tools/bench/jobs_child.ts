/**
 * The measuring child of `tools/bench/jobs.ts` (run with `OTEL_DENO=true` and `--unstable-kv`). Two modes:
 *
 * - `cost ROUNDS`: CPU time (user + system, all threads, so the exporter's share is counted) per operation of
 *   `inject`, `extract` and one span, and per job through a Deno KV queue with and without the jobs
 *   example's propagation and spans; the variants run in rotated order in each round. Prints one JSON line
 *   per variant and round: `{"round","variant","us"}`.
 * - `burst JOBS`: sends JOBS jobs at once through `jobs/queue.ts`, waits until all were processed and
 *   prints `{"sent","processed"}`; the parent counts the spans that arrived.
 *
 * @module
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { cpuUsage } from "node:process";
import { createQueue } from "@example/jobs/queue";

const tracer = trace.getTracer("bench");
const OPS = 20_000;
const JOBS = 500;

/** CPU µs per operation of `run(count)`. */
async function cpuPer(count: number, run: (count: number) => Promise<void> | void): Promise<number> {
  const before = cpuUsage();
  await run(count);
  const { user, system } = cpuUsage(before);
  return (user + system) / count;
}

const inSpan = (work: () => void) =>
  tracer.startActiveSpan("parent", (span) => {
    work();
    span.end();
  });

const carrier: Record<string, string> = {};
inSpan(() => propagation.inject(context.active(), carrier));

/** Jobs through a bare KV queue: enqueue, listenQueue, no propagation, no spans of its own. */
function plainQueue(kv: Deno.Kv) {
  let waiting: PromiseWithResolvers<void> | undefined;
  let left = 0;
  kv.listenQueue(() => {
    if (--left === 0) waiting?.resolve();
  });
  return async (count: number) => {
    waiting = Promise.withResolvers();
    left = count;
    for (let i = 0; i < count; i++) await kv.enqueue({ id: i });
    await waiting.promise;
  };
}

/** Jobs through `jobs/queue.ts`: a PRODUCER span, inject, extract and a CONSUMER span per job. */
function tracedQueue(kv: Deno.Kv) {
  const queue = createQueue(kv, { jobs: () => {} });
  return async (count: number) => {
    for (let i = 0; i < count; i++) await queue.send("jobs");
    await queue.drained();
  };
}

/** What jobs/queue.ts adds to a job, without the queue: two spans and a context through a carrier. */
function handoffs(count: number) {
  for (let i = 0; i < count; i++) {
    const carrier: Record<string, string> = {};
    tracer.startActiveSpan("enqueue jobs", { kind: SpanKind.PRODUCER }, (span) => {
      propagation.inject(context.active(), carrier);
      span.end();
    });
    const parent = propagation.extract(ROOT_CONTEXT, carrier);
    tracer.startSpan("process jobs", { kind: SpanKind.CONSUMER }, parent).end();
  }
}

async function cost(rounds: number) {
  const plainKv = await Deno.openKv(":memory:");
  const tracedKv = await Deno.openKv(":memory:");
  const variants: Record<string, [number, (count: number) => Promise<void> | void]> = {
    "empty span": [OPS, (n) => {
      for (let i = 0; i < n; i++) tracer.startSpan("x").end();
    }],
    "inject": [OPS, (n) =>
      inSpan(() => {
        for (let i = 0; i < n; i++) propagation.inject(context.active(), {});
      })],
    "extract": [OPS, (n) => {
      for (let i = 0; i < n; i++) propagation.extract(ROOT_CONTEXT, carrier);
    }],
    "handoff, no KV (PRODUCER, inject, extract, CONSUMER)": [OPS, handoffs],
    "KV job, untraced": [JOBS, plainQueue(plainKv)],
    "KV job, jobs/queue.ts": [JOBS, tracedQueue(tracedKv)],
  };
  const names = Object.keys(variants);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const variant = names[(round + i) % names.length];
      const [count, run] = variants[variant];
      console.log(JSON.stringify({ round, variant, us: await cpuPer(count, run) }));
    }
  }
  plainKv.close();
  tracedKv.close();
}

async function burst(jobs: number) {
  const kv = await Deno.openKv(":memory:");
  let processed = 0;
  const queue = createQueue(kv, { jobs: () => void processed++ });
  await Promise.all(Array.from({ length: jobs }, () => queue.send("jobs")));
  await queue.drained();
  console.log(JSON.stringify({ sent: jobs, processed }));
  kv.close();
}

if (import.meta.main) {
  const [mode, count] = Deno.args;
  if (mode === "cost") await cost(Number(count));
  else if (mode === "burst") await burst(Number(count));
  else throw new Error("usage: jobs_child.ts cost ROUNDS | burst JOBS");
}
