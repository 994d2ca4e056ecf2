// A hand-written scan of protobuf spans: what the store's index needs (ids, times, kind, status, links),
// read from the wire bytes without decoding the span into objects, and a check of the caps of `_wire.ts`
// that allocates nothing. The store keeps each span's bytes and decodes them when asked.
import { type Rules, TooDeepError, varint, varintEnd, type WireCounts, type WireLimits } from "./_wire.ts";

/** The bytes of a record's header in the store: see {@linkcode scanSpan}. */
export const HEADER = 48;

/** Offsets in a record's header. */
export const H = {
  spanId: 0,
  parent: 8,
  start: 16,
  end: 24,
  origin: 32,
  length: 36,
  kind: 40,
  status: 41,
  flags: 42,
  seq: 44,
} as const;

/** Flags of a record's header. */
export const F = { parent: 1, links: 2, object: 4 } as const;

/**
 * Where the trace id field of the span last scanned lies in its bytes: its tag, and its 16 bytes (which end
 * the field): a variable, not an object per span.
 */
export const traceIdAt = { tag: 0, start: 0 };

/** Skips the value of a field of wire type `type` at `pos`; returns where the next field starts. */
function skip(bytes: Uint8Array, pos: number, type: number): number {
  if (type === 0) {
    varint(bytes, pos);
    return varintEnd;
  }
  if (type === 1) return pos + 8;
  if (type === 5) return pos + 4;
  if (type === 2) {
    const length = varint(bytes, pos);
    return varintEnd + length;
  }
  throw new Error(`wire type ${type} (a group) is not supported`);
}

function copy8(from: Uint8Array, start: number, to: Uint8Array, at: number): void {
  for (let i = 0; i < 8; i++) to[at + i] = from[start + i];
}

function nonZero(bytes: Uint8Array, start: number, length: number): boolean {
  for (let i = start; i < start + length; i++) if (bytes[i] !== 0) return true;
  return false;
}

/**
 * Reads a span's index from its bytes into `header` at `at` (span id, parent id, start and end as the
 * wire's little-endian fixed64, kind, status code, flags) and sets {@linkcode traceIdAt}. Returns `"slow"`
 * when the span is not one this scan reads exactly as the decoder would (its trace or span id missing,
 * malformed or all zeros, a field repeated, a field of another wire type than the schema's, an enum past
 * the schema's values): the caller decodes it the slow way; else `"ok"`. Links are handed to `link` as the
 * offsets of their trace and span ids (valid ones only).
 */
export function scanSpan(
  bytes: Uint8Array,
  from: number,
  to: number,
  header: Uint8Array,
  at: number,
  link: (bytes: Uint8Array, traceId: number, spanId: number) => void,
): "ok" | "slow" {
  header.fill(0, at, at + HEADER);
  let seen = 0, traceId = -1, traceIdTag = -1, spanId = -1, flags = 0;
  for (let pos = from; pos < to;) {
    const fieldStart = pos;
    const tag = varint(bytes, pos);
    pos = varintEnd;
    const field = tag >>> 3, type = tag & 7;
    if (field <= 15 && field !== 9 && field !== 11 && field !== 13) {
      if (seen & (1 << field)) return "slow";
      seen |= 1 << field;
    }
    const expected = EXPECTED_TYPE[field];
    if (expected !== undefined && expected !== type) return "slow";
    if (type === 2) {
      const length = varint(bytes, pos);
      const start = varintEnd, stop = varintEnd + length;
      if (stop > to) throw new Error("premature end of the message");
      if (field === 1) {
        if (length === 16 && nonZero(bytes, start, 16)) [traceId, traceIdTag] = [start, fieldStart];
      } else if (field === 2) {
        if (length === 8 && nonZero(bytes, start, 8)) spanId = start;
      } else if (field === 4) {
        if (length === 8 && nonZero(bytes, start, 8)) {
          copy8(bytes, start, header, at + H.parent);
          flags |= F.parent;
        }
      } else if (field === 13) {
        flags |= F.links;
        scanLink(bytes, start, stop, link);
      } else if (field === 15) {
        const code = statusCode(bytes, start, stop);
        if (code < 0) return "slow";
        header[at + H.status] = code;
      }
      pos = stop;
    } else if (type === 1) {
      if (pos + 8 > to) throw new Error("premature end of the message");
      if (field === 7) copy8(bytes, pos, header, at + H.start);
      else if (field === 8) copy8(bytes, pos, header, at + H.end);
      pos += 8;
    } else if (type === 0) {
      const value = varint(bytes, pos);
      if (field === 6) {
        if (value > 5) return "slow";
        header[at + H.kind] = value;
      }
      pos = varintEnd;
    } else {
      pos = skip(bytes, pos, type);
      if (pos > to) throw new Error("premature end of the message");
    }
  }
  if (traceId < 0 || spanId < 0) return "slow";
  copy8(bytes, spanId, header, at + H.spanId);
  header[at + H.flags] = flags;
  traceIdAt.tag = traceIdTag;
  traceIdAt.start = traceId;
  return "ok";
}

/** Calls `visit` with the start and end of the payload of each length-delimited field `field` in a range. */
export function eachFieldAt(
  bytes: Uint8Array,
  from: number,
  to: number,
  field: number,
  visit: (start: number, stop: number) => void,
): void {
  for (let pos = from; pos < to;) {
    const tag = varint(bytes, pos);
    pos = varintEnd;
    const type = tag & 7;
    if (type === 2 && tag >>> 3 === field) {
      const length = varint(bytes, pos);
      const start = varintEnd;
      pos = varintEnd + length;
      if (pos > to) throw new Error("premature end of the message");
      visit(start, pos);
    } else {
      pos = skip(bytes, pos, type);
      if (pos > to) throw new Error("premature end of the message");
    }
  }
}

/**
 * Where the payload of the last length-delimited field `field` in a range lies (protobuf merges: the last
 * wins), as {@linkcode fieldAt}'s `start` and `stop`; false when there is none. Allocates nothing: a
 * scope's bytes hold every span, and a reader that made a view of each field it skipped made one per span.
 */
export function lastFieldAt(bytes: Uint8Array, from: number, to: number, field: number): boolean {
  lastFound = false;
  eachFieldAt(bytes, from, to, field, keepLast);
  return lastFound;
}

/** Whether {@linkcode lastFieldAt}'s walk found the field. */
let lastFound = false;

/** {@linkcode lastFieldAt}'s visitor: one function for every walk, so that a walk makes no closure. */
function keepLast(start: number, stop: number): void {
  fieldAt.start = start;
  fieldAt.stop = stop;
  lastFound = true;
}

/** Where the field {@linkcode lastFieldAt} found last lies: a variable, not an object per call. */
export const fieldAt = { start: 0, stop: 0 };

// The wire type of each field of Span the scan reads: 2 length-delimited, 1 fixed64, 0 varint.
const EXPECTED_TYPE: Record<number, number> = {
  1: 2,
  2: 2,
  4: 2,
  5: 2,
  6: 0,
  7: 1,
  8: 1,
  9: 2,
  11: 2,
  13: 2,
  15: 2,
};

/** The code of a Status message (field 3), or -1 when it is not one the scan reads exactly. */
function statusCode(bytes: Uint8Array, pos: number, stop: number): number {
  let code = 0, seen = 0;
  while (pos < stop) {
    const tag = varint(bytes, pos);
    pos = varintEnd;
    const field = tag >>> 3, type = tag & 7;
    if (field === 3) {
      if (type !== 0 || seen & 1) return -1;
      seen |= 1;
      const value = varint(bytes, pos);
      pos = varintEnd;
      // Codes past ERROR (and negative ones, as int32 on the wire) are left to the decoder.
      if (value > 2) return -1;
      code = value;
    } else pos = skip(bytes, pos, type);
  }
  if (pos !== stop) throw new Error("premature end of the message");
  return code;
}

function scanLink(
  bytes: Uint8Array,
  pos: number,
  stop: number,
  link: (bytes: Uint8Array, traceId: number, spanId: number) => void,
): void {
  let traceId = -1, spanId = -1;
  while (pos < stop) {
    const tag = varint(bytes, pos);
    pos = varintEnd;
    const field = tag >>> 3, type = tag & 7;
    if (type === 2 && (field === 1 || field === 2)) {
      const length = varint(bytes, pos);
      const start = varintEnd;
      pos = varintEnd + length;
      if (field === 1) traceId = length === 16 && nonZero(bytes, start, 16) ? start : -1;
      else spanId = length === 8 && nonZero(bytes, start, 8) ? start : -1;
    } else pos = skip(bytes, pos, type);
  }
  if (pos !== stop) throw new Error("premature end of the message");
  if (traceId >= 0 && spanId >= 0) link(bytes, traceId, spanId);
}

/**
 * Whether `bytes` (a message following `rules`) is within the caps of `limits`, as `trim` of `_wire.ts`
 * would find it, without allocating: counts the values kept in `counts.kept`, and stops at the first field
 * past a cap (returning false: the caller trims). Throws {@linkcode TooDeepError} past the depth limit.
 */
export function withinCaps(
  bytes: Uint8Array,
  start: number,
  stop: number,
  rules: Rules,
  limits: WireLimits,
  counts: WireCounts,
  depth = 0,
): boolean {
  if (depth > limits.depth) throw new TooDeepError();
  // Repeated fields with a cap, counted per field number (no message of the rules has more than two).
  let f1 = -1, n1 = 0, f2 = -1, n2 = 0, n3 = 0;
  for (let pos = start; pos < stop;) {
    const tag = varint(bytes, pos);
    pos = varintEnd;
    const field = tag >>> 3, type = tag & 7;
    if (type !== 2) {
      pos = skip(bytes, pos, type);
      if (pos > stop) throw new Error("premature end of the message");
      continue;
    }
    const length = varint(bytes, pos);
    const payload = varintEnd;
    pos = varintEnd + length;
    if (pos > stop) throw new Error("premature end of the message");
    const rule = rules[field];
    if (rule === undefined) continue;
    if (rule.cap !== undefined) {
      let n: number;
      if (f1 < 0 || f1 === field) {
        f1 = field;
        n = ++n1;
      } else if (f2 < 0 || f2 === field) {
        f2 = field;
        n = ++n2;
      } else n = ++n3;
      if (n > limits[rule.cap]) return false;
      counts.kept++;
    }
    if (rule.inner === undefined) continue;
    if (!withinCaps(bytes, payload, pos, rule.inner(), limits, counts, depth + (rule.deeper ? 1 : 0))) {
      return false;
    }
  }
  return true;
}
