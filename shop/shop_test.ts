import assert from "node:assert/strict";
import { startReceiver, type TelemetryStore, type Trace } from "@example/otlp/receiver";
import { ROOT, runDeno, spawn } from "@example/harness/processes";
import { type Fault, FAULTS, shopCommand, shopEnv, startShop } from "./service.ts";
import { EXTRA_CHECKOUTS } from "./demo.ts";
import { callsTo, checkoutSpan, dbSpans, missingFromTrace, SIGNATURES } from "./signatures.ts";

const ALL_FAULTS = Object.keys(FAULTS) as Fault[];
/** The usual injection strings: as a customer's name each is stored as it is, and runs as nothing. */
const HOSTILE = [
  "Robert'); DROP TABLE orders;--",
  "' OR '1'='1",
  '" OR 1=1; --',
  "1; UPDATE stock SET quantity = 0",
  "x' UNION SELECT carrier FROM outbox --",
];

const checkout = (url: string, query: string) =>
  fetch(`${url}checkout?${query}`).then(async (response) => ({
    status: response.status,
    body: await response.json(),
  }));
/** What `GET /orders` answers. */
type Stored = { count: number; latest: { customer: string }[] };
const orders = (url: string): Promise<Stored> => fetch(`${url}orders`).then((response) => response.json());

/**
 * The traces of the checkouts (those with the frontend's SERVER span), once `count` of them and `confirmed`
 * confirmations arrived. The shop has ended by then: everything it exported is in the store already.
 */
function checkoutTraces(store: TelemetryStore, count: number, confirmed: number): Promise<Trace[]> {
  return store.waitFor((store) => {
    const traces = store.traces().filter((trace) => checkoutSpan(trace) !== undefined);
    const confirmations = store.spans.filter((span) => span.name === "process confirmations").length;
    return traces.length >= count && confirmations >= confirmed && traces;
  }, { signal: AbortSignal.timeout(10_000) });
}

Deno.test("the shop, every fault off: one trace per checkout, database conventions, bad input", async (t) => {
  await using receiver = startReceiver({ port: 0 });
  const shop = await startShop({ otlpEndpoint: receiver.url });
  const answers = [];
  let stored: Stored | undefined, before: Stored | undefined;
  try {
    answers.push(await checkout(shop.url, "items=1,2,3"));
    for (const customer of HOSTILE) {
      answers.push(await checkout(shop.url, `items=2,2&customer=${encodeURIComponent(customer)}`));
    }
    answers.push(...await Promise.all([1, 2, 3, 4].map(() => checkout(shop.url, "items=1,4"))));
    before = await orders(shop.services.orders);
    await t.step("bad input gets a clear 4xx and changes nothing stored", async () => {
      const cases: [string, number, RegExp][] = [
        ["", 400, /^items: 1 to 20 item numbers/],
        ["items=abc", 400, /^items:/],
        [`items=${encodeURIComponent("1;DROP TABLE items")}`, 400, /^items:/],
        [`items=${encodeURIComponent("1 OR 1=1")}`, 400, /^items:/],
        [`items=${Array(1000).fill(1)}`, 400, /^items:/],
        ["items=1,99", 404, /^no such item: 99$/],
        ["items=8", 409, /^not enough in stock: 8$/],
        [`items=1&customer=${"x".repeat(65)}`, 400, /^customer:/],
        ["items=1&customer=a%00b", 400, /^customer:/],
      ];
      for (const [query, status, message] of cases) {
        const answer = await checkout(shop.url, query);
        assert.equal(answer.status, status, query);
        assert.match(answer.body.error, message, query);
      }
      const post = (body: string) => fetch(`${shop.services.orders}orders`, { method: "POST", body });
      for (
        const body of [
          "{",
          "[]",
          '{"customer":1,"lines":[]}',
          `{"customer":"a","lines":[{"item_id":"1 OR 1=1"}]}`,
        ]
      ) {
        const response = await post(body);
        assert.equal(response.status, 400, body);
        await response.body?.cancel();
      }
      const catalog = await fetch(`${shop.services.catalog}items?ids=${encodeURIComponent("1) OR (1=1")}`);
      assert.equal(catalog.status, 400);
      await catalog.body?.cancel();
      assert.deepEqual(await orders(shop.services.orders), before);
    });
    stored = before;
  } finally {
    const exit = await shop.stop("SIGINT"); // as Ctrl-C: the launcher stops the frontend, then the rest
    assert.equal(exit.code, 0, exit.stdout + exit.stderr);
  }
  const placed = answers.filter((answer) => answer.status === 200);
  assert.equal(placed.length, 1 + HOSTILE.length + 4, JSON.stringify(answers));

  await t.step("hostile names stay data: stored as they are, and every table is still there", () => {
    assert.equal(stored?.count, placed.length);
    const names = stored!.latest.map((order) => order.customer);
    for (const customer of HOSTILE) assert.ok(names.includes(customer), customer);
  });
  const traces = await checkoutTraces(receiver.store, answers.length, placed.length);
  await t.step(
    "the stop lost no span: every placed order's trace has every service and its confirmation",
    () => {
      const whole = traces.filter((trace) => missingFromTrace(trace).length === 0);
      assert.ok(whole.length >= placed.length, `${whole.length} whole traces of ${placed.length} orders`);
      const consumed = receiver.store.spans.filter((span) => span.name === "process confirmations");
      assert.equal(consumed.length, placed.length);
    },
  );
  await t.step("with every fault off, no trace shows any fault's signature", () => {
    for (const trace of traces) {
      for (const fault of ALL_FAULTS) {
        assert.equal(SIGNATURES[fault](trace), undefined, `${fault} in ${trace.traceId}`);
      }
    }
    const [first] = traces.filter((trace) => callsTo(trace, "/items").length > 0);
    const [items] = callsTo(first, "/items");
    const [stock] = callsTo(first, "/stock");
    assert.ok(stock.startTimeUnixNano < items.endTimeUnixNano, "the catalog and inventory calls overlap");
  });
  await t.step(
    "each query is a CLIENT span by the database conventions, with placeholders and no values",
    () => {
      const spans = traces.flatMap((trace) => dbSpans(trace));
      assert.ok(spans.length > 0);
      for (const span of spans) {
        const { attributes: a } = span;
        assert.equal(span.kind, "CLIENT");
        assert.equal(span.name, `${a["db.operation.name"]} ${a["db.collection.name"]}`);
        assert.match(String(a["db.operation.name"]), /^(SELECT|INSERT|UPDATE)$/);
        assert.equal(typeof a["db.query.text"], "string");
        const text = String(a["db.query.text"]);
        for (const value of [...HOSTILE, "guest", "Robert", "1725"]) assert.ok(!text.includes(value), text);
        if (span.service !== "orders" || /^(INSERT|UPDATE)/.test(text)) assert.match(text, /\?/, text);
      }
      const names = new Set(spans.map((span) => `${span.service} ${span.name}`));
      for (const name of ["catalog SELECT items", "inventory SELECT stock", "orders INSERT orders"]) {
        assert.ok(names.has(name), `${name} in ${[...names]}`);
      }
    },
  );
});

Deno.test("the shop with every fault on: each fault's signature, counted", async (t) => {
  await using receiver = startReceiver({ port: 0 });
  const shop = await startShop({ otlpEndpoint: receiver.url, faults: ALL_FAULTS });
  let answers, stored;
  try {
    const first = await checkout(shop.url, "items=1,2,3");
    answers = [
      first,
      ...await Promise.all(Array.from({ length: EXTRA_CHECKOUTS }, () => checkout(shop.url, "items=1,2,3"))),
    ];
    stored = await orders(shop.services.orders);
  } finally {
    const exit = await shop.stop("SIGTERM");
    assert.equal(exit.code, 0, exit.stdout + exit.stderr);
  }
  // A declined payment; a checkout whose inventory call timed out twice fails too, with another message.
  const failed = answers.filter((answer) => /payment declined/.test(answer.body.error));
  const placed = answers.filter((answer) => answer.status === 200).length;
  const traces = await checkoutTraces(receiver.store, answers.length, placed);
  const showing = (fault: Fault) => traces.filter((trace) => SIGNATURES[fault](trace) !== undefined);

  await t.step("n-plus-one: one SELECT per item under GET /items, where there was one", () => {
    for (const trace of traces) {
      const server = trace.spans.find((span) => span.service === "catalog" && span.kind === "SERVER");
      assert.equal(
        dbSpans(trace, "catalog").filter((span) => span.parentSpanId === server?.spanId).length,
        3,
      );
    }
  });
  await t.step("sequential: the inventory call starts after the catalog call ended, in every trace", () => {
    assert.equal(showing("sequential").length, traces.length);
  });
  await t.step("pool: concurrent orders wait for the one connection, in a span of its own", () => {
    const waits = receiver.store.spans.filter((span) => span.name === "wait for connection");
    assert.ok(waits.length > 0);
    assert.ok(
      waits.every((span) => span.service === "orders" && span.endTimeUnixNano > span.startTimeUnixNano),
    );
    assert.equal(waits[0].attributes["db.client.connection.pool.max"], 1);
  });
  await t.step("slow-dependency: an ERROR CLIENT span (timed out), then a second attempt", () => {
    const [trace] = showing("slow-dependency");
    assert.ok(trace, "a trace with a retried inventory call");
    const [first, second] = callsTo(trace, "/stock");
    assert.equal(first.status.code, "ERROR");
    assert.equal(first.kind, "CLIENT");
    assert.ok(second.startTimeUnixNano >= first.endTimeUnixNano);
  });
  await t.step("errors: the failure starts at orders' charge payment and shows up to the checkout", () => {
    assert.ok(failed.length > 0, JSON.stringify(answers));
    assert.equal(failed[0].status, 502);
    const errored = showing("errors");
    assert.equal(errored.length, failed.length);
    for (const trace of errored) {
      const chain = trace.spans.filter((span) => span.status.code === "ERROR").map((span) =>
        `${span.service} ${span.name}`
      );
      for (
        const name of [
          "orders charge payment",
          "orders POST /orders",
          "frontend POST",
          "frontend GET /checkout",
        ]
      ) {
        assert.ok(chain.includes(name), `${name} in ${chain}`);
      }
    }
    assert.equal(stored.count, placed, "a declined payment stores no order");
  });
});

Deno.test("a bad FAULTS or SHOP_PORT is one line on stderr and exit code 2", async () => {
  const { permissions, script } = shopCommand();
  const cases: [Record<string, string>, RegExp][] = [
    [
      { FAULTS: "n-plus-one,bogus" },
      /^shop: unknown fault bogus in FAULTS: the faults are n-plus-one,sequential,/,
    ],
    [{ SHOP_PORT: "80a" }, /^shop: SHOP_PORT must be a port number, got "80a"$/],
  ];
  for (const [env, message] of cases) {
    const run = await runDeno(script, { permissions, env: shopEnv({ env }) });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr.trim(), message);
    assert.equal(run.stderr.trim().split("\n").length, 1);
  }
});

Deno.test("a SHOP_PORT in use stops the services already started, and exits 2", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { permissions, script } = shopCommand();
  const run = await runDeno(script, {
    permissions,
    env: shopEnv({ env: { SHOP_PORT: String(taken.addr.port) } }),
  });
  assert.equal(run.code, 2, run.stdout + run.stderr);
  assert.match(run.stderr, /^shop: frontend ended before it listened/m);
  for (const name of ["catalog", "inventory", "orders"]) {
    assert.match(run.stdout, new RegExp(`^${name} +\\| ${name} stopped$`, "m"));
  }
});

Deno.test("deno task demo:shop --fault=n-plus-one draws the trace and exits 0", async () => {
  const output = await spawn("deno", ["task", "demo:shop", "--fault=n-plus-one"], ROOT, {}).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, stdout + new TextDecoder().decode(output.stderr));
  assert.match(stdout, /5 services \(client, frontend, /);
  assert.match(stdout, /n-plus-one: [34] "SELECT items" spans under one "GET \/items"/);
  assert.match(stdout, /every service joined/);
});

Deno.test("deno task shop:load sends steady checkouts and ends with p50 and p95", async () => {
  await using shop = await startShop();
  const output = await spawn("deno", ["task", "shop:load", "--rate=20", "--duration=1"], ROOT, {
    SHOP_URL: shop.url,
  })
    .output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, stdout + new TextDecoder().decode(output.stderr));
  assert.match(
    stdout,
    /^done: sent 20 {2}ok 20 {2}failed 0 {2}skipped 0 {2}p50 [\d.]+ ms {2}p95 [\d.]+ ms$/m,
  );
  const bad = await spawn("deno", ["task", "shop:load", "--rate=0"], ROOT, {}).output();
  assert.equal(bad.code, 2);
  assert.match(
    new TextDecoder().decode(bad.stderr),
    /^shop:load: --rate takes a whole number from 1 to 200, got "0"$/m,
  );
});

Deno.test("PUT /faults switches the faults of every service at runtime, without a restart", async () => {
  await using receiver = startReceiver({ port: 0 });
  const shop = await startShop({ otlpEndpoint: receiver.url });
  const put = (on: string) =>
    fetch(`${shop.url}faults?on=${on}`, { method: "PUT" }).then(async (r) => [r.status, await r.json()]);
  const answers = [];
  try {
    answers.push(await checkout(shop.url, "items=1,2,3"));
    assert.deepEqual(await put("n-plus-one,sequential"), [200, { faults: ["n-plus-one", "sequential"] }]);
    answers.push(await checkout(shop.url, "items=1,2,3"));
    assert.deepEqual(await put(""), [200, { faults: [] }]);
    answers.push(await checkout(shop.url, "items=1,2,3"));
    assert.deepEqual(await put("pool"), [200, { faults: ["pool"] }]);
    answers.push(...await Promise.all([1, 2, 3, 4].map(() => checkout(shop.url, "items=1"))));
    const [status, body] = await put("n-plus-one,bogus");
    assert.equal(status, 400);
    assert.match(body.error, /^unknown fault bogus: the faults are n-plus-one,sequential,pool,/);
  } finally {
    assert.equal((await shop.stop()).code, 0);
  }
  assert.deepEqual(answers.map((answer) => answer.status), Array(7).fill(200));
  const waits = receiver.store.spans.filter((span) => span.name === "wait for connection");
  assert.ok(
    waits.length > 0 && waits.every((span) => span.attributes["db.client.connection.pool.max"] === 1),
  );
  const traces = (await checkoutTraces(receiver.store, 7, 7))
    .sort((a, b) => checkoutSpan(a)!.startTimeUnixNano < checkoutSpan(b)!.startTimeUnixNano ? -1 : 1);
  const shows = (fault: Fault) => traces.map((trace) => SIGNATURES[fault](trace) !== undefined);
  assert.deepEqual(shows("n-plus-one").slice(0, 3), [false, true, false]);
  assert.deepEqual(shows("sequential").slice(0, 3), [false, true, false]);
  assert.deepEqual(shows("pool").slice(0, 3), [false, false, false]);
});
