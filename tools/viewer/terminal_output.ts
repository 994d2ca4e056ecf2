/**
 * Lines for a terminal that may not read them: written through a bounded queue, without blocking, so that a
 * stopped terminal (Ctrl-S, a pager, a pipe nobody drains) never stops the receiver or the web page. When
 * the queue is full, lines are dropped, and where they were the terminal reads how many.
 *
 * ```ts
 * import { TerminalOutput } from "./terminal_output.ts";
 * const out = new TerminalOutput(Deno.stdout);
 * out.print("Viewer: listening");
 * await out.flush();
 * ```
 *
 * @module
 */

/** Where the lines go: `Deno.stdout`, `Deno.stderr`, or any writer of bytes. */
export interface ByteWriter {
  /** Writes some of `bytes`, resolving with how many. */
  write(bytes: Uint8Array): Promise<number>;
}

/** Options of {@linkcode TerminalOutput}. */
export interface TerminalOutputOptions {
  /** The most bytes waiting for the terminal (default 1 MiB); past it, lines are dropped. */
  maxQueuedBytes?: number;
}

/** A count of lines dropped at this place in the queue. */
interface Dropped {
  lines: number;
}

/** The default bound of the queue: a few screens of waterfalls. */
export const DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024;

/** Text to a terminal through a bounded queue that drops lines, and says how many, when the terminal is slow. */
export class TerminalOutput {
  /** The most bytes held for the terminal before lines are dropped. */
  readonly maxQueuedBytes: number;
  #writer: ByteWriter;
  #queue: (Uint8Array | Dropped)[] = [];
  #queuedBytes = 0;
  #dropped = 0;
  #writing: Promise<void> | undefined;
  #broken = false;

  /** Output to `writer`, holding at most `maxQueuedBytes` for it. */
  constructor(writer: ByteWriter, { maxQueuedBytes = DEFAULT_MAX_QUEUED_BYTES }: TerminalOutputOptions = {}) {
    this.#writer = writer;
    this.maxQueuedBytes = maxQueuedBytes;
  }

  /** How many lines were dropped so far because the terminal did not keep up. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues `text` and a line feed; drops it, counted, when the queue is full. Never blocks. */
  print(text = ""): void {
    if (this.#broken) return;
    const bytes = new TextEncoder().encode(text + "\n");
    if (this.#queuedBytes + bytes.length > this.maxQueuedBytes) {
      const lines = text.split("\n").length;
      this.#dropped += lines;
      const last = this.#queue.at(-1);
      if (last !== undefined && !(last instanceof Uint8Array)) last.lines += lines;
      else this.#queue.push({ lines });
      return;
    }
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    this.#startWriting();
  }

  /** Resolves once everything queued so far was written (or the terminal went away). */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  #startWriting(): void {
    if (this.#writing !== undefined) return;
    this.#writing = this.#drain().finally(() => {
      this.#writing = undefined;
      // A line printed after the drain found the queue empty, but before it was marked done, is written now.
      if (this.#queue.length > 0) this.#startWriting();
    });
  }

  async #drain(): Promise<void> {
    for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
      const bytes = next instanceof Uint8Array ? next : new TextEncoder().encode(
        `(${next.lines} line${next.lines === 1 ? "" : "s"} not shown here: the terminal did not keep up)\n`,
      );
      try {
        for (let written = 0; written < bytes.length;) {
          written += await this.#writer.write(bytes.subarray(written));
        }
        // Counted until written: a line in the writer's hands is still waiting for the terminal.
        if (next instanceof Uint8Array) this.#queuedBytes -= bytes.length;
      } catch {
        // The terminal is gone (a closed pipe): nothing more can be shown.
        this.#broken = true;
        this.#queue = [];
        this.#queuedBytes = 0;
        return;
      }
    }
  }
}
