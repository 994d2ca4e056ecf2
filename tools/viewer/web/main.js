/**
 * The page's entry: keeps the selection (in the address, `#trace=…&span=…`), loads the list and the selected
 * trace, and reloads them when the viewer says traces changed.
 *
 * @module
 */
import { fetchTrace } from "./api.js";
import { renderDetails } from "./details.js";
import { subscribe } from "./events.js";
import { $, getJson, onActivate, serial, setStatus } from "./dom.js";
import { markSelectedTrace, renderList } from "./list.js";
import { markSelectedSpan, renderWaterfall } from "./waterfall.js";
import "./views.js";
import "./metrics.js";
import "./logs.js";

/** @type {{ traceId: string | null, spanId: string | null, trace: import("./api.js").Trace | null }} */
const state = { traceId: null, spanId: null, trace: null };

const refreshList = serial(async () => {
  const { traces, total } = await getJson("/api/traces");
  renderList(traces, total, state.traceId);
});

const loadTrace = serial(async () => {
  const traceId = state.traceId;
  const trace = traceId === null ? null : await fetchTrace(traceId);
  if (traceId !== state.traceId) return;
  state.trace = trace;
  renderWaterfall(trace, state.spanId);
  renderDetails(trace, state.spanId);
});

/**
 * Selects a trace and a span by changing the address.
 *
 * @param {string | null} traceId
 * @param {string} [spanId]
 */
function select(traceId, spanId) {
  if (traceId === null) return;
  const hash = "#trace=" + traceId + (spanId ? "&span=" + spanId : "");
  if (location.hash !== hash) location.hash = hash;
}

/** The selection the address holds. */
function fromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const traceId = params.get("trace") ?? "", spanId = params.get("span") ?? "";
  return {
    traceId: /^[0-9a-f]{32}$/.test(traceId) ? traceId : null,
    spanId: /^[0-9a-f]{16}$/.test(spanId) ? spanId : null,
  };
}

/** Shows what the address selects. */
function route() {
  const { traceId, spanId } = fromHash();
  markSelectedTrace(traceId);
  state.spanId = spanId;
  if (traceId !== state.traceId) {
    state.traceId = traceId;
    state.trace = null;
    loadTrace();
  } else {
    markSelectedSpan(spanId);
    renderDetails(state.trace, spanId);
  }
}

onActivate($("trace-rows"), "tr[data-trace-id]", (row) => select(row.dataset.traceId ?? null));
onActivate($("waterfall"), ".span-row", (row) => select(state.traceId, row.dataset.spanId));
globalThis.addEventListener("hashchange", route);

// New traces and spans arrive as server-sent events: {"traceIds": [...]} or {"traceIds": null} for many.
subscribe({
  onOpen() {
    setStatus("live", "live");
    refreshList();
    if (state.traceId !== null) loadTrace();
  },
  onError: () => setStatus("down", "reconnecting…"),
  onTraces(traceIds) {
    refreshList();
    if (state.traceId !== null && (traceIds === null || traceIds.includes(state.traceId))) loadTrace();
  },
});
route();
