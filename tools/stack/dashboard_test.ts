// Static checks of the provisioned Grafana dashboard (no Grafana, no backends; needs --allow-read), and unit
// tests of the pure parts of tools/stack/dashboard.ts, which `deno task test:stack` uses against the real backends.
import assert from "node:assert/strict";
import { parse } from "yaml";
import {
  backendQueries,
  CHECK_CONTEXT,
  DASHBOARD,
  type Dashboard,
  dashboardProblems,
  dashboardUrl,
  type DatasourceRef,
  explorePanes,
  GRAFANA_13_SCHEMA_VERSION,
  interpolate,
  logsHoldTrace,
  seriesHaveData,
  serviceMapExprs,
  showsErrorsFor,
  variableQuery,
  variablesIn,
} from "./dashboard.ts";

const root = new URL("../../", import.meta.url);

// deno-lint-ignore no-explicit-any
function readYaml(path: string): any {
  return parse(Deno.readTextFileSync(new URL(path, root)), { strict: true, uniqueKeys: true });
}

function provisioned(): DatasourceRef[] {
  return readYaml("tools/stack/grafana/provisioning/datasources/datasources.yaml").datasources
    .map(({ type, uid }: DatasourceRef) => ({ type, uid }));
}

function copy(): Dashboard {
  return structuredClone(DASHBOARD);
}

function panel(dashboard: Dashboard, title: string) {
  const found = dashboard.panels.find((p) => p.title === title);
  assert.ok(found, `no panel "${title}"`);
  return found;
}

Deno.test("dashboard: sound for Grafana 13 and the provisioned data sources", () => {
  assert.deepEqual(dashboardProblems(DASHBOARD, provisioned()), []);
  const versions = JSON.parse(Deno.readTextFileSync(new URL("tools/stack/versions.json", root)));
  assert.match(
    versions.grafana,
    /^13\./,
    "GRAFANA_13_SCHEMA_VERSION is Grafana 13's; re-check it on an upgrade",
  );
  assert.equal(DASHBOARD.schemaVersion, GRAFANA_13_SCHEMA_VERSION);
  assert.equal(DASHBOARD.title, "Deno services");
});

Deno.test("dashboard: the panels the README describes, each on the data source of its kind", () => {
  const kinds = DASHBOARD.panels.map((p) => `${p.title}: ${p.type} on ${p.datasource?.uid}`);
  assert.deepEqual(kinds, [
    "Request rate: timeseries on prometheus",
    "Error rate: timeseries on prometheus",
    "Latency p50 / p95 / p99: timeseries on prometheus",
    "Service graph: nodeGraph on tempo",
    "Recent traces: table on tempo",
    "Logs: logs on loki",
  ]);
  assert.deepEqual(DASHBOARD.templating.list.map((v) => v.name), ["service"]);
});

Deno.test("dashboardProblems names each kind of mistake", () => {
  const cases: [string, (d: Dashboard) => void, RegExp][] = [
    ["an old schema", (d) => (d.schemaVersion = 39), /^schemaVersion 39, Grafana 13 writes 42$/],
    [
      "an unknown uid",
      (d) => (panel(d, "Request rate").datasource = { type: "prometheus", uid: "mimir" }),
      /"mimir" is not/,
    ],
    [
      "a uid of another type",
      (d) => (panel(d, "Logs").targets![0].datasource!.type = "tempo"),
      /is a loki, not tempo/,
    ],
    [
      "an undefined variable",
      (d) => (panel(d, "Logs").targets![0].expr = '{env="$env"}'),
      /\$env is not defined/,
    ],
    [
      "a panel without targets",
      (d) => delete panel(d, "Error rate").targets,
      /"Error rate": no query \(targets\)/,
    ],
    [
      "an empty query",
      (d) => (panel(d, "Recent traces").targets![0].query = ""),
      /"Recent traces" query A: empty/,
    ],
    [
      "no link",
      (d) => delete panel(d, "Latency p50 / p95 / p99").links,
      /"Latency p50 \/ p95 \/ p99": no link into Explore/,
    ],
    [
      "a link elsewhere",
      (d) => (panel(d, "Service graph").links![0].url = "/d/other"),
      /does not open Explore/,
    ],
    [
      "a link on an unknown data source",
      (
        d,
      ) => (panel(d, "Request rate").links![0].url = panel(d, "Request rate").links![0].url.replace(
        "%22prometheus%22%2C",
        "%22x%22%2C",
      )),
      /opens Explore on unknown data source "x"/,
    ],
    [
      "a link with other queries",
      (d) => (panel(d, "Request rate").targets![0].expr = "up"),
      /"Request rate": link "Open in Explore" runs other queries than the panel/,
    ],
  ];
  for (const [what, spoil, expected] of cases) {
    const dashboard = copy();
    spoil(dashboard);
    const problems = dashboardProblems(dashboard, provisioned());
    assert.ok(problems.some((p) => expected.test(p)), `${what}: ${JSON.stringify(problems)}`);
  }
});

Deno.test("dashboard: every panel links into Explore with its own queries over the dashboard's range", () => {
  for (const p of DASHBOARD.panels) {
    const [pane] = explorePanes(p.links![0].url);
    assert.equal(pane.datasource, p.datasource!.uid, p.title);
    assert.deepEqual(pane.queries, p.targets, p.title);
    assert.deepEqual(pane.range, { from: "${__from}", to: "${__to}" }, p.title);
  }
});

Deno.test("dashboard: provisioned by the provider that tools/stack/docker-compose.yml mounts, at /d/<uid>", () => {
  const [provider] = readYaml("tools/stack/grafana/provisioning/dashboards/dashboards.yaml").providers;
  assert.equal(provider.type, "file");
  const grafana = readYaml("tools/stack/docker-compose.yml").services.grafana;
  const mounts = grafana.volumes.map((v: string) => v.split(":"));
  const dashboards = mounts.find(([, target]: string[]) => target === provider.options.path);
  assert.ok(dashboards, `nothing is mounted at the provider's path ${provider.options.path}`);
  const [source, , mode] = dashboards;
  assert.equal(mode, "ro");
  const file = JSON.parse(
    Deno.readTextFileSync(new URL(`${source}/deno_services.json`, new URL("tools/stack/", root))),
  );
  assert.equal(file.uid, DASHBOARD.uid);
  assert.ok(
    mounts.some(([s, t]: string[]) => s === "./grafana/provisioning" && t === "/etc/grafana/provisioning"),
    "the provider file itself is loaded from /etc/grafana/provisioning/dashboards/",
  );
  assert.equal(dashboardUrl("http://localhost:3000/"), "http://localhost:3000/d/deno-services");
});

Deno.test("interpolate fills in $service and Grafana's intervals, and refuses a variable it does not know", () => {
  const context = { service: "server", rangeSeconds: 3600, rateInterval: "1m", stepSeconds: 15 };
  assert.equal(
    interpolate('rate(x{s="$service",t="${service}"}[$__rate_interval]) [$__range] [$__interval]', context),
    'rate(x{s="server",t="server"}[1m]) [3600s] [15s]',
  );
  assert.throws(() => interpolate('{env="$env"}', context), /uses \$env, which the check cannot fill in/);
  assert.throws(() => interpolate("[[service]] ${__from}", context), /\$\{__from\}/);
  assert.deepEqual(variablesIn("$a ${b} ${c:percentencode} [[d]] {{e}}"), ["a", "b", "c", "d"]);
});

Deno.test("serviceMapExprs builds the PromQL Grafana's Tempo data source sends for a service graph", () => {
  const exprs = serviceMapExprs(['{client="x"}', '{server="x"}']);
  assert.equal(exprs.length, 8);
  assert.equal(
    exprs[2],
    'sum by (client, server) (rate(traces_service_graph_request_total{client="x"}[$__range])) OR ' +
      'sum by (client, server) (rate(traces_service_graph_request_total{server="x"}[$__range]))',
  );
  assert.equal(
    exprs[3],
    'group by (client, connection_type, server) (traces_service_graph_request_total{client="x"}) OR ' +
      'group by (client, connection_type, server) (traces_service_graph_request_total{server="x"})',
  );
  assert.equal(
    serviceMapExprs(undefined)[2],
    "sum by (client, server) (rate(traces_service_graph_request_total[$__range]))",
  );
});

Deno.test("backendQueries: every variable and every target of the dashboard, variables filled in", () => {
  const queries = backendQueries(DASHBOARD, CHECK_CONTEXT);
  const targets = DASHBOARD.panels.flatMap((p) => p.targets!);
  const serviceMaps = targets.filter((t) => t.queryType === "serviceMap").length;
  assert.equal(queries.length, 1 + targets.length + serviceMaps * (serviceMapExprs([]).length - 1));
  for (const { what, ...query } of queries) assert.doesNotMatch(JSON.stringify(query), /\$/, what);
  assert.deepEqual(queries[0], {
    what: "variable $service",
    backend: "prometheus-labels",
    metric: "http_server_request_duration_seconds_count",
    label: "service_name",
  });
  assert.deepEqual(queries[1], {
    what: 'panel "Request rate" query A',
    backend: "prometheus",
    expr: 'sum by (http_route) (rate(http_server_request_duration_seconds_count{service_name="server"}[1m]))',
    instant: false,
    labels: ["http_route"],
  });
  const byBackend = (backend: string) => queries.filter((q) => q.backend === backend).map((q) => q.what);
  assert.deepEqual(byBackend("tempo"), ['panel "Recent traces" query A']);
  assert.deepEqual(byBackend("loki"), ['panel "Logs" query A']);
  const optional = queries.filter((q) => q.mayBeEmpty).map((q) => "expr" in q && q.expr);
  assert.equal(optional.length, 2);
  for (const expr of optional) assert.match(String(expr), /traces_service_graph_request_failed_total/);
});

Deno.test("variableQuery runs only label_values(metric, label) on Prometheus", () => {
  const variable = { name: "v", type: "query", datasource: { type: "prometheus", uid: "prometheus" } };
  assert.deepEqual(variableQuery({ ...variable, query: "label_values(up, job)" }), {
    what: "variable $v",
    backend: "prometheus-labels",
    metric: "up",
    label: "job",
  });
  assert.throws(() => variableQuery({ ...variable, query: "query_result(up)" }), /only label_values/);
});

Deno.test("seriesHaveData wants a number and every label the legend names; logsHoldTrace the trace id", () => {
  const body = (metric: Record<string, string>, values: [number, string][]) => ({
    data: { result: [{ metric, values }] },
  });
  assert.ok(seriesHaveData(body({ http_route: "/" }, [[1, "NaN"], [2, "0.5"]]), ["http_route"]));
  assert.ok(!seriesHaveData(body({ http_route: "/" }, [[1, "NaN"]]), ["http_route"]), "only NaN");
  assert.ok(!seriesHaveData(body({}, [[1, "0.5"]]), ["http_route"]), "the legend's label missing");
  assert.ok(seriesHaveData({ data: { result: [{ metric: {}, value: [1, "0"] }] } }, []), "instant, zero");
  assert.ok(!seriesHaveData({ data: { result: [] } }, []));
  const logs = { data: { result: [{ stream: { service_name: "server", trace_id: "ab" } }] } };
  assert.ok(logsHoldTrace(logs, "ab"));
  assert.ok(!logsHoldTrace(logs, "cd"));
});

Deno.test("showsErrorsFor wants a share above 0 on the failing route, not 0 there or errors elsewhere", () => {
  const body = (route: string, values: [number, string][]) => ({
    data: { result: [{ metric: { http_route: route }, values }] },
  });
  assert.ok(showsErrorsFor(body("/error", [[1, "0"], [2, "1"]]), "/error"));
  assert.ok(!showsErrorsFor(body("/error", [[1, "0"], [2, "NaN"]]), "/error"));
  assert.ok(!showsErrorsFor(body("/", [[1, "0.5"]]), "/error"));
  assert.ok(!showsErrorsFor({}, "/error"));
});
