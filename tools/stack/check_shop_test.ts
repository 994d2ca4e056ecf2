import assert from "node:assert/strict";
import { callsInSequence, SHOP_TRACEQL } from "./check_shop.ts";

function answer(items: [number, number], stock: [number, number]) {
  const call = (path: string, [start, end]: [number, number]) => ({
    spanId: path,
    name: "GET",
    kind: "SPAN_KIND_CLIENT",
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(end),
    attributes: [{ key: "url.path", value: { stringValue: path } }],
  });
  return {
    trace: { resourceSpans: [{ scopeSpans: [{ spans: [call("/items", items), call("/stock", stock)] }] }] },
  };
}

Deno.test("callsInSequence tells a staircase from parallel calls, in Tempo's answer", () => {
  assert.equal(callsInSequence(answer([100, 200], [200, 300])), true);
  assert.equal(callsInSequence(answer([100, 200], [150, 300])), false);
  assert.equal(callsInSequence({ trace: { resourceSpans: [] } }), undefined);
});

Deno.test("every TraceQL query is narrowed to one run of the shop", () => {
  for (const [fault, query] of Object.entries(SHOP_TRACEQL)) {
    const q = query("abc123");
    assert.match(q, /resource\.shop\.run = "abc123"/, fault);
    assert.equal(q.split("{").length, q.split("}").length, fault);
  }
});
