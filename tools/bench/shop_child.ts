/**
 * The child of `deno task --cwd tools/bench shop`: runs `count` SQLite queries (`node:sqlite`, in memory) in the
 * variant named, and prints one JSON line with the CPU µs per query, the export included (it waits for the
 * batch to go out before it reads the CPU clock again).
 *
 * - `plain`: the statement alone.
 * - `span`: the statement inside a CLIENT span with the database conventions' attributes, as `shop/orders.ts`
 *   runs each query.
 *
 * @module
 */
import { cpuUsage } from "node:process";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";

const tracer = trace.getTracer("bench-shop", "1.0.0");

/** `shop/orders.ts`'s query: one CLIENT span per statement. */
function query(db: DatabaseSync, operation: string, table: string, sql: string, values: SQLInputValue[]) {
  const attributes = {
    "db.system.name": "sqlite",
    "db.namespace": "bench",
    "db.operation.name": operation,
    "db.collection.name": table,
    "db.query.text": sql,
  };
  return tracer.startActiveSpan(`${operation} ${table}`, { kind: SpanKind.CLIENT, attributes }, (span) => {
    try {
      return db.prepare(sql).all(...values);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

if (import.meta.main) {
  const [variant, count] = [Deno.args[0], Number(Deno.args[1])];
  const db = new DatabaseSync(":memory:");
  db.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price_cents INTEGER)");
  for (let id = 1; id <= 8; id++) {
    db.prepare("INSERT INTO items VALUES (?, ?, ?)").run(id, `item ${id}`, 100 * id);
  }
  const sql = "SELECT id, name, price_cents FROM items WHERE id IN (?, ?, ?)";
  const before = cpuUsage();
  for (let i = 0; i < count; i++) {
    const ids = [1 + (i % 6), 2 + (i % 6), 3 + (i % 6)];
    if (variant === "span") query(db, "SELECT", "items", sql, ids);
    else db.prepare(sql).all(...ids);
  }
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the batch goes out (OTEL_BSP_SCHEDULE_DELAY 200)
  const used = cpuUsage(before);
  console.log(JSON.stringify({ variant, us: (used.user + used.system) / count }));
}
