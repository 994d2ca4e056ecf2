/**
 * The shop's inventory: how many of each item are in stock, in a SQLite database of its own.
 * `GET /stock?ids=1,2,3` answers `{ "stock": { "1": 1000, … } }`. Each query is a CLIENT span by the
 * database semantic conventions (see `catalog.ts`).
 *
 * ```sh
 * OTEL_DENO=true OTEL_SERVICE_NAME=inventory SHOP_DATA_DIR=/tmp/shop-inventory deno run \
 *   --allow-net=127.0.0.1 --allow-env=HOST,PORT,FAULTS,SHOP_DATA_DIR --allow-read=/tmp/shop-inventory \
 *   --allow-write=/tmp/shop-inventory shop/inventory.ts
 * ```
 *
 * `FAULTS=slow-dependency` makes one request in five take half a second.
 *
 * @module
 */
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";

const tracer = trace.getTracer("inventory", "1.0.0");
let faults = (Deno.env.get("FAULTS") ?? "").split(","); // PUT /faults switches them at runtime
const ROUND_TRIP_MS = 2; // a database server across the network, as in catalog.ts
const SLOW_MS = 500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one statement as a CLIENT span named `{operation} {table}`; the values go in as bound parameters. */
function query(db: DatabaseSync, operation: string, table: string, sql: string, values: SQLInputValue[]) {
  const attributes = {
    "db.system.name": "sqlite",
    "db.namespace": "inventory",
    "db.operation.name": operation,
    "db.collection.name": table,
    "db.query.text": sql,
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

/** Creates the database in `dir` with every item in stock but the last. */
function openInventory(dir: string): DatabaseSync {
  Deno.mkdirSync(dir, { recursive: true });
  const db = new DatabaseSync(`${dir}/inventory.db`);
  db.exec("CREATE TABLE IF NOT EXISTS stock (item_id INTEGER PRIMARY KEY, quantity INTEGER NOT NULL)");
  const insert = db.prepare("INSERT OR REPLACE INTO stock (item_id, quantity) VALUES (?, ?)");
  for (let id = 1; id <= 8; id++) insert.run(id, id === 8 ? 0 : 1000); // item 8 is sold out
  return db;
}

const DATA_DIR = Deno.env.get("SHOP_DATA_DIR") ?? "shop-data/inventory"; // removed at stop
const db = openInventory(DATA_DIR);
let requests = 0;

/** `PUT /faults?on=a,b`: the faults on from now; the frontend sends it to every service. */
function setFaults(url: URL): Response {
  faults = (url.searchParams.get("on") ?? "").split(",");
  return Response.json({ faults });
}

async function handler(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/faults" && request.method === "PUT") return setFaults(url);
  if (url.pathname !== "/stock") return Response.json({ error: "not found" }, { status: 404 });
  trace.getActiveSpan()?.setAttribute("http.route", "/stock").updateName(`${request.method} /stock`);
  const ids = (url.searchParams.get("ids") ?? "").split(",");
  if (ids.length > 100 || !ids.every((id) => /^[1-9]\d{0,8}$/.test(id))) {
    return Response.json({ error: "ids: up to 100 whole numbers, comma-separated" }, { status: 400 });
  }
  // The slow-dependency fault: every fifth request waits before it answers (self time of the SERVER span).
  if (faults.includes("slow-dependency") && ++requests % 5 === 0) await sleep(SLOW_MS);
  const placeholders = ids.map(() => "?").join(", ");
  const sql = `SELECT item_id, quantity FROM stock WHERE item_id IN (${placeholders})`;
  const rows = await query(db, "SELECT", "stock", sql, ids.map(Number));
  return Response.json({ stock: Object.fromEntries(rows.map((row) => [row.item_id, row.quantity])) });
}

if (import.meta.main) {
  const server = Deno.serve({
    hostname: Deno.env.get("HOST") ?? "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? "0"),
    onListen: ({ hostname, port }) => console.log(`inventory listening on http://${hostname}:${port}/`),
  }, handler);
  const stop = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop.resolve);
  await stop.promise; // the listeners stay until the end: a second signal must not cut the stop short
  await server.shutdown(); // requests in flight finish; then the process ends on its own and exports
  db.close();
  Deno.removeSync(DATA_DIR, { recursive: true });
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(signal, stop.resolve);
  console.log("inventory stopped");
}
