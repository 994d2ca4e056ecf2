import assert from "node:assert/strict";
import { decodeLogs, decodeMetrics, decodeTraces, MAX_VALUE_DEPTH, OtlpDecodeError } from "./decode.ts";
import { create, toBinary } from "@bufbuild/protobuf";
import * as pb from "./gen/otlp_pb.ts";
import {
  emptySpansProtobuf,
  jsonSpan,
  jsonTraces,
  nestedKvlist,
  nestedKvlistProtobuf,
  TRACE_ID,
  withDeepValue,
} from "./testdata/hostile.ts";

function refused(decode: () => unknown, status: number, message: RegExp) {
  assert.throws(decode, (error) => {
    assert.ok(error instanceof OtlpDecodeError, `an OtlpDecodeError, not ${error}`);
    assert.equal(error.status, status);
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("a key-value list nested 5,000 deep is refused, as JSON and as protobuf", () => {
  const deepSpan = jsonTraces([jsonSpan(0, { attributes: [{ key: "deep", value: "__deep__" }] })]);
  const deep = withDeepValue(deepSpan, nestedKvlist(5000));
  refused(() => decodeTraces(deep, "json"), 400, /nested deeper than 32 levels/);
  refused(() => decodeTraces(nestedKvlistProtobuf(5000), "protobuf"), 400, /not a valid protobuf message/);
  const log = withDeepValue(
    JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: "__deep__" }] }] }] }),
    nestedKvlist(5000),
  );
  refused(() => decodeLogs(log, "json"), 400, /nested deeper/);
  // Nesting within the limit is kept, as plain values.
  const ok = decodeTraces(withDeepValue(deepSpan, nestedKvlist(MAX_VALUE_DEPTH)), "json");
  assert.equal(JSON.stringify(ok.accepted[0].attributes.deep).match(/"k"/g)?.length, MAX_VALUE_DEPTH);
  assert.equal(decodeTraces(nestedKvlistProtobuf(20), "protobuf").accepted.length, 1);
});

Deno.test("a field of the wrong type is a 400 that names the field", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ name: { toString: 1 } }, /^span\.name must be a string, not an object$/],
    [{ name: 42 }, /^span\.name must be a string/],
    [{ kind: "SERVER" }, /^span\.kind must be an integer/],
    [
      { startTimeUnixNano: { valueOf: 1 } },
      /^span\.startTimeUnixNano must be an integer or a string of digits/,
    ],
    [{ attributes: "x" }, /^attributes must be an array/],
    [
      { attributes: [{ key: { toString: 1 }, value: { stringValue: "v" } }] },
      /^attribute\.key must be a string/,
    ],
    [{ attributes: [{ key: "k", value: { boolValue: "yes" } }] }, /^boolValue must be a boolean/],
    [{ attributes: [{ key: "k", value: { bytesValue: "%%%" } }] }, /^bytesValue must be base64/],
    [{ events: [{ name: ["x"] }] }, /^event\.name must be a string, not an array/],
    [{ status: { code: 2, message: { toString: 1 } } }, /^status\.message must be a string/],
    [{ traceId: { toString: 1 } }, /^span\.traceId must be a string/],
  ];
  for (const [fields, message] of cases) {
    refused(() => decodeTraces(jsonTraces([jsonSpan(0, fields)]), "json"), 400, message);
  }
  refused(
    () => decodeTraces(JSON.stringify({ resourceSpans: {} }), "json"),
    400,
    /resourceSpans must be an array/,
  );
  refused(
    () =>
      decodeLogs(
        JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityText: 3 }] }] }] }),
        "json",
      ),
    400,
    /severityText must be a string/,
  );
  refused(
    () =>
      decodeMetrics(
        JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: {} }] }] }] }),
        "json",
      ),
    400,
    /metric\.name must be a string/,
  );
});

Deno.test("a request of more items than the cap is a 413, and a protobuf one is refused before decoding", () => {
  const spans = Array.from({ length: 11 }, (_, n) => jsonSpan(n));
  refused(() => decodeTraces(jsonTraces(spans), "json", { maxItems: 10 }), 413, /more than 10 spans/);
  assert.equal(decodeTraces(jsonTraces(spans.slice(0, 10)), "json", { maxItems: 10 }).accepted.length, 10);
  // A million empty spans (2 MB): refused from a count of the wire format, before a span object is made.
  const empty = emptySpansProtobuf(1_000_000);
  refused(() => decodeTraces(empty, "protobuf"), 413, /more than 10000 spans: send smaller batches/);
  assert.equal(decodeTraces(emptySpansProtobuf(10), "protobuf").rejected, 10);
});

Deno.test("an attribute named __proto__ is kept as an attribute", () => {
  const { accepted } = decodeTraces(
    jsonTraces([jsonSpan(0, { attributes: [{ key: "__proto__", value: { stringValue: "x" } }] })]),
    "json",
  );
  assert.deepEqual(Object.entries(accepted[0].attributes), [["__proto__", "x"]]);
  assert.equal(Object.getPrototypeOf(accepted[0].attributes), Object.prototype);
});

Deno.test("ids: protobuf bytes and OTLP/JSON hex give the same lower-case hex", () => {
  const json = decodeTraces(jsonTraces([jsonSpan(0, { traceId: TRACE_ID.toUpperCase() })]), "json");
  assert.equal(json.accepted[0].traceId, TRACE_ID);
  const protobuf = decodeTraces(nestedKvlistProtobuf(1), "protobuf");
  assert.equal(protobuf.accepted[0].traceId, TRACE_ID);
  assert.equal(protobuf.accepted[0].spanId, "0000000000000001");
});

Deno.test("span links are decoded from JSON and protobuf; a link without a valid id is left out", () => {
  const other = "0af7651916cd43dd8448eb211c80319c";
  const links = [
    { traceId: other, spanId: "b7ad6b7169203331", attributes: [{ key: "k", value: { stringValue: "v" } }] },
    { traceId: "00000000000000000000000000000000", spanId: "b7ad6b7169203331" },
    { traceId: other, spanId: "xyz" },
  ];
  const json = decodeTraces(jsonTraces([jsonSpan(0, { links })]), "json").accepted[0];
  assert.deepEqual(json.links, [{ traceId: other, spanId: "b7ad6b7169203331", attributes: { k: "v" } }]);
  assert.deepEqual(decodeTraces(jsonTraces([jsonSpan(1)]), "json").accepted[0].links, []);
  const bytes = toBinary(
    pb.ExportTraceServiceRequestSchema,
    create(pb.ExportTraceServiceRequestSchema, {
      resourceSpans: [{
        scopeSpans: [{
          spans: [{
            traceId: Uint8Array.fromHex(TRACE_ID),
            spanId: Uint8Array.fromHex("00f067aa0ba902b7"),
            links: [
              { traceId: Uint8Array.fromHex(other), spanId: Uint8Array.fromHex("b7ad6b7169203331") },
              { traceId: new Uint8Array(3), spanId: Uint8Array.fromHex("b7ad6b7169203331") },
            ],
          }],
        }],
      }],
    }),
  );
  const binary = decodeTraces(bytes, "protobuf").accepted[0];
  assert.deepEqual(binary.links, [{ traceId: other, spanId: "b7ad6b7169203331", attributes: {} }]);
});
