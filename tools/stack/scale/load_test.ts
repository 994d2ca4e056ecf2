import assert from "node:assert/strict";
import { planCalls } from "./load.ts";

Deno.test("planCalls: exact shares of error and slow calls, spread over the run", () => {
  const plan = planCalls(3000, 0.1, 0.05);
  assert.equal(plan.length, 3000);
  assert.equal(plan.filter((k) => k === "error").length, 300);
  assert.equal(plan.filter((k) => k === "slow").length, 150);
  // Each tenth of the run holds its share of errors (so a gateway killed mid-run meets them).
  for (let part = 0; part < 10; part++) {
    const slice = plan.slice(part * 300, (part + 1) * 300);
    assert.equal(slice.filter((k) => k === "error").length, 30);
  }
});

Deno.test("planCalls: no error or slow call when the shares are 0", () => {
  assert.deepEqual(new Set(planCalls(50, 0, 0)), new Set(["normal"]));
});
