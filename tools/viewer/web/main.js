/**
 * The page's entry: keeps the selection (in the address, `#trace=…&span=…`, or `#compare=…&with=…` for two
 * traces compared), loads the list as the search bar asks and the selected trace, and reloads them when the
 * viewer says traces changed.
 *
 * @module
 */
import { fetchTrace } from "./api.js";
import { showComparison } from "./compare.js";
import { renderDetails } from "./details.js";
import { subscribe } from "./events.js";
import { $, onActivate, serial, setStatus } from "./dom.js";
import { markSelectedTrace, onPick, renderList } from "./list.js";
import { offerServices, onSearch, searchQuery, showSearchResult } from "./search.js";
import { markSelectedSpan, renderWaterfall } from "./waterfall.js";
import "./views.js";
import "./metrics.js";
import "./logs.js";

/** @type {{ traceId: string | null, spanId: string | null, trace: import("./api.js").Trace | null }} */
const state = { traceId: null, spanId: null, trace: null };

/** @type {string[]} */
let picks = [];

/** While a search is on, the list follows new traces at most this often: each search reads every trace. */
const SEARCH_EVERY_MS = 2000;
let searchedAt = 0;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let searchTimer;

/** Refreshes the list now, or, while a search is on, once its last run is {@linkcode SEARCH_EVERY_MS} old. */
function refreshListSoon() {
  if (searchQuery().size === 0) return refreshList();
  if (searchTimer !== undefined) return;
  const wait = Math.max(0, searchedAt + SEARCH_EVERY_MS - Date.now());
  searchTimer = setTimeout(() => {
    searchTimer = undefined;
    searchedAt = Date.now();
    refreshList();
  }, wait);
}

const refreshList = serial(async () => {
  const response = await fetch("/api/traces?" + searchQuery(), { headers: { accept: "application/json" } });
  const answer = await response.json();
  // A search the viewer refuses (a bad value, or busy) says why and keeps the list shown.
  if (!response.ok) {
    return showSearchResult({ error: answer.error ?? "the viewer answered " + response.status });
  }
  const { traces, total, held } = answer;
  renderList(traces, total, state.traceId);
  showSearchResult({ total, held, shown: traces.length });
  offerServices(traces.flatMap((/** @type {{ services: string[] }} */ trace) => trace.services));
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
  const a = params.get("compare") ?? "", b = params.get("with") ?? "";
  const id = /^[0-9a-f]{32}$/;
  return {
    traceId: id.test(traceId) ? traceId : null,
    spanId: /^[0-9a-f]{16}$/.test(spanId) ? spanId : null,
    compare: id.test(a) && id.test(b) ? [a, b] : null,
  };
}

/** Shows what the address selects. */
function route() {
  const { traceId, spanId, compare } = fromHash();
  $("compare-panel").hidden = compare === null;
  $("waterfall-panel").hidden = $("details-panel").hidden = compare !== null;
  if (compare !== null) {
    showComparison(compare[0], compare[1]).catch((error) => setStatus("down", String(error)));
  }
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
onSearch(refreshList);
onPick((picked) => {
  picks = picked;
  /** @type {HTMLButtonElement} */ ($("compare-button")).disabled = picks.length !== 2;
});
$("compare-button").addEventListener("click", () => {
  if (picks.length === 2) location.hash = "#compare=" + picks[0] + "&with=" + picks[1];
});
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
    refreshListSoon();
    if (state.traceId !== null && (traceIds === null || traceIds.includes(state.traceId))) loadTrace();
  },
});
route();
