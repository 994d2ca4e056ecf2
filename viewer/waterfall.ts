/**
 * Draws one trace as a text waterfall: the span tree by parent, each row with service, span kind, name,
 * start offset, duration and a bar proportional to the span's place in the trace, errors marked, events,
 * links to other spans and the log records written inside each span beneath it. A trace whose parent spans did not all arrive is
 * drawn all the same and said to be incomplete.
 *
 * @module
 */
import type { AttributeValue, LogRecord, Span } from "../otlp/decode.ts";
import { servicesByStart, type Trace } from "../otlp/receiver.ts";

/** Options of {@linkcode renderWaterfall}. */
export interface WaterfallOptions {
  /** ANSI colours (default off). */
  color?: boolean;
  /** Width of the bar column in characters (default 40). */
  barWidth?: number;
  /** Longest span name shown before it is cut with "…" (default 40). */
  maxNameLength?: number;
  /** How many levels of the span tree are drawn (default 40); deeper spans are counted, not drawn. */
  maxDepth?: number;
  /** How many spans are drawn (default 500); the rest are counted, not drawn. */
  maxRows?: number;
  /**
   * Finds a span a link points to, in another trace (the linked span is named when it is found); links
   * within the trace are always named.
   */
  findSpan?: (traceId: string, spanId: string) => Span | undefined;
}

interface Node {
  span: Span;
  children: Node[];
  /** The parent span id that never arrived, for a span drawn at the top only because of that. */
  missingParent?: string;
}

interface Row {
  prefix: string;
  node: Node;
}

const byStart = (a: Node, b: Node) =>
  a.span.startTimeUnixNano < b.span.startTimeUnixNano
    ? -1
    : a.span.startTimeUnixNano > b.span.startTimeUnixNano
    ? 1
    : 0;

/** At most this many events and log records are drawn under one span, and services named in the heading. */
const MAX_LINES_PER_SPAN = 10;
const MAX_SERVICES_NAMED = 5;
const MAX_SERVICE_WIDTH = 24;

/**
 * Renders `trace` as lines of text (no trailing newline). Every text that came from a sender is cleaned of
 * terminal control characters first. A trace deeper than `maxDepth` or larger than `maxRows` is drawn in
 * part, with a note saying how many spans were left out; drawing takes time and memory in proportion to the
 * trace's size, never more stack.
 */
export function renderWaterfall(
  trace: Trace,
  { color = false, barWidth = 40, maxNameLength = 40, maxDepth = 40, maxRows = 500, findSpan }:
    WaterfallOptions = {},
): string {
  const paint = (code: string, text: string) => color ? `\x1b[${code}m${text}\x1b[0m` : text;
  const { spans, logs } = trace;
  const traceId = cut(trace.traceId, 32);
  if (spans.length === 0) return `Trace ${traceId}: no spans arrived (only ${logs.length} log records)`;

  const nodes = new Map<string, Node>();
  for (const span of spans) nodes.set(span.spanId, { span, children: [] });
  const roots: Node[] = [];
  for (const node of nodes.values()) {
    const parent = node.span.parentSpanId === undefined ? undefined : nodes.get(node.span.parentSpanId);
    if (parent) parent.children.push(node);
    else {
      if (node.span.parentSpanId !== undefined) node.missingParent = node.span.parentSpanId;
      roots.push(node);
    }
  }
  roots.sort(byStart);
  for (const node of nodes.values()) node.children.sort(byStart);

  let start = spans[0].startTimeUnixNano;
  let end = spans[0].endTimeUnixNano;
  let errors = 0;
  for (const span of spans) {
    if (span.startTimeUnixNano < start) start = span.startTimeUnixNano;
    if (span.endTimeUnixNano > end) end = span.endTimeUnixNano;
    if (span.status.code === "ERROR") errors++;
  }
  const total = end > start ? end - start : 1n;
  const ms = (nanos: bigint) => `${(Number(nanos) / 1e6).toFixed(1)} ms`;
  const logsBySpan = Map.groupBy(
    logs.filter((log) => log.spanId !== undefined),
    (log: LogRecord) => log.spanId!,
  );

  // Depth first, in start order, with a stack of its own rather than recursion: a chain of thousands of
  // spans must not exhaust the call stack.
  const rows: Row[] = [];
  let reached = 0;
  let tooDeep = 0;
  const stack: { node: Node; prefix: string; childPrefix: string; depth: number }[] = [];
  for (let i = roots.length - 1; i >= 0; i--) {
    stack.push({ node: roots[i], prefix: "", childPrefix: "", depth: 0 });
  }
  while (stack.length > 0) {
    const { node, prefix, childPrefix, depth } = stack.pop()!;
    reached++;
    if (depth >= maxDepth) tooDeep++;
    else if (rows.length < maxRows) rows.push({ prefix, node });
    for (let i = node.children.length - 1; i >= 0; i--) {
      const last = i === node.children.length - 1;
      stack.push({
        node: node.children[i],
        prefix: depth + 1 >= maxDepth ? "" : childPrefix + (last ? "└─ " : "├─ "),
        childPrefix: depth + 1 >= maxDepth ? "" : childPrefix + (last ? "   " : "│  "),
        depth: depth + 1,
      });
    }
  }
  const beyondRows = reached - rows.length - tooDeep;
  const unreachable = nodes.size - reached;

  const label = (row: Row) => row.prefix + cut(row.node.span.name, maxNameLength);
  let serviceWidth = 7;
  let nameWidth = 4;
  for (const row of rows) {
    serviceWidth = Math.max(serviceWidth, cut(row.node.span.service, MAX_SERVICE_WIDTH).length);
    nameWidth = Math.max(nameWidth, label(row).length);
  }
  const missing = roots.filter((root) => root.missingParent !== undefined);
  const services = servicesByStart(spans);
  const named = [...services.values().take(MAX_SERVICES_NAMED)].map((service) =>
    cut(service, MAX_SERVICE_WIDTH)
  );
  if (services.length > named.length) named.push(`${services.length - named.length} more`);

  const lines = [
    paint("1", `Trace ${traceId}`) +
    `  ${spans.length} spans, ${services.length} services (${named.join(", ")}), ${ms(total)}` +
    (errors > 0 ? paint("31;1", `, ${errors} with errors`) : ""),
    paint(
      "2",
      `${"service".padEnd(serviceWidth)}  ${"kind".padEnd(8)}  ${"span".padEnd(nameWidth)}  ${
        "start".padStart(9)
      }  ${"duration".padStart(9)}  timeline`,
    ),
  ];
  for (const row of rows) {
    const { span } = row.node;
    const offset = span.startTimeUnixNano - start;
    const duration = span.endTimeUnixNano - span.startTimeUnixNano;
    const from = Math.max(0, Math.min(barWidth - 1, Math.floor(Number(offset) / Number(total) * barWidth)));
    const length = Math.max(1, Math.round(Number(duration) / Number(total) * barWidth));
    const failed = span.status.code === "ERROR";
    const bar = " ".repeat(from) +
      (failed ? "▓" : "█").repeat(Math.max(1, Math.min(length, barWidth - from)));
    const indent = " ".repeat(serviceWidth + 2 + 8 + 2 + row.prefix.length);
    lines.push(
      `${cut(span.service, MAX_SERVICE_WIDTH).padEnd(serviceWidth)}  ${span.kind.padEnd(8)}  ${
        label(row).padEnd(nameWidth)
      }  ${ms(offset).padStart(9)}  ${ms(duration).padStart(9)}  ${paint(failed ? "31" : "36", bar)}` +
        (failed
          ? "  " + paint("31;1", `✗ ERROR${span.status.message ? `: ${cut(span.status.message, 60)}` : ""}`)
          : ""),
    );
    if (row.node.missingParent !== undefined) {
      lines.push(indent + paint("33", `⚠ parent span ${cut(row.node.missingParent, 16)} never arrived`));
    }
    for (const event of span.events.slice(0, MAX_LINES_PER_SPAN)) {
      const attributes = Object.entries(event.attributes)
        .filter(([key]) => key !== "exception.stacktrace")
        .slice(0, MAX_LINES_PER_SPAN)
        .map(([key, value]) => `${cut(key, 40)}=${cut(show(value), 60)}`).join(" ");
      lines.push(
        indent + paint("2", `• ${cut(event.name, 60)} at ${ms(event.timeUnixNano - start)}`) +
          (attributes ? ` ${attributes}` : ""),
      );
    }
    if (span.events.length > MAX_LINES_PER_SPAN) {
      lines.push(indent + paint("2", `• … ${span.events.length - MAX_LINES_PER_SPAN} more events`));
    }
    for (const link of span.links.slice(0, MAX_LINES_PER_SPAN)) {
      const own = link.traceId === trace.traceId;
      const target = own ? nodes.get(link.spanId)?.span : findSpan?.(link.traceId, link.spanId);
      lines.push(
        indent +
          paint("34", `↗ link to ${own ? "this trace" : `trace ${link.traceId}`}, span ${link.spanId}`) +
          (target ? ` (${cut(target.service, MAX_SERVICE_WIDTH)} ${cut(target.name, maxNameLength)})` : ""),
      );
    }
    if (span.links.length > MAX_LINES_PER_SPAN) {
      lines.push(indent + paint("34", `↗ … ${span.links.length - MAX_LINES_PER_SPAN} more links`));
    }
    const spanLogs = logsBySpan.get(span.spanId) ?? [];
    for (const log of spanLogs.slice(0, MAX_LINES_PER_SPAN)) {
      lines.push(indent + paint("35", `▸ log: ${cut(show(log.body).trimEnd(), 80)}`));
    }
    if (spanLogs.length > MAX_LINES_PER_SPAN) {
      lines.push(indent + paint("35", `▸ … ${spanLogs.length - MAX_LINES_PER_SPAN} more log records`));
    }
  }
  if (tooDeep > 0) {
    lines.push(paint("33", `… ${plural(tooDeep, "span")} deeper than ${maxDepth} levels not drawn`));
  }
  if (beyondRows > 0) {
    lines.push(paint("33", `… ${plural(beyondRows, "more span")} not drawn (at most ${maxRows} are)`));
  }
  if (unreachable > 0) {
    lines.push(paint("33;1", `⚠ ${plural(unreachable, "span")} not drawn: their parent links form a cycle`));
  }
  if (missing.length > 0) {
    lines.push(
      paint(
        "33;1",
        `⚠ incomplete trace: ${missing.length} span${
          missing.length === 1 ? "" : "s"
        } whose parent never arrived`,
      ),
    );
  }
  return lines.join("\n");
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function show(value: AttributeValue): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

// C0 controls but for the line feed (shown as ⏎), DEL, C1 controls (U+0080-U+009F: U+009B is a CSI on its
// own), and the bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F,
// U+202A-U+202E, U+2066-U+2069) that would reorder what the terminal shows.
// deno-lint-ignore no-control-regex
const UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Makes `text` safe to print and cuts it to at most `max` characters, ending it with "…" when cut: control
 * characters and bidirectional overrides become "?", line feeds "⏎". Only the start of a long text is read.
 */
function cut(text: string, max: number): string {
  const head = text.length > max * 2 + 2 ? text.slice(0, max * 2 + 2) : text;
  const clean = head.replace(UNSAFE, "?").replace(/\n/g, "⏎");
  const characters = Array.from(clean);
  return characters.length <= max && head.length === text.length
    ? clean
    : characters.slice(0, max - 1).join("") + "…";
}
