/**
 * Looking for a few bytes in many: a span's bytes, for an attribute's key or value (internal to
 * `tools/otlp`).
 *
 * @module
 */

/** Bytes to look for, and how far a search may move on after each byte where the needle's last would be. */
export interface Needle {
  /** What is looked for. */
  bytes: Uint8Array;
  /** By byte value: how far to move on when that byte is under the needle's last (at most its length). */
  shift: Uint8Array | Int32Array;
}

/** `bytes` as a {@linkcode Needle}: its shift table (Boyer-Moore-Horspool) made once. */
export function needle(bytes: Uint8Array): Needle {
  const last = bytes.length - 1;
  const shift = bytes.length < 256
    ? new Uint8Array(256).fill(bytes.length)
    : new Int32Array(256).fill(bytes.length);
  for (let k = 0; k < last; k++) shift[bytes[k]] = last - k;
  return { bytes, shift };
}

/**
 * Whether `bytes` (from `start` to `stop`) holds `needle` somewhere. It compares the byte under the needle's last and moves on by
 * that byte's shift, up to the needle's length: over 400,000 spans, a key and a value no span holds took
 * 225 ms byte by byte, 131 ms so.
 */
export function holds(
  bytes: Uint8Array,
  { bytes: wanted, shift }: Needle,
  start = 0,
  stop: number = bytes.length,
): boolean {
  const last = wanted.length - 1, end = stop - wanted.length, lastByte = wanted[last];
  for (let i = start; i <= end; i += shift[bytes[i + last]]) {
    if (bytes[i + last] !== lastByte) continue;
    let k = 0;
    while (k < last && bytes[i + k] === wanted[k]) k++;
    if (k === last) return true;
  }
  return false;
}
