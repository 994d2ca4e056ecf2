/**
 * The Logs view: every log record the viewer holds, newest first, filtered by service, least severity and
 * text; a record written inside a span links to it in the Traces view. Read from `/api/logs` every two
 * seconds while the view is shown, and at once when the filter changes.
 *
 * @module
 */
import { $, el, getJson, nanos, serial, show } from "./dom.js";
import { pollWhileShown } from "./views.js";

/**
 * @typedef {object} LogRecord
 * @property {string} [traceId]
 * @property {string} [spanId]
 * @property {string} timeUnixNano
 * @property {string} [severityText]
 * @property {unknown} body
 * @property {string} service
 *
 * @typedef {{ total: number, matched: number, logs: LogRecord[], services: string[] }} LogList
 */

const POLL_MS = 2000;

/** @param {string} time nanoseconds since the epoch, as a decimal string */
function clock(time) {
  const date = new Date(Number(nanos(time) / 1_000_000n));
  return date.toISOString().replace("T", " ").replace("Z", "");
}

/** @param {LogRecord} log */
function logRow(log) {
  const tr = el("tr");
  const severity = (log.severityText ?? "").toUpperCase();
  tr.className = "log-row" +
    (/^(ERROR|FATAL)/.test(severity) ? " error" : /^WARN/.test(severity) ? " warn" : "");
  const span = el("td", "span-link");
  if (log.traceId && /^[0-9a-f]{32}$/.test(log.traceId)) {
    const link = el(
      "a",
      "",
      log.spanId ? "span " + log.spanId.slice(0, 8) : "trace " + log.traceId.slice(0, 8),
    );
    link.href = "#trace=" + log.traceId +
      (log.spanId && /^[0-9a-f]{16}$/.test(log.spanId) ? "&span=" + log.spanId : "");
    span.append(link);
  } else {
    span.append(el("span", "muted", "no span"));
  }
  tr.append(
    el("td", "time", clock(log.timeUnixNano)),
    el("td", "svc", log.service),
    el("td", "severity", log.severityText ?? ""),
    el("td", "log-body", show(log.body)),
    span,
  );
  return tr;
}

/**
 * Keeps the service choices, and the one chosen, as the services held change.
 *
 * @param {string[]} services
 */
function renderServices(services) {
  const select = /** @type {HTMLSelectElement} */ ($("log-service"));
  const chosen = select.value;
  const options = [el("option", "", "all services"), ...services.map((service) => el("option", "", service))];
  options[0].value = "";
  services.forEach((service, i) => options[i + 1].value = service);
  select.replaceChildren(...options);
  select.value = services.includes(chosen) ? chosen : "";
}

/** @param {LogList} answer */
function render(answer) {
  renderServices(answer.services);
  $("log-rows").replaceChildren(...answer.logs.map(logRow));
  $("no-logs").hidden = answer.logs.length > 0;
  $("logs-facts").textContent = answer.matched + " of " + answer.total + " records match" +
    (answer.logs.length < answer.matched ? "; the newest " + answer.logs.length + " are shown" : "");
}

function query() {
  const params = new URLSearchParams();
  const service = /** @type {HTMLSelectElement} */ ($("log-service")).value;
  const severity = /** @type {HTMLSelectElement} */ ($("log-severity")).value;
  const text = /** @type {HTMLInputElement} */ ($("log-text")).value;
  if (service) params.set("service", service);
  if (severity) params.set("severity", severity);
  if (text) params.set("q", text);
  return "/api/logs?" + params;
}

const refresh = serial(async () => render(await getJson(query())));

// The filter applies as it is typed: the form is never sent (and the CSP would refuse it).
$("log-filter").addEventListener("submit", (event) => event.preventDefault());
for (const id of ["log-service", "log-severity"]) $(id).addEventListener("change", refresh);
$("log-text").addEventListener("input", refresh);

pollWhileShown("logs", refresh, POLL_MS);
