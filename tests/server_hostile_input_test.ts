// Bad input from the network, on one real server with tracing on: hostile propagation headers (a generated
// set, sent byte for byte over TCP), unknown routes, wrong methods, huge bodies and headers, slow clients.
import assert from "node:assert/strict";
import fc from "fast-check";
import { startReceiver } from "@example/otlp/receiver";
import { closedPort, startServer } from "@example/harness/processes";
import {
  buildRequest,
  fromLatin1,
  header,
  latin1,
  rawRequest,
  type RawResponse,
  readResponse,
  stalledConnection,
} from "./_raw_http.ts";
import { denoRunOf } from "@example/harness/tasks";

const encoder = new TextEncoder();

/** The propagators the server task configures, if it does (Deno's default is `tracecontext,baggage`). */
function serverTaskPropagators(): Record<string, string> {
  const value = denoRunOf("server").env.OTEL_PROPAGATORS;
  return value === undefined ? {} : { OTEL_PROPAGATORS: value };
}

// ---------------------------------------------------------------------------------------------------------
// The oracle: what a W3C trace-context parser must make of the bytes that arrived.

/**
 * The OpenTelemetry rule for `traceparent` (the regular expression of OpenTelemetry JS, which Deno follows):
 * version 2 lower-case hex digits but not `ff`, then ids in lower-case hex, neither all zeros, and flags; for
 * version `00` nothing after the flags, for later versions anything after a `-`. One leading and one
 * trailing whitespace character are tolerated. Returns the trace and parent span ids, or `undefined`.
 */
export function parseTraceparent(value: string): { traceId: string; spanId: string } | undefined {
  const match = value.match(
    /^\s?(?!ff)([\da-f]{2})-(?![0]{32})([\da-f]{32})-(?![0]{16})([\da-f]{16})-([\da-f]{2})(-.*)?\s?$/,
  );
  if (match === null || (match[1] === "00" && match[5] !== undefined)) return undefined;
  return { traceId: match[2], spanId: match[3] };
}

/**
 * The `traceparent` Deno parses when the header was sent as these byte strings: the first one only (a
 * W3C parser would reject repeated headers), decoded byte for byte and trimmed of SP and HTAB, as HTTP does.
 */
function received(values: Uint8Array[]): string {
  return values.length === 0 ? "" : fromLatin1(values[0]).replace(/^[ \t]+|[ \t]+$/g, "");
}

/** HTTP/1.1 forbids control characters other than HTAB in a header value: such a request gets 400. */
function hasForbiddenByte(values: Uint8Array[]): boolean {
  return values.some((bytes) => bytes.some((byte) => (byte < 0x20 && byte !== 0x09) || byte === 0x7f));
}

// ---------------------------------------------------------------------------------------------------------
// The generated cases.

interface Case {
  traceparent: Uint8Array[];
  tracestate: Uint8Array[];
  baggage: Uint8Array[];
}

const utf8 = (text: string) => encoder.encode(text);
const hexDigit = fc.constantFrom(..."0123456789abcdef");
const hex = (length: number) => fc.string({ unit: hexDigit, minLength: length, maxLength: length });
const nonZeroHex = (length: number) => hex(length).filter((text) => /[^0]/.test(text));
const validTraceparent = fc.tuple(nonZeroHex(32), nonZeroHex(16), hex(2)).map(([t, s, f]) =>
  `00-${t}-${s}-${f}`
);
const anyText = fc.string({ unit: "binary", maxLength: 80 });
const noNewline = (bytes: Uint8Array) => !bytes.includes(0x0a) && !bytes.includes(0x0d);

const traceparentValue: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: validTraceparent.map(utf8) },
  // Near misses of a valid value.
  { weight: 1, arbitrary: validTraceparent.map((v) => utf8(v.toUpperCase())) },
  {
    weight: 1,
    arbitrary: fc.tuple(validTraceparent, fc.constantFrom("ff", "01", "fe", "0g", "0", "000", "--")).map((
      [v, version],
    ) => utf8(version + v.slice(2))),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(nonZeroHex(16), hex(2)).map(([s, f]) => utf8(`00-${"0".repeat(32)}-${s}-${f}`)),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(nonZeroHex(32), hex(2)).map(([t, f]) => utf8(`00-${t}-${"0".repeat(16)}-${f}`)),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(validTraceparent, fc.nat()).map(([v, n]) => utf8(v.slice(0, n % v.length))),
  },
  { weight: 1, arbitrary: fc.tuple(validTraceparent, anyText).map(([v, extra]) => utf8(`${v}-${extra}`)) },
  {
    weight: 1,
    arbitrary: fc.tuple(validTraceparent, anyText).map(([v, extra]) => utf8(`cc${v.slice(2)}-${extra}`)),
  },
  {
    // Padding: SP and HTAB are trimmed by HTTP; NBSP (one byte, 0xA0) and the rest are not.
    weight: 2,
    arbitrary: fc.tuple(
      validTraceparent,
      fc.constantFrom(" ", "\t", "\u00a0", "\u00a0\u00a0", "x", "\ufeff"),
      fc.constantFrom("before", "after", "both"),
    ).map(([v, pad, where]) => {
      const text = (where === "after" ? "" : pad) + v + (where === "before" ? "" : pad);
      return pad === "\ufeff" ? utf8(text) : latin1(text);
    }),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(validTraceparent, fc.nat(), fc.string({ unit: "binary", minLength: 1, maxLength: 3 }))
      .map(([v, at, inserted]) => utf8(v.slice(0, at % v.length) + inserted + v.slice(at % v.length))),
  },
  { weight: 1, arbitrary: validTraceparent.map((v) => utf8(v.replaceAll("-", "_"))) },
  { weight: 1, arbitrary: validTraceparent.map((v) => utf8(v.repeat(150))) },
  // Anything at all: unicode, and raw bytes (some of them forbidden in HTTP).
  { weight: 2, arbitrary: anyText.map(utf8) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }) },
);

const tracestateKey = fc.stringMatching(/^[a-z][a-z0-9_*/-]{0,20}(@[a-z][a-z0-9_*/-]{0,5})?$/);
const tracestateValue = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).filter((c) => c !== 0x2c && c !== 0x3d).map((c) =>
    String.fromCharCode(c)
  ),
  minLength: 1,
  maxLength: 30,
});
const tracestate: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.array(fc.tuple(tracestateKey, tracestateValue).map(([k, v]) => `${k}=${v}`), { maxLength: 40 })
    .map((members) => utf8(members.join(","))),
  anyText.map(utf8),
  fc.nat({ max: 12_000 }).map((n) => utf8(`k=${"v".repeat(n)}`)),
);

const token = fc.stringMatching(/^[A-Za-z0-9!#$&'*+.^_`|~-]{1,12}$/);
const baggageValue = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9!#$&'()*+./:<>?@\[\]^_`{|}~-]{0,20}$/),
  fc.string({ unit: "binary", maxLength: 10 }).map(encodeURIComponent),
  // Malformed percent-escapes: not hex, cut short, or not UTF-8 once decoded.
  fc.constantFrom("%", "%Z", "%zz", "%4", "%E0%A4%A", "%C3", "%FF", "100%", "%e2%82"),
);
const baggage: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.array(
    fc.tuple(token, baggageValue, fc.option(token, { nil: undefined })).map(([k, v, p]) =>
      p === undefined ? `${k}=${v}` : `${k}=${v};${p}`
    ),
    { maxLength: 200 },
  ).map((members) => utf8(members.join(","))),
  anyText.map(utf8),
  fc.nat({ max: 12_000 }).map((n) => utf8(`k=${"v".repeat(n)}`)),
);

const repeated = <T>(value: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant([] as T[]) },
    { weight: 6, arbitrary: value.map((v) => [v]) },
    { weight: 1, arbitrary: fc.array(value, { minLength: 2, maxLength: 4 }) },
  );

// CR and LF would end the header line and make a different request (request splitting is another matter).
const hostileCase: fc.Arbitrary<Case> = fc.record({
  traceparent: repeated(traceparentValue.filter(noNewline)),
  tracestate: repeated(tracestate.filter(noNewline)),
  baggage: repeated(baggage.filter(noNewline)),
});

/** Cases found by hand that the generator may or may not produce. */
const HAND_PICKED: Case[] = [
  { traceparent: [], tracestate: [], baggage: [utf8("a=%E0%A4%A")] },
  { traceparent: [], tracestate: [], baggage: [utf8("%zz=1")] },
  {
    traceparent: [utf8("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")],
    tracestate: [],
    baggage: [utf8("a=%")],
  },
  {
    traceparent: Array(100).fill(utf8("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")),
    tracestate: [],
    baggage: [],
  },
  {
    traceparent: [utf8("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")],
    tracestate: [utf8(Array.from({ length: 200 }, (_, i) => `k${i}=v`).join(","))],
    baggage: [utf8(Array.from({ length: 1000 }, (_, i) => `k${i}=v`).join(","))],
  },
  {
    traceparent: [latin1("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\u00a0")],
    tracestate: [utf8("ünïcödé=✓")],
    baggage: [utf8("user=😀")],
  },
  {
    traceparent: [utf8("<script>alert(1)</script>")],
    tracestate: [utf8("\u2028")],
    baggage: [utf8("x=\u0085")],
  },
];

const SEED = 20261123;
const GENERATED = 400;

// Response headers the server may send, each with the only shape its value may have: nothing from the
// request can come back except the validated ids of traceresponse (added by tests/testdata/probed_server.ts).
const SAFE_RESPONSE_HEADERS: Record<string, RegExp> = {
  "content-type": /^application\/json$/,
  "content-length": /^\d+$/,
  "traceresponse": /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/,
  "date": /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/,
  "connection": /^close$/,
  "vary": /^[A-Za-z, -]+$/,
  "allow": /^GET, HEAD$/,
};

function assertSafeHeaders(response: RawResponse, label: string): void {
  for (const [name, value] of response.headers) {
    const shape = SAFE_RESPONSE_HEADERS[name];
    assert.ok(shape, `${label}: unexpected response header ${name}`);
    assert.match(value, shape, `${label}: response header ${name}`);
  }
}

function describe(c: Case): string {
  const show = (values: Uint8Array[]) =>
    values.map((bytes) => JSON.stringify(fromLatin1(bytes.subarray(0, 80))) + (bytes.length > 80 ? "…" : ""));
  return `traceparent ${show(c.traceparent)} tracestate ${show(c.tracestate)} baggage ${show(c.baggage)}`;
}

Deno.test(`hostile propagation headers (${GENERATED} generated, seed ${SEED}, + ${HAND_PICKED.length} by hand): always answered, never reflected, a fresh trace when invalid`, async () => {
  const cases = [...HAND_PICKED, ...fc.sample(hostileCase, { numRuns: GENERATED, seed: SEED })];
  await using receiver = startReceiver({ port: 0 });
  const server = await startServer({
    otlpEndpoint: receiver.url,
    workMs: 0,
    // Its traceresponse header names the trace and the SERVER span of each request.
    script: "tests/testdata/probed_server.ts",
    env: serverTaskPropagators(),
  });
  const port = Number(new URL(server.url).port);
  const expected: { spanId: string; parent?: string; label: string }[] = [];
  const tally = { continued: 0, fresh: 0, rejected: 0 };
  let exit;
  try {
    let next = 0;
    const failures: string[] = [];
    const worker = async () => {
      while (next < cases.length) {
        const i = next++;
        const c = cases[i];
        const label = `case ${i}: ${describe(c)}`;
        const headers: [string, Uint8Array][] = [
          ...c.traceparent.map((v): [string, Uint8Array] => ["traceparent", v]),
          ...c.tracestate.map((v): [string, Uint8Array] => ["tracestate", v]),
          ...c.baggage.map((v): [string, Uint8Array] => ["baggage", v]),
        ];
        let response: RawResponse | undefined;
        try {
          response = await rawRequest(port, buildRequest("GET", "/", headers), {
            signal: AbortSignal.timeout(3_000),
          });
        } catch (error) {
          failures.push(`${label}: ${(error as Error).message}`);
          continue;
        }
        if (response === undefined) {
          failures.push(`${label}: the connection closed without an answer`);
          continue;
        }
        assertSafeHeaders(response, label);
        const all = [...c.traceparent, ...c.tracestate, ...c.baggage];
        if (hasForbiddenByte(all)) {
          // Rejected by the HTTP layer before any handler or span.
          assert.equal(response.status, 400, label);
          tally.rejected++;
          continue;
        }
        assert.equal(response.status, 200, label);
        assert.equal(response.body, '{"message":"Hello from server!"}', label);
        const [, traceId, spanId] = header(response, "traceresponse")!.split("-");
        const parent = parseTraceparent(received(c.traceparent));
        if (parent) {
          assert.equal(traceId, parent.traceId, `${label}: continues the caller's trace`);
          tally.continued++;
        } else {
          const claimed = received(c.traceparent).match(/[0-9a-f]{32}/)?.[0];
          assert.notEqual(traceId, claimed, `${label}: starts a fresh trace`);
          tally.fresh++;
        }
        expected.push({ spanId, parent: parent?.spanId, label });
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const baggageOn = (serverTaskPropagators().OTEL_PROPAGATORS ?? "tracecontext,baggage").includes(
      "baggage",
    );
    assert.deepEqual(
      failures,
      [],
      `${failures.length} requests got no answer` +
        (baggageOn
          ? ": the server task leaves Deno's baggage propagator on, and Deno 2.9.6 then never answers a " +
            "malformed percent-escape in baggage (see the next test); set OTEL_PROPAGATORS=tracecontext"
          : ""),
    );
    // Every answered request has its SERVER span, parented as the oracle says.
    const wanted = new Set(expected.map((e) => e.spanId));
    await receiver.store.waitFor(
      (s) => s.spans.filter((span) => wanted.has(span.spanId)).length === wanted.size,
      { signal: AbortSignal.timeout(15_000), what: `${wanted.size} server spans` },
    );
  } finally {
    exit = await server.stop();
  }
  const spans = new Map(receiver.store.spans.map((span) => [span.spanId, span]));
  for (const { spanId, parent, label } of expected) {
    const span = spans.get(spanId)!;
    assert.equal(span.kind, "SERVER", label);
    assert.equal(span.parentSpanId, parent, `${label}: the parent of the server span`);
  }
  assert.equal(exit.code, 0, exit.stderr);
  assert.doesNotMatch(exit.stderr, /unexpected error|panic/i);
  console.log(
    `${cases.length} cases: ${tally.continued} continued the caller's trace, ${tally.fresh} started a fresh ` +
      `one, ${tally.rejected} rejected with 400 by the HTTP layer (control characters)`,
  );
});

Deno.test("Deno 2.9.6 defect: a malformed percent-escape in baggage leaves the request unanswered, and holds up the shutdown, while the baggage propagator is on", async () => {
  // tests/testdata/server_drain.ts is server.ts with a 500 ms drain deadline. OTEL_PROPAGATORS unset means
  // tracecontext,baggage; it is set here so that the test does not depend on the environment.
  for (const propagators of ["tracecontext,baggage", "tracecontext"]) {
    const server = await startServer({
      script: "tests/testdata/server_drain.ts",
      otlpEndpoint: `http://127.0.0.1:${closedPort()}`,
      env: { OTEL_PROPAGATORS: propagators },
    });
    const stuck = await stalledConnection(server.port, buildRequest("GET", "/", [["baggage", "a=%E0%A4%A"]]));
    let healthy, exit;
    try {
      // Another request on another connection is answered meanwhile: the server itself is fine.
      healthy = await rawRequest(server.port, buildRequest("GET", "/health"));
    } finally {
      exit = await server.stop();
    }
    const answer = await readResponse(stuck, { signal: AbortSignal.timeout(15_000) });
    assert.equal(healthy?.status, 200);
    if (propagators === "tracecontext,baggage") {
      // The handler never ran and nothing was logged; the graceful stop waited for the request until the
      // deadline, which closed it unanswered.
      assert.equal(answer, undefined, "Deno answered: the defect is fixed, update the README and this test");
      assert.equal(exit.code, 1);
      assert.equal(exit.stderr, "Server: requests still open after 500 ms, exiting\n");
    } else {
      assert.equal(answer?.status, 200);
      assert.equal(exit.code, 0, exit.stderr);
    }
  }
});

Deno.test("unknown routes, wrong methods, huge bodies and headers, slow clients: the right status, bounded resources", async () => {
  await using receiver = startReceiver({ port: 0 });
  // server.ts's serve() with a 500 ms drain deadline instead of 10 s (tests/testdata/server_drain.ts).
  const server = await startServer({
    script: "tests/testdata/server_drain.ts",
    otlpEndpoint: receiver.url,
    env: { ...serverTaskPropagators(), SIMULATED_WORK_MS: "0" },
  });
  const port = server.port;
  const big = (n: number) => "a".repeat(n);
  const MiB = 1024 * 1024;
  // [what, request, expected status (undefined: the connection is closed without an answer)]
  const table: [string, string | Uint8Array, number | undefined][] = [
    ["unknown route", buildRequest("GET", "/no/such/route"), 404],
    ["path traversal", buildRequest("GET", "/../../etc/passwd"), 404],
    ["bad percent-escape in the path", buildRequest("GET", "/%2e%2e/%zz"), 404],
    ["a query string", buildRequest("GET", "/health?<script>=1"), 200],
    // Routes match the path as sent: no dot segments resolved, nothing decoded.
    ["a dot segment before a route", buildRequest("GET", "/x/../health"), 404],
    ["a percent-escaped route", buildRequest("GET", "/%68ealth"), 404],
    ["a fragment", buildRequest("GET", "/health#x"), 404],
    ["an absolute-form target", buildRequest("GET", "http://example.com/health"), 200],
    ["OPTIONS *", buildRequest("OPTIONS", "*"), 404],
    ["CONNECT", buildRequest("CONNECT", "example.com:443"), 404],
    ["POST", buildRequest("POST", "/", [["content-length", "2"]], "{}"), 405],
    ["DELETE", buildRequest("DELETE", "/health"), 405],
    ["PUT", buildRequest("PUT", "/error", [["content-length", "0"]]), 405],
    ["an 8 MiB body", buildRequest("POST", "/", [["content-length", String(8 * MiB)]], big(8 * MiB)), 405],
    ["a body that claims 10 GB", buildRequest("POST", "/", [["content-length", "10000000000"]], "abc"), 405],
    [
      "a chunked body that is not chunked",
      buildRequest("POST", "/", [["transfer-encoding", "chunked"]], "zz\r\n"),
      undefined,
    ],
    [
      "Content-Length and chunked at once",
      buildRequest("POST", "/", [["content-length", "3"], ["transfer-encoding", "chunked"]], "0\r\n\r\n"),
      400,
    ],
    ["an 8 KiB header", buildRequest("GET", "/", [["x-big", big(8 * 1024)]]), 200],
    ["a 256 KiB header", buildRequest("GET", "/", [["x-big", big(256 * 1024)]]), 400],
    ["1000 headers", buildRequest("GET", "/", Array.from({ length: 1000 }, (_, i) => [`x-h${i}`, "v"])), 400],
    ["a 256 KiB URL", buildRequest("GET", `/${big(256 * 1024)}`), 400],
    ["not HTTP at all", "BLAH\r\n\r\n", 400],
    // Deno's own instrumentation parses the URL before the handler runs and throws; onError answers.
    ["a Host that is not a host", latin1("GET / HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n"), 500],
  ];
  let exit;
  const stalled: Deno.Conn[] = [];
  try {
    for (const [what, request, status] of table) {
      const response = await rawRequest(port, request, { signal: AbortSignal.timeout(15_000) });
      assert.equal(response?.status, status, what);
      if (response !== undefined) assertSafeHeaders(response, what);
      if (status === 405) assert.equal(header(response!, "allow"), "GET, HEAD", what);
      if (status === 500) assert.equal(response!.body, '{"error":"internal server error"}', what);
    }
    // Slow clients: 200 connections that never finish their request head, and one that never finishes
    // its body. They hold nothing the others need: every normal request is still answered.
    for (let i = 0; i < 200; i++) {
      stalled.push(await stalledConnection(port, "GET / HTTP/1.1\r\nHost: x\r\n"));
    }
    const slowBody = await stalledConnection(
      port,
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab",
    );
    const [first] = (await readUntilHead(slowBody)).split("\r\n");
    assert.equal(first, "HTTP/1.1 405 Method Not Allowed", "answered before the body is complete");
    stalled.push(slowBody);
    for (let i = 0; i < 50; i++) {
      const response = await rawRequest(port, buildRequest("GET", "/health"), {
        signal: AbortSignal.timeout(15_000),
      });
      assert.equal(response?.status, 200);
    }
  } finally {
    // Stopped while the slow clients are still connected.
    exit = await server.stop();
  }
  // An unfinished request head does not hold up the graceful shutdown, but an unfinished body does (its
  // request is still open, though answered): the drain deadline ends it, and every connection is closed.
  for (const conn of stalled) await readResponse(conn, { signal: AbortSignal.timeout(15_000) });
  assert.equal(exit.code, 1, exit.stderr);
  assert.match(exit.stderr, /^Server: unexpected error: TypeError: Invalid URL: 'http:\/\/a b\/'/);
  assert.match(exit.stderr, /\nServer: requests still open after 500 ms, exiting\n$/);
});

/** Reads from `conn` until the end of a response head, without closing it. */
async function readUntilHead(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(4096);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += fromLatin1(buffer.subarray(0, n));
  }
  return text;
}

Deno.test("Deno 2.9.6 defect, pinned: the plain command never answers the six malformed baggage forms; with OTEL_PROPAGATORS=tracecontext it does", async () => {
  // The tutorial's command: `OTEL_DENO=true deno run --allow-net server.ts` (plus HOST and PORT, for a free
  // port); OTEL_PROPAGATORS set to Deno's default, so that server.env's value does not apply.
  const forms = ["k=%E0%A4%A", "a=%", "a=%C0%80", "a=%FF", "a=%ED%A0%80", "%E0=1"];
  const answered: Record<string, number> = {};
  for (const propagators of ["tracecontext,baggage", "tracecontext"]) {
    const server = await startServer({
      script: "server.ts",
      permissions: ["--allow-net", "--allow-env=HOST,PORT"],
      otlpEndpoint: `http://127.0.0.1:${closedPort()}`,
      env: { OTEL_PROPAGATORS: propagators },
    });
    try {
      const stuck = await Promise.all(
        forms.map((form) =>
          stalledConnection(server.port, buildRequest("GET", "/health", [["baggage", form]]))
        ),
      );
      // A good request on another connection is answered meanwhile; each bad one gets 2 s, then is closed.
      assert.equal((await rawRequest(server.port, buildRequest("GET", "/health")))?.status, 200);
      const answers = await Promise.all(
        stuck.map((conn) => readResponse(conn, { signal: AbortSignal.timeout(2000) }).catch(() => undefined)),
      );
      answered[propagators] = answers.filter((answer) => answer?.status === 200).length;
    } finally {
      await server.stop("SIGKILL");
    }
  }
  assert.deepEqual(
    answered,
    { "tracecontext,baggage": 0, "tracecontext": forms.length }, // fixed when 6/6
    "Deno answered: the defect is fixed, update the README, docs/reliability.md, the doctor and this test",
  );
});
