/**
 * The waterfall of one trace: its heading, the services' legend, a time ruler and one row per span,
 * indented under its parent, with a bar to scale, and under the bars the critical path: the stretches of
 * each span the trace's end waited on.
 *
 * @module
 */
import { $, count, el, ms, nanos, PALETTE } from "./dom.js";

/** @typedef {import("./api.js").Span} Span */
/** @typedef {import("./api.js").Trace} Trace */
/** @typedef {{ span: Span, depth: number }} Row */

/** At most this many rows are drawn. */
const MAX_ROWS = 5000;
/** Indentation stops growing here; deeper rows say their depth instead. */
const MAX_INDENT = 30;

/**
 * Draws `trace`, or an empty waterfall for `null`, and marks `spanId`'s row.
 *
 * @param {Trace | null} trace
 * @param {string | null} spanId
 */
export function renderWaterfall(trace, spanId) {
  if (trace === null) {
    $("trace-title").textContent = "Select a trace";
    for (const id of ["trace-facts", "legend", "ruler", "waterfall"]) $(id).replaceChildren();
    return;
  }
  const start = trace._start;
  const end = trace.spans.reduce((max, span) => span._end > max ? span._end : max, start);
  const total = end > start ? Number(end - start) : 1;
  const { rows, byId } = order(trace.spans);
  /** @type {Map<string, string>} */
  const colors = new Map();
  for (const { span } of rows) {
    if (!colors.has(span.service)) colors.set(span.service, PALETTE[colors.size % PALETTE.length]);
  }
  const errors = trace.spans.filter((span) => span.status.code === "ERROR").length;
  /** @type {Map<string, import("./api.js").CriticalSegment[]>} */
  const critical = new Map();
  for (const segment of trace.criticalPath ?? []) {
    const list = critical.get(segment.spanId);
    if (list === undefined) critical.set(segment.spanId, [segment]);
    else list.push(segment);
  }
  renderHeading(trace, rows[0]?.span, colors.size, total, errors);
  renderLegend(colors, errors);
  renderRuler(total);
  const fragment = document.createDocumentFragment();
  for (const { span, depth } of rows.slice(0, MAX_ROWS)) {
    const linkedFrom = trace.linkedFrom?.[span.spanId]?.length ?? 0;
    const row = spanRow(span, depth, byId, colors, start, total, linkedFrom);
    markCritical(row, critical.get(span.spanId) ?? [], start, total);
    fragment.append(row);
  }
  if (rows.length > MAX_ROWS) {
    fragment.append(el("p", "note", "The first " + MAX_ROWS + " of " + rows.length + " spans are drawn."));
  }
  $("waterfall").replaceChildren(fragment);
  markSelectedSpan(spanId);
}

/**
 * Marks the row of `spanId` as selected, and no other.
 *
 * @param {string | null} spanId
 */
export function markSelectedSpan(spanId) {
  const waterfall = $("waterfall");
  for (const row of waterfall.querySelectorAll(".span-row.selected")) row.classList.remove("selected");
  if (spanId === null) return;
  waterfall.querySelector('.span-row[data-span-id="' + spanId + '"]')?.classList.add("selected");
}

/**
 * The spans in waterfall order: depth first by parent, siblings by start. No recursion, cycles cut.
 *
 * @param {Span[]} spans
 * @returns {{ rows: Row[], byId: Map<string, Span> }}
 */
export function order(spans) {
  /** @type {Map<string, Span>} */
  const byId = new Map();
  for (const span of spans) if (!byId.has(span.spanId)) byId.set(span.spanId, span);
  /** @type {Map<Span, Span[]>} */
  const children = new Map();
  /** @type {Span[]} */
  const roots = [];
  for (const span of spans) {
    const parent = span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId);
    if (parent === undefined || parent === span) roots.push(span);
    else {
      const list = children.get(parent);
      if (list === undefined) children.set(parent, [span]);
      else list.push(span);
    }
  }
  /** @type {(a: Span, b: Span) => number} */
  const byStart = (a, b) => a._start < b._start ? -1 : a._start > b._start ? 1 : 0;
  roots.sort(byStart);
  for (const list of children.values()) list.sort(byStart);
  /** @type {Row[]} */
  const rows = [];
  const seen = new Set();
  /** @param {Span} top */
  const walk = (top) => {
    /** @type {[Span, number][]} */
    const stack = [[top, 0]];
    for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
      const [span, depth] = next;
      if (seen.has(span)) continue;
      seen.add(span);
      rows.push({ span, depth });
      const list = children.get(span) ?? [];
      for (let i = list.length - 1; i >= 0; i--) stack.push([list[i], depth + 1]);
    }
  };
  for (const root of roots) walk(root);
  // Spans whose parents form a cycle are reached from no root: draw them at the top.
  for (const span of spans) if (!seen.has(span)) walk(span);
  return { rows, byId };
}

/**
 * @param {Trace} trace
 * @param {Span | undefined} root
 * @param {number} services
 * @param {number} total
 * @param {number} errors
 */
function renderHeading(trace, root, services, total, errors) {
  $("trace-title").textContent = root ? root.name + " (" + root.service + ")" : "Trace without spans";
  $("trace-facts").textContent = "trace " + trace.traceId + " · " + count(trace.spans.length, "span") +
    " · " + count(services, "service") + " · " + ms(total) + " · " + count(trace.logs.length, "log record") +
    (errors > 0 ? " · " + errors + " with errors" : "") + (trace.complete ? "" : " · incomplete") +
    (trace.duplicateSpans > 0
      ? " · " + count(trace.duplicateSpans, "more span") + " with a duplicate id, not kept"
      : "") +
    (trace.truncated ? " · " + trace.truncated.reason : "");
}

/**
 * @param {Map<string, string>} colors
 * @param {number} errors
 */
function renderLegend(colors, errors) {
  const legend = [];
  for (const [service, color] of colors) {
    const chip = el("span", "chip", service);
    chip.style.setProperty("--c", color);
    legend.push(chip);
  }
  if (errors > 0) legend.push(el("span", "chip error", "error"));
  legend.push(el("span", "chip critical", "critical path"));
  legend.push(el("span", "note", "⇢ marks where a CLIENT span's request entered another service"));
  $("legend").replaceChildren(...legend);
}

/** @param {number} total */
function renderRuler(total) {
  const ticks = el("div", "track");
  for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
    const tick = el("span", "tick", ms(total * fraction));
    tick.style.left = fraction * 100 + "%";
    ticks.append(tick);
  }
  $("ruler").replaceChildren(el("div", "label", "span"), el("div", "dur", "duration"), ticks);
}

/**
 * One span's row: its label (service, kind, name, notes), duration and bar with event marks.
 *
 * @param {Span} span
 * @param {number} depth
 * @param {Map<string, Span>} byId
 * @param {Map<string, string>} colors
 * @param {bigint} start
 * @param {number} total
 * @param {number} linkedFrom how many spans link to this one
 */
function spanRow(span, depth, byId, colors, start, total, linkedFrom) {
  const row = el("div", "span-row");
  row.dataset.spanId = span.spanId;
  row.tabIndex = 0;
  row.setAttribute("role", "treeitem");
  row.setAttribute("aria-level", String(depth + 1));
  row.style.setProperty("--c", colors.get(span.service) ?? PALETTE[0]);
  row.classList.toggle("error", span.status.code === "ERROR");
  const parent = span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId);
  if (parent && parent.kind === "CLIENT" && span.kind === "SERVER") row.classList.add("hop-in");
  row.append(spanLabel(span, depth, parent, linkedFrom), el("div", "dur", ms(span._end - span._start)));
  row.append(spanTrack(span, start, total));
  return row;
}

/**
 * @param {Span} span
 * @param {number} depth
 * @param {Span | undefined} parent
 * @param {number} linkedFrom
 */
function spanLabel(span, depth, parent, linkedFrom) {
  const label = el("div", "label");
  label.style.paddingLeft = 6 + Math.min(depth, MAX_INDENT) * 16 + "px";
  if (depth > MAX_INDENT) label.append(el("span", "deep", "depth " + depth));
  const messaging = span.kind === "PRODUCER" || span.kind === "CONSUMER";
  label.append(
    el("span", "svc", span.service),
    el("span", messaging ? "kind messaging" : "kind", span.kind),
    el("span", "name", span.name),
  );
  label.title = span.name;
  if (parent && parent.kind === "CLIENT" && span.kind === "SERVER") {
    label.append(el("span", "hop", "⇢ " + parent.service + " → " + span.service));
  }
  if (parent && parent.kind === "PRODUCER" && span.kind === "CONSUMER") {
    label.append(el("span", "hop", "⇢ " + String(span.attributes["messaging.destination.name"] ?? "queue")));
  }
  const links = span.links?.length ?? 0;
  if (links > 0) label.append(el("span", "links", "↗ " + links + (links === 1 ? " link" : " links")));
  if (linkedFrom > 0) label.append(el("span", "linked-from", "↙ linked from " + linkedFrom));
  if (span.parentSpanId !== undefined && parent === undefined) {
    label.append(el("span", "missing", "parent " + span.parentSpanId + " missing"));
  }
  if (span.status.code === "ERROR") label.append(el("span", "err", "✗ " + (span.status.message || "ERROR")));
  return label;
}

/**
 * Marks the stretches of the critical path spent in the row's span under its bar.
 *
 * @param {HTMLElement} row
 * @param {import("./api.js").CriticalSegment[]} segments
 * @param {bigint} start
 * @param {number} total
 */
function markCritical(row, segments, start, total) {
  if (segments.length === 0) return;
  row.classList.add("on-critical");
  const track = row.querySelector(".track");
  let onPath = 0;
  for (const segment of segments) {
    const from = nanos(segment.startTimeUnixNano), to = nanos(segment.endTimeUnixNano);
    onPath += Number(to - from);
    const mark = el("div", "critical");
    mark.style.left = Number(from - start) / total * 100 + "%";
    mark.style.width = Number(to - from) / total * 100 + "%";
    track?.append(mark);
  }
  row.title = ms(onPath) + " on the critical path";
}

/**
 * @param {Span} span
 * @param {bigint} start
 * @param {number} total
 */
function spanTrack(span, start, total) {
  const track = el("div", "track");
  const bar = el("div", "bar");
  bar.style.left = Number(span._start - start) / total * 100 + "%";
  bar.style.width = Math.max(0, Number(span._end - span._start)) / total * 100 + "%";
  track.append(bar);
  for (const event of span.events) {
    const mark = el("div", "mark");
    mark.style.left = Number(nanos(event.timeUnixNano) - start) / total * 100 + "%";
    mark.title = event.name;
    track.append(mark);
  }
  return track;
}
