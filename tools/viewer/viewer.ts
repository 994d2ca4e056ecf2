/**
 * `deno task viewer`: an OTLP/HTTP receiver on 127.0.0.1:4318 (where Deno exports by default) that prints
 * each trace as a waterfall once it is complete, so the two-terminal walkthrough works without Docker.
 *
 * A trace is printed when it has been quiet for `--settle-ms` (default 1000) and no CLIENT span in it still
 * waits for the server side, or, failing that, after `--wait-ms` (default 10000: longer than Deno's default
 * 5 s batch delay). Spans that arrive after a trace was printed print it again, marked as updated.
 *
 * It also serves a web page of the traces on 127.0.0.1:4320 (`--web-port`; see `web.ts`). Everything it
 * prints goes through bounded queues (`terminal_output.ts`), so a terminal that stops reading stops neither.
 * The flags are {@linkcode VIEWER_FLAGS} (`--help` lists them).
 *
 * @module
 */
import { startReceiver, TelemetryStore, type Trace } from "@example/otlp/receiver";
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS, type TraceFacts } from "@example/otlp/store";
import { DEFAULT_FLOOD_PER_SECOND, FloodGate } from "./flood.ts";
import { flagsOrExit, type FlagSpecs, type FlagValues, PORT } from "@example/harness/flags";
import { TerminalOutput } from "./terminal_output.ts";
import { cut } from "@example/otlp/terminal_text";
import { renderWaterfall } from "./waterfall.ts";
import { DEFAULT_WEB_PORT, startWebView } from "./web.ts";
import { printSummaries } from "./terminal_summary.ts";

/** Options of {@linkcode watchTraces}. */
export interface WatchOptions {
  /** How long a trace must stay unchanged before it is printed, in ms (default 1000). */
  settleMs?: number;
  /** How long to wait at most for a trace's server spans before printing it anyway, in ms (default 10 000). */
  waitMs?: number;
  /**
   * Called with each trace that is ready and accepted (its spans decoded when first read), whether it was
   * given to `onTrace` before, and what the store's index says of it.
   */
  onTrace: (trace: Trace, updated: boolean, facts: TraceFacts) => void;
  /**
   * Called first with what the store's index says of a trace that is ready: when it returns false, the
   * trace is neither decoded nor given to `onTrace` (a terminal under a flood only counts it). Default: all.
   */
  accept?: (facts: TraceFacts) => boolean;
  /**
   * Called when `onTrace` throws, with the trace and the error; watching goes on. By default the error is
   * reported on stderr in one line.
   */
  onError?: (trace: Trace, error: unknown) => void;
}

/** The one line that says a trace could not be drawn. */
function errorLine(trace: Trace, error: unknown): string {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return `viewer: could not draw trace ${trace.traceId}, skipped it: ${cut(message.split("\n")[0], 300)}`;
}

function reportError(trace: Trace, error: unknown): void {
  console.error(errorLine(trace, error));
}

/**
 * A line saying what the store dropped to stay within its budget, or `undefined` when it dropped nothing.
 */
export function droppedNote(store: TelemetryStore): string | undefined {
  const { traces, spans, logs } = store.dropped;
  if (traces === 0 && logs === 0) return undefined;
  return `(dropped so far to keep the latest ${store.maxRecords} spans and log records: ${traces} oldest ` +
    `traces, ${spans} spans, ${logs} log records; within ${Math.round(store.maxBytes / 2 ** 20)} MiB)`;
}

/**
 * Calls `onTrace` for each trace of `store` once it has settled; returns a function that stops watching.
 * One timer serves every trace (at a quarter of the shorter delay, 10 to 250 ms): two per trace cost
 * thousands of timers a second under load.
 */
export function watchTraces(
  store: TelemetryStore,
  { settleMs = 1000, waitMs = 10_000, onTrace, accept, onError = reportError }: WatchOptions,
): () => void {
  // By trace id, in the order they first changed since they were last ready: when that was, when they
  // last changed, and whether, quiet, they wait for a server's spans (checked once per quiet spell).
  const pending = new Map<string, { first: number; last: number; waiting: boolean }>();
  const printed = new Set<string>();
  const ready = (traceId: string, facts = store.summary(traceId)) => {
    pending.delete(traceId);
    if (facts === undefined || facts.spans === 0) return;
    // A trace only counted (not accepted) is not decoded, and not remembered as printed.
    if (accept !== undefined && !accept(facts)) return;
    const trace = store.trace(traceId)!;
    try {
      onTrace(trace, printed.has(traceId), facts);
    } catch (error) {
      onError(trace, error);
    }
    printed.add(traceId);
    // Forget the traces the store itself has dropped, so that this set stays as bounded as the store.
    if (printed.size > 2 * store.traceCount + 1000) {
      for (const id of printed) if (!store.has(id)) printed.delete(id);
    }
  };
  const unsubscribe = store.onChange((traceId) => {
    const now = performance.now();
    const seen = pending.get(traceId);
    if (seen === undefined) pending.set(traceId, { first: now, last: now, waiting: false });
    else [seen.last, seen.waiting] = [now, false];
  });
  const soonest = Math.min(settleMs, waitMs);
  const check = () => {
    const now = performance.now();
    for (const traceId of pending.keys()) {
      const seen = pending.get(traceId)!;
      // In the order they first changed: none after this one has been quiet or waited long enough yet.
      if (now - seen.first < soonest) break;
      if (now - seen.first >= waitMs) ready(traceId);
      else if (!seen.waiting && now - seen.last >= settleMs) {
        const facts = store.summary(traceId);
        seen.waiting = facts?.awaitsServer ?? false;
        if (!seen.waiting) ready(traceId, facts);
      }
    }
  };
  const timer = setInterval(check, Math.max(10, Math.min(250, Math.floor(Math.min(settleMs, waitMs) / 4))));
  return () => {
    unsubscribe();
    clearInterval(timer);
  };
}

/** The flags of `deno task viewer`: each default and help text written once (the README's table is checked). */
export const VIEWER_FLAGS = {
  port: { type: "number", default: 4318, ...PORT, help: "the OTLP/HTTP receiver's port (0: a free one)" },
  "web-port": {
    type: "number",
    default: DEFAULT_WEB_PORT,
    ...PORT,
    help: "the web page's port (0: a free one); both print their address at start",
  },
  "settle-ms": {
    type: "number",
    default: 1000,
    help: "a trace is drawn once it has been quiet this long and no CLIENT span waits",
  },
  "wait-ms": { type: "number", default: 10_000, help: "...or at the latest this long after its first span" },
  "max-records": {
    type: "number",
    default: DEFAULT_MAX_RECORDS,
    min: 1,
    help: "the most spans and log records held; past it the oldest traces are dropped, saying so",
  },
  "max-mib": {
    type: "number",
    default: DEFAULT_MAX_BYTES / 2 ** 20,
    min: 1,
    help: "the most MiB the traces, logs and metrics held take; past it, the same",
  },
  "flood-at": {
    type: "number",
    default: DEFAULT_FLOOD_PER_SECOND,
    help: "past this many traces a second, one line a second instead of each trace (0: draw all)",
  },
  "summary-every": {
    type: "number",
    default: 0,
    help: "every N seconds, one line per service: request rate, errors, p95 (0: off)",
  },
} as const satisfies FlagSpecs;

/** Starts the receiver and the web page, or exits 1 saying why not (which port is taken). */
function listen(flags: FlagValues<typeof VIEWER_FLAGS>, errors: TerminalOutput) {
  const exitIfTaken = (error: unknown, taken: string): never => {
    console.error(error instanceof Deno.errors.AddrInUse ? taken : `viewer: ${(error as Error).message}`);
    Deno.exit(1);
  };
  const store = new TelemetryStore({
    maxRecords: flags["max-records"],
    maxBytes: flags["max-mib"] * 2 ** 20,
  });
  let receiver;
  try {
    receiver = startReceiver({ port: flags.port, store });
  } catch (error) {
    return exitIfTaken(
      error,
      `viewer: 127.0.0.1:${flags.port} is already in use. Is the Collector from \`docker compose up\` running? ` +
        "Stop it (`docker compose down`) or start the viewer on another port with --port and point " +
        "OTEL_EXPORTER_OTLP_ENDPOINT at it.",
    );
  }
  const webPort = flags["web-port"];
  try {
    return { receiver, web: startWebView({ store, port: webPort, print: (line) => errors.print(line) }) };
  } catch (error) {
    return exitIfTaken(
      error,
      `viewer: 127.0.0.1:${webPort} (the web page) is already in use: choose another with --web-port.`,
    );
  }
}

/** Runs the viewer: every line goes through bounded queues, so a terminal that stops reading stops nothing. */
function main(): void {
  const flags = flagsOrExit("deno task viewer", VIEWER_FLAGS);
  const out = new TerminalOutput(Deno.stdout);
  const errors = new TerminalOutput(Deno.stderr);
  const { receiver, web } = listen(flags, errors);
  const store = receiver.store;
  const color = Deno.stdout.isTerminal() && !Deno.noColor;
  let droppedShown = "";
  out.print(`Viewer: receiving OTLP/HTTP (JSON or protobuf) on ${receiver.url}; Ctrl-C stops it.`);
  out.print(`Viewer: the traces in a browser: ${web.url}`);
  out.print("Run the server and the client with OTEL_DENO=true, and each trace is drawn here.\n");
  const every = flags["summary-every"];
  if (every > 0) printSummaries(store.metrics, every * 1000, (line) => out.print(line));
  const gate = new FloodGate({
    maxPerSecond: flags["flood-at"],
    print: (line) => out.print(line),
    spansAccepted: () => store.accepted.spans,
  });
  watchTraces(store, {
    settleMs: flags["settle-ms"],
    waitMs: flags["wait-ms"],
    // Under a flood a trace is counted from the store's index, never decoded.
    accept: (facts) => gate.offer(facts),
    onTrace: (trace, updated) => {
      out.print(
        (updated ? "(updated) " : "") + renderWaterfall(trace, { color, findSpan: store.span.bind(store) }) +
          "\n",
      );
      const note = droppedNote(store);
      if (note !== undefined && note !== droppedShown) out.print(note + "\n");
      droppedShown = note ?? "";
    },
    onError: (trace, error) => errors.print(errorLine(trace, error)),
  });
  Deno.addSignalListener("SIGINT", async () => {
    const note = droppedNote(store);
    out.print(
      `\nViewer: holds ${store.spanCount} spans and ${store.logs.length} log records.` +
        (note === undefined ? "" : ` ${note}`),
    );
    // A terminal that reads nothing gets a second, not a hang.
    await Promise.race([out.flush(), new Promise((resolve) => setTimeout(resolve, 1000))]);
    Deno.exit(0);
  });
}

if (import.meta.main) main();
