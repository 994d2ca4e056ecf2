/**
 * The trace list: one row per trace, newest (or, searched so, longest) first, each with a box to pick it
 * for a comparison.
 *
 * @module
 */
import { $, el, ms, nanos, PALETTE } from "./dom.js";

/** @typedef {import("./api.js").TraceSummary} TraceSummary */

/** The traces picked for a comparison, the earliest picked first: at most two. */
const picks = /** @type {string[]} */ ([]);
/** @type {(picks: string[]) => void} */
let picked = () => {};

/**
 * Calls `listener` with the traces picked whenever the picks change.
 *
 * @param {(picks: string[]) => void} listener
 */
export function onPick(listener) {
  picked = listener;
}

/**
 * Draws the list of `traces` (of `total` held), marking `selected`.
 *
 * @param {TraceSummary[]} traces
 * @param {number} total
 * @param {string | null} selected
 */
export function renderList(traces, total, selected) {
  // A row whose trace did not change is kept, not made again: what the pointer or the keyboard is on stays.
  /** @type {Map<string, HTMLElement>} */
  const kept = new Map();
  for (const row of $("trace-rows").children) {
    if (row instanceof HTMLElement && row.dataset.summary) kept.set(row.dataset.summary, row);
  }
  const rows = traces.map((trace) => {
    const summary = JSON.stringify(trace);
    const row = kept.get(summary) ?? listRow(trace);
    row.dataset.summary = summary;
    row.classList.toggle("selected", trace.traceId === selected);
    return row;
  });
  $("trace-rows").replaceChildren(...rows);
  $("no-traces").hidden = rows.length > 0;
  $("trace-count").textContent = total === rows.length
    ? total + (total === 1 ? " trace" : " traces")
    : "the first " + rows.length + " of " + total + " traces";
}

/**
 * Picks or unpicks `traceId`; a third pick drops the earliest.
 *
 * @param {string} traceId
 * @param {boolean} on
 */
function pick(traceId, on) {
  const at = picks.indexOf(traceId);
  if (at >= 0) picks.splice(at, 1);
  if (on) picks.push(traceId);
  if (picks.length > 2) picks.shift();
  for (const box of $("trace-rows").querySelectorAll("input.pick")) {
    const input = /** @type {HTMLInputElement} */ (box);
    input.checked = picks.includes(input.dataset.traceId ?? "");
  }
  picked([...picks]);
}

/**
 * Marks the row of `traceId` as selected, and no other.
 *
 * @param {string | null} traceId
 */
export function markSelectedTrace(traceId) {
  for (const row of $("trace-rows").children) {
    if (row instanceof HTMLElement) row.classList.toggle("selected", row.dataset.traceId === traceId);
  }
}

/** @param {TraceSummary} trace */
function listRow(trace) {
  const row = el("tr");
  row.dataset.traceId = trace.traceId;
  const box = el("input", "pick");
  box.type = "checkbox";
  box.dataset.traceId = trace.traceId;
  box.checked = picks.includes(trace.traceId);
  box.setAttribute("aria-label", "pick to compare");
  // Picking does not select the trace: the row's own click and keys stop here.
  box.addEventListener("click", (event) => {
    event.stopPropagation();
    pick(trace.traceId, box.checked);
  });
  box.addEventListener("keydown", (event) => event.stopPropagation());
  const pickCell = el("td", "pick-cell");
  pickCell.append(box);
  row.tabIndex = 0;
  row.classList.toggle("error", trace.errors > 0);
  const started = new Date(Number(nanos(trace.startTimeUnixNano) / 1000000n));
  const root = el("td");
  root.append(el("strong", "", trace.name || "(no root span)"), " ", el("span", "muted", trace.service));
  const services = el("td");
  trace.services.forEach((service, i) => {
    const chip = el("span", "chip", service);
    chip.style.setProperty("--c", PALETTE[i % PALETTE.length]);
    services.append(chip);
  });
  const status = trace.errors > 0
    ? "✗ " + trace.errors + (trace.errors === 1 ? " error" : " errors")
    : trace.complete
    ? "ok"
    : "incomplete";
  row.append(
    pickCell,
    el("td", "", started.toLocaleTimeString()),
    root,
    services,
    el("td", "num", trace.spans),
    el("td", "num", ms(trace.durationNanos)),
    el("td", "state", status),
    el("td", "id", trace.traceId),
  );
  return row;
}
