/**
 * Tempo's answer to `GET /api/v2/traces/<id>` (OTLP JSON with base64 ids), and the same spans in the
 * receiver's shape, so that the stack check and the scale check read a trace from Tempo as the demo reads
 * one from the built-in receiver.
 *
 * @module
 */
import type { JoinedSpan } from "@example/demo/joined";
import type { SpanKind } from "@example/otlp/decode";

/** A span as Tempo's `GET /api/v2/traces/<id>` returns it (OTLP JSON with base64 ids). */
export interface TempoSpan {
  /** The trace id, base64. */
  traceId: string;
  /** The span id, base64. */
  spanId: string;
  /** The parent's span id, base64; absent for a root span. */
  parentSpanId?: string;
  /** The span's name. */
  name: string;
  /** The span kind, such as `SPAN_KIND_SERVER`. */
  kind: string;
}

/** A span of Tempo's answer in the receiver's shape: hex ids, the kind without its `SPAN_KIND_` prefix. */
export type FlatSpan = JoinedSpan;

/** An attribute as Tempo's JSON gives it (only string values are read). */
export interface KeyValue {
  /** The attribute's name. */
  key: string;
  /** Its value. */
  value: { stringValue?: string };
}

/** The body of Tempo's `GET /api/v2/traces/<id>`. */
export interface TempoTraceResponse {
  /** Tempo's status, when it has one to report. */
  status?: string;
  /** The trace, grouped by resource and scope. */
  trace?: {
    resourceSpans?: {
      resource?: { attributes?: KeyValue[] };
      scopeSpans?: { scope?: { name?: string }; spans?: TempoSpan[] }[];
    }[];
  };
}

/** Converts a base64 id of Tempo's JSON to lowercase hex; empty for an absent id. */
export function base64ToHex(id: string | undefined): string {
  if (!id) return "";
  const bytes = Uint8Array.from(atob(id), (c) => c.charCodeAt(0));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Flattens Tempo's trace response into one list of spans with hex ids. */
export function flattenTrace(body: TempoTraceResponse): FlatSpan[] {
  const spans: FlatSpan[] = [];
  for (const resourceSpans of body.trace?.resourceSpans ?? []) {
    const service = resourceSpans.resource?.attributes?.find((a) => a.key === "service.name")?.value
      .stringValue ?? "";
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        spans.push({
          service,
          scope: { name: scopeSpans.scope?.name ?? "" },
          name: span.name,
          kind: (span.kind.replace(/^SPAN_KIND_/, "") || "UNSPECIFIED") as SpanKind,
          traceId: base64ToHex(span.traceId),
          spanId: base64ToHex(span.spanId),
          parentSpanId: base64ToHex(span.parentSpanId) || undefined,
        });
      }
    }
  }
  return spans;
}
