/**
 * End-to-end check of the Grafana stack (`deno task test:stack`): runs the example's server and client with
 * `OTEL_DENO=true` against whatever stack is listening on 127.0.0.1 (`docker compose up -d`, or the native
 * one started by `tools/stack/run_native.sh`), then asks the stack's own APIs whether it got the result right:
 *
 * 1. Tempo returns the client's trace, joined: both services, the four spans, each span's parent link.
 * 2. Tempo's search finds the trace by `service.name`.
 * 3. Loki holds the server's log line, with the trace id and the handler span's id as structured metadata,
 *    found by the query Grafana's "logs for this span" runs ({@linkcode logsForSpanQuery}).
 * 4. Prometheus holds Deno's own `http_server_request_duration_seconds` for service `server` (OTLP).
 * 5. Prometheus holds the service-graph edge client → server and the span metrics of the server, written by
 *    Tempo's metrics generator, with an exemplar that names this trace ({@linkcode EXEMPLAR_TRACE_ID_LABEL}).
 * 6. Every query of the provisioned Grafana dashboard "Deno services", read out of its JSON with the
 *    variables filled in, returns the example's data from Prometheus, Tempo and Loki (`dashboard.ts`), and
 *    its "Error rate" panel shows the failures of the server's `/error`.
 * 7. The jobs example (`jobs/`): its trace, the batch trace linked to it, its own metrics (`check_jobs.ts`).
 * 8. The shop chapter (`shop/`): a TraceQL query per fault, and its services' metrics (`check_shop.ts`).
 *
 * Endpoints (defaults in parentheses): `TEMPO_URL` (http://127.0.0.1:3200), `LOKI_URL`
 * (http://127.0.0.1:3100), `PROMETHEUS_URL` (http://127.0.0.1:9090), `OTELCOL_HEALTH_URL`
 * (http://127.0.0.1:13133/), `GRAFANA_URL` (only printed), `STACK_CHECK_TIMEOUT_S` (120). The services export
 * to `OTEL_EXPORTER_OTLP_ENDPOINT` (default http://127.0.0.1:4318, the Collector in both set-ups). The server
 * listens on a free port of 127.0.0.1.
 *
 * @module
 */
import { grafanaTraceUrl } from "./grafana_link.ts";
import { runClient, startServer } from "@example/harness/processes";
import { checkJoinedTrace as checkJoined, JoinError } from "@example/demo/joined";
import { checkDashboardQueries, checkErrorRateSeesFailures, dashboardUrl } from "./dashboard.ts";
import { checkJobs } from "./check_jobs.ts";
import { checkShop } from "./check_shop.ts";
import { CheckError, endpointsFromEnv, get, getJson, ok, poll, type StackEndpoints } from "./stack_http.ts";
import { type FlatSpan, flattenTrace } from "./tempo_trace.ts";

/**
 * The joined trace of one client call, by `@example/demo/joined`'s one check; returns its four spans root
 * first.
 *
 * @throws {CheckError} naming what is missing or wrong.
 */
export function checkJoinedTrace(spans: FlatSpan[], traceId: string): FlatSpan[] {
  try {
    const { callApi, clientGet, serverGet, handler } = checkJoined(spans, traceId);
    return [callApi, clientGet, serverGet, handler];
  } catch (error) {
    if (error instanceof JoinError) throw new CheckError(error.message);
    throw error;
  }
}

/** Whether Tempo's search answer lists `traceId` (search ids are hex with leading zeros trimmed). */
export function searchFinds(body: { traces?: { traceID: string }[] }, traceId: string): boolean {
  const want = traceId.replace(/^0+/, "");
  return (body.traces ?? []).some((t) => t.traceID.toLowerCase().replace(/^0+/, "") === want);
}

/** The server's log line written inside its handler span (`process-request`). */
export const SERVER_LOG_LINE = "Server: Processing request in trace context";

/** The structured-metadata key under which Loki keeps an OTLP log record's trace id. */
export const LOKI_TRACE_ID_FIELD = "trace_id";

/** The structured-metadata key under which Loki keeps an OTLP log record's span id. */
export const LOKI_SPAN_ID_FIELD = "span_id";

/** The exemplar label that carries the trace id in Tempo's span metrics (as Prometheus stores them). */
export const EXEMPLAR_TRACE_ID_LABEL = "traceID";

/**
 * The LogQL query of Grafana's "logs for this span" link for a span of `service`, as the Tempo data source's
 * `tracesToLogsV2` custom query produces it: the stream by `service_name`, then the trace and span ids kept
 * as structured metadata.
 */
export function logsForSpanQuery(service: string, traceId: string, spanId: string): string {
  return `{service_name="${service}"} | ${LOKI_TRACE_ID_FIELD}="${traceId}" | ${LOKI_SPAN_ID_FIELD}="${spanId}"`;
}

/** The PromQL query for Deno's own HTTP server metric of `service` (OTLP puts service.name in `job`). */
export function denoRequestCountQuery(service: string): string {
  return `http_server_request_duration_seconds_count{job="${service}"}`;
}

/** The PromQL query for Tempo's span-metrics request rate of `service`, as Grafana's "metrics for this span". */
export function spanRateQuery(service: string): string {
  return `sum(rate(traces_spanmetrics_calls_total{service="${service}"}[5m]))`;
}

/** The PromQL query for the service-graph edge `client` → `server`. */
export function serviceGraphQuery(client: string, server: string): string {
  return `traces_service_graph_request_total{client="${client}",server="${server}"}`;
}

/** One stream of Loki's `query_range` answer: its labels (with structured metadata) and its lines. */
export interface LokiStream {
  /** Stream labels, structured metadata and parsed labels, merged (Loki's default encoding). */
  stream: Record<string, string>;
  /** `[timestamp in ns, line]` pairs. */
  values: [string, string][];
}

/** The lines of Loki's `query_range` answer that equal `line` (console.log adds a newline), with their labels. */
export function findLogLines(
  body: { data?: { result?: LokiStream[] } },
  line: string,
): Record<string, string>[] {
  const found: Record<string, string>[] = [];
  for (const { stream, values } of body.data?.result ?? []) {
    for (const [, text] of values ?? []) if (text.trimEnd() === line) found.push(stream);
  }
  return found;
}

/** One series of Prometheus's `query_exemplars` answer. */
export interface ExemplarSeries {
  /** The series' labels. */
  seriesLabels: Record<string, string>;
  /** Its exemplars, each with its own labels. */
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

/** Whether any exemplar names `traceId` under {@linkcode EXEMPLAR_TRACE_ID_LABEL}. */
export function exemplarsName(body: { data?: ExemplarSeries[] }, traceId: string): boolean {
  return (body.data ?? []).some((series) =>
    series.exemplars.some((e) => e.labels[EXEMPLAR_TRACE_ID_LABEL]?.toLowerCase() === traceId)
  );
}

// ---------------------------------------------------------------------------------------------------------

/** Step 1: fails with one line naming the first backend that is not there or not ready. */
export async function checkBackendsReady(endpoints: StackEndpoints): Promise<void> {
  const ready = async (what: string, url: string) => {
    const res = await get(url, what);
    const text = (await res.text()).trim();
    if (!res.ok) {
      throw new CheckError(`${what} is not ready: ${url} answered ${res.status} ${text.slice(0, 200)}`);
    }
  };
  await ready("the OpenTelemetry Collector", `${endpoints.healthUrl}/`);
  ok(`Collector healthy at ${endpoints.healthUrl}`);
  for (
    const [what, url] of [
      ["Tempo", `${endpoints.tempoUrl}/ready`],
      ["Loki", `${endpoints.lokiUrl}/ready`],
    ]
  ) {
    // Both answer 503 for a few seconds after start-up, while their rings settle.
    await get(url, what).then((res) => res.body?.cancel());
    await poll(`${what} to be ready`, endpoints.timeoutMs, () => ready(what, url).then(() => true));
    ok(`${what} ready at ${url}`);
  }
  await ready("Prometheus", `${endpoints.prometheusUrl}/-/ready`);
  ok(`Prometheus ready at ${endpoints.prometheusUrl}`);
}

/**
 * Runs the example's server, with tracing on, exporting to the Collector, for as long as `use` takes. A
 * SIGTERM then shuts it down gracefully: it exports what it still holds (spans, logs, metrics) before it
 * exits. Deno exports metrics every OTEL_METRIC_EXPORT_INTERVAL ms (60 s by default); here every second.
 */
async function withExampleServer<T>(otlpEndpoint: string, use: (url: string) => Promise<T>): Promise<T> {
  const server = await startServer({ otlpEndpoint, protocol: "http/protobuf", env: METRIC_ENV });
  try {
    return await use(server.url);
  } finally {
    await server.stop();
  }
}

/** Runs one call of the client against the server at `serverUrl` and returns the call's trace id. */
async function callClient(serverUrl: string, otlpEndpoint: string): Promise<string> {
  const client = await runClient(serverUrl, { otlpEndpoint, protocol: "http/protobuf" });
  console.log((client.stdout + client.stderr).trimEnd().replace(/^/gm, "     client | "));
  if (client.code !== 0) throw new CheckError(`the client failed (exit code ${client.code})`);
  const traceId = client.traceId;
  if (!traceId) throw new CheckError("the client printed no trace id (is OTEL_DENO=true honoured?)");
  ok(`client call done, trace id ${traceId}`);
  return traceId;
}

/** Step 2: runs the server and one call of the client, then stops the server; returns the trace id. */
function callThroughExample(otlpEndpoint: string): Promise<string> {
  return withExampleServer(otlpEndpoint, (url) => callClient(url, otlpEndpoint));
}

/**
 * Step 8: every query of the provisioned dashboard returns the example's data. A rate needs a counter that
 * rose between two samples, which a server that stops right after one call has not exported; so, as a
 * server in real use does, this one keeps running (exporting every second) while the dashboard's queries
 * are asked, and the client calls it again while a query has no data yet. Then the error-rate panel must
 * show the failures of requests to the route that fails on purpose.
 */
function checkDashboard(endpoints: StackEndpoints): Promise<void> {
  return withExampleServer(endpoints.otlpEndpoint, async (url) => {
    await checkDashboardQueries(endpoints, () => callClient(url, endpoints.otlpEndpoint));
    await checkErrorRateSeesFailures(endpoints, () => failingRequest(url));
  });
}

/** The server's route that fails on purpose (server.ts): one request to it, which must answer 500. */
async function failingRequest(serverUrl: string): Promise<string> {
  const route = "/error";
  const res = await get(new URL(route, serverUrl).href, "the example's server");
  await res.body?.cancel();
  if (res.status !== 500) throw new CheckError(`${route} answered ${res.status}, expected 500`);
  return route;
}

/** Waits until Tempo's trace-by-id API has all 4 spans of the call's trace, and returns them, flattened. */
function joinedTraceInTempo(tempoUrl: string, traceId: string, timeoutMs: number): Promise<FlatSpan[]> {
  return poll(`trace ${traceId} with 4 spans in Tempo`, timeoutMs, async () => {
    const res = await get(`${tempoUrl}/api/v2/traces/${traceId}`, "Tempo");
    if (res.status === 404) {
      await res.body?.cancel();
      throw new CheckError("Tempo does not know the trace yet");
    }
    if (!res.ok) throw new CheckError(`Tempo answered ${res.status}: ${(await res.text()).trim()}`);
    const flat = flattenTrace(await res.json());
    if (flat.length < 4) throw new CheckError(`Tempo has ${flat.length} of the 4 spans so far`);
    return flat;
  });
}

/** Step 3: the joined trace from Tempo's trace-by-id API, printed as a tree; returns its four spans. */
async function checkTraceInTempo(endpoints: StackEndpoints, traceId: string): Promise<FlatSpan[]> {
  const spans = await joinedTraceInTempo(endpoints.tempoUrl, traceId, endpoints.timeoutMs);
  const joined = checkJoinedTrace(spans, traceId);
  ok(`Tempo returns the joined trace:`);
  for (const [depth, span] of joined.entries()) {
    console.log(
      `     ${"  ".repeat(depth)}${span.service}: ${span.name} (${span.kind.replace("SPAN_KIND_", "")})`,
    );
  }
  return joined;
}

/** Step 4: Tempo's search by `service.name` lists the trace. */
async function checkTempoSearch(endpoints: StackEndpoints, traceId: string): Promise<void> {
  await poll(`Tempo search by service.name=client to list ${traceId}`, endpoints.timeoutMs, async () => {
    const end = Math.ceil(Date.now() / 1000) + 60;
    const query = new URLSearchParams({
      tags: "service.name=client",
      limit: "100",
      start: String(end - 3600),
      end: String(end),
    });
    const body = await getJson(`${endpoints.tempoUrl}/api/search?${query}`, "Tempo search");
    return searchFinds(body as { traces?: { traceID: string }[] }, traceId) ? true : undefined;
  });
  ok("Tempo search by service.name=client finds the trace");
}

/**
 * Step 5: the server's log line in Loki, found by the query of Grafana's "logs for this span" on the handler
 * span, carrying the trace's and the span's id.
 */
async function checkLogLine(endpoints: StackEndpoints, traceId: string, handler: FlatSpan): Promise<void> {
  const logQuery = logsForSpanQuery("server", traceId, handler.spanId);
  const line = await poll(
    `Loki to hold "${SERVER_LOG_LINE}" for span ${handler.spanId}`,
    endpoints.timeoutMs,
    async () => {
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      const query = new URLSearchParams({
        query: logQuery,
        start: String(nowNs - 3_600_000_000_000n),
        end: String(nowNs + 60_000_000_000n),
        limit: "100",
      });
      const body = await getJson(`${endpoints.lokiUrl}/loki/api/v1/query_range?${query}`, "Loki");
      const [found] = findLogLines(body as { data?: { result?: LokiStream[] } }, SERVER_LOG_LINE);
      if (!found) throw new CheckError(`Loki returns no such line for ${logQuery} yet`);
      return found;
    },
  );
  if (line[LOKI_TRACE_ID_FIELD] !== traceId || line[LOKI_SPAN_ID_FIELD] !== handler.spanId) {
    throw new CheckError(
      `the log line carries trace ${line[LOKI_TRACE_ID_FIELD]} span ${line[LOKI_SPAN_ID_FIELD]}, ` +
        `expected ${traceId} ${handler.spanId}`,
    );
  }
  ok(`Loki has the server's log line with trace_id ${traceId} and the ${handler.name} span's span_id`);
  console.log(`     ${logQuery}`);
}

/** Step 6: Deno's own metric (OTLP), then what Tempo's metrics generator writes (remote write). */
async function checkMetrics(endpoints: StackEndpoints): Promise<void> {
  for (
    const [what, query] of [
      ["Deno's HTTP server duration metric for service server", denoRequestCountQuery("server")],
      ["the service-graph edge client → server", serviceGraphQuery("client", "server")],
      ["the span metrics of service server", spanRateQuery("server")],
    ]
  ) {
    await poll(`Prometheus to hold ${what} (${query})`, endpoints.timeoutMs, async () => {
      const url = `${endpoints.prometheusUrl}/api/v1/query?${new URLSearchParams({ query })}`;
      const body = await getJson(url, "Prometheus") as { data?: { result?: unknown[] } };
      return (body.data?.result?.length ?? 0) > 0 ? true : undefined;
    });
    ok(`Prometheus has ${what}: ${query}`);
  }
}

/** How long to wait for an exemplar of the check's calls before making another call. */
const EXEMPLAR_RETRY_MS = 30_000;

/**
 * Step 7: an exemplar that leads from the span metrics back to a trace of this check. Tempo's metrics
 * generator does not always attach one to the first observation of a new series (seen once in CI, with Tempo
 * 3.0.3: no exemplar after 120 s, while a rerun had it at once). So after EXEMPLAR_RETRY_MS without one, the
 * check calls again (a fresh trace, the series now exists) and accepts an exemplar naming any of its traces;
 * one that names another call's trace must lead to that whole joined trace in Tempo.
 */
async function checkExemplar(endpoints: StackEndpoints, traceId: string): Promise<void> {
  const exemplarQuery = 'traces_spanmetrics_latency_bucket{service="server"}';
  const traceIds = [traceId];
  let lastCall = Date.now();
  const named = await poll(
    "Prometheus to hold an exemplar naming a trace of this check",
    endpoints.timeoutMs,
    async () => {
      const end = Math.ceil(Date.now() / 1000) + 60;
      const query = new URLSearchParams({
        query: exemplarQuery,
        start: String(end - 3600),
        end: String(end),
      });
      const url = `${endpoints.prometheusUrl}/api/v1/query_exemplars?${query}`;
      const body = await getJson(url, "Prometheus exemplars");
      const found = traceIds.find((id) => exemplarsName(body as { data?: ExemplarSeries[] }, id));
      if (found === undefined && Date.now() - lastCall >= EXEMPLAR_RETRY_MS) {
        console.log(`     no exemplar yet after ${EXEMPLAR_RETRY_MS / 1000} s: one more call`);
        traceIds.push(await callThroughExample(endpoints.otlpEndpoint));
        lastCall = Date.now();
      }
      return found;
    },
  );
  if (named !== traceId) {
    checkJoinedTrace(await joinedTraceInTempo(endpoints.tempoUrl, named, endpoints.timeoutMs), named);
  }
  ok(`Prometheus has an exemplar of ${exemplarQuery} with ${EXEMPLAR_TRACE_ID_LABEL}=${named}`);
}

/** Runs the whole check; resolves on success, rejects with a {@linkcode CheckError} otherwise. */
export async function checkStack(endpoints: StackEndpoints = endpointsFromEnv()): Promise<void> {
  await checkBackendsReady(endpoints); // step 1: is a stack there at all?
  const traceId = await callThroughExample(endpoints.otlpEndpoint); // step 2, with tracing on
  const [, , , handler] = await checkTraceInTempo(endpoints, traceId);
  await checkTempoSearch(endpoints, traceId);
  await checkLogLine(endpoints, traceId, handler);
  await checkMetrics(endpoints);
  await checkExemplar(endpoints, traceId);
  await checkDashboard(endpoints);
  await checkJobs(endpoints); // the jobs example: its trace, the linked batch, the app's metrics
  await checkShop(endpoints); // the shop chapter: each fault found by TraceQL, its services' metrics
  console.log(
    `\nAll stack checks passed. The trace in Grafana: ${
      grafanaTraceUrl(traceId, { grafanaUrl: endpoints.grafanaUrl })
    }`,
  );
  console.log(`The dashboard: ${dashboardUrl(endpoints.grafanaUrl)}`);
}

/** Deno exports metrics every 60 s by default; the server of the check exports every second. */
const METRIC_ENV = { OTEL_METRIC_EXPORT_INTERVAL: "1000" };

if (import.meta.main) {
  try {
    await checkStack();
  } catch (error) {
    if (!(error instanceof CheckError)) throw error;
    console.error(`FAIL ${error.message}`);
    Deno.exitCode = 1;
  }
}
