// server.ts's serve() with a short drain deadline (500 ms instead of 10 s), so that a test sees the deadline
// at work without waiting for it. Run with the server task's permissions.
import { serve } from "../../server.ts";
import { readServerConfig } from "../../config/server_config.ts";

await serve({ ...readServerConfig(), drainMs: 500 });
