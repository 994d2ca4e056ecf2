/**
 * Draws one trace as a text waterfall: the span tree by parent, each row with service, span kind, name,
 * start offset, duration and a bar proportional to the span's place in the trace, errors marked, events,
 * links to other spans and the log records written inside each span beneath it. The critical path (see
 * `@example/otlp/critical_path`) is drawn solid (`█`), the rest of each bar light (`░`). A trace whose parent
 * spans did not all arrive is drawn all the same and said to be incomplete.
 *
 * @module
 */
import type { AttributeValue, LogRecord, Span } from "@example/otlp/decode";
import { servicesByStart, type Trace } from "@example/otlp/receiver";
import { criticalPath } from "@example/otlp/critical_path";
import { cut, padEnd, padStart, width } from "@example/otlp/terminal_text";

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
  /** Whether an earlier span of the trace has the same id (this one is drawn, its children go to the first). */
  duplicate?: boolean;
}

interface Row {
  prefix: string;
  node: Node;
}

/** The span tree of a trace: spans by id (the first of each id), and the roots. */
interface Tree {
  nodes: Node[];
  roots: Node[];
  duplicates: number;
}

/** How a trace is laid out: when it starts, how long it lasts, and the rows drawn. */
interface Layout {
  start: bigint;
  total: bigint;
  rows: Row[];
  serviceWidth: number;
  nameWidth: number;
  options: Required<WaterfallOptions>;
  paint: (code: string, text: string) => string;
  logsBySpan: Map<string, LogRecord[]>;
  traceId: string;
  spanById: Map<string, Span>;
  /** By span id, the stretches of the critical path spent in it, in nanoseconds from the trace's start. */
  critical: Map<string, [number, number][]>;
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

const DEFAULTS: Required<WaterfallOptions> = {
  color: false,
  barWidth: 40,
  maxNameLength: 40,
  maxDepth: 40,
  maxRows: 500,
  findSpan: () => undefined,
};

/**
 * Renders `trace` as lines of text (no trailing newline). Every text that came from a sender is made visible
 * first (controls, format and invisible characters written as `<U+XXXX>`), and columns are padded by display
 * width. A trace deeper than `maxDepth` or larger than `maxRows` is drawn in part, with a note saying how many
 * spans were left out; drawing takes time and memory in proportion to the trace's size, never more stack. A
 * span whose id an earlier span already has is drawn too, marked, and counted in the heading.
 */
export function renderWaterfall(trace: Trace, options: WaterfallOptions = {}): string {
  const all = { ...DEFAULTS, ...options };
  const paint = (code: string, text: string) => all.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  const { spans, logs } = trace;
  const traceId = cut(trace.traceId, 32);
  if (spans.length === 0) return `Trace ${traceId}: no spans arrived (only ${logs.length} log records)`;
  const tree = buildTree(spans);
  const walk = walkTree(tree.roots, all.maxDepth, all.maxRows);
  const layout = layOut(trace, walk.rows, all, paint);
  const lines = [
    ...heading(trace, traceId, tree, layout),
    ...walk.rows.flatMap((row) => spanLines(row, layout)),
  ];
  const note = (code: string, text: string) => lines.push(paint(code, text));
  if (walk.tooDeep > 0) {
    note("33", `… ${plural(walk.tooDeep, "span")} deeper than ${all.maxDepth} levels not drawn`);
  }
  const beyondRows = walk.reached - walk.rows.length - walk.tooDeep;
  if (beyondRows > 0) {
    note("33", `… ${plural(beyondRows, "more span")} not drawn (at most ${all.maxRows} are)`);
  }
  const unreachable = tree.nodes.length - walk.reached;
  if (unreachable > 0) {
    note("33;1", `⚠ ${plural(unreachable, "span")} not drawn: their parent links form a cycle`);
  }
  const missing = tree.roots.filter((root) => root.missingParent !== undefined).length;
  if (missing > 0) note("33;1", `⚠ incomplete trace: ${plural(missing, "span")} whose parent never arrived`);
  return lines.join("\n");
}

/** Files each span under its parent (the first span of the parent's id); the rest are roots. */
function buildTree(spans: Span[]): Tree {
  const nodes = spans.map((span): Node => ({ span, children: [] }));
  const byId = new Map<string, Node>();
  let duplicates = 0;
  for (const node of nodes) {
    if (!byId.has(node.span.spanId)) byId.set(node.span.spanId, node);
    else node.duplicate = (duplicates++, true);
  }
  const roots: Node[] = [];
  for (const node of nodes) {
    const parent = node.span.parentSpanId === undefined ? undefined : byId.get(node.span.parentSpanId);
    if (parent) parent.children.push(node);
    else {
      if (node.span.parentSpanId !== undefined && !parent) node.missingParent = node.span.parentSpanId;
      roots.push(node);
    }
  }
  roots.sort(byStart);
  for (const node of nodes) node.children.sort(byStart);
  return { nodes, roots, duplicates };
}

/**
 * Depth first, in start order, with a stack of its own rather than recursion: a chain of thousands of spans
 * must not exhaust the call stack. Each node is visited once, so a cycle of parent links ends the walk.
 */
function walkTree(roots: Node[], maxDepth: number, maxRows: number) {
  const rows: Row[] = [];
  let reached = 0;
  let tooDeep = 0;
  const seen = new Set<Node>();
  const stack = roots.toReversed().map((node) => ({ node, prefix: "", childPrefix: "", depth: 0 }));
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { node, prefix, childPrefix, depth } = next;
    if (seen.has(node)) continue;
    seen.add(node);
    reached++;
    if (depth >= maxDepth) tooDeep++;
    else if (rows.length < maxRows) rows.push({ prefix, node });
    const deeper = depth + 1 >= maxDepth;
    for (let i = node.children.length - 1; i >= 0; i--) {
      const last = i === node.children.length - 1;
      stack.push({
        node: node.children[i],
        prefix: deeper ? "" : childPrefix + (last ? "└─ " : "├─ "),
        childPrefix: deeper ? "" : childPrefix + (last ? "   " : "│  "),
        depth: depth + 1,
      });
    }
  }
  return { rows, reached, tooDeep };
}

/** The trace's time span and the widths of the service and span columns, measured in display columns. */
function layOut(
  trace: Trace,
  rows: Row[],
  options: Required<WaterfallOptions>,
  paint: Layout["paint"],
): Layout {
  let start = trace.spans[0].startTimeUnixNano;
  let end = trace.spans[0].endTimeUnixNano;
  for (const span of trace.spans) {
    if (span.startTimeUnixNano < start) start = span.startTimeUnixNano;
    if (span.endTimeUnixNano > end) end = span.endTimeUnixNano;
  }
  let serviceWidth = 7;
  let nameWidth = 4;
  for (const row of rows) {
    serviceWidth = Math.max(serviceWidth, width(cut(row.node.span.service, MAX_SERVICE_WIDTH)));
    nameWidth = Math.max(nameWidth, width(label(row, options.maxNameLength)));
  }
  const critical = new Map<string, [number, number][]>();
  for (const segment of criticalPath(trace.spans)) {
    const stretch: [number, number] = [
      Number(segment.startTimeUnixNano - start),
      Number(segment.endTimeUnixNano - start),
    ];
    const list = critical.get(segment.spanId);
    if (list === undefined) critical.set(segment.spanId, [stretch]);
    else list.push(stretch);
  }
  const logsBySpan = Map.groupBy(
    trace.logs.filter((log) => log.spanId !== undefined),
    (log: LogRecord) => log.spanId!,
  );
  return {
    start,
    total: end > start ? end - start : 1n,
    rows,
    serviceWidth,
    nameWidth,
    options,
    paint,
    logsBySpan,
    traceId: trace.traceId,
    spanById: new Map(trace.spans.toReversed().map((span) => [span.spanId, span])),
    critical,
  };
}

/** The heading: the trace's id, counts, services and duration, then the column titles. */
function heading(trace: Trace, traceId: string, tree: Tree, layout: Layout): string[] {
  const { paint, serviceWidth, nameWidth } = layout;
  const errors = trace.spans.filter((span) => span.status.code === "ERROR").length;
  const services = servicesByStart(trace.spans);
  const named = services.slice(0, MAX_SERVICES_NAMED).map((service) => cut(service, MAX_SERVICE_WIDTH));
  if (services.length > named.length) named.push(`${services.length - named.length} more`);
  return [
    paint("1", `Trace ${traceId}`) +
    `  ${trace.spans.length} spans, ${services.length} services (${named.join(", ")}), ${ms(layout.total)}` +
    (tree.duplicates > 0 ? paint("33;1", `, ${tree.duplicates} with a duplicate span id`) : "") +
    (trace.duplicateSpans
      ? paint("33;1", `, ${plural(trace.duplicateSpans, "more span")} with a duplicate id, not kept`)
      : "") +
    (errors > 0 ? paint("31;1", `, ${errors} with errors`) : ""),
    paint(
      "2",
      `${padEnd("service", serviceWidth)}  ${padEnd("kind", 8)}  ${padEnd("span", nameWidth)}  ${
        padStart("start", 9)
      }  ${padStart("duration", 9)}  timeline (█ critical path)`,
    ),
  ];
}

/** One span's line, then its notes, events and log records, indented under its name. */
function spanLines(row: Row, layout: Layout): string[] {
  const { span } = row.node;
  const { paint, start, total, serviceWidth, nameWidth, options } = layout;
  const offset = span.startTimeUnixNano - start;
  const duration = span.endTimeUnixNano - span.startTimeUnixNano;
  const failed = span.status.code === "ERROR";
  const lines = [
    `${padEnd(cut(span.service, MAX_SERVICE_WIDTH), serviceWidth)}  ${padEnd(span.kind, 8)}  ${
      padEnd(label(row, options.maxNameLength), nameWidth)
    }  ${padStart(ms(offset), 9)}  ${padStart(ms(duration), 9)}  ${
      paint(
        failed ? "31" : "36",
        bar(offset, duration, total, options.barWidth, failed, layout.critical.get(span.spanId)),
      )
    }` +
    (failed
      ? "  " + paint("31;1", `✗ ERROR${span.status.message ? `: ${cut(span.status.message, 60)}` : ""}`)
      : ""),
  ];
  const indent = " ".repeat(serviceWidth + 2 + 8 + 2 + width(row.prefix));
  if (row.node.duplicate) {
    lines.push(indent + paint("33", `⚠ an earlier span has the same id ${cut(span.spanId, 16)}`));
  }
  if (row.node.missingParent !== undefined) {
    lines.push(indent + paint("33", `⚠ parent span ${cut(row.node.missingParent, 16)} never arrived`));
  }
  return [
    ...lines,
    ...[...eventLines(span, layout), ...linkLines(span, layout)].map((line) => indent + line),
  ];
}

/** The span's links: the trace and span each points to, named when that span is held. */
function linkLines(span: Span, { paint, traceId, spanById, options }: Layout): string[] {
  const lines = span.links.slice(0, MAX_LINES_PER_SPAN).map((link) => {
    const own = link.traceId === traceId;
    const target = own ? spanById.get(link.spanId) : options.findSpan(link.traceId, link.spanId);
    const where = own ? "this trace" : `trace ${cut(link.traceId, 32)}`;
    return paint("34", `↗ link to ${where}, span ${cut(link.spanId, 16)}`) +
      (target
        ? ` (${cut(target.service, MAX_SERVICE_WIDTH)} ${cut(target.name, options.maxNameLength)})`
        : "");
  });
  if (span.links.length > MAX_LINES_PER_SPAN) {
    lines.push(paint("34", `↗ … ${span.links.length - MAX_LINES_PER_SPAN} more links`));
  }
  return lines;
}

/** The span's events and the log records written inside it, at most {@linkcode MAX_LINES_PER_SPAN} each. */
function eventLines(span: Span, { paint, start, logsBySpan }: Layout): string[] {
  const lines = [];
  for (const event of span.events.slice(0, MAX_LINES_PER_SPAN)) {
    const attributes = Object.entries(event.attributes)
      .filter(([key]) => key !== "exception.stacktrace")
      .slice(0, MAX_LINES_PER_SPAN)
      .map(([key, value]) => `${cut(key, 40)}=${cut(show(value), 60)}`).join(" ");
    lines.push(
      paint("2", `• ${cut(event.name, 60)} at ${ms(event.timeUnixNano - start)}`) +
        (attributes ? ` ${attributes}` : ""),
    );
  }
  if (span.events.length > MAX_LINES_PER_SPAN) {
    lines.push(paint("2", `• … ${span.events.length - MAX_LINES_PER_SPAN} more events`));
  }
  const spanLogs = logsBySpan.get(span.spanId) ?? [];
  for (const log of spanLogs.slice(0, MAX_LINES_PER_SPAN)) {
    lines.push(paint("35", `▸ log: ${cut(show(log.body).trimEnd(), 80)}`));
  }
  if (spanLogs.length > MAX_LINES_PER_SPAN) {
    lines.push(paint("35", `▸ … ${spanLogs.length - MAX_LINES_PER_SPAN} more log records`));
  }
  return lines;
}

/**
 * The span's bar: blank up to its start, then a block per column it lasts (at least one), solid where the
 * critical path passes through the span in that column (`▓` for an error), light (`░`) elsewhere.
 */
function bar(
  offset: bigint,
  duration: bigint,
  total: bigint,
  barWidth: number,
  failed: boolean,
  critical: [number, number][] = [],
): string {
  const from = Math.max(0, Math.min(barWidth - 1, Math.floor(Number(offset) / Number(total) * barWidth)));
  const length = Math.max(
    1,
    Math.min(Math.round(Number(duration) / Number(total) * barWidth), barWidth - from),
  );
  const column = Number(total) / barWidth;
  let text = " ".repeat(from);
  for (let c = from; c < from + length; c++) {
    // A bar of one column stands for the whole span, however short.
    const onPath = length === 1
      ? critical.length > 0
      : critical.some(([start, end]) => start < (c + 1) * column && end > c * column);
    text += onPath ? (failed ? "▓" : "█") : "░";
  }
  return text;
}

function label(row: Row, maxNameLength: number): string {
  return row.prefix + cut(row.node.span.name, maxNameLength);
}

function ms(nanos: bigint): string {
  return `${(Number(nanos) / 1e6).toFixed(1)} ms`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function show(value: AttributeValue): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}
