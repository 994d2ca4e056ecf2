// The receiver with its default store, behind one more route, GET /__memory, which answers the store's size
// and Deno.memoryUsage() after a garbage collection (run with --v8-flags=--expose-gc): for the opt-in memory
// test of otlp/receiver_test.ts. Prints its URL, then serves until killed.
import { createReceiverHandler, TelemetryStore } from "../receiver.ts";

const store = new TelemetryStore();
const receive = createReceiverHandler(store);
const gc = (globalThis as { gc?: () => void }).gc;
Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`http://127.0.0.1:${port}`),
}, (request) => {
  if (new URL(request.url).pathname !== "/__memory") return receive(request);
  gc?.();
  return Response.json({ ...Deno.memoryUsage(), spans: store.spans.length, dropped: store.dropped });
});
