// The example as a user runs it: a real OTLP/HTTP receiver in the test, and the server and the client as
// real child processes with Deno's OpenTelemetry on, exporting to it. Assertions are on what arrived.
import { checkJoinedTrace } from "@example/demo/joined";
import assert from "node:assert/strict";
import { startReceiver } from "@example/otlp/receiver";
import { runClient, startServer } from "@example/harness/processes";
import type { Span } from "@example/otlp/decode";
import { grafanaTraceUrl } from "@example/stack/grafana_link";

function only(spans: Span[], predicate: (span: Span) => boolean, what: string): Span {
  const found = spans.filter(predicate);
  assert.equal(
    found.length,
    1,
    `expected one ${what}, found ${found.length}: ${JSON.stringify(found.map((s) => s.name))}`,
  );
  return found[0];
}

for (const protocol of ["http/json", "http/protobuf"] as const) {
  Deno.test(`one request is one trace across client and server (${protocol})`, async () => {
    await using receiver = startReceiver({ port: 0 });
    const server = await startServer({ otlpEndpoint: receiver.url, protocol, workMs: 20 });
    let serverExit;
    try {
      const client = await runClient(server.url, { otlpEndpoint: receiver.url, protocol });
      assert.equal(client.code, 0, client.stderr);
      assert.match(client.stdout, /^Client: received \{"message":"Hello from server!"\}$/m);
      assert.ok(client.traceId, `the client printed no trace id:\n${client.stdout}`);
      // client.ts builds the link inline: the same as the stack's builder, which the stack check opens.
      assert.equal(client.stdout.match(/^Grafana: +(\S+)$/m)?.[1], grafanaTraceUrl(client.traceId));

      const trace = await receiver.store.waitForTrace(client.traceId, {
        spans: 4,
        signal: AbortSignal.timeout(15_000),
      });
      // The shape (four spans, two services, each span's parent) by the one check; the details below.
      const joined = checkJoinedTrace(trace.spans, client.traceId);
      const root = joined.callApi;
      assert.deepEqual(root.scope, { name: "api-client", version: "1.0.0" });
      assert.equal(root.status.code, "UNSET");
      assert.deepEqual(root.events.map((event) => [event.name, event.attributes]), [
        ["received_response", { "http.response.status_code": 200 }],
      ]);

      const clientSpan = joined.clientGet;
      assert.equal(clientSpan.name, "GET");
      // Deno 2.9 sends http.response.status_code as a string attribute (the conventions say int).
      assert.equal(String(clientSpan.attributes["http.response.status_code"]), "200");

      const serverSpan = joined.serverGet;
      assert.equal(serverSpan.attributes["http.route"], "/");
      assert.equal(serverSpan.attributes["http.request.method"], "GET");
      assert.equal(String(serverSpan.attributes["http.response.status_code"]), "200");
      assert.equal(serverSpan.status.code, "UNSET");

      const handler = joined.handler;
      assert.equal(handler.name, "process-request");
      assert.deepEqual(handler.scope, { name: "api-server", version: "1.0.0" });
      assert.equal(handler.status.code, "UNSET");
      const [event] = handler.events;
      assert.equal(event?.name, "processing_request");
      assert.match(String(event.attributes.request_id), /^[0-9a-f-]{36}$/);
      assert.ok(!Number.isNaN(Date.parse(String(event.attributes.timestamp))));
      assert.ok(handler.endTimeUnixNano - handler.startTimeUnixNano >= 20_000_000n, "the simulated work");

      // The server's log line is a log record of this trace, written inside the handler's span.
      const log = await receiver.store.waitFor(
        () =>
          trace.logs.find((log) =>
            log.service === "server" &&
            String(log.body).includes("Server: Processing request in trace context")
          ),
        { signal: AbortSignal.timeout(15_000), what: "the server's log record" },
      );
      assert.equal(log.spanId, handler.spanId);
    } finally {
      serverExit = await server.stop();
    }
    assert.equal(serverExit.code, 0, serverExit.stderr);
  });
}

Deno.test("the route is the path without the query string", async () => {
  await using receiver = startReceiver({ port: 0 });
  await using server = await startServer({ otlpEndpoint: receiver.url, workMs: 0 });
  const grafanaUrl = "https://grafana.example/sub/path/";
  const client = await runClient(new URL("/health?probe=/error", server.url).href, {
    otlpEndpoint: receiver.url,
    env: { GRAFANA_URL: grafanaUrl },
  });
  assert.equal(client.code, 0, client.stderr);
  assert.match(client.stdout, /^Client: received \{"status":"ok"\}$/m);
  assert.equal(
    client.stdout.match(/^Grafana: +(\S+)$/m)?.[1],
    grafanaTraceUrl(client.traceId!, { grafanaUrl }),
  );
  const { spans } = await receiver.store.waitForTrace(client.traceId!, {
    spans: 3,
    signal: AbortSignal.timeout(15_000),
  });
  const serverSpan = only(spans, (span) => span.kind === "SERVER", "SERVER span");
  assert.equal(serverSpan.name, "GET /health");
  assert.equal(serverSpan.attributes["http.route"], "/health");
});
