import assert from "node:assert/strict";
import {
  base64ToHex,
  CheckError,
  checkJoinedTrace,
  flattenTrace,
  searchFinds,
  type TempoTraceResponse,
} from "./check_stack.ts";

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
  assert.equal(spans[0].parentSpanId, "");
  assert.equal(spans[3].parentSpanId, "cc".repeat(8));
});

Deno.test("checkJoinedTrace names what is wrong: a service missing, a broken parent link, another trace", () => {
  const body = fixture();
  const onlyClient = { trace: { resourceSpans: body.trace!.resourceSpans!.slice(1) } };
  assert.throws(() => checkJoinedTrace(flattenTrace(onlyClient), TRACE), (e: unknown) => {
    assert.ok(e instanceof CheckError);
    assert.match(e.message, /services client and server/);
    return true;
  });

  const broken = fixture();
  broken.trace!.resourceSpans![0].scopeSpans![0].spans![0].parentSpanId = b64("ee".repeat(8));
  assert.throws(
    () => checkJoinedTrace(flattenTrace(broken), TRACE),
    /server\/deno "GET \/" SPAN_KIND_SERVER: parent is eeee/,
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
