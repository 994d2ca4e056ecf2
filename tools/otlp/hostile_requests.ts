/**
 * Hostile OTLP requests for the tests of the receiver and the viewer: deep and wide traces, deeply nested
 * values, escape sequences where names go.
 *
 * @module
 */
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/** The trace id the spans made here share. */
export const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

/** A span id from a number: 16 hex digits, never all zeros. */
export function spanId(n: number): string {
  return (n + 1).toString(16).padStart(16, "0");
}

/** An OTLP/JSON span of trace {@linkcode TRACE_ID}, with the fields given. */
export function jsonSpan(n: number, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    traceId: TRACE_ID,
    spanId: spanId(n),
    name: `span ${n}`,
    kind: 1,
    startTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(n) * 1000n),
    endTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(n) * 1000n + 500n),
    ...fields,
  };
}

/** An OTLP/JSON `ExportTraceServiceRequest` of `spans`, from one service. */
export function jsonTraces(spans: unknown[], service = "hostile"): string {
  return JSON.stringify({
    resourceSpans: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
      scopeSpans: [{ scope: { name: "test" }, spans }],
    }],
  });
}

/** `count` spans, each the child of the one before. */
export function chain(count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, n) => jsonSpan(n, n === 0 ? {} : { parentSpanId: spanId(n - 1) }));
}

/**
 * A JSON `AnyValue` of key-value lists nested `depth` deep, as JSON text: `JSON.stringify` itself cannot
 * write it when it is deep.
 */
export function nestedKvlist(depth: number): string {
  return '{"kvlistValue":{"values":[{"key":"k","value":'.repeat(depth) + '{"stringValue":"bottom"}' +
    "}]}}".repeat(depth);
}

/** Puts a span's `"deep"` attribute (an {@linkcode nestedKvlist}) in place in OTLP/JSON text. */
export function withDeepValue(json: string, value: string): string {
  return json.replace('"__deep__"', value);
}

/**
 * A protobuf `ExportTraceServiceRequest` of one span whose attribute `deep` is key-value lists nested
 * `depth` deep, written field by field: the library's own encoder, rightly, refuses such depths.
 */
export function nestedKvlistProtobuf(depth: number): Uint8Array<ArrayBuffer> {
  let value = new BinaryWriter().tag(1, LEN).string("bottom").finish(); // AnyValue.string_value
  for (let i = 0; i < depth; i++) {
    // AnyValue.kvlist_value (6) > KeyValueList.values (1) > KeyValue { key (1), value (2) }
    const pair = new BinaryWriter().tag(1, LEN).string("k").tag(2, LEN).bytes(value).finish();
    value = wrap(6, wrap(1, pair));
  }
  const attribute = new BinaryWriter().tag(1, LEN).string("deep").tag(2, LEN).bytes(value).finish();
  const span = new BinaryWriter()
    .tag(1, LEN).bytes(Uint8Array.fromHex(TRACE_ID))
    .tag(2, LEN).bytes(Uint8Array.fromHex(spanId(0)))
    .tag(5, LEN).string("deep")
    .tag(9, LEN).bytes(attribute)
    .finish();
  return wrap(1, wrap(2, wrap(2, span)));
}

/** A protobuf `ExportTraceServiceRequest` of `count` empty spans: two bytes each. */
export function emptySpansProtobuf(count: number): Uint8Array<ArrayBuffer> {
  // Span (empty) as ScopeSpans.spans (2), repeated, in ResourceSpans.scope_spans (2), in the request (1).
  const scope = new Uint8Array(count * 2);
  for (let i = 0; i < scope.length; i += 2) scope[i] = (2 << 3) | LEN;
  return wrap(1, wrap(2, scope));
}

const LEN = WireType.LengthDelimited;

/** A length-delimited protobuf field. */
function wrap(field: number, inner: Uint8Array): Uint8Array<ArrayBuffer> {
  return new BinaryWriter().tag(field, LEN).bytes(inner).finish();
}

/**
 * Text that, printed raw, would take over a terminal: OSC 0 (window title), clear screen, SGR 8 (hidden
 * text), an OSC 8 hyperlink, an 8-bit CSI (U+009B) and a right-to-left override (U+202E).
 */
export const ESCAPES: string = [
  "\x1b]0;pwned\x07",
  "\x1b[2J",
  "\x1b[8m",
  "\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\",
  "\u009b31m",
  "\u202egnp.exe",
  "\u2066isolate\u2069",
].join("|");

/** Whether `text` holds a character that a terminal would act on rather than show. */
export function hasControls(text: string): boolean {
  // deno-lint-ignore no-control-regex
  return /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(text);
}

/**
 * The event bomb: a protobuf `ExportTraceServiceRequest` of one valid span carrying `count` empty events,
 * two bytes each (4 MiB holds about two million).
 */
export function eventBombProtobuf(count: number): Uint8Array<ArrayBuffer> {
  const head = new BinaryWriter()
    .tag(1, LEN).bytes(Uint8Array.fromHex(TRACE_ID))
    .tag(2, LEN).bytes(Uint8Array.fromHex(spanId(0)))
    .tag(5, LEN).string("bomb")
    .finish();
  const span = new Uint8Array(head.length + count * 2);
  span.set(head);
  for (let i = head.length; i < span.length; i += 2) span[i] = (11 << 3) | LEN; // Span.events, empty
  return wrap(1, wrap(2, wrap(2, span)));
}

/** The event bomb as OTLP/JSON: one span with `count` empty events (`{}`), three bytes each. */
export function eventBombJson(count: number): string {
  return jsonTraces([jsonSpan(0, { events: "__events__" })]).replace(
    '"__events__"',
    `[${Array(count).fill("{}").join(",")}]`,
  );
}

/**
 * A protobuf `ExportTraceServiceRequest` of `count` valid spans with `attributes` string attributes each
 * (one trace per span): the kind of request that takes protobuf-es most time per byte.
 */
export function manySpansProtobuf(count: number, attributes = 13): Uint8Array<ArrayBuffer> {
  const writer = new BinaryWriter();
  const pairs = Array.from({ length: attributes }, (_, i) => {
    const value = new BinaryWriter().tag(1, LEN).string(`value ${i}`).finish();
    return new BinaryWriter().tag(1, LEN).string(`attr.${i}`).tag(2, LEN).bytes(value).finish();
  });
  for (let n = 0; n < count; n++) {
    const span = new BinaryWriter()
      .tag(1, LEN).bytes(Uint8Array.fromHex((n + 1).toString(16).padStart(32, "0")))
      .tag(2, LEN).bytes(Uint8Array.fromHex(spanId(n)))
      .tag(5, LEN).string(`span ${n}`);
    for (const pair of pairs) span.tag(9, LEN).bytes(pair);
    writer.tag(2, LEN).bytes(span.finish());
  }
  return wrap(1, wrap(2, writer.finish()));
}

/**
 * A protobuf `ExportLogsServiceRequest` of `records` log records (service `escapes`) whose bodies are
 * arrays of `strings` strings of `length` U+0001 characters: small on the wire, six times larger once JSON
 * escapes them (`\u0001`). 7 records of 128 × 4,096 fit a 4 MiB request; 16 such requests are issue 26's
 * unbounded `GET /api/logs`.
 */
export function escapedLogBodiesProtobuf(
  records: number,
  strings = 128,
  length = 4096,
): Uint8Array<ArrayBuffer> {
  const text = new BinaryWriter().tag(1, LEN).string("\u0001".repeat(length)).finish();
  const array = new BinaryWriter();
  for (let i = 0; i < strings; i++) array.tag(1, LEN).bytes(text);
  const body = wrap(5, array.finish()); // AnyValue.array_value
  const scopeLogs = new BinaryWriter();
  for (let n = 0; n < records; n++) {
    const record = new BinaryWriter()
      .tag(1, WireType.Bit64).fixed64(1_700_000_000_000_000_000n + BigInt(n))
      .tag(3, LEN).string("INFO")
      .tag(5, LEN).bytes(body);
    scopeLogs.tag(2, LEN).bytes(record.finish());
  }
  const service = new BinaryWriter().tag(1, LEN).string("escapes").finish();
  const attribute = new BinaryWriter().tag(1, LEN).string("service.name").tag(2, LEN).bytes(service).finish();
  const resource = new BinaryWriter().tag(1, LEN).bytes(attribute).finish();
  const resourceLogs = new BinaryWriter().tag(1, LEN).bytes(resource).tag(2, LEN).bytes(scopeLogs.finish());
  return wrap(1, resourceLogs.finish());
}
