/**
 * The shop's front door: `GET /checkout?items=1,2,2&customer=Ann` asks the catalog for the prices and the
 * inventory for the stock (at the same time: neither needs the other), then asks orders to write the order,
 * and answers it as JSON. Deno's `fetch` opens each call's CLIENT span and carries the trace to the service.
 *
 * ```sh
 * OTEL_DENO=true OTEL_SERVICE_NAME=frontend CATALOG_URL=… INVENTORY_URL=… ORDERS_URL=… deno run \
 *   --allow-net=127.0.0.1 --allow-env=HOST,PORT,FAULTS,CATALOG_URL,INVENTORY_URL,ORDERS_URL shop/frontend.ts
 * ```
 *
 * `FAULTS=sequential` calls the catalog and the inventory one after the other.
 *
 * @module
 */
import { SpanStatusCode, trace } from "@opentelemetry/api";

const FAULTS = ["n-plus-one", "sequential", "pool", "slow-dependency", "errors"];
let faults = (Deno.env.get("FAULTS") ?? "").split(","); // PUT /faults?on=… switches them at runtime
const [CATALOG, INVENTORY, ORDERS] = ["CATALOG_URL", "INVENTORY_URL", "ORDERS_URL"]
  .map((name) => Deno.env.get(name) ?? "http://127.0.0.1:0/");
/** The inventory is slow at times: give up on an attempt after this long, and try once more. */
const INVENTORY_TIMEOUT_MS = 200;

/** An answer for the user: a status and one line on what went wrong. */
class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** `fetch`es JSON from a service; an attempt that times out is tried again, up to `attempts` in all. */
async function call(url: string, { init = {}, timeoutMs = 2000, attempts = 1 } = {}) {
  for (let attempt = 1;; attempt++) {
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
      const body = await response.json();
      if (response.ok) return body;
      throw new HttpError(502, `${new URL(url).pathname} answered ${response.status}: ${body.error}`);
    } catch (error) {
      // Deno's CLIENT span of the attempt that timed out is in ERROR already; the next gets one of its own.
      if ((error as Error).name !== "TimeoutError" || attempt === attempts) throw error;
    }
  }
}

const getItems = (ids: number[]) => call(`${CATALOG}items?ids=${ids}`);
const getStock = (ids: number[]) =>
  call(`${INVENTORY}stock?ids=${ids}`, { timeoutMs: INVENTORY_TIMEOUT_MS, attempts: 2 });

/** The item ids of `?items=1,2,2` (an id twice is a quantity of two); a 400 for anything else. */
function parseItems(text: string | null): number[] {
  const ids = (text ?? "").split(",");
  if (ids.length > 20 || !ids.every((id) => /^[1-9]\d{0,5}$/.test(id))) {
    throw new HttpError(400, "items: 1 to 20 item numbers, comma-separated, such as ?items=1,2,2");
  }
  return ids.map(Number);
}

/** Any name is fine: it reaches SQL only as a bound parameter. Its length and control characters are not. */
function parseCustomer(text: string | null): string {
  const customer = text ?? "guest";
  if (customer.length > 64 || /\p{Cc}/u.test(customer)) {
    throw new HttpError(400, "customer: at most 64 characters, no control characters");
  }
  return customer;
}

async function checkout(url: URL): Promise<Response> {
  const wanted = parseItems(url.searchParams.get("items"));
  const customer = parseCustomer(url.searchParams.get("customer"));
  const ids = [...new Set(wanted)];
  const [{ items }, { stock }] = faults.includes("sequential")
    ? [await getItems(ids), await getStock(ids)]
    : await Promise.all([getItems(ids), getStock(ids)]);
  const lines = ids.map((id) => ({
    item_id: id,
    quantity: wanted.filter((w) => w === id).length,
    price_cents: items.find((item: { id: number }) => item.id === id)?.price_cents,
  }));
  const unknown = lines.filter((line) => line.price_cents === undefined).map((line) => line.item_id);
  if (unknown.length > 0) throw new HttpError(404, `no such item: ${unknown.join(", ")}`);
  const short = lines.filter((line) => (stock[line.item_id] ?? 0) < line.quantity).map((line) =>
    line.item_id
  );
  if (short.length > 0) throw new HttpError(409, `not enough in stock: ${short.join(", ")}`);
  const order = await call(`${ORDERS}orders`, {
    init: { method: "POST", body: JSON.stringify({ customer, lines }) },
  });
  return Response.json({ ...order, customer, lines });
}

/** `PUT /faults?on=pool,errors` (or `?on=` for none): switches the faults of every service, at once. */
async function switchFaults(url: URL): Promise<Response> {
  const on = (url.searchParams.get("on") ?? "").split(",").filter((name) => name !== "");
  const unknown = on.filter((name) => !FAULTS.includes(name));
  if (unknown.length > 0) throw new HttpError(400, `unknown fault ${unknown}: the faults are ${FAULTS}`);
  faults = on;
  await Promise.all(
    [CATALOG, INVENTORY, ORDERS].map((base) => call(`${base}faults?on=${on}`, { init: { method: "PUT" } })),
  );
  return Response.json({ faults: on });
}

async function handler(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const route = url.pathname === "/faults" && request.method === "PUT" ? "/faults" : "/checkout";
  if (url.pathname !== route) return Response.json({ error: "not found" }, { status: 404 });
  const span = trace.getActiveSpan(); // Deno's SERVER span
  span?.setAttribute("http.route", route).updateName(`${request.method} ${route}`);
  try {
    return await (route === "/faults" ? switchFaults(url) : checkout(url));
  } catch (error) {
    const status = error instanceof HttpError ? error.status : 502;
    const message = error instanceof HttpError ? error.message : `a service did not answer: ${error}`;
    if (status >= 500) span?.setStatus({ code: SpanStatusCode.ERROR, message });
    return Response.json({ error: message }, { status });
  }
}

if (import.meta.main) {
  const server = Deno.serve({
    hostname: Deno.env.get("HOST") ?? "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? "8002"),
    onListen: ({ hostname, port }) => console.log(`frontend listening on http://${hostname}:${port}/`),
  }, handler);
  const stop = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop.resolve);
  await stop.promise; // the listeners stay until the end: a second signal must not cut the stop short
  await server.shutdown(); // requests in flight finish; then the process ends on its own and exports
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(signal, stop.resolve);
  console.log("frontend stopped");
}
