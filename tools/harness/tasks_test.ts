import assert from "node:assert/strict";
import config from "../../deno.json" with { type: "json" };
import { denoRunOf, parseTask, permissionFlags, readTasks, scriptOf } from "./tasks.ts";

Deno.test("every task has a one-line description, which `deno task` lists", () => {
  for (const [name, task] of Object.entries(config.tasks as Record<string, unknown>)) {
    const description = (task as { description?: unknown }).description;
    assert.equal(typeof description, "string", `task ${name} has no description`);
    assert.match(description as string, /^[^\n]{10,110}$/, `task ${name}: one line`);
  }
});

Deno.test("parseTask splits a task into commands, their variables and their words", () => {
  assert.deepEqual(parseTask("A=1 B=x=y deno run --allow-net=h:1 s.ts && deno fmt"), [
    { env: { A: "1", B: "x=y" }, argv: ["deno", "run", "--allow-net=h:1", "s.ts"] },
    { env: {}, argv: ["deno", "fmt"] },
  ]);
  assert.throws(() => parseTask(`deno run "a b".ts`), /quoting or expansion/);
  const server = denoRunOf("server");
  assert.equal(scriptOf(server), "server.ts");
  assert.ok(permissionFlags(server).every((flag) => flag.startsWith("--allow-")));
  assert.ok(Object.keys(readTasks()).includes("server"));
});
