/**
 * How the web view's JSON answers are bounded: each in characters after JSON escaping (records are taken
 * while they fit, and the answer says what it left out), and all of them together in what they hold while
 * clients read them. An answer is sent as a stream of chunks that the HTTP server pulls as the client
 * reads; the answers being sent share one budget of characters, past which a new answer is refused with
 * 503 and `Retry-After`, and an answer not read within a deadline is ended, so that clients that never
 * read hold at most the budget between them.
 *
 * @module
 */

/** The default bound of one answer: 16 Mi characters of JSON. */
export const DEFAULT_MAX_ANSWER_CHARS = 16 * 1024 * 1024;

/** The default budget of the answers being sent at once: 64 Mi characters, four of the largest. */
export const DEFAULT_MAX_SENDING_CHARS = 64 * 1024 * 1024;

/** The default time a client has to read an answer before it is ended: 30 s. */
export const DEFAULT_SEND_TIMEOUT_MS = 30_000;

/** Characters encoded and handed to the HTTP server at a time. */
const CHUNK_CHARS = 64 * 1024;

/** A number of characters of JSON to fill: records are taken while they fit, the rest left out. */
export class AnswerBudget {
  /** Whether a record was left out. */
  full = false;
  #chars: number;

  /** A budget of `chars` characters. */
  constructor(chars: number) {
    this.#chars = chars;
  }

  /** The JSON of the first `records` that fit (each with its comma); once one does not, none after it. */
  take<T>(records: Iterable<T>, encode: (record: T) => string): string[] {
    const parts: string[] = [];
    for (const record of records) {
      if (this.full) break;
      const text = encode(record);
      if (text.length + 1 > this.#chars) this.full = true;
      else {
        this.#chars -= text.length + 1;
        parts.push(text);
      }
    }
    return parts;
  }
}

/** JSON with bigint nanoseconds as decimal strings, as OTLP/JSON sends them. */
export function stringify(value: unknown): string {
  return JSON.stringify(value, (_key, value) => typeof value === "bigint" ? String(value) : value);
}

/**
 * The JSON of an object whose `fields` are small and whose `lists` may be long: at most about `maxChars`
 * characters, the lists filled in order while they fit, and `truncated` (`{<list>: <left out>, …, reason}`)
 * when something was left out.
 */
export function boundedJson(
  fields: Record<string, unknown>,
  lists: Record<string, readonly unknown[]>,
  maxChars: number,
): string {
  const head = stringify(fields).slice(1, -1);
  const budget = new AnswerBudget(maxChars - head.length - 400);
  const parts = head === "" ? [] : [head];
  const left: Record<string, number> = {};
  for (const [name, list] of Object.entries(lists)) {
    const kept = budget.take(list, stringify);
    parts.push(`${JSON.stringify(name)}:[${kept.join(",")}]`);
    if (kept.length < list.length) left[name] = list.length - kept.length;
  }
  if (budget.full) {
    const reason = `an answer holds at most ${maxChars} characters: ` +
      Object.entries(left).map(([name, count]) => `${count} ${name}`).join(", ") + " left out";
    parts.push(`"truncated":${JSON.stringify({ ...left, reason })}`);
  }
  return `{${parts.join(",")}}`;
}

/** Options of {@linkcode AnswerSender}. */
export interface AnswerSenderOptions {
  /** The most characters of the answers being sent at once (default {@linkcode DEFAULT_MAX_SENDING_CHARS}). */
  maxSendingChars?: number;
  /** How long a client has to read an answer (default {@linkcode DEFAULT_SEND_TIMEOUT_MS}). */
  sendTimeoutMs?: number;
}

/**
 * Sends answers as streams, within one budget of characters for all the answers being sent: what clients
 * that read slowly, or never, can hold of the viewer's memory.
 */
export class AnswerSender {
  /** The budget of all answers being sent. */
  readonly maxSendingChars: number;
  /** How long a client has to read an answer. */
  readonly sendTimeoutMs: number;
  #sending = 0;
  #open = new Set<() => void>();

  /** A sender within `maxSendingChars`, each answer ended after `sendTimeoutMs`. */
  constructor(
    { maxSendingChars = DEFAULT_MAX_SENDING_CHARS, sendTimeoutMs = DEFAULT_SEND_TIMEOUT_MS }:
      AnswerSenderOptions = {},
  ) {
    this.maxSendingChars = maxSendingChars;
    this.sendTimeoutMs = sendTimeoutMs;
  }

  /** The characters of the answers being sent now, and of the room reserved for those being made. */
  get sending(): number {
    return this.#sending;
  }

  /**
   * Reserves room for an answer of at most `chars` while it is made (making it costs about its size too),
   * or returns `undefined` when the budget has none: answer {@linkcode busy} then. Hand the reservation to
   * {@linkcode send}, or give it back with {@linkcode release}.
   */
  reserve(chars: number): { chars: number } | undefined {
    if (this.#sending > 0 && this.#sending + chars > this.maxSendingChars) return undefined;
    this.#sending += chars;
    return { chars };
  }

  /** Gives back a reservation of {@linkcode reserve} (once; again does nothing). */
  release(reservation: { chars: number }): void {
    this.#sending -= reservation.chars;
    reservation.chars = 0;
  }

  /** The answer when there is no room: 503 with `Retry-After`, saying why. */
  busy(headers: Record<string, string>): Response {
    return new Response(
      stringify({
        error:
          `busy: the viewer is sending ${this.#sending} characters of answers to clients that have not ` +
          `read them yet (at most ${this.maxSendingChars}); try again shortly`,
      }),
      { status: 503, headers: { ...headers, "retry-after": "1" } },
    );
  }

  /**
   * `body` as a response with `headers`, streamed in chunks as the client reads it; or, unless room was
   * reserved for it, 503 with `Retry-After` when the answers being sent would pass the budget with it.
   */
  send(
    status: number,
    body: string,
    headers: Record<string, string>,
    reservation?: { chars: number },
  ): Response {
    if (reservation !== undefined) this.release(reservation);
    else if (this.#sending > 0 && this.#sending + body.length > this.maxSendingChars) {
      return this.busy(headers);
    }
    this.#sending += body.length;
    let offset = 0, done = false;
    const encoder = new TextEncoder();
    const finish = () => {
      if (done) return;
      done = true;
      this.#sending -= body.length;
      clearTimeout(timer);
      this.#open.delete(end);
    };
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const end = () => {
      finish();
      try {
        controller.error(new Error("the answer was not read in time"));
      } catch {
        // Already closed.
      }
    };
    const timer = setTimeout(end, this.sendTimeoutMs);
    this.#open.add(end);
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => void (controller = c),
      pull: (c) => {
        if (done) return;
        let to = offset + CHUNK_CHARS;
        // A surrogate pair is not split between chunks (each would be encoded as U+FFFD).
        const last = body.charCodeAt(to - 1);
        if (to < body.length && last >= 0xd800 && last <= 0xdbff) to++;
        c.enqueue(encoder.encode(body.slice(offset, to)));
        offset = to;
        if (offset >= body.length) {
          finish();
          c.close();
        }
      },
      cancel: finish,
    }, { highWaterMark: 0 });
    return new Response(stream, { status, headers });
  }

  /** Ends every answer being sent. */
  close(): void {
    for (const end of [...this.#open]) end();
  }
}
