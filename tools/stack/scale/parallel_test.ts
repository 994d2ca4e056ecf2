// `deno serve --parallel` with two workers: traces still join (one trace per call, the caller's), and Deno's
// HTTP metrics are aggregated for the whole process: one series per route with the count of every worker's
// requests, not one cumulative counter per worker under the same resource (which Prometheus could not add
// up). If a Deno release starts exporting per worker, this test fails and the README's statement with it.
import assert from "node:assert/strict";
import { startParallelServer } from "./parallel.ts";

interface Captured {
  traces: unknown[];
  metrics: unknown[];
}

function startCapture(): { url: string; captured: Captured; server: Deno.HttpServer } {
  const captured: Captured = { traces: [], metrics: [] };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/v1/traces") captured.traces.push(await request.json());
    else if (path === "/v1/metrics") captured.metrics.push(await request.json());
    else await request.body?.cancel();
    return Response.json({});
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, captured, server };
}

// deno-lint-ignore no-explicit-any
type Json = any;

function requestCounts(body: Json): number[] {
  return body.resourceMetrics.flatMap((rm: Json) =>
    rm.scopeMetrics.flatMap((sm: Json) =>
      sm.metrics.filter((m: Json) => m.name === "http.server.request.duration")
        .flatMap((m: Json) => m.histogram.dataPoints.map((p: Json) => Number(p.count)))
    )
  );
}

// Deno 2.7.12 (the oldest supported release) exported no span at all from `deno serve --parallel` here; the
// statement is about the pinned release (.ci/deno-version), so older ones skip it.
const [major, minor] = Deno.version.deno.split(".").map(Number);
const ignore = major < 2 || (major === 2 && minor < 9);

Deno.test({
  name: "deno serve --parallel: traces join and the workers' HTTP metrics add up in one series",
  ignore,
}, async () => {
  const capture = startCapture();
  const server = await startParallelServer({
    workers: 2,
    workMs: 0,
    otlpEndpoint: capture.url,
    env: { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_METRIC_EXPORT_INTERVAL: "60000" },
  });
  const calls = 200;
  const traceIds = new Set<string>();
  try {
    // Eight loops, a new connection per request, so that both workers take requests.
    await Promise.all(Array.from({ length: 8 }, async (_, loop) => {
      for (let i = 0; i < calls / 8; i++) {
        using client = Deno.createHttpClient({});
        const traceId = crypto.randomUUID().replaceAll("-", "");
        traceIds.add(traceId);
        const traceparent = `00-${traceId}-${(loop + 1).toString(16).padStart(16, "0")}-01`;
        const res = await fetch(server.url, {
          client,
          headers: { traceparent },
          signal: AbortSignal.timeout(10_000),
        });
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
    }));
  } finally {
    await server.stop(); // exports the spans and the last metrics
    await capture.server.shutdown();
  }
  const spans: Json[] = capture.captured.traces.flatMap((b: Json) =>
    b.resourceSpans.flatMap((rs: Json) => rs.scopeSpans.flatMap((ss: Json) => ss.spans))
  );
  const seen = new Set(spans.map((s) => s.traceId));
  assert.equal(spans.length, calls * 2, "a SERVER span and the handler's span per call");
  assert.deepEqual([...seen].sort(), [...traceIds].sort(), "every span continues its caller's trace");
  const last = capture.captured.metrics.at(-1);
  assert.ok(last, "no metrics exported");
  assert.deepEqual(requestCounts(last), [calls], "one series holding every worker's requests");
});
