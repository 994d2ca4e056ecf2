/**
 * What keeps the jobs service alive under load and abuse: a bound on the work it runs at once (each job
 * starts a subprocess), and a listener that comes back after Deno gives up on it (out of file descriptors).
 *
 * @module
 */
import { trace } from "@opentelemetry/api";

const tracer = trace.getTracer("jobs", "1.0.0");

/** A slot for one job; `release` gives it back (to the first in line, if any). */
export interface Slots {
  /** Takes a slot, waiting in a span `wait for a slot` when none is free; `false` when too many wait. */
  take(): Promise<boolean>;
  /** Gives a taken slot back. */
  release(): void;
}

/** At most `size` jobs at once; up to `maxWaiting` more wait for a slot, in the order they came. */
export function createSlots(size: number, maxWaiting: number): Slots {
  let free = size;
  const waiting: (() => void)[] = [];
  return {
    async take() {
      if (free > 0) {
        free--;
        return true;
      }
      if (waiting.length >= maxWaiting) return false;
      // The wait shows in the request's trace, with its place in line.
      await tracer.startActiveSpan("wait for a slot", async (span) => {
        span.setAttribute("job.slots.waiting", waiting.length + 1);
        await new Promise<void>((resolve) => waiting.push(resolve));
        span.end();
      });
      return true;
    },
    release() {
      const next = waiting.shift();
      if (next) next(); // the slot passes straight to the first in line
      else free++;
    },
  };
}

/**
 * `Deno.serve`, listening again on the same port when an accept fails: without a free file descriptor Deno
 * closes the listener and rejects `finished`, and the service would end. Retries every 50 ms, doubling up to
 * 1 s, until it listens or `shutdown` is called.
 */
export function serveAgain(
  options: Deno.ServeTcpOptions,
  handler: Deno.ServeHandler,
): { shutdown(): Promise<void> } {
  let server = Deno.serve(options, handler);
  const port = server.addr.port;
  let stopping = false;
  const watch = (): Promise<void> =>
    server.finished.catch(async (error) => {
      if (stopping) return;
      console.error(
        `Server: cannot accept connections (${error.message}); retrying until descriptors free up`,
      );
      for (let delayMs = 50; !stopping; delayMs = Math.min(delayMs * 2, 1000)) {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        try {
          server = Deno.serve({ ...options, port, onListen: () => {} }, handler);
          console.error("Server: accepting connections again");
          return watch();
        } catch { /* still no descriptor free */ }
      }
    });
  watch();
  return {
    shutdown: () => {
      stopping = true;
      return server.shutdown();
    },
  };
}
