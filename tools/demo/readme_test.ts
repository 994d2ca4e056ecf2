import assert from "node:assert/strict";
import { tableRows } from "@example/harness/flags";
import { DEMO_FLAGS } from "./demo.ts";

Deno.test("tools/demo/README.md's flag table is the flags' definitions", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", import.meta.url));
  const rows = readme.split("\n").filter((line) => line.startsWith("| ")).map((line) =>
    line.slice(2, -2).split(" | ").map((cell) => cell.trim())
  );
  const start = rows.findIndex(([first]) => first === "Flag (demo)");
  assert.ok(start >= 0, "the table's heading is | Flag (demo) | Default | What it does |");
  const count = Object.keys(DEMO_FLAGS).length;
  assert.deepEqual(rows.slice(start + 2, start + 2 + count), tableRows(DEMO_FLAGS));
  assert.doesNotMatch(rows[start + 2 + count]?.[0] ?? "", /^`--/, "a flag in the table that the demo lacks");
});
