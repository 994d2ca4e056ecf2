/**
 * Records what Deno really sends: runs the example (a joined `GET /` trace and a failing `GET /error` one)
 * against the receiver and writes each raw OTLP request body, base64-encoded, to `recorded.json` beside
 * this file. Ids are deterministic (`DENO_UNSTABLE_OTEL_DETERMINISTIC`), so the renderer's tests can name
 * them. Run it again after a Deno upgrade:
 *
 * ```sh
 * deno run --allow-run=deno --allow-net=127.0.0.1 --allow-write=tools/otlp/recorded tools/otlp/recorded/record.ts
 * ```
 *
 * @module
 */
import { createReceiverHandler, TelemetryStore } from "../receiver.ts";
import { runClient, startServer } from "@example/harness/processes";

/** One recorded request. */
export interface RecordedRequest {
  /** The request's path, such as `/v1/traces`. */
  path: string;
  /** Its `content-type`. */
  contentType: string;
  /** The body, base64. */
  body: string;
}

if (import.meta.main) {
  const store = new TelemetryStore();
  const handle = createReceiverHandler(store);
  let requests: RecordedRequest[] = [];
  const recorded: Record<string, RecordedRequest[]> = {};
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const body = new Uint8Array(await request.clone().arrayBuffer());
    const path = new URL(request.url).pathname;
    if (path !== "/v1/metrics") {
      requests.push({
        path,
        contentType: request.headers.get("content-type") ?? "",
        body: body.toBase64(),
      });
    }
    return handle(request);
  });
  const otlpEndpoint = `http://127.0.0.1:${server.addr.port}`;
  const scenarios = [["json", "http/json", "/"], ["protobuf", "http/protobuf", "/"], [
    "error",
    "http/json",
    "/error",
  ]];
  for (const [i, [name, protocol, path]] of scenarios.entries()) {
    requests = recorded[name] = [];
    // A seed of its own for each process and scenario, so that no two make the same ids.
    const seed = (n: number) => ({ DENO_UNSTABLE_OTEL_DETERMINISTIC: String(10 * (i + 1) + n) });
    const app = await startServer({ otlpEndpoint, protocol: protocol as "http/json", env: seed(2) });
    const client = await runClient(new URL(path, app.url).href, {
      otlpEndpoint,
      protocol: protocol as "http/json",
      env: seed(1),
    });
    await app.stop();
    console.log(`${name}: ${protocol} ${path}: trace ${client.traceId}, exit code ${client.code}`);
  }
  const file = new URL("recorded.json", import.meta.url);
  await Deno.writeTextFile(file, JSON.stringify(recorded, null, 1) + "\n");
  console.log(`${store.spans.length} spans, ${store.logs.length} logs → ${file.pathname}`);
}
