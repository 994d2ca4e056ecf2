import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { decodeTraces, scanTraces } from "./decode.ts";
import * as pb from "./gen/otlp_pb.ts";
import { TelemetryStore } from "./store.ts";
import {
  matchesTrace,
  parseTraceQuery,
  searchTraces,
  spanMatches,
  type TraceQuery,
  walkStore,
} from "./search.ts";

const MS = 1_000_000n;
const T0 = 1_700_000_000_000_000_000n;

/** OTLP/JSON of one span; `attributes` as plain strings or numbers. */
function otlpSpan(trace: number, id: number, name: string, startMs: number, endMs: number, fields: {
  parent?: number;
  error?: boolean;
  attributes?: Record<string, string | number>;
} = {}) {
  return {
    traceId: trace.toString(16).padStart(32, "0"),
    spanId: id.toString(16).padStart(16, "0"),
    ...(fields.parent ? { parentSpanId: fields.parent.toString(16).padStart(16, "0") } : {}),
    name,
    kind: 2,
    startTimeUnixNano: String(T0 + BigInt(startMs) * MS),
    endTimeUnixNano: String(T0 + BigInt(endMs) * MS),
    attributes: Object.entries(fields.attributes ?? {}).map(([key, value]) => ({
      key,
      value: typeof value === "number" ? { intValue: String(value) } : { stringValue: value },
    })),
    ...(fields.error ? { status: { code: 2, message: "failed" } } : {}),
  };
}

function resourceSpans(service: string, spans: unknown[], resource: Record<string, string> = {}) {
  const attributes = Object.entries({ "service.name": service, ...resource })
    .map(([key, value]) => ({ key, value: { stringValue: value } }));
  return { resource: { attributes }, scopeSpans: [{ scope: { name: "test" }, spans }] };
}

/** Three traces: 1 (shop and db, 100 ms, an error in db), 2 (shop, 10 ms, prod), 3 (jobs, 50 ms). */
function threeTraces(): TelemetryStore {
  const store = new TelemetryStore();
  const body = JSON.stringify({
    resourceSpans: [
      resourceSpans("shop", [otlpSpan(1, 1, "GET /checkout", 0, 100)]),
      resourceSpans("db", [
        otlpSpan(1, 2, "query", 10, 90, { parent: 1, error: true, attributes: { "db.system": "postgres" } }),
      ]),
      resourceSpans("shop", [otlpSpan(2, 3, "GET /", 0, 10, { attributes: { "http.status_code": 200 } })], {
        "deployment.environment": "prod",
      }),
      resourceSpans("jobs", [otlpSpan(3, 4, "process", 0, 50)]),
    ],
  });
  store.addSpans(decodeTraces(body, "json").accepted);
  return store;
}

function query(params: string): TraceQuery {
  const parsed = parseTraceQuery(new URLSearchParams(params));
  if ("error" in parsed) throw new Error(parsed.error);
  return parsed.query;
}

async function ids(store: TelemetryStore, params: string) {
  const { total, traces } = await searchTraces(store.recentTraces(store.traceCount), query(params));
  return { total, ids: traces.map((trace) => Number.parseInt(trace.traceId, 16)) };
}

Deno.test("search: service, operation, error and attributes hold on one span; durations on the trace", async () => {
  const store = threeTraces();
  const cases: [string, number[]][] = [
    ["", [3, 2, 1]],
    ["service=shop", [2, 1]],
    ["service=db&operation=query", [1]],
    ["service=shop&operation=query", []], // the span named query is db's
    ["operation=GET+%2Fcheckout", [1]],
    ["error=true", [1]],
    ["service=shop&error=true", []], // the error is db's
    ["error=false", [3, 2]],
    ["attribute=http.status_code=200", [2]], // an int, compared as text
    ["attribute=deployment.environment=prod", [2]], // a resource attribute
    ["attribute=deployment.environment=prod&attribute=http.status_code=500", []],
    ["attribute=db.system=postgres&service=db", [1]],
    ["attribute=db.system=postgres&service=shop", []],
    ["minDurationMs=20", [3, 1]],
    ["maxDurationMs=20", [2]],
    ["minDurationMs=10&maxDurationMs=50", [3, 2]],
    ["minDurationMs=50.5", [1]],
    ["sort=duration", [1, 3, 2]],
    ["sort=duration&limit=2", [1, 3]],
  ];
  for (const [params, expected] of cases) {
    const found = await ids(store, params);
    assert.deepEqual(found.ids, expected, params);
  }
  assert.deepEqual(await ids(store, "limit=1"), { total: 3, ids: [3] }, "total counts every match");
  assert.equal(matchesTrace(store.trace((1).toString(16).padStart(32, "0"))!, query("service=db")), true);
});

/** The spans of {@linkcode threeTraces} and two more names as protobuf, which the store keeps as bytes. */
async function threeTracesAsBytes(extraNames: string[]): Promise<TelemetryStore> {
  const json = (await threeTraces().recentTraces(10)).flatMap((trace) => trace.spans);
  const id = (hex: string) => Uint8Array.fromHex(hex);
  const value = (v: unknown) =>
    typeof v === "string"
      ? { value: { case: "stringValue" as const, value: v } }
      : { value: { case: "intValue" as const, value: BigInt(v as number) } };
  // Spans of trace 1 (shop's), named as asked.
  const root = json.find((span) => span.name === "GET /checkout")!;
  const extra = extraNames.map((name, n) => ({
    ...root,
    name,
    spanId: (100 + n).toString(16).padStart(16, "0"),
  }));
  const request = create(pb.ExportTraceServiceRequestSchema, {
    resourceSpans: [...json, ...extra].map((span) => ({
      resource: {
        attributes: Object.entries(span.resource).map(([key, v]) => ({ key, value: value(v) })),
      },
      scopeSpans: [{
        scope: { name: "test" },
        spans: [{
          traceId: id(span.traceId),
          spanId: id(span.spanId),
          parentSpanId: span.parentSpanId === undefined ? new Uint8Array() : id(span.parentSpanId),
          name: span.name,
          kind: 2,
          startTimeUnixNano: span.startTimeUnixNano,
          endTimeUnixNano: span.endTimeUnixNano,
          attributes: Object.entries(span.attributes).map(([key, v]) => ({ key, value: value(v) })),
          status: { code: span.status.code === "ERROR" ? 2 : 0 },
        }],
      }],
    })),
  });
  const store = new TelemetryStore();
  store.addScanned(await scanTraces(toBinary(pb.ExportTraceServiceRequestSchema, request)));
  return store;
}

Deno.test("search: spans kept as bytes match as decoded ones do, the store reading names from their bytes", async () => {
  const long = "n".repeat(5000), accented = "caf\u00e9 GET /";
  const bytes = await threeTracesAsBytes([long, accented, "\ufeffBOM"]);
  const decoded = threeTraces();
  assert.ok(bytes.trace((1).toString(16).padStart(32, "0"))!.hasSpan, "the store answers from its index");
  for (
    const params of [
      "",
      "service=shop",
      "service=db&operation=query",
      "service=shop&operation=query",
      "operation=GET+%2Fcheckout",
      "operation=GET",
      "operation=",
      "error=true",
      "service=shop&error=true",
      "service=db&error=true&operation=query",
      "error=false",
      "attribute=db.system=postgres&service=db",
      "attribute=db.system=postgres&operation=GET+%2Fcheckout",
      "attribute=db.system=postgres",
      "attribute=db.system=mysql",
      "attribute=nope=1",
      "attribute=http.status_code=200",
      "attribute=deployment.environment=prod", // on the resource
      "attribute=deployment.environment=prod&attribute=http.status_code=200",
      "attribute=deployment.environment=prod&attribute=db.system=postgres", // not on one span
      "attribute=service.name=db&operation=query",
    ]
  ) {
    // The same traces (the two stores got them in another order, and "recent" follows it).
    const sorted = async (store: TelemetryStore) => (await ids(store, params)).ids.toSorted((a, b) => a - b);
    assert.deepEqual(await sorted(bytes), await sorted(decoded), params);
  }
  // Names the decoder changes (cut past 4,096 characters, not ASCII, a byte-order mark) match as decoded
  // (asked directly: the API takes names of at most 1,000 characters).
  const named = async (operation: string) => {
    const { traces } = await searchTraces(bytes.recentTraces(10), { ...query(""), operation });
    return traces.map((trace) => Number.parseInt(trace.traceId, 16));
  };
  for (const name of ["n".repeat(4096), long, accented, "BOM", "\ufeffBOM"]) {
    const expected = bytes.traceIds().filter((traceId) =>
      bytes.trace(traceId)!.spans.some((span) => span.name === name)
    );
    assert.deepEqual(
      await named(name),
      expected.map((traceId) => Number.parseInt(traceId, 16)),
      name.slice(0, 20),
    );
  }
  assert.deepEqual(await named("n".repeat(4096)), [1], "the cut name");
});

Deno.test("search: bad parameters are refused in one line each", () => {
  const cases: [string, RegExp][] = [
    ["servise=shop", /^unknown parameter "servise": a search takes service, operation, attribute/],
    ["service=a&service=b", /^service is given more than once$/],
    ["limit=0", /^limit takes a whole number from 1 to 1000, got "0"$/],
    ["limit=abc", /^limit takes a whole number/],
    ["minDurationMs=-1", /^minDurationMs takes milliseconds from 0/],
    ["maxDurationMs=1e3", /^maxDurationMs takes milliseconds/],
    ["minDurationMs=10&maxDurationMs=5", /^minDurationMs is more than maxDurationMs$/],
    ["sort=oldest", /^sort takes recent or duration, got "oldest"$/],
    ["error=yes", /^error takes true or false, got "yes"$/],
    ["attribute=novalue", /^attribute takes key=value, got "novalue"$/],
    ["attribute==x", /^attribute takes key=value/],
    [`service=${"x".repeat(1001)}`, /^service is longer than 1000 characters$/],
    [Array(17).fill("attribute=a=b").join("&"), /^at most 16 attribute parameters, got 17$/],
  ];
  for (const [params, expected] of cases) {
    const parsed = parseTraceQuery(new URLSearchParams(params));
    assert.ok("error" in parsed, params);
    assert.match(parsed.error, expected);
  }
  assert.deepEqual(parseTraceQuery(new URLSearchParams("attribute=url=a=b")), {
    query: {
      attributes: [["url", "a=b"]],
      sort: "recent",
      limit: 100,
    },
  });
});

Deno.test("search: a search of many traces lets the event loop run between slices, and finds the same", async () => {
  const store = new TelemetryStore({ maxRecords: 1_000_000 });
  const spans = Array.from(
    { length: 20_000 },
    (_, i) => otlpSpan(i + 1, i + 1, i % 2 ? "odd" : "even", 0, i % 1000, { attributes: { n: i } }),
  );
  for (let i = 0; i < spans.length; i += 5000) {
    const body = JSON.stringify({ resourceSpans: [resourceSpans("many", spans.slice(i, i + 5000))] });
    store.addSpans(decodeTraces(body, "json").accepted);
  }
  const ran: string[] = [];
  const timer = setTimeout(() => ran.push("timer"), 0);
  const found = await searchTraces(store.eachRecentTrace(), query("operation=odd&sort=duration&limit=5"), {
    sliceMs: 1,
  });
  ran.push("searched");
  clearTimeout(timer);
  assert.deepEqual(ran, ["timer", "searched"], "the timer ran before the search ended");
  assert.equal(found.total, 10_000);
  assert.deepEqual(found.traces.map((trace) => trace.spans[0].name), Array(5).fill("odd"));
  assert.ok(
    found.traces.every((trace) =>
      trace.spans[0].endTimeUnixNano - trace.spans[0].startTimeUnixNano === 999n * MS
    ),
  );
  const aborted = new AbortController();
  aborted.abort(new Error("gone"));
  await assert.rejects(
    searchTraces(store.eachRecentTrace(), query("operation=none"), { sliceMs: 0, signal: aborted.signal }),
    /gone/,
  );
});

Deno.test("search: an attribute's value is looked for in the bytes only where its text can come from them", async () => {
  // One trace a value, all under the key "v" (and one with the value under another key): what the store
  // answers from the bytes must be what the decoded spans say, for every kind of value.
  const long = "x".repeat(5000);
  const values: [string, pb.AnyValue["value"]][] = [
    ["string", { case: "stringValue", value: "postgres" }],
    ["digits", { case: "stringValue", value: "500" }],
    ["int", { case: "intValue", value: 500n }],
    ["big int", { case: "intValue", value: 9007199254740993n }],
    ["bool", { case: "boolValue", value: true }],
    ["double", { case: "doubleValue", value: 1.5 }],
    ["NaN", { case: "doubleValue", value: Number.NaN }],
    ["infinite", { case: "doubleValue", value: Number.NEGATIVE_INFINITY }],
    ["bytes", { case: "bytesValue", value: new TextEncoder().encode("raw bytes") }],
    ["array", {
      case: "arrayValue",
      value: create(pb.ArrayValueSchema, { values: [{ value: { case: "stringValue", value: "a" } }] }),
    }],
    ["empty", { case: undefined }],
    ["empty string", { case: "stringValue", value: "" }],
    ["accented", { case: "stringValue", value: "caf\u00e9" }],
    ["byte-order mark", { case: "stringValue", value: "\ufeffmarked" }],
    ["cut", { case: "stringValue", value: long }],
  ];
  const spans = values.map(([name, value], i) => ({
    traceId: Uint8Array.fromHex((i + 1).toString(16).padStart(32, "0")),
    spanId: Uint8Array.fromHex((i + 1).toString(16).padStart(16, "0")),
    name,
    startTimeUnixNano: T0,
    endTimeUnixNano: T0 + MS,
    attributes: [{ key: name === "string" ? "other" : "v", value: { value } }, {
      key: "w",
      value: { value: { case: "stringValue" as const, value: "postgres" } },
    }],
  }));
  const request = create(pb.ExportTraceServiceRequestSchema, {
    resourceSpans: [{ resource: {}, scopeSpans: [{ scope: { name: "test" }, spans }] }],
  });
  const store = new TelemetryStore();
  store.addScanned(await scanTraces(toBinary(pb.ExportTraceServiceRequestSchema, request)));
  const texts = [
    "postgres",
    "500",
    "9007199254740993",
    "true",
    "1.5",
    "NaN",
    "-Infinity",
    btoa("raw bytes"),
    "raw bytes",
    '["a"]',
    "a",
    "null",
    "",
    "caf\u00e9",
    "\ufeffmarked",
    "marked",
    "x".repeat(4096),
    "x".repeat(4095),
    "absent",
  ];
  for (const text of texts) {
    // Asked directly: the API takes values of at most 1,000 characters.
    const asked: TraceQuery = { ...query(""), attributes: [["v", text]] };
    const found = (await searchTraces(store.recentTraces(100), asked)).traces.map((trace) =>
      trace.spans[0].name
    );
    const expected = store.traceIds().map((traceId) => store.trace(traceId)!)
      .filter((trace) => trace.spans.some((span) => spanMatches(span, asked)))
      .map((trace) => trace.spans[0].name);
    assert.deepEqual(found.toSorted(), expected.toSorted(), JSON.stringify(text.slice(0, 20)));
  }
  // The values compared as text, as the decoded spans hold them.
  const matches = async (text: string) =>
    (await searchTraces(store.recentTraces(100), { ...query(""), attributes: [["v", text]] })).traces
      .map((trace) => trace.spans[0].name).toSorted();
  assert.deepEqual(await matches("500"), ["digits", "int"]);
  assert.deepEqual(await matches(btoa("raw bytes")), ["bytes"]);
  assert.deepEqual(await matches("x".repeat(4096)), ["cut"]);
  assert.deepEqual(await matches("postgres"), [], "under another key");
  // The store rules out from the bytes a string the spans do not hold, not a number they may.
  const first = store.trace((1).toString(16).padStart(32, "0"))!;
  assert.equal(first.hasSpan!({ attributes: [["w", "postgres"]] }), true);
  assert.equal(first.hasSpan!({ attributes: [["w", "mysql"]] }), false);
  assert.equal(first.hasSpan!({ attributes: [["w", "500"]] }), true, "500 may be an int's");
});

Deno.test("search: a trace that changes while the walk pauses is found once, whether walked yet or not", async () => {
  for (const changing of [1, 2, 3]) {
    const store = threeTraces();
    const traceId = changing.toString(16).padStart(32, "0");
    // A turn after every trace, and before each the trace changes: it moves ahead of the walk.
    let changes = 0;
    const changer = setInterval(() => {
      const again = store.trace(traceId)!.spans[0];
      store.addSpans([{ ...again, spanId: (100 + changes++).toString(16).padStart(16, "0") }]);
    }, 0);
    try {
      using walk = walkStore(store);
      const found = await searchTraces(walk.traces, query(""), { sliceMs: 0 });
      assert.equal(found.total, 3, `trace ${changing} changing`);
      assert.equal(new Set(found.traces.map((trace) => trace.traceId)).size, 3);
    } finally {
      clearInterval(changer);
    }
    assert.ok(changes > 0, "the trace changed during the walk");
  }
});
