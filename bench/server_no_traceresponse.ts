/**
 * `server.ts` without the `traceresponse` header (`traceResponse: false`), for the benchmark's row that
 * measures what the header costs. Everything else is `server.ts`'s: its configuration, handler and shutdown.
 *
 * ```sh
 * OTEL_DENO=true deno run --allow-net=127.0.0.1 --allow-env=HOST,PORT,SIMULATED_WORK_MS \
 *   bench/server_no_traceresponse.ts
 * ```
 *
 * @module
 */
import { readServerConfig, serve } from "../server.ts";

if (import.meta.main) await serve({ ...readServerConfig(), traceResponse: false });
