// Unit tests of the client's call function against real HTTP servers in this process. Its settings
// (SERVER_URL, REQUEST_TIMEOUT_MS, MAX_RESPONSE_BYTES, GRAFANA_URL) are tested on real processes in
// tests/error_reporting_test.ts, tests/client_hostile_server_test.ts and tests/permissions_test.ts.
import assert from "node:assert/strict";
import { callApi, CallError } from "../client.ts";

async function withServer(
  handler: Deno.ServeHandler,
  run: (url: string) => Promise<void>,
): Promise<void> {
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  await run(`http://127.0.0.1:${server.addr.port}/`);
}

Deno.test("callApi returns the parsed body and the trace id", async () => {
  await withServer(() => Response.json({ message: "hi" }), async (url) => {
    const result = await callApi(url);
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

Deno.test("callApi follows no redirect, not even to its own origin", async () => {
  await withServer(() => new Response(null, { status: 301, headers: { location: "/" } }), async (url) => {
    await assert.rejects(callApi(url), {
      name: "CallError",
      message: `${url} answered 301 Moved Permanently`,
    });
  });
});
