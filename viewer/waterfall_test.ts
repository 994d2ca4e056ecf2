import assert from "node:assert/strict";
import { renderWaterfall } from "./waterfall.ts";
import { replay } from "../otlp/testdata/replay.ts";

// Ids come from DENO_UNSTABLE_OTEL_DETERMINISTIC (see testdata/record.ts); times are real, so rows are
// matched by what they say, not by their timings.

Deno.test("draws the joined trace as a tree, in start order, with events and log records", async () => {
  const [trace] = (await replay("json")).traces();
  const lines = renderWaterfall(trace).split("\n");
  assert.match(
    lines[0],
    /^Trace 00000000000000000b00000000000001 {2}4 spans, 2 services \(client, server\), [\d.]+ ms$/,
  );
  assert.match(lines[1], /^service +kind +span +start +duration +timeline$/);
  const rows = lines.filter((line) => /^(client|server) /.test(line));
  assert.deepEqual(rows.map((row) => row.split(/ {2,}/).slice(0, 3)), [
    ["client", "INTERNAL", "call-api"],
    ["client", "CLIENT", "└─ GET"],
    ["server", "SERVER", "└─ GET /"],
    ["server", "INTERNAL", "└─ process-request"],
  ]);
  assert.match(rows[0], / 0\.0 ms +[\d.]+ ms {2}█{40}$/, "the root spans the whole bar");
  const bars = rows.map((row) => row.match(/ {2}( *█+)$/)![1]);
  for (let i = 1; i < bars.length; i++) {
    assert.ok(
      bars[i].indexOf("█") >= bars[i - 1].indexOf("█"),
      "each child starts no earlier than its parent",
    );
  }
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
