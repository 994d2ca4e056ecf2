import assert from "node:assert/strict";
import { TelemetryStore } from "../otlp/receiver.ts";
import { watchTraces } from "./viewer.ts";
import { replay } from "../otlp/testdata/replay.ts";

Deno.test("the viewer waits for the server's spans before it prints a trace, and reprints late ones", async () => {
  const [trace] = (await replay("json")).traces();
  const store = new TelemetryStore();
  const printed: { spans: number; updated: boolean }[] = [];
  let notify = () => {};
  const stop = watchTraces(store, {
    settleMs: 10,
    waitMs: 60_000,
    onTrace: (trace, updated) => {
      printed.push({ spans: trace.spans.length, updated });
      notify();
    },
  });
  try {
    const next = () => new Promise<void>((resolve) => notify = resolve);
    // The client's two spans come first: its CLIENT span has no child yet, so nothing is printed...
    store.addSpans(trace.spans.filter((span) => span.service === "client"));
    const first = next();
    // ...until the server's spans arrive and the trace settles.
    store.addSpans(trace.spans.filter((span) => span.kind === "SERVER"));
    await first;
    assert.deepEqual(printed, [{ spans: 3, updated: false }]);
    const second = next();
    store.addSpans(trace.spans.filter((span) => span.name === "process-request"));
    await second;
    assert.deepEqual(printed.at(-1), { spans: 4, updated: true });
  } finally {
    stop();
  }
});

Deno.test("deno task viewer says clearly when its port is taken", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const output = await new Deno.Command("deno", {
    args: ["run", "--allow-net=127.0.0.1", "viewer/viewer.ts", "--port", String(taken.addr.port)],
    cwd: new URL("..", import.meta.url),
    stdin: "null",
  }).output();
  assert.equal(output.code, 1);
  assert.match(
    new TextDecoder().decode(output.stderr),
    new RegExp(`^viewer: 127\\.0\\.0\\.1:${taken.addr.port} is already in use\\. Is the Collector from`),
  );
});
