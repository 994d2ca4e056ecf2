/**
 * The example's server as an entry file of `deno serve`, which can run it on every core:
 *
 * ```sh
 * OTEL_DENO=true OTEL_SERVICE_NAME=server deno serve --parallel --host=127.0.0.1 --port=8000 \
 *   --allow-net=127.0.0.1 --allow-env=SIMULATED_WORK_MS tools/stack/scale/serve_parallel.ts
 * ```
 *
 * `--parallel` starts one worker per core (`DENO_JOBS` sets how many), each with its own copy of this module,
 * all accepting on the same port. Host and port come from `deno serve`'s flags; `SIMULATED_WORK_MS` is read
 * as `server.ts` reads it. Graceful shutdown is `deno serve`'s own.
 *
 * @module
 */
import { createHandler } from "../../../server.ts";

const value = Deno.env.get("SIMULATED_WORK_MS") ?? "50";
if (!/^\d+$/.test(value)) {
  throw new Error(`SIMULATED_WORK_MS must be a whole number, got ${JSON.stringify(value)}`);
}

/** The handler `deno serve` runs in each worker. */
export default { fetch: createHandler(Number(value)) } satisfies Deno.ServeDefaultExport;
