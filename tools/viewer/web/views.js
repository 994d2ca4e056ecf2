/**
 * The page's three views, Traces, Metrics and Logs, chosen by the address: `#view=metrics`, `#view=logs`,
 * anything else (a trace selection `#trace=…&span=…`, or nothing) is Traces. Each view's module asks to be
 * told when it is shown, so that only the view on screen polls the viewer.
 *
 * @module
 */
import { $ } from "./dom.js";

/** @typedef {"traces" | "metrics" | "logs"} View */

/** @type {Map<View, (shown: boolean) => void>} */
const watchers = new Map();
/** @type {View | null} */
let shown = null;

/**
 * The view the address names.
 *
 * @returns {View}
 */
export function currentView() {
  const view = new URLSearchParams(location.hash.slice(1)).get("view");
  return view === "metrics" || view === "logs" ? view : "traces";
}

/**
 * Calls `watch(true)` when `view` is shown and `watch(false)` when another is (now, if it is shown).
 *
 * @param {View} view
 * @param {(shown: boolean) => void} watch
 */
export function whenShown(view, watch) {
  watchers.set(view, watch);
  if (shown === view) watch(true);
}

/**
 * Runs `refresh` now and every `everyMs` while `view` is shown.
 *
 * @param {View} view
 * @param {() => void} refresh
 * @param {number} everyMs
 */
export function pollWhileShown(view, refresh, everyMs) {
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let timer;
  whenShown(view, (shown) => {
    clearInterval(timer);
    timer = undefined;
    if (!shown) return;
    refresh();
    timer = setInterval(refresh, everyMs);
  });
}

const TITLES = { traces: "Traces", metrics: "Metrics", logs: "Logs" };

function show() {
  const view = currentView();
  if (view === shown) return;
  const previous = shown;
  shown = view;
  for (const name of /** @type {View[]} */ (["traces", "metrics", "logs"])) {
    $(name + "-view").hidden = name !== view;
    $("tab-" + name).classList.toggle("active", name === view);
    $("tab-" + name).setAttribute("aria-current", name === view ? "page" : "false");
  }
  $("view-title").textContent = TITLES[view];
  document.title = TITLES[view] + " · Deno tracing example";
  if (previous !== null) watchers.get(previous)?.(false);
  watchers.get(view)?.(true);
}

globalThis.addEventListener("hashchange", show);
show();
