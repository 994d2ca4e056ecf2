/**
 * `deno task shop`: starts the shop's four services, each its own process with its own `OTEL_SERVICE_NAME`,
 * its own permissions and (for those that keep data) its own database folder, and the frontend on `SHOP_PORT`
 * (default 8002). Their output comes through here, each line marked with the service's name. Ctrl-C or
 * SIGTERM stops the frontend first, then the rest; each exports what it holds as it ends.
 *
 * `FAULTS=n-plus-one,sequential,pool,slow-dependency,errors` switches problems on (see README.md).
 *
 * @module
 */

const SERVICES = ["catalog", "inventory", "orders", "frontend"] as const;
type Service = typeof SERVICES[number];
/** Each problem, and the service that has it. */
const FAULTS: Record<string, Service> = {
  "n-plus-one": "catalog",
  "sequential": "frontend",
  "pool": "orders",
  "slow-dependency": "inventory",
  "errors": "orders",
};

function fail(message: string): never {
  console.error(`shop: ${message}`);
  Deno.exit(2);
}

const faults = (Deno.env.get("FAULTS") ?? "").split(",").map((f) => f.trim())
  .filter((f) => f !== "");
const unknown = faults.filter((fault) => !(fault in FAULTS));
if (unknown.length > 0) {
  fail(
    `unknown fault ${unknown.join(", ")} in FAULTS: the faults are ${Object.keys(FAULTS)}`,
  );
}
const shopPort = Deno.env.get("SHOP_PORT") ?? "8002";
if (!/^\d{1,5}$/.test(shopPort) || Number(shopPort) > 65535) {
  fail(`SHOP_PORT must be a port number, got ${JSON.stringify(shopPort)}`);
}
const dataDir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/deno-shop-${crypto.randomUUID().slice(0, 8)}`;

/** Each service's exact permissions: 127.0.0.1, its variables, and its own database folder, nothing else. */
function permissions(name: Service, folder: string): string[] {
  const env = ["HOST", "PORT", "FAULTS", "SHOP_DATA_DIR"];
  if (name === "frontend") {
    return ["--allow-net=127.0.0.1", `--allow-env=${env},CATALOG_URL,INVENTORY_URL,ORDERS_URL`];
  }
  return ["--allow-net=127.0.0.1", `--allow-env=${env}`, `--allow-read=${folder}`, `--allow-write=${folder}`];
}

/** Copies a child's lines to ours, marked with its name; `listening`: its first `… listening on <url>`. */
function relay(name: string, stream: ReadableStream<Uint8Array>, out: (line: string) => void) {
  const listening = Promise.withResolvers<string | undefined>();
  const done = (async () => {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + text).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        out(`${name.padEnd(9)} | ${line}`);
        const url = line.match(/ listening on (http:\S+)$/)?.[1];
        if (url) listening.resolve(url);
      }
    }
    if (rest) out(`${name.padEnd(9)} | ${rest}`);
    listening.resolve(undefined);
  })();
  return { listening: listening.promise, done };
}

interface Running {
  name: Service;
  process: Deno.ChildProcess;
  url: string;
  /** Its exit code, once it ended and everything it printed came through. */
  ended: Promise<number>;
}

/** Starts one service and resolves once it listens. */
async function start(name: Service, env: Record<string, string>): Promise<Running> {
  const folder = `${dataDir}-${name}`;
  const script = new URL(`${name}.ts`, import.meta.url).pathname;
  const envFile = `--env-file=${new URL("shop.env", import.meta.url).pathname}`;
  const process = new Deno.Command("deno", {
    args: ["run", envFile, ...permissions(name, folder), script],
    env: { OTEL_SERVICE_NAME: name, HOST: "127.0.0.1", PORT: "0", SHOP_DATA_DIR: folder, ...env },
    stdin: "null",
    detached: true, // a session of its own: Ctrl-C reaches the launcher alone, which stops the frontend first
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const errors = relay(name, process.stderr, console.error);
  const output = relay(name, process.stdout, console.log);
  const ended = Promise.all([process.status, errors.done, output.done]).then(([status]) => status.code);
  const url = await output.listening;
  if (url === undefined) throw new Error(`${name} ended before it listened (exit code ${await ended})`);
  return { name, process, url, ended };
}

/** Sends SIGTERM to each of `services` and waits for them to end; their exit codes. */
function stop(services: Running[]): Promise<number[]> {
  return Promise.all(services.map(({ process, ended }) => {
    try {
      process.kill("SIGTERM");
    } catch { /* it ended already */ }
    return ended;
  }));
}

/** Starts the services, the frontend last with the others' addresses; on a failure, stops those started. */
async function startAll(): Promise<Running[]> {
  const backends = await Promise.allSettled(SERVICES.slice(0, 3).map((name) => start(name, {})));
  const running = backends.flatMap((result) => result.status === "fulfilled" ? [result.value] : []);
  try {
    const failed = backends.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
    const [catalog, inventory, orders] = running.map(({ url }) => url);
    const env = { PORT: shopPort, CATALOG_URL: catalog, INVENTORY_URL: inventory, ORDERS_URL: orders };
    return [...running, await start("frontend", env)];
  } catch (error) {
    await stop(running);
    fail((error as Error).message);
  }
}

if (import.meta.main) {
  const all = await startAll();
  const [frontend, backends] = [all[3], all.slice(0, 3)];
  console.log(
    `Shop listening on ${frontend.url}checkout?items=1,2,3${faults.length ? ` (FAULTS=${faults})` : ""}`,
  );
  const signalled = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, signalled.resolve);
  const early = await Promise.race([
    signalled.promise,
    ...all.map(({ name, ended }) => ended.then(() => name)),
  ]);
  if (early) console.error(`shop: ${early} ended on its own: stopping the others`);
  // The frontend first, so that no request reaches a service that is gone; then the rest.
  const codes = [...await stop([frontend]), ...await stop(backends)];
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(signal, signalled.resolve);
  Deno.exitCode = early ? 1 : Math.max(...codes);
}
