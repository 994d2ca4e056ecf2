// server.ts's handler behind one more route, GET /__memory, which answers Deno.memoryUsage() after a garbage
// collection (when run with --v8-flags=--expose-gc): for the opt-in memory test of tests/faults_test.ts.
import { createHandler } from "../../server.ts";
import { readServerConfig } from "../../config/server_config.ts";

const { hostname, port, workMs } = readServerConfig();
const handler = createHandler({ workMs });
const gc = (globalThis as { gc?: () => void }).gc;
const server = Deno.serve({
  hostname,
  port,
  onListen: ({ hostname, port }) => console.log(`Server listening on http://${hostname}:${port}/`),
}, (request) => {
  if (new URL(request.url).pathname !== "/__memory") return handler(request);
  gc?.();
  return Response.json(Deno.memoryUsage());
});
Deno.addSignalListener("SIGTERM", () => server.shutdown());
await server.finished;
