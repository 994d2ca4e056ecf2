// Faults around the service, on real processes: a collector that is absent, hangs, fails or comes back; a
// server stopped in the middle of a request; a burst of requests; a server that never answers the client.
// Latencies and exit times are measured and printed (see docs/reliability.md), never asserted.
import assert from "node:assert/strict";
import { startReceiver } from "@example/otlp/receiver";
import { closedPort, runClient, serverPermissions, startServer } from "@example/harness/processes";
import {
  burst,
  type CollectorMode,
  optedIn,
  startFaultCollector,
  startSilentListener,
  summarize,
  traceIdOf,
  traceparent,
} from "./_fault_collectors.ts";

/** Deno's batch span processor defaults (OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE). */
const SPAN_QUEUE = 2048;
const EXPORT_BATCH = 512;

const wait = (what: string, ms = 15_000) => ({ signal: AbortSignal.timeout(ms), what });

function allOk(result: Awaited<ReturnType<typeof burst>>, count: number): void {
  assert.deepEqual(result.failures, [], "every request is answered");
  assert.deepEqual([...result.statuses], [[200, count]], "every request gets 200");
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await work();
  return [value, performance.now() - start];
}

Deno.test("collector absent: the service works, both programs exit promptly, the spans are dropped silently", async () => {
  const endpoint = `http://127.0.0.1:${closedPort()}`;
  const server = await startServer({ otlpEndpoint: endpoint, workMs: 0 });
  let requests, client, clientMs, exit, stopMs;
  try {
    requests = await burst(server.url, { count: 50, concurrency: 5 });
    [client, clientMs] = await timed(() => runClient(server.url, { otlpEndpoint: endpoint }));
  } finally {
    [exit, stopMs] = await timed(() => server.stop());
  }
  allOk(requests!, 50);
  assert.equal(client!.code, 0, client!.stderr);
  assert.match(client!.stdout, /^Client: received \{"message":"Hello from server!"\}$/m);
  // Deno reports failed exports nowhere: not on stderr, not in the exit code.
  assert.equal(client!.stderr, "");
  assert.equal(exit.code, 0, exit.stderr);
  assert.equal(exit.stderr, "");
  console.log(
    `collector absent: requests ${summarize(requests!.latencies)}; client run ${clientMs!.toFixed(0)} ms; ` +
      `server stop ${stopMs.toFixed(0)} ms`,
  );
});

Deno.test("collector hanging: requests are not held up, the span queue stays bounded, spans flow again when it answers", async () => {
  await using collector = startFaultCollector({ mode: "ok" });
  const exportTimeout = { OTEL_EXPORTER_OTLP_TIMEOUT: "1000" };
  const server = await startServer({ otlpEndpoint: collector.url, workMs: 0, env: exportTimeout });
  const hung = traceIdOf(0x4a4e47);
  let back = "";
  const count = 1500; // 3000 spans: more than the queue and one batch can hold
  let baseline, during, client, clientMs, after;
  let exit;
  try {
    // The same load with a collector that answers, for comparison.
    baseline = await burst(server.url, { count, concurrency: 10 });
    // From the first held export on, the exporter is stuck until its timeout, again and again.
    collector.mode = "hang";
    await (await fetch(new URL("/health", server.url))).arrayBuffer();
    await collector.until((c) => c.held > 0, wait("a held export"));
    during = await burst(server.url, {
      count,
      concurrency: 10,
      headersFor: (i) => ({ traceparent: traceparent(hung, i) }),
    });
    // The client too: it answers, and its exit waits for its own exports at most about twice the timeout.
    [client, clientMs] = await timed(() =>
      runClient(server.url, { otlpEndpoint: collector.url, env: { OTEL_EXPORTER_OTLP_TIMEOUT: "500" } })
    );
    collector.mode = "ok";
    // Until the server's queue has drained the hang's spans, it has no room and drops new ones: send the
    // requests after in rounds, each in a trace of its own, until one round arrives whole.
    for (let round = 1;; round++) {
      back = traceIdOf(0xbac0 + round);
      after = await burst(server.url, {
        count: 20,
        concurrency: 5,
        headersFor: (i) => ({ traceparent: traceparent(back, i) }),
      });
      const arrived = collector.store.waitFor((s) => (s.trace(back)?.spans.length ?? 0) >= 40, {
        signal: AbortSignal.timeout(3_000),
        what: `the spans after, round ${round}`,
      });
      if (round === 10) await arrived;
      if (await arrived.then(() => true, () => false)) break;
    }
  } finally {
    exit = await server.stop();
  }
  allOk(baseline, count);
  allOk(during, count);
  allOk(after, 20);
  assert.equal(client!.code, 0, client!.stderr);
  assert.equal(exit.code, 0, exit.stderr);
  assert.equal(collector.store.trace(back)?.spans.length, 40, "every span after the collector came back");
  const kept = collector.store.trace(hung)?.spans.length ?? 0;
  // What the server held for the hanging collector is bounded by its queue and one batch; the rest was dropped.
  assert.ok(kept <= SPAN_QUEUE + EXPORT_BATCH, `${kept} spans kept, more than the queue holds`);
  assert.ok(kept < 2 * count, "spans were dropped, not buffered without bound");
  const heldExports = collector.attempts.filter((a) => a.mode === "hang").length;
  console.log(
    `collector hanging: ${count} requests at concurrency 10 with the collector answering: ${
      summarize(baseline.latencies)
    }; during the hang: ${summarize(during.latencies)}; ` +
      `after: ${summarize(after.latencies)}; client run with a 500 ms export timeout: ${
        clientMs!.toFixed(0)
      } ms; ${heldExports} exports held; spans of the hang kept ${kept} of ${2 * count}`,
  );
});

for (const mode of ["503", "500", "partial"] as const satisfies CollectorMode[]) {
  const what = mode === "partial" ? "a partial success" : mode;
  Deno.test(`collector answering ${what}: requests unaffected, no retry, no crash, spans flow again after`, async () => {
    await using collector = startFaultCollector({ mode });
    const server = await startServer({ otlpEndpoint: collector.url, workMs: 0 });
    const failing = traceIdOf(0xfa11), back = traceIdOf(0xbac);
    let during, after, exit;
    try {
      during = await burst(server.url, {
        count: 50,
        concurrency: 5,
        headersFor: (i) => ({ traceparent: traceparent(failing, i) }),
      });
      // Every span of those requests reached the collector and got the faulty answer.
      await collector.until(
        (c) => c.attempts.flatMap((a) => a.traceIds).filter((id) => id === failing).length >= 100,
        wait("the export of the spans during the fault"),
      );
      collector.mode = "ok";
      after = await burst(server.url, {
        count: 10,
        concurrency: 5,
        headersFor: (i) => ({ traceparent: traceparent(back, i) }),
      });
      await collector.store.waitFor((s) => (s.trace(back)?.spans.length ?? 0) >= 20, wait("the spans after"));
    } finally {
      exit = await server.stop();
    }
    allOk(during, 50);
    allOk(after, 10);
    assert.equal(exit.code, 0, exit.stderr);
    const sent = collector.attempts.flatMap((a) => a.traceIds).filter((id) => id === failing).length;
    assert.equal(sent, 100, "each span was sent once: no retry");
    if (mode === "partial") {
      assert.equal(collector.store.trace(failing)?.spans.length, 100);
      // The only fault Deno reports: one line on stderr per partial success.
      assert.match(exit.stderr, /name="HttpTraceClient\.PartialSuccess" rejected_spans=1 /);
    } else {
      // Refused spans are gone for good: even the flush at exit does not send them again.
      assert.equal(collector.store.trace(failing)?.spans.length ?? 0, 0);
      assert.equal(exit.stderr, "", "Deno does not report refused exports");
    }
    const attempts = collector.attempts.filter((a) => a.mode === mode && a.path === "/v1/traces").length;
    console.log(
      `collector answering ${what}: ${
        summarize(during.latencies)
      }; ${attempts} trace exports during the fault`,
    );
  });
}

Deno.test("collector that comes back: what is produced after it returns arrives; what it missed is lost", async () => {
  // The one place a test listens on a port it picked: the collector must be absent at a known address first.
  const port = closedPort();
  const endpoint = `http://127.0.0.1:${port}`;
  const server = await startServer({ otlpEndpoint: endpoint, workMs: 0 });
  let missed, after, exit;
  try {
    // While it is down: a whole client run, whose exit flushes (and loses) the client's spans.
    missed = await runClient(server.url, { otlpEndpoint: endpoint });
    // The collector starts again on the address both programs were given.
    await using receiver = startReceiver({ port });
    after = await runClient(server.url, { otlpEndpoint: endpoint });
    const trace = await receiver.store.waitForTrace(after.traceId!, {
      spans: 4,
      signal: AbortSignal.timeout(15_000),
    });
    assert.deepEqual(trace.spans.map((span) => span.service).sort(), [
      "client",
      "client",
      "server",
      "server",
    ]);
    exit = await server.stop();
    // The client's spans from while it was down never arrive; the server's may, if still queued when it returned.
    const lost = receiver.store.trace(missed.traceId!)?.spans ?? [];
    assert.deepEqual(lost.filter((span) => span.service === "client"), []);
    console.log(
      `collector that comes back: of the run while it was down, ${lost.length} of 4 spans arrived (server's, queued)`,
    );
  } finally {
    exit ??= await server.stop();
  }
  assert.equal(missed.code, 0, missed.stderr);
  assert.equal(after.code, 0, after.stderr);
  assert.equal(exit.code, 0, exit.stderr);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`${signal} mid-request: the request completes, and all telemetry produced before the stop arrives`, async () => {
    await using receiver = startReceiver({ port: 0 });
    const server = await startServer({ otlpEndpoint: receiver.url, workMs: 1000 });
    const before = traceIdOf(0xbef), slow = traceIdOf(0x510);
    let exit, answer;
    try {
      // Finished just before the stop: 5 × /health (1 span) and 5 × /error (2 spans and a log record).
      for (let i = 0; i < 5; i++) {
        for (const path of ["/health", "/error"]) {
          const response = await fetch(new URL(path, server.url), {
            headers: { traceparent: traceparent(before, path === "/health" ? i : 100 + i) },
          });
          await response.arrayBuffer();
        }
      }
      let settled = false;
      const inFlight = fetch(server.url, { headers: { traceparent: traceparent(slow, 0) } })
        .then(async (response) => ({ status: response.status, body: await response.json() }))
        .finally(() => settled = true);
      // The handler has started: its log record arrived.
      await receiver.store.waitFor(
        (s) => s.trace(slow)?.logs.some((log) => String(log.body).includes("Processing request")),
        wait("the in-flight request's log record"),
      );
      assert.equal(settled, false, "the request finished before the signal: raise workMs");
      exit = await server.stop(signal);
      answer = await inFlight;
    } finally {
      exit ??= await server.stop();
    }
    assert.equal(exit.code, 0, exit.stderr);
    assert.deepEqual(answer, { status: 200, body: { message: "Hello from server!" } });
    // The process has exited, and it waited for its exports to be answered: nothing more can arrive.
    const done = receiver.store.trace(before)!;
    assert.equal(done.spans.filter((span) => span.kind === "SERVER").length, 10);
    assert.equal(done.spans.filter((span) => span.name === "process-request").length, 5);
    assert.equal(done.logs.length, 5);
    const inFlightTrace = receiver.store.trace(slow)!;
    assert.deepEqual(inFlightTrace.spans.map((span) => span.name).sort(), ["GET /", "process-request"]);
    // Every line the server printed, including "Server: shutting down", is a log record that arrived.
    const printed = (exit.stdout + exit.stderr).split("\n").filter((line) => line !== "");
    const bodies = new Set(receiver.store.logs.map((log) => String(log.body).trimEnd()));
    assert.deepEqual(printed.filter((line) => !bodies.has(line)), [], "lines without a log record");
    assert.ok(printed.includes("Server: shutting down"));
  });
}

Deno.test("a burst of 200 requests at concurrency 10: every request answered, every span and log record received", async () => {
  await using receiver = startReceiver({ port: 0 });
  const server = await startServer({ otlpEndpoint: receiver.url, workMs: 0 });
  const count = 200;
  const ids = Array.from({ length: count }, (_, i) => traceIdOf(0x100000 + i));
  let result, exit;
  try {
    result = await burst(server.url, {
      count,
      concurrency: 10,
      headersFor: (i) => ({ traceparent: traceparent(ids[i], i) }),
    });
    await receiver.store.waitFor(
      (s) => ids.every((id) => (s.trace(id)?.spans.length ?? 0) >= 2 && (s.trace(id)?.logs.length ?? 0) >= 1),
      wait("two spans and a log record of every request"),
    );
  } finally {
    exit = await server.stop();
  }
  allOk(result, count);
  assert.equal(exit.code, 0, exit.stderr);
  // Exactly what was expected, after the exit flushed everything: no loss, no duplicate.
  ids.forEach((id, i) => {
    const trace = receiver.store.trace(id)!;
    const serverSpan = trace.spans.find((span) => span.kind === "SERVER");
    assert.equal(trace.spans.length, 2, `request ${i}`);
    assert.equal(serverSpan?.parentSpanId, traceparent(id, i).split("-")[2]);
    assert.equal(trace.logs.length, 1, `request ${i}`);
  });
  const ours = new Set(ids);
  assert.equal(receiver.store.spans.filter((span) => ours.has(span.traceId)).length, 2 * count);
  console.log(`burst of ${count} at concurrency 10: ${summarize(result.latencies)}`);
});

Deno.test("client against a server that never answers: the timeout fires, the span says so, exit 1", async () => {
  await using silent = startSilentListener();
  await using receiver = startReceiver({ port: 0 });
  const [client, ms] = await timed(() =>
    runClient(silent.url, { otlpEndpoint: receiver.url, env: { REQUEST_TIMEOUT_MS: "300" } })
  );
  assert.equal(client.code, 1);
  assert.equal(client.stderr, `Client: no answer from ${silent.url} within 300 ms\n`);
  assert.ok(silent.accepted >= 1, "the request reached the server");
  const { spans } = await receiver.store.waitForTrace(client.traceId!, {
    spans: 2,
    signal: AbortSignal.timeout(15_000),
  });
  const root = spans.find((span) => span.name === "call-api")!;
  assert.deepEqual(root.status, { code: "ERROR", message: `no answer from ${silent.url} within 300 ms` });
  const exception = root.events.find((event) => event.name === "exception")?.attributes;
  assert.equal(exception?.["exception.type"], "CallError");
  const clientSpan = spans.find((span) => span.kind === "CLIENT")!;
  assert.equal(clientSpan.status.code, "ERROR");
  assert.equal(clientSpan.attributes["error.type"], "TimeoutError");
  console.log(`client against a silent server (REQUEST_TIMEOUT_MS=300): exited after ${ms.toFixed(0)} ms`);
});

// Opt-in (about 30 s): FAULTS_MEMORY=1 deno test --allow-run=deno --allow-net=127.0.0.1 --allow-read=. \
//   --allow-env=FAULTS_MEMORY tests/collector_faults_test.ts --filter memory
const memoryOptIn = optedIn("FAULTS_MEMORY");
Deno.test({
  name:
    "memory (opt-in, FAULTS_MEMORY=1): with a hanging collector the server's memory levels off as with a working one",
  ignore: !memoryOptIn,
  async fn() {
    const phases = 20, perPhase = 3000;
    const series: Record<string, number[]> = {};
    for (const mode of ["ok", "hang"] as const) {
      await using collector = startFaultCollector({ mode });
      await using server = await startServer({
        script: "tests/testdata/probed_server.ts",
        otlpEndpoint: collector.url,
        env: { SIMULATED_WORK_MS: "0", OTEL_EXPORTER_OTLP_TIMEOUT: "1000" },
        permissions: ["--v8-flags=--expose-gc", ...serverPermissions()],
      });
      series[mode] = [];
      for (let phase = 0; phase < phases; phase++) {
        allOk(await burst(server.url, { count: perPhase, concurrency: 10 }), perPhase);
        const usage = await (await fetch(new URL("/__memory", server.url))).json();
        series[mode].push(Math.round(usage.rss / 2 ** 20));
      }
    }
    console.log(
      `RSS in MiB after each ${perPhase} requests:\n  collector answering: ${series.ok.join(" ")}\n` +
        `  collector hanging:   ${series.hang.join(" ")}`,
    );
    // Keeping every span of the hang would cost about 4 KiB a request (measured with an unbounded queue).
    assert.ok(
      series.hang.at(-1)! <= series.ok.at(-1)! + 32,
      "the hang costs no more than a working collector",
    );
  },
});

Deno.test("requests still open at the drain deadline leave no span at all; those finished before lose nothing", async () => {
  await using receiver = startReceiver({ port: 0 });
  // server.ts's serve() with a 500 ms drain deadline (tests/testdata/server_drain.ts); the work takes 3 s.
  const server = await startServer({
    script: "tests/testdata/server_drain.ts",
    otlpEndpoint: receiver.url,
    workMs: 3000,
  });
  const open = 5;
  const done = traceIdOf(0xd0e), cut = traceIdOf(0xc07);
  let exit;
  try {
    for (let i = 0; i < 5; i++) {
      const response = await fetch(new URL("/health", server.url), {
        headers: { traceparent: traceparent(done, i) },
      });
      await response.arrayBuffer();
    }
    const requests = Array.from(
      { length: open },
      (_, i) =>
        fetch(server.url, { headers: { traceparent: traceparent(cut, i) } }).then(
          (response) => response.status,
          () => "closed",
        ),
    );
    await receiver.store.waitFor(
      (s) => (s.trace(cut)?.logs.length ?? 0) === open,
      wait("every open request's handler has started (its log record arrived)"),
    );
    exit = await server.stop();
    assert.deepEqual(await Promise.all(requests), Array(open).fill("closed"), "cut off unanswered");
  } finally {
    exit ??= await server.stop();
  }
  assert.equal(exit.code, 1);
  assert.equal(exit.stderr, "Server: requests still open after 500 ms, exiting\n");
  assert.equal(receiver.store.trace(done)?.spans.length, 5, "the finished requests' spans all arrived");
  const spans = receiver.store.trace(cut)?.spans ?? [];
  assert.deepEqual(spans, [], "neither the SERVER span nor process-request of an open request");
  console.log(
    `drain deadline: ${open} requests open at the deadline left ${spans.length} spans ` +
      `(their ${receiver.store.trace(cut)?.logs.length} log records arrived); 5 of 5 finished ones arrived`,
  );
});

// Opt-in (about 20 s): FAULTS_OUTAGE=1 deno test --allow-run=deno --allow-net=127.0.0.1 --allow-read=. \
//   --allow-env=FAULTS_OUTAGE tests/collector_faults_test.ts --filter outage
const outageOptIn = optedIn("FAULTS_OUTAGE");
Deno.test({
  name:
    "collector outage (opt-in, FAULTS_OUTAGE=1): the batch pending when it begins is lost with what comes during it",
  ignore: !outageOptIn,
  async fn() {
    const port = closedPort();
    let receiver = startReceiver({ port });
    const delayMs = 1000, outageMs = 10_000, everyMs = 50;
    const server = await startServer({
      otlpEndpoint: receiver.url,
      workMs: 0,
      env: { OTEL_BSP_SCHEDULE_DELAY: String(delayMs), OTEL_EXPORTER_OTLP_TIMEOUT: "2000" },
    });
    const phases = { before: traceIdOf(0xbef0), during: traceIdOf(0xd0a1), after: traceIdOf(0xaf7e) };
    const sent = { before: 0, during: 0, after: 0 };
    const requestFor = async (phase: keyof typeof phases, ms: number) => {
      for (const end = performance.now() + ms; performance.now() < end;) {
        const response = await fetch(new URL("/health", server.url), {
          headers: { traceparent: traceparent(phases[phase], sent[phase]++) },
        });
        await response.arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    };
    const arrived: Record<string, number> = {};
    let exit;
    try {
      await requestFor("before", 3000);
      const seen = receiver.store.trace(phases.before)?.spans.length ?? 0;
      await receiver[Symbol.asyncDispose]();
      await requestFor("during", outageMs);
      receiver = startReceiver({ port });
      await requestFor("after", 2000);
      exit = await server.stop();
      for (const phase of ["before", "during", "after"] as const) {
        arrived[phase] = receiver.store.trace(phases[phase])?.spans.length ?? 0;
      }
      arrived.before += seen;
    } finally {
      exit ??= await server.stop();
      await receiver[Symbol.asyncDispose]();
    }
    assert.equal(exit.code, 0, exit.stderr);
    console.log(
      `outage of ${outageMs} ms, OTEL_BSP_SCHEDULE_DELAY=${delayMs}, one span every ~${everyMs} ms: ` +
        `before it ${arrived.before} of ${sent.before} spans arrived, during it ${arrived.during} of ` +
        `${sent.during}, after it ${arrived.after} of ${sent.after}`,
    );
    assert.equal(arrived.after, sent.after, "what comes after the outage arrives");
    assert.ok(arrived.before < sent.before, "the batch pending when the outage began is lost");
  },
});
