/**
 * Decodes OTLP export requests (traces and logs, as OTLP/JSON or protobuf) into plain records that are easy
 * to query and to draw: ids in lower-case hex, times as bigint nanoseconds, attributes as plain values, and
 * each span or log record carrying the `service.name` of its resource.
 *
 * Protobuf is decoded by the code that the OpenTelemetry JS project generates from the OTLP `.proto` files
 * with protobufjs (`@opentelemetry/otlp-transformer`'s `generated/root.js`).
 *
 * @module
 */
import root from "@opentelemetry/otlp-transformer/generated/root.js";

/** Span kinds, indexed by the OTLP enum value. */
export const SPAN_KINDS = ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"] as const;

/** The name of an OTLP span kind. */
export type SpanKind = typeof SPAN_KINDS[number];

/** An attribute value, as a plain JavaScript value. */
export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | AttributeValue[]
  | { [key: string]: AttributeValue };

/** Attributes by key. */
export type Attributes = Record<string, AttributeValue>;

/** An event recorded on a span. */
export interface SpanEvent {
  name: string;
  timeUnixNano: bigint;
  attributes: Attributes;
}

/** One span as received, with the service and instrumentation scope it came from. */
export interface Span {
  traceId: string;
  spanId: string;
  /** The parent's span id, or `undefined` for a root span. */
  parentSpanId?: string;
  name: string;
  kind: SpanKind;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  events: SpanEvent[];
  /** `UNSET`, `OK` or `ERROR`, with the message that came with it. */
  status: { code: "UNSET" | "OK" | "ERROR"; message?: string };
  /** The resource's `service.name`. */
  service: string;
  resource: Attributes;
  scope: { name: string; version?: string };
}

/** One log record as received. */
export interface LogRecord {
  /** The trace and span the record was written in, when there was an active span. */
  traceId?: string;
  spanId?: string;
  timeUnixNano: bigint;
  severityText?: string;
  body: AttributeValue;
  attributes: Attributes;
  service: string;
  scope: { name: string; version?: string };
}

/** What a decoded request held, and what it had to reject (OTLP partial success). */
export interface Decoded<T> {
  accepted: T[];
  rejected: number;
  /** Why items were rejected, for the partial-success message. */
  errors: string[];
}

/** The encodings an OTLP/HTTP request can come in. */
export type Encoding = "json" | "protobuf";

/** A request body that is not a valid OTLP message. */
export class OtlpDecodeError extends Error {
  override name = "OtlpDecodeError";
}

// deno-lint-ignore no-explicit-any
type Raw = any;

// The generated module's typings do not describe its namespaces.
const proto: Raw = (root as Raw).opentelemetry.proto;

function toPlain(body: Uint8Array | string, encoding: Encoding, type: Raw): Raw {
  if (encoding === "json") {
    let value: unknown;
    try {
      value = JSON.parse(typeof body === "string" ? body : new TextDecoder().decode(body));
    } catch (error) {
      throw new OtlpDecodeError(`the body is not valid JSON: ${(error as Error).message}`);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new OtlpDecodeError("the body is not a JSON object");
    }
    return value;
  }
  try {
    const message = type.decode(typeof body === "string" ? new TextEncoder().encode(body) : body);
    return type.toObject(message, { longs: String, enums: Number, bytes: Array });
  } catch (error) {
    throw new OtlpDecodeError(`the body is not a valid protobuf message: ${(error as Error).message}`);
  }
}

/** Decodes an `ExportTraceServiceRequest`. @throws {OtlpDecodeError} when the body is not one. */
export function decodeTraces(body: Uint8Array | string, encoding: Encoding): Decoded<Span> {
  const request = toPlain(body, encoding, proto.collector.trace.v1.ExportTraceServiceRequest);
  const result: Decoded<Span> = { accepted: [], rejected: 0, errors: [] };
  for (const resourceSpans of list(request.resourceSpans)) {
    const resource = attributes(resourceSpans?.resource?.attributes);
    const service = typeof resource["service.name"] === "string" ? resource["service.name"] : "unknown";
    for (const scopeSpans of list(resourceSpans?.scopeSpans)) {
      const scope = scopeOf(scopeSpans?.scope);
      for (const raw of list(scopeSpans?.spans)) {
        const traceId = id(raw?.traceId, 16);
        const spanId = id(raw?.spanId, 8);
        if (traceId === undefined || spanId === undefined) {
          result.rejected++;
          result.errors.push(`a span without a valid trace or span id (${JSON.stringify(raw?.name ?? "")})`);
          continue;
        }
        result.accepted.push({
          traceId,
          spanId,
          parentSpanId: id(raw.parentSpanId, 8),
          name: String(raw.name ?? ""),
          kind: SPAN_KINDS[Number(raw.kind ?? 0)] ?? "UNSPECIFIED",
          startTimeUnixNano: nanos(raw.startTimeUnixNano),
          endTimeUnixNano: nanos(raw.endTimeUnixNano),
          attributes: attributes(raw.attributes),
          events: list(raw.events).map((event: Raw) => ({
            name: String(event?.name ?? ""),
            timeUnixNano: nanos(event?.timeUnixNano),
            attributes: attributes(event?.attributes),
          })),
          status: {
            code: (["UNSET", "OK", "ERROR"] as const)[Number(raw.status?.code ?? 0)] ?? "UNSET",
            ...(raw.status?.message ? { message: String(raw.status.message) } : {}),
          },
          service,
          resource,
          scope,
        });
      }
    }
  }
  return result;
}

/** Decodes an `ExportLogsServiceRequest`. @throws {OtlpDecodeError} when the body is not one. */
export function decodeLogs(body: Uint8Array | string, encoding: Encoding): Decoded<LogRecord> {
  const request = toPlain(body, encoding, proto.collector.logs.v1.ExportLogsServiceRequest);
  const result: Decoded<LogRecord> = { accepted: [], rejected: 0, errors: [] };
  for (const resourceLogs of list(request.resourceLogs)) {
    const resource = attributes(resourceLogs?.resource?.attributes);
    const service = typeof resource["service.name"] === "string" ? resource["service.name"] : "unknown";
    for (const scopeLogs of list(resourceLogs?.scopeLogs)) {
      const scope = scopeOf(scopeLogs?.scope);
      for (const raw of list(scopeLogs?.logRecords)) {
        result.accepted.push({
          traceId: id(raw?.traceId, 16),
          spanId: id(raw?.spanId, 8),
          timeUnixNano: nanos(raw?.timeUnixNano ?? raw?.observedTimeUnixNano),
          ...(raw?.severityText ? { severityText: String(raw.severityText) } : {}),
          body: value(raw?.body),
          attributes: attributes(raw?.attributes),
          service,
          scope,
        });
      }
    }
  }
  return result;
}

/** Checks that a body is an `ExportMetricsServiceRequest` and returns the names of the metrics it holds. */
export function decodeMetrics(body: Uint8Array | string, encoding: Encoding): Decoded<string> {
  const request = toPlain(body, encoding, proto.collector.metrics.v1.ExportMetricsServiceRequest);
  const names = list(request.resourceMetrics).flatMap((resourceMetrics: Raw) =>
    list(resourceMetrics?.scopeMetrics).flatMap((scopeMetrics: Raw) =>
      list(scopeMetrics?.metrics).map((metric: Raw) => String(metric?.name ?? ""))
    )
  );
  return { accepted: names, rejected: 0, errors: [] };
}

/** Encodes an empty export response (full success) in the request's encoding. */
export function encodeSuccess(encoding: Encoding): Uint8Array | string {
  return encoding === "json" ? "{}" : new Uint8Array();
}

/** Encodes an export response that reports a partial success, in the request's encoding. */
export function encodePartialSuccess(
  signal: "traces" | "logs",
  encoding: Encoding,
  rejected: number,
  errorMessage: string,
): Uint8Array | string {
  const field = signal === "traces" ? "rejectedSpans" : "rejectedLogRecords";
  const partialSuccess = { [field]: rejected, errorMessage };
  if (encoding === "json") return JSON.stringify({ partialSuccess });
  const type = signal === "traces"
    ? proto.collector.trace.v1.ExportTraceServiceResponse
    : proto.collector.logs.v1.ExportLogsServiceResponse;
  return type.encode(type.fromObject({ partialSuccess })).finish();
}

function list(value: unknown): Raw[] {
  return Array.isArray(value) ? value : [];
}

function scopeOf(raw: Raw): { name: string; version?: string } {
  return { name: String(raw?.name ?? ""), ...(raw?.version ? { version: String(raw.version) } : {}) };
}

/** Hex from OTLP/JSON (a hex string) or protobuf (bytes); `undefined` when absent, empty or all zeros. */
function id(raw: unknown, bytes: number): string | undefined {
  let hex: string | undefined;
  if (typeof raw === "string") hex = raw.toLowerCase();
  else if (Array.isArray(raw) || raw instanceof Uint8Array) {
    hex = Array.from(raw as ArrayLike<number>, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }
  if (hex === undefined || !new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(hex) || /^0+$/.test(hex)) {
    return undefined;
  }
  return hex;
}

function nanos(raw: unknown): bigint {
  try {
    return BigInt(typeof raw === "string" || typeof raw === "number" ? raw : 0);
  } catch {
    return 0n;
  }
}

function attributes(raw: unknown): Attributes {
  const result: Attributes = {};
  for (const pair of list(raw)) {
    if (typeof pair?.key === "string") result[pair.key] = value(pair.value);
  }
  return result;
}

function value(raw: Raw): AttributeValue {
  if (raw === null || typeof raw !== "object") return null;
  if ("stringValue" in raw) return String(raw.stringValue);
  if ("boolValue" in raw) return Boolean(raw.boolValue);
  if ("intValue" in raw) return Number(raw.intValue);
  if ("doubleValue" in raw) return Number(raw.doubleValue);
  if ("arrayValue" in raw) return list(raw.arrayValue?.values).map(value);
  if ("kvlistValue" in raw) return attributes(raw.kvlistValue?.values);
  if ("bytesValue" in raw) return String(raw.bytesValue);
  return null;
}
