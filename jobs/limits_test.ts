// Opt-in (about 20 s: a 10 s drain deadline, a burst of subprocesses, a descriptor limit):
//   JOBS_LIMITS=1 deno test --allow-run=deno,prlimit,bash --allow-net=127.0.0.1 --allow-read=. \
//     --allow-write=/tmp/deno-example-copy --allow-env=JOBS_LIMITS,PATH,HOME,DENO_DIR,XDG_CACHE_HOME jobs/limits_test.ts
// CI runs it. The jobs service under load and abuse: its subprocesses are bounded, its stop has a deadline,
// it survives running out of file descriptors, and its worker and subprocess get only what they need.
import assert from "node:assert/strict";
import { startReceiver } from "@example/otlp/receiver";
import { ROOT, spawn } from "@example/harness/processes";
import { jobsFlags, startJobsServer } from "@example/harness/jobs_server";

const optedIn = Deno.permissions.querySync({ name: "env", variable: "JOBS_LIMITS" }).state === "granted" &&
  Deno.env.get("JOBS_LIMITS") === "1";

/**
 * Watches process `pid` from a shell (Deno asks for every permission to read `/proc/<pid>`): each sample is
 * how many children it has, and the variable names of one of them (the first, when there is one).
 */
function watchChildren(pid: number) {
  const script = 'while :; do set -- $(cat /proc/$0/task/*/children 2>/dev/null); names=""; ' +
    '[ $# -gt 0 ] && names=$(tr "\\0" "\\n" < /proc/$1/environ 2>/dev/null | cut -d= -f1 | tr "\\n" ,); ' +
    'echo "$# $names"; sleep 0.005; done';
  const child = spawn("bash", ["-c", script, String(pid)], ROOT, {});
  const samples = new Response(child.stdout).text();
  child.stderr.cancel();
  return {
    async stop(): Promise<{ most: number; environs: string[][] }> {
      child.kill();
      await child.status;
      let most = 0;
      const environs: string[][] = [];
      for (const line of (await samples).split("\n").filter((line) => line !== "")) {
        const [count, names = ""] = line.split(" ");
        most = Math.max(most, Number(count));
        if (names !== "") environs.push(names.split(",").filter((name) => name !== ""));
      }
      return { most, environs };
    },
  };
}

Deno.test({
  name: "jobs (opt-in, JOBS_LIMITS=1): 32 concurrent requests run at most 4 subprocesses; the rest wait " +
    "(in a span) or get 503 with Retry-After; each subprocess gets only its OpenTelemetry variables",
  ignore: !optedIn,
  async fn() {
    await using receiver = startReceiver({ port: 0 });
    await using server = await startJobsServer({
      otlpEndpoint: receiver.url,
      env: { JOBS_PLANTED_SECRET: "s3cr3t" }, // the service's own; no child should see it
    });
    const watcher = watchChildren(server.pid);
    const answers = await Promise.all(Array.from({ length: 32 }, async () => {
      const response = await fetch(`http://127.0.0.1:${server.port}/jobs`);
      await response.body?.cancel();
      return { status: response.status, retryAfter: response.headers.get("retry-after") };
    }));
    const { most, environs } = await watcher.stop();
    const statuses = answers.map(({ status }) => status);
    console.log(`most children at once: ${most}; answers: ${JSON.stringify(count(statuses))}`);
    assert.ok(most >= 1 && most <= 4, `${most} children at once`);
    assert.ok(statuses.every((status) => status === 200 || status === 503), String(statuses));
    assert.ok(statuses.filter((status) => status === 200).length >= 4 + 1, "some waited and were served");
    const refused = answers.filter(({ status }) => status === 503);
    assert.ok(refused.length > 0, "none refused");
    assert.ok(refused.every(({ retryAfter }) => retryAfter === "1"));
    // A request that waited has a span saying so, in its own trace.
    await receiver.store.waitFor((store) => store.spans.some((span) => span.name === "wait for a slot"), {
      signal: AbortSignal.timeout(10_000),
    });
    assert.ok(environs.length > 0, "no subprocess seen");
    const allowed = /^(OTEL_[A-Z_]+|TRACEPARENT|TRACESTATE)$/;
    for (const names of environs) assert.deepEqual(names.filter((name) => !allowed.test(name)), []);
  },
});

function count(values: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

Deno.test({
  name: "jobs (opt-in, JOBS_LIMITS=1): a request whose body never ends does not hold the stop: exit 1 " +
    "after the 10 s deadline",
  ignore: !optedIn,
  async fn() {
    await using receiver = startReceiver({ port: 0 });
    const server = await startJobsServer({ otlpEndpoint: receiver.url });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    // A POST with a body of 100 bytes of which 1 is sent; the handler does not read it, so the answer
    // comes, but the connection stays open.
    await conn.write(new TextEncoder().encode(
      `POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nx`,
    ));
    await conn.read(new Uint8Array(4096)); // the answer's first bytes: the request is in flight
    const exit = await server.stop("SIGTERM", { killAfterMs: 30_000 });
    conn.close();
    assert.equal(exit.killed, false, "still running 30 s after SIGTERM");
    // Deno 2.9.6 keeps the connection open and the deadline ends it; 2.7.12 closes it and exits at once.
    if (exit.code === 1) assert.match(exit.stderr, /Server: requests or work still open after 10000 ms/);
    else assert.equal(exit.code, 0, exit.stderr);
  },
});

Deno.test({
  name: "jobs (opt-in, JOBS_LIMITS=1): out of file descriptors (ulimit -n 256), it says so in one line " +
    "and serves again once they are free",
  ignore: !optedIn,
  async fn() {
    const process = spawn(
      "prlimit",
      ["--nofile=256:256", "deno", "run", ...jobsFlags(), "jobs/server.ts"],
      ROOT,
      { OTEL_DENO: "false", JOBS_HOST: "127.0.0.1", JOBS_PORT: "0" },
    );
    const stderr = new Response(process.stderr).text();
    const port = await listeningPort(process, stderr);
    const outcome = await exhaustAndRecover(port);
    try {
      process.kill("SIGTERM");
    } catch { /* it has ended: the asserts below say how */ }
    const status = await process.status;
    const text = await stderr;
    assert.ok(outcome.recovered, `not served again after the descriptors were freed: ${text}`);
    assert.equal(status.code, 0, text);
    assert.match(text, /^Server: cannot accept connections \(.*Too many open files.*\); retrying/m);
    console.log(`${outcome.opened} idle connections held; ${outcome.attempts} tries until served again`);
  },
});

/**
 * Opens idle connections until the server stops accepting (its descriptors are gone), closes them, then asks
 * `GET /jobs` up to 50 times, 100 ms apart, until it is answered.
 */
export async function exhaustAndRecover(
  port: number,
  { path = "/jobs", max = 400 } = {},
): Promise<{ opened: number; recovered: boolean; attempts: number }> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < max; i++) {
    try {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    } catch {
      break; // refused: the listener is gone
    }
  }
  // Give the server time to accept (and fail to accept) what is pending.
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const conn of conns) conn.close();
  for (let attempts = 1; attempts <= 50; attempts++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.ok) return { opened: conns.length, recovered: true, attempts };
    } catch { /* not yet */ }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { opened: conns.length, recovered: false, attempts: 50 };
}

/** Stands in for jobs/worker.ts: answers with a bit for each thing it may do (run deno, read, env, net). */
const PROBE_WORKER = `
const tries = [
  () => new Deno.Command("deno", { args: ["--version"] }).outputSync(),
  () => Deno.readTextFileSync("jobs/server.ts"),
  () => Deno.env.get("PATH"),
  () => Deno.listen({ hostname: "127.0.0.1", port: 0 }).close(),
];
self.onmessage = ({ data }) => {
  let digest = 0;
  for (const [bit, attempt] of tries.entries()) {
    try {
      attempt();
      digest |= 1 << bit;
    } catch { /* refused */ }
  }
  self.postMessage({ id: data.id, digest });
};
`;

Deno.test({
  name: "jobs (opt-in, JOBS_LIMITS=1): the Web Worker may not run deno, read, see the environment or listen",
  ignore: !optedIn,
  async fn() {
    // The service as it is, in a copy whose jobs/worker.ts is the probe above.
    const copy = new URL("file:///tmp/deno-example-copy/jobs-worker/");
    await Deno.mkdir(new URL("jobs/", copy), { recursive: true });
    for (const name of ["server.ts", "queue.ts", "limits.ts", "subprocess.ts", "deno.json"]) {
      await Deno.copyFile(new URL(`jobs/${name}`, ROOT), new URL(`jobs/${name}`, copy));
    }
    await Deno.writeTextFile(new URL("jobs/worker.ts", copy), PROBE_WORKER);
    const process = spawn(
      "deno",
      ["run", ...jobsFlags(), "jobs/server.ts"],
      copy,
      { OTEL_DENO: "false", JOBS_HOST: "127.0.0.1", JOBS_PORT: "0" },
    );
    const stderr = new Response(process.stderr).text();
    try {
      const port = await listeningPort(process, stderr);
      const response = await fetch(`http://127.0.0.1:${port}/jobs`);
      const answer = await response.text();
      assert.equal(response.status, 200, answer);
      // Bits: 1 run deno, 2 read a file, 4 read PATH, 8 listen. Inheriting the service's permissions: 9.
      assert.equal(JSON.parse(answer).digest, 0, answer);
    } finally {
      process.kill("SIGTERM");
      await process.status;
    }
  },
});

/** The port a `jobs/server.ts` child prints once it listens; its output is read to the end meanwhile. */
async function listeningPort(process: Deno.ChildProcess, stderr: Promise<string>): Promise<number> {
  const chunks = process.stdout.pipeThrough(new TextDecoderStream())[Symbol.asyncIterator]();
  let out = "";
  for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
    out += next.value;
    const port = out.match(/listening on http:\/\/[^:]+:(\d+)\//)?.[1];
    if (port) {
      (async () => { // keep reading: a closed stdout would fail the service's next line
        while (!(await chunks.next()).done);
      })();
      return Number(port);
    }
  }
  throw new Error(`jobs/server.ts ended before listening: ${out}${await stderr}`);
}
