/**
 * End-to-end check of the Grafana stack (`deno task test:stack`): runs the example's server and client with
 * `OTEL_DENO=true` against whatever stack is listening on 127.0.0.1 (`docker compose up -d`, or the native
 * one started by `stack/run_native.sh`), then asks the stack's own APIs whether it got the result right:
 *
 * 1. Tempo returns the client's trace, joined: both services, the four spans, each span's parent link.
 * 2. Tempo's search finds the trace by `service.name`.
 * 3. Prometheus holds the service-graph edge client → server written by Tempo's metrics generator.
 *
 * Endpoints (defaults in parentheses): `TEMPO_URL` (http://127.0.0.1:3200), `PROMETHEUS_URL`
 * (http://127.0.0.1:9090), `OTELCOL_HEALTH_URL` (http://127.0.0.1:13133/), `GRAFANA_URL` (only printed),
 * `STACK_CHECK_TIMEOUT_S` (120). The services export to `OTEL_EXPORTER_OTLP_ENDPOINT` (Deno's default,
 * http://localhost:4318, is the Collector in both set-ups). The server listens on 127.0.0.1:8000, as in
 * `deno task server`.
 *
 * @module
 */
import { grafanaTraceUrl } from "../config/grafana_link.ts";
import { runClient, startServer } from "../viewer/processes.ts";

/** A span as Tempo's `GET /api/v2/traces/<id>` returns it (OTLP JSON with base64 ids). */
export interface TempoSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: string;
}

/** A flattened span: its service, its instrumentation scope, hex ids. */
export interface FlatSpan {
  service: string;
  scope: string;
  name: string;
  kind: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
}

interface KeyValue {
  key: string;
  value: { stringValue?: string };
}

/** The body of Tempo's `GET /api/v2/traces/<id>`. */
export interface TempoTraceResponse {
  status?: string;
  trace?: {
    resourceSpans?: {
      resource?: { attributes?: KeyValue[] };
      scopeSpans?: { scope?: { name?: string }; spans?: TempoSpan[] }[];
    }[];
  };
}

/** Converts a base64 id of Tempo's JSON to lowercase hex; empty for an absent id. */
export function base64ToHex(id: string | undefined): string {
  if (!id) return "";
  const bytes = Uint8Array.from(atob(id), (c) => c.charCodeAt(0));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Flattens Tempo's trace response into one list of spans with hex ids. */
export function flattenTrace(body: TempoTraceResponse): FlatSpan[] {
  const spans: FlatSpan[] = [];
  for (const resourceSpans of body.trace?.resourceSpans ?? []) {
    const service = resourceSpans.resource?.attributes?.find((a) => a.key === "service.name")?.value
      .stringValue ?? "";
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        spans.push({
          service,
          scope: scopeSpans.scope?.name ?? "",
          name: span.name,
          kind: span.kind,
          traceId: base64ToHex(span.traceId),
          spanId: base64ToHex(span.spanId),
          parentSpanId: base64ToHex(span.parentSpanId),
        });
      }
    }
  }
  return spans;
}

/** A failed expectation of the end-to-end check. */
export class CheckError extends Error {
  override name = "CheckError";
}

function describe(span: FlatSpan): string {
  return `${span.service}/${span.scope} "${span.name}" ${span.kind}`;
}

/**
 * Asserts the joined trace of one client call: client `call-api` (INTERNAL, scope `api-client`, root) →
 * client `GET` (CLIENT) → server `GET /` (SERVER) → the server handler's span (INTERNAL, scope
 * `api-server`), all in trace `traceId`. Returns the four spans in that order.
 *
 * @throws {CheckError} naming what is missing or wrong.
 */
export function checkJoinedTrace(spans: FlatSpan[], traceId: string): FlatSpan[] {
  const all = spans.map(describe).join("; ") || "none";
  const one = (what: string, match: (s: FlatSpan) => boolean): FlatSpan => {
    const found = spans.filter(match);
    if (found.length !== 1) {
      throw new CheckError(`expected one ${what}, found ${found.length} (spans: ${all})`);
    }
    return found[0];
  };
  const services = [...new Set(spans.map((s) => s.service))].sort();
  if (services.join() !== "client,server") {
    throw new CheckError(
      `expected the services client and server in the trace, found ${services.join(", ")}`,
    );
  }
  if (spans.length !== 4) throw new CheckError(`expected 4 spans, found ${spans.length} (spans: ${all})`);
  for (const span of spans) {
    if (span.traceId !== traceId) throw new CheckError(`${describe(span)} is in trace ${span.traceId}`);
  }
  const callApi = one(
    "client span call-api (INTERNAL, scope api-client)",
    (s) =>
      s.service === "client" && s.name === "call-api" && s.kind === "SPAN_KIND_INTERNAL" &&
      s.scope === "api-client",
  );
  const clientGet = one(
    "client HTTP span (CLIENT)",
    (s) => s.service === "client" && s.kind === "SPAN_KIND_CLIENT",
  );
  const serverGet = one(
    'server HTTP span "GET /" (SERVER)',
    (s) => s.service === "server" && s.kind === "SPAN_KIND_SERVER" && s.name === "GET /",
  );
  const handler = one(
    "server handler span (INTERNAL, scope api-server)",
    (s) => s.service === "server" && s.kind === "SPAN_KIND_INTERNAL" && s.scope === "api-server",
  );
  const expectParent = (child: FlatSpan, parent: FlatSpan | undefined) => {
    const want = parent?.spanId ?? "";
    if (child.parentSpanId !== want) {
      throw new CheckError(
        `${describe(child)}: parent is ${child.parentSpanId || "none"}, expected ${
          parent ? `${describe(parent)} (${want})` : "none (root span)"
        }`,
      );
    }
  };
  expectParent(callApi, undefined);
  expectParent(clientGet, callApi);
  expectParent(serverGet, clientGet);
  expectParent(handler, serverGet);
  return [callApi, clientGet, serverGet, handler];
}

/** Whether Tempo's search answer lists `traceId` (search ids are hex with leading zeros trimmed). */
export function searchFinds(body: { traces?: { traceID: string }[] }, traceId: string): boolean {
  const want = traceId.replace(/^0+/, "");
  return (body.traces ?? []).some((t) => t.traceID.toLowerCase().replace(/^0+/, "") === want);
}

// ---------------------------------------------------------------------------------------------------------

const env = (name: string, fallback: string) => Deno.env.get(name) || fallback;

async function get(url: string, what: string, hint: string): Promise<Response> {
  try {
    return await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (error) {
    const cause = (error as Error).cause instanceof Error
      ? `: ${((error as Error).cause as Error).message}`
      : "";
    throw new CheckError(
      `nothing answers at ${url} (${what}): ${(error as Error).message}${cause}\n  ${hint}`,
    );
  }
}

async function poll<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      if (!(error instanceof CheckError)) throw error;
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new CheckError(
    `timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`,
  );
}

function ok(message: string): void {
  console.log(`ok   ${message}`);
}

/** Runs the whole check; resolves on success, rejects with a {@linkcode CheckError} otherwise. */
export async function checkStack(): Promise<void> {
  const tempoUrl = env("TEMPO_URL", "http://127.0.0.1:3200").replace(/\/+$/, "");
  const promUrl = env("PROMETHEUS_URL", "http://127.0.0.1:9090").replace(/\/+$/, "");
  const healthUrl = env("OTELCOL_HEALTH_URL", "http://127.0.0.1:13133/");
  const timeoutMs = Number(env("STACK_CHECK_TIMEOUT_S", "120")) * 1000;
  const hint = "Start the stack first: `docker compose up -d` (or `stack/run_native.sh`, which builds and " +
    "runs the same Collector and Tempo natively).";

  // 1. Is a stack there at all?
  const health = await get(healthUrl, "OpenTelemetry Collector health_check", hint);
  if (!health.ok) {
    throw new CheckError(`the Collector is not healthy: ${healthUrl} answered ${health.status}`);
  }
  await health.body?.cancel();
  ok(`Collector healthy at ${healthUrl}`);
  await poll("Tempo to be ready", timeoutMs, async () => {
    const res = await get(`${tempoUrl}/ready`, "Tempo", hint);
    const text = await res.text();
    if (!res.ok) throw new CheckError(`${tempoUrl}/ready answered ${res.status}: ${text.trim()}`);
    return true;
  });
  ok(`Tempo ready at ${tempoUrl}`);
  const prom = await get(`${promUrl}/-/ready`, "Prometheus", hint);
  if (!prom.ok) throw new CheckError(`Prometheus is not ready: ${promUrl}/-/ready answered ${prom.status}`);
  await prom.body?.cancel();
  ok(`Prometheus ready at ${promUrl}`);

  // 2. One call through the example, with tracing on, exporting to the Collector. A SIGTERM then shuts the
  // server down gracefully: it exports what it still holds before it exits.
  const otlpEndpoint = env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
  const server = await startServer({ otlpEndpoint, protocol: "http/protobuf" });
  let client;
  try {
    client = await runClient(server.url, { otlpEndpoint, protocol: "http/protobuf" });
  } finally {
    await server.stop();
  }
  console.log((client.stdout + client.stderr).trimEnd().replace(/^/gm, "     client | "));
  if (client.code !== 0) throw new CheckError(`the client failed (exit code ${client.code})`);
  const traceId = client.traceId;
  if (!traceId) throw new CheckError("the client printed no trace id (is OTEL_DENO=true honoured?)");
  ok(`client call done, trace id ${traceId}`);

  // 3. The joined trace, from Tempo's trace-by-id API.
  const spans = await poll(`trace ${traceId} with 4 spans in Tempo`, timeoutMs, async () => {
    const res = await get(`${tempoUrl}/api/v2/traces/${traceId}`, "Tempo", hint);
    if (res.status === 404) {
      await res.body?.cancel();
      throw new CheckError("Tempo does not know the trace yet");
    }
    if (!res.ok) throw new CheckError(`Tempo answered ${res.status}: ${(await res.text()).trim()}`);
    const flat = flattenTrace(await res.json());
    if (flat.length < 4) throw new CheckError(`Tempo has ${flat.length} of the 4 spans so far`);
    return flat;
  });
  const [callApi, clientGet, serverGet, handler] = checkJoinedTrace(spans, traceId);
  ok(`Tempo returns the joined trace:`);
  for (const [depth, span] of [callApi, clientGet, serverGet, handler].entries()) {
    console.log(
      `     ${"  ".repeat(depth)}${span.service}: ${span.name} (${span.kind.replace("SPAN_KIND_", "")})`,
    );
  }

  // 4. Search by service.name.
  await poll(`Tempo search by service.name=client to list ${traceId}`, timeoutMs, async () => {
    const end = Math.ceil(Date.now() / 1000) + 60;
    const query = new URLSearchParams({
      tags: "service.name=client",
      limit: "100",
      start: String(end - 3600),
      end: String(end),
    });
    const res = await get(`${tempoUrl}/api/search?${query}`, "Tempo", hint);
    if (!res.ok) throw new CheckError(`Tempo search answered ${res.status}: ${(await res.text()).trim()}`);
    return searchFinds(await res.json(), traceId) ? true : undefined;
  });
  ok("Tempo search by service.name=client finds the trace");

  // 5. The service graph edge, written by Tempo's metrics generator into Prometheus.
  const promQuery = 'traces_service_graph_request_total{client="client",server="server"}';
  await poll(`Prometheus to hold the service-graph edge client → server`, timeoutMs, async () => {
    const res = await get(
      `${promUrl}/api/v1/query?${new URLSearchParams({ query: promQuery })}`,
      "Prometheus",
      hint,
    );
    if (!res.ok) throw new CheckError(`Prometheus answered ${res.status}: ${(await res.text()).trim()}`);
    const body = await res.json();
    return body.data?.result?.length > 0 ? true : undefined;
  });
  ok(`Prometheus has ${promQuery}`);

  console.log(
    `\nAll stack checks passed. The trace in Grafana: ${
      grafanaTraceUrl(traceId, { grafanaUrl: env("GRAFANA_URL", "http://localhost:3000") })
    }`,
  );
}

if (import.meta.main) {
  try {
    await checkStack();
  } catch (error) {
    if (!(error instanceof CheckError)) throw error;
    console.error(`FAIL ${error.message}`);
    Deno.exitCode = 1;
  }
}
