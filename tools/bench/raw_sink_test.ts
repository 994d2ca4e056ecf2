import assert from "node:assert/strict";
import { DEFAULT_MAX_BODY_BYTES } from "@example/otlp/receiver";
import { jsonSpan, jsonTraces } from "@example/otlp/hostile_requests";
import { CountingStore } from "./counting_store.ts";
import { startRawSink } from "./raw_sink.ts";

async function gzip(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([text]).stream().pipeThrough(
    new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function post(url: string, body: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  const response = await fetch(`${url}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  await response.body?.cancel();
  return response;
}

Deno.test("the raw sink stores plain and gzip'd exports and drains them through the receiver", async () => {
  await using sink = startRawSink();
  assert.equal((await post(sink.url, jsonTraces([jsonSpan(0), jsonSpan(1)], "plain"))).status, 200);
  const gzipped = await gzip(jsonTraces([jsonSpan(2)], "gzipped"));
  assert.equal((await post(sink.url, gzipped, { "content-encoding": "gzip" })).status, 200);
  const store = new CountingStore();
  const totals = await sink.drain(store);
  assert.deepEqual({ ...totals, bytes: 0 }, { requests: 2, bytes: 0, overflowed: 0, rejected: 0 });
  assert.deepEqual(store.received("plain"), { spans: 2, logs: 0 });
  assert.deepEqual(store.received("gzipped"), { spans: 1, logs: 0 });
});

Deno.test("the raw sink answers a body past the receiver's limit with 413, counts it, and keeps the rest", async () => {
  await using sink = startRawSink();
  assert.equal((await post(sink.url, jsonTraces([jsonSpan(0)], "kept"))).status, 200);
  const huge = await post(sink.url, new Uint8Array(DEFAULT_MAX_BODY_BYTES + 1).fill(0x20));
  assert.equal(huge.status, 413);
  const store = new CountingStore();
  const totals = await sink.drain(store);
  assert.equal(totals.requests, 1);
  assert.equal(totals.overflowed, 1);
  assert.deepEqual(store.received("kept"), { spans: 1, logs: 0 });
});
