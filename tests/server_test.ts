// Unit tests of the server's handler and configuration, in this process, over real Request objects.
import assert from "node:assert/strict";
import { createHandler } from "../server.ts";
import { readServerConfig } from "../config/server_config.ts";
import { ConfigError } from "../config/env.ts";

const handler = createHandler({ workMs: 0 });
const get = (path: string, init?: RequestInit) => handler(new Request(`http://localhost${path}`, init));

Deno.test("GET / answers the greeting as JSON", async () => {
  const response = await get("/");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  assert.deepEqual(await response.json(), { message: "Hello from server!" });
});

Deno.test("GET /health answers without the simulated work", async () => {
  const slow = createHandler({ workMs: 60_000 });
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

Deno.test("server configuration: defaults, values, and one-line errors", () => {
  const env = (values: Record<string, string>) => (name: string) => values[name];
  assert.deepEqual(readServerConfig(env({})), {
    hostname: "127.0.0.1",
    port: 8000,
    workMs: 50,
    traceResponse: false,
  });
  assert.deepEqual(
    readServerConfig(env({ HOST: "0.0.0.0", PORT: "0", SIMULATED_WORK_MS: "0", TRACE_RESPONSE: "true" })),
    { hostname: "0.0.0.0", port: 0, workMs: 0, traceResponse: true },
  );
  assert.equal(readServerConfig(env({ TRACE_RESPONSE: "false" })).traceResponse, false);
  for (const port of ["abc", "70000", "-1", "80.5", "1e3"]) {
    assert.throws(
      () => readServerConfig(env({ PORT: port })),
      (error) =>
        error instanceof ConfigError &&
        error.message === `PORT must be a whole number from 0 to 65535, got ${JSON.stringify(port)}`,
    );
  }
  assert.throws(() => readServerConfig(env({ SIMULATED_WORK_MS: "slow" })), ConfigError);
  for (const value of ["yes", "1", "TRUE"]) {
    assert.throws(
      () => readServerConfig(env({ TRACE_RESPONSE: value })),
      (error) =>
        error instanceof ConfigError &&
        error.message === `TRACE_RESPONSE must be true or false, got ${JSON.stringify(value)}`,
    );
  }
});
