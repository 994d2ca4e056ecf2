import assert from "node:assert/strict";
import { renderWaterfall } from "./waterfall.ts";
import { width as stringWidth } from "@example/otlp/terminal_text";
import { TelemetryStore } from "@example/otlp/receiver";
import { replay } from "@example/otlp/recorded";
import { decodeLogs, decodeTraces } from "@example/otlp/decode";
import {
  chain,
  ESCAPES,
  hasControls,
  jsonSpan,
  jsonTraces,
  spanId,
  TRACE_ID,
} from "@example/otlp/hostile_requests";

// Ids come from DENO_UNSTABLE_OTEL_DETERMINISTIC (see recorded/record.ts); times are real, so rows are
// matched by what they say, not by their timings.

Deno.test("draws the joined trace as a tree, in start order, with events and log records", async () => {
  const [trace] = (await replay("json")).traces();
  const lines = renderWaterfall(trace).split("\n");
  assert.match(
    lines[0],
    /^Trace 00000000000000000b00000000000001 {2}4 spans, 2 services \(client, server\), [\d.]+ ms$/,
  );
  assert.match(lines[1], /^service +kind +span +start +duration +timeline \(█ critical path\)$/);
  const rows = lines.filter((line) => /^(client|server) /.test(line));
  assert.deepEqual(rows.map((row) => row.split(/ {2,}/).slice(0, 3)), [
    ["client", "INTERNAL", "call-api"],
    ["client", "CLIENT", "└─ GET"],
    ["server", "SERVER", "└─ GET /"],
    ["server", "INTERNAL", "└─ process-request"],
  ]);
  assert.match(rows[0], / 0\.0 ms +[\d.]+ ms {2}█[█░]{38}█$/, "the root spans the whole bar");
  const bars = rows.map((row) => row.match(/ {2}( *[█░]+)$/)![1]);
  for (let i = 1; i < bars.length; i++) {
    assert.ok(
      bars[i].search(/\S/) >= bars[i - 1].search(/\S/),
      "each child starts no earlier than its parent",
    );
  }
  assert.match(bars[3], /^ +█+$/, "the handler, which calls nothing, is on the critical path throughout");
  const text = lines.join("\n");
  assert.match(text, /• received_response at [\d.]+ ms http\.response\.status_code=200/);
  assert.match(text, /• processing_request at [\d.]+ ms request_id=[0-9a-f-]{36} timestamp=/);
  assert.match(text, /▸ log: Server: Processing request in trace context/);
  assert.doesNotMatch(text, /incomplete|ERROR/);
  assert.ok(!text.includes("\x1b"), "no colours unless asked");
});

Deno.test("an error stands out: its bar, its message and the count in the heading", async () => {
  const [trace] = (await replay("error")).traces();
  const text = renderWaterfall(trace);
  assert.match(text.split("\n")[0], /, 4 with errors$/);
  assert.match(text, /process-request .*▓+ {2}✗ ERROR: simulated failure/);
  assert.match(text, /• exception at [\d.]+ ms exception\.type=Error exception\.message=simulated failure/);
  assert.doesNotMatch(text, /stacktrace/, "stack traces are left out of the waterfall");
  const colored = renderWaterfall(trace, { color: true });
  assert.ok(colored.includes("\x1b[31;1m✗ ERROR: simulated failure\x1b[0m"));
});

Deno.test("says when a trace is incomplete: a parent that never arrived", async () => {
  const [trace] = (await replay("json")).traces();
  const withoutClientSpan = { ...trace, spans: trace.spans.filter((span) => span.kind !== "CLIENT") };
  const text = renderWaterfall(withoutClientSpan);
  const clientSpanId = trace.spans.find((span) => span.kind === "CLIENT")!.spanId;
  assert.match(text, new RegExp(`⚠ parent span ${clientSpanId} never arrived`));
  assert.match(text, /⚠ incomplete trace: 1 span whose parent never arrived$/);
  assert.match(text, /^server +SERVER +GET \//m, "the orphan is drawn at the top level");
});

Deno.test("cuts long names and strips control characters", async () => {
  const [trace] = (await replay("json")).traces();
  const spans = trace.spans.map((span) =>
    span.name === "call-api" ? { ...span, name: "x".repeat(100) + "\x1b[2J" } : span
  );
  const text = renderWaterfall({ ...trace, spans }, { maxNameLength: 20 });
  assert.match(text, /^client +INTERNAL +x{19}… /m);
  assert.ok(!text.includes("\x1b"), "the escape character is not passed through");
  assert.equal(
    renderWaterfall({ traceId: "ab", spans: [], logs: [] }),
    "Trace ab: no spans arrived (only 0 log records)",
  );
});

Deno.test("a chain of 8,000 spans is drawn to 40 levels, with a note of the rest", () => {
  const { accepted } = decodeTraces(jsonTraces(chain(8000)), "json");
  const text = renderWaterfall({ traceId: TRACE_ID, spans: accepted, logs: [] });
  const lines = text.split("\n");
  assert.equal(lines.filter((line) => line.startsWith("hostile ")).length, 40);
  assert.match(text, /\n… 7960 spans deeper than 40 levels not drawn$/);
  assert.ok(lines.every((line) => line.length < 400), "no line grows with the depth");
});

Deno.test("a trace of 200,000 spans is drawn in part, with a note", () => {
  const root = jsonSpan(0);
  const spans = decodeTraces(jsonTraces([root]), "json").accepted;
  for (let n = 1; n < 200_000; n++) spans.push({ ...spans[0], spanId: spanId(n), parentSpanId: spanId(0) });
  const text = renderWaterfall({ traceId: TRACE_ID, spans, logs: [] });
  assert.match(text, /^Trace 4bf92f3577b34da6a3ce929d0e0e4736 {2}200000 spans, 1 services \(hostile\)/);
  assert.equal(text.split("\n").filter((line) => line.startsWith("hostile ")).length, 500);
  assert.match(text, /\n… 199500 more spans not drawn \(at most 500 are\)$/);
});

Deno.test("spans whose parents form a cycle are counted, not drawn forever", () => {
  const spans = decodeTraces(
    jsonTraces([
      jsonSpan(0),
      jsonSpan(1, { parentSpanId: spanId(2) }),
      jsonSpan(2, { parentSpanId: spanId(1) }),
      jsonSpan(3, { parentSpanId: spanId(3) }),
    ]),
    "json",
  ).accepted;
  const text = renderWaterfall({ traceId: TRACE_ID, spans, logs: [] });
  assert.match(text, /⚠ 3 spans not drawn: their parent links form a cycle/);
});

Deno.test("no text from a sender reaches the terminal as a control sequence", () => {
  const body = jsonTraces(
    [
      jsonSpan(0, {
        name: `name ${ESCAPES}`,
        attributes: [{ key: `key ${ESCAPES}`, value: { stringValue: `value ${ESCAPES}` } }],
        events: [{
          name: `event ${ESCAPES}`,
          timeUnixNano: "1700000000000000100",
          attributes: [{
            key: `event key ${ESCAPES}`,
            value: { arrayValue: { values: [{ stringValue: ESCAPES }] } },
          }],
        }],
        status: { code: 2, message: `status ${ESCAPES}` },
      }),
      jsonSpan(1, { parentSpanId: `${spanId(99)}` }),
    ],
    `service ${ESCAPES}`,
  );
  const trace = { traceId: TRACE_ID, spans: decodeTraces(body, "json").accepted, logs: [] };
  const logs = decodeLogs(
    JSON.stringify({
      resourceLogs: [{
        scopeLogs: [{
          logRecords: [{ traceId: TRACE_ID, spanId: spanId(0), body: { stringValue: `log ${ESCAPES}` } }],
        }],
      }],
    }),
    "json",
  ).accepted;
  for (const options of [{}, { maxNameLength: 200 }]) {
    const text = renderWaterfall({ ...trace, logs }, options);
    assert.ok(!hasControls(text), JSON.stringify(text));
    // The service column is 24 wide: its text is cut there.
    assert.match(text, /^service <U\+001B>\]0;pwne…/m, "service is shown, cleaned");
    for (const field of ["name", "event", "status", "log"]) {
      assert.match(
        text,
        new RegExp(`${field} <U\\+001B>\\]0;pwned<U\\+0007>\\|`),
        `${field} is shown, cleaned`,
      );
    }
  }
  const text = renderWaterfall({ ...trace, logs }, { maxNameLength: 200 });
  assert.match(
    text,
    /event key <U\+001B>\]0;pwned<U\+0007>\|…=\["\\u001b\]0;pwned/,
  );
  assert.match(
    text,
    /\|<U\+009B>31m\|<U\+202E>gnp\.exe\|<U\+2066>isolate<U\+2069>/,
    "U+009B, U+202E, U+2066, U+2069",
  );
});

Deno.test("columns line up whatever the names hold: zero-width, wide and combining characters", () => {
  const names = [
    "plain",
    "zero\u200Bwidth",
    "wide 日本語",
    "combining e\u0301\u0301",
    "emoji 👩‍👩‍👧",
    "tab\there",
  ];
  const spans = decodeTraces(
    jsonTraces(names.map((name, i) => jsonSpan(i, i === 0 ? { name } : { name, parentSpanId: spanId(0) }))),
    "json",
  ).accepted;
  const lines = renderWaterfall({ traceId: TRACE_ID, spans, logs: [] }).split("\n");
  const rows = lines.filter((line) => line.startsWith("hostile "));
  assert.equal(rows.length, names.length);
  // The start column ends at the same display column on every row, and on the column titles.
  const startEnds = [lines[1], ...rows].map((line) => {
    const [before] = line.split(/(?<= {2}(?:start|\d+\.\d ms))(?= {2})/);
    return stringWidth(before);
  });
  assert.equal(new Set(startEnds).size, 1, JSON.stringify(startEnds));
  assert.ok(rows.some((row) => row.includes("zero<U+200B>width")), "a zero-width space is shown, not hidden");
  assert.ok(rows.some((row) => row.includes("tab<U+0009>here")));
  assert.ok(rows.some((row) => row.includes("emoji 👩‍👩‍👧")), "an emoji's joiners are kept");
});

Deno.test("a path with an invisible character does not print as another path", () => {
  const spans = decodeTraces(jsonTraces([jsonSpan(0, { name: "GET /ad\u200Bmin" })]), "json").accepted;
  const text = renderWaterfall({ traceId: TRACE_ID, spans, logs: [] });
  assert.match(text, /GET \/ad<U\+200B>min/);
  assert.doesNotMatch(text, /\/admin/);
});

Deno.test("a second span with the same id is drawn, marked, and counted in the heading", () => {
  const spans = decodeTraces(
    jsonTraces([jsonSpan(0), jsonSpan(1, { parentSpanId: spanId(0), name: "first" })]),
    "json",
  ).accepted;
  spans.push({ ...spans[1], name: "second" });
  const text = renderWaterfall({ traceId: TRACE_ID, spans, logs: [] });
  const lines = text.split("\n");
  assert.match(
    lines[0],
    /^Trace \S+ {2}3 spans, 1 services \(hostile\), [\d.]+ ms, 1 with a duplicate span id$/,
  );
  const rows = lines.filter((line) => line.startsWith("hostile "));
  assert.equal(rows.length, 3, "every span counted is drawn");
  assert.match(text, /second .*\n +⚠ an earlier span has the same id 0{15}2/);
});

Deno.test("spans the store did not keep for a duplicate id are counted in the heading", () => {
  const store = new TelemetryStore();
  const [span] = decodeTraces(jsonTraces([jsonSpan(0)]), "json").accepted;
  store.addSpans([span]);
  store.addSpans([{ ...span, name: "again" }, { ...span, name: "and again" }]);
  const heading = renderWaterfall(store.trace(TRACE_ID)!).split("\n")[0];
  assert.match(heading, /^Trace \S+ {2}1 spans, .*, 2 more spans with a duplicate id, not kept$/);
});

Deno.test("draws PRODUCER and CONSUMER kinds, and links naming the trace and span they point to", () => {
  const other = "0af7651916cd43dd8448eb211c80319c";
  const spans = [
    jsonSpan(0, { name: "enqueue jobs", kind: 4 }),
    jsonSpan(1, {
      name: "process jobs",
      kind: 5,
      parentSpanId: spanId(0),
      links: [{ traceId: TRACE_ID, spanId: spanId(0) }, { traceId: other, spanId: spanId(7) }],
    }),
    jsonSpan(2, { name: "batch", links: [{ traceId: other, spanId: spanId(8) }] }),
  ];
  const [linked] = decodeTraces(jsonTraces([jsonSpan(7, { traceId: other, name: "elsewhere" })]), "json")
    .accepted;
  const trace = { traceId: TRACE_ID, spans: decodeTraces(jsonTraces(spans), "json").accepted, logs: [] };
  const found = (traceId: string, id: string) =>
    traceId === linked.traceId && id === linked.spanId ? linked : undefined;
  const lines = renderWaterfall(trace, { findSpan: found }).split("\n");
  assert.ok(lines.some((line) => /^hostile +PRODUCER +enqueue jobs /.test(line)), lines.join("\n"));
  assert.ok(lines.some((line) => /^hostile +CONSUMER +└─ process jobs /.test(line)), lines.join("\n"));
  const links = lines.filter((line) => line.includes("↗")).map((line) => line.trim());
  assert.deepEqual(links, [
    `↗ link to this trace, span ${spanId(0)} (hostile enqueue jobs)`,
    `↗ link to trace ${other}, span ${spanId(7)} (hostile elsewhere)`,
    `↗ link to trace ${other}, span ${spanId(8)}`,
  ]);
});

Deno.test("marks the critical path: solid where it passes through a span, light where the span waits off it", () => {
  // A staircase: the root calls a, then b, then waits 10 ms; c overlaps b but ends before it, off the path.
  const ms = (n: number) => 1_700_000_000_000_000_000n + BigInt(n) * 1_000_000n;
  const span = (id: number, name: string, start: number, end: number, parent?: number) =>
    jsonSpan(id, {
      name,
      startTimeUnixNano: String(ms(start)),
      endTimeUnixNano: String(ms(end)),
      ...(parent === undefined ? {} : { parentSpanId: spanId(parent) }),
    });
  const spans = [
    span(0, "root", 0, 40),
    span(1, "a", 0, 10, 0),
    span(2, "b", 10, 30, 0),
    span(3, "c", 12, 20, 0),
  ];
  const [trace] = (() => {
    const store = new TelemetryStore();
    store.addSpans(decodeTraces(jsonTraces(spans), "json").accepted);
    return store.traces();
  })();
  const bars = Object.fromEntries(
    renderWaterfall(trace, { barWidth: 8 }).split("\n").slice(2).map((line) => {
      const [, name, bar] = line.match(/([a-z]+) +\S+ ms +\S+ ms {2}(.*)$/)!;
      return [name, bar];
    }),
  );
  assert.deepEqual(bars, {
    root: "░░░░░░██",
    a: "██",
    b: "  ████",
    c: "  ░░", // from column 2 (12 ms of 40), off the path: b ended later
  });
});
