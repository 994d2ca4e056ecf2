// Caps on the repeated fields of OTLP protobuf messages, applied to the wire bytes before anything is
// decoded: a span of two million events costs a scan of its bytes, not two million objects.
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/** How many of each repeated field are kept. */
export interface WireLimits {
  /** Attributes of a span, event, resource or log record, and entries of a key-value list. */
  attributes: number;
  /** Events of a span. */
  events: number;
  /** Links of a span. */
  links: number;
  /** Items of an array value. */
  arrayItems: number;
  /** How deep values may nest. */
  depth: number;
}

/** What trimming dropped, and how many values it kept (for a cap on the whole request). */
export interface WireCounts {
  /** Attributes (and key-value entries) dropped. */
  attributes: number;
  /** Events dropped. */
  events: number;
  /** Links dropped. */
  links: number;
  /** Array items dropped. */
  arrayItems: number;
  /** Values kept: attributes, events, array items. */
  kept: number;
}

/** How trimming treats one field of a message. */
export interface Rule {
  /** Which limit caps the field, if one does. */
  cap?: "attributes" | "events" | "links" | "arrayItems";
  /** The rules of the embedded message. */
  inner?: () => Rules;
  /** The embedded message is an AnyValue: one level deeper. */
  deeper?: boolean;
}

/** The fields of a message that trimming looks into or caps, by field number. */
export type Rules = Record<number, Rule>;

const KEY_VALUE: Rules = { 2: { inner: () => ANY_VALUE, deeper: true } };
const ANY_VALUE: Rules = {
  5: { inner: () => ({ 1: { cap: "arrayItems", inner: () => ANY_VALUE, deeper: true } }) }, // ArrayValue
  6: { inner: () => ({ 1: { cap: "attributes", inner: () => KEY_VALUE } }) }, // KeyValueList
};
const ATTRIBUTE: Rule = { cap: "attributes", inner: () => KEY_VALUE };
const EVENT: Rules = { 3: ATTRIBUTE };
const LINK: Rules = { 4: ATTRIBUTE };

/** The rules of a Span: attributes (9), events (11), links (13). */
export const SPAN: Rules = {
  9: ATTRIBUTE,
  11: { cap: "events", inner: () => EVENT },
  13: { cap: "links", inner: () => LINK },
};
/** The rules of a Resource: attributes (1). */
export const RESOURCE: Rules = { 1: ATTRIBUTE };
/** The rules of a LogRecord: body (5), attributes (6). */
export const LOG_RECORD: Rules = { 5: { inner: () => ANY_VALUE, deeper: true }, 6: ATTRIBUTE };
const NUMBER_POINTS: Rules = { 1: { inner: () => ({ 7: ATTRIBUTE }) } };
/** The rules of a Metric: the attributes of the data points of a gauge (5), sum (7) or histogram (9). */
export const METRIC: Rules = {
  5: { inner: () => NUMBER_POINTS },
  7: { inner: () => NUMBER_POINTS },
  9: { inner: () => ({ 1: { inner: () => ({ 9: ATTRIBUTE }) } }) },
};

/** A value nested deeper than the limit. */
export class TooDeepError extends Error {}

/** Empty counts. */
export function wireCounts(): WireCounts {
  return { attributes: 0, events: 0, links: 0, arrayItems: 0, kept: 0 };
}

/**
 * `bytes` (a message following `rules`) without the repeated fields past their caps, counting in `counts`
 * what was dropped and kept. Returns `bytes` itself when nothing was dropped.
 */
export function trim(
  bytes: Uint8Array,
  rules: Rules,
  limits: WireLimits,
  counts: WireCounts,
  depth = 0,
): Uint8Array {
  if (depth > limits.depth) throw new TooDeepError();
  const seen: Record<number, number> = {};
  const parts: (Uint8Array | [number, Uint8Array])[] = [];
  let changed = false;
  // Read by hand, not with BinaryReader: a field skipped here makes no object (two million of them take
  // tens of milliseconds, not seconds).
  for (let pos = 0; pos < bytes.length;) {
    const start = pos;
    const tag = varint(bytes, pos);
    pos = varintEnd;
    const field = Math.floor(tag / 8), type = tag % 8;
    let payload = -1;
    if (type === WireType.Varint) {
      varint(bytes, pos);
      pos = varintEnd;
    } else if (type === WireType.Bit64) pos += 8;
    else if (type === WireType.Bit32) pos += 4;
    else if (type === WireType.LengthDelimited) {
      const length = varint(bytes, pos);
      payload = varintEnd;
      pos = varintEnd + length;
    } else throw new Error(`wire type ${type} (a group) is not supported`);
    if (pos > bytes.length) throw new Error("premature end of the message");
    const rule = payload === -1 ? undefined : rules[field];
    if (rule?.cap !== undefined) {
      seen[field] = (seen[field] ?? 0) + 1;
      if (seen[field] > limits[rule.cap]) {
        counts[rule.cap]++;
        changed = true;
        continue;
      }
      counts.kept++;
    }
    if (rule?.inner === undefined) {
      parts.push(bytes.subarray(start, pos));
      continue;
    }
    const inner = bytes.subarray(payload, pos);
    const trimmed = trim(inner, rule.inner(), limits, counts, depth + (rule.deeper ? 1 : 0));
    if (trimmed === inner) parts.push(bytes.subarray(start, pos));
    else {
      parts.push([field, trimmed]);
      changed = true;
    }
  }
  if (!changed) return bytes;
  const writer = new BinaryWriter();
  for (const part of parts) {
    if (part instanceof Uint8Array) writer.raw(part);
    else writer.tag(part[0], WireType.LengthDelimited).bytes(part[1]);
  }
  return writer.finish();
}

/** Where the varint {@linkcode varint} read last ended: a variable, not an object per call. */
export let varintEnd = 0;

/** The varint at `pos` (exact up to 2^53 - 1, enough for tags and lengths); sets `varintEnd`. */
export function varint(bytes: Uint8Array, pos: number): number {
  let value = 0, scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= bytes.length) throw new Error("premature end of the message");
    const byte = bytes[pos++];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      varintEnd = pos;
      return value;
    }
    scale *= 128;
  }
  throw new Error("a varint is too long");
}

/** Calls `visit` with the payload of each length-delimited field `field` of `bytes`, in order. */
export function eachField(bytes: Uint8Array, field: number, visit: (payload: Uint8Array) => void): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [number, type] = reader.tag();
    if (number === field && type === WireType.LengthDelimited) visit(reader.bytes());
    else reader.skip(type, number);
  }
}

/** The payload of the last length-delimited field `field` of `bytes` (protobuf merges; the last wins). */
export function lastField(bytes: Uint8Array, field: number): Uint8Array | undefined {
  let last: Uint8Array | undefined;
  eachField(bytes, field, (payload) => last = payload);
  return last;
}
