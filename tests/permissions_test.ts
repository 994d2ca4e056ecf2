// Least privilege: the permission flags of every task in deno.json, the programs under exactly their tasks'
// flags, and what Deno's propagation sends to every host the client calls (and how to keep secrets out).
import assert from "node:assert/strict";
import { startReceiver } from "@example/otlp/receiver";
import {
  denoRunOf,
  parseTask,
  permissionFlags,
  readWorkspaceTasks,
  type TaskCommand,
} from "@example/harness/tasks";
import { closedPort, ROOT, runDeno, spawn } from "@example/harness/processes";

/**
 * The permission flags of every `deno` command of every task, in order. A change of permissions must be a
 * deliberate change of this table too.
 */
const EXPECTED: Record<string, string[][]> = {
  "server": [[
    "--allow-net=127.0.0.1",
    "--allow-env=HOST,PORT,SIMULATED_WORK_MS",
  ]],
  "client": [[
    "--allow-net=localhost,127.0.0.1",
    "--allow-env=SERVER_URL,REQUEST_TIMEOUT_MS,MAX_RESPONSE_BYTES,GRAFANA_URL",
  ]],
  "doctor": [[
    "--allow-env=OTEL_EXPORTER_OTLP_ENDPOINT,OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,OTEL_EXPORTER_OTLP_PROTOCOL,OTEL_TRACES_SAMPLER_ARG,OTEL_PROPAGATORS",
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
    "--allow-write=/tmp/deno-example-copy",
    "--allow-env=LOG_TOKENS,LOG_STREAM,PATH,HOME,DENO_DIR,XDG_CACHE_HOME",
  ]],
  "check": [[], [], [], []],
  "tools/bench/bench": [[
    "--allow-net=127.0.0.1",
    "--allow-run=deno,git,node/node_modules/.bin/node,wrk,.bin/vegeta",
    "--allow-read=node/package-lock.json",
    "--allow-write=results",
    "--allow-env=PATH,HOME,DENO_DIR,XDG_CACHE_HOME",
  ]],
  "tools/bench/instructions": [[
    "--allow-net=127.0.0.1",
    "--allow-run=deno,valgrind,callgrind_control",
    "--allow-read=.callgrind",
    "--allow-write=.callgrind",
    "--allow-env=PATH,HOME,DENO_DIR,XDG_CACHE_HOME",
  ]],
  "tools/bench/smoke": [[], []],
  "tools/bench/receiver": [[
    "--allow-net=127.0.0.1",
    "--allow-run=deno,git,node/node_modules/.bin/node,.bin/telemetrygen,.bin/jaeger,wrk",
    "--allow-read=node/package-lock.json",
    "--allow-write=results/receiver,.exports",
    "--allow-env=PATH,HOME,DENO_DIR,XDG_CACHE_HOME",
  ]],
  "tools/bench/install": [],
  "demo": [[
    "--allow-run=deno",
    "--allow-net=127.0.0.1",
    "--allow-read=tools/viewer/web",
    "--allow-env=PATH,HOME,DENO_DIR,XDG_CACHE_HOME",
  ]],
  "viewer": [["--allow-net=127.0.0.1", "--allow-read=tools/viewer/web"]],
  "jobs": [[
    "--allow-net=127.0.0.1",
    "--allow-env=JOBS_HOST,JOBS_PORT,OTEL_*",
    "--allow-read=jobs/worker.ts",
    "--allow-run=deno",
  ]],
  "demo:jobs": [[
    "--allow-run=deno",
    "--allow-net=127.0.0.1",
    "--allow-read=tools/viewer/web",
    "--allow-env=PATH,HOME,DENO_DIR,XDG_CACHE_HOME",
  ]],
  "shop": [["--allow-run=deno", "--allow-env=FAULTS,SHOP_PORT,TMPDIR"]],
  "shop:load": [["--allow-net=127.0.0.1,localhost", "--allow-env=SHOP_URL"]],
  "demo:shop": [[
    "--allow-run=deno",
    "--allow-net=127.0.0.1",
    "--allow-read=tools/viewer/web",
    "--allow-env=PATH,HOME,DENO_DIR,XDG_CACHE_HOME",
  ]],
  "tools/bench/shop": [[
    "--allow-run=deno",
    "--allow-net=127.0.0.1",
    "--allow-env=PATH,HOME,DENO_DIR,XDG_CACHE_HOME",
  ]],
  "tools/bench/jobs": [[
    "--allow-run=deno",
    "--allow-net=127.0.0.1",
    "--allow-env=PATH,HOME,DENO_DIR,XDG_CACHE_HOME",
  ]],
  "tools/otlp/generate": [],
};

const LOOPBACK = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/;

function denoCommands(line: string): TaskCommand[] {
  return parseTask(line).filter(({ argv }) => argv[0] === "deno");
}

Deno.test("every task: no -A, every permission scoped, the network only on loopback, as the table says", () => {
  const tasks = readWorkspaceTasks();
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

/** What a finished `deno task` (or `deno run`) child printed, without `deno task`'s own "Task …" line. */
interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno <args>` from the repository root hermetically (`spawn`), to its end. */
async function deno(args: string[], env: Record<string, string>): Promise<Finished> {
  const output = await spawn("deno", args, ROOT, env).output();
  const text = (bytes: Uint8Array) =>
    new TextDecoder().decode(bytes).split("\n").filter((line) => !line.startsWith("Task ")).join("\n");
  return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr) };
}

/** Starts `deno <args>` (a server) and resolves once it prints that it listens; `stop()` sends SIGTERM. */
async function startDeno(args: string[], env: Record<string, string>) {
  const child = spawn("deno", args, ROOT, env);
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  const { promise: listening, resolve } = Promise.withResolvers<string | undefined>();
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      stdout += chunk;
      const url = stdout.match(/^Server listening on (\S+)$/m)?.[1];
      if (url !== undefined) resolve(url);
    }
    resolve(undefined);
  })();
  const stop = async (): Promise<Finished> => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    const { code } = await child.status;
    await reading;
    return { code, stdout, stderr: await stderr };
  };
  const url = await listening;
  if (url === undefined) {
    assert.fail(`deno ${args.join(" ")} did not listen:\n${JSON.stringify(await stop())}`);
  }
  return { url, stop };
}

const telemetry = (endpoint: string) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
  OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
});

Deno.test("PORT and SERVER_URL move the tasks to another port; a user's OTEL_* win over the tasks' defaults; the first trace shows within about a second", async () => {
  await using receiver = startReceiver({ port: 0 });
  const port = closedPort(); // stands for the README's 8001 (a user picks a port, so the test does too)
  // The README's advice, as written: PORT=8001 deno task server, SERVER_URL=http://localhost:8001/ deno task client.
  const server = await startDeno(["task", "server"], {
    PORT: String(port),
    OTEL_SERVICE_NAME: "my-server",
    ...telemetry(receiver.url),
  });
  let exit;
  try {
    assert.equal(server.url, `http://127.0.0.1:${port}/`);
    const client = await deno(["task", "client"], {
      SERVER_URL: `http://localhost:${port}/`,
      ...telemetry(receiver.url),
    });
    const done = performance.now();
    assert.equal(client.code, 0, client.stderr);
    assert.equal(client.stderr, "", "no notice, no warning");
    const traceId = client.stdout.match(/^trace id: ([0-9a-f]{32})$/m)![1];
    // The server still runs: only its batch delay (the task's default, 500 ms) brings its spans.
    const { spans } = await receiver.store.waitForTrace(traceId, {
      spans: 4,
      signal: AbortSignal.timeout(15_000),
    });
    console.log(
      `first trace after the server started, with the tasks' defaults: complete ${
        (performance.now() - done).toFixed(0)
      } ms after the client ended`,
    );
    // The user's service name won over the server task's; the client task's default applies.
    assert.deepEqual(spans.map((span) => span.service).sort(), [
      "client",
      "client",
      "my-server",
      "my-server",
    ]);
  } finally {
    exit = await server.stop();
  }
  assert.equal(exit.code, 0, exit.stderr);
  assert.equal(exit.stdout.split("\n").filter((line) => line === "Server: shutting down").length, 1);
});

Deno.test("the tasks set no variable in front of the command: their OpenTelemetry values are defaults in an env file", () => {
  for (const name of ["server", "client"]) {
    const command = denoRunOf(name);
    assert.deepEqual(command.env, {}, `task ${name} overrides the user's variables`);
    assert.ok(
      command.argv.includes(`--env-file=config/${name}.env`),
      `task ${name}: ${command.argv.join(" ")}`,
    );
  }
});

Deno.test("under exactly its task's flags, the server listens only on 127.0.0.1 and the client calls only loopback; telemetry still leaves", async () => {
  await using receiver = startReceiver({ port: 0 });
  const port = closedPort();
  const server = await deno(["task", "server"], {
    HOST: "0.0.0.0",
    PORT: String(port),
    ...telemetry(receiver.url),
  });
  assert.equal(server.code, 2);
  assert.equal(
    server.stderr,
    `Server: cannot listen on 0.0.0.0:${port}: Requires net access to "0.0.0.0:${port}", run again with the ` +
      "--allow-net flag\n",
  );
  // The client may not call another address, yet its spans reach the receiver: the runtime exports them,
  // outside the permission system.
  const url = `http://127.0.0.2:${port}/`;
  const client = await deno(["task", "client"], { SERVER_URL: url, ...telemetry(receiver.url) });
  assert.equal(client.code, 1);
  assert.equal(
    client.stderr,
    `Client: cannot reach ${url}: Requires net access to "127.0.0.2:${port}", run again with the --allow-net flag\n`,
  );
  const traceId = client.stdout.match(/^trace id: ([0-9a-f]{32})$/m)![1];
  const { spans } = await receiver.store.waitForTrace(traceId, {
    spans: 1,
    signal: AbortSignal.timeout(15_000),
  });
  assert.equal(spans.find((span) => span.name === "call-api")?.status.code, "ERROR");
});

const TUTORIAL = { OTEL_DENO: "true" };

Deno.test("the plain tutorial commands: with --allow-env, PORT and SERVER_URL work; without, each program says in one line that it uses its defaults", async () => {
  await using receiver = startReceiver({ port: 0 });
  const port = closedPort();
  // PORT=8001 OTEL_DENO=true OTEL_SERVICE_NAME=server deno run --allow-net --allow-env server.ts
  const server = await startDeno(["run", "--allow-net", "--allow-env", "server.ts"], {
    ...TUTORIAL,
    OTEL_SERVICE_NAME: "server",
    PORT: String(port),
    ...telemetry(receiver.url),
  });
  let exit;
  try {
    const client = await deno(["run", "--allow-net", "--allow-env", "client.ts"], {
      ...TUTORIAL,
      OTEL_SERVICE_NAME: "client",
      SERVER_URL: `http://localhost:${port}/`,
      ...telemetry(receiver.url),
    });
    assert.equal(client.code, 0, client.stderr);
    assert.equal(client.stderr, "");
  } finally {
    exit = await server.stop();
  }
  assert.equal(exit.code, 0, exit.stderr);
  // Without --allow-env, PORT and SERVER_URL cannot be read: not in silence. (The client then calls the
  // default, localhost:8000, whatever answers there; the server is kept from listening on 8000 here.)
  const client = await deno(["run", "--allow-net", "client.ts"], {
    ...TUTORIAL,
    SERVER_URL: `http://localhost:${port}/`,
  });
  assert.equal(
    client.stderr.split("\n")[0],
    "Client: no --allow-env=SERVER_URL,REQUEST_TIMEOUT_MS,MAX_RESPONSE_BYTES,GRAFANA_URL: using the defaults",
  );
  const notListening = await deno(["run", "--allow-net=127.0.0.1:9", "server.ts"], { PORT: String(port) });
  assert.equal(notListening.code, 2);
  assert.equal(
    notListening.stderr,
    "Server: no --allow-env=HOST,PORT,SIMULATED_WORK_MS: using the defaults\n" +
      'Server: cannot listen on 127.0.0.1:8000: Requires net access to "127.0.0.1:8000", run again with the ' +
      "--allow-net flag\n",
  );
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
