// Opt-in (up to a minute: a cron's shortest schedule is one minute, and the test waits for its first run):
//   JOBS_CRON=1 deno test --allow-run=deno --allow-net=127.0.0.1 --allow-read=. \
//     --allow-env=JOBS_CRON,PATH,HOME,DENO_DIR,XDG_CACHE_HOME jobs/cron_test.ts
// CI runs it. It checks what jobs/README.md says of `Deno.cron`: Deno makes the run's root span itself.
import assert from "node:assert/strict";
import { startReceiver } from "@example/otlp/receiver";
import { otelEnv, runDeno } from "@example/harness/processes";

const optedIn = Deno.permissions.querySync({ name: "env", variable: "JOBS_CRON" }).state === "granted" &&
  Deno.env.get("JOBS_CRON") === "1";

Deno.test({
  name:
    "Deno.cron (opt-in, JOBS_CRON=1): each run is a deno.cron root span, and the handler's span and log " +
    "line join it",
  ignore: !optedIn,
  async fn() {
    await using receiver = startReceiver({ port: 0 });
    const run = await runDeno("jobs/testdata/cron_job.ts", {
      permissions: ["--unstable-cron"],
      env: otelEnv("cron", { otlpEndpoint: receiver.url }),
      timeoutMs: 90_000,
    });
    assert.deepEqual([run.code, run.stdout], [0, "cron: the report was built\n"], run.stderr);
    const { root, work } = await receiver.store.waitFor((store) => {
      const root = store.spans.find((span) => span.name === "deno.cron");
      const work = store.spans.find((span) => span.name === "build report");
      return root && work && { root, work };
    }, { signal: AbortSignal.timeout(10_000) });
    assert.equal(root.parentSpanId, undefined, "deno.cron is the root");
    assert.equal(root.kind, "INTERNAL");
    assert.equal(root.attributes["deno.cron.name"], "nightly report");
    assert.equal(root.attributes["deno.cron.schedule"], "* * * * *");
    assert.deepEqual(
      [work.traceId, work.parentSpanId],
      [root.traceId, root.spanId],
      "the handler's span joins",
    );
    const log = await receiver.store.waitFor(
      (store) => store.logs.find((log) => String(log.body).startsWith("cron: the report was built")),
      { signal: AbortSignal.timeout(10_000) },
    );
    assert.deepEqual([log.traceId, log.spanId], [work.traceId, work.spanId], "the log line joins the span");
  },
});
