import assert from "node:assert/strict";
import { createReceiverHandler, isComplete, reportError, startReceiver, TelemetryStore } from "./receiver.ts";
import { replay } from "./recorded/replay.ts";
import {
  chain,
  emptySpansProtobuf,
  eventBombJson,
  eventBombProtobuf,
  jsonSpan,
  jsonTraces,
  nestedKvlist,
  nestedKvlistProtobuf,
  withDeepValue,
} from "./hostile_requests.ts";

for (const scenario of ["json", "protobuf"]) {
  Deno.test(`decodes what Deno sends as OTLP ${scenario}: four spans, one trace, the log records`, async () => {
    const store = await replay(scenario);
    const [trace] = store.traces();
    assert.equal(store.traces().length, 1);
    assert.ok(isComplete(trace));
    assert.deepEqual(
      trace.spans.map((span) => [span.service, span.kind, span.name, span.scope.name]).sort(),
      [
        ["client", "CLIENT", "GET", "deno"],
        ["client", "INTERNAL", "call-api", "api-client"],
        ["server", "INTERNAL", "process-request", "api-server"],
        ["server", "SERVER", "GET /", "deno"],
      ],
    );
    const handler = trace.spans.find((span) => span.name === "process-request")!;
    assert.equal(handler.events[0].name, "processing_request");
    assert.ok(handler.endTimeUnixNano > handler.startTimeUnixNano);
    assert.ok(
      trace.logs.some((log) => log.spanId === handler.spanId && String(log.body).includes("Processing")),
    );
    assert.equal(handler.resource["service.name"], "server");
  });
}

async function post(body: BodyInit | null, headers: Record<string, string> = {}, path = "/v1/traces") {
  const store = new TelemetryStore();
  store.addSpans((await replay("json")).spans);
  const before = store.spans.length;
  const response = await createReceiverHandler(store, { maxBodyBytes: 1024 })(
    new Request(`http://receiver${path}`, { method: "POST", headers, body }),
  );
  assert.equal(store.spans.length, before, "what the store held is still there, and nothing was added");
  return { status: response.status, body: await response.json() };
}

Deno.test("malformed JSON is a 400 that says so, and the store keeps what it held", async () => {
  const { status, body } = await post("{not json", { "content-type": "application/json" });
  assert.equal(status, 400);
  assert.equal(body.code, 3);
  assert.match(body.message, /^the body is not valid JSON: /);
  assert.equal((await post("[1,2]", { "content-type": "application/json" })).status, 400);
});

Deno.test("a body that is not protobuf is a 400", async () => {
  const { status, body } = await post(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), {
    "content-type": "application/x-protobuf",
  });
  assert.equal(status, 400);
  assert.match(body.message, /^the body is not a valid protobuf message/);
});

Deno.test("an oversized body is a 413, whether declared, streamed or gzip-inflated", async () => {
  const big = JSON.stringify({ resourceSpans: [], padding: "x".repeat(2000) });
  assert.equal((await post(big, { "content-type": "application/json" })).status, 413);
  const stream = new Blob([big]).stream(); // no content-length
  const streamed = await post(stream, { "content-type": "application/json" });
  assert.equal(streamed.status, 413);
  assert.match(streamed.body.message, /larger than this receiver accepts \(1024 bytes\)/);
  const gzipped = await new Response(new Blob([big]).stream().pipeThrough(new CompressionStream("gzip")))
    .arrayBuffer();
  assert.ok(gzipped.byteLength < 1024);
  const inflated = await post(gzipped, { "content-type": "application/json", "content-encoding": "gzip" });
  assert.equal(inflated.status, 413);
});

Deno.test("an unknown path is a 404, a wrong method a 405 with Allow, an unknown type a 415", async () => {
  const store = new TelemetryStore();
  const handle = createReceiverHandler(store);
  const notFound = await handle(new Request("http://receiver/v1/profiles", { method: "POST", body: "{}" }));
  assert.equal(notFound.status, 404);
  assert.match((await notFound.json()).message, /serves POST \/v1\/traces, \/v1\/logs and \/v1\/metrics/);
  const wrongMethod = await handle(new Request("http://receiver/v1/traces"));
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get("allow"), "POST");
  await wrongMethod.body?.cancel();
  const wrongType = await handle(
    new Request("http://receiver/v1/traces", {
      method: "POST",
      body: "x",
      headers: { "content-type": "text/plain" },
    }),
  );
  assert.equal(wrongType.status, 415);
  assert.match((await wrongType.json()).message, /OTEL_EXPORTER_OTLP_PROTOCOL=http\/json/);
});

Deno.test("spans without valid ids are rejected as a partial success; the rest are kept", async () => {
  const store = new TelemetryStore();
  const span = (traceId: string, name: string) => ({ traceId, spanId: "00f067aa0ba902b7", name });
  const response = await createReceiverHandler(store)(
    new Request("http://receiver/v1/traces", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        resourceSpans: [{
          scopeSpans: [{
            spans: [
              span("4bf92f3577b34da6a3ce929d0e0e4736", "good"),
              span("nope", "bad"),
              span("0".repeat(32), "zero"),
            ],
          }],
        }],
      }),
    }),
  );
  assert.equal(response.status, 200);
  const { partialSuccess } = await response.json();
  assert.equal(partialSuccess.rejectedSpans, 2);
  assert.match(partialSuccess.errorMessage, /without a valid trace or span id \("bad"\)/);
  assert.deepEqual(store.spans.map((span) => span.name), ["good"]);
  assert.equal(store.spans[0].service, "unknown");
});

Deno.test("metrics are accepted and counted; an empty export is a success", async () => {
  const store = new TelemetryStore();
  const handle = createReceiverHandler(store);
  const response = await handle(
    new Request("http://receiver/v1/metrics", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        resourceMetrics: [{
          scopeMetrics: [{ metrics: [{ name: "a", gauge: {} }, { name: "b", sum: {} }] }],
        }],
      }),
    }),
  );
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {});
  assert.equal(store.metrics.requests, 1);
  assert.equal(store.metrics.received, 2);
  const empty = await handle(
    new Request("http://receiver/v1/logs", {
      method: "POST",
      headers: { "content-type": "application/x-protobuf" },
    }),
  );
  assert.equal(empty.status, 200);
  assert.equal(empty.headers.get("content-type"), "application/x-protobuf");
  assert.equal((await empty.arrayBuffer()).byteLength, 0);
});

Deno.test("waitFor resolves on arrival and rejects, saying what it awaited, when aborted", async () => {
  const store = new TelemetryStore();
  const waiting = store.waitFor((store) => store.spans.length > 0 && store.spans[0].name);
  store.addSpans((await replay("json")).spans.slice(0, 1));
  assert.equal(typeof await waiting, "string");
  await assert.rejects(
    store.waitFor(() => false, { signal: AbortSignal.timeout(1), what: "nothing" }),
    /^Error: nothing did not arrive/,
  );
});

Deno.test("startReceiver listens on a free port and says when a port is taken", async () => {
  await using receiver = startReceiver({ port: 0 });
  const response = await fetch(`${receiver.url}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.throws(() => startReceiver({ port: receiver.port }), Deno.errors.AddrInUse);
});

Deno.test("every malformed body is a 4xx and leaves the store as it was: deep nesting, wrong types, too many spans", async () => {
  const store = new TelemetryStore();
  store.addSpans((await replay("json")).spans);
  const before = store.spans.length;
  const handle = createReceiverHandler(store);
  const send = async (body: BodyInit, type: string) => {
    const response = await handle(
      new Request("http://receiver/v1/traces", { method: "POST", headers: { "content-type": type }, body }),
    );
    return { status: response.status, message: (await response.json()).message as string };
  };
  const deep = withDeepValue(
    jsonTraces([jsonSpan(0, { attributes: [{ key: "deep", value: "__deep__" }] })]),
    nestedKvlist(5000),
  );
  assert.deepEqual(await send(deep, "application/json"), {
    status: 400,
    message: "an attribute value is nested deeper than 32 levels",
  });
  assert.equal((await send(nestedKvlistProtobuf(5000), "application/x-protobuf")).status, 400);
  assert.deepEqual(await send(jsonTraces([jsonSpan(0, { name: { toString: 1 } })]), "application/json"), {
    status: 400,
    message: "span.name must be a string, not an object",
  });
  // 2 million empty spans in 4 MB: under the body limit, over the cap on spans per request.
  const many = await send(emptySpansProtobuf(2_000_000), "application/x-protobuf");
  assert.equal(many.status, 413);
  assert.match(many.message, /more than 10000 spans/);
  // 8.4 million (16 MiB): over the body limit, refused at 4 MiB read.
  assert.equal((await send(emptySpansProtobuf(8_400_000), "application/x-protobuf")).status, 413);
  assert.equal(store.spans.length, before);
});

Deno.test("a body that does not arrive within the deadline is a 408", async () => {
  const store = new TelemetryStore();
  const handle = createReceiverHandler(store, { bodyTimeoutMs: 50 });
  const never = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"resourceSpans": ['));
    },
  });
  const response = await handle(
    new Request("http://receiver/v1/traces", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: never,
    }),
  );
  assert.equal(response.status, 408);
  assert.match((await response.json()).message, /did not arrive within 50 ms/);
});

Deno.test("bodies still arriving hold at most maxBufferedBytes together; past it a request is a 503 to retry", async () => {
  const handle = createReceiverHandler(new TelemetryStore(), { maxBufferedBytes: 10 });
  const hanging: ReadableStreamDefaultController<Uint8Array>[] = [];
  const request = (body: BodyInit) =>
    new Request("http://receiver/v1/traces", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
  const open = () =>
    handle(request(new ReadableStream({ start: (controller) => void hanging.push(controller) })));
  const first = open(), second = open();
  hanging[0].enqueue(new TextEncoder().encode("{        "));
  hanging[1].enqueue(new TextEncoder().encode("{        "));
  const busy = await second;
  assert.equal(busy.status, 503);
  assert.equal(busy.headers.get("retry-after"), "1");
  await busy.body?.cancel();
  hanging[0].enqueue(new TextEncoder().encode("}"));
  hanging[0].close();
  assert.equal((await first).status, 200);
  const after = await handle(request("{}"));
  assert.equal(after.status, 200, "the bytes were given back");
  await after.body?.cancel();
});

Deno.test("past maxReadingRequests bodies arriving, a new one takes the place of the oldest, which gets a 408", async () => {
  const handle = createReceiverHandler(new TelemetryStore(), { maxReadingRequests: 2 });
  const hanging: ReadableStreamDefaultController<Uint8Array>[] = [];
  const open = () =>
    handle(
      new Request("http://receiver/v1/traces", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: new ReadableStream({ start: (controller) => void hanging.push(controller) }),
      }),
    );
  const [oldest, second] = [open(), open()];
  const third = open();
  const cut = await oldest;
  assert.equal(cut.status, 408);
  assert.match((await cut.json()).message, /still arriving when 2 newer ones were/);
  for (const controller of hanging.slice(1)) {
    controller.enqueue(new TextEncoder().encode("{}"));
    controller.close();
  }
  assert.deepEqual((await Promise.all([second, third])).map((response) => response.status), [200, 200]);
  await Promise.all([second, third].map(async (response) => (await response).body?.cancel()));
});

/** Sends raw bytes to a port and reads the status line (and closes). */
async function rawStatus(port: number, text: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(text));
  const buffer = new Uint8Array(4096);
  const n = await conn.read(buffer);
  conn.close();
  return Number(new TextDecoder().decode(buffer.subarray(0, n ?? 0)).match(/^HTTP\/1\.1 (\d{3})/)?.[1]);
}

Deno.test("the receiver answers only a loopback Host: a malformed one is a 400, another name a 403", async () => {
  await using receiver = startReceiver({ port: 0 });
  const post = (host: string) =>
    rawStatus(
      receiver.port,
      `POST /v1/traces HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
        "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
  assert.equal(await post("a:1:1"), 400);
  assert.equal(await post("a:1:1\u009b\u202e"), 400);
  assert.equal(await post("evil.example"), 403);
  assert.equal(await post("evil.example:4318"), 403);
  for (const host of ["127.0.0.1", "localhost:4318", "[::1]:1", "LOCALHOST"]) {
    assert.equal(await post(host), 200, host);
  }
  assert.equal(receiver.store.spans.length, 0);
});

Deno.test("onError prints one cleaned line, at most one a second, and answers 500", async () => {
  const lines: string[] = [];
  const onError = reportError("receiver", { print: (line) => lines.push(line), intervalMs: 60_000 });
  const response = onError(new TypeError("Invalid URL: 'http://a\u009b31m\u202e:1:1/'\nsecond line"));
  assert.equal(response.status, 500);
  await response.body?.cancel();
  for (let i = 0; i < 5; i++) await onError(new Error("again")).body?.cancel();
  assert.equal(lines.length, 1);
  assert.equal(
    lines[0],
    "receiver: a request failed: TypeError: Invalid URL: 'http://a<U+009B>31m<U+202E>:1:1/'⏎second line",
  );
});

Deno.test("slow bodies take no slot: with 20 bodies that never end, an export is still a 200", async () => {
  await using receiver = startReceiver({ port: 0, bodyIdleMs: 300 });
  const stalled = await Promise.all(Array.from({ length: 20 }, async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: receiver.port });
    await conn.write(new TextEncoder().encode(
      "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
        "Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n",
    ));
    return conn;
  }));
  const response = await fetch(`${receiver.url}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: jsonTraces(chain(4)),
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(receiver.store.spans.length, 4);
  // The stalled ones are let go once they have sent nothing for bodyIdleMs.
  const statuses = await Promise.all(stalled.map(async (conn) => {
    const buffer = new Uint8Array(4096);
    const n = await conn.read(buffer);
    conn.close();
    return new TextDecoder().decode(buffer.subarray(0, n ?? 0)).slice(9, 12);
  }));
  assert.deepEqual(new Set(statuses), new Set(["408"]));
});

Deno.test("the event bomb: a 4 MiB span of two million events is a 200 that keeps 128 events and says how many it dropped", async () => {
  await using receiver = startReceiver({ port: 0 });
  const response = await fetch(`${receiver.url}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/x-protobuf" },
    body: eventBombProtobuf(2_000_000),
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const [span] = receiver.store.spans;
  assert.equal(span.events.length, 128);
  assert.equal(span.droppedEventsCount, 2_000_000 - 128);
  assert.ok(receiver.store.bytes < 100_000, `${receiver.store.bytes} bytes charged`);
  const json = await fetch(`${receiver.url}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: eventBombJson(1_000_000),
  });
  assert.equal(json.status, 413);
  assert.match((await json.json()).message, /more than 150000 values/);
});

Deno.test("a small declared body, read whole, that stops arriving is a 408 after bodyIdleMs; the bytes it reserved are given back", async () => {
  const body = jsonTraces(chain(4));
  // Room for one such body read whole (an eighth of maxBufferedBytes), not two.
  await using receiver = startReceiver({ port: 0, bodyIdleMs: 200, maxBufferedBytes: 12 * body.length });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: receiver.port });
  await conn.write(new TextEncoder().encode(
    "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
      `Content-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
  ));
  const buffer = new Uint8Array(4096);
  const n = await conn.read(buffer);
  conn.close();
  const answer = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
  assert.match(answer, /^HTTP\/1\.1 408/);
  assert.match(answer, /sent nothing for 200 ms/);
  // Its reservation was given back: bodies of the same size, one after another, are all taken.
  for (let i = 0; i < 3; i++) {
    const response = await fetch(`${receiver.url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
  }
});
