import assert from "node:assert/strict";
import {
  type ChildEnv,
  childEnv,
  clientEnv,
  clientPermissions,
  PASSED_THROUGH,
  ROOT,
  runDeno,
  serverEnv,
  serverPermissions,
  spawn,
  startServer,
} from "./processes.ts";
import { denoRunOf, permissionFlags, scriptOf, type TaskCommand } from "./tasks.ts";

/** The variables an `--allow-env=…` flag grants, or `undefined` when the flags grant none by list. */
function allowedEnv(flags: string[]): string[] | undefined {
  return flags.find((flag) => flag.startsWith("--allow-env="))?.slice("--allow-env=".length).split(",");
}

const withoutNet = (flags: string[]) => flags.filter((flag) => !flag.startsWith("--allow-net"));

Deno.test("the harness runs the server and the client with their tasks' permissions and variables", () => {
  const serverTask = denoRunOf("server");
  const clientTask = denoRunOf("client");
  // The same flags as the tasks, but the network: any port for the server (PORT=0), the server's address for
  // the client.
  assert.deepEqual(withoutNet(serverPermissions()), withoutNet(permissionFlags(serverTask)));
  assert.deepEqual(
    withoutNet(clientPermissions("http://127.0.0.1:4321/")),
    withoutNet(permissionFlags(clientTask)),
  );
  assert.deepEqual(clientPermissions("http://127.0.0.1:4321/").filter((f) => f.startsWith("--allow-net")), [
    "--allow-net=127.0.0.1:4321",
  ]);
  const taskHosts = permissionFlags(serverTask).find((flag) => flag.startsWith("--allow-net="))!
    .slice("--allow-net=".length).split(",").map((host) => host.replace(/:\d+$/, ""));
  assert.deepEqual(serverPermissions().filter((f) => f.startsWith("--allow-net")), [
    `--allow-net=${[...new Set(taskHosts)].join(",")}`,
  ]);
  // Every variable a task sets, the harness sets too (tracing aside, which it switches itself).
  const traced = { otlpEndpoint: "http://127.0.0.1:4318" };
  const pairs: [TaskCommand, ChildEnv][] = [
    [serverTask, serverEnv(traced)],
    [clientTask, clientEnv("http://x/", traced)],
  ];
  for (const [task, env] of pairs) {
    for (const [name, value] of Object.entries(task.env)) {
      if (name === "OTEL_SERVICE_NAME") continue;
      assert.equal(env[name], value, `${task.argv.join(" ")}: ${name}`);
    }
  }
});

Deno.test("each task lets its program read exactly the variables the program reads", async () => {
  // A variable is added in its file alone (server.ts or client.ts reads it by name), and in its task's list.
  const tasks: [string, string[]][] = [["server", serverPermissions()], [
    "client",
    clientPermissions("http://x/"),
  ]];
  for (const [task, flags] of tasks) {
    const source = await Deno.readTextFile(new URL(scriptOf(denoRunOf(task)), ROOT));
    const read = new Set(
      [...source.matchAll(/\b(?:env|wholeNumber|httpUrl)\("([A-Z_]+)"/g)].map((m) => m[1]),
    );
    assert.ok(read.size >= 3, `${task}: ${[...read]}`);
    assert.deepEqual(allowedEnv(flags)?.sort(), [...read].sort(), `the ${task} task`);
  }
});

Deno.test("the server's and the client's permissions are written only in deno.json", async () => {
  // Any other file that spells out the list of variables server.ts or client.ts may read has its own copy.
  const copies: string[] = [];
  for (const dir of ["tools/harness", "tools/bench", "tests", "tools/viewer", "tools/stack"]) {
    for await (const entry of Deno.readDir(new URL(`${dir}/`, ROOT))) {
      if (!entry.isFile || !/\.(ts|sh|cjs)$/.test(entry.name)) continue;
      const text = await Deno.readTextFile(new URL(`${dir}/${entry.name}`, ROOT));
      if (/--allow-env=[^"\s]*(SIMULATED_WORK_MS|SERVER_URL)/.test(text)) copies.push(`${dir}/${entry.name}`);
    }
  }
  // tests/permissions_test.ts pins the tasks' flags on purpose, as a table a change must update.
  assert.deepEqual(copies.filter((path) => path !== "tests/permissions_test.ts"), []);
});

Deno.test("a child of the harness sees none of its caller's variables", async () => {
  // nested_env.ts runs under a caller with variables of its own (OTEL_TRACES_SAMPLER would switch every trace
  // off), and starts print_env.ts through the harness.
  const output = await new Deno.Command("deno", {
    args: ["run", "--allow-run=deno", "--allow-env", "tools/harness/testdata/nested_env.ts"],
    cwd: ROOT,
    env: { ...childEnv(), OTEL_TRACES_SAMPLER: "always_off", LEAKED: "1" },
    clearEnv: true,
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const names = stdout.trim().split("\n");
  assert.ok(names.includes("GIVEN"), stdout);
  const allowed = new Set(["GIVEN", "NO_COLOR", "DENO_NO_UPDATE_CHECK", ...PASSED_THROUGH]);
  assert.deepEqual(names.filter((name) => !allowed.has(name)), []);
});

Deno.test("startServer: listens on a port of its own, says why when it cannot start", async () => {
  await using first = await startServer({ workMs: 0 });
  await using second = await startServer({ workMs: 0 });
  assert.notEqual(first.port, second.port);
  const health = await fetch(new URL("/health", second.url));
  assert.equal(health.status, 200);
  await health.body?.cancel();
  await assert.rejects(
    startServer({ env: { SIMULATED_WORK_MS: "soon" } }),
    /server\.ts exited with code 2 before listening:\nServer: SIMULATED_WORK_MS must be a whole number/,
  );
});

Deno.test("the harness starts no child with every permission", async () => {
  for (const flag of ["-A", "--allow-all", "--allow-all=true"]) {
    assert.throws(
      () => spawn("deno", ["run", flag, "server.ts"], ROOT, {}),
      /starts no child with every permission/,
    );
    await assert.rejects(
      runDeno("server.ts", { permissions: [flag] }),
      /starts no child with every permission/,
    );
  }
});

Deno.test("runDeno: kills a child that runs too long, and says so", async () => {
  const result = await runDeno("tools/harness/testdata/forever.ts", { timeoutMs: 500 });
  assert.equal(result.killed, true);
  assert.equal(result.signal, "SIGKILL");
});
