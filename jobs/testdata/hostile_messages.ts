/**
 * Puts messages with a malformed, missing, foreign or valid `traceparent` straight into a KV queue consumed
 * by `jobs/queue.ts`, and exits once each was handled. The consumer is registered inside a span of its own
 * (`startup`), as a service often does: a message without a valid context must not join that trace.
 *
 * Prints `handled <id>` per message and `startup <trace id>`. Run with `--unstable-kv` and a valid
 * `traceparent` as its argument.
 *
 * @module
 */
import { trace } from "@opentelemetry/api";
import { createQueue, type Message } from "../queue.ts";

const CASES: Record<string, unknown> = {
  malformed: { traceparent: "00-not-a-trace-01" },
  "all-zero": { traceparent: "00-00000000000000000000000000000000-0000000000000000-01" },
  "not-a-string": { traceparent: 42 },
  "not-an-object": "traceparent",
  missing: undefined,
  foreign: { b3: "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1" },
  valid: { traceparent: Deno.args[0] }, // the control, which the consumer continues
};

const kv = await Deno.openKv(":memory:");
const expected = Object.keys(CASES).length + 2; // and one batched notification, one garbage value
const handled = Promise.withResolvers<void>();
let count = 0;
const handle = (message: Message) => {
  console.log(`handled ${message.id}`);
  if (++count === expected) handled.resolve();
};
trace.getTracer("test").startActiveSpan("startup", (span) => {
  console.log(`startup ${span.spanContext().traceId}`);
  createQueue(kv, { jobs: handle, notifications: handle, garbage: handle }, { batchMs: 10 });
  span.end();
});
for (const [id, carrier] of Object.entries(CASES)) {
  await kv.enqueue({ id, destination: "jobs", failAttempts: 0, carrier });
}
await kv.enqueue({ id: "batched", destination: "notifications", carrier: { traceparent: "garbage" } });
await kv.enqueue("not a message at all");
await kv.enqueue({ id: "proto", destination: "constructor", carrier: {} }); // no handler of that name
await kv.enqueue({ id: "garbage", destination: "garbage", carrier: null });
await handled.promise;
kv.close();
