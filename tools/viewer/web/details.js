/**
 * The selected span's details: its facts, attributes, events, links, the log records written inside it, and
 * its resource.
 *
 * @module
 */
import { $, attributeList, el, ms, nanos, show, table } from "./dom.js";

/** @typedef {import("./api.js").Span} Span */
/** @typedef {import("./api.js").Trace} Trace */

/**
 * Shows the details of span `spanId` of `trace`, or a hint to select one.
 *
 * @param {Trace | null} trace
 * @param {string | null} spanId
 */
export function renderDetails(trace, spanId) {
  const span = trace && spanId !== null ? trace.spans.find((s) => s.spanId === spanId) : undefined;
  if (!trace || !span) {
    $("details").replaceChildren(el("p", "muted", trace ? "Select a span in the waterfall." : ""));
    return;
  }
  /** @param {string} time */
  const at = (time) => "+" + ms(nanos(time) - trace._start);
  const parts = [el("h3", "", span.name), facts(span, at)];
  parts.push(el("h4", "", "Attributes"), attributeList(span.attributes));
  parts.push(el("h4", "", "Events (" + span.events.length + ")"));
  for (const event of span.events) {
    const item = el("div", "item event");
    item.append(
      el("div", "head", event.name + " at " + at(event.timeUnixNano)),
      attributeList(event.attributes),
    );
    parts.push(item);
  }
  parts.push(...linkItems(trace, span), ...linkedFromItems(trace, span));
  const logs = trace.logs.filter((log) => log.spanId === span.spanId);
  parts.push(el("h4", "", "Log records (" + logs.length + ")"));
  for (const log of logs) {
    const item = el("div", "item log");
    item.append(
      el("div", "muted", at(log.timeUnixNano) + (log.severityText ? " · " + log.severityText : "")),
      el("div", "value log-body", show(log.body)),
    );
    if (Object.keys(log.attributes ?? {}).length > 0) item.append(attributeList(log.attributes));
    parts.push(item);
  }
  parts.push(el("h4", "", "Resource"), attributeList(trace.resources[span.resource]));
  $("details").replaceChildren(...parts);
}

/**
 * The span's links: each names the trace and span it points to, and is a link to it when the viewer holds
 * that span.
 *
 * @param {Trace} trace
 * @param {Span} span
 */
function linkItems(trace, span) {
  const links = span.links ?? [];
  const parts = [el("h4", "", "Links (" + links.length + ")")];
  for (const link of links) {
    const item = el("div", "item link");
    const target = trace.linkTargets?.[link.traceId + "/" + link.spanId];
    const where = (link.traceId === trace.traceId ? "this trace" : "trace " + link.traceId) +
      " · span " + link.spanId;
    if (target) {
      const anchor = el("a", "link-target", "↗ " + target.service + " " + target.name + " (" + where + ")");
      anchor.setAttribute("href", "#trace=" + link.traceId + "&span=" + link.spanId);
      item.append(anchor);
    } else {
      item.append(el("div", "muted", "↗ " + where + " (not held by this viewer)"));
    }
    if (Object.keys(link.attributes ?? {}).length > 0) item.append(attributeList(link.attributes));
    parts.push(item);
  }
  return parts;
}

/**
 * The spans whose links point to this one, each a link to it (the viewer holds them all), and how many links
 * to the trace were not sent; nothing when there are neither.
 *
 * @param {Trace} trace
 * @param {Span} span
 */
function linkedFromItems(trace, span) {
  const sources = trace.linkedFrom?.[span.spanId] ?? [];
  const leftOut = trace.linkedFromLeftOut ?? 0;
  if (sources.length === 0 && leftOut === 0) return [];
  const parts = [el("h4", "", "Linked from (" + sources.length + ")")];
  for (const source of sources) {
    const where = (source.traceId === trace.traceId ? "this trace" : "trace " + source.traceId) +
      " · span " + source.spanId;
    const anchor = el("a", "link-source", "↙ " + source.service + " " + source.name + " (" + where + ")");
    anchor.setAttribute("href", "#trace=" + source.traceId + "&span=" + source.spanId);
    const item = el("div", "item linked-from");
    item.append(anchor);
    parts.push(item);
  }
  if (leftOut > 0) {
    parts.push(
      el(
        "div",
        "muted",
        leftOut + " more links to spans of this trace are not shown (past the viewer's bounds)",
      ),
    );
  }
  return parts;
}

/**
 * The span's kind, scope, ids, timing and status.
 *
 * @param {Span} span
 * @param {(time: string) => string} at
 */
function facts(span, at) {
  const result = table([
    ["service", span.service],
    ["kind", span.kind],
    ["scope", span.scope.name + (span.scope.version ? " " + span.scope.version : "")],
    ["span id", span.spanId],
    ["parent", span.parentSpanId ?? "(root)"],
    ["start", at(span.startTimeUnixNano)],
    ["duration", ms(span._end - span._start)],
    [
      "self time",
      span.selfTimeNanos === undefined ? "" : ms(span.selfTimeNanos) + " (less what its children cover)",
    ],
    ["status", ""],
  ]);
  const statusCell = result.querySelector("tr:last-child .value");
  statusCell?.append(el("span", "status-" + span.status.code, span.status.code));
  if (span.status.message) statusCell?.append(": " + span.status.message);
  return result;
}
