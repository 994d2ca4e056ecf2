// Least privilege: the permission flags of every task in deno.json, the programs under exactly their tasks'
// flags, and what Deno's propagation sends to every host the client calls (and how to keep secrets out).
import assert from "node:assert/strict";
import { startReceiver } from "../otlp/receiver.ts";
import {
  denoRunOf,
  parseTask,
  permissionFlags,
  readTasks,
  scriptOf,
  type TaskCommand,
} from "../harness/tasks.ts";
import { childEnv, closedPort, ROOT, runDeno } from "../harness/processes.ts";

/**
 * The permission flags of every `deno` command of every task, in order. A change of permissions must be a
 * deliberate change of this table too.
 */
const EXPECTED: Record<string, string[][]> = {
  "server": [[
    "--allow-net=127.0.0.1:8000",
    "--allow-env=HOST,PORT,SIMULATED_WORK_MS,OTEL_EXPORTER_OTLP_ENDPOINT,OTEL_PROPAGATORS",
  ]],
  "client": [[
    "--allow-net=localhost:8000",
    "--allow-env=SERVER_URL,REQUEST_TIMEOUT_MS,GRAFANA_URL,OTEL_EXPORTER_OTLP_ENDPOINT,OTEL_PROPAGATORS",
  ]],
  "test:stack": [[
    "--allow-run=deno",
    "--allow-net=127.0.0.1",
    "--allow-env=TEMPO_URL,LOKI_URL,PROMETHEUS_URL,OTELCOL_HEALTH_URL,GRAFANA_URL,STACK_CHECK_TIMEOUT_S,OTEL_EXPORTER_OTLP_ENDPOINT," +
    "PATH,HOME,DENO_DIR,XDG_CACHE_HOME",
  ]],
  "test": [[
    "--allow-run=deno,/usr/bin/chromium",
    "--allow-net=127.0.0.1",
    "--allow-read=.",
    "--allow-env=LOG_TOKENS,LOG_STREAM,PATH,HOME,DENO_DIR,XDG_CACHE_HOME",
  ]],
  "check": [[], [], [], []],
  "bench": [[
    "--allow-net=127.0.0.1",
    "--allow-run=deno,node,bench/.bin/vegeta",
    "--allow-read=bench/node/package-lock.json",
    "--allow-write=bench/results",
    "--allow-env=PATH,HOME,DENO_DIR,XDG_CACHE_HOME",
  ]],
  "bench:smoke": [[]],
  "bench:install": [],
  "demo": [["--allow-run=deno", "--allow-net=127.0.0.1", "--allow-env=PATH,HOME,DENO_DIR,XDG_CACHE_HOME"]],
  "viewer": [["--allow-net=127.0.0.1"]],
  "otlp:generate": [],
};

const LOOPBACK = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/;

function denoCommands(line: string): TaskCommand[] {
  return parseTask(line).filter(({ argv }) => argv[0] === "deno");
}

Deno.test("every task: no -A, every permission scoped, the network only on loopback, as the table says", () => {
  const tasks = readTasks();
  assert.deepEqual(
    Object.keys(tasks).sort(),
    Object.keys(EXPECTED).sort(),
    "a task without an entry in EXPECTED",
  );
  for (const [name, line] of Object.entries(tasks)) {
    const words = parseTask(line).flatMap(({ argv }) => argv);
    assert.ok(!words.some((word) => word === "-A" || word === "--allow-all"), `${name}: ${line}`);
    for (const command of denoCommands(line)) {
      for (const flag of permissionFlags(command)) {
        // A bare --allow-x grants everything of its kind.
        assert.match(flag, /^--(allow|deny)-[a-z]+=\S+$/, `${name}: unscoped ${flag}`);
        const [kind, list] = flag.split("=");
        if (kind === "--allow-net") {
          for (const host of list.split(",")) assert.match(host, LOOPBACK, `${name}: ${flag}`);
        }
        if (kind === "--allow-write" || kind === "--allow-read") {
          for (const path of list.split(",")) {
            assert.ok(path !== "/" && !path.startsWith(".."), `${name}: ${flag}`);
          }
        }
        assert.ok(!["--allow-ffi", "--allow-sys", "--allow-import"].includes(kind), `${name}: ${flag}`);
      }
    }
    assert.deepEqual(
      denoCommands(line).map(permissionFlags),
      EXPECTED[name],
      `the permissions of task ${name}`,
    );
  }
});

/** Runs `deno run <the task's flags> <script>` with the task's variables, plus `env`. */
async function runAsTask(task: string, env: Record<string, string>) {
  const command = denoRunOf(task);
  return await runDeno(scriptOf(command), {
    permissions: permissionFlags(command),
    env: { ...command.env, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", ...env },
  });
}

Deno.test("under exactly its task's flags, the server may listen only on 127.0.0.1:8000 and the client call only localhost:8000; telemetry still leaves", async () => {
  await using receiver = startReceiver({ port: 0 });
  const port = closedPort();
  const server = await runAsTask("server", { PORT: String(port), OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
  assert.equal(server.code, 2);
  assert.equal(
    server.stderr,
    `Server: Requires net access to "127.0.0.1:${port}", run again with the --allow-net flag\n`,
  );
  // The client may not call the receiver's address itself, yet its spans reach it: the runtime exports them,
  // outside the permission system.
  const url = `${receiver.url}/`;
  const client = await runAsTask("client", { SERVER_URL: url, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
  assert.equal(client.code, 1);
  assert.equal(
    client.stderr,
    `Client: cannot reach ${url}: Requires net access to "${
      new URL(url).host
    }", run again with the --allow-net flag\n`,
  );
  const traceId = client.stdout.match(/^trace id: ([0-9a-f]{32})$/m)![1];
  const { spans } = await receiver.store.waitForTrace(traceId, {
    spans: 1,
    signal: AbortSignal.timeout(15_000),
  });
  assert.equal(spans.find((span) => span.name === "call-api")?.status.code, "ERROR");
});

function port8000IsFree(): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port: 8000 }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return false;
    throw error;
  }
}

const free = port8000IsFree();
Deno.test({
  name: free
    ? "deno task server and deno task client, as they are: one trace of four spans, a clean stop"
    : "deno task server and deno task client: SKIPPED, port 8000 is taken (the tasks listen and call there)",
  ignore: !free,
  async fn() {
    await using receiver = startReceiver({ port: 0 });
    const env = childEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: "200",
      OTEL_BLRP_SCHEDULE_DELAY: "200",
    });
    const server = new Deno.Command("deno", {
      args: ["task", "server"],
      cwd: ROOT,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(server.stderr).text();
    // Read to the end, so that the server never writes into a closed pipe.
    let stdout = "";
    const { promise: listening, resolve } = Promise.withResolvers<boolean>();
    const reading = (async () => {
      for await (const chunk of server.stdout.pipeThrough(new TextDecoderStream())) {
        stdout += chunk;
        if (stdout.includes("Server listening on http://127.0.0.1:8000/")) resolve(true);
      }
      resolve(false);
    })();
    let exit;
    try {
      if (!await listening) assert.fail(`deno task server did not listen:\n${stdout}${await stderr}`);
      const client = await new Deno.Command("deno", {
        args: ["task", "client"],
        cwd: ROOT,
        env,
        clearEnv: true,
        stdin: "null",
      })
        .output();
      const out = new TextDecoder().decode(client.stdout);
      assert.equal(client.code, 0, new TextDecoder().decode(client.stderr));
      const traceId = out.match(/^trace id: ([0-9a-f]{32})$/m)![1];
      const { spans } = await receiver.store.waitForTrace(traceId, {
        spans: 4,
        signal: AbortSignal.timeout(15_000),
      });
      assert.deepEqual(spans.map((span) => span.service).sort(), ["client", "client", "server", "server"]);
    } finally {
      server.kill("SIGTERM");
      exit = await server.status;
      await reading;
    }
    assert.equal(exit.code, 0, await stderr);
  },
});

Deno.test("propagation: Deno sends traceparent and baggage to every host the client calls; how to keep secrets out", async () => {
  await using receiver = startReceiver({ port: 0 });
  // Stands for a third-party host: it records what it was sent.
  const seen = new Map<string, { traceparent: string | null; baggage: string | null }>();
  const thirdParty = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    seen.set(new URL(request.url).search.slice(1), {
      traceparent: request.headers.get("traceparent"),
      baggage: request.headers.get("baggage"),
    });
    return new Response("ok");
  });
  const run = async (propagators?: string) => {
    seen.clear();
    const output = await runDeno("tests/testdata/baggage_demo.ts", {
      permissions: ["--allow-net=127.0.0.1"],
      args: [`http://127.0.0.1:${thirdParty.addr.port}/`],
      env: {
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        ...(propagators === undefined ? {} : { OTEL_PROPAGATORS: propagators }),
      },
    });
    assert.equal(output.code, 0, output.stderr);
    const traceId = output.stdout.match(/^trace id: ([0-9a-f]{32})$/m)![1];
    return { traceId, seen: Object.fromEntries(seen) };
  };
  try {
    // Deno's default (tracecontext,baggage): everything in the baggage goes to everyone.
    const byDefault = await run();
    const ours = (header: string | null) => header?.split("-")[1] === byDefault.traceId;
    assert.ok(ours(byDefault.seen.default.traceparent));
    assert.equal(byDefault.seen.default.baggage, "user.id=42,session.token=s3cr3t");
    // Remedies in code: no baggage for outside hosts, or only allow-listed entries, or not even the trace.
    assert.equal(byDefault.seen["without-baggage"].baggage, null);
    assert.ok(ours(byDefault.seen["without-baggage"].traceparent));
    assert.equal(byDefault.seen["allow-listed"].baggage, "user.id=42");
    assert.equal(byDefault.seen["fresh-trace"].baggage, null);
    assert.ok(!ours(byDefault.seen["fresh-trace"].traceparent), "an unrelated trace id");
    // A traceparent set by hand is not replaced: Deno appends its own, and the receiver sees two.
    assert.match(
      byDefault.seen["own-header"].traceparent!,
      /^00-1{32}-2{16}-01, 00-[0-9a-f]{32}-[0-9a-f]{16}-01$/,
    );

    // Remedies in configuration: no baggage propagation at all, or no propagation at all.
    const traceOnly = await run("tracecontext");
    assert.ok(Object.values(traceOnly.seen).every((headers) => headers.baggage === null));
    assert.ok(traceOnly.seen.default.traceparent?.includes(traceOnly.traceId));
    const nothing = await run("none");
    assert.ok(Object.values(nothing.seen).every((headers) => headers.baggage === null));
    assert.deepEqual(
      Object.values(nothing.seen).map((headers) => headers.traceparent).filter((value) => value !== null),
      ["00-11111111111111111111111111111111-2222222222222222-01"],
      "only the header set by hand",
    );
  } finally {
    await thirdParty.shutdown();
  }
});
