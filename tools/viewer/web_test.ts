import assert from "node:assert/strict";
import { ROOT, runDeno, spawn } from "@example/harness/processes";
import { TelemetryStore } from "@example/otlp/receiver";
import {
  createWebHandler,
  linkedFrom,
  listTraces,
  MAX_LINKS_LOOKED_UP,
  startWebView,
  traceAnswer,
  webErrorHandler,
} from "./web.ts";
import { pageAssets } from "./web_assets.ts";
import webConfig from "./web/deno.json" with { type: "json" };
import { replay } from "@example/otlp/recorded";
import { httpDuration } from "@example/otlp/sample_metrics";
import type { Span } from "@example/otlp/decode";
import { denoRunOf, permissionFlags } from "@example/harness/tasks";

/** The permissions of `deno task viewer`, from deno.json. */
const VIEWER_PERMISSIONS = permissionFlags(denoRunOf("viewer"));

const TRACE_ID = "00000000000000000b00000000000001";

async function get(store: TelemetryStore, path: string, init: RequestInit = {}) {
  const web = createWebHandler(store);
  try {
    const response = await web.handle(new Request(`http://127.0.0.1:4320${path}`, init));
    return { response, text: await response.text() };
  } finally {
    web.close();
  }
}

function span(traceId: string, spanId: string, start: bigint, fields: Partial<Span> = {}): Span {
  return {
    traceId,
    spanId,
    name: "work",
    kind: "INTERNAL",
    startTimeUnixNano: start,
    endTimeUnixNano: start + 1000n,
    attributes: {},
    events: [],
    links: [],
    status: { code: "UNSET" },
    service: "svc",
    resource: {},
    scope: { name: "test" },
    ...fields,
  };
}

Deno.test("GET /api/traces lists what Deno sent: root span, services, span count, duration, status", async () => {
  const store = await replay("json");
  const { response, text } = await get(store, "/api/traces");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
  const { total, traces } = JSON.parse(text);
  assert.equal(total, 1);
  assert.equal(traces.length, 1);
  const [trace] = traces;
  assert.deepEqual(
    { ...trace, startTimeUnixNano: undefined, durationNanos: undefined },
    {
      traceId: TRACE_ID,
      name: "call-api",
      service: "client",
      services: ["client", "server"],
      spans: 4,
      logs: store.trace(TRACE_ID)!.logs.length,
      errors: 0,
      complete: true,
      duplicateSpans: 0,
      startTimeUnixNano: undefined,
      durationNanos: undefined,
    },
  );
  const root = store.trace(TRACE_ID)!.spans.find((span) => span.name === "call-api")!;
  assert.equal(trace.startTimeUnixNano, String(root.startTimeUnixNano));
  assert.equal(trace.durationNanos, String(root.endTimeUnixNano - root.startTimeUnixNano));
});

Deno.test("GET /api/traces/{id} gives the spans and log records, times as decimal strings", async () => {
  const store = await replay("json");
  const { response, text } = await get(store, `/api/traces/${TRACE_ID.toUpperCase()}`);
  assert.equal(response.status, 200);
  const trace = JSON.parse(text);
  assert.equal(trace.traceId, TRACE_ID);
  assert.equal(trace.complete, true);
  assert.equal(trace.spans.length, 4);
  const handler = trace.spans.find((span: { name: string }) => span.name === "process-request");
  const original = store.trace(TRACE_ID)!.spans.find((span) => span.name === "process-request")!;
  assert.equal(handler.startTimeUnixNano, String(original.startTimeUnixNano));
  assert.equal(handler.events[0].name, "processing_request");
  assert.deepEqual(handler.scope, { name: "api-server", version: "1.0.0" });
  // Each distinct resource once; spans name theirs by index.
  assert.equal(trace.resources.length, 2);
  assert.equal(trace.resources[handler.resource]["service.name"], "server");
  assert.equal(trace.duplicateSpans, 0);
  assert.equal(trace.truncated, undefined);
  assert.ok(
    trace.logs.some((log: { spanId: string; body: string }) =>
      log.spanId === handler.spanId && log.body.includes("Server: Processing request in trace context")
    ),
  );
});

Deno.test("one resource written many times is sent once; every answer is bounded, saying what it left out", async () => {
  const store = new TelemetryStore();
  const traceId = "e".repeat(32);
  // 10,000 spans of one resource (one export: one object) with a 2 MiB attribute: 20 GiB of JSON if written
  // once per span.
  const resource = { "service.name": "svc", big: "x".repeat(2 * 1024 * 1024) };
  store.addSpans(
    Array.from(
      { length: 10_000 },
      (_, i) => span(traceId, (i + 1).toString(16).padStart(16, "0"), BigInt(i), { resource }),
    ),
  );
  const { response, text } = await get(store, `/api/traces/${traceId}`);
  assert.equal(response.status, 200);
  const trace = JSON.parse(text);
  assert.equal(trace.resources.length, 1);
  assert.equal(trace.spans.length, 10_000);
  assert.ok(trace.spans.every((span: { resource: number }) => span.resource === 0));
  assert.ok(text.length < 2 * 1024 * 1024 + 10_000 * 400, `${text.length} characters`);

  const bounded = JSON.parse(traceAnswer(store.trace(traceId)!, 2 * 1024 * 1024 + 100_000));
  assert.ok(bounded.spans.length > 0 && bounded.spans.length < 10_000);
  const left = 10_000 - bounded.spans.length;
  assert.deepEqual(bounded.truncated, {
    resources: 0,
    spans: left,
    logs: 0,
    criticalPath: 0,
    reason: `an answer holds at most ${2 * 1024 * 1024 + 100_000} characters: 0 resources, ${left} spans, ` +
      "0 log records and 0 segments of the critical path are left out",
  });
  // A bound below the resource itself: it is left out as null (the indices hold), and the spans with it.
  const tiny = JSON.parse(traceAnswer(store.trace(traceId)!, 100_000));
  assert.deepEqual([tiny.resources, tiny.spans.length, tiny.truncated.resources], [[null], 0, 1]);
  // The listing is bounded too.
  const web = createWebHandler(store, { maxAnswerChars: 1000 });
  try {
    const names = Array.from({ length: 50 }, (_, i) => (i + 1).toString(16).padStart(32, "f"));
    store.addSpans(names.map((id) => span(id, "1".repeat(16), 1n, { name: "n".repeat(100) })));
    const list = await (await web.handle(new Request("http://127.0.0.1:4320/api/traces?limit=50"))).json();
    assert.ok(list.traces.length > 0 && list.traces.length < 50);
    assert.deepEqual(list.truncated, {
      traces: 50 - list.traces.length,
      reason: "an answer holds at most 1000 characters",
    });
  } finally {
    web.close();
  }
});

Deno.test("GET /api/traces/{id} names the spans that link to its spans, from this trace or others, bounded", async () => {
  const store = new TelemetryStore({ maxLinksToTrace: 5000 });
  const [target, batch] = ["c".repeat(32), "d".repeat(32)];
  const [enqueue, other, missing] = ["1".repeat(16), "2".repeat(16), "9".repeat(16)];
  const link = (spanId: string) => ({ traceId: target, spanId, attributes: {} });
  store.addSpans([
    span(target, enqueue, 1n, { name: "enqueue", service: "api" }),
    span(target, other, 2n, { links: [link(enqueue)] }),
  ]);
  store.addSpans([
    span(batch, "3".repeat(16), 3n, {
      name: "process",
      service: "worker",
      links: [link(enqueue), link(missing)],
    }),
  ]);
  const { text } = await get(store, `/api/traces/${target}`);
  const answer = JSON.parse(text);
  assert.deepEqual(answer.linkedFrom, {
    [enqueue]: [
      { traceId: target, spanId: other, service: "svc", name: "work" },
      { traceId: batch, spanId: "3".repeat(16), service: "worker", name: "process" },
    ],
  });
  assert.equal(answer.linkedFromLeftOut, 0);
  assert.deepEqual(JSON.parse((await get(store, `/api/traces/${batch}`)).text).linkedFrom, {});

  // 2,000 more spans link to it: the answer names 1,000 (MAX_LINKS_LOOKED_UP) and counts the rest.
  const many = Array.from(
    { length: 2000 },
    (_, i) => span("f" + i.toString(16).padStart(31, "0"), "4".repeat(16), 4n, { links: [link(other)] }),
  );
  store.addSpans(many);
  const bounded = JSON.parse((await get(store, `/api/traces/${target}`)).text);
  assert.equal(bounded.linkedFrom[enqueue].length, 2);
  assert.equal(bounded.linkedFrom[other].length, MAX_LINKS_LOOKED_UP - 2);
  assert.equal(bounded.linkedFromLeftOut, 2002 - MAX_LINKS_LOOKED_UP);
  assert.deepEqual(linkedFrom(store, store.trace(target)!).leftOut, bounded.linkedFromLeftOut);
  // Within the answer's characters: the trace's own spans come first, the links what room is left.
  const tight = JSON.parse(
    traceAnswer(store.trace(target)!, 2000, {}, linkedFrom(store, store.trace(target)!)),
  );
  assert.equal(tight.spans.length, 2);
  assert.deepEqual(tight.linkedFrom, { [enqueue]: bounded.linkedFrom[enqueue] });
  assert.equal(tight.linkedFromLeftOut, 2002 - 2);
  assert.ok(JSON.stringify(tight).length <= 2000);
});

Deno.test("the trace list is the traces that changed last, latest first, bounded by limit", () => {
  const store = new TelemetryStore();
  const ids = ["a", "b", "c"].map((letter) => letter.repeat(32));
  store.addSpans([span(ids[1], "1".repeat(16), 2000n), span(ids[0], "2".repeat(16), 1000n)]);
  store.addSpans([span(ids[2], "3".repeat(16), 3000n)]);
  assert.deepEqual(listTraces(store).map((trace) => trace.traceId), [ids[2], ids[0], ids[1]]);
  assert.deepEqual(listTraces(store, 2).map((trace) => trace.traceId), [ids[2], ids[0]]);
  // A late span moves its trace to the top.
  store.addSpans([span(ids[1], "4".repeat(16), 2500n)]);
  assert.deepEqual(listTraces(store, 1).map((trace) => trace.traceId), [ids[1]]);
});

Deno.test("listing costs what it returns: no walk over every trace, summaries made again only on change", async () => {
  const store = new TelemetryStore({ maxRecords: 100_000 });
  for (let i = 0; i < 45_000; i++) {
    store.addSpans([span(i.toString(16).padStart(32, "0"), "1".repeat(16), 1000n)]);
  }
  store.traces = () => {
    throw new Error("the listing walked every trace");
  };
  const web = createWebHandler(store);
  try {
    const list = async (limit: number) => {
      const response = await web.handle(new Request(`http://127.0.0.1:4320/api/traces?limit=${limit}`));
      assert.equal(response.status, 200);
      return await response.json();
    };
    const first = await list(1);
    assert.equal(first.total, 45_000);
    assert.deepEqual(first.traces.map((trace: { traceId: string }) => trace.traceId), [
      (44_999).toString(16).padStart(32, "0"),
    ]);
    assert.equal(first.traces[0].spans, 1);
    // A summary held between requests is made again once its trace changed.
    store.addSpans([
      span((44_999).toString(16).padStart(32, "0"), "2".repeat(16), 2000n, { status: { code: "ERROR" } }),
    ]);
    const second = await list(1);
    assert.deepEqual([second.traces[0].spans, second.traces[0].errors], [2, 1]);
  } finally {
    web.close();
  }
});

Deno.test("a trace whose parent never arrived is listed as incomplete, named by its earliest orphan", () => {
  const store = new TelemetryStore();
  const traceId = "d".repeat(32);
  store.addSpans([
    span(traceId, "1".repeat(16), 2000n, { name: "late", parentSpanId: "f".repeat(16) }),
    span(traceId, "2".repeat(16), 1000n, {
      name: "early",
      parentSpanId: "e".repeat(16),
      status: { code: "ERROR" },
    }),
  ]);
  const [summary] = listTraces(store);
  assert.equal(summary.name, "early");
  assert.equal(summary.complete, false);
  assert.equal(summary.errors, 1);
});

Deno.test("bad requests get a 4xx that says why; every answer carries the security headers", async () => {
  const store = await replay("json");
  const cases: [string, RequestInit, number, RegExp][] = [
    ["/api/traces/" + "0".repeat(31) + "1", {}, 404, /no span or log record of trace/],
    ["/api/traces/not-an-id", {}, 400, /a trace id is 32 hex digits/],
    ["/api/traces?limit=0", {}, 400, /limit takes a whole number from 1 to 1000/],
    ["/api/traces?limit=abc", {}, 400, /limit takes a whole number/],
    ["/nowhere", {}, 404, /not found: \/nowhere/],
    ["/api/traces", { method: "POST", body: "{}" }, 405, /read-only/],
    ["/", { headers: { host: "attacker.example:4320" } }, 403, /answers only to 127\.0\.0\.1 or localhost/],
    ["/", { headers: { host: "a:1:1" } }, 400, /the Host header is not a host name and port/],
    ["/api/traces", { headers: { host: "127.0.0.1:1:1" } }, 400, /the Host header is not/],
  ];
  for (const [path, init, status, message] of cases) {
    const { response, text } = await get(store, path, init);
    assert.equal(response.status, status, `${path}: ${text}`);
    assert.match(text, message);
    assert.match(response.headers.get("content-security-policy")!, /^default-src 'none'; script-src 'self';/);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  }
  for (const host of ["localhost:4320", "127.0.0.1:1234", "[::1]:4320"]) {
    const { response } = await get(store, "/", { headers: { host } });
    assert.equal(response.status, 200, host);
  }
});

Deno.test("the page loads its files from the viewer only, its modules import only what it serves, nothing inline", async () => {
  const store = new TelemetryStore();
  const { response, text } = await get(store, "/");
  assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
  const links = [...text.matchAll(/(?:src|href)="([^"]*)"/g)].map((match) => match[1]);
  // What the page loads; the rest are its tabs, links within the page.
  assert.deepEqual(links.filter((link) => !link.startsWith("#")), ["/favicon.svg", "/page.css", "/main.js"]);
  assert.deepEqual(links.filter((link) => link.startsWith("#")), ["#", "#view=metrics", "#view=logs"]);
  assert.doesNotMatch(text, /<script>|\sstyle=|\son\w+=/, "nothing inline: the CSP allows none");
  // The scripts are type-checked by `deno check` with the DOM's types: web/ is a workspace member for that.
  assert.deepEqual(webConfig.compilerOptions, { checkJs: true, lib: ["dom", "dom.iterable", "esnext"] });
  const assets = pageAssets();
  assert.ok(assets.has("/main.js") && assets.has("/page.css") && !assets.has("/deno.json"));
  for (const [path, { type }] of assets) {
    const { response, text } = await get(store, path);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), type);
    if (!path.endsWith(".js")) continue;
    assert.doesNotMatch(text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, path);
    // Every module a script imports is one the viewer serves.
    for (const [, imported] of text.matchAll(/^import .* from "\.(\/[a-z_]+\.js)";$/gm)) {
      assert.ok(assets.has(imported), `${path} imports ${imported}`);
    }
  }
});

Deno.test("without read permission for tools/viewer/web the viewer says which permission it needs", async () => {
  const output = await runDeno("tools/viewer/viewer.ts", {
    permissions: ["--allow-net=127.0.0.1"],
    args: ["--port", "0", "--web-port", "0"],
  });
  assert.equal(output.code, 1);
  assert.match(
    output.stderr,
    /^viewer: cannot read the web page's files in \S+viewer\/web\/: run with --allow-read=tools\/viewer\/web/,
  );
});

/** Reads server-sent events from `response` until `until` returns true for one of them. */
async function readEvents(reader: ReadableStreamDefaultReader<string>, until: (data: unknown) => boolean) {
  let buffer = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the event stream ended; it held ${JSON.stringify(buffer)}`);
    buffer += value;
    for (const block of buffer.split("\n\n").slice(0, -1)) {
      const data = block.match(/^event: traces\ndata: (.*)$/m)?.[1];
      if (data !== undefined && until(JSON.parse(data))) return JSON.parse(data);
    }
    buffer = buffer.slice(buffer.lastIndexOf("\n\n") + 2);
  }
}

Deno.test("open pages are told which traces changed; many changes at once become one 'many'", async () => {
  const store = new TelemetryStore();
  const web = startWebView({ store, port: 0, pushDelayMs: 10 });
  const response = await fetch(`${web.url}api/events`);
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const traceId = "a".repeat(32);
    store.addSpans([span(traceId, "1".repeat(16), 1000n)]);
    assert.deepEqual(await readEvents(reader, () => true), { traceIds: [traceId] });
    store.addSpans(
      Array.from({ length: 150 }, (_, i) => span(i.toString(16).padStart(32, "1"), "2".repeat(16), 1000n)),
    );
    assert.deepEqual(await readEvents(reader, () => true), { traceIds: null });
  } finally {
    // Closing ends the open event stream instead of waiting for it forever.
    await web.close();
  }
  assert.deepEqual(await reader.read(), { value: undefined, done: true });
});

/** Reads `reader` until what it gave matches `pattern`; returns everything read, then the groups. */
async function readUntil(reader: ReadableStreamDefaultReader<string>, pattern: RegExp): Promise<string[]> {
  let seen = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`nothing matched ${pattern}; the output was:\n${seen}`);
    seen += value;
    const match = seen.match(pattern);
    if (match) return [seen, ...match.slice(1)];
  }
}

Deno.test("deno task viewer prints the page's address and serves it next to the receiver", async () => {
  const viewer = spawn(
    "deno",
    [
      "run",
      ...VIEWER_PERMISSIONS,
      "tools/viewer/viewer.ts",
      ...["--port", "0", "--web-port", "0"],
    ],
    ROOT,
    {},
  );
  const stderr = new Response(viewer.stderr).text();
  const reader = viewer.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const [, url] = await readUntil(
      reader,
      /^Viewer: the traces in a browser: (http:\/\/127\.0\.0\.1:\d+\/)$/m,
    );
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Traces · Deno tracing example<\/title>/);
    const list = await fetch(`${url}api/traces`);
    assert.deepEqual(await list.json(), { total: 0, held: 0, traces: [] });
  } finally {
    viewer.kill("SIGINT");
    await reader.cancel();
  }
  assert.equal((await viewer.status).code, 0, await stderr);
});

Deno.test("deno task viewer says clearly when the web page's port is taken", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const output = await runDeno("tools/viewer/viewer.ts", {
    permissions: VIEWER_PERMISSIONS,
    args: ["--port", "0", "--web-port", String(taken.addr.port)],
  });
  assert.equal(output.code, 1);
  assert.match(
    output.stderr,
    new RegExp(`^viewer: 127\\.0\\.0\\.1:${taken.addr.port} \\(the web page\\) is already in use`),
  );
});

Deno.test("deno task demo --keep-open keeps the web page with the joined trace open until Ctrl-C", async () => {
  const demo = spawn("deno", ["task", "demo", "--keep-open"], ROOT, {});
  const stderr = new Response(demo.stderr).text();
  const reader = demo.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const [output, url] = await readUntil(
      reader,
      /The web view stays open on (http:\S+\/); Ctrl-C stops it\./,
    );
    assert.match(
      output,
      /^web view: http:\/\/127\.0\.0\.1:\d+\/ \(--keep-open keeps it open after the demo\)$/m,
    );
    assert.match(output, /One request, one trace/);
    const { traces } = await (await fetch(`${url}api/traces`)).json();
    assert.equal(traces.length, 1);
    assert.deepEqual(
      [traces[0].name, traces[0].services, traces[0].spans],
      ["call-api", ["client", "server"], 4],
    );
  } finally {
    demo.kill("SIGINT");
    await reader.cancel();
  }
  assert.equal((await demo.status).code, 0, await stderr);
});

Deno.test("GET /api/logs: every record of what Deno sent, newest first, by service, least severity and text", async () => {
  const store = await replay("error");
  const logs = async (query: string) => JSON.parse((await get(store, `/api/logs${query}`)).text);
  const all = await logs("");
  assert.equal(all.total, store.logs.length);
  assert.equal(all.matched, store.logs.length);
  assert.deepEqual(all.services, ["client", "server"]);
  const times = all.logs.map((log: { timeUnixNano: string }) => BigInt(log.timeUnixNano));
  assert.deepEqual(
    times,
    times.toSorted((a: bigint, b: bigint) => a > b ? -1 : a < b ? 1 : 0),
    "newest first",
  );
  const errors = await logs("?service=server&severity=error");
  assert.deepEqual(errors.logs.map((log: { body: string }) => log.body), ["Server: simulated failure\n"]);
  assert.ok(errors.logs[0].spanId, "the record names the span it was written in");
  const text = await logs("?q=SIMULATED");
  assert.ok(text.logs.length >= 1 && text.logs.every((log: { body: string }) => /simulated/i.test(log.body)));
  assert.equal((await logs("?limit=1")).logs.length, 1);
  for (
    const [query, message] of [["?limit=0", /limit takes a whole number/], [
      "?severity=LOUD",
      /severity takes/,
    ]]
  ) {
    const { response, text } = await get(store, `/api/logs${query}`);
    assert.equal(response.status, 400);
    assert.match(text, message as RegExp);
  }
});

Deno.test("GET /api/metrics: the summaries, the store's caps and what they turned away; a bad window is a 400", async () => {
  const store = new TelemetryStore();
  // Four requests between 1 s and 3 s.
  store.addMetrics([httpDuration(200, [[3, [4, 0, 0, 0, 0, 0]]])]);
  const { response, text } = await get(store, "/api/metrics?window=30");
  assert.equal(response.status, 200);
  const answer = JSON.parse(text);
  assert.equal(answer.windowSeconds, 30);
  assert.deepEqual(
    answer.http.map((
      row: Record<string, unknown>,
    ) => [row.service, row.route, row.requestRate, row.errorRate]),
    [["server", "GET /", 2, 0]],
  );
  assert.deepEqual(answer.metrics.map((row: Record<string, unknown>) => row.name), [
    "http.server.request.duration",
  ]);
  assert.equal(answer.series, 1);
  assert.equal(answer.limits.maxSeries, 2000);
  assert.equal(answer.dropped.series, 0);
  for (const window of ["0", "3601", "x"]) {
    const { response, text } = await get(store, `/api/metrics?window=${window}`);
    assert.equal(response.status, 400);
    assert.match(text, /window takes whole seconds from 1 to 3600/);
  }
});

Deno.test("a request that fails is reported in one cleaned line, at most one each interval, and answered 500", async () => {
  const lines: string[] = [];
  const onError = webErrorHandler((line) => lines.push(line), 60_000);
  const error = new TypeError("Invalid URL: 'http://a\u009b31m\u202e:1:1/'\nsecond line");
  const responses = Array.from({ length: 100 }, () => onError(error));
  assert.deepEqual(lines, [
    "web view: a request failed: TypeError: Invalid URL: 'http://a<U+009B>31m<U+202E>:1:1/'⏎second line",
  ]);
  assert.ok(responses.every((response) => response.status === 500));
  assert.equal(await responses[0].text(), "the web view failed on this request\n");
  for (const response of responses.slice(1)) await response.body?.cancel();
  const later = webErrorHandler((line) => lines.push(line), 0);
  later(error);
  assert.equal(lines.length, 2);
});
