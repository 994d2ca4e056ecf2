/**
 * A {@linkcode TelemetryStore} for the receiver that counts what arrives instead of keeping it: a benchmark
 * run sends millions of spans, and only their number matters. Counts are kept per `service.name`, so that
 * each run (one service name per run) is counted on its own.
 *
 * ```ts
 * import { startReceiver } from "@example/otlp/receiver";
 * await using receiver = startReceiver({ port: 0, store: new CountingStore() });
 * ```
 *
 * @module
 */
import { TelemetryStore } from "@example/otlp/receiver";
import type { LogRecord, Span } from "@example/otlp/decode";

/** Spans and log records received from one service. */
export interface Received {
  /** Spans received. */
  spans: number;
  /** Log records received. */
  logs: number;
}

/** A store that only counts the spans and log records it is given, per service. */
export class CountingStore extends TelemetryStore {
  #counts = new Map<string, Received>();

  /** Counts the spans; keeps none of them. */
  override addSpans(spans: Span[]): void {
    for (const span of spans) this.#of(span.service).spans++;
  }

  /** Counts the log records; keeps none of them. */
  override addLogs(logs: LogRecord[]): void {
    for (const log of logs) this.#of(log.service).logs++;
  }

  /** What arrived from `service` so far. */
  received(service: string): Received {
    return { ...(this.#counts.get(service) ?? { spans: 0, logs: 0 }) };
  }

  #of(service: string): Received {
    let counts = this.#counts.get(service);
    if (counts === undefined) {
      counts = { spans: 0, logs: 0 };
      this.#counts.set(service, counts);
    }
    return counts;
  }
}
