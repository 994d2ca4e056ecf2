/**
 * `deno task demo`: the whole example in one command, with nothing installed but Deno. Starts an OTLP
 * receiver on a free port, runs the server and the client as real processes with Deno's OpenTelemetry on
 * and pointed at it, stops the server cleanly as soon as the client is done (the stop exports what the server
 * still holds), and draws the joined trace.
 *
 * Exits 0 when the client's and the server's spans joined into one trace, 1 (saying why) when they did not.
 * The traces are also on a web page (`web.ts`) at a free port, or `--web-port`, while the demo runs; with
 * `--keep-open` the page stays until Ctrl-C.
 *
 * @module
 */
import { startReceiver, TelemetryStore, type Trace } from "@example/otlp/receiver";
import { runClient, startServer } from "@example/harness/processes";
import { checkJoinedTrace, JoinError } from "./joined.ts";
import { renderWaterfall } from "@example/viewer/waterfall";
import { startWebView } from "@example/viewer/web";
import { flagsOrExit, type FlagSpecs, type FlagValues, PORT } from "@example/harness/flags";

/** What the demo found: the joined trace, or why there is none. */
export type DemoResult = { ok: true; trace: Trace } | { ok: false; reason: string; trace?: Trace };

/**
 * Runs the example's client against `url`, exporting to `otlpEndpoint` over protobuf; logs what it printed
 * (but its Grafana lines, which are for `docker compose up`: a demo draws the trace itself) and returns the
 * trace id of its call, or why there is none.
 */
export async function callThroughClient(
  url: string,
  otlpEndpoint: string,
  log: (line: string) => void,
): Promise<{ traceId: string } | { failed: string }> {
  const client = await runClient(url, { otlpEndpoint, protocol: "http/protobuf" });
  const lines = (client.stdout + client.stderr).trimEnd().split("\n");
  for (const line of lines.filter((line) => !/^(Grafana|Dashboard):/.test(line))) log(`client: ${line}`);
  if (client.code === 0 && client.traceId !== undefined) return { traceId: client.traceId };
  return { failed: `the client failed (exit code ${client.code})` };
}

/** Options of a demo's run ({@linkcode runDemo}, and the jobs example's). */
export interface DemoOptions {
  /** How long to wait for the trace to arrive whole, after the programs ended (default 15 s). */
  timeoutMs?: number;
  /** Where the demo's progress lines go (default: stdout). */
  log?: (line: string) => void;
  /** Where the receiver files what arrives (default: a new store). */
  store?: TelemetryStore;
}

/** Runs the example once against an in-process receiver and returns the trace it produced. */
export async function runDemo(
  { timeoutMs = 15_000, log = console.log, store }: DemoOptions = {},
): Promise<DemoResult> {
  await using receiver = startReceiver({ port: 0, store });
  log(`OTLP receiver listening on ${receiver.url}`);
  const server = await startServer({ otlpEndpoint: receiver.url, protocol: "http/protobuf" });
  log(`server (OTEL_SERVICE_NAME=server) listening on ${server.url}`);
  let traceId: string;
  try {
    const call = await callThroughClient(server.url, receiver.url, log);
    if ("failed" in call) return { ok: false, reason: call.failed };
    traceId = call.traceId;
  } finally {
    // Stopped as soon as the client is done: a clean stop exports the server's remaining spans and log
    // records before the process ends, so there is no batch delay to wait out.
    const exit = await server.stop("SIGTERM");
    log(`server stopped (exit code ${exit.code})`);
  }
  // Both processes have ended and exported; the wait only covers an export still being received.
  await receiver.store.waitForTrace(traceId, { spans: 4, signal: AbortSignal.timeout(timeoutMs) })
    .catch(() => {});
  const trace = receiver.store.trace(traceId);
  try {
    checkJoinedTrace(trace?.spans ?? [], traceId);
    return { ok: true, trace: trace! };
  } catch (error) {
    if (!(error instanceof JoinError)) throw error;
    return { ok: false, trace, reason: elsewhere(receiver.store, traceId) ?? error.message };
  }
}

/** Where the server's spans went when they are not in trace `traceId`: the context did not propagate. */
function elsewhere(store: TelemetryStore, traceId: string): string | undefined {
  if (store.trace(traceId)?.spans.some((span) => span.service === "server")) return undefined;
  const other = store.recentTraces(10).find((trace) => trace.spans.some((span) => span.service === "server"));
  if (other === undefined) return undefined;
  return `the server's spans arrived in another trace (${other.traceId}): the context did not propagate`;
}

/** The flags of `deno task demo` and `deno task demo:jobs`: each default and help text written once. */
export const DEMO_FLAGS = {
  "keep-open": { type: "boolean", help: "after drawing the trace, keep the web page open until Ctrl-C" },
  "web-port": {
    type: "number",
    default: 0,
    ...PORT,
    help: "the web page's port; the demo prints its address first",
  },
} as const satisfies FlagSpecs;

/** What {@linkcode demoMain} gives a demo's run: the store the web view shows, and a way to draw a trace. */
export interface DemoRun<S extends FlagSpecs = Record<never, never>> {
  /** Where the receiver files what arrives; the web view shows it. */
  store: TelemetryStore;
  /** Prints `trace` as a waterfall, after a blank line. */
  draw: (trace: Trace) => void;
  /** The values of the demo's own flags (`own` of {@linkcode demoMain}). */
  flags: FlagValues<S>;
}

/**
 * The command line of a demo (`deno task <name> [--keep-open] [--web-port 0]`, and the demo's `own` flags):
 * starts the web view, calls `run`, and sets the exit code from what it returns (`false` or a thrown error: 1).
 */
export async function demoMain<S extends FlagSpecs = Record<never, never>>(
  name: string,
  run: (demo: DemoRun<S>) => Promise<boolean>,
  own?: S,
): Promise<void> {
  const flags = flagsOrExit(`deno task ${name}`, { ...DEMO_FLAGS, ...own } as typeof DEMO_FLAGS & S);
  const color = Deno.stdout.isTerminal() && !Deno.noColor;
  const store = new TelemetryStore();
  let web;
  try {
    web = startWebView({ store, port: flags["web-port"] });
  } catch (error) {
    console.error(
      error instanceof Deno.errors.AddrInUse
        ? `${name}: 127.0.0.1:${flags["web-port"]} is already in use: choose another --web-port.`
        : `${name}: ${(error as Error).message}`,
    );
    Deno.exit(1);
  }
  console.log(`web view: ${web.url} (--keep-open keeps it open after the demo)`);
  const draw = (trace: Trace) =>
    console.log(`\n${renderWaterfall(trace, { color, findSpan: store.span.bind(store) })}`);
  try {
    if (!await run({ store, draw, flags: flags as FlagValues<S> })) Deno.exitCode = 1;
  } catch (error) {
    const message = error instanceof Deno.errors.NotFound
      ? "could not start `deno` from PATH (the demo runs its programs as `deno run`)"
      : (error as Error).message;
    console.error(`${name}: ${message}`);
    Deno.exitCode = 1;
  }
  if (flags["keep-open"]) {
    console.log(`\nThe web view stays open on ${web.url}; Ctrl-C stops it.`);
    Deno.addSignalListener("SIGINT", () => Deno.exit());
  } else {
    await web.close();
  }
}

if (import.meta.main) {
  await demoMain("demo", async ({ store, draw }) => {
    const result = await runDemo({ store });
    if (result.trace) draw(result.trace);
    if (result.ok) {
      console.log("\nOne request, one trace: the client's and the server's spans joined.");
      return true;
    }
    console.error(`\ndemo: the trace did not join: ${result.reason}`);
    return false;
  });
}
