// server.ts's serve() with a short drain deadline (500 ms instead of 10 s), so that a test sees the deadline
// at work without waiting for it. Run with the server task's permissions; reads HOST and PORT as it does.
import { serve } from "../../server.ts";

const env = (name: string, fallback: string) => Deno.env.get(name) || fallback;
await serve({
  hostname: env("HOST", "127.0.0.1"),
  port: Number(env("PORT", "8000")),
  workMs: Number(env("SIMULATED_WORK_MS", "50")),
  drainMs: 500,
});
