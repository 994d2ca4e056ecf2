import assert from "node:assert/strict";
import { ROOT, spawn } from "@example/harness/processes";

Deno.test("deno task demo draws the joined trace and exits 0", async () => {
  const output = await spawn("deno", ["task", "demo"], ROOT, {}).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stdout + stderr);
  const traceId = stdout.match(/^client: trace id: ([0-9a-f]{32})$/m)?.[1];
  assert.ok(traceId, stdout);
  assert.match(stdout, new RegExp(`^Trace ${traceId} {2}4 spans, 2 services \\(client, server\\)`, "m"));
  for (
    const row of [
      /^client +INTERNAL +call-api /m,
      /^client +CLIENT +└─ GET /m,
      /^server +SERVER +└─ GET \/ /m,
    ]
  ) {
    assert.match(stdout, row);
  }
  assert.match(stdout, /^server +INTERNAL +└─ process-request /m);
  assert.match(stdout, /One request, one trace/);
});
