/**
 * Two traces compared (`#compare=A&with=B`): per service and span name, the count and total self time in
 * each, and the change, what changed most first, from `GET /api/compare`.
 *
 * @module
 */
import { $, el, ms } from "./dom.js";

/**
 * One row of `GET /api/compare`: nanoseconds as decimal strings.
 *
 * @typedef {object} ComparisonRow
 * @property {string} service
 * @property {string} name
 * @property {number} countA
 * @property {number} countB
 * @property {string} selfNanosA
 * @property {string} selfNanosB
 * @property {string} diffNanos
 */

/**
 * @typedef {object} Comparison
 * @property {import("./api.js").TraceSummary} a
 * @property {import("./api.js").TraceSummary} b
 * @property {ComparisonRow[]} rows
 * @property {{ rows: number, reason: string }} [truncated]
 */

/**
 * Fetches and shows the comparison of traces `a` and `b`, or says why it cannot.
 *
 * @param {string} a
 * @param {string} b
 */
export async function showComparison(a, b) {
  const response = await fetch("/api/compare?a=" + a + "&b=" + b, {
    headers: { accept: "application/json" },
  });
  const answer = await response.json();
  if (!response.ok) {
    $("compare-title").textContent = "Compare";
    $("compare-facts").textContent = answer.error ?? "the viewer answered " + response.status;
    $("compare-rows").replaceChildren();
    return;
  }
  render(/** @type {Comparison} */ (answer));
}

/** @param {Comparison} comparison */
function render({ a, b, rows, truncated }) {
  /** @param {import("./api.js").TraceSummary} trace */
  const name = (trace) => (trace.name || "(no root span)") + " · " + ms(trace.durationNanos);
  $("compare-title").textContent = "A: " + name(a) + "  ⟷  B: " + name(b);
  const changed = rows.filter((row) => row.diffNanos !== "0" || row.countA !== row.countB).length;
  $("compare-facts").textContent = "trace A " + a.traceId + " · trace B " + b.traceId + " · " + changed +
    " of " + rows.length + " operations changed, what changed most first" +
    (truncated ? " · " + truncated.reason : "");
  $("compare-rows").replaceChildren(...rows.map(row));
}

/** @param {ComparisonRow} comparison */
function row(comparison) {
  const diff = BigInt(comparison.diffNanos);
  const tr = el("tr", diff > 0n ? "slower" : diff < 0n ? "faster" : "");
  tr.dataset.service = comparison.service;
  tr.dataset.name = comparison.name;
  const sign = diff > 0n ? "+" : diff < 0n ? "−" : "±";
  const counts = comparison.countB - comparison.countA;
  tr.append(
    el("td", "svc", comparison.service),
    el("td", "name", comparison.name),
    el("td", "num", comparison.countA),
    el("td", "num", comparison.countB),
    el("td", "num", ms(comparison.selfNanosA)),
    el("td", "num", ms(comparison.selfNanosB)),
    el(
      "td",
      "num change",
      sign + ms(diff < 0n ? -diff : diff) +
        (counts !== 0 ? " (" + (counts > 0 ? "+" : "") + counts + " spans)" : ""),
    ),
  );
  return tr;
}
