/**
 * `deno task demo:shop`: the shop in one command. Starts an OTLP receiver on a free port, runs the shop
 * (`shop/start.ts`, four services) and the example's client (calling `GET /checkout?items=1,2,3`) as real
 * processes pointed at it, stops the shop gracefully and draws the trace.
 *
 * With `--fault name,name` the shop runs with those problems on, the demo sends a few more checkouts at once
 * (some problems show only under concurrency, or one time in four or five), and draws a trace that shows each
 * problem's signature.
 *
 * Exits 0 only when every service joined the client's trace (and each fault asked for showed).
 *
 * @module
 */
import { startReceiver, type Trace } from "@example/otlp/receiver";
import { callThroughClient, demoMain, type DemoOptions } from "@example/demo/demo";
import type { FlagSpecs } from "@example/harness/flags";
import { type Fault, FAULTS, startShop } from "./service.ts";
import { checkoutSpan, missingFromTrace, SIGNATURES } from "./signatures.ts";

/** The flags of `deno task demo:shop`, on top of every demo's. */
export const SHOP_DEMO_FLAGS = {
  fault: {
    type: "strings",
    choices: Object.keys(FAULTS),
    help: "switch problems on, such as --fault=n-plus-one,pool",
  },
} as const satisfies FlagSpecs;

/** How many checkouts the demo sends at once, besides the client's, when a fault is on. */
export const EXTRA_CHECKOUTS = 7; // with the client's, eight: the inventory's retry is its ninth request, not slow

/** What the shop demo found. */
export interface ShopDemoResult {
  /** Whether every service joined the client's trace and each fault showed. */
  ok: boolean;
  /** The client's trace, when any of it arrived. */
  trace?: Trace;
  /** For each fault asked for, the trace that shows it and what was found. */
  shown: { fault: Fault; trace: Trace; found: string }[];
  /** What went wrong, one line each. */
  broken: string[];
}

/** Options of {@linkcode runShopDemo}. */
export interface ShopDemoOptions extends DemoOptions {
  /** The problems to switch on. */
  faults?: readonly Fault[];
}

/** Runs the shop once against an in-process receiver, with `faults` on. */
export async function runShopDemo(
  { timeoutMs = 15_000, log = console.log, store, faults = [] }: ShopDemoOptions = {},
): Promise<ShopDemoResult> {
  await using receiver = startReceiver({ port: 0, store });
  log(`OTLP receiver listening on ${receiver.url}`);
  const shop = await startShop({ otlpEndpoint: receiver.url, faults });
  log(`shop listening on ${shop.url}${faults.length ? ` with FAULTS=${faults}` : ""}`);
  let traceId: string;
  try {
    // The client's checkout first, alone: the first request is never the one a fault hits.
    const call = await callThroughClient(`${shop.url}checkout?items=1,2,3`, receiver.url, log);
    if ("failed" in call) return { ok: false, shown: [], broken: [call.failed] };
    traceId = call.traceId;
    if (faults.length > 0) {
      await Promise.all(
        Array.from(
          { length: EXTRA_CHECKOUTS },
          () => fetch(`${shop.url}checkout?items=1,2,3,4`).then((response) => response.body?.cancel()),
        ),
      );
    }
  } finally {
    const exit = await shop.stop("SIGTERM"); // each service exports what it holds as it ends
    log(`shop stopped (exit code ${exit.code})`);
  }
  const signal = AbortSignal.timeout(timeoutMs);
  await receiver.store.waitFor((store) => {
    const trace = store.trace(traceId);
    return trace && missingFromTrace(trace).length === 0;
  }, { signal }).catch(() => {});
  const trace = receiver.store.trace(traceId);
  const broken = trace ? missingFromTrace(trace).map((what) => `${what}: not in the client's trace`) : [];
  if (!trace) broken.push(`no span of trace ${traceId} arrived`);
  const shown = [];
  for (const fault of faults) {
    // A checkout that succeeded in spite of the fault shows it best (but for `errors`).
    const failed = (trace: Trace) => checkoutSpan(trace)?.status.code === "ERROR" ? 1 : 0;
    const traces = receiver.store.traces().sort((a, b) => fault === "errors" ? 0 : failed(a) - failed(b));
    const found = traces.map((trace) => ({ trace, found: SIGNATURES[fault](trace) })).find((t) => t.found);
    if (found) shown.push({ fault, trace: found.trace, found: found.found! });
    else broken.push(`${fault}: no trace shows its signature`);
  }
  return { ok: broken.length === 0, trace, shown, broken };
}

if (import.meta.main) {
  await demoMain("demo:shop", async ({ store, draw, flags }) => {
    const result = await runShopDemo({ store, faults: (flags.fault ?? []) as Fault[] });
    if (result.trace) draw(result.trace);
    for (const { fault, trace, found } of result.shown) {
      if (trace !== result.trace) draw(trace);
      console.log(`\n${fault}: ${found}`);
    }
    if (result.ok) {
      console.log("\nOne checkout, one trace: every service joined.");
      return true;
    }
    console.error(`\ndemo:shop: ${result.broken.join("; ")}`);
    return false;
  }, SHOP_DEMO_FLAGS);
}
