/**
 * What each of the shop's problems leaves in a trace, counted: the one definition the tests, `deno task
 * demo:shop` and the stack check use. Each function reads one checkout's trace (as the receiver holds it) and
 * returns a line saying what it found, or `undefined` when the signature is not there.
 *
 * @module
 */
import type { Span } from "@example/otlp/decode";
import type { Trace } from "@example/otlp/receiver";
import { type Fault, SHOP_SERVICES } from "./service.ts";

const ms = (nanos: bigint) => Number(nanos) / 1e6;

/** The frontend's `GET /checkout` SERVER span of a trace. */
export function checkoutSpan(trace: Trace): Span | undefined {
  return trace.spans.find((span) =>
    span.service === "frontend" && span.kind === "SERVER" && span.attributes["http.route"] === "/checkout"
  );
}

/** The database spans (`db.system.name` `sqlite`) of `service` in a trace. */
export function dbSpans(trace: Trace, service?: string): Span[] {
  return trace.spans.filter((span) =>
    span.attributes["db.system.name"] === "sqlite" && (service === undefined || span.service === service)
  );
}

/** The frontend's calls (Deno's `fetch` CLIENT spans) to `path` (`/items`, `/stock`, `/orders`), by start. */
export function callsTo(trace: Trace, path: string): Span[] {
  return trace.spans
    .filter((span) =>
      span.service === "frontend" && span.kind === "CLIENT" && span.attributes["url.path"] === path
    )
    .sort((a, b) => a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1);
}

/** n-plus-one: more database spans under the catalog's SERVER span than the one query for all items. */
function nPlusOne(trace: Trace): string | undefined {
  const server = trace.spans.find((span) => span.service === "catalog" && span.kind === "SERVER");
  const queries = dbSpans(trace, "catalog").filter((span) => span.parentSpanId === server?.spanId);
  if (queries.length > 1) return `${queries.length} "SELECT items" spans under one "GET /items"`;
}

/** sequential: the call to the inventory starts only after the call to the catalog ended. */
function sequential(trace: Trace): string | undefined {
  const [items] = callsTo(trace, "/items");
  const [stock] = callsTo(trace, "/stock");
  if (items && stock && stock.startTimeUnixNano >= items.endTimeUnixNano) {
    return `the inventory call starts ${ms(stock.startTimeUnixNano - items.endTimeUnixNano).toFixed(1)} ms ` +
      `after the catalog call ended: they do not overlap`;
  }
}

/** pool: a `wait for connection` span in orders that took time. */
function pool(trace: Trace): string | undefined {
  const waits = trace.spans.filter((span) => span.name === "wait for connection");
  const longest = Math.max(...waits.map((span) => ms(span.endTimeUnixNano - span.startTimeUnixNano)));
  if (waits.length > 0 && longest > 0) return `"wait for connection" took ${longest.toFixed(1)} ms`;
}

/** slow-dependency: a call to the inventory that failed (ERROR, timed out), then a second attempt. */
function slowDependency(trace: Trace): string | undefined {
  const [first, second] = callsTo(trace, "/stock");
  if (first?.status.code === "ERROR" && second && second.startTimeUnixNano >= first.endTimeUnixNano) {
    return `the inventory call failed (${first.status.message}), a second attempt followed`;
  }
}

/** errors: an ERROR span in orders (where the failure started) and the frontend's SERVER span in ERROR. */
function errors(trace: Trace): string | undefined {
  const started = trace.spans.find((span) =>
    span.service === "orders" && span.kind === "INTERNAL" && span.status.code === "ERROR"
  );
  if (started && checkoutSpan(trace)?.status.code === "ERROR") {
    return `the checkout failed; it started at orders' "${started.name}": ${started.status.message}`;
  }
}

/** Each problem's signature in one trace. */
export const SIGNATURES: Record<Fault, (trace: Trace) => string | undefined> = {
  "n-plus-one": nPlusOne,
  "sequential": sequential,
  "pool": pool,
  "slow-dependency": slowDependency,
  "errors": errors,
};

/** What is missing from a checkout's trace: each service with no span in it, and the confirmation's CONSUMER. */
export function missingFromTrace(trace: Trace): string[] {
  const missing: string[] = SHOP_SERVICES.filter((name) =>
    !trace.spans.some((span) => span.service === name)
  );
  if (!trace.spans.some((span) => span.name === "process confirmations") && !errors(trace)) {
    missing.push(`the outbox's "process confirmations"`);
  }
  return missing;
}
