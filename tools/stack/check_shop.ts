/**
 * The shop chapter's part of `deno task test:stack` ({@linkcode checkShop}): runs the shop (`shop/start.ts`)
 * with every fault on against the stack, sends a checkout and then a burst of concurrent ones, stops it, and
 * then
 *
 * 1. Tempo finds each fault's traces with one TraceQL query ({@linkcode SHOP_TRACEQL}), within this run's
 *    traces only (`resource.shop.run`); for `sequential`, which TraceQL cannot express (it compares no two
 *    spans' times), the check reads a checkout's trace from Tempo and compares the two calls itself;
 * 2. Prometheus holds Deno's HTTP metrics of every shop service, which the "Deno services" dashboard's
 *    service list is made of.
 *
 * @module
 */
import { type Fault, FAULTS, SHOP_SERVICES, startShop } from "@example/shop/service";
import { EXTRA_CHECKOUTS } from "@example/shop/demo";
import { CheckError, getJson, ok, poll, type StackEndpoints } from "./stack_http.ts";

/** For each fault, the TraceQL query that finds its traces; `run` narrows it to one run of the shop. */
export const SHOP_TRACEQL: Record<Fault, (run: string) => string> = {
  "n-plus-one": (run) =>
    `{ resource.shop.run = "${run}" && resource.service.name = "catalog" && span.db.collection.name = "items" }` +
    ` | count() > 1`,
  "sequential": (run) =>
    `{ resource.shop.run = "${run}" && span.url.path = "/items" } && { resource.shop.run = "${run}" && ` +
    `span.url.path = "/stock" }`,
  "pool": (run) => `{ resource.shop.run = "${run}" && name = "wait for connection" }`,
  "slow-dependency": (run) =>
    `{ resource.shop.run = "${run}" && resource.service.name = "frontend" && kind = client && status = error && ` +
    `span.url.path = "/stock" }`,
  "errors": (run) =>
    `{ resource.shop.run = "${run}" && resource.service.name = "orders" && kind = internal && status = error }`,
};

/** A span of Tempo's trace answer, with what the `sequential` check reads. */
export interface TimedSpan {
  /** The span id, base64. */
  spanId: string;
  /** The span's name. */
  name: string;
  /** The span kind, such as `SPAN_KIND_CLIENT`. */
  kind: string;
  /** When it started, nanoseconds since the Unix epoch, as a decimal string. */
  startTimeUnixNano: string;
  /** When it ended, likewise. */
  endTimeUnixNano: string;
  /** Its attributes (only string values are read). */
  attributes?: { key: string; value: { stringValue?: string } }[];
}

/** Whether, in Tempo's answer for one checkout, the frontend's `/stock` call started after `/items` ended. */
export function callsInSequence(body: {
  trace?: { resourceSpans?: { scopeSpans?: { spans?: TimedSpan[] }[] }[] };
}): boolean | undefined {
  const spans = (body.trace?.resourceSpans ?? []).flatMap((r) =>
    (r.scopeSpans ?? []).flatMap((s) => s.spans ?? [])
  );
  const call = (path: string) =>
    spans.find((span) =>
      span.kind === "SPAN_KIND_CLIENT" &&
      span.attributes?.some((a) => a.key === "url.path" && a.value.stringValue === path)
    );
  const [items, stock] = [call("/items"), call("/stock")];
  if (!items || !stock) return undefined;
  return BigInt(stock.startTimeUnixNano) >= BigInt(items.endTimeUnixNano);
}

async function runShop(otlpEndpoint: string, run: string): Promise<void> {
  const env = { OTEL_RESOURCE_ATTRIBUTES: `shop.run=${run}`, OTEL_METRIC_EXPORT_INTERVAL: "1000" };
  const shop = await startShop({ otlpEndpoint, faults: Object.keys(FAULTS), env });
  const checkout = () => fetch(`${shop.url}checkout?items=1,2,3`).then((response) => response.body?.cancel());
  const sent = checkout().then(() => Promise.all(Array.from({ length: EXTRA_CHECKOUTS }, checkout)));
  const done = await sent.then(() => undefined, (error) => error);
  const exit = await shop.stop();
  if (done) throw done;
  if (exit.code !== 0) {
    throw new CheckError(`the shop did not stop cleanly (exit code ${exit.code}): ${exit.stderr}`);
  }
  ok(`shop run ${run}: ${1 + EXTRA_CHECKOUTS} checkouts with FAULTS=${Object.keys(FAULTS)}`);
}

/** Runs the shop's checks against the stack; rejects with a {@linkcode CheckError}. */
export async function checkShop(endpoints: StackEndpoints): Promise<void> {
  await checkShopTraces(endpoints);
  await checkShopMetrics(endpoints);
}

/** Runs the shop with every fault on, then finds each fault's traces in Tempo by TraceQL. */
export async function checkShopTraces(endpoints: StackEndpoints): Promise<void> {
  const { tempoUrl, otlpEndpoint, timeoutMs } = endpoints;
  const run = crypto.randomUUID().slice(0, 8);
  await runShop(otlpEndpoint, run);
  for (const [fault, query] of Object.entries(SHOP_TRACEQL)) {
    const q = query(run);
    const found = await poll(`Tempo to find the ${fault} traces`, timeoutMs, async () => {
      const params = new URLSearchParams({ q, limit: "20" });
      const body = await getJson(`${tempoUrl}/api/search?${params}`, "Tempo search") as {
        traces?: { traceID: string }[];
      };
      if (!body.traces?.length) throw new CheckError(`no trace for ${q}`);
      return body.traces;
    });
    if (fault === "sequential") {
      const body = await getJson(`${tempoUrl}/api/v2/traces/${found[0].traceID}`, "Tempo");
      if (callsInSequence(body as Parameters<typeof callsInSequence>[0]) !== true) {
        throw new CheckError(`trace ${found[0].traceID}: the /stock call did not wait for the /items call`);
      }
    }
    ok(`Tempo finds the ${fault} traces (${found.length}): ${q}`);
  }
}

/** Prometheus holds Deno's HTTP metrics of every shop service (run {@linkcode checkShopTraces} first). */
export async function checkShopMetrics(endpoints: StackEndpoints): Promise<void> {
  const { prometheusUrl, timeoutMs } = endpoints;
  for (const service of SHOP_SERVICES) {
    const query = `http_server_request_duration_seconds_count{job="${service}"}`; // OTLP: service.name is job
    await poll(`Prometheus to hold ${query}`, timeoutMs, async () => {
      const body = await getJson(
        `${prometheusUrl}/api/v1/query?${new URLSearchParams({ query })}`,
        "Prometheus",
      );
      if (!((body as { data?: { result?: unknown[] } }).data?.result?.length)) {
        throw new CheckError(`no series ${query} yet`);
      }
      return true;
    });
  }
  ok(`Prometheus has Deno's HTTP metrics of ${SHOP_SERVICES.join(", ")} (the dashboard's service list)`);
}
