import assert from "node:assert/strict";
import { TelemetryStore } from "@example/otlp/receiver";
import type { LogRecord, Span } from "@example/otlp/decode";
import { createWebHandler } from "./web.ts";
import { listLogs } from "./logs_query.ts";
import { checkout } from "./testdata/checkout.ts";
import { startViewer } from "./_viewer_process.ts";

const hex = (bytes: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");

Deno.test("a real viewer fed OTLP: search, the critical path and self times, compare, and their 4xx", async () => {
  await using viewer = await startViewer();
  const [slow, fast, failed] = [hex(16), hex(16), hex(16)];
  for (
    const body of [
      checkout(slow, 300, { environment: "prod" }),
      checkout(fast, 40),
      checkout(failed, 100, { failed: true }),
    ]
  ) {
    const response = await fetch(`${viewer.url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(response.status, 200, await response.text());
  }
  const get = async (path: string) => {
    const response = await fetch(new URL(path, viewer.web));
    return { status: response.status, body: await response.json() };
  };
  const ids = async (query: string) => {
    const { status, body } = await get(`/api/traces?${query}`);
    assert.equal(status, 200, JSON.stringify(body));
    return {
      total: body.total,
      held: body.held,
      ids: body.traces.map((t: { traceId: string }) => t.traceId),
    };
  };
  assert.deepEqual(await ids(""), { total: 3, held: 3, ids: [failed, fast, slow] });
  assert.deepEqual(await ids("sort=duration"), { total: 3, held: 3, ids: [slow, failed, fast] });
  assert.deepEqual(await ids("service=db&error=true"), { total: 1, held: 3, ids: [failed] });
  assert.deepEqual(await ids("service=shop&error=true"), { total: 0, held: 3, ids: [] });
  assert.deepEqual(await ids("attribute=deployment.environment%3Dprod"), { total: 1, held: 3, ids: [slow] });
  assert.deepEqual(
    await ids(
      "attribute=http.route%3D%2Fcheckout&operation=POST+%2Fcheckout&minDurationMs=100&sort=duration&limit=1",
    ),
    {
      total: 2,
      held: 3,
      ids: [slow],
    },
  );
  assert.deepEqual(await get("/api/traces?minDurationMs=ten"), {
    status: 400,
    body: { error: 'minDurationMs takes milliseconds from 0 to 31536000000 (decimals allowed), got "ten"' },
  });
  assert.equal((await get("/api/traces?colour=red")).status, 400);

  // The slow checkout: 300 ms in the database, then 20 in the cache, then the shop's last 10.
  const { body: trace } = await get(`/api/traces/${slow}`);
  const start = BigInt(trace.spans.find((span: Span) => span.parentSpanId === undefined).startTimeUnixNano);
  const ms = (nanos: string) => Number(BigInt(nanos) - start) / 1e6;
  assert.deepEqual(
    trace.criticalPath.map((
      s: Record<string, string>,
    ) => [s.spanId.slice(14), ms(s.startTimeUnixNano), ms(s.endTimeUnixNano)]),
    [["01", 0, 300], ["02", 300, 320], ["00", 320, 330]],
  );
  assert.deepEqual(
    trace.spans.map((
      span: { name: string; selfTimeNanos: string },
    ) => [span.name, Number(span.selfTimeNanos) / 1e6]),
    [["POST /checkout", 10], ["SELECT orders", 300], ["GET cart", 20]],
  );

  const compared = await get(`/api/compare?a=${slow}&b=${fast}`);
  assert.equal(compared.status, 200);
  assert.deepEqual([compared.body.a.traceId, compared.body.b.traceId], [slow, fast]);
  assert.deepEqual(compared.body.rows[0], {
    service: "db",
    name: "SELECT orders",
    countA: 1,
    countB: 1,
    selfNanosA: "300000000",
    selfNanosB: "40000000",
    diffNanos: "-260000000",
  });
  assert.deepEqual(await get(`/api/compare?a=${slow}`), {
    status: 400,
    body: { error: "b: a trace id is 32 hex digits" },
  });
  const unknown = "0".repeat(31) + "1";
  assert.deepEqual(await get(`/api/compare?a=${slow}&b=${unknown}`), {
    status: 404,
    body: { error: `no span or log record of trace ${unknown} arrived` },
  });
});

function logRecord(n: number, body: string): LogRecord {
  return {
    timeUnixNano: BigInt(n),
    body,
    attributes: {},
    service: "escapes",
    scope: { name: "test" },
  };
}

Deno.test("every answer is bounded after escaping, and answers not read are bounded in total: 503, then room again", async () => {
  const store = new TelemetryStore();
  // 40 records of 1,000 U+0001: 6,000 characters each once JSON escapes them.
  store.addLogs(Array.from({ length: 40 }, (_, i) => logRecord(i, "\u0001".repeat(1000))));
  const web = createWebHandler(store, {
    maxAnswerChars: 20_000,
    maxSendingChars: 50_000,
    sendTimeoutMs: 60_000,
  });
  const get = (path: string) => web.handle(new Request(`http://127.0.0.1:4320${path}`));
  try {
    const first = await get("/api/logs?limit=1000");
    const text = await first.text();
    assert.ok(text.length <= 20_000, `${text.length} characters`);
    const answer = JSON.parse(text);
    assert.equal(answer.matched, 40);
    assert.equal(answer.logs.length + answer.truncated.logs, 40);
    assert.match(answer.truncated.reason, /^an answer holds at most 20000 characters: \d+ logs left out$/);

    // Two answers not read hold 2 × 20,000 characters of the 50,000; a third has no room.
    const unread = [await get("/api/logs"), await get("/api/logs")];
    const refused = await get("/api/traces");
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.match((await refused.json()).error, /^busy: the viewer is sending \d+ characters of answers/);
    // One is read: room again.
    await unread[0].text();
    const again = await get("/api/traces");
    assert.equal(again.status, 200);
    await again.body?.cancel();
    await unread[1].body?.cancel();
  } finally {
    web.close();
  }
});

Deno.test("an answer a client does not read in time is ended, and its room given back", async () => {
  const store = new TelemetryStore();
  store.addLogs(Array.from({ length: 40 }, (_, i) => logRecord(i, "\u0001".repeat(1000))));
  const web = createWebHandler(store, {
    maxAnswerChars: 200_000,
    maxSendingChars: 200_000,
    sendTimeoutMs: 100,
  });
  const get = (path: string) => web.handle(new Request(`http://127.0.0.1:4320${path}`));
  try {
    const stalled = await get("/api/logs");
    assert.equal((await get("/api/logs")).status, 503);
    // Asked again until there is room: the stalled answer's deadline ends it.
    let next = await get("/api/logs");
    while (next.status === 503) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      next = await get("/api/logs");
    }
    assert.equal(next.status, 200);
    await next.body?.cancel();
    await assert.rejects(stalled.text(), /the answer was not read in time/);
  } finally {
    web.close();
  }
});

Deno.test("a comparison is bounded too; searches past the limit at once are answered 503", async () => {
  const store = new TelemetryStore();
  const [a, b] = ["a".repeat(32), "b".repeat(32)];
  const span = (traceId: string, i: number): Span => ({
    traceId,
    spanId: (i + 1).toString(16).padStart(16, "0"),
    name: `operation ${i} ${"x".repeat(100)}`,
    kind: "INTERNAL",
    startTimeUnixNano: 0n,
    endTimeUnixNano: BigInt(i),
    attributes: {},
    events: [],
    links: [],
    status: { code: "UNSET" },
    service: "svc",
    resource: { "service.name": "svc" },
    scope: { name: "test" },
  });
  store.addSpans(Array.from({ length: 500 }, (_, i) => span(a, i)));
  store.addSpans(Array.from({ length: 500 }, (_, i) => span(b, i)));
  const web = createWebHandler(store, { maxAnswerChars: 10_000, maxSearches: 1 });
  const get = (path: string) => web.handle(new Request(`http://127.0.0.1:4320${path}`));
  try {
    const text = await (await get(`/api/compare?a=${a}&b=${b}`)).text();
    assert.ok(text.length <= 10_000, `${text.length} characters`);
    const { rows, truncated } = JSON.parse(text);
    assert.equal(rows.length + truncated.rows, 500);
    // The first search holds the only turn until it ends, so the second, asked meanwhile, is refused.
    const [first, second] = [get("/api/traces?service=svc"), get("/api/traces?service=svc")];
    assert.equal((await second).status, 503);
    assert.equal((await first).status, 200);
    await (await first).body?.cancel();
  } finally {
    web.close();
  }
});

Deno.test("a search of the log bodies lets the event loop run between slices", async () => {
  const store = new TelemetryStore({ maxRecords: 1_000_000 });
  store.addLogs(Array.from({ length: 20_000 }, (_, i) => logRecord(i, `line ${i} ${"y".repeat(200)}`)));
  const ran: string[] = [];
  const timer = setTimeout(() => ran.push("timer"), 0);
  const found = await listLogs(store, { text: "nothing matches" }, { sliceMs: 1 });
  ran.push("searched");
  clearTimeout(timer);
  assert.deepEqual(ran, ["timer", "searched"], "the timer ran before the search ended");
  assert.equal(found.matched, 0);
  assert.equal((await listLogs(store, { text: "LINE 19999 " })).matched, 1);
});
