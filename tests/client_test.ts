// Unit tests of the client's call function against real HTTP servers in this process.
import assert from "node:assert/strict";
import { callApi, CallError } from "../client.ts";
import { readClientConfig } from "../config/client_config.ts";
import { ConfigError } from "../config/env.ts";

async function withServer(
  handler: Deno.ServeHandler,
  run: (url: string) => Promise<void>,
): Promise<void> {
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  await run(`http://127.0.0.1:${server.addr.port}/`);
}

Deno.test("callApi returns the status and the parsed body", async () => {
  await withServer(() => Response.json({ message: "hi" }), async (url) => {
    const result = await callApi(url);
    assert.equal(result.status, 200);
    assert.deepEqual(result.body, { message: "hi" });
    assert.match(result.traceId, /^[0-9a-f]{32}$/);
  });
});

Deno.test("callApi turns a non-2xx answer into a CallError", async () => {
  await withServer(() => Response.json({ error: "no" }, { status: 503 }), async (url) => {
    await assert.rejects(callApi(url), (error) => {
      assert.ok(error instanceof CallError);
      assert.equal(error.message, `${url} answered 503 Service Unavailable`);
      return true;
    });
  });
});

Deno.test("callApi turns a body that is not JSON into a CallError", async () => {
  await withServer(() => new Response("<html>oops</html>"), async (url) => {
    await assert.rejects(callApi(url), {
      name: "CallError",
      message: `${url} answered 200 with a body that is not JSON`,
    });
  });
});

Deno.test("callApi gives up after its timeout when the server never answers", async () => {
  // A TCP listener that accepts connections and never answers them.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    const url = `http://127.0.0.1:${listener.addr.port}/`;
    await assert.rejects(callApi(url, { timeoutMs: 100 }), {
      name: "CallError",
      message: `no answer from ${url} within 100 ms`,
    });
  } finally {
    listener.close();
    for (const conn of accepted) conn.close();
    await accepting.catch(() => {});
  }
});

Deno.test("callApi reports a server that is down", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${listener.addr.port}/`;
  listener.close();
  await assert.rejects(callApi(url), (error) => {
    assert.ok(error instanceof CallError);
    assert.ok(error.message.startsWith(`cannot reach ${url}: `), error.message);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
});

Deno.test("client configuration: defaults, values, and one-line errors", () => {
  const env = (values: Record<string, string>) => (name: string) => values[name];
  const defaults = readClientConfig(env({}));
  assert.equal(defaults.url.href, "http://localhost:8000/");
  assert.equal(defaults.timeoutMs, 5000);
  assert.equal(defaults.grafanaUrl.href, "http://localhost:3000/");
  assert.throws(() => readClientConfig(env({ GRAFANA_URL: "grafana" })), ConfigError);
  assert.equal(
    readClientConfig(env({ SERVER_URL: "https://api.example/x" })).url.href,
    "https://api.example/x",
  );
  assert.throws(() => readClientConfig(env({ SERVER_URL: "localhost:8000" })), {
    name: "ConfigError",
    message: 'SERVER_URL must be an http:// or https:// URL, got "localhost:8000"',
  });
  assert.throws(() => readClientConfig(env({ SERVER_URL: "not a url" })), ConfigError);
  assert.throws(() => readClientConfig(env({ REQUEST_TIMEOUT_MS: "0" })), ConfigError);
});
