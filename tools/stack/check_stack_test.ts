import assert from "node:assert/strict";
import {
  checkBackendsReady,
  checkJoinedTrace,
  exemplarsName,
  findLogLines,
  logsForSpanQuery,
  searchFinds,
  SERVER_LOG_LINE,
} from "./check_stack.ts";
import { CheckError, type StackEndpoints } from "./stack_http.ts";
import { base64ToHex, flattenTrace, type TempoTraceResponse } from "./tempo_trace.ts";
import { closedPort } from "@example/harness/processes";

const TRACE = "0af7651916cd43dd8448eb211c80319c";

function b64(hex: string): string {
  return btoa(String.fromCharCode(...hex.match(/../g)!.map((h) => parseInt(h, 16))));
}

function span(id: string, parent: string | undefined, name: string, kind: string) {
  return {
    traceId: b64(TRACE),
    spanId: b64(id.repeat(8)),
    ...(parent ? { parentSpanId: b64(parent.repeat(8)) } : {}),
    name,
    kind: `SPAN_KIND_${kind}`,
    startTimeUnixNano: "1700000000000000000",
  };
}

function resource(service: string) {
  return { attributes: [{ key: "service.name", value: { stringValue: service } }] };
}

/** Tempo's answer for one client call, in the shape of GET /api/v2/traces/<id>. */
function fixture(): TempoTraceResponse {
  return {
    trace: {
      resourceSpans: [
        {
          resource: resource("server"),
          scopeSpans: [
            { scope: { name: "deno" }, spans: [span("cc", "bb", "GET /", "SERVER")] },
            { scope: { name: "api-server" }, spans: [span("dd", "cc", "process-request", "INTERNAL")] },
          ],
        },
        {
          resource: resource("client"),
          scopeSpans: [
            { scope: { name: "api-client" }, spans: [span("aa", undefined, "call-api", "INTERNAL")] },
            { scope: { name: "deno" }, spans: [span("bb", "aa", "GET", "CLIENT")] },
          ],
        },
      ],
    },
  };
}

Deno.test("base64ToHex turns Tempo's JSON ids into hex", () => {
  assert.equal(base64ToHex(b64(TRACE)), TRACE);
  assert.equal(base64ToHex(undefined), "");
  assert.equal(base64ToHex(""), "");
});

Deno.test("checkJoinedTrace accepts the four spans of one call and orders them root first", () => {
  const spans = checkJoinedTrace(flattenTrace(fixture()), TRACE);
  assert.deepEqual(spans.map((s) => `${s.service}:${s.name}`), [
    "client:call-api",
    "client:GET",
    "server:GET /",
    "server:process-request",
  ]);
  assert.equal(spans[0].parentSpanId, undefined);
  assert.equal(spans[3].parentSpanId, "cc".repeat(8));
  assert.deepEqual([spans[0].kind, spans[0].scope], ["INTERNAL", { name: "api-client" }]);
});

Deno.test("checkJoinedTrace names what is wrong: a service missing, a broken parent link, another trace", () => {
  const body = fixture();
  const onlyClient = { trace: { resourceSpans: body.trace!.resourceSpans!.slice(1) } };
  assert.throws(() => checkJoinedTrace(flattenTrace(onlyClient), TRACE), (e: unknown) => {
    assert.ok(e instanceof CheckError);
    assert.match(e.message, /^no span of the server arrived/);
    return true;
  });

  const broken = fixture();
  broken.trace!.resourceSpans![0].scopeSpans![0].spans![0].parentSpanId = b64("ee".repeat(8));
  assert.throws(
    () => checkJoinedTrace(flattenTrace(broken), TRACE),
    /server\/deno "GET \/" SERVER: its parent is eeee/,
  );

  assert.throws(() => checkJoinedTrace(flattenTrace(fixture()), "1".repeat(32)), /is in trace/);

  const extra = fixture();
  extra.trace!.resourceSpans![1].scopeSpans![1].spans!.push(span("ff", "aa", "GET", "CLIENT"));
  assert.throws(() => checkJoinedTrace(flattenTrace(extra), TRACE), /expected 4 spans, found 5/);
});

Deno.test("searchFinds compares with leading zeros trimmed, as Tempo's search prints ids", () => {
  const id = "00" + TRACE.slice(2);
  assert.ok(searchFinds({ traces: [{ traceID: id.replace(/^0+/, "") }] }, id));
  assert.ok(!searchFinds({ traces: [{ traceID: "abc" }] }, id));
  assert.ok(!searchFinds({}, id));
});

Deno.test("findLogLines matches the server's line as Loki returns it (with console.log's newline)", () => {
  const stream = { service_name: "server", trace_id: TRACE, span_id: "dd".repeat(8) };
  const body = {
    data: {
      result: [
        {
          stream: { service_name: "server" },
          values: [["1", "Server listening on http://127.0.0.1:8000/\n"]],
        },
        { stream, values: [["2", `${SERVER_LOG_LINE}\n`]] },
      ] as { stream: Record<string, string>; values: [string, string][] }[],
    },
  };
  assert.deepEqual(findLogLines(body, SERVER_LOG_LINE), [stream]);
  assert.deepEqual(findLogLines(body, "Server: something else"), []);
  assert.deepEqual(findLogLines({}, SERVER_LOG_LINE), []);
});

Deno.test("logsForSpanQuery selects the service's stream, then trace and span id as structured metadata", () => {
  assert.equal(
    logsForSpanQuery("server", TRACE, "dd".repeat(8)),
    `{service_name="server"} | trace_id="${TRACE}" | span_id="${"dd".repeat(8)}"`,
  );
});

Deno.test("exemplarsName looks for the trace id under Tempo's exemplar label", () => {
  const series = (labels: Record<string, string>) => ({
    data: [{ seriesLabels: { service: "server" }, exemplars: [{ labels, value: "0.05", timestamp: 1 }] }],
  });
  assert.ok(exemplarsName(series({ traceID: TRACE }), TRACE));
  assert.ok(!exemplarsName(series({ traceID: "1".repeat(32) }), TRACE));
  assert.ok(
    !exemplarsName(series({ trace_id: TRACE }), TRACE),
    "another label name is not the link Grafana uses",
  );
  assert.ok(!exemplarsName({}, TRACE));
});

Deno.test("a missing backend fails the check with one line that names it and says how to start the stack", async () => {
  // Something healthy answers for the backends that are there; each case leaves one of them out.
  await using healthy = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("ready"),
  );
  const up = `http://127.0.0.1:${healthy.addr.port}`;
  const down = `http://127.0.0.1:${closedPort()}`;
  const endpoints: StackEndpoints = {
    tempoUrl: up,
    lokiUrl: up,
    prometheusUrl: up,
    healthUrl: up,
    otlpEndpoint: up,
    grafanaUrl: up,
    timeoutMs: 2000,
  };
  const cases: [keyof StackEndpoints, RegExp][] = [
    ["healthUrl", /^the OpenTelemetry Collector: nothing answers at http:\/\/127\.0\.0\.1:\d+\/ /],
    ["tempoUrl", /^Tempo: nothing answers at http:\/\/127\.0\.0\.1:\d+\/ready /],
    ["lokiUrl", /^Loki: nothing answers at http:\/\/127\.0\.0\.1:\d+\/ready /],
    ["prometheusUrl", /^Prometheus: nothing answers at http:\/\/127\.0\.0\.1:\d+\/-\/ready /],
  ];
  const log = console.log;
  console.log = () => {}; // the "ok" lines of the backends that are there
  try {
    for (const [missing, message] of cases) {
      await assert.rejects(checkBackendsReady({ ...endpoints, [missing]: down }), (e: unknown) => {
        assert.ok(e instanceof CheckError);
        assert.match(e.message, message);
        assert.match(
          e.message,
          /docker compose -f tools\/stack\/docker-compose\.yml up -d.*tools\/stack\/run_native\.sh/,
        );
        assert.doesNotMatch(e.message, /\n/, "one line");
        return true;
      });
    }
  } finally {
    console.log = log;
  }
});

Deno.test("a backend that answers but is not ready is named, with its answer", async () => {
  await using unready = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("Ingester not ready: waiting for 15s after being ready", { status: 503 }),
  );
  const url = `http://127.0.0.1:${unready.addr.port}`;
  await assert.rejects(
    checkBackendsReady({
      tempoUrl: url,
      lokiUrl: url,
      prometheusUrl: url,
      healthUrl: url,
      otlpEndpoint: url,
      grafanaUrl: url,
      timeoutMs: 1000,
    }),
    /^CheckError: the OpenTelemetry Collector is not ready: .* answered 503 Ingester not ready/,
  );
});
