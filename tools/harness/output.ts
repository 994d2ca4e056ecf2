/**
 * Reads a child's output stream to its end, keeping a bounded tail of its text, and lets a caller await the
 * first line that matches (such as a server's `Server listening on …`).
 *
 * @module
 */

/** A stream being read; see {@linkcode collectOutput}. */
export interface CollectedOutput {
  /** The text, once the stream ended: all of it, or its last `limit` characters when it was longer. */
  text: Promise<string>;
  /**
   * Resolves with the first value `match` returns for a line, or `undefined` when the stream ends without
   * one. Lines printed before the call count too (the first thousand of them, or, once the stream ended, those
   * of the text kept).
   */
  line<T>(match: (line: string) => T | undefined): Promise<T | undefined>;
}

/** Options of {@linkcode collectOutput}. */
export interface CollectOptions {
  /**
   * Wait this long after each read (default 0). A child that prints a line per request under load is then
   * read in a few large chunks a second instead of one small read per line, which costs the reader far less
   * CPU; the pipe's buffer holds what arrives meanwhile.
   */
  readIntervalMs?: number;
}

/** Starts reading `stream`; keeps at most its last `limit` characters (default 1 MiB). */
export function collectOutput(
  stream: ReadableStream<Uint8Array>,
  limit = 1 << 20,
  { readIntervalMs = 0 }: CollectOptions = {},
): CollectedOutput {
  const tail: Tail = {
    limit,
    chunks: [],
    size: 0,
    text: "",
    seen: [],
    waiters: new Set(),
    pending: "",
    ended: false,
  };
  const done = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      if (readIntervalMs > 0) await new Promise((resolve) => setTimeout(resolve, readIntervalMs));
      keep(tail, chunk);
      offerLines(tail, chunk);
    }
    return end(tail);
  })();
  return {
    text: done,
    line: (match) => firstLine(tail, done, match),
  };
}

/** What {@linkcode collectOutput} holds of a stream. */
interface Tail {
  /** The most characters kept. */
  limit: number;
  /**
   * The text read so far, in chunks, cut back to its last `limit` characters only once it holds twice that:
   * a server under load prints tens of thousands of lines a second, and cutting at every chunk would copy a
   * mebibyte each time (the benchmark measured most of a core going to that).
   */
  chunks: string[];
  /** The characters `chunks` hold. */
  size: number;
  /** The text kept, once the stream ended. */
  text: string;
  /** Lines seen so far, while someone may still ask for one: dropped when the text is cut. */
  seen: string[];
  /** Those waiting for a line, each saying whether the line was the one. */
  waiters: Set<(line: string) => boolean>;
  /** The start of the line still arriving. */
  pending: string;
  /** Whether the stream ended. */
  ended: boolean;
}

/** Adds `chunk` to the text kept, cutting it back to its last `limit` characters once it holds twice that. */
function keep(tail: Tail, chunk: string) {
  tail.chunks.push(chunk);
  tail.size += chunk.length;
  if (tail.size > 2 * tail.limit) {
    const kept = tail.chunks.join("").slice(-tail.limit);
    tail.chunks = [kept];
    tail.size = kept.length;
    tail.seen = [];
  }
}

/** Offers each line `chunk` completes to those waiting, and remembers the first thousand. */
function offerLines(tail: Tail, chunk: string) {
  if (tail.waiters.size === 0 && tail.seen.length >= 1000) {
    // Nobody can ask for these lines: keep only the start of the next one.
    const end = chunk.lastIndexOf("\n");
    tail.pending = end === -1 ? tail.pending + chunk : chunk.slice(end + 1);
    if (tail.pending.length > tail.limit) tail.pending = "";
    return;
  }
  tail.pending += chunk;
  const lines = tail.pending.split("\n");
  tail.pending = lines.pop()!;
  if (tail.pending.length > tail.limit) tail.pending = "";
  for (const line of lines) {
    if (tail.seen.length < 1000) tail.seen.push(line);
    for (const waiter of tail.waiters) if (waiter(line)) tail.waiters.delete(waiter);
  }
}

/** Ends the stream: offers its unfinished last line, lets go of those waiting, and gives the text kept. */
function end(tail: Tail): string {
  tail.text = tail.chunks.join("").slice(-tail.limit);
  if (tail.pending !== "") { for (const waiter of tail.waiters) waiter(tail.pending); }
  tail.waiters.clear();
  tail.ended = true;
  return tail.text;
}

/** {@linkcode CollectedOutput.line}: the lines already seen first, then those still to come. */
function firstLine<T>(
  tail: Tail,
  done: Promise<string>,
  match: (line: string) => T | undefined,
): Promise<T | undefined> {
  for (const line of tail.ended ? tail.text.split("\n") : tail.seen) {
    const value = match(line);
    if (value !== undefined) return Promise.resolve(value);
  }
  return new Promise((resolve) => {
    const waiter = (line: string) => {
      const value = match(line);
      if (value === undefined) return false;
      resolve(value);
      return true;
    };
    tail.waiters.add(waiter);
    done.then(() => resolve(undefined), () => resolve(undefined));
  });
}
