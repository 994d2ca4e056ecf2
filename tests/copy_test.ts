// The example as a user copies it: server.ts and client.ts alone in an empty folder outside this repository,
// whose deno.json maps only @opentelemetry/api, run with the tutorial's two commands (`--allow-net` only,
// Deno's OpenTelemetry on). The joined four-span trace must arrive at a receiver.
import { checkJoinedTrace } from "@example/demo/joined";
import assert from "node:assert/strict";
import { startReceiver } from "@example/otlp/receiver";
import { ROOT, spawn } from "@example/harness/processes";
import { collectOutput } from "@example/harness/output";
import { denoRunOf, permissionFlags } from "@example/harness/tasks";
import config from "../deno.json" with { type: "json" };

/** Where the copies go: the `test` task may write here and nowhere else. */
const COPIES = "/tmp/deno-example-copy";

Deno.test("server.ts and client.ts copied alone into an empty folder run with the tutorial's commands, and their trace joins", async () => {
  await Deno.mkdir(COPIES, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: COPIES });
  const cwd = new URL(`file://${dir}/`);
  try {
    const imports = { "@opentelemetry/api": config.imports["@opentelemetry/api"] };
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify({ imports }, null, 2) + "\n");
    for (const file of ["server.ts", "client.ts"]) {
      await Deno.writeTextFile(`${dir}/${file}`, await Deno.readTextFile(new URL(file, ROOT)));
    }
    await using receiver = startReceiver({ port: 0 });
    const telemetry = (service: string) => ({
      OTEL_DENO: "true",
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    });
    // Without --allow-env both programs use their defaults: the server listens on 127.0.0.1:8000 and the
    // client calls http://localhost:8000/, so this test needs port 8000 for the length of its run.
    try {
      Deno.listen({ hostname: "127.0.0.1", port: 8000 }).close();
    } catch (error) {
      assert.fail(`port 8000 is taken, and the tutorial's commands need it: ${error}`);
    }
    const server = spawn("deno", ["run", "--allow-net", "server.ts"], cwd, telemetry("server"));
    const serverOut = collectOutput(server.stdout);
    const serverErr = collectOutput(server.stderr);
    let client;
    try {
      const listening = await serverOut.line((line) => line.match(/^Server listening on (\S+)$/)?.[1]);
      assert.equal(listening, "http://127.0.0.1:8000/");
      client = await spawn("deno", ["run", "--allow-net", "client.ts"], cwd, telemetry("client")).output();
    } finally {
      server.kill("SIGTERM");
    }
    assert.equal((await server.status).code, 0, await serverErr.text);
    assert.match(await serverOut.text, /^Server: shutting down$/m);
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    // One line each, naming the variables their tasks allow.
    const notice = (program: string, task: string) =>
      `${program}: no ${permissionFlags(denoRunOf(task)).find((f) => f.startsWith("--allow-env="))}: ` +
      "using the defaults\n";
    assert.equal(await serverErr.text, notice("Server", "server"));
    assert.equal(text(client.stderr), notice("Client", "client"));
    assert.equal(client.code, 0);
    const stdout = text(client.stdout);
    assert.match(stdout, /^Client: received \{"message":"Hello from server!"\}$/m);
    const traceId = stdout.match(/^trace id: ([0-9a-f]{32})$/m)?.[1];
    assert.ok(traceId, stdout);
    const { spans } = await receiver.store.waitForTrace(traceId, {
      spans: 4,
      signal: AbortSignal.timeout(15_000),
    });
    // The one check of the joined trace (the demo's and the stack check's too): throws, saying what broke.
    checkJoinedTrace(spans, traceId);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
