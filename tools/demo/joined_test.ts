import assert from "node:assert/strict";
import { checkJoinedTrace, type JoinedSpan, JoinError } from "./joined.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

function joined(): JoinedSpan[] {
  return [
    {
      traceId: TRACE,
      spanId: "a1",
      name: "call-api",
      kind: "INTERNAL",
      service: "client",
      scope: { name: "api-client" },
    },
    {
      traceId: TRACE,
      spanId: "b2",
      parentSpanId: "a1",
      name: "GET",
      kind: "CLIENT",
      service: "client",
      scope: { name: "deno" },
    },
    {
      traceId: TRACE,
      spanId: "c3",
      parentSpanId: "b2",
      name: "GET /",
      kind: "SERVER",
      service: "server",
      scope: { name: "deno" },
    },
    {
      traceId: TRACE,
      spanId: "d4",
      parentSpanId: "c3",
      name: "process-request",
      kind: "INTERNAL",
      service: "server",
      scope: { name: "api-server" },
    },
  ];
}

Deno.test("the joined trace passes, and each of its spans comes back in its place", () => {
  const spans = joined();
  const trace = checkJoinedTrace(spans.toReversed(), TRACE);
  assert.deepEqual([trace.callApi, trace.clientGet, trace.serverGet, trace.handler], spans);
});

Deno.test("each way the trace can be broken is named", () => {
  const broken: [string, (spans: JoinedSpan[]) => JoinedSpan[], RegExp][] = [
    ["nothing arrived", () => [], /^no span of trace 4bf9\w+ arrived$/],
    ["no server span", (s) => s.slice(0, 2), /^no span of the server arrived/],
    [
      "a third service",
      (s) => [...s, { ...s[3], spanId: "e5", service: "worker" }],
      /found client, server, worker/,
    ],
    ["a span short", (s) => s.slice(0, 3), /^expected 4 spans, found 3/],
    [
      "another trace",
      (s) => [s[0], s[1], { ...s[2], traceId: "f".repeat(32) }, s[3]],
      /is in trace f{32}, not/,
    ],
    [
      "the server did not continue",
      (s) => [s[0], s[1], { ...s[2], parentSpanId: undefined }, s[3]],
      /"GET \/" SERVER: its parent is none, expected client\/deno "GET" CLIENT \(b2\)/,
    ],
    [
      "unnamed route",
      (s) => [s[0], s[1], { ...s[2], name: "GET" }, s[3]],
      /^expected one server HTTP span "GET \/"/,
    ],
    [
      "call-api not the root",
      (s) => [{ ...s[0], parentSpanId: "zz" }, ...s.slice(1)],
      /call-api" INTERNAL: its parent is zz, expected none \(the root\)/,
    ],
  ];
  for (const [what, breakIt, message] of broken) {
    assert.throws(() => checkJoinedTrace(breakIt(joined()), TRACE), (error: Error) => {
      assert.ok(error instanceof JoinError, what);
      assert.match(error.message, message, what);
      return true;
    });
  }
});
