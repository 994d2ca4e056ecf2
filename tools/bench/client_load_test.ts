// The client side of the benchmark (`client_load.ts`) as a real process against a server in this one: what it
// measures, and `--hold`, which keeps it alive after it printed so that `runClientLoad` can read its peak RSS.
import assert from "node:assert/strict";
import { collectOutput } from "@example/harness/output";
import { percentile } from "./client_load.ts";
import { spawnClientLoad } from "./load_and_usage.ts";

Deno.test("percentile is the nearest rank of the sorted values", () => {
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.equal(percentile([1, 2, 3, 4], 99), 4);
  assert.equal(percentile([7], 1), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

Deno.test("client_load.ts --hold prints what it measured, then exits only once its standard input closes", async () => {
  let served = 0;
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    served++;
    return Response.json({ message: "hello" });
  });
  const url = `http://127.0.0.1:${server.addr.port}/`;
  const child = spawnClientLoad(url, { concurrency: 2, durationSeconds: 0.3 });
  let exited = false;
  const status = child.status.then((status) => {
    exited = true;
    return status;
  });
  const stdout = collectOutput(child.stdout);
  const stderr = collectOutput(child.stderr);
  const printed = await stdout.line((line) => line.startsWith("{") ? line : undefined);
  assert.equal(exited, false, "it waits for its standard input to close");
  await child.stdin.close();
  assert.equal((await status).code, 0, await stderr.text);
  await stdout.text;
  assert.ok(printed !== undefined, "it printed its measurement");
  const result = JSON.parse(printed);
  assert.ok(result.calls > 0 && result.calls <= served, `${result.calls} calls, ${served} served`);
  assert.equal(result.errors, 0);
  assert.ok(result.callsPerSecond > 0);
  assert.ok(result.latencyUs.p50 > 0 && result.latencyUs.p50 <= result.latencyUs.p99);
  assert.ok(result.cpuSeconds > 0);
  assert.ok(result.rssKiBAtEnd > 0 && result.heapUsedKiBAtEnd > 0);
  // getrusage's peak RSS would include the spawning process's: the caller reads VmHWM instead.
  assert.equal("peakRssKiB" in result, false);
});
