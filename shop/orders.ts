/**
 * The shop's orders: `POST /orders` charges the payment and writes the order in a SQLite database of its own,
 * with a confirmation message in an outbox table (a queue kept in the same transaction); a consumer then
 * sends each confirmation, in the order's trace. `GET /orders` answers how many orders there are and the
 * latest ten.
 * Each query is a CLIENT span by the database semantic conventions (see `catalog.ts`).
 *
 * ```sh
 * OTEL_DENO=true OTEL_SERVICE_NAME=orders SHOP_DATA_DIR=/tmp/shop-orders deno run --allow-net=127.0.0.1 \
 *   --allow-env=HOST,PORT,FAULTS,SHOP_DATA_DIR --allow-read=/tmp/shop-orders \
 *   --allow-write=/tmp/shop-orders shop/orders.ts
 * ```
 *
 * `FAULTS=pool` reaches the database through a pool of one connection; `FAULTS=errors` declines one payment
 * in four.
 *
 * @module
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";

const tracer = trace.getTracer("orders", "1.0.0");
let faults = (Deno.env.get("FAULTS") ?? "").split(","); // PUT /faults switches them at runtime
const POOL_SIZE = 10;
const PAYMENT_MS = 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs one statement as a CLIENT span named `{operation} {table}`; the values go in as bound parameters.
 * Synchronous, unlike the catalog's: a write transaction must not wait on anything while it holds the file.
 */
function query(db: DatabaseSync, operation: string, table: string, sql: string, values: SQLInputValue[]) {
  const attributes = {
    "db.system.name": "sqlite",
    "db.namespace": "orders",
    "db.operation.name": operation,
    "db.collection.name": table,
    "db.query.text": sql,
  };
  return tracer.startActiveSpan(`${operation} ${table}`, { kind: SpanKind.CLIENT, attributes }, (span) => {
    try {
      return db.prepare(sql).all(...values);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

const DATA_DIR = Deno.env.get("SHOP_DATA_DIR") ?? "shop-data/orders"; // removed at stop
Deno.mkdirSync(DATA_DIR, { recursive: true });
/** A connection. WAL: a commit appends to a log instead of syncing the file (the data is temporary). */
function connect(): DatabaseSync {
  const db = new DatabaseSync(`${DATA_DIR}/orders.db`);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  return db;
}
const schema = connect();
schema.exec(`CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, customer TEXT, total_cents INTEGER);
  CREATE TABLE IF NOT EXISTS order_lines
    (order_id INTEGER, item_id INTEGER, quantity INTEGER, price_cents INTEGER);
  CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, order_id INTEGER, carrier TEXT, sent INTEGER)`);

// A pool of connections (of one with the `pool` fault): a request that finds none free waits, in a span of
// its own, until one is handed back.
const idle = Array.from({ length: POOL_SIZE }, connect);
const waiting: (() => void)[] = [];
let inUse = 0;
async function withConnection<T>(work: (db: DatabaseSync) => Promise<T>): Promise<T> {
  const limit = faults.includes("pool") ? 1 : POOL_SIZE;
  const attributes = { "db.client.connection.pool.name": "orders", "db.client.connection.pool.max": limit };
  if (inUse < limit) inUse++;
  else {
    await tracer.startActiveSpan(
      "wait for connection",
      { attributes },
      (span) => new Promise<void>((resolve) => waiting.push(resolve)).finally(() => span.end()),
    );
  }
  const db = idle.pop()!;
  try {
    return await work(db);
  } finally {
    idle.push(db);
    const next = inUse <= (faults.includes("pool") ? 1 : POOL_SIZE) ? waiting.shift() : undefined;
    if (next) next(); // the connection's turn passes straight to the next in line
    else inUse--;
  }
}

let payments = 0;
/** The payment provider (simulated): the `errors` fault declines every fourth payment. */
function chargePayment(totalCents: number): Promise<void> {
  const attributes = { "shop.total_cents": totalCents };
  return tracer.startActiveSpan("charge payment", { attributes }, async (span) => {
    try {
      await sleep(PAYMENT_MS);
      if (faults.includes("errors") && ++payments % 4 === 0) throw new Error("payment declined (simulated)");
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

const messaging = (type: "send" | "process") => ({
  "messaging.system": "sqlite_outbox",
  "messaging.operation.type": type,
  "messaging.operation.name": type,
  "messaging.destination.name": "confirmations",
});

interface Line {
  item_id: number;
  quantity: number;
  price_cents: number;
}

/** Writes the order, its lines and its confirmation message in one transaction; returns the order's id. */
function writeOrder(db: DatabaseSync, customer: string, lines: Line[], total: number): number {
  db.exec("BEGIN");
  try {
    const sql = "INSERT INTO orders (customer, total_cents) VALUES (?, ?) RETURNING id";
    const id = Number(query(db, "INSERT", "orders", sql, [customer, total])[0].id);
    const values = lines.map(() => "(?, ?, ?, ?)").join(", ");
    const params = lines.flatMap((line) => [id, line.item_id, line.quantity, line.price_cents]);
    query(db, "INSERT", "order_lines", `INSERT INTO order_lines VALUES ${values}`, params);
    // The message carries the trace, as a queue's message would: the consumer continues it.
    tracer.startActiveSpan(
      "send confirmations",
      { kind: SpanKind.PRODUCER, attributes: messaging("send") },
      (span) => {
        const carrier: Record<string, string> = {};
        propagation.inject(context.active(), carrier);
        const insert = "INSERT INTO outbox (order_id, carrier, sent) VALUES (?, ?, 0)";
        query(db, "INSERT", "outbox", insert, [id, JSON.stringify(carrier)]);
        span.end();
      },
    );
    db.exec("COMMIT");
    return id;
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

// The consumer: sends each confirmation in a CONSUMER span that continues the order's trace.
const consumer = connect();
let draining = Promise.resolve();
function drainOutbox() {
  draining = draining.then(async () => {
    const sql = "SELECT id, carrier FROM outbox WHERE sent = 0 ORDER BY id";
    for (const message of query(consumer, "SELECT", "outbox", sql, [])) {
      const parent = propagation.extract(ROOT_CONTEXT, JSON.parse(String(message.carrier)));
      const attributes = { ...messaging("process"), "messaging.message.id": String(message.id) };
      await tracer.startActiveSpan(
        "process confirmations",
        { kind: SpanKind.CONSUMER, attributes },
        parent,
        async (span) => {
          await sleep(5); // the e-mail goes out (simulated)
          query(consumer, "UPDATE", "outbox", "UPDATE outbox SET sent = 1 WHERE id = ?", [message.id]);
          span.end();
        },
      );
    }
  }).catch((error) => console.error(`orders: the outbox consumer failed: ${error.message}`));
}

/** The order in a request's body, or `undefined` when it is not one. */
function readOrder(body: unknown): { customer: string; lines: Line[] } | undefined {
  const { customer, lines } = (body ?? {}) as { customer?: unknown; lines?: unknown };
  const whole = (n: unknown, max: number) => Number.isInteger(n) && (n as number) > 0 && (n as number) <= max;
  if (typeof customer !== "string" || customer.length > 64) return;
  if (!Array.isArray(lines) || lines.length === 0 || lines.length > 20) return;
  if (!lines.every((l) => whole(l?.item_id, 1e9) && whole(l?.quantity, 20) && whole(l?.price_cents, 1e7))) {
    return;
  }
  return { customer, lines };
}

async function placeOrder(request: Request): Promise<Response> {
  const order = readOrder(await request.json().catch(() => undefined));
  if (!order) {
    const error = "an order is { customer, lines: [{ item_id, quantity, price_cents }] }";
    return Response.json({ error }, { status: 400 });
  }
  const total = order.lines.reduce((sum, line) => sum + line.quantity * line.price_cents, 0);
  // The connection is taken for the whole order, payment included: the pool fault makes that a queue.
  const id = await withConnection(async (db) => {
    await chargePayment(total);
    return writeOrder(db, order.customer, order.lines, total);
  });
  drainOutbox();
  return Response.json({ order: id, total_cents: total }, { status: 201 });
}

function listOrders(): Response {
  const [{ count }] = query(consumer, "SELECT", "orders", "SELECT count(*) AS count FROM orders", []);
  const sql = "SELECT id, customer, total_cents FROM orders ORDER BY id DESC LIMIT 10";
  return Response.json({ count, latest: query(consumer, "SELECT", "orders", sql, []) });
}

/** `PUT /faults?on=a,b`: the faults on from now; the frontend sends it to every service. */
function setFaults(url: URL): Response {
  faults = (url.searchParams.get("on") ?? "").split(",");
  return Response.json({ faults });
}

async function handler(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/faults" && request.method === "PUT") return setFaults(url);
  if (url.pathname !== "/orders") return Response.json({ error: "not found" }, { status: 404 });
  trace.getActiveSpan()?.setAttribute("http.route", "/orders").updateName(`${request.method} /orders`);
  if (request.method === "GET") return listOrders();
  if (request.method !== "POST") return Response.json({ error: "GET or POST" }, { status: 405 });
  try {
    return await placeOrder(request);
  } catch (error) {
    return Response.json({ error: (error as Error).message }, { status: 500 });
  }
}

if (import.meta.main) {
  const server = Deno.serve({
    hostname: Deno.env.get("HOST") ?? "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? "0"),
    onListen: ({ hostname, port }) => console.log(`orders listening on http://${hostname}:${port}/`),
  }, handler);
  const stop = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop.resolve);
  await stop.promise; // the listeners stay until the end: a second signal must not cut the stop short
  await server.shutdown(); // requests in flight finish, then the confirmations they left in the outbox
  await draining;
  for (const db of [...idle, consumer, schema]) db.close();
  Deno.removeSync(DATA_DIR, { recursive: true });
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(signal, stop.resolve);
  console.log("orders stopped");
}
