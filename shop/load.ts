/**
 * `deno task shop:load`: steady checkout traffic for the shop, so that the viewer's Metrics view and the
 * Grafana dashboard have something to show. Sends `--rate` checkouts a second (a few random items each) for
 * `--duration` seconds to `SHOP_URL` (default http://127.0.0.1:8002/), whatever the answers take: at most
 * `--max-in-flight` wait at once, past that a checkout is skipped and counted. A progress line while it runs,
 * p50 and p95 at the end. Only 127.0.0.1 and localhost are accepted.
 *
 * @module
 */
import { flagsOrExit, type FlagSpecs } from "@example/harness/flags";

/** The flags of `deno task shop:load`. */
export const LOAD_FLAGS = {
  rate: { type: "number", default: 10, min: 1, max: 200, help: "checkouts a second" },
  duration: { type: "number", default: 30, min: 1, max: 3600, help: "seconds to run" },
  "max-in-flight": {
    type: "number",
    default: 50,
    min: 1,
    max: 1000,
    help: "checkouts waiting at most at once",
  },
} as const satisfies FlagSpecs;

/** What a load run saw. */
export interface LoadStats {
  /** Checkouts sent. */
  sent: number;
  /** Answered 200. */
  ok: number;
  /** Answered otherwise, or not at all. */
  failed: number;
  /** Not sent because `maxInFlight` were waiting. */
  skipped: number;
  /** The duration of each answered checkout, in milliseconds, in the order they ended. */
  latenciesMs: number[];
}

/** The `p`-th percentile (0–100) of `values`, nearest rank; `NaN` when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** One line on `stats`: counts, p50 and p95. */
export function summary(stats: LoadStats): string {
  const [p50, p95] = [50, 95].map((p) => percentile(stats.latenciesMs, p).toFixed(1));
  return `sent ${stats.sent}  ok ${stats.ok}  failed ${stats.failed}  skipped ${stats.skipped}  ` +
    `p50 ${p50} ms  p95 ${p95} ms`;
}

/** A checkout of one to four random items out of the first seven (the eighth is sold out). */
function randomCheckout(base: URL): URL {
  const items = Array.from(
    { length: 1 + Math.floor(Math.random() * 4) },
    () => 1 + Math.floor(Math.random() * 7),
  );
  return new URL(`checkout?items=${items}&customer=load`, base);
}

/** Options of {@linkcode runLoad}. */
export interface LoadOptions {
  /** The shop's base URL; must be on 127.0.0.1 or localhost. */
  url: string;
  /** Checkouts a second. */
  rate: number;
  /** How long to send, in seconds. */
  durationS: number;
  /** The most checkouts waiting at once (default 50). */
  maxInFlight?: number;
  /** Called about once a second while it runs, with the stats so far and the seconds elapsed. */
  onProgress?: (stats: LoadStats, elapsedS: number) => void;
}

/**
 * Sends checkouts at a steady rate and waits for the last answer.
 *
 * @throws {Error} when `url` is not on 127.0.0.1 or localhost.
 */
export async function runLoad(
  { url, rate, durationS, maxInFlight = 50, onProgress }: LoadOptions,
): Promise<LoadStats> {
  const base = new URL(url);
  if (!["127.0.0.1", "localhost"].includes(base.hostname)) {
    throw new Error(`only 127.0.0.1 and localhost: ${url}`);
  }
  const stats: LoadStats = { sent: 0, ok: 0, failed: 0, skipped: 0, latenciesMs: [] };
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();
  const total = Math.round(rate * durationS);
  let lastProgress = start;
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate; // open loop: the schedule does not wait for answers
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (performance.now() - lastProgress >= 1000) {
      lastProgress = performance.now();
      onProgress?.(stats, (lastProgress - start) / 1000);
    }
    if (inFlight.size >= maxInFlight) {
      stats.skipped++;
      continue;
    }
    stats.sent++;
    const began = performance.now();
    const done = fetch(randomCheckout(base)).then(async (response) => {
      await response.body?.cancel();
      if (response.ok) stats.ok++;
      else stats.failed++;
      stats.latenciesMs.push(performance.now() - began);
    }, () => {
      stats.failed++;
    }).finally(() => inFlight.delete(done));
    inFlight.add(done);
  }
  await Promise.all(inFlight);
  return stats;
}

if (import.meta.main) {
  const flags = flagsOrExit("deno task shop:load", LOAD_FLAGS);
  const url = Deno.env.get("SHOP_URL") ?? "http://127.0.0.1:8002/";
  const tty = Deno.stdout.isTerminal();
  console.log(`shop:load: ${flags.rate} checkouts/s for ${flags.duration} s to ${url}`);
  try {
    const stats = await runLoad({
      url,
      rate: flags.rate,
      durationS: flags.duration,
      maxInFlight: flags["max-in-flight"],
      onProgress: (stats, elapsed) => {
        const line = `${elapsed.toFixed(0).padStart(4)} s  ${summary(stats)}`;
        if (tty) Deno.stdout.writeSync(new TextEncoder().encode(`\r${line}`));
        else if (Math.round(elapsed) % 5 === 0) console.log(line);
      },
    });
    if (tty) console.log();
    console.log(`done: ${summary(stats)}`);
    if (stats.ok === 0) Deno.exitCode = 1;
  } catch (error) {
    console.error(`shop:load: ${(error as Error).message}`);
    Deno.exit(2);
  }
}
