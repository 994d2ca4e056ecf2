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

/** Starts reading `stream`; keeps at most its last `limit` characters (default 1 MiB). */
export function collectOutput(stream: ReadableStream<Uint8Array>, limit = 1 << 20): CollectedOutput {
  let text = "";
  // Lines seen so far, while someone may still ask for one: dropped when the text is cut.
  let seen: string[] = [];
  const waiters = new Set<(line: string) => boolean>();
  let ended = false;
  const done = (async () => {
    let pending = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (text.length > limit) {
        text = text.slice(-limit);
        seen = [];
      }
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      if (pending.length > limit) pending = "";
      for (const line of lines) {
        if (seen.length < 1000) seen.push(line);
        for (const waiter of waiters) if (waiter(line)) waiters.delete(waiter);
      }
    }
    if (pending !== "") { for (const waiter of waiters) waiter(pending); }
    waiters.clear();
    ended = true;
    return text;
  })();
  return {
    text: done,
    line<T>(match: (line: string) => T | undefined): Promise<T | undefined> {
      for (const line of ended ? text.split("\n") : seen) {
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
        waiters.add(waiter);
        done.then(() => resolve(undefined), () => resolve(undefined));
      });
    },
  };
}
