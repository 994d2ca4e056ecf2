import assert from "node:assert/strict";
import { DEFAULT_GRAFANA_URL, grafanaTraceUrl, TEMPO_DATASOURCE_UID } from "./grafana_link.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

function panesOf(href: string): Record<string, {
  datasource: string;
  queries: { refId: string; datasource: { type: string; uid: string }; queryType: string; query: string }[];
  range: { from: string; to: string };
}> {
  return JSON.parse(new URL(href).searchParams.get("panes")!);
}

Deno.test("grafanaTraceUrl opens the trace in Explore with the provisioned Tempo data source", () => {
  const href = grafanaTraceUrl(TRACE);
  const url = new URL(href);
  assert.equal(url.origin, DEFAULT_GRAFANA_URL);
  assert.equal(url.pathname, "/explore");
  assert.equal(url.searchParams.get("schemaVersion"), "1");
  assert.equal(url.searchParams.get("orgId"), "1");
  const panes = Object.values(panesOf(href));
  assert.equal(panes.length, 1);
  assert.equal(panes[0].datasource, TEMPO_DATASOURCE_UID);
  assert.deepEqual(panes[0].queries, [{
    refId: "A",
    datasource: { type: "tempo", uid: "tempo" },
    queryType: "traceql",
    query: TRACE,
  }]);
  assert.deepEqual(panes[0].range, { from: "now-1h", to: "now" });
});

Deno.test("grafanaTraceUrl encodes the panes so the link survives a terminal and a browser", () => {
  const href = grafanaTraceUrl(TRACE);
  assert.doesNotMatch(href, /[\s"{}]/);
});

Deno.test("grafanaTraceUrl honours the base URL, a sub-path, the uid, the org and the range", () => {
  const href = grafanaTraceUrl(TRACE.toUpperCase(), {
    grafanaUrl: "https://grafana.example:8443/sub/?ignored=1#frag",
    datasourceUid: "my-tempo",
    orgId: 7,
    from: "now-15m",
    to: "now-1m",
  });
  const url = new URL(href);
  assert.equal(url.origin, "https://grafana.example:8443");
  assert.equal(url.pathname, "/sub/explore");
  assert.equal(url.searchParams.get("ignored"), null);
  assert.equal(url.hash, "");
  assert.equal(url.searchParams.get("orgId"), "7");
  const [pane] = Object.values(panesOf(href));
  assert.equal(pane.datasource, "my-tempo");
  assert.equal(pane.queries[0].datasource.uid, "my-tempo");
  assert.equal(pane.queries[0].query, TRACE);
  assert.deepEqual(pane.range, { from: "now-15m", to: "now-1m" });
});

Deno.test("grafanaTraceUrl rejects what is not a trace id, and the all-zero id", () => {
  for (const bad of ["", "abc", `${TRACE}0`, TRACE.replace("4", "g"), ` ${TRACE}`]) {
    assert.throws(() => grafanaTraceUrl(bad), TypeError, bad);
  }
  assert.throws(() => grafanaTraceUrl("0".repeat(32)), /tracing is off/);
});
