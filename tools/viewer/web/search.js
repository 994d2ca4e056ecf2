/**
 * The search bar over the trace list: service, span name, attributes (`key=value`, separated by spaces),
 * least and most duration, errors only, and the order (newest or longest first). It makes the query of
 * `GET /api/traces` (see `@example/otlp/search`) and says how many traces match, or what is wrong.
 *
 * @module
 */
import { $, el } from "./dom.js";

/**
 * The value of an input of the bar.
 *
 * @param {string} id
 */
function value(id) {
  return /** @type {HTMLInputElement | HTMLSelectElement} */ ($(id)).value.trim();
}

/** The query string of `/api/traces` for what the bar holds. */
export function searchQuery() {
  const params = new URLSearchParams();
  for (const [id, name] of [["search-service", "service"], ["search-operation", "operation"]]) {
    if (value(id)) params.set(name, value(id));
  }
  // A pair being typed (no "=" yet) is left out until it is whole.
  for (const pair of value("search-attributes").split(/\s+/)) {
    if (pair.indexOf("=") > 0) params.append("attribute", pair);
  }
  if (value("search-min")) params.set("minDurationMs", value("search-min"));
  if (value("search-max")) params.set("maxDurationMs", value("search-max"));
  if (/** @type {HTMLInputElement} */ ($("search-errors")).checked) params.set("error", "true");
  if (value("search-sort") === "duration") params.set("sort", "duration");
  return params;
}

/**
 * Calls `changed` whenever the search changes (as it is typed: the form is never sent).
 *
 * @param {() => void} changed
 */
export function onSearch(changed) {
  $("trace-search").addEventListener("submit", (event) => event.preventDefault());
  $("trace-search").addEventListener("input", changed);
  $("trace-search").addEventListener("change", changed);
}

/**
 * Says how many traces match, or, for a search the viewer refused, why.
 *
 * @param {{ total: number, held?: number, shown: number } | { error: string }} result
 */
export function showSearchResult(result) {
  const facts = $("search-facts");
  if ("error" in result) {
    facts.replaceChildren(el("span", "problem", result.error));
    return;
  }
  const filtered = searchQuery().size > 0;
  facts.textContent = filtered ? result.total + " of " + (result.held ?? result.total) + " traces match" : "";
}

/**
 * Offers the services seen in the list as choices of the service field.
 *
 * @param {Iterable<string>} services
 */
export function offerServices(services) {
  const known = new Set(services);
  const list = $("services");
  if (
    [...list.children].map((option) => /** @type {HTMLOptionElement} */ (option).value).join("\n") ===
      [...known].sort().join("\n")
  ) return;
  list.replaceChildren(
    ...[...known].sort().map((service) => {
      const option = el("option");
      option.value = service;
      return option;
    }),
  );
}
