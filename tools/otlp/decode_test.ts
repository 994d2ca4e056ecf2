import assert from "node:assert/strict";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  decodeInSlices,
  decodeLogs,
  decodeMetrics,
  decodeTraces,
  DEFAULT_LIMITS,
  MAX_VALUE_DEPTH,
  OtlpDecodeError,
} from "./decode.ts";
import * as pb from "./gen/otlp_pb.ts";
import {
  emptySpansProtobuf,
  eventBombJson,
  eventBombProtobuf,
  jsonSpan,
  jsonTraces,
  manySpansProtobuf,
  nestedKvlist,
  nestedKvlistProtobuf,
  TRACE_ID,
  withDeepValue,
} from "./hostile_requests.ts";

/** A protobuf request of one span of trace TRACE_ID with these fields, encoded by protobuf-es. */
function protobufSpan(fields: MessageInitShape<typeof pb.SpanSchema>): Uint8Array {
  const span = {
    traceId: Uint8Array.fromHex(TRACE_ID),
    spanId: Uint8Array.fromHex("00f067aa0ba902b7"),
    ...fields,
  };
  const request = create(pb.ExportTraceServiceRequestSchema, {
    resourceSpans: [{ scopeSpans: [{ spans: [span] }] }],
  });
  return toBinary(pb.ExportTraceServiceRequestSchema, request);
}

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
  refused(() => decodeTraces(nestedKvlistProtobuf(5000), "protobuf"), 400, /nested deeper than 32 levels/);
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

/** A protobuf export request of one span with these links (ids as hex; "" for a 3-byte id). */
function spanWithLinks(links: { traceId: string; spanId: string }[]): Uint8Array {
  const id = (hex: string) => hex === "" ? new Uint8Array(3) : Uint8Array.fromHex(hex);
  return toBinary(
    pb.ExportTraceServiceRequestSchema,
    create(pb.ExportTraceServiceRequestSchema, {
      resourceSpans: [{
        scopeSpans: [{
          spans: [{
            traceId: Uint8Array.fromHex(TRACE_ID),
            spanId: Uint8Array.fromHex("00f067aa0ba902b7"),
            links: links.map((link) => ({ traceId: id(link.traceId), spanId: id(link.spanId) })),
          }],
        }],
      }],
    }),
  );
}

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
  const valid = { traceId: other, spanId: "b7ad6b7169203331" };
  const binary = decodeTraces(spanWithLinks([valid, { traceId: "", spanId: valid.spanId }]), "protobuf");
  assert.deepEqual(binary.accepted[0].links, [{ ...valid, attributes: {} }]);
  // Past the cap, links are dropped and counted, as events are: in JSON, and in protobuf on the wire.
  const many = Array.from({ length: DEFAULT_LIMITS.links + 5 }, () => links[0]);
  const capped = decodeTraces(jsonTraces([jsonSpan(2, { links: many })]), "json").accepted[0];
  assert.deepEqual([capped.links.length, capped.droppedLinksCount], [DEFAULT_LIMITS.links, 5]);
  const wire = spanWithLinks(Array.from({ length: DEFAULT_LIMITS.links + 7 }, () => valid));
  const trimmed = decodeTraces(wire, "protobuf").accepted[0];
  assert.deepEqual([trimmed.links.length, trimmed.droppedLinksCount], [DEFAULT_LIMITS.links, 7]);
});

Deno.test("the event bomb: a span of two million events keeps 128 of them and counts the rest, as protobuf", () => {
  const bomb = eventBombProtobuf(2_000_000);
  assert.ok(bomb.length < 4 * 1024 * 1024);
  const [span] = decodeTraces(bomb, "protobuf").accepted;
  assert.equal(span.events.length, DEFAULT_LIMITS.events);
  assert.equal(span.droppedEventsCount, 2_000_000 - DEFAULT_LIMITS.events);
  // As OTLP/JSON, JSON.parse would make every object: the request is refused before it is parsed.
  refused(() => decodeTraces(eventBombJson(1_000_000), "json"), 413, /more than 150000 values/);
  const small = decodeTraces(eventBombJson(1000), "json").accepted[0];
  assert.equal(small.events.length, 128);
  assert.equal(small.droppedEventsCount, 1000 - 128);
});

Deno.test("attributes, array items and strings past the limits are dropped or cut, and counted", () => {
  const attributes = [
    ...Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: { intValue: i } })),
  ];
  const long = "é".repeat(10_000);
  const fields = {
    name: long,
    attributes,
    events: [{
      name: "e",
      attributes: [{ key: "list", value: { arrayValue: { values: Array(300).fill({ boolValue: true }) } } }],
    }],
  };
  const request = protobufSpan({
    name: long,
    attributes: attributes.map(({ key, value }) => ({
      key,
      value: { value: { case: "intValue" as const, value: BigInt(value.intValue) } },
    })),
    events: [{
      name: "e",
      attributes: [{
        key: "list",
        value: {
          value: {
            case: "arrayValue",
            value: {
              values: Array.from(
                { length: 300 },
                () => ({ value: { case: "boolValue" as const, value: true } }),
              ),
            },
          },
        },
      }],
    }],
  });
  const spans = [
    decodeTraces(jsonTraces([jsonSpan(0, fields)]), "json").accepted[0],
    decodeTraces(request, "protobuf").accepted[0],
  ];
  for (const span of spans) {
    assert.equal(span.name.length, 4096);
    assert.equal(Object.keys(span.attributes).length, 128);
    assert.equal((span.events[0].attributes.list as unknown[]).length, 128);
    assert.deepEqual(
      [span.droppedAttributesCount, span.droppedArrayItemsCount, span.truncatedStringsCount],
      [72, 172, 1],
    );
    assert.equal(span.droppedEventsCount, undefined, "what was not limited is not mentioned");
  }
});

Deno.test("int64 above 2^53 stays exact, NaN and the infinities stay, times above 2^64 - 1 are refused", () => {
  const values = [
    { key: "big", value: { intValue: "9007199254740993" } },
    { key: "min", value: { intValue: "-9223372036854775808" } },
    { key: "small", value: { intValue: 42 } },
    { key: "nan", value: { doubleValue: "NaN" } },
    { key: "inf", value: { doubleValue: "-Infinity" } },
  ];
  const [span] = decodeTraces(jsonTraces([jsonSpan(0, { attributes: values })]), "json").accepted;
  assert.deepEqual(span.attributes, {
    big: "9007199254740993",
    min: "-9223372036854775808",
    small: 42,
    nan: "NaN",
    inf: "-Infinity",
  });
  const request = protobufSpan({
    attributes: [
      { key: "big", value: { value: { case: "intValue", value: 2n ** 62n + 1n } } },
      { key: "nan", value: { value: { case: "doubleValue", value: NaN } } },
      { key: "inf", value: { value: { case: "doubleValue", value: Infinity } } },
    ],
  });
  const binary = decodeTraces(request, "protobuf");
  assert.deepEqual(binary.accepted[0].attributes, {
    big: String(2n ** 62n + 1n),
    nan: "NaN",
    inf: "Infinity",
  });
  const at = (time: string) => jsonTraces([jsonSpan(0, { startTimeUnixNano: time })]);
  assert.equal(
    decodeTraces(at("18446744073709551615"), "json").accepted[0].startTimeUnixNano,
    2n ** 64n - 1n,
  );
  refused(() => decodeTraces(at("18446744073709551616"), "json"), 400, /startTimeUnixNano is out of range/);
  refused(() => decodeTraces(at("99999999999999999999"), "json"), 400, /out of range/);
  const int = jsonTraces([
    jsonSpan(0, { attributes: [{ key: "k", value: { intValue: "9223372036854775808" } }] }),
  ]);
  refused(() => decodeTraces(int, "json"), 400, /intValue is out of range/);
});

Deno.test("decodeInSlices lets the event loop run while it decodes a large request, and decodes the same", async () => {
  const body = manySpansProtobuf(10_000);
  const ran: string[] = [];
  const timer = setTimeout(() => ran.push("timer"), 0);
  const decoded = await decodeInSlices("traces", body, "protobuf", { sliceMs: 1 });
  ran.push("decoded");
  clearTimeout(timer);
  assert.deepEqual(ran, ["timer", "decoded"], "the timer ran before the decoding ended");
  assert.equal(decoded.accepted.length, 10_000);
  assert.deepEqual(decoded.accepted, decodeTraces(body, "protobuf").accepted);
  await assert.rejects(decodeInSlices("logs", "{", "json"), OtlpDecodeError);
});
