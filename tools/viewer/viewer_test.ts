import assert from "node:assert/strict";
import { TelemetryStore } from "@example/otlp/receiver";
import { watchTraces } from "./viewer.ts";
import { ROOT, runClient, runDeno, spawn, startServer } from "@example/harness/processes";
import { collectOutput } from "@example/harness/output";
import { replay } from "@example/otlp/recorded";
import { decodeTraces } from "@example/otlp/decode";
import {
  chain,
  ESCAPES,
  hasControls,
  jsonSpan,
  jsonTraces,
  spanId,
  TRACE_ID,
} from "@example/otlp/hostile_requests";
import { denoRunOf, permissionFlags } from "@example/harness/tasks";

/** The permissions of `deno task viewer`, from deno.json. */
const VIEWER_PERMISSIONS = permissionFlags(denoRunOf("viewer"));

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

Deno.test("a trace that accept refuses is not drawn, and is not 'updated' when it is drawn later", async () => {
  const [trace] = (await replay("json")).traces();
  const store = new TelemetryStore();
  const offered: number[] = [];
  const drawn: { spans: number; updated: boolean }[] = [];
  let notify = () => {};
  const stop = watchTraces(store, {
    settleMs: 10,
    waitMs: 60_000,
    // Refuses the first offer (a terminal under a flood), accepts the next.
    accept: (facts) => {
      notify();
      return offered.push(facts.spans) > 1;
    },
    onTrace: (trace, updated) => {
      drawn.push({ spans: trace.spans.length, updated });
      notify();
    },
  });
  try {
    const [first, ...rest] = trace.spans.toSorted((a, b) =>
      a.kind === "SERVER" ? -1 : b.kind === "SERVER" ? 1 : 0
    );
    const refused = new Promise<void>((resolve) => notify = resolve);
    store.addSpans([first]);
    await refused;
    assert.deepEqual(drawn, []);
    const next = new Promise<void>((resolve) => notify = resolve);
    store.addSpans(rest);
    await next;
    assert.deepEqual(offered, [1, trace.spans.length]);
    assert.deepEqual(drawn, [{ spans: trace.spans.length, updated: false }]);
  } finally {
    stop();
  }
});

Deno.test("deno task viewer says clearly when its port is taken", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const output = await runDeno("tools/viewer/viewer.ts", {
    permissions: VIEWER_PERMISSIONS,
    args: ["--port", String(taken.addr.port)],
  });
  assert.equal(output.code, 1);
  assert.match(
    output.stderr,
    new RegExp(`^viewer: 127\\.0\\.0\\.1:${taken.addr.port} is already in use\\. Is the Collector from`),
  );
});

Deno.test("a trace that cannot be drawn is reported, and the viewer goes on with the next", async () => {
  const [trace] = (await replay("json")).traces();
  const store = new TelemetryStore();
  const drawn: string[] = [];
  const failed: string[] = [];
  let notify = () => {};
  const stop = watchTraces(store, {
    settleMs: 1,
    waitMs: 60_000,
    onTrace: (trace) => {
      if (trace.spans[0].name === "boom") throw new RangeError("Maximum call stack size exceeded");
      drawn.push(trace.traceId);
      notify();
    },
    onError: (trace, error) => failed.push(`${trace.traceId}: ${(error as Error).message}`),
  });
  try {
    const boom = decodeTraces(jsonTraces([jsonSpan(0, { name: "boom" })]), "json").accepted;
    const next = new Promise<void>((resolve) => notify = resolve);
    store.addSpans(boom);
    store.addSpans(trace.spans);
    await next;
    assert.deepEqual(failed, [`${TRACE_ID}: Maximum call stack size exceeded`]);
    assert.deepEqual(drawn, [trace.traceId]);
  } finally {
    stop();
  }
});

/**
 * `deno task viewer` as a child process, on free ports, with its permissions. `read` reads its stdout until
 * `pattern` matches what it printed; not calling it leaves stdout unread, as a stopped terminal does.
 */
function startViewer(args: string[]) {
  const child = spawn(
    "deno",
    ["run", ...VIEWER_PERMISSIONS, "tools/viewer/viewer.ts", "--port", "0", "--web-port", "0", ...args],
    ROOT,
    {},
  );
  const stderr = new Response(child.stderr).text();
  const chunks = child.stdout.pipeThrough(new TextDecoderStream())[Symbol.asyncIterator]();
  let stdout = "";
  let pending: Promise<IteratorResult<string>> | undefined;
  const read = async (pattern: RegExp, signal = AbortSignal.timeout(20_000)) => {
    const aborted = new Promise<"aborted">((resolve) =>
      signal.addEventListener("abort", () => resolve("aborted"))
    );
    while (!pattern.test(stdout)) {
      // A chunk asked for and not yet given is kept for the next read.
      pending ??= chunks.next();
      const result = await Promise.race([pending, aborted]);
      if (result === "aborted") throw new Error(`${pattern} never printed: ${stdout.slice(-2000)}`);
      pending = undefined;
      if (result.done) throw new Error(`${pattern} never printed; stdout: ${stdout.slice(-2000)}`);
      stdout += result.value;
    }
    return stdout.match(pattern)!;
  };
  return {
    child,
    read,
    stdout: () => stdout,
    /** The receiver's and the web page's base URLs, from what the viewer printed first. */
    async urls() {
      const [, receiver] = await read(
        /receiving OTLP\/HTTP \(JSON or protobuf\) on (http:\/\/127\.0\.0\.1:\d+);/,
      );
      const [, web] = await read(/^Viewer: the traces in a browser: (http:\/\/127\.0\.0\.1:\d+\/)$/m);
      return { receiver, web };
    },
    /** Stops the viewer with Ctrl-C; resolves with its exit code and its stderr. */
    async stop() {
      child.kill("SIGINT");
      // A viewer stuck in a write never runs its Ctrl-C handler: it is killed after a while.
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const { code } = await child.status;
      clearTimeout(timer);
      await chunks.return?.();
      return { code, stderr: await stderr };
    },
  };
}

/** Sends `request` as raw bytes to `port` and gives the status of the answer. */
async function rawStatus(port: number, request: Uint8Array): Promise<number> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(request);
  const answer = await new Response(conn.readable).text();
  return Number(answer.match(/^HTTP\/1\.1 (\d{3})/)?.[1]);
}

Deno.test("a Host no URL can hold gets 400 from the web page, and nothing of it reaches the terminal", async () => {
  const viewer = startViewer([]);
  let stopped;
  try {
    const { web } = await viewer.urls();
    const port = Number(new URL(web).port);
    // U+009B (CSI) and U+202E (bidi override) as the bytes 0x9b and 0x202e's UTF-8, after "a:1:1".
    const head = new TextEncoder().encode("GET /api/traces HTTP/1.1\r\nHost: a:1:1");
    const tail = new TextEncoder().encode("31m\u202e\r\nConnection: close\r\n\r\n");
    const request = new Uint8Array([...head, 0x9b, ...tail]);
    for (let i = 0; i < 100; i++) assert.equal(await rawStatus(port, request), 400);
  } finally {
    stopped = await viewer.stop();
  }
  assert.equal(stopped.code, 0);
  assert.equal(stopped.stderr, "", "a refused request prints nothing");
  assert.ok(!hasControls(viewer.stdout()));
});

Deno.test("a terminal that stops reading stops neither the receiver nor the web page; it is told what it missed", async () => {
  // --flood-at=0: every trace is drawn, however fast they come.
  const viewer = startViewer(["--settle-ms", "10", "--wait-ms", "50", "--flood-at", "0"]);
  let stopped;
  try {
    const { receiver, web } = await viewer.urls();
    // From here stdout is not read. 60 traces of 500 spans draw about 3 MB: far more than the pipe and the
    // viewer's queue hold.
    for (let n = 0; n < 60; n++) {
      const traceId = n.toString(16).padStart(32, "a");
      const spans = Array.from(
        { length: 500 },
        (_, i) => jsonSpan(i, i === 0 ? { traceId } : { traceId, parentSpanId: spanId(0) }),
      );
      const response = await fetch(`${receiver}/v1/traces`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: jsonTraces(spans),
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(response.status, 200, `export ${n}`);
      await response.body?.cancel();
    }
    const list = await (await fetch(`${web}api/traces?limit=1`, { signal: AbortSignal.timeout(10_000) }))
      .json();
    assert.equal(list.total, 60);
    await viewer.read(/^\(\d+ lines not shown here: the terminal did not keep up\)$/m);
  } finally {
    stopped = await viewer.stop();
  }
  assert.equal(stopped.code, 0, stopped.stderr);
});

Deno.test("deno task viewer outlives hostile traces, prints no control sequence, says what its budget dropped", async () => {
  const child = spawn(
    "deno",
    [
      "run",
      ...VIEWER_PERMISSIONS,
      "tools/viewer/viewer.ts",
      ...["--port", "0", "--settle-ms", "10", "--wait-ms", "100", "--max-records", "9000"],
    ],
    ROOT,
    {},
  );
  let stdout = "";
  const lines = child.stdout.pipeThrough(new TextDecoderStream())[Symbol.asyncIterator]();
  const waitFor = async (pattern: RegExp) => {
    const deadline = AbortSignal.timeout(20_000);
    while (!pattern.test(stdout)) {
      if (deadline.aborted) throw new Error(`${pattern} never printed; stdout: ${stdout}`);
      const { value, done } = await lines.next();
      if (done) throw new Error(`the viewer exited; stdout: ${stdout}`);
      stdout += value;
    }
    return stdout.match(pattern)!;
  };
  try {
    const [, url] = await waitFor(
      /receiving OTLP\/HTTP \(JSON or protobuf\) on (http:\/\/127\.0\.0\.1:\d+);/,
    );
    const post = async (body: string) => {
      const response = await fetch(`${url}/v1/traces`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      await response.body?.cancel();
      return response.status;
    };
    // One trace of 8,000 spans, each the child of the one before (1.9 MB).
    assert.equal(await post(jsonTraces(chain(8000))), 200);
    await waitFor(/… 7960 spans deeper than 40 levels not drawn/);
    const escapes = jsonTraces([jsonSpan(0, { traceId: "1".repeat(32), name: ESCAPES })], `svc ${ESCAPES}`);
    assert.equal(await post(escapes), 200);
    await waitFor(/^Trace 1{32} {2}1 spans, 1 services \(svc <U\+001B>\]0;pwned/m);
    // 1,500 more spans: past the budget of 9,000, the chain (the oldest trace) is dropped, and it says so.
    const later = chain(1500).map((span) => ({ ...span, traceId: "2".repeat(32) }));
    assert.equal(await post(jsonTraces(later)), 200);
    await waitFor(
      /^\(dropped so far to keep the latest 9000 spans and log records: 1 oldest traces, 8000 spans/m,
    );
    assert.ok(!hasControls(stdout), "no control character from a sender reached the terminal");
    child.kill("SIGINT");
    // Read to the last line before awaiting the exit: what a child wrote is read while it runs.
    await waitFor(/Viewer: holds 1501 spans and 0 log records\. \(dropped so far/);
    const { code } = await child.status;
    assert.equal(code, 0);
  } finally {
    try {
      child.kill();
    } catch {
      // already exited
    }
    await child.stderr.cancel();
    await lines.return?.();
  }
});

Deno.test("deno task viewer --summary-every=1 prints the server's request rate, errors and p95 each second", async () => {
  const child = spawn(
    "deno",
    ["run", ...VIEWER_PERMISSIONS, "tools/viewer/viewer.ts", "--port=0", "--web-port=0", "--summary-every=1"],
    ROOT,
    {},
  );
  const stdout = collectOutput(child.stdout);
  const stderr = collectOutput(child.stderr);
  try {
    const url = await stdout.line((line) => line.match(/receiving OTLP\/HTTP .* on (http:\/\/\S+?);/)?.[1]);
    assert.ok(url, "the viewer said where it listens");
    // Before any metric: a line that says so.
    assert.ok(await stdout.line((line) => line.match(/^\[metrics\] no HTTP metrics yet/)?.[0]));
    {
      await using server = await startServer({
        otlpEndpoint: url,
        env: { OTEL_METRIC_EXPORT_INTERVAL: "1000" },
      });
      await runClient(server.url, { otlpEndpoint: url });
      const line = await stdout.line((line) =>
        /^\[metrics\] server +([\d.]+) req\/s {2}errors 0\.00\/s \(0\.0%\) {2}p95 [\d.]+ m?s$/.exec(line) ??
          undefined
      );
      assert.ok(line, "a summary line of the server");
      assert.ok(Number(line[1]) > 0, line[0]);
    }
  } finally {
    child.kill("SIGINT");
    await child.status;
    await stderr.text;
  }
});

Deno.test("under a flood the terminal prints one line a second instead of each trace, and draws each again once they slow down", async () => {
  const viewer = startViewer(["--settle-ms", "10", "--wait-ms", "100"]);
  let stopped;
  try {
    const { receiver } = await viewer.urls();
    const post = async (traceIds: string[]) => {
      const spans = traceIds.flatMap((traceId) => [
        jsonSpan(0, { traceId }),
        jsonSpan(1, { traceId, parentSpanId: spanId(0), status: { code: 2 } }),
      ]);
      const response = await fetch(`${receiver}/v1/traces`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: jsonTraces(spans),
      });
      assert.equal(response.status, 200);
      await response.body?.cancel();
    };
    // 200 traces at once: far past 5 a second.
    await post(Array.from({ length: 200 }, (_, n) => (n + 1).toString(16).padStart(32, "c")));
    await viewer.read(/^\(more than 5 traces a second: one line a second instead of each trace/m);
    const [line] = await viewer.read(
      /^\[flood\] [\d,]+ traces\/s, [\d,]+ spans\/s, \d+ spans with errors; slowest c{0,31}[0-9a-f]+ [\d.]+ µs$/m,
    );
    assert.match(line, /, [1-9]\d* spans with errors/, line);
    const drawn = (viewer.stdout().match(/^Trace c+[0-9a-f]+ /gm) ?? []).length;
    assert.ok(drawn <= 5, `at most 5 of the 200 traces drawn, not ${drawn}`);
    // A quiet second ends the flood; a trace that comes alone is drawn again.
    await viewer.read(/^\(traces slowed down: each is drawn again\)$/m);
    await post(["d".repeat(32)]);
    await viewer.read(/^Trace d{32} {2}2 spans/m);
  } finally {
    stopped = await viewer.stop();
  }
  assert.equal(stopped.code, 0, stopped.stderr);
});
