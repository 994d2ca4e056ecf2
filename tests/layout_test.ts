// The workspace's layout holds: each member imports the others only through their exports
// (`@example/<member>/<export>`, never by path; the example's own files are not a member) and only down the order of docs/architecture.md, so there is no circle; no
// member exports a testdata/ path; the example and the chapters' files import only the OpenTelemetry API.
import assert from "node:assert/strict";
import config from "../deno.json" with { type: "json" };

const ROOT = new URL("../", import.meta.url);

/** The members in the order of docs/architecture.md: each may import only those before it. */
const ORDER = ["harness", "otlp", "viewer", "demo", "jobs", "shop", "doctor", "bench", "stack"];

/** The TypeScript files under `dir` (relative to the root), without node_modules. */
function sources(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(new URL(dir, ROOT))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory && entry.name !== "node_modules") files.push(...sources(`${path}/`));
    else if (entry.isFile && entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

/** Each workspace member's folder and its short name (`@example/otlp` → `otlp`). */
function members(): { dir: string; name: string; exports: Record<string, string> }[] {
  return config.workspace.map((member) => {
    const dir = `${member.replace(/^\.\//, "")}/`;
    const json = JSON.parse(Deno.readTextFileSync(new URL(`${dir}deno.json`, ROOT)));
    return { dir, name: json.name?.replace(/^@example\//, ""), exports: json.exports ?? {} };
  }).filter((member) => member.name !== undefined);
}

Deno.test("members import each other only down the order of docs/architecture.md: no circle", () => {
  const all = members();
  assert.deepEqual(all.map((m) => m.name).sort(), [...ORDER].sort(), "a member missing from ORDER");
  const wrong: string[] = [];
  for (const { dir, name } of all) {
    const nested = all.filter((m) => m.dir !== dir && m.dir.startsWith(dir)).map((m) => m.dir);
    for (const file of sources(dir).filter((f) => !nested.some((n) => f.startsWith(n)))) {
      const text = Deno.readTextFileSync(new URL(file, ROOT));
      for (const [, imported] of text.matchAll(/from "@example\/([\w-]+)\//g)) {
        if (imported !== name && ORDER.indexOf(imported) >= ORDER.indexOf(name)) {
          wrong.push(`${file} (${name}) imports @example/${imported}`);
        }
      }
      for (const [, path] of text.matchAll(/from "(\.\.\/[^"]+)"/g)) {
        const target = new URL(path, new URL(file, ROOT)).href.slice(ROOT.href.length);
        const other = all.find((m) => m.dir !== dir && target.startsWith(m.dir) && !dir.startsWith(m.dir));
        if (other) wrong.push(`${file} imports ${path}, a file of @example/${other.name}, by path`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("no member exports a testdata/ path", () => {
  const exported = members().flatMap(({ dir, exports }) =>
    Object.entries(exports).filter(([key, path]) => /testdata/.test(key + path)).map(([key]) =>
      `${dir}${key}`
    )
  );
  assert.deepEqual(exported, []);
});

Deno.test("the example and the chapters' files import only the OpenTelemetry API (node:sqlite, each other)", () => {
  const files = [
    "server.ts",
    "client.ts",
    "jobs/server.ts",
    "jobs/queue.ts",
    "jobs/worker.ts",
    "jobs/subprocess.ts",
    "shop/frontend.ts",
    "shop/catalog.ts",
    "shop/inventory.ts",
    "shop/orders.ts",
    "shop/start.ts",
  ];
  for (const file of files) {
    const text = Deno.readTextFileSync(new URL(file, ROOT));
    const imports = [...text.matchAll(/^import [^;]*? from "([^"]+)"/gms)].map((m) => m[1]);
    const allowed = (i: string) => i === "@opentelemetry/api" || i === "node:sqlite" || i.startsWith("./");
    assert.deepEqual(imports.filter((i) => !allowed(i)), [], file);
  }
});
