/**
 * `deno task viewer`: an OTLP/HTTP receiver on 127.0.0.1:4318 (where Deno exports by default) that prints
 * each trace as a waterfall once it is complete, so the two-terminal walkthrough works without Docker.
 *
 * A trace is printed when it has been quiet for `--settle-ms` (default 1000) and no CLIENT span in it still
 * waits for the server side, or, failing that, after `--wait-ms` (default 10000: longer than Deno's default
 * 5 s batch delay). Spans that arrive after a trace was printed print it again, marked as updated.
 *
 * It also serves a web page of the traces on 127.0.0.1:4320 (`--web-port`; see `web.ts`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startReceiver, TelemetryStore, type Trace } from "@example/otlp/receiver";
import { DEFAULT_MAX_RECORDS } from "@example/otlp/store";
import { renderWaterfall } from "./waterfall.ts";
import { DEFAULT_WEB_PORT, startWebView } from "./web.ts";
import { printSummaries } from "./summary.ts";

/** Options of {@linkcode watchTraces}. */
export interface WatchOptions {
  /** How long a trace must stay unchanged before it is printed, in ms (default 1000). */
  settleMs?: number;
  /** How long to wait at most for a trace's server spans before printing it anyway, in ms (default 10 000). */
  waitMs?: number;
  /** Called with each trace that is ready, and whether it was printed before. */
  onTrace: (trace: Trace, updated: boolean) => void;
  /**
   * Called when `onTrace` throws, with the trace and the error; watching goes on. By default the error is
   * reported on stderr in one line.
   */
  onError?: (trace: Trace, error: unknown) => void;
}

/** Whether a CLIENT span of the trace has no child yet: the called service's spans may still come. */
function awaitsServer(trace: Trace): boolean {
  const parents = new Set(trace.spans.map((span) => span.parentSpanId));
  return trace.spans.some((span) => span.kind === "CLIENT" && !parents.has(span.spanId));
}

function reportError(trace: Trace, error: unknown): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  console.error(`viewer: could not draw trace ${trace.traceId}, skipped it: ${message.split("\n")[0]}`);
}

/**
 * A line saying what the store dropped to stay within its budget, or `undefined` when it dropped nothing.
 */
export function droppedNote(store: TelemetryStore): string | undefined {
  const { traces, spans, logs } = store.dropped;
  if (traces === 0 && logs === 0) return undefined;
  return `(dropped so far to keep the latest ${store.maxRecords} spans and log records: ${traces} oldest ` +
    `traces, ${spans} spans, ${logs} log records)`;
}

/** Calls `onTrace` for each trace of `store` once it has settled; returns a function that stops watching. */
export function watchTraces(
  store: TelemetryStore,
  { settleMs = 1000, waitMs = 10_000, onTrace, onError = reportError }: WatchOptions,
): () => void {
  const timers = new Map<
    string,
    { settle: ReturnType<typeof setTimeout>; wait: ReturnType<typeof setTimeout> }
  >();
  const printed = new Set<string>();
  const ready = (traceId: string) => {
    const timer = timers.get(traceId);
    if (timer) clearTimeout(timer.settle), clearTimeout(timer.wait);
    timers.delete(traceId);
    const trace = store.trace(traceId);
    if (trace === undefined || trace.spans.length === 0) return;
    try {
      onTrace(trace, printed.has(traceId));
    } catch (error) {
      onError(trace, error);
    }
    printed.add(traceId);
    // Forget the traces the store itself has dropped, so that this set stays as bounded as the store.
    if (printed.size > store.maxRecords) {
      for (const id of printed) if (store.trace(id) === undefined) printed.delete(id);
    }
  };
  const unsubscribe = store.onChange((traceId) => {
    const timer = timers.get(traceId);
    if (timer) clearTimeout(timer.settle);
    const settle = setTimeout(() => {
      const trace = store.trace(traceId);
      if (trace && !awaitsServer(trace)) ready(traceId);
    }, settleMs);
    const wait = timer?.wait ?? setTimeout(() => ready(traceId), waitMs);
    timers.set(traceId, { settle, wait });
  });
  return () => {
    unsubscribe();
    for (const { settle, wait } of timers.values()) clearTimeout(settle), clearTimeout(wait);
  };
}

if (import.meta.main) {
  const usage =
    `usage: deno task viewer [--port 4318] [--web-port ${DEFAULT_WEB_PORT}] [--settle-ms 1000] [--wait-ms 10000] [--max-records ${DEFAULT_MAX_RECORDS}] [--summary-every 0]`;
  let port: number,
    settleMs: number,
    waitMs: number,
    webPort: number,
    maxRecords: number,
    summaryEvery: number;
  try {
    const { values } = parseArgs({
      options: {
        port: { type: "string", default: "4318" },
        "settle-ms": { type: "string", default: "1000" },
        "wait-ms": { type: "string", default: "10000" },
        "web-port": { type: "string", default: String(DEFAULT_WEB_PORT) },
        "max-records": { type: "string", default: String(DEFAULT_MAX_RECORDS) },
        "summary-every": { type: "string", default: "0" },
      },
    });
    const flags = ["port", "settle-ms", "wait-ms", "web-port", "max-records", "summary-every"] as const;
    [port, settleMs, waitMs, webPort, maxRecords, summaryEvery] = flags.map((flag) => values[flag]).map(
      (value, i) => {
        const number = Number(value);
        if (
          !/^\d+$/.test(value) || (flags[i].endsWith("port") && number > 65535) ||
          (flags[i] === "max-records" && number < 1)
        ) {
          throw new Error(`--${flags[i]} takes a whole number, got ${JSON.stringify(value)}`);
        }
        return number;
      },
    );
  } catch (error) {
    console.error(`viewer: ${(error as Error).message}\n${usage}`);
    Deno.exit(2);
  }
  let receiver;
  try {
    receiver = startReceiver({ port, store: new TelemetryStore({ maxRecords }) });
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    console.error(
      `viewer: 127.0.0.1:${port} is already in use. Is the Collector from \`docker compose up\` running? ` +
        "Stop it (`docker compose down`) or start the viewer on another port with --port and point " +
        "OTEL_EXPORTER_OTLP_ENDPOINT at it.",
    );
    Deno.exit(1);
  }
  const store = receiver.store;
  let web;
  try {
    web = startWebView({ store: receiver.store, port: webPort });
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    console.error(
      `viewer: 127.0.0.1:${webPort} (the web page) is already in use: choose another with --web-port.`,
    );
    Deno.exit(1);
  }
  const color = Deno.stdout.isTerminal() && !Deno.noColor;
  let droppedShown = "";
  console.log(`Viewer: receiving OTLP/HTTP (JSON or protobuf) on ${receiver.url}; Ctrl-C stops it.`);
  console.log(`Viewer: the traces in a browser: ${web.url}`);
  console.log("Run the server and the client with OTEL_DENO=true, and each trace is drawn here.\n");
  // --summary-every=N: one line per service (rate, errors, p95) every N seconds; 0 (the default) is off.
  if (summaryEvery > 0) printSummaries(store.metrics, summaryEvery * 1000);
  watchTraces(receiver.store, {
    settleMs,
    waitMs,
    onTrace: (trace, updated) => {
      console.log((updated ? "(updated) " : "") + renderWaterfall(trace, { color }) + "\n");
      const note = droppedNote(store);
      if (note !== undefined && note !== droppedShown) console.log(note + "\n");
      droppedShown = note ?? "";
    },
  });
  Deno.addSignalListener("SIGINT", () => {
    console.log(
      `\nViewer: holds ${store.spans.length} spans and ${store.logs.length} log records.` +
        (droppedNote(store) === undefined ? "" : ` ${droppedNote(store)}`),
    );
    Deno.exit(0);
  });
}
