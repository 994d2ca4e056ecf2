import assert from "node:assert/strict";
import { cut, padEnd, padStart, visible, width } from "./terminal_text.ts";

Deno.test("controls, format and invisible characters are written out; line feeds are ⏎", () => {
  assert.equal(visible("GET /ad\u200Bmin"), "GET /ad<U+200B>min");
  assert.equal(visible("\x1b[2J\u009b31m"), "<U+001B>[2J<U+009B>31m");
  assert.equal(visible("a\u202Eb\u2066c\u2069"), "a<U+202E>b<U+2066>c<U+2069>");
  assert.equal(visible("soft\u00ADhyphen\uFEFF\u2060"), "soft<U+00AD>hyphen<U+FEFF><U+2060>");
  assert.equal(visible("blank\u3164\u115F"), "blank<U+3164><U+115F>");
  assert.equal(visible("lone \uD800"), "lone <U+D800>");
  assert.equal(visible("one\ntwo\tthree"), "one⏎two<U+0009>three");
  assert.equal(visible("\u200Dstray joiner"), "<U+200D>stray joiner");
  // What a terminal draws as it is stays as it is: emoji joined by U+200D, combining marks, wide letters.
  for (const text of ["👩‍👩‍👧", "e\u0301", "日本語", "plain"]) assert.equal(visible(text), text);
});

Deno.test("widths are display columns: wide two, combining and zero-width none", () => {
  assert.equal(width("日本"), 4);
  assert.equal(width("e\u0301"), 1);
  assert.equal(width("👩‍👩‍👧"), 2);
  assert.equal(padEnd("日本", 6), "日本  ");
  assert.equal(padStart("e\u0301", 3), "  e\u0301");
  assert.equal(padEnd("longer", 3), "longer", "padding never cuts");
});

Deno.test("cut keeps to the columns asked, between graphemes, never inside an escape", () => {
  assert.equal(cut("short", 10), "short");
  assert.equal(cut("日本語のテキスト", 9), "日本語の…");
  assert.equal(width(cut("日本語のテキスト", 9)), 9);
  assert.equal(cut("e\u0301".repeat(20), 5), "e\u0301".repeat(4) + "…");
  assert.equal(cut("ab\u200Bcd", 8), "ab…", "the escape does not fit, so it is left out whole");
  const long = cut("x".repeat(10_000_000), 40);
  assert.equal(long, "x".repeat(39) + "…");
});
