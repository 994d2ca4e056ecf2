// Bad OpenTelemetry configuration, on real processes: what Deno 2.9.6 does with it. Some values stop the
// program before it starts, with a clear message; others are ignored without a word, and the telemetry is
// lost, and `deno task doctor` (tools/doctor/doctor.ts) says so. docs/reliability.md lists both.
import assert from "node:assert/strict";
import { startReceiver } from "@example/otlp/receiver";
import { runClient, runDoctor, startServer } from "@example/harness/processes";
import { startFaultCollector } from "./_fault_collectors.ts";

const wait = (what: string) => ({ signal: AbortSignal.timeout(15_000), what });

Deno.test("refused at start: an unknown OTEL_EXPORTER_OTLP_PROTOCOL or OTEL_TRACES_SAMPLER stops both programs with a clear message", async () => {
  await using receiver = startReceiver({ port: 0 });
  const cases = [
    [
      "OTEL_EXPORTER_OTLP_PROTOCOL",
      "http/xml",
      "Env var OTEL_EXPORTER_OTLP_PROTOCOL specifies an unsupported protocol: http/xml",
    ],
    [
      "OTEL_EXPORTER_OTLP_PROTOCOL",
      "HTTP/JSON",
      "Env var OTEL_EXPORTER_OTLP_PROTOCOL specifies an unsupported protocol: HTTP/JSON",
    ],
    [
      "OTEL_TRACES_SAMPLER",
      "sometimes",
      "Env var OTEL_TRACES_SAMPLER specifies an unsupported sampler: sometimes",
    ],
  ];
  await Promise.all(cases.map(async ([name, value, message]) => {
    const env = { [name]: value };
    await assert.rejects(
      startServer({ otlpEndpoint: receiver.url, env }),
      (error: Error) =>
        error.message.includes("exited with code 1 before listening") && error.message.includes(message),
    );
    const client = await runClient("http://127.0.0.1:1/", { otlpEndpoint: receiver.url, env });
    assert.equal(client.code, 1);
    assert.equal(client.stdout, "", "the program did not run");
    assert.match(client.stderr, new RegExp(`^error: ${message.replaceAll("/", "\\/")}\n`));
  }));
});

Deno.test("warned and ignored: OTEL_DENO=yes leaves tracing off, and the programs work", async () => {
  const server = await startServer({ env: { OTEL_DENO: "yes" } });
  let client, exit;
  try {
    client = await runClient(server.url, { env: { OTEL_DENO: "yes" } });
  } finally {
    exit = await server.stop();
  }
  const warning = "'OTEL_DENO' env var value not recognized, only 'true' and 'false' are accepted\n";
  assert.equal(client.code, 0, client.stderr);
  assert.match(client.stdout, /^trace id: none/m);
  assert.ok(client.stderr.startsWith(warning), client.stderr);
  assert.equal(exit.code, 0, exit.stderr);
  assert.ok(exit.stderr.startsWith(warning), exit.stderr);
});

/** The doctor's one line for `env`, which must be its only finding. */
async function doctorSays(env: Record<string, string>): Promise<string> {
  const doctor = await runDoctor(env);
  assert.equal(doctor.code, 1, `${JSON.stringify(env)}: ${doctor.stdout}${doctor.stderr}`);
  // Without OTEL_PROPAGATORS the doctor also names the baggage risk (tools/harness/doctor_test.ts checks it).
  return doctor.stdout.split("\n").filter((line) => !line.startsWith("risk: ")).join("\n");
}

Deno.test("warned by the doctor: a malformed OTLP endpoint, or one with a bad port, loses the client's spans in silence", async () => {
  await using receiver = startReceiver({ port: 0 });
  const server = await startServer({ otlpEndpoint: receiver.url, workMs: 0 });
  const endpoints = ["not a url", "127.0.0.1:4318", "http://127.0.0.1:99999", "ftp://127.0.0.1:4318"];
  let exit;
  const results = [];
  try {
    for (const endpoint of endpoints) {
      const client = await runClient(server.url, { otlpEndpoint: endpoint });
      results.push({ endpoint, client });
      // The server's half of the trace arrives (it exports to the receiver): the client's span never does.
      const trace = await receiver.store.waitFor(
        (s) =>
          s.trace(client.traceId!)?.spans.some((span) => span.kind === "SERVER") && s.trace(client.traceId!),
        wait(`the server's spans of ${endpoint}`),
      );
      assert.ok(trace.spans.every((span) => span.service === "server"), endpoint);
    }
  } finally {
    exit = await server.stop();
  }
  assert.equal(exit.code, 0, exit.stderr);
  for (const { endpoint, client } of results) {
    assert.equal(client.code, 0, `${endpoint}: ${client.stderr}`);
    // Deno says nothing; the doctor does, in one line.
    assert.equal(client.stderr, "");
    assert.equal(
      await doctorSays({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }),
      `warning: OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL, got ${
        JSON.stringify(endpoint)
      }: the telemetry will not arrive there\n`,
    );
    assert.deepEqual(
      receiver.store.trace(client.traceId!)?.spans.filter((span) => span.service === "client"),
      [],
      `${endpoint}: the client's spans are lost`,
    );
  }
});

Deno.test("warned by the doctor: an endpoint that already ends in /v1/traces gets /v1/traces appended again", async () => {
  await using collector = startFaultCollector({ mode: "ok" });
  const client = await runClient("http://127.0.0.1:1/", { otlpEndpoint: `${collector.url}/v1/traces` });
  assert.equal(client.code, 1, "the call fails (nothing listens on port 1), the export is the point here");
  assert.match(
    await doctorSays({ OTEL_EXPORTER_OTLP_ENDPOINT: `${collector.url}/v1/traces` }),
    /^warning: OTEL_EXPORTER_OTLP_ENDPOINT is a base URL, Deno appends \/v1\/traces to it; got "http:\/\/127\.0\.0\.1:\d+\/v1\/traces"\n$/,
  );
  const paths = new Set(collector.attempts.map((attempt) => attempt.path));
  assert.ok(paths.has("/v1/traces/v1/traces"), [...paths].join(", "));
  assert.equal(collector.store.spans.length, 0, "the receiver answered 404 and kept nothing");
});

Deno.test("warned by the doctor: OTEL_PROPAGATORS=b3 (not supported by Deno) sends no traceparent, so every trace breaks in two", async () => {
  await using receiver = startReceiver({ port: 0 });
  const server = await startServer({ otlpEndpoint: receiver.url, workMs: 0 });
  let client, exit;
  try {
    client = await runClient(server.url, { otlpEndpoint: receiver.url, env: { OTEL_PROPAGATORS: "b3" } });
    await receiver.store.waitFor(
      (s) =>
        s.spans.some((span) => span.kind === "SERVER") && (s.trace(client!.traceId!)?.spans.length ?? 0) >= 2,
      wait("both halves"),
    );
  } finally {
    exit = await server.stop();
  }
  assert.equal(client.code, 0, client.stderr);
  assert.equal(client.stderr, "");
  assert.equal(
    await doctorSays({ OTEL_PROPAGATORS: "b3" }),
    "warning: OTEL_PROPAGATORS=b3 has no tracecontext (Deno knows only tracecontext and baggage): " +
      "traces will not join across services\n",
  );
  assert.equal(exit.code, 0, exit.stderr);
  const serverSpan = receiver.store.spans.find((span) => span.kind === "SERVER")!;
  assert.notEqual(serverSpan.traceId, client.traceId, "the server started a trace of its own");
  assert.equal(serverSpan.parentSpanId, undefined);
});

Deno.test("warned by the doctor: a protocol on the other protocol's port, and a sampling ratio outside 0..1", async () => {
  const env = {
    OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
    OTEL_TRACES_SAMPLER_ARG: "1.5",
  };
  assert.equal(
    await doctorSays(env),
    "warning: OTEL_EXPORTER_OTLP_PROTOCOL=grpc with OTEL_EXPORTER_OTLP_ENDPOINT on port " +
      "4318, the OTLP/HTTP port: nothing will arrive (gRPC is port 4317)\n" +
      'warning: OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got "1.5": Deno keeps every trace\n',
  );
});

Deno.test("stopped by Deno before the program runs (a README troubleshooting line, no warning possible): a zero queue size, gzip compression", async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ OTEL_BSP_MAX_QUEUE_SIZE: "0" }, /Deno has panicked/],
    [{ OTEL_BLRP_MAX_QUEUE_SIZE: "0" }, /Deno has panicked/],
    [{ OTEL_EXPORTER_OTLP_COMPRESSION: "gzip" }, /^error: unsupported compression algorithm/],
  ];
  await using receiver = startReceiver({ port: 0 });
  for (const [env, message] of cases) {
    const client = await runClient("http://127.0.0.1:9/", { otlpEndpoint: receiver.url, env });
    assert.notEqual(client.code, 0, JSON.stringify(env));
    assert.equal(client.stdout, "", "the program did not run");
    assert.match(client.stderr, message);
  }
});
