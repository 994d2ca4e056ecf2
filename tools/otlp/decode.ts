/**
 * Decodes OTLP export requests (traces, logs and metrics, as OTLP/JSON or protobuf) into plain records that are easy
 * to query and to draw: ids in lower-case hex, times as bigint nanoseconds, attributes as plain values, and
 * each span or log record carrying the `service.name` of its resource.
 *
 * Protobuf is decoded by `@bufbuild/protobuf` with the code generated from `otlp.proto` (`gen/otlp_pb.ts`);
 * OTLP/JSON, which differs from protobuf's own JSON mapping (hex ids, integer enums), is read by hand here.
 * Both are bounded: a request holding more than `maxItems` spans, log records or metrics, or attribute
 * values nested deeper than {@linkcode MAX_VALUE_DEPTH}, is refused before it costs more than its own size.
 * Any body that is not a valid request throws {@linkcode OtlpDecodeError}, never another error.
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import * as pb from "./gen/otlp_pb.ts";
import { eachFieldAt, fieldAt, H, HEADER, lastFieldAt, scanSpan, traceIdAt, withinCaps } from "./_scan.ts";
import {
  eachField,
  lastField,
  LOG_RECORD as LOG_RULES,
  METRIC as METRIC_RULES,
  RESOURCE as RESOURCE_RULES,
  SPAN as SPAN_RULES,
  TooDeepError,
  trim,
  type WireCounts,
  wireCounts,
} from "./_wire.ts";

/** Span kinds, indexed by the OTLP enum value. */
export const SPAN_KINDS = ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"] as const;

/** The name of an OTLP span kind. */
export type SpanKind = typeof SPAN_KINDS[number];

/** How deep attribute values (arrays and key-value lists) may nest before a request is refused. */
export const MAX_VALUE_DEPTH = 32;

/** The most spans, log records or metrics one request may hold, unless told otherwise. */
export const DEFAULT_MAX_ITEMS = 10_000;

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

/** The instrumentation scope a span or log record came from. */
export interface Scope {
  /** The scope's name, for example `deno` or the name given to `trace.getTracer()`. */
  name: string;
  /** The scope's version, when it has one. */
  version?: string;
}

/** An event recorded on a span. */
export interface SpanEvent {
  /** The event's name. */
  name: string;
  /** When it happened, in nanoseconds since the Unix epoch. */
  timeUnixNano: bigint;
  /** The event's attributes. */
  attributes: Attributes;
}

/** A link from a span to another span, of its own trace or another. */
export interface SpanLink {
  /** The linked span's trace id, 32 lower-case hex digits. */
  traceId: string;
  /** The linked span's id, 16 lower-case hex digits. */
  spanId: string;
  /** The link's attributes. */
  attributes: Attributes;
}

/**
 * What the decoder's limits ({@linkcode DecodeLimits}) took from a span or log record; each field is present
 * only when not zero.
 */
export interface Limited {
  /** Attributes (of the record, its events, and entries of key-value lists in them) dropped past the cap. */
  droppedAttributesCount?: number;
  /** Events of a span dropped past the cap. */
  droppedEventsCount?: number;
  /** Links of a span dropped past the cap. */
  droppedLinksCount?: number;
  /** Items of array values dropped past the cap. */
  droppedArrayItemsCount?: number;
  /** Strings (names, keys, values) cut to the longest length kept. */
  truncatedStringsCount?: number;
}

/** One span as received, with the service and instrumentation scope it came from. */
export interface Span extends Limited {
  /** The trace id, 32 lower-case hex digits. */
  traceId: string;
  /** The span id, 16 lower-case hex digits. */
  spanId: string;
  /** The parent's span id, or `undefined` for a root span. */
  parentSpanId?: string;
  /** The span's name. */
  name: string;
  /** The span's kind. */
  kind: SpanKind;
  /** When the span started, in nanoseconds since the Unix epoch. */
  startTimeUnixNano: bigint;
  /** When the span ended, in nanoseconds since the Unix epoch. */
  endTimeUnixNano: bigint;
  /** The span's attributes. */
  attributes: Attributes;
  /** The events recorded on the span. */
  events: SpanEvent[];
  /** The span's links to other spans (a link without a valid trace or span id is left out). */
  links: SpanLink[];
  /** `UNSET`, `OK` or `ERROR`, with the message that came with it. */
  status: { code: "UNSET" | "OK" | "ERROR"; message?: string };
  /** The resource's `service.name`. */
  service: string;
  /** The attributes of the resource (the process) that sent the span. */
  resource: Attributes;
  /** The instrumentation scope that made the span. */
  scope: Scope;
}

/** One log record as received. */
export interface LogRecord extends Limited {
  /** The trace the record was written in, when there was an active span. */
  traceId?: string;
  /** The span the record was written in, when there was an active span. */
  spanId?: string;
  /** When it was written (or, failing that, observed), in nanoseconds since the Unix epoch. */
  timeUnixNano: bigint;
  /** The severity as text, for example `INFO`, when it has one. */
  severityText?: string;
  /** The record's body: the message, or a structured value. */
  body: AttributeValue;
  /** The record's attributes. */
  attributes: Attributes;
  /** The resource's `service.name`. */
  service: string;
  /** The instrumentation scope that wrote the record. */
  scope: Scope;
}

/** The kinds of metric the receiver reads: OTLP's gauge, sum and (explicit-bucket) histogram. */
export type MetricKind = "gauge" | "sum" | "histogram";

/** How a sum's or histogram's points relate to time: OTLP's `AggregationTemporality`. */
export type MetricTemporality = "unspecified" | "delta" | "cumulative";

/** One data point of a metric, as received. */
export interface MetricPoint {
  /** The point's attributes (its labels). */
  attributes: Attributes;
  /** When what the point holds began to be counted (0 when not given), in nanoseconds since the epoch. */
  startTimeUnixNano: bigint;
  /** When the point was taken, in nanoseconds since the epoch. */
  timeUnixNano: bigint;
  /** A gauge's or sum's value. */
  value?: number;
  /** A histogram's count of values. */
  count?: number;
  /** A histogram's sum of values, when sent. */
  sum?: number;
  /** A histogram's smallest value, when sent. */
  min?: number;
  /** A histogram's largest value, when sent. */
  max?: number;
  /** A histogram's count per bucket: one more than `explicitBounds`. */
  bucketCounts?: number[];
  /** A histogram's bucket bounds, ascending. */
  explicitBounds?: number[];
}

/** One metric as received, with its points and the service, resource and scope it came from. */
export interface Metric {
  /** The metric's name, for example `http.server.request.duration`. */
  name: string;
  /** Its description. */
  description: string;
  /** Its unit, for example `s` or `By`. */
  unit: string;
  /** Gauge, sum or histogram. */
  kind: MetricKind;
  /** How the points of a sum or histogram relate to time (`unspecified` for a gauge). */
  temporality: MetricTemporality;
  /** Whether a sum only goes up (a counter); false for gauges, up-down counters and histograms. */
  monotonic: boolean;
  /** The points, in the order sent. Those marked as holding no recorded value are left out. */
  points: MetricPoint[];
  /** The resource's `service.name`. */
  service: string;
  /** The attributes of the resource (the process) that sent the metric. */
  resource: Attributes;
  /** The instrumentation scope (meter) that made it. */
  scope: Scope;
}

/** What a decoded request held, and what it had to reject (OTLP partial success). */
export interface Decoded<T> {
  /** The items kept. */
  accepted: T[];
  /** How many items were rejected. */
  rejected: number;
  /** Why items were rejected, for the partial-success message. */
  errors: string[];
}

/** The encodings an OTLP/HTTP request can come in. */
export type Encoding = "json" | "protobuf";

/**
 * How much of each span or log record is kept, as the OpenTelemetry SDKs' span limits do: what is past a
 * cap is dropped and counted ({@linkcode Limited}), the record itself is kept.
 */
export interface DecodeLimits {
  /** Attributes per span, event, resource, log record or key-value list (the SDKs' default: 128). */
  attributes: number;
  /** Events per span (the SDKs' default: 128). */
  events: number;
  /** Links per span (the SDKs' default: 128). */
  links: number;
  /** Items per array value. */
  arrayItems: number;
  /** The longest string kept, in UTF-16 code units; longer ones are cut. */
  stringLength: number;
}

/** The default limits: 128 attributes, events, links and array items, strings up to 4,096 characters. */
export const DEFAULT_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  attributes: 128,
  events: 128,
  links: 128,
  arrayItems: 128,
  stringLength: 4096,
});

/**
 * The most values one request may hold, unless told otherwise: for protobuf, its spans or log records,
 * events, attributes and array items (after the caps of {@linkcode DEFAULT_LIMITS}); for OTLP/JSON, its
 * objects and arrays (about two per attribute). Deno's largest default batch holds about 15,000. It bounds
 * the time one request takes to decode.
 */
export const DEFAULT_MAX_VALUES = 150_000;

/** Limits of the decoding functions. */
export interface DecodeOptions {
  /** The most spans, log records or metrics one request may hold (default {@linkcode DEFAULT_MAX_ITEMS}). */
  maxItems?: number;
  /** The most values one request may hold (default {@linkcode DEFAULT_MAX_VALUES}). */
  maxValues?: number;
  /** What is kept of each record (default {@linkcode DEFAULT_LIMITS}). */
  limits?: Partial<DecodeLimits>;
}

/** A request body that is not a valid OTLP message, or one too large to accept. */
export class OtlpDecodeError extends Error {
  /** `"OtlpDecodeError"`. */
  override name = "OtlpDecodeError";
  /** The HTTP status to answer with: 400 for a malformed body, 413 for one that holds too much. */
  readonly status: 400 | 413;

  /** An error with a message that says what was wrong with the body. */
  constructor(message: string, status: 400 | 413 = 400) {
    super(message);
    this.status = status;
  }
}

/** Decodes an `ExportTraceServiceRequest`. @throws {OtlpDecodeError} when the body is not one. */
export function decodeTraces(
  body: Uint8Array | string,
  encoding: Encoding,
  options: DecodeOptions = {},
): Decoded<Span> {
  return drain(traceSteps(body, encoding, options));
}

/** Decodes an `ExportLogsServiceRequest`. @throws {OtlpDecodeError} when the body is not one. */
export function decodeLogs(
  body: Uint8Array | string,
  encoding: Encoding,
  options: DecodeOptions = {},
): Decoded<LogRecord> {
  return drain(logSteps(body, encoding, options));
}

/** Runs a decoder's steps to the end, at once. */
function drain<T>(steps: Generator<void, T, void>): T {
  while (true) {
    const step = guarded(() => steps.next());
    if (step.done) return step.value;
  }
}

/** Options of {@linkcode decodeInSlices}. */
export interface SliceOptions extends DecodeOptions {
  /** How long to decode at most before letting the event loop run, in milliseconds (default 10). */
  sliceMs?: number;
}

/**
 * Decodes an export request of traces or logs as {@linkcode decodeTraces} and {@linkcode decodeLogs} do, but
 * lets the event loop run every `sliceMs` milliseconds, so that one large request does not stall the
 * others (protobuf-es decodes a 3 MiB request of 10,000 spans in about half a second here).
 *
 * @throws {OtlpDecodeError} when the body is not a valid request.
 */
export async function decodeInSlices<S extends "traces" | "logs">(
  signal: S,
  body: Uint8Array | string,
  encoding: Encoding,
  { sliceMs = 10, ...options }: SliceOptions = {},
): Promise<Decoded<S extends "traces" ? Span : LogRecord>> {
  const steps = signal === "traces" ? traceSteps(body, encoding, options) : logSteps(body, encoding, options);
  let started = performance.now();
  while (true) {
    const step = guarded(() => steps.next());
    if (step.done) return step.value as Decoded<S extends "traces" ? Span : LogRecord>;
    if (performance.now() - started >= sliceMs) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      started = performance.now();
    }
  }
}

/** Decodes traces one span a step. */
function* traceSteps(
  body: Uint8Array | string,
  encoding: Encoding,
  options: DecodeOptions,
): Generator<void, Decoded<Span>, void> {
  const result: Decoded<Span> = { accepted: [], rejected: 0, errors: [] };
  const reject = (name: string) => {
    result.rejected++;
    if (result.errors.length < 3) {
      result.errors.push(`a span without a valid trace or span id (${JSON.stringify(name.slice(0, 100))})`);
    }
  };
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  if (encoding === "protobuf") {
    for (const { origin, bytes, counts } of binaryItems(body, SPAN_RULES, "spans", limits, options)) {
      const span = binarySpan(parse(() => fromBinary(pb.SpanSchema, bytes, BINARY)), origin, limits, counts);
      if (typeof span === "string") reject(span);
      else result.accepted.push(span);
      yield;
    }
    return result;
  }
  const path = ["resourceSpans", "scopeSpans", "spans", "span"] as const;
  for (const [raw, origin] of jsonItems(jsonObject(body, options), path, limits, options)) {
    const span = jsonSpan(raw, origin, limits);
    if (typeof span === "string") reject(span);
    else result.accepted.push(span);
    yield;
  }
  return result;
}

/** A decoded protobuf span as a plain one, or its name when its ids are not valid. */
function binarySpan(
  raw: pb.Span,
  origin: Origin,
  limits: DecodeLimits,
  counts: WireCounts,
  knownTraceId?: string,
): Span | string {
  const traceId = knownTraceId ?? binaryId(raw.traceId, 16);
  const spanId = binaryId(raw.spanId, 8);
  if (traceId === undefined || spanId === undefined) return raw.name;
  const values = new Values(limits, counts);
  return {
    traceId,
    spanId,
    parentSpanId: binaryId(raw.parentSpanId, 8),
    name: values.text(raw.name),
    kind: SPAN_KINDS[raw.kind] ?? "UNSPECIFIED",
    startTimeUnixNano: raw.startTimeUnixNano,
    endTimeUnixNano: raw.endTimeUnixNano,
    attributes: values.fromKeyValues(raw.attributes, 0),
    events: raw.events.map((event) => ({
      name: values.text(event.name),
      timeUnixNano: event.timeUnixNano,
      attributes: values.fromKeyValues(event.attributes, 0),
    })),
    links: raw.links.flatMap((link) => {
      const traceId = binaryId(link.traceId, 16);
      const spanId = binaryId(link.spanId, 8);
      if (traceId === undefined || spanId === undefined) return [];
      return [{ traceId, spanId, attributes: values.fromKeyValues(link.attributes, 0) }];
    }),
    status: statusFrom(raw.status?.code ?? 0, values.text(raw.status?.message ?? "")),
    ...origin,
    ...values.limited(),
  };
}

/** An OTLP/JSON span as a plain one, or its name when its ids are not valid. */
function jsonSpan(span: JsonObject, origin: Origin, limits: DecodeLimits): Span | string {
  const values = new Values(limits);
  const name = values.text(string(span.name, "span.name"));
  const traceId = jsonId(span.traceId, 16, "span.traceId");
  const spanId = jsonId(span.spanId, 8, "span.spanId");
  if (traceId === undefined || spanId === undefined) return name;
  const status = object(span.status, "span.status");
  return {
    traceId,
    spanId,
    parentSpanId: jsonId(span.parentSpanId, 8, "span.parentSpanId"),
    name,
    kind: SPAN_KINDS[integer(span.kind, "span.kind")] ?? "UNSPECIFIED",
    startTimeUnixNano: nanos(span.startTimeUnixNano, "span.startTimeUnixNano"),
    endTimeUnixNano: nanos(span.endTimeUnixNano, "span.endTimeUnixNano"),
    attributes: values.jsonKeyValues(span.attributes, 0),
    events: values.capped(array(span.events, "span.events"), "events").map((raw) => {
      const event = object(raw, "event");
      return {
        name: values.text(string(event.name, "event.name")),
        timeUnixNano: nanos(event.timeUnixNano, "event.timeUnixNano"),
        attributes: values.jsonKeyValues(event.attributes, 0),
      };
    }),
    links: values.capped(array(span.links, "span.links"), "links").flatMap((raw) => {
      const link = object(raw, "link");
      const traceId = jsonId(link.traceId, 16, "link.traceId");
      const spanId = jsonId(link.spanId, 8, "link.spanId");
      if (traceId === undefined || spanId === undefined) return [];
      return [{ traceId, spanId, attributes: values.jsonKeyValues(link.attributes, 0) }];
    }),
    status: statusFrom(
      integer(status.code, "status.code"),
      values.text(string(status.message, "status.message")),
    ),
    ...origin,
    ...values.limited(),
  };
}

/** Decodes log records one a step. */
function* logSteps(
  body: Uint8Array | string,
  encoding: Encoding,
  options: DecodeOptions,
): Generator<void, Decoded<LogRecord>, void> {
  const result: Decoded<LogRecord> = { accepted: [], rejected: 0, errors: [] };
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  if (encoding === "protobuf") {
    for (const { origin, bytes, counts } of binaryItems(body, LOG_RULES, "log records", limits, options)) {
      const raw = parse(() => fromBinary(pb.LogRecordSchema, bytes, BINARY));
      const values = new Values(limits, counts);
      const severityText = values.text(raw.severityText);
      result.accepted.push({
        traceId: binaryId(raw.traceId, 16),
        spanId: binaryId(raw.spanId, 8),
        timeUnixNano: raw.timeUnixNano || raw.observedTimeUnixNano,
        ...(severityText ? { severityText } : {}),
        body: values.fromAnyValue(raw.body, 0),
        attributes: values.fromKeyValues(raw.attributes, 0),
        service: origin.service,
        scope: origin.scope,
        ...values.limited(),
      });
      yield;
    }
    return result;
  }
  const path = ["resourceLogs", "scopeLogs", "logRecords", "logRecord"] as const;
  for (const [log, { service, scope }] of jsonItems(jsonObject(body, options), path, limits, options)) {
    const values = new Values(limits);
    const time = nanos(log.timeUnixNano, "logRecord.timeUnixNano");
    const severityText = values.text(string(log.severityText, "logRecord.severityText"));
    result.accepted.push({
      traceId: jsonId(log.traceId, 16, "logRecord.traceId"),
      spanId: jsonId(log.spanId, 8, "logRecord.spanId"),
      timeUnixNano: time || nanos(log.observedTimeUnixNano, "logRecord.observedTimeUnixNano"),
      ...(severityText ? { severityText } : {}),
      body: values.jsonAnyValue(log.body, 0),
      attributes: values.jsonKeyValues(log.attributes, 0),
      service,
      scope,
      ...values.limited(),
    });
    yield;
  }
  return result;
}

/**
 * Decodes an `ExportMetricsServiceRequest`: its gauges, sums and histograms with their points. Exponential
 * histograms and summaries, which Deno does not send, are rejected (counted as rejected data points), as
 * are histograms whose bucket counts do not match their bounds. A request of more than `maxItems` metrics or
 * data points is refused whole. @throws {OtlpDecodeError} when the body is not one.
 */
export function decodeMetrics(
  body: Uint8Array | string,
  encoding: Encoding,
  options: DecodeOptions = {},
): Decoded<Metric> {
  return guarded(() => {
    const result: Decoded<Metric> = { accepted: [], rejected: 0, errors: [] };
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    const maxItems = options.maxItems ?? DEFAULT_MAX_ITEMS;
    if (encoding === "protobuf") {
      countItems(binary(body), maxItems, "data points", DATA_POINTS_PATH);
      for (const { origin, bytes, counts } of binaryItems(body, METRIC_RULES, "metrics", limits, options)) {
        const raw = parse(() => fromBinary(pb.MetricSchema, bytes, BINARY));
        keepMetric(result, binaryMetric(raw, origin, new Values(limits, counts)));
      }
      return result;
    }
    const path = ["resourceMetrics", "scopeMetrics", "metrics", "metric"] as const;
    let points = 0;
    for (const [raw, origin] of jsonItems(jsonObject(body, options), path, limits, options)) {
      const metric = jsonMetric(raw, origin, new Values(limits));
      points += "points" in metric ? metric.points.length : metric.rejected;
      if (points > maxItems) throw tooMany(maxItems, "data points");
      keepMetric(result, metric);
    }
    return result;
  });
}

/** A decoded metric, or what was wrong with it and how many of its data points that rejects. */
type MetricOrRejected = Metric | { rejected: number; error: string };

function keepMetric(result: Decoded<Metric>, metric: MetricOrRejected): void {
  if ("points" in metric) {
    result.accepted.push(metric);
    return;
  }
  result.rejected += metric.rejected;
  if (result.errors.length < 3) result.errors.push(metric.error);
}

// Where the data points of a metrics request sit: resource_metrics (1) > scope_metrics (2) > metrics (2) >
// gauge (5), sum (7), histogram (9), exponential_histogram (10) or summary (11) > data_points (1).
const DATA_POINTS_PATH = [[1], [2], [2], [5, 7, 9, 10, 11], [1]];

const TEMPORALITIES = ["unspecified", "delta", "cumulative"] as const;

// OTLP's DataPointFlags: FLAG_NO_RECORDED_VALUE marks a point that stands for no value (a stale series).
const NO_RECORDED_VALUE = 1;

function binaryMetric(raw: pb.Metric, origin: Origin, values: Values): MetricOrRejected {
  const { data } = raw;
  const { service, resource, scope } = origin;
  const base = {
    name: values.text(raw.name),
    description: values.text(raw.description),
    unit: values.text(raw.unit),
    service,
    resource,
    scope,
  };
  const number = (point: pb.NumberDataPoint): MetricPoint => ({
    attributes: values.fromKeyValues(point.attributes, 0),
    startTimeUnixNano: point.startTimeUnixNano,
    timeUnixNano: point.timeUnixNano,
    value: point.value.case === "asInt" ? Number(point.value.value) : point.value.value ?? 0,
  });
  switch (data.case) {
    case "gauge":
    case "sum": {
      const sum = data.case === "sum" ? data.value : undefined;
      return {
        ...base,
        kind: data.case,
        temporality: TEMPORALITIES[sum?.aggregationTemporality ?? 0] ?? "unspecified",
        monotonic: sum?.isMonotonic ?? false,
        points: data.value.dataPoints.filter((point) => !(point.flags & NO_RECORDED_VALUE)).map(number),
      };
    }
    case "histogram": {
      const kept = data.value.dataPoints.filter((point) => !(point.flags & NO_RECORDED_VALUE));
      const points = kept.map((point) => ({
        attributes: values.fromKeyValues(point.attributes, 0),
        startTimeUnixNano: point.startTimeUnixNano,
        timeUnixNano: point.timeUnixNano,
        count: Number(point.count),
        ...(point.sum === undefined ? {} : { sum: point.sum }),
        ...(point.min === undefined ? {} : { min: point.min }),
        ...(point.max === undefined ? {} : { max: point.max }),
        bucketCounts: point.bucketCounts.map(Number),
        explicitBounds: point.explicitBounds,
      }));
      return histogramOf(base, TEMPORALITIES[data.value.aggregationTemporality] ?? "unspecified", points);
    }
    default:
      return unsupported(raw.name, data.case);
  }
}

/** A histogram, or its rejection when a point's buckets do not match its bounds. */
function histogramOf(
  base: Omit<Metric, "kind" | "temporality" | "monotonic" | "points">,
  temporality: MetricTemporality,
  points: MetricPoint[],
): MetricOrRejected {
  const bad = points.find((point) =>
    point.bucketCounts!.length !== 0 && point.bucketCounts!.length !== point.explicitBounds!.length + 1
  );
  if (bad !== undefined) {
    return {
      rejected: points.length,
      error: `histogram ${JSON.stringify(base.name)} has ${bad.bucketCounts!.length} bucket counts for ` +
        `${bad.explicitBounds!.length} bounds (there must be one more count than bounds)`,
    };
  }
  return { ...base, kind: "histogram", temporality, monotonic: false, points };
}

function unsupported(name: string, kind: string | undefined): MetricOrRejected {
  return {
    rejected: 1,
    error: kind === undefined
      ? `metric ${JSON.stringify(name)} holds no data`
      : `metric ${JSON.stringify(name)} is a${
        kind === "exponentialHistogram" ? "n exponential histogram" : " summary"
      }` +
        ", which this receiver does not read",
  };
}

function jsonMetric(raw: JsonObject, origin: Origin, values: Values): MetricOrRejected {
  const name = values.text(string(raw.name, "metric.name"));
  const { service, resource, scope } = origin;
  const base = {
    name,
    description: values.text(string(raw.description, "metric.description")),
    unit: values.text(string(raw.unit, "metric.unit")),
    service,
    resource,
    scope,
  };
  for (const kind of ["gauge", "sum"] as const) {
    if (raw[kind] === undefined || raw[kind] === null) continue;
    const data = object(raw[kind], `metric.${kind}`);
    return {
      ...base,
      kind,
      temporality: jsonTemporality(data.aggregationTemporality),
      monotonic: data.isMonotonic === undefined || data.isMonotonic === null
        ? false
        : boolean(data.isMonotonic, "sum.isMonotonic"),
      points: jsonPoints(
        data,
        (point) => ({ ...jsonPointBase(point, values), value: jsonNumberValue(point) }),
      ),
    };
  }
  if (raw.histogram !== undefined && raw.histogram !== null) {
    const data = object(raw.histogram, "metric.histogram");
    const points = jsonPoints(data, (point) => ({
      ...jsonPointBase(point, values),
      count: Number(int64(point.count, "dataPoint.count")),
      ...optionalDoubles(point, ["sum", "min", "max"]),
      bucketCounts: array(point.bucketCounts, "dataPoint.bucketCounts")
        .map((count) => Number(int64(count, "dataPoint.bucketCounts"))),
      explicitBounds: array(point.explicitBounds, "dataPoint.explicitBounds")
        .map((bound) => double(bound, "dataPoint.explicitBounds")),
    }));
    return histogramOf(base, jsonTemporality(data.aggregationTemporality), points);
  }
  const other = ["exponentialHistogram", "summary"].find((kind) =>
    raw[kind] !== undefined && raw[kind] !== null
  );
  return unsupported(name, other);
}

function jsonPoints(data: JsonObject, read: (point: JsonObject) => MetricPoint): MetricPoint[] {
  return array(data.dataPoints, "dataPoints")
    .map((raw) => object(raw, "dataPoint"))
    .filter((point) => !(integer(point.flags, "dataPoint.flags") & NO_RECORDED_VALUE))
    .map(read);
}

function jsonPointBase(
  point: JsonObject,
  values: Values,
): Pick<MetricPoint, "attributes" | "startTimeUnixNano" | "timeUnixNano"> {
  return {
    attributes: values.jsonKeyValues(point.attributes, 0),
    startTimeUnixNano: nanos(point.startTimeUnixNano, "dataPoint.startTimeUnixNano"),
    timeUnixNano: nanos(point.timeUnixNano, "dataPoint.timeUnixNano"),
  };
}

function jsonNumberValue(point: JsonObject): number {
  if (point.asInt !== undefined && point.asInt !== null) return Number(int64(point.asInt, "dataPoint.asInt"));
  if (point.asDouble !== undefined && point.asDouble !== null) {
    return double(point.asDouble, "dataPoint.asDouble");
  }
  return 0;
}

function optionalDoubles(
  point: JsonObject,
  fields: readonly ("sum" | "min" | "max")[],
): Partial<MetricPoint> {
  const result: Partial<MetricPoint> = {};
  for (const field of fields) {
    if (point[field] !== undefined && point[field] !== null) {
      result[field] = double(point[field], `dataPoint.${field}`);
    }
  }
  return result;
}

function jsonTemporality(value: unknown): MetricTemporality {
  return TEMPORALITIES[integer(value, "aggregationTemporality")] ?? "unspecified";
}

function boolean(value: unknown, field: string): boolean {
  if (typeof value !== "boolean") throw wrongType(field, "a boolean", value);
  return value;
}

/** Encodes an empty export response (full success) in the request's encoding. */
export function encodeSuccess(encoding: Encoding): Uint8Array | string {
  return encoding === "json" ? "{}" : new Uint8Array();
}

/** Encodes an export response that reports a partial success, in the request's encoding. */
export function encodePartialSuccess(
  signal: "traces" | "logs" | "metrics",
  encoding: Encoding,
  rejected: number,
  errorMessage: string,
): Uint8Array | string {
  if (encoding === "json") {
    const field =
      { traces: "rejectedSpans", logs: "rejectedLogRecords", metrics: "rejectedDataPoints" }[signal];
    return JSON.stringify({ partialSuccess: { [field]: rejected, errorMessage } });
  }
  if (signal === "metrics") {
    return toBinary(
      pb.ExportMetricsServiceResponseSchema,
      create(pb.ExportMetricsServiceResponseSchema, {
        partialSuccess: { rejectedDataPoints: BigInt(rejected), errorMessage },
      }),
    );
  }
  return signal === "traces"
    ? toBinary(
      pb.ExportTraceServiceResponseSchema,
      create(pb.ExportTraceServiceResponseSchema, {
        partialSuccess: { rejectedSpans: BigInt(rejected), errorMessage },
      }),
    )
    : toBinary(
      pb.ExportLogsServiceResponseSchema,
      create(pb.ExportLogsServiceResponseSchema, {
        partialSuccess: { rejectedLogRecords: BigInt(rejected), errorMessage },
      }),
    );
}

// Unknown fields (those otlp.proto leaves out) are skipped, not kept.
const BINARY = { readUnknownFields: false };

/** Runs a decoder so that whatever goes wrong in it is an `OtlpDecodeError`, never an uncaught error. */
function guarded<T>(decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof OtlpDecodeError) throw error;
    throw new OtlpDecodeError(`the body could not be decoded: ${(error as Error)?.message ?? error}`);
  }
}

function parse<T>(decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof OtlpDecodeError) throw error;
    if (error instanceof TooDeepError) throw tooDeep();
    throw new OtlpDecodeError(`the body is not a valid protobuf message: ${(error as Error).message}`);
  }
}

function binary(body: Uint8Array | string): Uint8Array {
  return typeof body === "string" ? new TextEncoder().encode(body) : body;
}

function tooMany(max: number, what: string): OtlpDecodeError {
  return new OtlpDecodeError(`the request holds more than ${max} ${what}: send smaller batches`, 413);
}

/**
 * Counts the items (spans, log records, metrics) of an export request without decoding it: they sit at the
 * same place in all three, field 1 (resource_*) > field 2 (scope_*) > field 2; `path` names other places
 * (a metric's data points), a list of field numbers per level. Throws past `max`, so that a body of millions
 * of tiny items is refused before millions of objects are made for it.
 */
function countItems(bytes: Uint8Array, max: number, what: string, path: number[][] = [[1], [2], [2]]): void {
  let count = 0;
  const each = (buffer: Uint8Array, level: number) => {
    if (level === path.length) {
      if (++count > max) throw tooMany(max, what);
      return;
    }
    const reader = new BinaryReader(buffer);
    while (reader.pos < reader.len) {
      const [number, type] = reader.tag();
      if (path[level].includes(number) && type === WireType.LengthDelimited) each(reader.bytes(), level + 1);
      else reader.skip(type, number);
    }
  };
  parse(() => each(bytes, 0));
}

/** One item of a protobuf request, trimmed to the limits, with what it came from. */
interface BinaryItem {
  origin: Origin;
  bytes: Uint8Array;
  counts: WireCounts;
}

/**
 * The items of a protobuf export request (resources, field 1 > scopes, field 2 > items, field 2, the same in
 * traces, logs and metrics), each trimmed to `limits` on the wire before it is decoded. Refuses past
 * `maxItems` items (counted on the wire first, before anything is decoded) or `maxValues` values, so that a
 * body of millions of tiny items or events is refused, or trimmed, before millions of objects are made.
 */
function* binaryItems(
  body: Uint8Array | string,
  rules: typeof SPAN_RULES,
  what: string,
  limits: DecodeLimits,
  { maxItems = DEFAULT_MAX_ITEMS, maxValues = DEFAULT_MAX_VALUES }: DecodeOptions,
): Generator<BinaryItem, void, void> {
  const bytes = binary(body);
  countItems(bytes, maxItems, what);
  const wireLimits = { ...limits, depth: MAX_VALUE_DEPTH };
  let values = 0;
  const count = (counts: WireCounts) => {
    values += counts.kept;
    if (values > maxValues) throw tooManyValues(maxValues);
  };
  for (const resourceItems of fields(bytes, 1)) {
    const resourceCounts = wireCounts();
    const resourceBytes = parse(() =>
      trim(lastField(resourceItems, 1) ?? new Uint8Array(), RESOURCE_RULES, wireLimits, resourceCounts)
    );
    count(resourceCounts);
    const resource = new Values(limits).fromKeyValues(
      parse(() => fromBinary(pb.ResourceSchema, resourceBytes, BINARY)).attributes,
      0,
    );
    const service = serviceOf(resource);
    for (const scopeItems of fields(resourceItems, 2)) {
      const raw = parse(() =>
        fromBinary(pb.InstrumentationScopeSchema, lastField(scopeItems, 1) ?? new Uint8Array(), BINARY)
      );
      const names = new Values(limits);
      const origin = { service, resource, scope: scopeFrom(names.text(raw.name), names.text(raw.version)) };
      for (const item of fields(scopeItems, 2)) {
        const counts = wireCounts();
        counts.kept++;
        const trimmed = parse(() => trim(item, rules, wireLimits, counts));
        count(counts);
        yield { origin, bytes: trimmed, counts };
      }
    }
  }
}

/** The payloads of the length-delimited fields `field` of a protobuf message. */
function* fields(bytes: Uint8Array, field: number): Generator<Uint8Array, void, void> {
  const found: Uint8Array[] = [];
  parse(() => eachField(bytes, field, (payload) => void found.push(payload)));
  yield* found;
}

function serviceOf(resource: Attributes): string {
  const name = resource["service.name"];
  return typeof name === "string" ? name : "unknown";
}

function scopeFrom(name: string, version: string): Scope {
  return { name, ...(version ? { version } : {}) };
}

function statusFrom(code: number, message: string): Span["status"] {
  return {
    code: (["UNSET", "OK", "ERROR"] as const)[code] ?? "UNSET",
    ...(message ? { message } : {}),
  };
}

/** An id from protobuf bytes, as hex; `undefined` when absent, of the wrong length or all zeros. */
function binaryId(bytes: Uint8Array, length: number): string | undefined {
  if (bytes.length !== length || bytes.every((byte) => byte === 0)) return undefined;
  return bytes.toHex();
}

/** `attributes[key] = value`, also for the key `__proto__`, which an assignment would take as the prototype. */
function set(attributes: Attributes, key: string, value: AttributeValue): void {
  Object.defineProperty(attributes, key, { value, enumerable: true, writable: true, configurable: true });
}

function tooDeep(): OtlpDecodeError {
  return new OtlpDecodeError(`an attribute value is nested deeper than ${MAX_VALUE_DEPTH} levels`);
}

// OTLP/JSON, read by hand. Absent fields and `null` take the protobuf default; a field of another type
// than OTLP/JSON gives it is an error that names the field.

type JsonObject = Record<string, unknown>;

function jsonObject(
  body: Uint8Array | string,
  { maxValues = DEFAULT_MAX_VALUES }: DecodeOptions,
): JsonObject {
  const text = typeof body === "string" ? body : new TextDecoder().decode(body);
  countJsonValues(text, maxValues);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new OtlpDecodeError(`the body is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new OtlpDecodeError("the body is not a JSON object");
  }
  return value as JsonObject;
}

/**
 * Counts the objects and arrays of JSON text, outside strings, without parsing it, and throws past `max`:
 * `JSON.parse` of four MiB of `{},` makes 1.4 million objects and takes most of a second.
 */
function countJsonValues(text: string, max: number): void {
  let count = 0, inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c) i++; // a backslash: the next character is escaped
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if ((code === 0x7b || code === 0x5b) && ++count > max) throw tooManyValues(max);
  }
}

function tooManyValues(max: number): OtlpDecodeError {
  return new OtlpDecodeError(
    `the request holds more than ${max} values (events, attributes, array items): send smaller batches`,
    413,
  );
}

function wrongType(field: string, expected: string, value: unknown): OtlpDecodeError {
  const got = value === null
    ? "null"
    : Array.isArray(value)
    ? "an array"
    : `${typeof value === "object" ? "an" : "a"} ${typeof value}`;
  return new OtlpDecodeError(`${field} must be ${expected}, not ${got}`);
}

function object(value: unknown, field = "an element"): JsonObject {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw wrongType(field, "an object", value);
  return value as JsonObject;
}

function array(value: unknown, field: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw wrongType(field, "an array", value);
  return value;
}

function string(value: unknown, field: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw wrongType(field, "a string", value);
  return value;
}

function integer(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== "number" || !Number.isInteger(value)) throw wrongType(field, "an integer", value);
  return value;
}

/** An int64 of OTLP/JSON: a decimal string or a number, from -2^63 to 2^63 - 1. */
function int64(value: unknown, field: string, [min, max] = [-(2n ** 63n), 2n ** 63n - 1n]): bigint {
  let result: bigint | undefined;
  if (value === undefined || value === null) return 0n;
  if (typeof value === "number" && Number.isInteger(value)) result = BigInt(value);
  if (typeof value === "string" && /^-?\d{1,20}$/.test(value)) result = BigInt(value);
  if (result === undefined) {
    throw new OtlpDecodeError(
      `${field} must be an integer or a string of digits, not ${JSON.stringify(value)}`,
    );
  }
  if (result < min || result > max) {
    throw new OtlpDecodeError(`${field} is out of range (${min} to ${max}): ${JSON.stringify(value)}`);
  }
  return result;
}

/** A double of OTLP/JSON: a number, or `"NaN"`, `"Infinity"` or `"-Infinity"`. */
function double(value: unknown, field: string): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && ["NaN", "Infinity", "-Infinity"].includes(value)) return Number(value);
  throw wrongType(field, "a number", value);
}

/** A fixed64 time of OTLP/JSON: up to 2^64 - 1 (negative ones, which some senders write, count as 0). */
function nanos(value: unknown, field: string): bigint {
  const result = int64(value, field, [-(2n ** 63n), 2n ** 64n - 1n]);
  return result < 0n ? 0n : result;
}

/** An id from OTLP/JSON (hex, not base64); `undefined` when absent, malformed or all zeros. */
function jsonId(value: unknown, bytes: number, field: string): string | undefined {
  const hex = string(value, field).toLowerCase();
  if (hex.length !== bytes * 2 || !/^[0-9a-f]+$/.test(hex) || /^0+$/.test(hex)) return undefined;
  return hex;
}

/** Where an item of a request came from: its resource, its service, its scope. */
export interface Origin {
  /** The resource's `service.name` (`unknown` without one). */
  service: string;
  /** The resource's attributes. */
  resource: Attributes;
  /** The instrumentation scope. */
  scope: Scope;
}

/**
 * The items (spans, log records, metrics) of an OTLP/JSON export request, found at
 * `resources[].scopes[].items[]`, with the service, resource and scope each came from. Throws past `maxItems`.
 */
function* jsonItems(
  request: JsonObject,
  [resources, scopes, items, item]: readonly [string, string, string, string],
  limits: DecodeLimits,
  { maxItems = DEFAULT_MAX_ITEMS }: DecodeOptions,
): Generator<[JsonObject, Origin], void, void> {
  let count = 0;
  for (const rawResource of array(request[resources], resources)) {
    const resourceItems = object(rawResource, resources);
    const resource = new Values(limits).jsonKeyValues(
      object(resourceItems.resource, "resource").attributes,
      0,
    );
    const service = serviceOf(resource);
    for (const rawScope of array(resourceItems[scopes], scopes)) {
      const scopeItems = object(rawScope, scopes);
      const scope = jsonScope(scopeItems.scope, new Values(limits));
      for (const raw of array(scopeItems[items], items)) {
        if (++count > maxItems) throw tooMany(maxItems, `${item.replace(/R/, " r")}s`);
        yield [object(raw, item), { service, resource, scope }];
      }
    }
  }
}

function jsonScope(value: unknown, values: Values): Scope {
  const scope = object(value, "scope");
  return scopeFrom(
    values.text(string(scope.name, "scope.name")),
    values.text(string(scope.version, "scope.version")),
  );
}

/**
 * Attribute values of one record, made plain and held to the limits, counting what the limits took: int64
 * beyond 2^53 stays exact as a decimal string, NaN and the infinities become the strings `"NaN"`,
 * `"Infinity"` and `"-Infinity"` (JSON has no such numbers), bytes become base64.
 */
class Values {
  #limits: DecodeLimits;
  #attributes: number;
  #events: number;
  #links: number;
  #arrayItems: number;
  #strings = 0;

  constructor(limits: DecodeLimits, wire: WireCounts = wireCounts()) {
    this.#limits = limits;
    this.#attributes = wire.attributes;
    this.#events = wire.events;
    this.#links = wire.links;
    this.#arrayItems = wire.arrayItems;
  }

  /** What the limits took, as the fields of {@linkcode Limited} that are not zero. */
  limited(): Limited {
    const result: Limited = {};
    if (this.#attributes) result.droppedAttributesCount = this.#attributes;
    if (this.#events) result.droppedEventsCount = this.#events;
    if (this.#links) result.droppedLinksCount = this.#links;
    if (this.#arrayItems) result.droppedArrayItemsCount = this.#arrayItems;
    if (this.#strings) result.truncatedStringsCount = this.#strings;
    return result;
  }

  /** `value`, cut to the longest string kept, as a string of its own (a slice would keep the whole). */
  text(value: string): string {
    if (value.length <= this.#limits.stringLength) return value;
    this.#strings++;
    let cut = value.slice(0, this.#limits.stringLength);
    if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
    return COPY_DECODER.decode(COPY_ENCODER.encode(cut));
  }

  /** The first items of `items` that a cap keeps, counting the rest. */
  capped<T>(items: T[], kind: "attributes" | "events" | "links" | "arrayItems"): T[] {
    const max = this.#limits[kind];
    if (items.length <= max) return items;
    const dropped = items.length - max;
    if (kind === "attributes") this.#attributes += dropped;
    else if (kind === "events") this.#events += dropped;
    else if (kind === "links") this.#links += dropped;
    else this.#arrayItems += dropped;
    return items.slice(0, max);
  }

  fromKeyValues(pairs: pb.KeyValue[], depth: number): Attributes {
    const result: Attributes = {};
    for (const pair of pairs) set(result, this.text(pair.key), this.fromAnyValue(pair.value, depth));
    return result;
  }

  fromAnyValue(raw: pb.AnyValue | undefined, depth: number): AttributeValue {
    if (depth > MAX_VALUE_DEPTH) throw tooDeep();
    const value = raw?.value;
    switch (value?.case) {
      case "stringValue":
        return this.text(value.value);
      case "boolValue":
        return value.value;
      case "doubleValue":
        return plainDouble(value.value);
      case "intValue":
        return plainInt(value.value);
      case "bytesValue":
        return this.text(value.value.toBase64());
      case "arrayValue":
        return value.value.values.map((item) => this.fromAnyValue(item, depth + 1));
      case "kvlistValue":
        return this.fromKeyValues(value.value.values, depth + 1);
      default:
        return null;
    }
  }

  jsonKeyValues(value: unknown, depth: number): Attributes {
    const result: Attributes = {};
    for (const raw of this.capped(array(value, "attributes"), "attributes")) {
      const pair = object(raw, "attribute");
      set(result, this.text(string(pair.key, "attribute.key")), this.jsonAnyValue(pair.value, depth));
    }
    return result;
  }

  jsonAnyValue(raw: unknown, depth: number): AttributeValue {
    if (depth > MAX_VALUE_DEPTH) throw tooDeep();
    const value = object(raw, "value");
    if ("stringValue" in value) return this.text(string(value.stringValue, "stringValue"));
    if ("boolValue" in value) {
      if (typeof value.boolValue !== "boolean") throw wrongType("boolValue", "a boolean", value.boolValue);
      return value.boolValue;
    }
    if ("intValue" in value) return plainInt(int64(value.intValue, "intValue"));
    if ("doubleValue" in value) {
      const double = value.doubleValue;
      if (typeof double === "number") return plainDouble(double);
      if (typeof double === "string" && ["NaN", "Infinity", "-Infinity"].includes(double)) return double;
      throw wrongType("doubleValue", "a number", double);
    }
    if ("arrayValue" in value) {
      const items = array(object(value.arrayValue, "arrayValue").values, "arrayValue.values");
      return this.capped(items, "arrayItems").map((item) => this.jsonAnyValue(item, depth + 1));
    }
    if ("kvlistValue" in value) {
      return this.jsonKeyValues(object(value.kvlistValue, "kvlistValue").values, depth + 1);
    }
    if ("bytesValue" in value) {
      const base64 = string(value.bytesValue, "bytesValue");
      try {
        Uint8Array.fromBase64(base64);
      } catch {
        throw new OtlpDecodeError("bytesValue must be base64");
      }
      return this.text(base64);
    }
    return null;
  }
}

const COPY_ENCODER = new TextEncoder();
const COPY_DECODER = new TextDecoder();

/** A double as JSON can carry it: NaN and the infinities as their names. */
function plainDouble(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

/** An int64 as a number when that is exact, else as its decimal string. */
function plainInt(value: bigint): number | string {
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : String(value);
}

/**
 * The spans of a protobuf request, scanned rather than decoded (see {@linkcode scanTraces}): for each, its
 * index in a header of {@linkcode SCANNED_HEADER_BYTES} bytes (span id, parent id, times, kind, status,
 * flags, its origin's index in `origins`), its trace id, its bytes without the trace id (decoded on demand
 * with {@linkcode decodeStoredSpan}), and its links. Spans that the scan does not read exactly (past a
 * cap, malformed ids, repeated fields) are decoded here the usual way and given in `decoded` instead, by
 * their place among the others.
 */
export interface ScannedSpans {
  /** How many spans were scanned (not counting `decoded`). */
  count: number;
  /** The headers, {@linkcode SCANNED_HEADER_BYTES} each. */
  headers: Uint8Array;
  /** The trace id of each span, as lower-case hex (equal ids share a string). */
  traceIds: string[];
  /** The request's bytes, where the spans' bytes are (see `pieces`). */
  body: Uint8Array;
  /**
   * Each span's bytes without its trace id field, as three offsets into `body`: the span's start, the
   * trace id field's start, the span's end. Its bytes are `start..tag` and `tag + 18..end`.
   */
  pieces: Int32Array;
  /** The origins (resource, scope) the headers point to. */
  origins: Origin[];
  /** The valid links of each span that has any, by its index. */
  links: Map<number, { traceId: string; spanId: string }[]>;
  /** Spans decoded the usual way, each with the number of scanned spans that came before it. */
  decoded: [number, Span][];
  /** How many spans were rejected (no valid trace or span id). */
  rejected: number;
  /** Why, for the partial-success message. */
  errors: string[];
}

/** The size of a header of {@linkcode ScannedSpans}. */
export const SCANNED_HEADER_BYTES: number = HEADER;

/** Offsets in a header of {@linkcode ScannedSpans} (the store keeps them as they are). */
export const SCANNED_HEADER: Readonly<Record<keyof typeof H, number>> = H;

/**
 * Reads an `ExportTraceServiceRequest` in protobuf for a store that keeps spans as their bytes: the same
 * checks and limits as {@linkcode decodeTraces} (`maxItems`, `maxValues`, the caps of `limits`, the depth
 * of values), but a span within its caps is scanned, not decoded, at a fraction of the cost. Lets the event
 * loop run every `sliceMs` (spans past their caps are decoded here, and a request of them takes long).
 *
 * @throws {OtlpDecodeError} when the body is not a valid request.
 */
export async function scanTraces(
  body: Uint8Array,
  { sliceMs = 10, ...options }: SliceOptions = {},
): Promise<ScannedSpans> {
  const steps = scanSteps(body, options);
  let started = performance.now();
  while (true) {
    const step = guarded(() => steps.next());
    if (step.done) return step.value;
    if (performance.now() - started >= sliceMs) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      started = performance.now();
    }
  }
}

/** Where the spans of a request are, with the index of their origin, and the origins. */
function spansOf(body: Uint8Array, limits: DecodeLimits, options: DecodeOptions) {
  const { maxItems = DEFAULT_MAX_ITEMS } = options;
  const wireLimits = { ...limits, depth: MAX_VALUE_DEPTH };
  const origins: Origin[] = [];
  let count = 0; // spans, each as start, stop, origin in `scratch`
  let values = 0;
  const resources: [number, number][] = [];
  parse(() => eachFieldAt(body, 0, body.length, 1, (a, b) => void resources.push([a, b])));
  for (const [a, b] of resources) {
    const resourceField = lastOf(body, a, b);
    const { value: resource, kept } = lastDecoded(RESOURCES, resourceField, limits, () => {
      const resourceCounts = wireCounts();
      const resourceBytes = parse(() => trim(resourceField, RESOURCE_RULES, wireLimits, resourceCounts));
      const value = new Values(limits).fromKeyValues(
        parse(() => fromBinary(pb.ResourceSchema, resourceBytes, BINARY)).attributes,
        0,
      );
      return { value, kept: resourceCounts.kept };
    });
    values += kept;
    const service = serviceOf(resource);
    const scopes: [number, number][] = [];
    parse(() => eachFieldAt(body, a, b, 2, (c, d) => void scopes.push([c, d])));
    for (const [c, d] of scopes) {
      const scopeField = lastOf(body, c, d);
      const { value: scope } = lastDecoded(SCOPES, scopeField, limits, () => {
        const raw = parse(() => fromBinary(pb.InstrumentationScopeSchema, scopeField, BINARY));
        const names = new Values(limits);
        return { value: scopeFrom(names.text(raw.name), names.text(raw.version)), kept: 0 };
      });
      origins.push({ service, resource, scope });
      parse(() =>
        eachFieldAt(body, c, d, 2, (start, stop) => {
          if (count >= maxItems) throw tooMany(maxItems, "spans");
          if (3 * count === scratch.length) scratch = grownInts(scratch);
          scratch[3 * count] = start;
          scratch[3 * count + 1] = stop;
          scratch[3 * count++ + 2] = origins.length - 1;
        })
      );
    }
  }
  return { origins, spans: scratch.slice(0, 3 * count), values };
}

/**
 * Where {@linkcode spansOf} lists the spans it finds before it knows how many there are: one array for all
 * requests (it is copied out whole), not a list grown by each.
 */
let scratch: Int32Array = new Int32Array(3 * 1024);

function grownInts(ints: Int32Array): Int32Array {
  const larger = new Int32Array(ints.length * 2);
  larger.set(ints);
  return larger;
}

/** The payload of field 1 (a resource, a scope) of the message at `from..to` of `body`; empty when none. */
function lastOf(body: Uint8Array, from: number, to: number): Uint8Array {
  return parse(() => lastFieldAt(body, from, to, 1)) ? body.subarray(fieldAt.start, fieldAt.stop) : EMPTY;
}

const EMPTY = new Uint8Array();

/** The last resource or scope decoded, by its bytes and the limits it was decoded with. */
interface LastDecoded<T> {
  bytes?: Uint8Array;
  limits?: DecodeLimits;
  decoded?: { value: T; kept: number };
}

const RESOURCES: LastDecoded<Attributes> = {};
const SCOPES: LastDecoded<Scope> = {};

/**
 * What `decode` makes of `bytes`, or what it made of the same bytes last time: a sender repeats its
 * resource and scope in every request, and the store shares equal ones anyway. The value is shared, so it
 * must not be changed.
 */
function lastDecoded<T>(
  last: LastDecoded<T>,
  bytes: Uint8Array,
  limits: DecodeLimits,
  decode: () => { value: T; kept: number },
): { value: T; kept: number } {
  if (
    last.decoded !== undefined && sameLimits(last.limits!, limits) && equalBytes(last.bytes!, bytes)
  ) {
    return last.decoded;
  }
  last.decoded = decode();
  last.bytes = bytes.slice();
  last.limits = limits;
  return last.decoded;
}

function sameLimits(a: DecodeLimits, b: DecodeLimits): boolean {
  return a.attributes === b.attributes && a.events === b.events && a.links === b.links &&
    a.arrayItems === b.arrayItems && a.stringLength === b.stringLength;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Scans spans one a step. */
function* scanSteps(body: Uint8Array, options: DecodeOptions): Generator<void, ScannedSpans, void> {
  const { maxValues = DEFAULT_MAX_VALUES } = options;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const wireLimits = { ...limits, depth: MAX_VALUE_DEPTH };
  // Counted on the wire first, before anything of them is decoded.
  const { origins, spans, values: resourceValues } = spansOf(body, limits, options);
  const items = spans.length / 3;
  const out: ScannedSpans = {
    count: 0,
    headers: new Uint8Array(items * HEADER),
    traceIds: [],
    body,
    pieces: new Int32Array(items * 3),
    origins,
    links: new Map(),
    decoded: [],
    rejected: 0,
    errors: [],
  };
  let values = resourceValues;
  const count = (kept: number) => {
    values += kept;
    if (values > maxValues) throw tooManyValues(maxValues);
  };
  count(0);
  const state = scanState(out);
  for (let i = 0; i < spans.length; i += 3) {
    const start = spans[i], stop = spans[i + 1], origin = spans[i + 2];
    const counts = state.counts;
    counts.kept = 1;
    let scanned;
    try {
      scanned = withinCaps(body, start, stop, SPAN_RULES, wireLimits, counts) &&
        scanOne(body, start, stop, origin, out, state);
    } catch (error) {
      parse(() => {
        throw error;
      });
    }
    if (scanned) {
      count(counts.kept);
      // A step is 64 spans scanned, or one decoded.
      if (out.count % 64 === 0) yield;
      continue;
    }
    const slow = wireCounts();
    slow.kept++;
    const trimmed = parse(() => trim(body.subarray(start, stop), SPAN_RULES, wireLimits, slow));
    count(slow.kept);
    const span = binarySpan(
      parse(() => fromBinary(pb.SpanSchema, trimmed, BINARY)),
      origins[origin],
      limits,
      slow,
    );
    if (typeof span !== "string") out.decoded.push([out.count, span]);
    else {
      out.rejected++;
      if (out.errors.length < 3) {
        out.errors.push(`a span without a valid trace or span id (${JSON.stringify(span.slice(0, 100))})`);
      }
    }
    yield;
  }
  return out;
}

/** Scans one span into `out`; false when it must be decoded the usual way. */
function scanOne(
  body: Uint8Array,
  start: number,
  stop: number,
  origin: number,
  out: ScannedSpans,
  state: ScanState,
): boolean {
  const index = out.count;
  state.links.length = 0;
  if (scanSpan(body, start, stop, out.headers, index * HEADER, state.link) === "slow") return false;
  const { tag, start: id } = traceIdAt;
  // Spans of one trace mostly come one after another: their trace id is made into text once.
  out.traceIds.push(
    state.lastId >= 0 && sameBytes(body, id, state.lastId, 16)
      ? out.traceIds[index - 1]
      : body.subarray(id, id + 16).toHex(),
  );
  state.lastId = id;
  out.pieces[index * 3] = start;
  out.pieces[index * 3 + 1] = tag;
  out.pieces[index * 3 + 2] = stop;
  state.view.setUint32(index * HEADER + H.origin, origin, true);
  if (state.links.length > 0) out.links.set(index, state.links.splice(0));
  out.count++;
  return true;
}

/** What scanning one request keeps from span to span. */
interface ScanState {
  lastId: number;
  /** The counts of the span being checked: one object for the request (only `kept` changes). */
  counts: WireCounts;
  view: DataView;
  links: { traceId: string; spanId: string }[];
  link: (bytes: Uint8Array, traceId: number, spanId: number) => void;
}

function scanState(out: ScannedSpans): ScanState {
  const links: ScanState["links"] = [];
  return {
    lastId: -1,
    counts: wireCounts(),
    view: new DataView(out.headers.buffer),
    links,
    link: (bytes, traceId, spanId) =>
      void links.push({
        traceId: bytes.subarray(traceId, traceId + 16).toHex(),
        spanId: bytes.subarray(spanId, spanId + 8).toHex(),
      }),
  };
}

function sameBytes(bytes: Uint8Array, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (bytes[a + i] !== bytes[b + i]) return false;
  return true;
}

/**
 * Decodes a span the store kept as bytes (from {@linkcode ScannedSpans}), with its trace id and origin, as
 * {@linkcode decodeTraces} would have: the same limits, the same plain values.
 */
export function decodeStoredSpan(
  bytes: Uint8Array,
  traceId: string,
  origin: Origin,
  limits: Partial<DecodeLimits> = {},
): Span {
  const span = binarySpan(
    fromBinary(pb.SpanSchema, bytes, BINARY),
    origin,
    { ...DEFAULT_LIMITS, ...limits },
    wireCounts(),
    traceId,
  );
  if (typeof span === "string") throw new Error("a stored span has no valid span id");
  return span;
}

/** The name of a span the store kept as bytes, read without decoding the rest (field 5; the last wins). */
export function storedSpanName(bytes: Uint8Array, limits: Partial<DecodeLimits> = {}): string {
  let name: Uint8Array | undefined;
  eachFieldAt(bytes, 0, bytes.length, 5, (start, stop) => name = bytes.subarray(start, stop));
  return new Values({ ...DEFAULT_LIMITS, ...limits }).text(
    name === undefined ? "" : NAME_DECODER.decode(name),
  );
}

// As @bufbuild/protobuf decodes a string field: a byte-order mark kept, bad bytes replaced.
const NAME_DECODER = new TextDecoder("utf-8", { ignoreBOM: true });
