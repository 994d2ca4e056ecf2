/**
 * The error plumbing of the client's call: a `fetch` that follows redirects only within the origin it was
 * given, and a body read within the same deadline and under a size limit. Every failure is an `Error` whose
 * message is one line that says what happened; {@linkcode CallError} adds the trace id.
 *
 * @module
 */

/** A failed call: the server could not be reached, did not answer in time, or answered badly. */
export class CallError extends Error {
  /** Always `"CallError"`: the span's `exception.type`. */
  override name = "CallError";
  /** The trace id of the failed call (all zeros when tracing is off). */
  traceId: string;
  /**
   * Creates the error of a failed call.
   *
   * @param message one line that says what happened.
   * @param traceId the trace id of the failed call.
   */
  constructor(message: string, traceId: string, options?: ErrorOptions) {
    super(message, options);
    this.traceId = traceId;
  }
}

/** The deadline of a whole call: the answer and its body. */
export interface Deadline {
  /** Aborts when the time is up (`AbortSignal.timeout(ms)`). */
  signal: AbortSignal;
  /** The time behind `signal`, in milliseconds, for the messages. */
  timeoutMs: number;
}

/** How many same-origin redirects {@linkcode fetchSameOrigin} follows. */
export const MAX_REDIRECTS = 5;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * `GET url` with `fetch`, following redirects only to the same origin (at most {@linkcode MAX_REDIRECTS}):
 * a redirect elsewhere would send that host the trace headers, and its answer is not the server's.
 *
 * @throws {Error} with a one-line message when the server cannot be reached, does not answer before the
 * deadline, or redirects elsewhere.
 */
export async function fetchSameOrigin(
  url: URL,
  { signal, timeoutMs, headers }: Deadline & { headers?: HeadersInit },
): Promise<Response> {
  let current = url;
  for (let redirects = 0;; redirects++) {
    let response: Response;
    try {
      response = await fetch(current, { headers, signal, redirect: "manual" });
    } catch (error) {
      throw new Error(
        _isTimeout(error)
          ? `no answer from ${current} within ${timeoutMs} ms`
          : `cannot reach ${current}: ${_reason(error)}`,
        { cause: error },
      );
    }
    const location = response.headers.get("location");
    if (!REDIRECT_STATUSES.has(response.status) || location === null) return response;
    await response.body?.cancel();
    const target = URL.canParse(location, current) ? new URL(location, current) : undefined;
    if (target === undefined || target.origin !== url.origin) {
      throw new Error(
        `${current} redirected to ${
          target?.origin ?? JSON.stringify(location)
        }, another origin: not followed`,
      );
    }
    if (redirects === MAX_REDIRECTS) {
      throw new Error(`${url} redirected more than ${MAX_REDIRECTS} times: not followed`);
    }
    current = target;
  }
}

/**
 * Reads a 2xx answer's JSON body, at most `maxBytes` of it (counted after decompression), before the deadline
 * of the `fetch` that brought the answer (its signal also ends a body still arriving).
 *
 * @throws {Error} with a one-line message for a non-2xx answer, a body that is too large, late, broken off
 * or not JSON.
 */
export async function readJson(
  response: Response,
  { timeoutMs, maxBytes }: { timeoutMs: number; maxBytes: number },
): Promise<unknown> {
  const url = response.url;
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${url} answered ${response.status} ${response.statusText}`);
  }
  const tooLarge = `${url} answered more than ${maxBytes} bytes (MAX_RESPONSE_BYTES): not read`;
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new Error(`${tooLarge} (Content-Length: ${declared})`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  try {
    for (let chunk = await reader?.read(); chunk && !chunk.done; chunk = await reader!.read()) {
      size += chunk.value.byteLength;
      if (size > maxBytes) break;
      chunks.push(chunk.value);
    }
  } catch (error) {
    await reader?.cancel().catch(() => {});
    throw new Error(
      _isTimeout(error)
        ? `the answer of ${url} was not complete within ${timeoutMs} ms (${size} bytes received)`
        : `the answer of ${url} broke off after ${size} bytes: ${_reason(error)}`,
      { cause: error },
    );
  }
  if (size > maxBytes) {
    await reader?.cancel().catch(() => {});
    throw new Error(tooLarge);
  }
  const bytes = new Uint8Array(size);
  chunks.reduce((offset, chunk) => (bytes.set(chunk, offset), offset + chunk.byteLength), 0);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new Error(`${url} answered ${response.status} with a body that is not JSON`, { cause: error });
  }
}

function _isTimeout(error: unknown): boolean {
  return error instanceof DOMException && error.name === "TimeoutError";
}

/**
 * What went wrong, in one line: Deno 2.9's "fetch failed" keeps the reason (connection refused, no such
 * host) in its cause.
 */
function _reason(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error && /^fetch failed$/i.test(message)) message = cause.message;
  return message
    .replace(/^error sending request for url \([^)]*\): /, "")
    .replace(/^client error \(\w+\): /, "")
    .replaceAll(/\s*\n\s*/g, " ");
}
