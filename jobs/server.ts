/**
 * The jobs example: an API service that hands each request's work off across the boundaries Deno's
 * OpenTelemetry does not cross on its own (a Deno KV queue, a Web Worker, a subprocess, work that outlives
 * the response), so that one request still makes one trace, and that counts and times its jobs.
 *
 * ```sh
 * OTEL_DENO=true OTEL_SERVICE_NAME=jobs deno run --unstable-kv --unstable-worker-options \
 *   --allow-net=127.0.0.1 --allow-env=JOBS_HOST,JOBS_PORT,OTEL_* --allow-read=jobs/worker.ts \
 *   --allow-run=deno jobs/server.ts
 * ```
 *
 * `GET /jobs` (or `POST`) runs one job at each boundary; `?fail=1` makes the queued job fail its first
 * attempt, which KV then retries. At most 4 requests use the worker and a subprocess at once and 8 more wait
 * for a slot (in a span of their own); the rest get 503 with `Retry-After`.
 *
 * @module
 */
import { context, metrics, propagation, SpanStatusCode, trace } from "@opentelemetry/api";
import { createQueue, type Message } from "./queue.ts";
import { createSlots, serveAgain } from "./limits.ts";

const tracer = trace.getTracer("jobs", "1.0.0");
const meter = metrics.getMeter("jobs", "1.0.0");
const processed = meter.createCounter("jobs.processed", {
  description: "Jobs processed, by boundary and outcome",
  unit: "{job}",
});
const duration = meter.createHistogram("jobs.duration", {
  description: "How long a job took, by boundary and outcome",
  unit: "s",
  advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] },
});

/** Runs `work` as one job at `boundary`: counted by outcome (`ok`, `error`) and timed. */
async function measure<T>(boundary: string, work: () => Promise<T> | T): Promise<T> {
  const start = performance.now();
  let outcome = "error";
  try {
    const result = await work();
    outcome = "ok";
    return result;
  } finally {
    const attributes = { "job.boundary": boundary, "job.outcome": outcome };
    processed.add(1, attributes);
    duration.record((performance.now() - start) / 1000, attributes);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The active context as W3C Trace Context entries (`traceparent`, `tracestate`), for a message. */
function carrier(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** One Web Worker for the process; each message carries the sender's context and an id for the reply. */
function startWorker() {
  const replies = new Map<string, PromiseWithResolvers<number>>();
  const start = () => {
    // No permission at all (not the service's --allow-run): needs --unstable-worker-options.
    const created = new Worker(new URL("./worker.ts", import.meta.url), {
      type: "module",
      deno: { permissions: "none" },
    });
    created.onmessage = ({ data }) => {
      const reply = replies.get(data.id);
      replies.delete(data.id);
      if (data.error) reply?.reject(new Error(data.error));
      else reply?.resolve(data.digest);
    };
    created.onerror = (event) => { // a worker that dies (out of descriptors, say) would end the service
      event.preventDefault();
      console.error(`Server: the worker failed (${event.message}); the next job starts another`);
      for (const reply of replies.values()) reply.reject(new Error(event.message));
      replies.clear();
      worker = undefined;
    };
    return created;
  };
  let worker: Worker | undefined = start();
  function resize(text: string): Promise<number> {
    const id = crypto.randomUUID();
    const reply = Promise.withResolvers<number>();
    replies.set(id, reply);
    (worker ??= start()).postMessage({ id, carrier: carrier(), text });
    return reply.promise;
  }
  return { resize, terminate: () => worker?.terminate() };
}

/** The service's variables the subprocess gets, to export where the service does; it gets no others. */
const PASSED_ON = [
  "OTEL_DENO",
  "OTEL_SERVICE_NAME",
  "OTEL_RESOURCE_ATTRIBUTES",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_PROTOCOL",
  "OTEL_EXPORTER_OTLP_HEADERS",
  "OTEL_EXPORTER_OTLP_TIMEOUT",
];

/** Runs `jobs/subprocess.ts` with the active context in `TRACEPARENT` and `TRACESTATE`. */
async function convert(text: string): Promise<string> {
  const { traceparent, tracestate } = carrier();
  const env: Record<string, string> = {};
  for (const name of PASSED_ON) {
    const allowed = Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
    const value = allowed ? Deno.env.get(name) : undefined;
    if (value !== undefined) env[name] = value;
  }
  if (traceparent) env.TRACEPARENT = traceparent;
  if (tracestate) env.TRACESTATE = tracestate;
  const script = new URL("./subprocess.ts", import.meta.url).href;
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: ["run", "--allow-env=TRACEPARENT,TRACESTATE", script, text],
    env,
    clearEnv: true, // not the service's whole environment
    stdin: "null",
  }).output();
  if (code !== 0) throw new Error(`subprocess exited with code ${code}: ${new TextDecoder().decode(stderr)}`);
  return JSON.parse(new TextDecoder().decode(stdout)).converted;
}

/** Work for the queue's destinations: `jobs` one message at a time, `notifications` in batches. */
async function work(message: Message, attempt: number) {
  await sleep(10);
  if (attempt <= message.failAttempts) throw new Error(`attempt ${attempt} failed (simulated)`);
}

const kv = await Deno.openKv(":memory:"); // nothing is left on disk; needs --unstable-kv
const queue = createQueue(kv, {
  jobs: (message, attempt) => measure("queue", () => work(message, attempt)),
  notifications: (message) => measure("batch", () => work(message, 1)),
});
const worker = startWorker();

/** Work started by a request and not awaited: the promises the graceful stop waits for. */
const background = new Set<Promise<unknown>>();
function inBackground(name: string, work: () => Promise<unknown>) {
  // Started inside the handler, so its span is a child of the SERVER span; it ends after the response.
  const done = tracer.startActiveSpan(name, (span) =>
    work().catch((error) => {
      span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message }); // no one else will see it
    }).finally(() => span.end()));
  background.add(done);
  done.finally(() => background.delete(done));
}

/** At most 4 requests use the worker and a subprocess at once; 8 more may wait for a slot. */
const slots = createSlots(4, 8);

async function handleJobs(url: URL): Promise<Response> {
  if (!await slots.take()) {
    return Response.json({ error: "busy: try again" }, { status: 503, headers: { "retry-after": "1" } });
  }
  try {
    const failAttempts = url.searchParams.get("fail") === "1" ? 1 : 0;
    const [job] = await Promise.all([queue.send("jobs", { failAttempts }), queue.send("notifications")]);
    const [digest, converted] = await Promise.all([
      measure("worker", () => worker.resize(job)),
      measure("subprocess", () => convert(job)),
    ]);
    inBackground("write audit record", () => measure("background", () => sleep(50)));
    return Response.json({ job, digest, converted });
  } finally {
    slots.release();
  }
}

function handler(request: Request): Promise<Response> | Response {
  const url = new URL(request.url);
  if (url.pathname !== "/jobs") return Response.json({ error: "not found" }, { status: 404 });
  if (request.method !== "GET" && request.method !== "POST") {
    return Response.json({ error: "method not allowed" }, { status: 405, headers: { allow: "GET, POST" } });
  }
  const span = trace.getActiveSpan(); // Deno's SERVER span
  span?.setAttribute("http.route", "/jobs");
  span?.updateName(`${request.method} /jobs`);
  return handleJobs(url);
}

/**
 * Serves until SIGINT or SIGTERM, then stops gracefully: in-flight requests finish, then the work they left
 * behind (queued jobs with their retries, background spans); then the worker and the queue close and the
 * process ends on its own, which exports every span and metric it still holds. What is still open after
 * `drainMs` ends it (exit 1).
 */
async function serve(
  { hostname, port, drainMs = 10_000 }: { hostname: string; port: number; drainMs?: number },
) {
  const server = serveAgain({
    hostname,
    port,
    onListen: ({ hostname, port }) => console.log(`Server listening on http://${hostname}:${port}/`),
  }, handler);
  const { promise: stopped, resolve: stop } = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop);
  await stopped;
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(signal, stop);
  console.log("Server: shutting down");
  const deadline = setTimeout(() => {
    console.error(`Server: requests or work still open after ${drainMs} ms, exiting`);
    Deno.exit(1); // Deno still exports what it holds
  }, drainMs);
  await server.shutdown();
  await Promise.all([...background, queue.drained()]);
  clearTimeout(deadline);
  worker.terminate();
  kv.close(); // the process now ends on its own, which exports every span and metric it still holds
}

if (import.meta.main) {
  const [hostname, port] = [Deno.env.get("JOBS_HOST") ?? "127.0.0.1", Deno.env.get("JOBS_PORT") ?? "8001"];
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    console.error(`Server: JOBS_PORT must be a port number, got ${JSON.stringify(port)}`);
    Deno.exit(2);
  }
  try {
    await serve({ hostname, port: Number(port) });
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    console.error(`Server: ${hostname}:${port} is already in use: set JOBS_PORT to another port`);
    Deno.exit(2);
  }
}
