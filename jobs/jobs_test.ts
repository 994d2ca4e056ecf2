import assert from "node:assert/strict";
import { startReceiver, TelemetryStore } from "@example/otlp/receiver";
import { otelEnv, ROOT, runDeno, spawn } from "@example/harness/processes";
import { BOUNDARIES, runJobsDemo } from "./demo.ts";
import { jobsFlags } from "@example/harness/jobs_server";

/** A valid context, the control of the tests of bad ones. */
const VALID = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

Deno.test("one request to the jobs service makes one trace across every boundary", async (t) => {
  const store = new TelemetryStore();
  const result = await runJobsDemo({ store, log: () => {} });
  const { trace } = result;
  assert.ok(trace, result.broken.join("\n"));
  // One step per boundary, each failing on its own when that boundary's context is not carried.
  for (const boundary of [...BOUNDARIES.map(({ name }) => name), "KV queue batch"]) {
    await t.step(boundary, () => {
      assert.deepEqual(result.broken.filter((line) => line.startsWith(`${boundary}:`)), []);
    });
  }
  await t.step("the failed attempt records the exception and ERROR status; its retry succeeds", () => {
    const attempts = trace.spans.filter((span) => span.name === "process jobs")
      .sort((a, b) => Number(a.attributes["job.attempt"]) - Number(b.attributes["job.attempt"]));
    assert.deepEqual(attempts.map((span) => [span.kind, span.attributes["job.attempt"], span.status.code]), [
      ["CONSUMER", 1, "ERROR"],
      ["CONSUMER", 2, "UNSET"],
    ]);
    const exception = attempts[0].events.find((event) => event.name === "exception");
    assert.equal(exception?.attributes["exception.message"], "attempt 1 failed (simulated)");
    assert.equal(attempts[0].attributes["messaging.destination.name"], "jobs");
    assert.equal(attempts[0].attributes["messaging.operation.type"], "process");
  });
  await t.step("the batch starts a trace of its own and links to the message's PRODUCER span", () => {
    const producer = trace.spans.find((span) => span.name === "enqueue notifications");
    assert.equal(producer?.kind, "PRODUCER");
    const [batch] = result.linked.flatMap((linked) => linked.spans);
    assert.equal(batch.parentSpanId, undefined);
    assert.deepEqual(batch.links.map((link) => [link.traceId, link.spanId]), [[
      trace.traceId,
      producer.spanId,
    ]]);
    assert.equal(batch.attributes["messaging.batch.message_count"], 1);
  });
  await t.step("the graceful stop right after the response still exports the work left behind", () => {
    // runJobsDemo sends SIGTERM as soon as the client has its answer. The background span (50 ms of work
    // after the response) ends after the SERVER span; the KV retry, still waiting for redelivery then, is
    // only there because the stop waits for the queue to drain: closing KV drops a message that waits.
    const server = trace.spans.find((span) => span.kind === "SERVER")!;
    const audit = trace.spans.find((span) => span.name === "write audit record")!;
    assert.equal(audit.parentSpanId, server.spanId);
    assert.ok(audit.endTimeUnixNano > server.endTimeUnixNano);
    assert.ok(trace.spans.some((span) => span.attributes["job.attempt"] === 2), "the retry was exported");
  });
  await t.step("the app's metrics are exported next to Deno's", () => {
    const names = new Set(store.metrics.series().map((series) => series.name));
    for (const name of ["jobs.processed", "jobs.duration", "http.server.request.duration"]) {
      assert.ok(names.has(name), `${name} in ${[...names]}`);
    }
  });
});

Deno.test("a message with a malformed, missing or foreign traceparent starts a fresh trace", async () => {
  await using receiver = startReceiver({ port: 0 });
  const run = await runDeno("jobs/testdata/hostile_messages.ts", {
    permissions: ["--unstable-kv"],
    args: [VALID],
    env: otelEnv("jobs", { otlpEndpoint: receiver.url }),
  });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const startup = run.stdout.match(/^startup ([0-9a-f]{32})$/m)?.[1];
  const handled = [...run.stdout.matchAll(/^handled (\S+)$/gm)].map(([, id]) => id).sort();
  const ids = ["all-zero", "batched", "foreign", "garbage", "malformed", "missing", "not-a-string"];
  assert.deepEqual(handled, [...ids, "not-an-object", "valid"].sort());
  const spans = await receiver.store.waitFor((store) => {
    const spans = store.spans.filter((span) => span.name.startsWith("process "));
    return spans.length === handled.length && spans; // "batched" is in a batch span of its own
  }, { signal: AbortSignal.timeout(10_000) });
  for (const span of spans) {
    const id = span.attributes["messaging.message.id"] ?? "batched";
    if (id === "valid") {
      assert.deepEqual([span.traceId, span.parentSpanId], VALID.split("-").slice(1, 3));
      continue;
    }
    assert.equal(span.parentSpanId, undefined, `${id} starts a trace`);
    assert.notEqual(span.traceId, startup, `${id} did not join the trace listenQueue was called in`);
    assert.deepEqual(span.links, [], `${id} links to nothing`);
  }
});

Deno.test("a malformed TRACEPARENT in a subprocess's environment changes nothing but the trace", async () => {
  await using receiver = startReceiver({ port: 0 });
  const cases: Record<string, string | undefined> = {
    valid: VALID,
    malformed: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b71-01",
    garbage: "00-\u00e9;rm -rf /-\t",
    missing: undefined,
  };
  const runs = await Promise.all(
    Object.entries(cases).map(([name, value]) =>
      runDeno("jobs/subprocess.ts", {
        permissions: ["--allow-env=TRACEPARENT,TRACESTATE"],
        args: [name],
        env: {
          ...otelEnv(`subprocess-${name}`, { otlpEndpoint: receiver.url }),
          ...value && { TRACEPARENT: value },
        },
      })
    ),
  );
  for (const [i, name] of Object.keys(cases).entries()) {
    assert.deepEqual([runs[i].code, runs[i].stdout], [0, `{"converted":"${name.toUpperCase()}"}\n`]);
  }
  const spans = await receiver.store.waitFor(
    (store) => store.spans.length === runs.length && store.spans,
    { signal: AbortSignal.timeout(10_000) },
  );
  for (const span of spans) {
    const expected = span.service === "subprocess-valid" ? VALID.split("-").slice(2, 3)[0] : undefined;
    assert.equal(span.parentSpanId, expected, span.service);
  }
});

Deno.test("deno task demo:jobs draws the whole trace and exits 0", async () => {
  const output = await spawn("deno", ["task", "demo:jobs"], ROOT, {}).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, stdout + new TextDecoder().decode(output.stderr));
  for (
    const row of [/PRODUCER +├─ enqueue jobs/, /CONSUMER +│ {2}├─ process jobs .*✗ ERROR/, /resize in worker/]
  ) {
    assert.match(stdout, row);
  }
  assert.match(stdout, /every boundary joined/);
});

Deno.test("a bad JOBS_PORT, or one in use, is one line on stderr and exit code 2", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const cases: [string, RegExp][] = [
    ["80a", /^Server: JOBS_PORT must be a port number, got "80a"$/],
    ["", /^Server: JOBS_PORT must be a port number, got ""$/],
    [String(taken.addr.port), new RegExp(`^Server: 127.0.0.1:${taken.addr.port} is already in use`)],
  ];
  for (const [port, message] of cases) {
    const env = { JOBS_PORT: port, OTEL_DENO: "false" }; // nothing to export, and nowhere to
    const run = await runDeno("jobs/server.ts", { permissions: jobsFlags(), env });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr.trim(), message);
  }
});
