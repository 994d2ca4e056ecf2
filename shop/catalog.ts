/**
 * The shop's catalog: items and their prices, in a SQLite database of its own. `GET /items?ids=1,2,3` answers
 * the items it knows, in one query. Deno does not trace `node:sqlite`, so each query is a CLIENT span by the
 * database semantic conventions, with placeholders in `db.query.text` and the values bound, never spliced in.
 *
 * ```sh
 * OTEL_DENO=true OTEL_SERVICE_NAME=catalog SHOP_DATA_DIR=/tmp/shop-catalog deno run --allow-net=127.0.0.1 \
 *   --allow-env=HOST,PORT,FAULTS,SHOP_DATA_DIR --allow-read=/tmp/shop-catalog \
 *   --allow-write=/tmp/shop-catalog shop/catalog.ts
 * ```
 *
 * `FAULTS=n-plus-one` asks for each item with a query of its own.
 *
 * @module
 */
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";

const tracer = trace.getTracer("catalog", "1.0.0");
let faults = (Deno.env.get("FAULTS") ?? "").split(","); // PUT /faults switches them at runtime
/** SQLite answers in microseconds; a database server across the network takes a round trip per query. */
const ROUND_TRIP_MS = 2;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one statement as a CLIENT span named `{operation} {table}`; the values go in as bound parameters. */
function query(db: DatabaseSync, operation: string, table: string, sql: string, values: SQLInputValue[]) {
  const attributes = {
    "db.system.name": "sqlite",
    "db.namespace": "catalog",
    "db.operation.name": operation,
    "db.collection.name": table,
    "db.query.text": sql, // placeholders only: a value may be personal data, and it is in `values`
  };
  return tracer.startActiveSpan(
    `${operation} ${table}`,
    { kind: SpanKind.CLIENT, attributes },
    async (span) => {
      try {
        await sleep(ROUND_TRIP_MS);
        return db.prepare(sql).all(...values);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** Creates the database in `dir` and fills it with the shop's items. */
function openCatalog(dir: string): DatabaseSync {
  Deno.mkdirSync(dir, { recursive: true });
  const db = new DatabaseSync(`${dir}/catalog.db`);
  db.exec(
    "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price_cents INTEGER)",
  );
  const insert = db.prepare("INSERT OR REPLACE INTO items (id, name, price_cents) VALUES (?, ?, ?)");
  const items = ["kettle", "teapot", "mug", "saucer", "tea towel", "sugar bowl", "milk jug", "spoon"];
  items.forEach((name, i) => insert.run(i + 1, name, 450 + 125 * i));
  return db;
}

const DATA_DIR = Deno.env.get("SHOP_DATA_DIR") ?? "shop-data/catalog"; // removed at stop
const db = openCatalog(DATA_DIR);

/** The items among `ids`: one query for all of them (or, with the `n-plus-one` fault, one per id). */
async function findItems(ids: number[]) {
  const columns = "SELECT id, name, price_cents FROM items";
  if (faults.includes("n-plus-one")) {
    const rows = [];
    for (const id of ids) rows.push(...await query(db, "SELECT", "items", `${columns} WHERE id = ?`, [id]));
    return rows;
  }
  const placeholders = ids.map(() => "?").join(", ");
  return await query(db, "SELECT", "items", `${columns} WHERE id IN (${placeholders})`, ids);
}

/** `PUT /faults?on=a,b`: the faults on from now; the frontend sends it to every service. */
function setFaults(url: URL): Response {
  faults = (url.searchParams.get("on") ?? "").split(",");
  return Response.json({ faults });
}

async function handler(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/faults" && request.method === "PUT") return setFaults(url);
  if (url.pathname !== "/items") return Response.json({ error: "not found" }, { status: 404 });
  trace.getActiveSpan()?.setAttribute("http.route", "/items").updateName(`${request.method} /items`);
  const ids = (url.searchParams.get("ids") ?? "").split(",");
  if (ids.length > 100 || !ids.every((id) => /^[1-9]\d{0,8}$/.test(id))) {
    return Response.json({ error: "ids: up to 100 whole numbers, comma-separated" }, { status: 400 });
  }
  return Response.json({ items: await findItems(ids.map(Number)) });
}

if (import.meta.main) {
  const server = Deno.serve({
    hostname: Deno.env.get("HOST") ?? "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? "0"),
    onListen: ({ hostname, port }) => console.log(`catalog listening on http://${hostname}:${port}/`),
  }, handler);
  const stop = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop.resolve);
  await stop.promise; // the listeners stay until the end: a second signal must not cut the stop short
  await server.shutdown(); // requests in flight finish; then the process ends on its own and exports
  db.close();
  Deno.removeSync(DATA_DIR, { recursive: true });
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(signal, stop.resolve);
  console.log("catalog stopped");
}
