// Unit tests of the server's handler, in this process, over real Request objects. Its settings (PORT, HOST,
// SIMULATED_WORK_MS) are tested on real processes in tests/error_reporting_test.ts and tests/permissions_test.ts.
import assert from "node:assert/strict";
import { createHandler } from "../server.ts";

const handler = createHandler(0);
const get = (path: string, init?: RequestInit) => handler(new Request(`http://localhost${path}`, init));

Deno.test("GET / answers the greeting as JSON", async () => {
  const response = await get("/");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  assert.deepEqual(await response.json(), { message: "Hello from server!" });
});

Deno.test("GET /health answers without the simulated work", async () => {
  const slow = createHandler(60_000);
  const response = await slow(new Request("http://localhost/health"));
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: "ok" });
});

Deno.test("GET /error fails on purpose with a JSON 500", async () => {
  const response = await get("/error");
  assert.equal(response.status, 500);
  assert.deepEqual(await response.json(), { error: "simulated failure" });
});

Deno.test("an unknown path is a JSON 404 that does not echo the path", async () => {
  const response = await get("/%3Cscript%3Ealert(1)%3C/script%3E");
  assert.equal(response.status, 404);
  const text = await response.text();
  assert.deepEqual(JSON.parse(text), { error: "not found" });
  assert.doesNotMatch(text, /script/);
});

Deno.test("a known path with another method is a JSON 405 with an Allow header", async () => {
  for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
    const response = await get("/", { method, body: method === "DELETE" ? undefined : "x" });
    assert.equal(response.status, 405, method);
    assert.equal(response.headers.get("allow"), "GET, HEAD");
    assert.deepEqual(await response.json(), { error: "method not allowed" });
  }
});

Deno.test("HEAD is answered like GET, without a body", async () => {
  const response = await get("/health", { method: "HEAD" });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  await response.body?.cancel();
});

Deno.test("paths that look like object properties are not routes", async () => {
  for (const path of ["/__proto__", "/constructor", "/toString", "/hasOwnProperty"]) {
    assert.equal((await get(path)).status, 404, path);
  }
});

Deno.test("the route is the path alone: no query string, no host", async () => {
  assert.equal((await get("/health?x=/error")).status, 200);
  assert.deepEqual(await (await get("/health?x=/error")).json(), { status: "ok" });
  assert.equal((await handler(new Request("https://h:8443/health"))).status, 200);
  assert.equal((await get("/x/../health")).status, 200, "the URL parser resolves it before the handler");
  assert.equal((await get("/health/")).status, 404);
});
