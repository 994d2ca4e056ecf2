/**
 * Draws one trace as a text waterfall: the span tree by parent, each row with service, span kind, name,
 * start offset, duration and a bar proportional to the span's place in the trace, errors marked, events and
 * the log records written inside each span beneath it. A trace whose parent spans did not all arrive is
 * drawn all the same and said to be incomplete.
 *
 * @module
 */
import type { AttributeValue, LogRecord, Span } from "../otlp/decode.ts";
import type { Trace } from "../otlp/receiver.ts";

/** Options of {@linkcode renderWaterfall}. */
export interface WaterfallOptions {
  /** ANSI colours (default off). */
  color?: boolean;
  /** Width of the bar column in characters (default 40). */
  barWidth?: number;
  /** Longest span name shown before it is cut with "…" (default 40). */
  maxNameLength?: number;
}

interface Node {
  span: Span;
  children: Node[];
  /** The parent span id that never arrived, for a span drawn at the top only because of that. */
  missingParent?: string;
}

const byStart = (a: Node, b: Node) =>
  a.span.startTimeUnixNano < b.span.startTimeUnixNano
    ? -1
    : a.span.startTimeUnixNano > b.span.startTimeUnixNano
    ? 1
    : 0;

/** Renders `trace` as lines of text (no trailing newline). */
export function renderWaterfall(
  trace: Trace,
  { color = false, barWidth = 40, maxNameLength = 40 }: WaterfallOptions = {},
): string {
  const paint = (code: string, text: string) => color ? `\x1b[${code}m${text}\x1b[0m` : text;
  const { spans, logs } = trace;
  if (spans.length === 0) return `Trace ${trace.traceId}: no spans arrived (only ${logs.length} log records)`;

  const nodes = new Map(spans.map((span) => [span.spanId, { span, children: [] } as Node]));
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

  const start = spans.reduce(
    (min, span) => span.startTimeUnixNano < min ? span.startTimeUnixNano : min,
    spans[0].startTimeUnixNano,
  );
  const end = spans.reduce(
    (max, span) => span.endTimeUnixNano > max ? span.endTimeUnixNano : max,
    spans[0].endTimeUnixNano,
  );
  const total = end > start ? end - start : 1n;
  const ms = (nanos: bigint) => `${(Number(nanos) / 1e6).toFixed(1)} ms`;
  const services = [...new Set(spans.map((span) => span.service))];
  const logsBySpan = Map.groupBy(
    logs.filter((log) => log.spanId !== undefined),
    (log: LogRecord) => log.spanId!,
  );

  const rows: { prefix: string; node: Node }[] = [];
  const walk = (node: Node, prefix: string, childPrefix: string) => {
    rows.push({ prefix, node });
    node.children.forEach((child, i) => {
      const last = i === node.children.length - 1;
      walk(child, childPrefix + (last ? "└─ " : "├─ "), childPrefix + (last ? "   " : "│  "));
    });
  };
  for (const root of roots) walk(root, "", "");

  const label = (row: { prefix: string; node: Node }) => row.prefix + cut(row.node.span.name, maxNameLength);
  const serviceWidth = Math.max(7, ...services.map((service) => service.length));
  const nameWidth = Math.max(4, ...rows.map((row) => label(row).length));
  const errors = spans.filter((span) => span.status.code === "ERROR").length;
  const missing = roots.filter((root) => root.missingParent !== undefined);

  const lines = [
    paint("1", `Trace ${trace.traceId}`) +
    `  ${spans.length} spans, ${services.length} services (${services.join(", ")}), ${ms(total)}` +
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
    const from = Math.min(barWidth - 1, Math.floor(Number(offset) / Number(total) * barWidth));
    const length = Math.max(1, Math.round(Number(duration) / Number(total) * barWidth));
    const failed = span.status.code === "ERROR";
    const bar = " ".repeat(from) + (failed ? "▓" : "█").repeat(Math.min(length, barWidth - from));
    const indent = " ".repeat(serviceWidth + 2 + 8 + 2 + row.prefix.length);
    lines.push(
      `${span.service.padEnd(serviceWidth)}  ${span.kind.padEnd(8)}  ${label(row).padEnd(nameWidth)}  ${
        ms(offset).padStart(9)
      }  ${ms(duration).padStart(9)}  ${paint(failed ? "31" : "36", bar)}` +
        (failed
          ? "  " + paint("31;1", `✗ ERROR${span.status.message ? `: ${cut(span.status.message, 60)}` : ""}`)
          : ""),
    );
    if (row.node.missingParent !== undefined) {
      lines.push(indent + paint("33", `⚠ parent span ${row.node.missingParent} never arrived`));
    }
    for (const event of span.events) {
      const attributes = Object.entries(event.attributes)
        .filter(([key]) => key !== "exception.stacktrace")
        .map(([key, value]) => `${key}=${cut(show(value), 60)}`).join(" ");
      lines.push(
        indent + paint("2", `• ${event.name} at ${ms(event.timeUnixNano - start)}`) +
          (attributes ? ` ${attributes}` : ""),
      );
    }
    for (const log of logsBySpan.get(span.spanId) ?? []) {
      lines.push(indent + paint("35", `▸ log: ${cut(show(log.body).trimEnd(), 80)}`));
    }
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

function show(value: AttributeValue): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Cuts `text` to at most `max` characters, ending it with "…" when cut; control characters become "?". */
function cut(text: string, max: number): string {
  // deno-lint-ignore no-control-regex
  const clean = text.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "?").replace(/\n/g, "⏎");
  const characters = [...clean];
  return characters.length <= max ? clean : characters.slice(0, max - 1).join("") + "…";
}
