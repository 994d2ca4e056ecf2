/**
 * The provisioned Grafana dashboard "Deno services" (`grafana/dashboards/deno_services.json`) as data: the
 * queries its variable and panels run, with the variables filled in ({@linkcode backendQueries}), the
 * static checks of its JSON ({@linkcode dashboardProblems}), and the run of every one of those queries
 * against the real Prometheus, Tempo and Loki ({@linkcode checkDashboardQueries}, a step of
 * `deno task test:stack`). Grafana itself cannot run where CI runs; reading the queries out of the JSON
 * keeps the dashboard and the check from drifting apart.
 *
 * @module
 */
import dashboardJson from "./grafana/dashboards/deno_services.json" with { type: "json" };
import { CheckError, getJson, ok, poll, type StackEndpoints } from "./stack_http.ts";

/** A reference to a provisioned data source. */
export interface DatasourceRef {
  /** The plugin type: `prometheus`, `tempo`, `loki`. */
  type: string;
  /** The data source's uid (`provisioning/datasources/datasources.yaml`). */
  uid: string;
}

/** One query of a panel (the fields the three data sources use). */
export interface Target {
  /** The query's id within its panel. */
  refId: string;
  /** The data source that runs it. */
  datasource?: DatasourceRef;
  /** PromQL (Prometheus) or LogQL (Loki). */
  expr?: string;
  /** TraceQL (Tempo, `queryType: traceql`). */
  query?: string;
  /** Tempo's kind of query: `traceql` or `serviceMap`. */
  queryType?: string;
  /** The label matchers of a Tempo service-graph query, one or several (OR). */
  serviceMapQuery?: string | string[];
  /** A series' name in the legend; `{{label}}` names a label every series must carry. */
  legendFormat?: string;
  /** A Prometheus instant query instead of a range query. */
  instant?: boolean;
  /** How many traces a Tempo search lists. */
  limit?: number;
}

/** A link in a panel's header menu. */
export interface PanelLink {
  /** The link's text. */
  title: string;
  /** Where it goes; Grafana fills in `${...}` variables when it is clicked. */
  url: string;
}

/** A panel of the dashboard. */
export interface Panel {
  /** The panel's id within the dashboard. */
  id: number;
  /** The visualization: `timeseries`, `nodeGraph`, `table`, `logs`. */
  type: string;
  /** The panel's title. */
  title: string;
  /** The panel's data source. */
  datasource?: DatasourceRef;
  /** Its queries. */
  targets?: Target[];
  /** Its links. */
  links?: PanelLink[];
}

/** A template variable (only query variables are used). */
export interface Variable {
  /** The name queries refer to as `$name`. */
  name: string;
  /** The kind of variable: `query`. */
  type: string;
  /** The data source that lists its values. */
  datasource?: DatasourceRef;
  /** The query that lists its values: a string, or Grafana's object with a `query` field. */
  query?: string | { query: string };
}

/** The fields of Grafana's classic dashboard JSON model that this module reads. */
export interface Dashboard {
  /** The dashboard's uid, its address: `/d/<uid>`. */
  uid: string;
  /** The dashboard's title. */
  title: string;
  /** The version of Grafana's dashboard JSON model. */
  schemaVersion: number;
  /** The panels. */
  panels: Panel[];
  /** The variables. */
  templating: { list: Variable[] };
}

/** The dashboard as provisioned. */
export const DASHBOARD: Dashboard = dashboardJson as Dashboard;

/**
 * The dashboard schema version Grafana 13 writes (`DASHBOARD_SCHEMA_VERSION` in Grafana's source at v13.2.1;
 * Grafana migrates an older dashboard on every read).
 */
export const GRAFANA_13_SCHEMA_VERSION = 42;

/** The service the example's traffic reaches: the one the check fills into `$service`. */
export const EXAMPLE_SERVICE = "server";

/** Variables Grafana itself provides. */
const BUILTIN_VARIABLES = new Set([
  "__rate_interval",
  "__interval",
  "__interval_ms",
  "__range",
  "__range_s",
  "__range_ms",
  "__from",
  "__to",
]);

/** The address of the dashboard in a Grafana at `grafanaUrl`. */
export function dashboardUrl(grafanaUrl: string, dashboard: Dashboard = DASHBOARD): string {
  return `${grafanaUrl.replace(/\/+$/, "")}/d/${dashboard.uid}`;
}

/** What the check fills in for Grafana's variables. */
export interface QueryContext {
  /** The value of `$service`. */
  service: string;
  /** The dashboard's time range, in seconds back from now (`$__range`). */
  rangeSeconds: number;
  /** `$__rate_interval`: Grafana's value for a 15 s scrape interval, max(4 × 15 s, step + 15 s). */
  rateInterval: string;
  /** The step of range queries (`$__interval`), in seconds. */
  stepSeconds: number;
}

/** The dashboard's default range (last hour), as a browser of ordinary width shows it. */
export const CHECK_CONTEXT: QueryContext = {
  service: EXAMPLE_SERVICE,
  rangeSeconds: 3600,
  rateInterval: "1m",
  stepSeconds: 15,
};

const VARIABLE = /\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g;

/** The names of the variables `text` uses (`$name`, `${name}`, `${name:format}`, `[[name]]`). */
export function variablesIn(text: string): string[] {
  return [...text.matchAll(VARIABLE)].map((m) => m[1] ?? m[2] ?? m[3]);
}

/**
 * Fills Grafana's variables into `text` with the values of `context`.
 *
 * @throws {CheckError} naming a variable it has no value for.
 */
export function interpolate(text: string, context: QueryContext): string {
  const values: Record<string, string> = {
    service: context.service,
    __rate_interval: context.rateInterval,
    __interval: `${context.stepSeconds}s`,
    __range: `${context.rangeSeconds}s`,
  };
  return text.replace(VARIABLE, (whole, ...names) => {
    const name = names.slice(0, 3).find((n) => n !== undefined);
    if (!(name in values)) {
      throw new CheckError(`the dashboard uses ${whole}, which the check cannot fill in`);
    }
    return values[name];
  });
}

/** The metrics Grafana's Tempo data source reads for a service graph (`serviceMapMetrics` in its source). */
export const SERVICE_MAP_METRICS = [
  "traces_service_graph_request_server_seconds_sum",
  "traces_service_graph_request_total",
  "traces_service_graph_request_failed_total",
  "traces_service_graph_request_server_seconds_bucket",
];

/**
 * The PromQL instant queries Grafana's Tempo data source sends to Prometheus for a service-graph query
 * (`makePromServiceMapRequest` in Grafana's Tempo plugin): per metric, the rate summed by edge and the
 * edge's labels, one sub-expression per matcher, joined by OR. (The span-metrics table Explore shows next to
 * a service graph comes from further queries, which a node graph panel does not draw; they are not run.)
 */
export function serviceMapExprs(serviceMapQuery: string | string[] | undefined): string[] {
  const matchers = Array.isArray(serviceMapQuery) ? serviceMapQuery : [serviceMapQuery ?? ""];
  return SERVICE_MAP_METRICS.flatMap((metric) => [
    matchers.map((m) => `sum by (client, server) (rate(${metric}${m}[$__range]))`).join(" OR "),
    matchers.map((m) => `group by (client, connection_type, server) (${metric}${m})`).join(" OR "),
  ]);
}

/** One query the dashboard makes a backend run, with the variables filled in. */
export type BackendQuery =
  & {
    /** Which variable or panel query it is, for messages. */
    what: string;
    /** Why it may come back empty for the example's traffic; absent when it must return data. */
    mayBeEmpty?: string;
  }
  & (
    | { backend: "prometheus-labels"; metric: string; label: string }
    | { backend: "prometheus"; expr: string; instant: boolean; labels: string[] }
    | { backend: "tempo"; traceql: string; limit: number }
    | { backend: "loki"; logql: string }
  );

/**
 * The values query of a variable as Grafana's Prometheus data source runs it: `label_values(metric, label)`
 * asks `/api/v1/label/<label>/values?match[]=<metric>`.
 *
 * @throws {CheckError} for another kind of variable query.
 */
export function variableQuery(variable: Variable): BackendQuery {
  const text = typeof variable.query === "string" ? variable.query : variable.query?.query ?? "";
  const match = text.match(/^label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*(\w+)\s*\)$/);
  if (variable.datasource?.type !== "prometheus" || !match) {
    throw new CheckError(`variable $${variable.name}: the check runs only label_values(metric, label)`);
  }
  return {
    what: `variable $${variable.name}`,
    backend: "prometheus-labels",
    metric: match[1],
    label: match[2],
  };
}

/**
 * The queries of one panel target as its data source sends them to a backend.
 *
 * @throws {CheckError} for a query kind the check cannot run, or a variable it cannot fill in.
 */
export function targetQueries(panel: Panel, target: Target, context: QueryContext): BackendQuery[] {
  const what = `panel "${panel.title}" query ${target.refId}`;
  const type = (target.datasource ?? panel.datasource)?.type;
  if (type === "prometheus" && target.expr) {
    const labels = [...(target.legendFormat ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]);
    const expr = interpolate(target.expr, context);
    return [{ what, backend: "prometheus", expr, instant: target.instant === true, labels }];
  }
  if (type === "tempo" && target.queryType === "traceql" && target.query) {
    return [{
      what,
      backend: "tempo",
      traceql: interpolate(target.query, context),
      limit: target.limit ?? 20,
    }];
  }
  if (type === "tempo" && target.queryType === "serviceMap") {
    return serviceMapExprs(target.serviceMapQuery).map((expr) => ({
      what: `${what} (service graph)`,
      backend: "prometheus",
      expr: interpolate(expr, context),
      instant: true,
      labels: [],
      ...(expr.includes("_failed_total")
        ? { mayBeEmpty: "no request of the example's traffic fails, so no failed edge exists" }
        : {}),
    }));
  }
  if (type === "loki" && target.expr) {
    return [{ what, backend: "loki", logql: interpolate(target.expr, context) }];
  }
  throw new CheckError(`${what}: the check cannot run a ${type} query of this kind`);
}

/** Every query of the dashboard: its variables' values queries, then each panel's targets. */
export function backendQueries(dashboard: Dashboard, context: QueryContext): BackendQuery[] {
  return [
    ...dashboard.templating.list.map(variableQuery),
    ...dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).flatMap((target) => targetQueries(panel, target, context))
    ),
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Static checks (no Grafana needed)

/** The Explore panes a panel link opens: data source uid, queries, range. */
export interface ExplorePane {
  /** The uid of the pane's data source. */
  datasource: string;
  /** The queries it runs. */
  queries: Target[];
  /** Its time range. */
  range?: { from: string; to: string };
}

/**
 * The panes of an Explore link (`/explore?...&panes=<JSON>`), with Grafana's link variables as they stand,
 * `${service:percentencode}` turned back into the `$service` of the panel's queries.
 *
 * @throws {Error} when the URL is not an Explore link or its panes are not JSON.
 */
export function explorePanes(url: string): ExplorePane[] {
  const parsed = new URL(url, "http://grafana.invalid");
  if (parsed.pathname !== "/explore") throw new Error(`${url} does not open Explore`);
  const panes = parsed.searchParams.get("panes");
  if (!panes) throw new Error(`${url} names no panes`);
  return Object.values(JSON.parse(panes.replaceAll("${service:percentencode}", "$service")));
}

function allStrings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(allStrings);
  if (value && typeof value === "object") return Object.values(value).flatMap(allStrings);
  return [];
}

function datasourceProblems(where: string, ref: DatasourceRef | undefined, known: DatasourceRef[]): string[] {
  if (!ref) return [`${where}: no data source`];
  const found = known.find((d) => d.uid === ref.uid);
  if (!found) return [`${where}: data source uid "${ref.uid}" is not provisioned`];
  return found.type === ref.type
    ? []
    : [`${where}: data source "${ref.uid}" is a ${found.type}, not ${ref.type}`];
}

function linkProblems(panel: Panel, known: DatasourceRef[]): string[] {
  const where = `panel "${panel.title}"`;
  if (!panel.links?.length) return [`${where}: no link into Explore`];
  return panel.links.flatMap((link) => {
    let panes: ExplorePane[];
    try {
      panes = explorePanes(link.url);
    } catch (error) {
      return [`${where}: link "${link.title}": ${(error as Error).message}`];
    }
    return panes.flatMap((pane) => {
      const ref = known.find((d) => d.uid === pane.datasource);
      if (!ref) {
        return [`${where}: link "${link.title}" opens Explore on unknown data source "${pane.datasource}"`];
      }
      const queries = pane.queries.flatMap((q) =>
        datasourceProblems(`${where}: link query`, q.datasource, known)
      );
      const same = JSON.stringify(pane.queries) === JSON.stringify(panel.targets);
      return [
        ...queries,
        ...(same ? [] : [`${where}: link "${link.title}" runs other queries than the panel`]),
      ];
    });
  });
}

function panelProblems(panel: Panel, known: DatasourceRef[]): string[] {
  const where = `panel "${panel.title}"`;
  const problems = datasourceProblems(where, panel.datasource, known);
  if (!panel.targets?.length) return [...problems, `${where}: no query (targets)`];
  for (const target of panel.targets) {
    const query = target.expr ?? target.query ?? target.serviceMapQuery;
    if (!query?.length) problems.push(`${where} query ${target.refId}: empty`);
    problems.push(...datasourceProblems(`${where} query ${target.refId}`, target.datasource, known));
  }
  if (new Set(panel.targets.map((t) => t.refId)).size !== panel.targets.length) {
    problems.push(`${where}: two queries share a refId`);
  }
  return [...problems, ...linkProblems(panel, known)];
}

/**
 * What is wrong with `dashboard` for a Grafana 13 with the data sources `known`: the schema version, data
 * source uids that are not provisioned (or of another type), variables used but not defined, panels without
 * a query, panel links that do not open Explore with the panel's own queries on a known data source.
 * Returns one line per problem; none for a sound dashboard.
 */
export function dashboardProblems(dashboard: Dashboard, known: DatasourceRef[]): string[] {
  const problems: string[] = [];
  if (dashboard.schemaVersion !== GRAFANA_13_SCHEMA_VERSION) {
    problems.push(`schemaVersion ${dashboard.schemaVersion}, Grafana 13 writes ${GRAFANA_13_SCHEMA_VERSION}`);
  }
  const defined = new Set(dashboard.templating.list.map((v) => v.name));
  for (const variable of dashboard.templating.list) {
    problems.push(...datasourceProblems(`variable $${variable.name}`, variable.datasource, known));
  }
  const texts = [
    ...allStrings(dashboard.panels),
    ...dashboard.panels.flatMap((p) => (p.links ?? []).map((l) => decodeURIComponent(l.url))),
  ];
  for (const name of new Set(texts.flatMap(variablesIn))) {
    if (!defined.has(name) && !BUILTIN_VARIABLES.has(name)) problems.push(`variable $${name} is not defined`);
  }
  for (const panel of dashboard.panels) problems.push(...panelProblems(panel, known));
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// The queries against the real backends (a step of `deno task test:stack`)

/** One series of a Prometheus answer: a range query has `values`, an instant query `value`. */
export interface PromSeries {
  /** The series' labels. */
  metric: Record<string, string>;
  /** `[time, value]` pairs of a range query. */
  values?: [number, string][];
  /** The one `[time, value]` of an instant query. */
  value?: [number, string];
}

/**
 * Whether a Prometheus answer has data a panel would draw: a series with a number that is not NaN and with
 * every label its legend names.
 */
export function seriesHaveData(body: { data?: { result?: PromSeries[] } }, labels: string[]): boolean {
  return (body.data?.result ?? []).some((series) =>
    labels.every((label) => series.metric[label]) &&
    [...(series.values ?? []), ...(series.value ? [series.value] : [])].some(([, v]) => !isNaN(Number(v)))
  );
}

/**
 * Whether a Loki answer holds a line whose structured metadata names `traceId` (Loki keeps an OTLP log
 * record's trace id under `trace_id`, `LOKI_TRACE_ID_FIELD` of check_stack.ts).
 */
export function logsHoldTrace(
  body: { data?: { result?: { stream: Record<string, string> }[] } },
  traceId: string,
): boolean {
  return (body.data?.result ?? []).some((s) => s.stream.trace_id === traceId);
}

/** The request of `query` against its backend, over the dashboard's range ending now. */
function requestUrl(endpoints: StackEndpoints, query: BackendQuery, context: QueryContext): string {
  const end = Math.floor(Date.now() / 1000);
  const start = end - context.rangeSeconds;
  const range = { start: String(start), end: String(end) };
  switch (query.backend) {
    case "prometheus-labels":
      return `${endpoints.prometheusUrl}/api/v1/label/${query.label}/values?` +
        new URLSearchParams({ "match[]": query.metric, ...range });
    case "prometheus":
      return query.instant
        ? `${endpoints.prometheusUrl}/api/v1/query?${new URLSearchParams({
          query: query.expr,
          time: range.end,
        })}`
        : `${endpoints.prometheusUrl}/api/v1/query_range?` +
          new URLSearchParams({ query: query.expr, ...range, step: String(context.stepSeconds) });
    case "tempo":
      return `${endpoints.tempoUrl}/api/search?` +
        new URLSearchParams({ q: query.traceql, limit: String(query.limit), spss: "3", ...range });
    case "loki":
      return `${endpoints.lokiUrl}/loki/api/v1/query_range?` + new URLSearchParams({
        query: query.logql,
        start: `${range.start}000000000`,
        end: `${end + 60}000000000`,
        limit: "1000",
        direction: "backward",
      });
  }
}

/** Whether a backend's answer to `query` has the example's data; the check's own call's, where it can tell. */
function answered(query: BackendQuery, body: unknown, context: QueryContext, traceId: string): boolean {
  switch (query.backend) {
    case "prometheus-labels":
      return ((body as { data?: string[] }).data ?? []).includes(context.service);
    case "prometheus":
      return seriesHaveData(body as { data?: { result?: PromSeries[] } }, query.labels);
    case "tempo":
      return ((body as { traces?: unknown[] }).traces?.length ?? 0) > 0;
    case "loki":
      return logsHoldTrace(body as { data?: { result?: { stream: Record<string, string> }[] } }, traceId);
  }
}

function describeQuery(query: BackendQuery): string {
  switch (query.backend) {
    case "prometheus-labels":
      return `label_values(${query.metric}, ${query.label})`;
    case "prometheus":
      return query.expr;
    case "tempo":
      return query.traceql;
    case "loki":
      return query.logql;
  }
}

/**
 * Asks the backend `ask.query` once a second until `accept` takes its answer, for at most
 * `endpoints.timeoutMs`; after each answer it does not take, `more` makes more traffic.
 */
function untilAnswered(
  endpoints: StackEndpoints,
  ask: { query: BackendQuery; context: QueryContext; waitingFor: string },
  accept: (body: unknown) => boolean,
  more: () => Promise<void>,
): Promise<true> {
  return poll(ask.waitingFor, endpoints.timeoutMs, async () => {
    const body = await getJson(requestUrl(endpoints, ask.query, ask.context), ask.query.what);
    if (accept(body)) return true;
    await more();
  });
}

/**
 * Runs every query of the dashboard ({@linkcode backendQueries} with `$service` = the example's server)
 * against the real backends and waits until each returns the example's data: the variable lists the
 * server, every Prometheus panel has a series with a number and the labels its legend names, Tempo's search
 * lists traces, Loki holds the log line of one of the check's traces.
 *
 * `call` makes one call through the example and returns its trace id. It is called once at the start, and
 * again whenever a query has no data yet: a rate, a ratio of rates and a quantile of rates are numbers only
 * once a counter has risen between two samples inside `$__rate_interval`, that is, with traffic.
 *
 * @throws {CheckError} naming the first query that stays empty for `endpoints.timeoutMs`.
 */
export async function checkDashboardQueries(
  endpoints: StackEndpoints,
  call: () => Promise<string>,
  dashboard: Dashboard = DASHBOARD,
  context: QueryContext = CHECK_CONTEXT,
): Promise<void> {
  const queries = backendQueries(dashboard, context);
  const traceIds = [await call()];
  let calls = 1;
  for (const query of queries) {
    const text = describeQuery(query);
    if (query.mayBeEmpty) {
      // Still run: a query Prometheus refuses fails the check; an empty answer is expected.
      await getJson(requestUrl(endpoints, query, context), `Prometheus (${query.what})`);
      console.log(`     ${query.what} may be empty (${query.mayBeEmpty}): ${text}`);
      continue;
    }
    await untilAnswered(
      endpoints,
      { query, context, waitingFor: `dashboard ${query.what} to return data: ${text}` },
      (body) => traceIds.some((id) => answered(query, body, context, id)),
      async () => {
        console.log(`     no data yet for ${query.what}: one more call`);
        traceIds.push(await call());
        calls++;
      },
    );
  }
  ok(
    `every query of the dashboard "${dashboard.title}" returns data for $service=${context.service} ` +
      `(${calls} calls):`,
  );
  for (const query of queries.filter((q) => !q.mayBeEmpty)) {
    console.log(`     ${query.what}: ${describeQuery(query)}`);
  }
}

/** The title of the panel whose query {@linkcode checkErrorRateSeesFailures} proves. */
export const ERROR_RATE_PANEL = "Error rate";

/**
 * Whether a Prometheus answer shows a share above 0 for `route`: the error-rate panel seeing failures.
 */
export function showsErrorsFor(body: { data?: { result?: PromSeries[] } }, route: string): boolean {
  return (body.data?.result ?? []).some((series) =>
    series.metric.http_route === route && (series.values ?? []).some(([, v]) => Number(v) > 0)
  );
}

/**
 * Proves that the query of the "Error rate" panel sees failures, not only that it returns a number:
 * `fail` makes one request the server answers with a 5xx and returns its route; it is called again while
 * the panel shows no share above 0 for that route (a new series needs a second sample that rose).
 *
 * @throws {CheckError} when the panel's query shows no errors for `endpoints.timeoutMs`.
 */
export async function checkErrorRateSeesFailures(
  endpoints: StackEndpoints,
  fail: () => Promise<string>,
  dashboard: Dashboard = DASHBOARD,
  context: QueryContext = CHECK_CONTEXT,
): Promise<void> {
  const panel = dashboard.panels.find((p) => p.title === ERROR_RATE_PANEL);
  if (!panel?.targets?.length) throw new CheckError(`the dashboard has no panel "${ERROR_RATE_PANEL}"`);
  const [query] = targetQueries(panel, panel.targets[0], context);
  const route = await fail();
  let failures = 1;
  await untilAnswered(
    endpoints,
    { query, context, waitingFor: `dashboard ${query.what} to show the errors of ${route}` },
    (body) => showsErrorsFor(body as { data?: { result?: PromSeries[] } }, route),
    async () => {
      await fail();
      failures++;
    },
  );
  ok(`the dashboard's "${ERROR_RATE_PANEL}" shows the errors of ${route} (${failures} failed requests)`);
}
