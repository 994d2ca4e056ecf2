/**
 * Sender text made fit for a terminal: characters a terminal would act on, or would show as nothing, made
 * visible, and widths counted as the terminal draws them (by display width, not UTF-16 units), so that
 * columns line up whatever a span name holds.
 *
 * ```ts
 * import { cut, padEnd } from "./terminal_text.ts";
 * padEnd(cut("GET /ad\u200Bmin", 20), 20); // "GET /ad<U+200B>min" and spaces up to 20 columns
 * ```
 *
 * @module
 */
import stringWidth from "string-width";

/**
 * What a terminal would act on or show as nothing: controls (C0 but the line feed, DEL, C1: U+009B is a CSI on
 * its own), format characters (zero-width spaces and joiners, bidirectional marks, embeddings, overrides and
 * isolates, soft hyphens, tags), line and paragraph separators, lone surrogates, and the letters that draw
 * blank (the Hangul fillers). A zero-width joiner between two pictographs is kept: it joins emoji.
 */
const HIDDEN =
  /(?<!\p{Extended_Pictographic}\uFE0F?)\u200D|\u200D(?!\p{Extended_Pictographic})|[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0]|(?!\u200D)\p{Cf}/gu;

/**
 * `text` with every hidden character (see above) written as `<U+XXXX>` and line feeds as `⏎`, so that what a
 * terminal shows is what the text holds: `GET /ad\u200Bmin` prints as `GET /ad<U+200B>min`, not `/admin`.
 */
export function visible(text: string): string {
  return text.replace(HIDDEN, (char) => {
    if (char === "\n") return "⏎";
    return `<U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}>`;
  });
}

/** How many terminal columns `text` takes: wide characters two, combining and zero-width ones none. */
export function width(text: string): number {
  return stringWidth(text, { countAnsiEscapeCodes: true });
}

const graphemes = new Intl.Segmenter("en", { granularity: "grapheme" });

/**
 * Makes `text` {@linkcode visible} and cuts it to at most `max` columns, ending it with "…" when cut. Only the
 * start of a long text is read, so the cost is bounded by `max`, not by the text.
 */
export function cut(text: string, max: number): string {
  // A column is at least one UTF-16 unit, and an escape stands for at most two: reading four units per column
  // is enough.
  const limit = max * 4 + 2;
  const head = text.length > limit ? text.slice(0, limit) : text;
  const shown = visible(head);
  if (head === text && width(shown) <= max) return shown;
  // Cut between graphemes, and never inside an escape.
  let columns = 0;
  let result = "";
  for (const { segment } of graphemes.segment(head)) {
    const part = visible(segment);
    columns += width(part);
    if (columns > max - 1) break;
    result += part;
  }
  return result + "…";
}

/** `text` padded with spaces at its end to `columns` display columns (never cut). */
export function padEnd(text: string, columns: number): string {
  return text + " ".repeat(Math.max(0, columns - width(text)));
}

/** `text` padded with spaces at its start to `columns` display columns (never cut). */
export function padStart(text: string, columns: number): string {
  return " ".repeat(Math.max(0, columns - width(text))) + text;
}
