/**
 * The Collectors of the scale check as child processes: an agent and gateways started from
 * `tools/stack/scale/agent.yaml` and `tools/stack/scale/gateway.yaml` with the contrib build of `tools/stack/build.sh
 * otelcol-scale`, on fixed loopback ports, and their own metrics read from their Prometheus endpoint.
 *
 * @module
 */
import { type ChildEnv, ROOT, spawn } from "@example/harness/processes";

export type { ChildEnv };
import { collectOutput } from "@example/harness/output";

/** A running Collector. */
export interface Collector extends AsyncDisposable {
  /** `agent`, `gateway-1`, … */
  name: string;
  /** Where its own metrics are served (Prometheus text). */
  metricsUrl: string;
  /** Kills it at once (SIGKILL): what it holds is lost, as when its machine dies. */
  kill(): Promise<void>;
  /** Stops it gracefully (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** The tail of what it printed. */
  output(): Promise<string>;
}

/** Options of {@linkcode startCollector}. */
export interface CollectorOptions {
  /** `agent`, `gateway-1`, … */
  name: string;
  /** The contrib Collector binary. */
  binary: string;
  /** Config files, merged in order (relative to the repository root). */
  configs: string[];
  /** Its variables: the endpoints and ports of the configs' `${env:…}` placeholders. */
  env: ChildEnv;
  /** Its health_check endpoint (`host:port`), polled until it answers. */
  health: string;
  /** Its metrics endpoint (`host:port`). */
  metrics: string;
  /** How long it may take to become healthy, in milliseconds (default 30 s). */
  startTimeoutMs?: number;
}

/** Starts a Collector and resolves once its health check answers. */
export async function startCollector(options: CollectorOptions): Promise<Collector> {
  const child = spawn(options.binary, options.configs.map((c) => `--config=${c}`), ROOT, options.env);
  const stdout = collectOutput(child.stdout);
  const stderr = collectOutput(child.stderr);
  const status = child.status;
  let exited = false;
  status.then(() => exited = true);
  const output = async () => (await stdout.text) + (await stderr.text);
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  while (!(await answers(`http://${options.health}/`))) {
    if (exited || Date.now() > deadline) {
      if (!exited) child.kill("SIGKILL");
      await status;
      throw new Error(`${options.name} did not become healthy at ${options.health}:\n${await output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const signal = async (name: Deno.Signal) => {
    if (!exited) child.kill(name);
    await status;
  };
  return {
    name: options.name,
    metricsUrl: `http://${options.metrics}/metrics`,
    kill: () => signal("SIGKILL"),
    stop: () => signal("SIGTERM"),
    output,
    [Symbol.asyncDispose]: () => signal("SIGTERM"),
  };
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * The sum of every sample of `name` in Prometheus text `text` whose labels include all of `labels`
 * (0 when there is none). Enough for the Collector's own counters and gauges; histograms are not read.
 */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/);
    if (match === null || match[1] !== name) continue;
    const present = new Map(
      [...(match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((
        m,
      ) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => present.get(key) === value)) sum += Number(match[3]);
  }
  return sum;
}

/** The Prometheus text of a Collector's own metrics. */
export async function readMetrics(collector: Collector): Promise<string> {
  const res = await fetch(collector.metricsUrl, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${collector.name}: ${collector.metricsUrl} answered ${res.status}`);
  return await res.text();
}
