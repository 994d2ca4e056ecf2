/**
 * Starts the shop as `deno task shop` does (`shop/start.ts` with the task's permissions, the one source),
 * through the harness, for the demo, the tests, the load's measurements and the stack check: every service on
 * a free port of 127.0.0.1, exporting to the given receiver.
 *
 * @module
 */
import { type ExitResult, ROOT, spawn } from "@example/harness/processes";
import { collectOutput } from "@example/harness/output";
import { denoRunOf, permissionFlags, scriptOf } from "@example/harness/tasks";

/** The shop's services, in the order `shop/start.ts` starts them. */
export const SHOP_SERVICES = ["catalog", "inventory", "orders", "frontend"] as const;

/** The problems the shop can switch on (`FAULTS`), each with the service that has it. */
export const FAULTS = {
  "n-plus-one": "catalog",
  "sequential": "frontend",
  "pool": "orders",
  "slow-dependency": "inventory",
  "errors": "orders",
} as const;

/** One of the shop's problems. */
export type Fault = keyof typeof FAULTS;

/** A running shop. */
export interface ShopProcess extends AsyncDisposable {
  /** The frontend's base URL, such as `http://127.0.0.1:41234/`. */
  url: string;
  /** Each service's base URL, by name. */
  services: Record<string, string>;
  /** The launcher's process id. */
  pid: number;
  /** Sends `signal` (default SIGTERM) to the launcher and waits for it to end (SIGKILL after 30 s). */
  stop(signal?: Deno.Signal): Promise<ExitResult>;
}

/** Options of {@linkcode startShop}. */
export interface ShopOptions {
  /** The OTLP/HTTP base URL the services export to; omit to keep tracing off. */
  otlpEndpoint?: string;
  /** The problems to switch on. */
  faults?: readonly string[];
  /** More variables for the launcher (and so for every service), applied last. */
  env?: Record<string, string>;
}

/** The `shop` task's permission flags and script. */
export function shopCommand(): { permissions: string[]; script: string } {
  const command = denoRunOf("shop");
  return { permissions: permissionFlags(command), script: scriptOf(command) };
}

/** The variables of a shop started by {@linkcode startShop}. */
export function shopEnv({ otlpEndpoint, faults = [], env = {} }: ShopOptions): Record<string, string> {
  const otel: Record<string, string> = otlpEndpoint === undefined ? { OTEL_DENO: "false" } : {
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
  };
  return { ...otel, SHOP_PORT: "0", FAULTS: faults.join(","), ...env };
}

/**
 * Starts `shop/start.ts` and resolves once the frontend listens, with each service's address.
 *
 * @throws {Error} with the launcher's output when it ends before the frontend listens (or takes 30 s).
 */
export async function startShop(options: ShopOptions = {}): Promise<ShopProcess> {
  const { permissions, script } = shopCommand();
  const process = spawn("deno", ["run", ...permissions, script], ROOT, shopEnv(options));
  const stdout = collectOutput(process.stdout);
  const stderr = collectOutput(process.stderr);
  const exit = (async (): Promise<ExitResult> => {
    const status = await process.status;
    return { ...status, stdout: await stdout.text, stderr: await stderr.text, killed: false };
  })();
  const services: Record<string, string> = {};
  let timer;
  const url = await Promise.race([
    stdout.line((line) => {
      const [, name, address] = line.match(/^(\w+) +\| \w+ listening on (http:\S+)$/) ?? [];
      if (name) services[name] = address;
      return line.match(/^Shop listening on (http:\S+?)checkout/)?.[1];
    }),
    exit.then(() => undefined),
    new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), 30_000)),
  ]);
  clearTimeout(timer);
  if (url === undefined) {
    try {
      process.kill("SIGKILL");
    } catch { /* it ended */ }
    const { code, stdout, stderr } = await exit;
    throw new Error(`the shop did not start (exit code ${code}):\n${stdout}${stderr}`);
  }
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    try {
      process.kill(signal);
    } catch { /* it ended */ }
    const timer = setTimeout(() => process.kill("SIGKILL"), 30_000);
    return await exit.finally(() => clearTimeout(timer));
  };
  return { url, services, pid: process.pid, stop, [Symbol.asyncDispose]: () => stop().then() };
}
