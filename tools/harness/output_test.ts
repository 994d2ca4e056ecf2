import assert from "node:assert/strict";
import { collectOutput } from "./output.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(chunks.map((chunk) => encoder.encode(chunk)));
}

Deno.test("collectOutput finds a line split over chunks, and one seen before it was asked for", async () => {
  const output = collectOutput(streamOf("starting\nServer listen", "ing on http://127.0.0.1:1234/\nmore\n"));
  const port = (line: string) => line.match(/^Server listening on http:\/\/[^:]+:(\d+)\/$/)?.[1];
  assert.equal(await output.line(port), "1234");
  assert.equal(await output.text, "starting\nServer listening on http://127.0.0.1:1234/\nmore\n");
  assert.equal(await output.line(port), "1234", "asked again after the end");
  assert.equal(await output.line((line) => line === "never" ? line : undefined), undefined);
});

Deno.test("collectOutput keeps only the tail of a long output", async () => {
  const output = collectOutput(streamOf("a".repeat(100), "\n", "b".repeat(100), "\nend"), 50);
  const text = await output.text;
  assert.equal(text.length, 50);
  assert.ok(text.endsWith("b\nend"));
  assert.equal(await output.line((line) => line === "end" ? line : undefined), "end");
  assert.equal(await output.line((line) => line.startsWith("a") ? line : undefined), undefined, "cut away");
});
