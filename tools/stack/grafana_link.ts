/**
 * A direct link to one trace in Grafana's Explore view, for the Grafana stack of `tools/stack/docker-compose.yml`. The
 * stack check prints it; `client.ts` builds the same link inline (tests/example_test.ts compares the two).
 *
 * ```ts
 * import { grafanaTraceUrl } from "@example/stack/grafana_link";
 * console.log(grafanaTraceUrl("4bf92f3577b34da6a3ce929d0e0e4736"));
 * // http://localhost:3000/explore?schemaVersion=1&orgId=1&panes=...
 * ```
 *
 * @module
 */

/** Where `docker compose up` publishes Grafana (bound to 127.0.0.1 only). */
export const DEFAULT_GRAFANA_URL = "http://localhost:3000";

/** The uid of the Tempo data source provisioned in `grafana/provisioning/datasources/datasources.yaml`. */
export const TEMPO_DATASOURCE_UID = "tempo";

/** Options of {@linkcode grafanaTraceUrl}. */
export interface GrafanaLinkOptions {
  /** Grafana's base URL, with or without a sub-path (default {@linkcode DEFAULT_GRAFANA_URL}). */
  grafanaUrl?: string | URL;
  /** The uid of the Tempo data source (default {@linkcode TEMPO_DATASOURCE_UID}). */
  datasourceUid?: string;
  /** Grafana organisation id (default 1). */
  orgId?: number;
  /** Start of Explore's time range, as Grafana reads it (default `now-1h`). */
  from?: string;
  /** End of Explore's time range (default `now`). */
  to?: string;
}

const TRACE_ID = /^[0-9a-f]{32}$/;

/**
 * Builds the Explore URL that opens the trace `traceId` in the Tempo data source: one click from the
 * client's output to the trace view.
 *
 * @param traceId the trace id as 32 lowercase hex digits (upper case is accepted and lowered).
 * @throws {TypeError} when `traceId` is not 32 hex digits, or is all zeros (tracing off: no trace to show).
 */
export function grafanaTraceUrl(traceId: string, options: GrafanaLinkOptions = {}): string {
  const id = traceId.toLowerCase();
  if (!TRACE_ID.test(id)) {
    throw new TypeError(`not a trace id (32 hex digits): ${JSON.stringify(traceId)}`);
  }
  if (/^0+$/.test(id)) throw new TypeError("the all-zero trace id names no trace (tracing is off)");
  const {
    grafanaUrl = DEFAULT_GRAFANA_URL,
    datasourceUid = TEMPO_DATASOURCE_UID,
    orgId = 1,
    from = "now-1h",
    to = "now",
  } = options;
  const base = new URL(grafanaUrl);
  base.pathname = `${base.pathname.replace(/\/+$/, "")}/explore`;
  base.search = "";
  base.hash = "";
  const panes = {
    trace: {
      datasource: datasourceUid,
      queries: [{
        refId: "A",
        datasource: { type: "tempo", uid: datasourceUid },
        queryType: "traceql",
        query: id,
      }],
      range: { from, to },
    },
  };
  base.searchParams.set("schemaVersion", "1");
  base.searchParams.set("orgId", String(orgId));
  base.searchParams.set("panes", JSON.stringify(panes));
  return base.href;
}
