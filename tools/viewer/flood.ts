/**
 * What the terminal shows under a flood of traces: each trace while they arrive slowly; past `maxPerSecond`
 * traces in a second, one line a second instead (traces and spans per second, spans with errors, the
 * slowest trace's id and duration), until a second has `maxPerSecond` or fewer again. A person can read a
 * waterfall or two a second, not 1,500, and drawing them costs the viewer more than receiving them.
 *
 * ```ts
 * import { FloodGate } from "./flood.ts";
 * const gate = new FloodGate({ maxPerSecond: 5, print: console.log, spansAccepted: () => 0 });
 * if (gate.offer({ traceId: "ab".repeat(16), errors: 0, durationNanos: 1_000_000n })) {
 *   // draw the trace
 * }
 * gate.close();
 * ```
 *
 * @module
 */

/** What the gate needs of a trace that is ready to be shown. */
export interface ReadyTrace {
  /** Its id. */
  traceId: string;
  /** Its spans with status ERROR. */
  errors: number;
  /** Its duration, in nanoseconds. */
  durationNanos: bigint;
}

/** Options of {@linkcode FloodGate}. */
export interface FloodOptions {
  /** Past this many traces in a second, summarise (default 5; 0: always draw each trace). */
  maxPerSecond?: number;
  /** Where the summary lines go. */
  print: (line: string) => void;
  /** How many spans the receiver has accepted so far: the lines give the rate of its change. */
  spansAccepted: () => number;
  /** How long a window is, in ms (default 1000; tests shorten it). */
  windowMs?: number;
}

/** The default number of traces a second past which the terminal summarises. */
export const DEFAULT_FLOOD_PER_SECOND = 5;

/** Decides, trace by trace, whether to draw it or count it in the line of its second. */
export class FloodGate {
  readonly #maxPerSecond: number;
  readonly #print: (line: string) => void;
  readonly #spansAccepted: () => number;
  readonly #windowMs: number;
  #flooding = false;
  #traces = 0;
  #errors = 0;
  #slowest: ReadyTrace | undefined;
  #spansAtStart: number;
  #startedAt = performance.now();
  #timer: ReturnType<typeof setInterval>;

  /** A gate that prints its lines with `print`, one each window while flooded. */
  constructor(
    { maxPerSecond = DEFAULT_FLOOD_PER_SECOND, print, spansAccepted, windowMs = 1000 }: FloodOptions,
  ) {
    this.#maxPerSecond = maxPerSecond;
    this.#print = print;
    this.#spansAccepted = spansAccepted;
    this.#windowMs = windowMs;
    this.#spansAtStart = spansAccepted();
    this.#timer = setInterval(() => this.#roll(), windowMs);
  }

  /** Whether the terminal summarises now. */
  get flooding(): boolean {
    return this.#flooding;
  }

  /** Counts a ready trace; true when it is to be drawn, false when the second's line counts it. */
  offer(trace: ReadyTrace): boolean {
    this.#traces++;
    if (!this.#flooding && (this.#maxPerSecond === 0 || this.#traces <= this.#maxPerSecond)) return true;
    if (!this.#flooding) {
      this.#flooding = true;
      this.#print(
        `(more than ${this.#maxPerSecond} traces a second: one line a second instead of each trace, ` +
          "until they slow down; the web page has them all)",
      );
    }
    this.#errors += trace.errors;
    if (this.#slowest === undefined || trace.durationNanos > this.#slowest.durationNanos) {
      this.#slowest = trace;
    }
    return false;
  }

  /** Stops the gate's timer. */
  close(): void {
    clearInterval(this.#timer);
  }

  /** Ends a window: prints its line when flooded, and stops summarising after a slow one. */
  #roll(): void {
    const now = performance.now(), spans = this.#spansAccepted();
    const seconds = (now - this.#startedAt) / 1000;
    if (this.#flooding) {
      const perSecond = (count: number) => Math.round(count / seconds).toLocaleString("en-US");
      const slowest = this.#slowest === undefined
        ? ""
        : `; slowest ${this.#slowest.traceId} ${formatNanos(this.#slowest.durationNanos)}`;
      this.#print(
        `[flood] ${perSecond(this.#traces)} traces/s, ${perSecond(spans - this.#spansAtStart)} spans/s, ` +
          `${this.#errors} spans with errors${slowest}`,
      );
      if (this.#traces <= this.#maxPerSecond) {
        this.#flooding = false;
        this.#print("(traces slowed down: each is drawn again)");
      }
    }
    this.#traces = 0;
    this.#errors = 0;
    this.#slowest = undefined;
    this.#spansAtStart = spans;
    this.#startedAt = now;
  }
}

/** A duration in nanoseconds as text: µs, ms or s with three significant digits. */
export function formatNanos(nanos: bigint): string {
  const value = Number(nanos);
  if (value < 1e6) return `${(value / 1e3).toPrecision(3)} µs`;
  if (value < 1e9) return `${(value / 1e6).toPrecision(3)} ms`;
  return `${(value / 1e9).toPrecision(3)} s`;
}
