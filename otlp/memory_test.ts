// Opt-in (a few minutes): the resident memory of a real `deno task viewer` under floods.
//   VIEWER_MEMORY=1 deno test --allow-run=deno --allow-net=127.0.0.1 --allow-read=.,/proc \
//     --allow-env=VIEWER_MEMORY,PATH,HOME,DENO_DIR,XDG_CACHE_HOME otlp/memory_test.ts
// It reports VmRSS (and the peak, VmHWM) of the viewer's own process, from /proc, and asserts the peak stays
// under 400 MiB.
import assert from "node:assert/strict";
import { ROOT, spawn } from "@example/harness/processes";
import { collectOutput } from "@example/harness/output";
import { denoRunOf } from "@example/harness/tasks";
import { chain, eventBombJson, eventBombProtobuf, jsonTraces } from "./testdata/hostile.ts";

const optedIn = Deno.permissions.querySync({ name: "env", variable: "VIEWER_MEMORY" }).state === "granted" &&
  Deno.env.get("VIEWER_MEMORY") === "1";
const MiB = 2 ** 20;

/** VmRSS and VmHWM of a process, in MiB. */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (name: string) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))?.[1]);
  return { rss: Math.round(kib("VmRSS") / 1024), peak: Math.round(kib("VmHWM") / 1024) };
}

/** Starts the viewer as its task does (the same flags), on free ports; resolves with its URL and pid. */
async function startViewer() {
  const [, ...args] = denoRunOf("viewer").argv;
  const child = spawn("deno", [...args, "--port", "0", "--web-port", "0"], ROOT, {});
  const stdout = collectOutput(child.stdout);
  const stderr = collectOutput(child.stderr);
  const url = await stdout.line((line) => line.match(/receiving OTLP\/HTTP .* on (http:\/\/\S+?);/)?.[1]);
  assert.ok(url, "the viewer said where it listens");
  return {
    url,
    pid: child.pid,
    async [Symbol.asyncDispose]() {
      child.kill();
      await child.status;
      await Promise.all([stdout.text, stderr.text]);
    },
  };
}

async function send(url: string, body: BodyInit, type: string): Promise<number> {
  const response = await fetch(`${url}/v1/traces`, {
    method: "POST",
    headers: { "content-type": type },
    body,
  });
  await response.body?.cancel();
  return response.status;
}

/** `count` spans of `perTrace` spans each, as batches of 5,000, from trace number `first` on. */
async function flood(
  url: string,
  count: number,
  perTrace: number,
  first: number,
  each?: (sent: number) => Promise<void>,
) {
  const batch = 5000;
  for (let sent = 0; sent < count; sent += batch) {
    const spans = chain(batch).map((span, i) => ({
      ...span,
      traceId: (first + Math.floor((sent + i) / perTrace) + 1).toString(16).padStart(32, "0"),
      attributes: [{ key: "http.route", value: { stringValue: "/" } }],
    }));
    assert.equal(await send(url, jsonTraces(spans), "application/json"), 200);
    if (each) await each(sent + batch);
  }
}

Deno.test({
  name:
    "memory (opt-in, VIEWER_MEMORY=1): a million spans, then the receiver's abuse cases; RSS stays under 400 MiB",
  ignore: !optedIn,
  sanitizeResources: false,
  async fn() {
    await using viewer = await startViewer();
    const figures: string[] = [];
    await flood(viewer.url, 1_000_000, 100, 0, async (sent) => {
      if (sent % 200_000 === 0) figures.push(`${sent / 1000}k spans: ${(await memoryOf(viewer.pid)).rss}`);
    });
    await flood(viewer.url, 8000, 8000, 2_000_000); // an 8,000-deep chain
    await flood(viewer.url, 200_000, 200_000, 3_000_000); // a 200,000-span trace
    await flood(viewer.url, 400_000, 100, 4_000_000);
    const { rss, peak } = await memoryOf(viewer.pid);
    figures.push(`after the abuse cases: ${rss} (peak ${peak})`);
    console.log(`viewer RSS in MiB: ${figures.join("; ")}`);
    assert.ok(peak < 400, `peak RSS ${peak} MiB`);
  },
});

Deno.test({
  name:
    "memory (opt-in, VIEWER_MEMORY=1): 40 event bombs (4 MiB, two million events each) leave RSS under 400 MiB",
  ignore: !optedIn,
  sanitizeResources: false,
  async fn() {
    await using viewer = await startViewer();
    const bomb = eventBombProtobuf(2_000_000), json = eventBombJson(1_390_000);
    assert.ok(bomb.length < 4 * MiB && json.length < 4 * MiB);
    const rss: number[] = [];
    for (let i = 0; i < 20; i++) {
      assert.equal(await send(viewer.url, bomb, "application/x-protobuf"), 200);
      assert.equal(await send(viewer.url, json, "application/json"), 413);
      if (i % 5 === 4) rss.push((await memoryOf(viewer.pid)).rss);
    }
    const { peak } = await memoryOf(viewer.pid);
    console.log(`viewer RSS in MiB after each 5 pairs of bombs: ${rss.join(" ")} (peak ${peak})`);
    assert.ok(peak < 400, `peak RSS ${peak} MiB`);
  },
});

/** OTLP/JSON of `count` metrics named from `first` on, each a histogram of `buckets` buckets or a gauge. */
function metricsBody(first: number, count: number, buckets: number, service: string): string {
  const time = String(BigInt(Date.now()) * 1_000_000n);
  // Histograms carry labels as long as the decoder keeps (4,096); gauges short ones, to fit 5,000 in a body.
  const label = [{ key: "label", value: { stringValue: "v".repeat(buckets === 0 ? 100 : 4096) } }];
  const metrics = Array.from({ length: count }, (_, i) => {
    const name = `flood.${first + i}`;
    if (buckets === 0) {
      return { name, gauge: { dataPoints: [{ timeUnixNano: time, asDouble: i, attributes: label }] } };
    }
    const point = {
      timeUnixNano: time,
      startTimeUnixNano: "1",
      count: String(buckets),
      bucketCounts: new Array(buckets).fill("1"),
      explicitBounds: Array.from({ length: buckets - 1 }, (_, b) => b),
      attributes: label,
    };
    return { name, histogram: { aggregationTemporality: 2, dataPoints: [point] } };
  });
  const resource = { attributes: [{ key: "service.name", value: { stringValue: service } }] };
  return JSON.stringify({
    resourceMetrics: [{ resource, scopeMetrics: [{ scope: { name: "flood" }, metrics }] }],
  });
}

/** OTLP/JSON of `count` log records outside any trace, with bodies of 2,000 characters. */
function logsBody(count: number): string {
  const time = String(BigInt(Date.now()) * 1_000_000n);
  const logRecords = Array.from({ length: count }, (_, i) => ({
    timeUnixNano: time,
    severityText: "INFO",
    body: { stringValue: `${i} ${"x".repeat(2000)}` },
  }));
  return JSON.stringify({ resourceLogs: [{ resource: {}, scopeLogs: [{ scope: {}, logRecords }] }] });
}

async function post(url: string, signal: "metrics" | "logs", body: string): Promise<number> {
  const response = await fetch(`${url}/v1/${signal}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  await response.body?.cancel();
  return response.status;
}

Deno.test({
  name:
    "memory (opt-in, VIEWER_MEMORY=1): a million metric series with every signal arriving; RSS stays under 400 MiB",
  ignore: !optedIn,
  sanitizeResources: false,
  async fn() {
    await using viewer = await startViewer();
    const figures: string[] = [];
    // The worst case for bytes first: series of 100-bucket histograms until the caps refuse them.
    for (let sent = 0; sent < 20_000; sent += 200) {
      assert.equal(await post(viewer.url, "metrics", metricsBody(sent, 200, 100, "histograms")), 200);
    }
    figures.push(`20k histogram series: ${(await memoryOf(viewer.pid)).rss}`);
    // Then a million gauge names from many services, with spans and log records between them.
    for (let sent = 0; sent < 1_000_000; sent += 5000) {
      assert.equal(await post(viewer.url, "metrics", metricsBody(sent, 5000, 0, `svc ${sent % 7}`)), 200);
      if (sent % 100_000 === 0) {
        await flood(viewer.url, 50_000, 100, sent);
        assert.equal(await post(viewer.url, "logs", logsBody(5000)), 200);
        figures.push(`${sent / 1000}k series: ${(await memoryOf(viewer.pid)).rss}`);
      }
    }
    const { rss, peak } = await memoryOf(viewer.pid);
    figures.push(`at the end: ${rss} (peak ${peak})`);
    console.log(`viewer RSS in MiB: ${figures.join("; ")}`);
    assert.ok(peak < 400, `peak RSS ${peak} MiB`);
  },
});
