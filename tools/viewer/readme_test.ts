import assert from "node:assert/strict";
import { tableRows } from "@example/harness/flags";
import { VIEWER_FLAGS } from "./viewer.ts";
import { runDeno } from "@example/harness/processes";
import { denoRunOf, permissionFlags } from "@example/harness/tasks";

/** The permissions of `deno task viewer`, from deno.json. */
const VIEWER_PERMISSIONS = permissionFlags(denoRunOf("viewer"));

Deno.test("tools/viewer/README.md's flag table is the flags' definitions", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", import.meta.url));
  // The flag table: the lines from its heading to the first blank line (the API's table comes later).
  const flagTable = readme.slice(readme.indexOf("| Flag (viewer)")).split("\n\n")[0];
  const rows = flagTable.split("\n").filter((line) => line.startsWith("| ")).map((line) =>
    line.slice(2, -2).split(" | ").map((cell) => cell.trim())
  );
  const start = rows.findIndex(([first]) => first === "Flag (viewer)");
  assert.ok(start >= 0, "the table's heading is | Flag (viewer) | Default | What it does |");
  const count = Object.keys(VIEWER_FLAGS).length;
  assert.deepEqual(rows.slice(start + 2, start + 2 + count), tableRows(VIEWER_FLAGS));
  assert.doesNotMatch(
    rows[start + 2 + count]?.[0] ?? "",
    /^`--/,
    "a flag in the table that the viewer lacks",
  );
});

Deno.test("deno task viewer --help shows every flag with its default; a wrong one exits 2 with the usage", async () => {
  const help = await runDeno("tools/viewer/viewer.ts", {
    permissions: VIEWER_PERMISSIONS,
    args: ["--help"],
  });
  assert.equal(help.code, 0);
  for (const [name, flag] of Object.entries(VIEWER_FLAGS)) {
    assert.match(help.stdout, new RegExp(`^ {2}--${name}=N +\\S.* \\(default ${flag.default}\\)$`, "m"));
  }
  const wrong = await runDeno("tools/viewer/viewer.ts", {
    permissions: VIEWER_PERMISSIONS,
    args: ["--settle-ms", "soon"],
  });
  assert.equal(wrong.code, 2);
  assert.match(
    wrong.stderr,
    /^viewer: --settle-ms takes a whole number 0 or more, got "soon"\nusage: deno task viewer \[flags\]\n/,
  );
});
