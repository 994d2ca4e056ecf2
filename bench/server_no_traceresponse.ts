/**
 * `server.ts` without the `traceresponse` header (`traceResponse: false`), for the benchmark's row that
 * measures what the header costs. Everything else is `server.ts`'s: its configuration, handler and shutdown,
 * and it runs with the `server` task's permissions (the harness starts it with `script`).
 *
 * @module
 */
import { serve } from "../server.ts";
import { readServerConfig } from "../config/server_config.ts";

if (import.meta.main) await serve({ ...readServerConfig(), traceResponse: false });
