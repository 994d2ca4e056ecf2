// Opt-in (a few minutes): the resident memory of a real `deno task viewer` under floods.
//   VIEWER_MEMORY=1 deno test --allow-run=deno,ps --allow-net=127.0.0.1 --allow-read=. \
//     --allow-env=VIEWER_MEMORY,PATH,HOME,DENO_DIR,XDG_CACHE_HOME tools/otlp/memory_test.ts
// It reports the RSS of the viewer's own process (as `ps` reads it from /proc: Deno reads another process's
// /proc only with --allow-all) after every request, and asserts the largest stays under 400 MiB.
import assert from "node:assert/strict";
import { ROOT, rssMiB, spawn } from "@example/harness/processes";
import { collectOutput } from "@example/harness/output";
import { denoRunOf } from "@example/harness/tasks";
import {
  chain,
  eventBombJson,
  eventBombProtobuf,
  jsonTraces,
  manySpansProtobuf,
  spanId,
} from "./hostile_requests.ts";

const optedIn = Deno.permissions.querySync({ name: "env", variable: "VIEWER_MEMORY" }).state === "granted" &&
  Deno.env.get("VIEWER_MEMORY") === "1";
const MiB = 2 ** 20;

/** Starts the viewer as its task does (the same flags), on free ports; resolves with its URL and pid. */
async function startViewer(extra: string[] = []) {
  const [, ...args] = denoRunOf("viewer").argv;
  const child = spawn("deno", [...args, "--port", "0", "--web-port", "0", ...extra], ROOT, {});
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

/** A running viewer: where it receives, and its process id. */
interface Viewer {
  url: string;
  pid: number;
}

/** The largest RSS seen of each viewer process, sampled after every request. */
const peaks = new Map<number, number>();

async function send(
  viewer: Viewer,
  body: BodyInit,
  type: string,
  signal: "traces" | "logs" | "metrics" = "traces",
): Promise<number> {
  const response = await fetch(`${viewer.url}/v1/${signal}`, {
    method: "POST",
    headers: { "content-type": type },
    body,
  });
  await response.body?.cancel();
  peaks.set(viewer.pid, Math.max(peaks.get(viewer.pid) ?? 0, await rssMiB(viewer.pid)));
  return response.status;
}

/** `count` spans of `perTrace` spans each, as batches of 5,000, from trace number `first` on. */
async function flood(
  viewer: Viewer,
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
    assert.equal(await send(viewer, jsonTraces(spans), "application/json"), 200);
    if (each) await each(sent + batch);
  }
}

for (const maxRecords of [undefined, 10_000_000]) {
  const flags = maxRecords === undefined ? [] : ["--max-records", String(maxRecords)];
  Deno.test({
    name: `memory (opt-in, VIEWER_MEMORY=1): a million spans, then the receiver's abuse cases, ${
      maxRecords === undefined ? "default budget" : "--max-records 10000000"
    }; RSS stays under 400 MiB`,
    ignore: !optedIn,
    sanitizeResources: false,
    async fn() {
      await using viewer = await startViewer(flags);
      const figures: string[] = [];
      await flood(viewer, 1_000_000, 100, 0, async (sent) => {
        if (sent % 200_000 === 0) figures.push(`${sent / 1000}k spans: ${await rssMiB(viewer.pid)}`);
      });
      await flood(viewer, 8000, 8000, 2_000_000); // an 8,000-deep chain
      await flood(viewer, 200_000, 200_000, 3_000_000); // a 200,000-span trace
      await flood(viewer, 400_000, 100, 4_000_000);
      const peak = peaks.get(viewer.pid)!;
      figures.push(`after the abuse cases: ${await rssMiB(viewer.pid)} (largest seen ${peak})`);
      console.log(`viewer ${flags.join(" ") || "(defaults)"}, RSS in MiB: ${figures.join("; ")}`);
      assert.ok(peak < 400, `peak RSS ${peak} MiB`);
    },
  });
}

Deno.test({
  name:
    "memory (opt-in, VIEWER_MEMORY=1): 400,000 spans of 8 links each, to traces held and to traces that " +
    "never arrive; the reverse index of links stays in its caps and RSS under 400 MiB",
  ignore: !optedIn,
  sanitizeResources: false,
  async fn() {
    await using viewer = await startViewer([]);
    const figures: string[] = [];
    const batch = 5000;
    for (let sent = 0; sent < 400_000; sent += batch) {
      const spans = chain(batch).map((span, i) => {
        const trace = Math.floor((sent + i) / 100) + 1;
        const links = Array.from({ length: 8 }, (_, k) => ({
          // Even links point to the trace before (held), odd ones to a trace id no span ever carries.
          traceId: (k % 2 === 0 ? trace - 1 : 0xf000_0000 + (sent + i) * 8 + k).toString(16).padStart(
            32,
            "0",
          ),
          spanId: spanId(k),
        }));
        return { ...span, traceId: trace.toString(16).padStart(32, "0"), links };
      });
      assert.equal(await send(viewer, jsonTraces(spans), "application/json"), 200);
      if ((sent + batch) % 100_000 === 0) {
        figures.push(`${(sent + batch) / 1000}k spans: ${await rssMiB(viewer.pid)}`);
      }
    }
    const peak = peaks.get(viewer.pid)!;
    console.log(`viewer, link flood, RSS in MiB: ${figures.join("; ")} (largest seen ${peak})`);
    assert.ok(peak < 400, `peak RSS ${peak} MiB`);
  },
});

/** 7,000 spans of one resource whose attribute `blob` is 2 MiB, as OTLP/JSON (about 3.5 MiB). */
function sharedResource(): string {
  return JSON.stringify({
    resourceSpans: [{
      resource: { attributes: [{ key: "blob", value: { stringValue: "r".repeat(2 * MiB) } }] },
      scopeSpans: [{ scope: { name: "test" }, spans: chain(7_000) }],
    }],
  });
}

/**
 * Sends small exports one after another until `done` resolves, and returns how long each took, in ms: how
 * long the other requests stall the viewer for a sender of ordinary batches.
 */
async function probe(viewer: Viewer, done: Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  let finished = false;
  done.finally(() => finished = true);
  for (let n = 0; !finished; n++) {
    const started = performance.now();
    const spans = chain(4).map((span) => ({
      ...span,
      traceId: (9_000_000 + n).toString(16).padStart(32, "0"),
    }));
    const response = await fetch(`${viewer.url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: jsonTraces(spans),
    });
    await response.body?.cancel();
    assert.equal(response.status, 200);
    latencies.push(performance.now() - started);
  }
  return latencies.sort((a, b) => a - b);
}

Deno.test({
  name: "memory (opt-in, VIEWER_MEMORY=1): event bombs, 10,000-span requests and a shared 2 MiB resource " +
    "leave RSS under 400 MiB; reports how long a small export waits meanwhile",
  ignore: !optedIn,
  sanitizeResources: false,
  async fn() {
    await using viewer = await startViewer();
    const bomb = eventBombProtobuf(2_000_000), json = eventBombJson(1_390_000);
    const many = manySpansProtobuf(10_000), resource = sharedResource();
    assert.ok([bomb, json, many, resource].every((body) => body.length < 4 * MiB));
    const rss: number[] = [];
    const attack = (async () => {
      for (let i = 0; i < 20; i++) {
        assert.equal(await send(viewer, bomb, "application/x-protobuf"), 200);
        assert.equal(await send(viewer, json, "application/json"), 413);
        assert.equal(await send(viewer, many, "application/x-protobuf"), 200);
        if (i % 4 === 0) assert.equal(await send(viewer, resource, "application/json"), 200);
        if (i % 5 === 4) rss.push(await rssMiB(viewer.pid));
      }
    })();
    const latencies = await probe(viewer, attack);
    await attack;
    const peak = peaks.get(viewer.pid)!;
    const at = (q: number) =>
      Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]);
    console.log(
      `viewer RSS in MiB after each 5 rounds (bomb, JSON bomb, 10,000 spans, every 4th a shared 2 MiB resource): ` +
        `${rss.join(" ")} (largest seen ${peak}); a small export meanwhile (${latencies.length} of them): ` +
        `median ${at(0.5)} ms, p99 ${at(0.99)} ms, longest ${at(1)} ms`,
    );
    assert.ok(peak < 400, `peak RSS ${peak} MiB`);
  },
});

const JSON_TYPE = "application/json";

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

/** OTLP/JSON of `count` log records outside any trace, with bodies of 2,000 characters (1,500 fit in a body). */
function logsBody(count: number): string {
  const time = String(BigInt(Date.now()) * 1_000_000n);
  const logRecords = Array.from({ length: count }, (_, i) => ({
    timeUnixNano: time,
    severityText: "INFO",
    body: { stringValue: `${i} ${"x".repeat(2000)}` },
  }));
  return JSON.stringify({ resourceLogs: [{ resource: {}, scopeLogs: [{ scope: {}, logRecords }] }] });
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
      assert.equal(await send(viewer, metricsBody(sent, 200, 100, "histograms"), JSON_TYPE, "metrics"), 200);
    }
    figures.push(`20k histogram series: ${await rssMiB(viewer.pid)}`);
    // Then a million gauge names from many services, with spans and log records between them.
    for (let sent = 0; sent < 1_000_000; sent += 5000) {
      assert.equal(
        await send(viewer, metricsBody(sent, 5000, 0, `svc ${sent % 7}`), JSON_TYPE, "metrics"),
        200,
      );
      if (sent % 100_000 === 0) {
        await flood(viewer, 50_000, 100, sent);
        assert.equal(await send(viewer, logsBody(1500), JSON_TYPE, "logs"), 200);
        figures.push(`${sent / 1000}k series: ${await rssMiB(viewer.pid)}`);
      }
    }
    const peak = peaks.get(viewer.pid)!;
    figures.push(`at the end: ${await rssMiB(viewer.pid)} (largest seen ${peak})`);
    console.log(`viewer RSS in MiB: ${figures.join("; ")}`);
    assert.ok(peak < 400, `peak RSS ${peak} MiB`);
  },
});

Deno.test({
  name:
    "memory (opt-in, VIEWER_MEMORY=1): 10,000 connections whose bodies lag take no slot from real exports",
  ignore: !optedIn,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using viewer = await startViewer();
    const port = Number(new URL(viewer.url).port);
    const body = jsonTraces(chain(4));
    const head = "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const encoder = new TextEncoder();
    const lagging: Deno.Conn[] = [];
    for (let i = 0; i < 10_000; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(encoder.encode(head + body.slice(0, 10)));
      lagging.push(conn);
    }
    const statuses: number[] = [];
    for (let n = 0; n < 20; n++) {
      const spans = chain(4).map((span) => ({
        ...span,
        traceId: (7_000_000 + n).toString(16).padStart(32, "0"),
      }));
      statuses.push(await send(viewer, jsonTraces(spans), "application/json"));
    }
    // The lagging ones finish (those silent for more than 2 s already got a 408).
    const answers = await Promise.all(lagging.map(async (conn) => {
      try {
        await conn.write(encoder.encode(body.slice(10)));
        const buffer = new Uint8Array(1024);
        const n = await conn.read(buffer);
        return new TextDecoder().decode(buffer.subarray(0, n ?? 0)).slice(9, 12);
      } catch {
        return "closed";
      } finally {
        conn.close();
      }
    }));
    const counts = new Map<string, number>();
    for (const answer of answers) counts.set(answer, (counts.get(answer) ?? 0) + 1);
    console.log(
      `real exports: ${
        statuses.filter((status) => status === 200).length
      } of 20 got 200; the 10,000 lagging: ${
        [...counts].map(([answer, count]) => `${count} ${answer}`).join(", ")
      }; largest RSS seen ${peaks.get(viewer.pid)} MiB`,
    );
    assert.deepEqual(statuses, Array(20).fill(200));
    assert.equal(counts.get("503"), undefined, "no lagging body was refused for want of a slot");
    assert.ok(peaks.get(viewer.pid)! < 400, `peak RSS ${peaks.get(viewer.pid)} MiB`);
  },
});
