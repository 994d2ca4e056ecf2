// The client against hostile servers, on real processes: client.ts runs as a child under its task's
// permissions, exporting to a receiver. Every failure, before or after the headers, is one `Client: …` line,
// the trace id, exit 1, and a call-api span marked ERROR with exception type CallError; the body is read
// within the same timeout and under MAX_RESPONSE_BYTES, so memory stays bounded.
import assert from "node:assert/strict";
import { startReceiver } from "@example/otlp/receiver";
import { clientPermissions, closedPort, runClient, runDeno } from "@example/harness/processes";
import type { Span } from "@example/otlp/decode";
import { optedIn } from "./_fault_collectors.ts";

const MiB = 1_048_576;

/** Serves `handler` on 127.0.0.1 at a free port for the length of `run`. */
async function withServer(handler: Deno.ServeHandler, run: (url: string) => Promise<void>): Promise<void> {
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  await run(`http://127.0.0.1:${server.addr.port}/`);
}

/** A body of `chunks` chunks of `size` bytes, one every `everyMs` (0: as fast as it is read). */
function body({ chunks, size, everyMs = 0 }: { chunks: number; size: number; everyMs?: number }) {
  let sent = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (everyMs > 0) await new Promise((resolve) => timer = setTimeout(resolve, everyMs));
      if (sent++ === chunks) controller.close();
      else controller.enqueue(new Uint8Array(size).fill(0x20));
    },
    cancel: () => clearTimeout(timer),
  }, { highWaterMark: 0 });
}

function exceptionOf(span: Span) {
  return span.events.find((event) => event.name === "exception")?.attributes;
}

/** Runs the client against `url` and checks what every failure must be; returns the call-api span. */
async function expectFailure(url: string, message: string | RegExp, env: Record<string, string> = {}) {
  await using receiver = startReceiver({ port: 0 });
  const client = await runClient(url, { otlpEndpoint: receiver.url, env });
  assert.equal(client.code, 1, client.stderr);
  const lines = client.stderr.split("\n");
  assert.equal(lines.length, 2, `one line, then the end: ${client.stderr}`);
  const line = lines[0].replace(/^Client: /, "");
  if (typeof message === "string") assert.equal(line, message);
  else assert.match(line, message);
  assert.ok(client.traceId, `the trace id is printed: ${client.stdout}`);
  const { spans } = await receiver.store.waitForTrace(client.traceId, {
    spans: 1,
    signal: AbortSignal.timeout(15_000),
  });
  const root = spans.find((span) => span.name === "call-api")!;
  assert.deepEqual(root.status, { code: "ERROR", message: line });
  assert.equal(exceptionOf(root)?.["exception.type"], "CallError");
  assert.equal(exceptionOf(root)?.["exception.message"], line);
  return { root, spans, stdout: client.stdout };
}

Deno.test("a body that drips: the same timeout ends it, in one line", async () => {
  await withServer(
    () =>
      new Response(body({ chunks: 100, size: 1, everyMs: 100 }), { headers: { "content-length": "100" } }),
    async (url) => {
      await expectFailure(
        url,
        new RegExp(`^the answer of ${url} was not complete within 700 ms \\(\\d+ bytes received\\)$`),
        { REQUEST_TIMEOUT_MS: "700" },
      );
    },
  );
});

Deno.test("an endless body stops at MAX_RESPONSE_BYTES", async () => {
  // 64 MiB at most, so that a client without a limit fails this test without taking the machine's memory.
  let sent = 0;
  await withServer(() => {
    const stream = body({ chunks: 1024, size: 65_536 });
    return new Response(stream.pipeThrough(
      new TransformStream({
        transform(chunk, controller) {
          sent += chunk.byteLength;
          controller.enqueue(chunk);
        },
      }),
    ));
  }, async (url) => {
    await expectFailure(url, `${url} answered more than ${MiB} bytes (MAX_RESPONSE_BYTES): not read`);
    await expectFailure(url, `${url} answered more than 100000 bytes (MAX_RESPONSE_BYTES): not read`, {
      MAX_RESPONSE_BYTES: "100000",
    });
  });
  assert.ok(sent < 16 * MiB, `the client stopped reading: the server sent ${sent} bytes`);
});

Deno.test("a Content-Length of 2 GB is refused before reading", async () => {
  // Declares 2 GiB, sends 10 bytes and holds the connection open.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      await conn.read(new Uint8Array(65_536));
      await conn.write(
        new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2147483648\r\n\r\n0123456789"),
      );
    }
  })();
  try {
    const url = `http://127.0.0.1:${listener.addr.port}/`;
    await expectFailure(
      url,
      `${url} answered more than ${MiB} bytes (MAX_RESPONSE_BYTES): not read (Content-Length: 2147483648)`,
      { REQUEST_TIMEOUT_MS: "3000" },
    );
  } finally {
    listener.close();
    for (const conn of conns) conn.close();
    await serving.catch(() => {});
  }
});

Deno.test("a gzip bomb stops at MAX_RESPONSE_BYTES of what it inflates to", async () => {
  // 64 MiB of spaces, gzipped to about 64 KiB.
  const bomb = new Uint8Array(
    await new Response(
      body({ chunks: 64, size: MiB }).pipeThrough(
        new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
      ),
    )
      .arrayBuffer(),
  );
  assert.ok(bomb.byteLength < MiB);
  await withServer(
    () => new Response(bomb, { headers: { "content-encoding": "gzip", "content-type": "application/json" } }),
    async (url) => {
      await expectFailure(url, `${url} answered more than ${MiB} bytes (MAX_RESPONSE_BYTES): not read`);
    },
  );
});

Deno.test("no redirect is followed, to another origin or its own, and that host is sent nothing", async () => {
  let calls = 0;
  await withServer(() => {
    calls++;
    return Response.json({ message: "from elsewhere" });
  }, async (elsewhere) => {
    await withServer((request) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/away") return Response.redirect(`${elsewhere}steal`, 302);
      return new Response(null, { status: 301, headers: { location: "/" } });
    }, async (url) => {
      await expectFailure(`${url}away`, `${url}away answered 302 Found`);
      assert.equal(calls, 0, "the other host was not called");
      await expectFailure(`${url}moved`, `${url}moved answered 301 Moved Permanently`);
    });
  });
});

Deno.test("what a hostile server sends is printed escaped: no C0 or C1 control, no bidi override reaches the terminal", async () => {
  // U+009B is a C1 control (CSI: starts a terminal escape sequence on its own); U+202E reverses the text
  // shown after it; JSON.stringify escapes neither.
  const hostile = "\u009b31m\u202eevil\u2028\u0085\u200b\u2066";
  await withServer(() => Response.json({ message: hostile }), async (url) => {
    const client = await runClient(url);
    assert.equal(client.code, 0, client.stderr);
    assert.match(
      client.stdout,
      /^Client: received \{"message":"\\u009b31m\\u202eevil\\u2028\\u0085\\u200b\\u2066"\}$/m,
    );
    assert.doesNotMatch(client.stdout + client.stderr, /[\u0080-\u009f\u202e\u2028\u200b\u2066]/);
  });
  // A reason phrase and a Location header with 0x9B and U+202E (in UTF-8), on the raw wire: Deno shows the
  // standard reason phrase, and the client prints no Location.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of listener) {
      await conn.read(new Uint8Array(65_536));
      const head =
        "HTTP/1.1 302 \x9b2J\u00e2\u0080\u00aeFound\r\nlocation: /\u00e2\u0080\u00ae\x9b\r\ncontent-length: 0\r\n\r\n";
      await conn.write(Uint8Array.from(head, (c) => c.charCodeAt(0)));
      conn.close();
    }
  })();
  try {
    const url = `http://127.0.0.1:${listener.addr.port}/`;
    const client = await runClient(url);
    assert.equal(client.code, 1, client.stderr);
    assert.equal(client.stderr, `Client: ${url} answered 302 Found\n`);
    assert.doesNotMatch(client.stdout + client.stderr, /[\u0080-\u009f\u202e]/);
  } finally {
    listener.close();
    await serving.catch(() => {});
  }
});

Deno.test("server down: the cause is in the line (connection refused)", async () => {
  const url = `http://127.0.0.1:${closedPort()}/`;
  const { spans } = await expectFailure(url, new RegExp(`^cannot reach ${url}: .*Connection refused`));
  assert.equal(spans.find((span) => span.kind === "CLIENT")?.status.code, "ERROR");
});

Deno.test("MAX_RESPONSE_BYTES that is no whole number stops the client in one line", async () => {
  const client = await runClient("http://127.0.0.1:9/", { env: { MAX_RESPONSE_BYTES: "1MB" } });
  assert.equal(client.code, 2);
  assert.equal(
    client.stderr,
    'Client: MAX_RESPONSE_BYTES must be a whole number from 1 to 1073741824, got "1MB"\n',
  );
});

// Opt-in (about 20 s, compresses 1 GiB): CLIENT_MEMORY=1 deno test --allow-run=deno --allow-net=127.0.0.1 \
//   --allow-read=. --allow-env=CLIENT_MEMORY tests/client_hostile_server_test.ts --filter memory
const memoryOptIn = optedIn("CLIENT_MEMORY");
Deno.test({
  name:
    "memory (opt-in, CLIENT_MEMORY=1): the client's peak RSS stays small against full-size hostile bodies",
  ignore: !memoryOptIn,
  async fn() {
    /** Runs callApi in a child (tests/testdata/client_memory.ts) against `url`: its outcome and peak RSS. */
    const peakOf = async (url: string) => {
      const output = await runDeno("tests/testdata/client_memory.ts", {
        permissions: clientPermissions(url),
        env: { OTEL_DENO: "false", SERVER_URL: url },
      });
      return JSON.parse(output.stdout) as { outcome: string; peakMiB: number };
    };
    const chunk = new Uint8Array(65_536).fill(0x20);
    const endless = () =>
      new ReadableStream<Uint8Array>({ pull: (controller) => controller.enqueue(chunk) }, {
        highWaterMark: 0,
      });
    const GiB = 1024 * MiB;
    const gzipped = new Uint8Array(
      await new Response(
        body({ chunks: 1024, size: MiB }).pipeThrough(
          new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
        ),
      ).arrayBuffer(),
    );
    const results: Record<string, { outcome: string; peakMiB: number }> = {};
    await withServer((request) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/endless") return new Response(endless());
      if (pathname === "/bomb") return new Response(gzipped, { headers: { "content-encoding": "gzip" } });
      return new Response(endless().pipeThrough(new TransformStream()), {
        headers: { "content-length": String(2 * GiB) },
      });
    }, async (url) => {
      for (const path of ["endless", "bomb", "huge"]) results[path] = await peakOf(`${url}${path}`);
    });
    console.log(
      `client peak RSS (MiB), MAX_RESPONSE_BYTES default: ${
        Object.entries(results).map(([what, { peakMiB }]) => `${what} ${peakMiB}`).join(", ")
      } (1 GiB gzip bomb of ${Math.round(gzipped.byteLength / 1024)} KiB)`,
    );
    for (const [what, { outcome, peakMiB }] of Object.entries(results)) {
      assert.equal(outcome, "CallError", what);
      assert.ok(peakMiB < 200, `${what}: ${peakMiB} MiB`);
    }
  },
});
