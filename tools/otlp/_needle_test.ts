import assert from "node:assert/strict";
import fc from "fast-check";
import { holds, needle } from "./_needle.ts";

/** Byte by byte, as the reference. */
function naive(bytes: Uint8Array, wanted: Uint8Array): boolean {
  for (let i = 0; i + wanted.length <= bytes.length; i++) {
    if (wanted.every((byte, k) => bytes[i + k] === byte)) return true;
  }
  return false;
}

Deno.test("holds finds a needle wherever a byte-by-byte search does", () => {
  // Three byte values, so that needles repeat and half match.
  const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max, min: 0, max: 2 });
  fc.assert(
    fc.property(bytes(300), bytes(12).filter((wanted) => wanted.length > 0), (haystack, wanted) => {
      assert.equal(holds(haystack, needle(wanted)), naive(haystack, wanted));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("holds: at either end, alone, one byte, repeats, and needles of 255 to 300 bytes", () => {
  const text = (value: string) => new TextEncoder().encode(value);
  const cases: [string, string, boolean][] = [
    ["service.peer.name", "service.peer.name", true],
    ["xservice.peer.name", "service.peer.name", true],
    ["service.peer.namex", "service.peer.name", true],
    ["service.peer.nam", "service.peer.name", false],
    ["aaab", "aab", true],
    ["abab", "bab", true],
    ["a", "a", true],
    ["", "a", false],
    ["b".repeat(10), "a", false],
  ];
  for (const length of [255, 256, 300]) {
    const long = "k".repeat(length - 1) + "z";
    cases.push([`.${long}.`, long, true], [long.slice(1), long, false], [
      `${long.slice(0, -1)}y`,
      long,
      false,
    ]);
  }
  for (const [haystack, wanted, expected] of cases) {
    assert.equal(
      holds(text(haystack), needle(text(wanted))),
      expected,
      `${wanted.slice(0, 20)} in ${haystack.slice(0, 20)}`,
    );
  }
});
