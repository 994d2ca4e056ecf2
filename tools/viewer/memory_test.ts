// Opt-in (under a minute): the resident memory of a real `deno task viewer` whose web API is asked for
// answers that JSON escaping makes large, by clients that never read them (issue 26, item 2).
//   VIEWER_MEMORY=1 deno test --allow-run=deno,ps --allow-net=127.0.0.1 --allow-read=. \
//     --allow-env=VIEWER_MEMORY,PATH,HOME,DENO_DIR,XDG_CACHE_HOME tools/viewer/memory_test.ts
// It reports the RSS of the viewer's own process (read by `ps`, as otlp/memory_test.ts does), sampled every
// 50 ms, and asserts the largest stays under 400 MiB.
import assert from "node:assert/strict";
import { rssMiB } from "@example/harness/processes";
import { startViewer } from "./_viewer_process.ts";
import { escapedLogBodiesProtobuf } from "@example/otlp/hostile_requests";

const optedIn = Deno.permissions.querySync({ name: "env", variable: "VIEWER_MEMORY" }).state === "granted" &&
  Deno.env.get("VIEWER_MEMORY") === "1";

/** Samples the RSS of `pid` every 50 ms until stopped; `peak` is the largest seen. */
function sampleRss(pid: number) {
  let peak = 0, running = true;
  const done = (async () => {
    while (running) {
      peak = Math.max(peak, await rssMiB(pid));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    get peak() {
      return peak;
    },
    async stop() {
      running = false;
      await done;
      return peak;
    },
  };
}

/** Opens a connection, sends `GET path` and never reads the answer. */
async function stalledClient(web: URL, path: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: web.hostname, port: Number(web.port) });
  await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: ${web.host}\r\n\r\n`));
  return conn;
}

Deno.test({
  name:
    "memory (opt-in, VIEWER_MEMORY=1): 112 log records that JSON escapes six-fold, asked for by clients " +
    "that read and by 16 that never do; every answer bounded, RSS under 400 MiB",
  ignore: !optedIn,
  sanitizeResources: false,
  async fn() {
    await using viewer = await startViewer();
    const rss = sampleRss(viewer.pid);
    const figures: string[] = [];
    for (let i = 0; i < 16; i++) {
      const response = await fetch(`${viewer.url}/v1/logs`, {
        method: "POST",
        headers: { "content-type": "application/x-protobuf" },
        body: escapedLogBodiesProtobuf(7),
      });
      assert.equal(response.status, 200, await response.text());
    }
    figures.push(`112 records held: ${await rssMiB(viewer.pid)}`);

    // One client that reads: the answer is bounded and says what it left out.
    const read = await fetch(new URL("/api/logs?limit=1000", viewer.web));
    const text = await read.text();
    figures.push(`one answer read (${(text.length / 2 ** 20).toFixed(1)} Mi characters): peak ${rss.peak}`);

    // Sixteen that never read, then one that does: it is answered (or refused) once they all were.
    const stalled = await Promise.all(
      Array.from({ length: 16 }, () => stalledClient(viewer.web, "/api/logs?limit=1000")),
    );
    const probe = await fetch(new URL("/api/logs?limit=1", viewer.web));
    await probe.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 1000)); // RSS settles over a few samples
    figures.push(`16 clients not reading: ${await rssMiB(viewer.pid)}, probe answered ${probe.status}`);

    // A search that matches nothing reads every body; the receiver still answers an export meanwhile.
    const search = fetch(new URL("/api/logs?q=nothing-matches-this", viewer.web)).then((r) => r.json());
    const exported = await fetch(`${viewer.url}/v1/logs`, {
      method: "POST",
      headers: { "content-type": "application/x-protobuf" },
      body: escapedLogBodiesProtobuf(1, 1, 10),
    });
    await exported.body?.cancel();
    const answer = await search;
    figures.push(`a search of every body matched ${answer.matched}`);

    // What each stalled client was answered: the first bytes of its status line.
    const statuses = await Promise.all(stalled.map(async (conn) => {
      const head = new Uint8Array(12);
      await conn.read(head);
      conn.close();
      return new TextDecoder().decode(head).slice(9, 12);
    }));
    const counted = Object.entries(Object.groupBy(statuses, (status) => status))
      .map(([status, list]) => `${list!.length} × ${status}`).join(", ");
    figures.push(`the stalled clients were answered ${counted}`);
    const peak = await rss.stop();
    console.log(`viewer (defaults), RSS in MiB: ${figures.join("; ")}; largest seen ${peak}`);
    assert.equal(read.status, 200);
    assert.ok(text.length <= 16 * 2 ** 20, `an answer of ${text.length} characters`);
    assert.match(text, /"truncated":\{"logs":\d+,"reason":"an answer holds at most/);
    assert.ok(peak < 400, `peak RSS ${peak} MiB`);
  },
});
