// What goes wrong, on real processes: each failure is visible in the trace, the output says what happened
// in one line, the exit code says it failed, and no telemetry is lost.
import assert from "node:assert/strict";
import { startReceiver } from "@example/otlp/receiver";
import { closedPort, runClient, startServer } from "@example/harness/processes";
import type { Span } from "@example/otlp/decode";

function exceptionOf(span: Span) {
  return span.events.find((event) => event.name === "exception")?.attributes;
}

Deno.test("server down: the client fails in one line, and its span says why", async () => {
  await using receiver = startReceiver({ port: 0 });
  const url = `http://127.0.0.1:${closedPort()}/`;
  const client = await runClient(url, { otlpEndpoint: receiver.url });
  assert.equal(client.code, 1);
  assert.match(client.stderr, new RegExp(`^Client: cannot reach ${url}: .+\n$`));
  assert.ok(client.traceId, "the trace id is printed on failure too");
  const trace = await receiver.store.waitForTrace(client.traceId, {
    spans: 2,
    signal: AbortSignal.timeout(15_000),
  });
  const root = trace.spans.find((span) => span.name === "call-api")!;
  assert.equal(root.status.code, "ERROR");
  assert.equal(exceptionOf(root)?.["exception.type"], "CallError");
  assert.match(String(exceptionOf(root)?.["exception.message"]), /^cannot reach /);
  assert.ok(!root.events.some((event) => event.name === "received_response"));
});

Deno.test("404: the client fails, the server span has no route and is not an error", async () => {
  await using receiver = startReceiver({ port: 0 });
  await using server = await startServer({ otlpEndpoint: receiver.url });
  const client = await runClient(new URL("/no/such/path", server.url).href, { otlpEndpoint: receiver.url });
  assert.equal(client.code, 1);
  assert.match(client.stderr, /^Client: http:\/\/127\.0\.0\.1:\d+\/no\/such\/path answered 404 Not Found\n$/);
  const { spans } = await receiver.store.waitForTrace(client.traceId!, {
    spans: 3,
    signal: AbortSignal.timeout(15_000),
  });
  const serverSpan = spans.find((span) => span.kind === "SERVER")!;
  assert.equal(serverSpan.name, "GET", "no route matched, so the span is named by the method alone");
  assert.equal(serverSpan.attributes["http.route"], undefined);
  assert.equal(String(serverSpan.attributes["http.response.status_code"]), "404");
  assert.equal(serverSpan.status.code, "UNSET", "a 4xx is the client's error, not the server's");
  assert.equal(spans.find((span) => span.kind === "CLIENT")!.status.code, "ERROR");
  const root = spans.find((span) => span.name === "call-api")!;
  assert.equal(root.status.code, "ERROR");
  assert.deepEqual(root.events.find((event) => event.name === "received_response")?.attributes, {
    "http.response.status_code": 404,
  });
});

Deno.test("5xx: the failing route records its exception and every span of the trace is an error", async () => {
  await using receiver = startReceiver({ port: 0 });
  await using server = await startServer({ otlpEndpoint: receiver.url });
  const client = await runClient(new URL("/error", server.url).href, { otlpEndpoint: receiver.url });
  assert.equal(client.code, 1);
  assert.match(client.stderr, /answered 500 Internal Server Error\n$/);
  const { spans } = await receiver.store.waitForTrace(client.traceId!, {
    spans: 4,
    signal: AbortSignal.timeout(15_000),
  });
  const handler = spans.find((span) => span.name === "process-request")!;
  assert.deepEqual(handler.status, { code: "ERROR", message: "simulated failure" });
  assert.equal(exceptionOf(handler)?.["exception.message"], "simulated failure");
  assert.match(String(exceptionOf(handler)?.["exception.stacktrace"]), /server\.ts/);
  const serverSpan = spans.find((span) => span.kind === "SERVER")!;
  assert.equal(serverSpan.name, "GET /error");
  assert.equal(serverSpan.status.code, "ERROR");
  assert.equal(spans.find((span) => span.name === "call-api")!.status.code, "ERROR");
});

Deno.test("a malformed or hostile traceparent starts a fresh trace and fails nothing", async () => {
  await using receiver = startReceiver({ port: 0 });
  // The traceresponse header of tests/testdata/probed_server.ts names the trace each request ended up in.
  await using server = await startServer({
    otlpEndpoint: receiver.url,
    workMs: 0,
    script: "tests/testdata/probed_server.ts",
  });
  const hostile = [
    "garbage",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // all-zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // all-zero span id
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // forbidden version
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    `00-${"a".repeat(4000)}-00f067aa0ba902b7-01`,
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
  ];
  for (const traceparent of hostile) {
    const response = await fetch(new URL("/", server.url), { headers: { traceparent } });
    assert.equal(response.status, 200, traceparent);
    await response.body?.cancel();
    const [, traceId] = response.headers.get("traceresponse")!.split("-");
    assert.notEqual(traceId, "4bf92f3577b34da6a3ce929d0e0e4736", `${traceparent} was not rejected`);
    const { spans } = await receiver.store.waitForTrace(traceId, {
      spans: 2,
      signal: AbortSignal.timeout(15_000),
    });
    const serverSpan = spans.find((span) => span.kind === "SERVER")!;
    assert.equal(serverSpan.parentSpanId, undefined, `${traceparent}: the server span is a root`);
    assert.equal(serverSpan.status.code, "UNSET");
  }
});

Deno.test("no collector listening: both sides work and exit promptly", async () => {
  const nowhere = `http://127.0.0.1:${closedPort()}`;
  const server = await startServer({ otlpEndpoint: nowhere, env: { OTEL_EXPORTER_OTLP_TIMEOUT: "2000" } });
  const client = await runClient(server.url, {
    otlpEndpoint: nowhere,
    env: { OTEL_EXPORTER_OTLP_TIMEOUT: "2000" },
  });
  const exit = await server.stop();
  assert.equal(client.code, 0, client.stderr);
  assert.match(client.stdout, /Hello from server!/);
  assert.match(client.stdout, /^trace id: [0-9a-f]{32}$/m);
  assert.equal(exit.code, 0, exit.stderr);
  assert.match(exit.stdout, /Server: Processing request in trace context/);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`${signal} right after a response loses nothing`, async () => {
    await using receiver = startReceiver({ port: 0 });
    // Batch delays far longer than the test: only the shutdown flush can deliver the telemetry.
    const server = await startServer({
      otlpEndpoint: receiver.url,
      workMs: 0,
      env: { OTEL_BSP_SCHEDULE_DELAY: "60000", OTEL_BLRP_SCHEDULE_DELAY: "60000" },
    });
    const response = await fetch(server.url);
    await response.body?.cancel();
    const exit = await server.stop(signal);
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stdout, /Server: shutting down/);
    const servers = receiver.store.spans.filter((span) => span.kind === "SERVER");
    assert.equal(servers.length, 1, "the one request's SERVER span arrived");
    const trace = receiver.store.trace(servers[0].traceId);
    assert.deepEqual(trace?.spans.map((span) => span.name).sort(), ["GET /", "process-request"]);
    assert.ok(trace?.logs.some((log) => String(log.body).includes("Processing request in trace context")));
  });
}

Deno.test("a second stop signal while draining (Ctrl-C through deno task): one shutting-down line, a clean exit", async () => {
  await using receiver = startReceiver({ port: 0 });
  const server = await startServer({ otlpEndpoint: receiver.url, workMs: 1500 });
  const logged = (text: string) =>
    receiver.store.waitFor(
      (s) => s.logs.some((log) => String(log.body).includes(text)),
      { signal: AbortSignal.timeout(15_000) },
    );
  const inFlight = fetch(server.url).then((response) => response.json());
  await logged("Processing request");
  server.process.kill("SIGTERM");
  await logged("Server: shutting down"); // the first signal is being handled: the request is still open
  const exit = await server.stop("SIGTERM");
  assert.deepEqual(await inFlight, { message: "Hello from server!" });
  assert.equal(exit.code, 0, exit.stderr);
  assert.equal(
    exit.stdout.split("\n").filter((line) => line === "Server: shutting down").length,
    1,
    exit.stdout,
  );
});

for (const [port, shown] of [["abc", '"abc"'], ["70000", '"70000"'], ["-1", '"-1"'], ["1e3", '"1e3"']]) {
  Deno.test(`PORT=${port} stops the server with a one-line error`, async () => {
    await assert.rejects(startServer({ env: { PORT: port } }), (error: Error) => {
      assert.match(
        error.message,
        new RegExp(
          `exited with code 2 before listening:\nServer: PORT must be a whole number from 0 to 65535, got ${shown}\n$`,
        ),
      );
      return true;
    });
  });
}

Deno.test("SIMULATED_WORK_MS that is no whole number stops the server with a one-line error", async () => {
  await assert.rejects(startServer({ env: { SIMULATED_WORK_MS: "50ms" } }), (error: Error) => {
    assert.match(
      error.message,
      /exited with code 2 before listening:\nServer: SIMULATED_WORK_MS must be a whole number from 0 to 60000, got "50ms"\n$/,
    );
    return true;
  });
});

Deno.test("a port in use stops the server with a one-line error", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await assert.rejects(startServer({ env: { PORT: String(taken.addr.port) } }), (error: Error) => {
    assert.match(
      error.message,
      new RegExp(
        "exited with code 2 before listening:\nServer: cannot listen on 127\\.0\\.0\\.1:" + taken.addr.port +
          ": Address already in use \\(os error \\d+\\)\n$",
      ),
    );
    return true;
  });
});

Deno.test("a HOST that is no host name stops the server with a one-line error", async () => {
  await assert.rejects(startServer({ env: { HOST: "a b" } }), (error: Error) => {
    assert.match(
      error.message,
      /exited with code 2 before listening:\nServer: cannot listen on a b:0: .+\n$/,
    );
    return true;
  });
});

Deno.test("bad client settings stop the client with a one-line error", async () => {
  for (
    const [env, message] of [
      [
        { SERVER_URL: "localhost:8000" },
        'SERVER_URL must be an http:// or https:// URL, got "localhost:8000"',
      ],
      [
        { REQUEST_TIMEOUT_MS: "soon" },
        'REQUEST_TIMEOUT_MS must be a whole number from 1 to 600000, got "soon"',
      ],
      [{ REQUEST_TIMEOUT_MS: "0" }, 'REQUEST_TIMEOUT_MS must be a whole number from 1 to 600000, got "0"'],
      [
        { SERVER_URL: "ftp://127.0.0.1/" },
        'SERVER_URL must be an http:// or https:// URL, got "ftp://127.0.0.1/"',
      ],
      [{ GRAFANA_URL: "grafana" }, 'GRAFANA_URL must be an http:// or https:// URL, got "grafana"'],
    ] as const
  ) {
    const client = await runClient("http://127.0.0.1:9/", { env });
    assert.equal(client.code, 2);
    assert.equal(client.stderr, `Client: ${message}\n`);
  }
});

Deno.test("without --allow-env both programs fall back to their defaults instead of failing", async () => {
  // The client's default URL is http://localhost:8000/; whatever is (or is not) there, it must not crash
  // on a permission error. SERVER_URL is set in its environment but must be ignored.
  const client = await runClient("http://127.0.0.1:9/", { permissions: ["--allow-net=localhost:8000"] });
  assert.doesNotMatch(client.stderr, /NotCapable|PermissionDenied|Requires env access/);
  assert.ok(client.code === 0 || client.stderr.includes("http://localhost:8000/"), client.stderr);
  // The server's half (it would listen on 127.0.0.1:8000, a port tests leave alone) is in
  // tests/permissions_test.ts: it says in one line that it uses its defaults.
});
