/**
 * Known traces for the viewer's tests: a checkout across three services whose critical path and self
 * times are known.
 *
 * @module
 */

/**
 * OTLP/JSON of a checkout a minute ago: `dbMs` in the database (service `db`, `SELECT orders`) and 20 ms in
 * the cache (`cache`, `GET cart`) one after the other, under the shop's `POST /checkout`, which works 10 ms
 * more on its own. `failed` marks the database call as an error; `environment` is every resource's
 * `deployment.environment`. Span ids are the trace id's first 14 digits and 00, 01, 02.
 */
export function checkout(
  traceId: string,
  dbMs: number,
  { failed = false, environment = "test" } = {},
): { resourceSpans: unknown[] } {
  const start = BigInt(Date.now()) * 1_000_000n - 60_000_000_000n;
  const at = (ms: number) => String(start + BigInt(ms) * 1_000_000n);
  const id = (n: number) => traceId.slice(0, 14) + String(n).padStart(2, "0");
  const resource = (service: string) => ({
    attributes: [
      { key: "service.name", value: { stringValue: service } },
      { key: "deployment.environment", value: { stringValue: environment } },
    ],
  });
  const span = (n: number, name: string, from: number, to: number, fields: Record<string, unknown> = {}) => ({
    traceId,
    spanId: id(n),
    name,
    kind: 2,
    startTimeUnixNano: at(from),
    endTimeUnixNano: at(to),
    ...(n > 0 ? { parentSpanId: id(0) } : {}),
    ...fields,
  });
  const scope = (spans: unknown[]) => [{ scope: { name: "checkout" }, spans }];
  return {
    resourceSpans: [
      {
        resource: resource("shop"),
        scopeSpans: scope([
          span(0, "POST /checkout", 0, dbMs + 30, {
            attributes: [{ key: "http.route", value: { stringValue: "/checkout" } }],
          }),
        ]),
      },
      {
        resource: resource("db"),
        scopeSpans: scope([
          span(1, "SELECT orders", 0, dbMs, failed ? { status: { code: 2, message: "deadlock" } } : {}),
        ]),
      },
      { resource: resource("cache"), scopeSpans: scope([span(2, "GET cart", dbMs, dbMs + 20)]) },
    ],
  };
}
