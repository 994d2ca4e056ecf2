/**
 * HTTP/1.1 over a plain TCP connection, for requests `fetch` refuses to send: raw bytes in header values
 * (UTF-8, obs-text, control characters), repeated headers, lying `Content-Length`, stalled requests.
 *
 * Every request is sent with `Connection: close` unless the caller writes its own bytes, and read until a
 * whole response arrived or the server closed the connection, so one call is one exchange.
 *
 * @module
 */

/** What the server sent back. */
export interface RawResponse {
  /** The status code of the status line. */
  status: number;
  /** Header lines in the order received, names lower-cased. */
  headers: [string, string][];
  /** The body, decoded as Latin-1. */
  body: string;
  /** Everything received, decoded as Latin-1 (byte for byte). */
  raw: string;
}

/** A header value: a string of code points up to U+00FF (sent byte for byte) or raw bytes. */
export type HeaderValue = string | Uint8Array;

/** Encodes a string whose code points are all below 256 as one byte each (what HTTP/1.1 puts on the wire). */
export function latin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw new RangeError(`not a Latin-1 string: U+${code.toString(16)} at ${i}`);
    bytes[i] = code;
  }
  return bytes;
}

/** Decodes bytes one code point per byte, as Deno does for header values. */
export function fromLatin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}

/** Builds `METHOD path HTTP/1.1` with `Host` and `Connection: close`, the given headers, then `body`. */
export function buildRequest(
  method: string,
  path: string,
  headers: [string, HeaderValue][] = [],
  body: HeaderValue = "",
): Uint8Array {
  const parts: Uint8Array[] = [latin1(`${method} ${path} HTTP/1.1\r\n`)];
  const all: [string, HeaderValue][] = [["host", "127.0.0.1"], ...headers, ["connection", "close"]];
  for (const [name, value] of all) {
    parts.push(latin1(`${name}: `), typeof value === "string" ? latin1(value) : value, latin1("\r\n"));
  }
  parts.push(latin1("\r\n"), typeof body === "string" ? latin1(body) : body);
  return concat(parts);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/**
 * Sends `request` (bytes, or a string of Latin-1 code points) to 127.0.0.1:`port` and reads the response (see
 * {@linkcode readResponse}). Resolves `undefined` when the server closed the connection without a byte.
 *
 * `signal` bounds the exchange: when it aborts, the connection is closed and the promise rejects.
 */
export async function rawRequest(
  port: number,
  request: HeaderValue,
  options: { signal?: AbortSignal; maxBytes?: number } = {},
): Promise<RawResponse | undefined> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  // The server may answer (and close) before it has read a large request; keep reading regardless.
  const writing = writeAll(conn, typeof request === "string" ? latin1(request) : request).catch(() => {});
  try {
    return await readResponse(conn, options);
  } finally {
    await writing;
  }
}

function isComplete(raw: string): boolean {
  const end = raw.indexOf("\r\n\r\n");
  if (end === -1) return false;
  const length = raw.slice(0, end).match(/\r\ncontent-length: *(\d+)/i)?.[1];
  return length !== undefined && raw.length - (end + 4) >= Number(length);
}

/**
 * Reads from `conn` until it holds a whole response with a `Content-Length`, or until the server closes it;
 * then closes it too. Resolves `undefined` when nothing came.
 * `signal` bounds the wait: when it aborts, the connection is closed and the promise rejects.
 */
export async function readResponse(
  conn: Deno.Conn,
  { signal, maxBytes = 4 * 1024 * 1024 }: { signal?: AbortSignal; maxBytes?: number } = {},
): Promise<RawResponse | undefined> {
  let aborted = false;
  const close = () => {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };
  const abort = () => {
    aborted = true;
    close();
  };
  signal?.addEventListener("abort", abort, { once: true });
  const chunks: Uint8Array[] = [];
  try {
    const buffer = new Uint8Array(64 * 1024);
    let size = 0;
    while (size <= maxBytes) {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch (error) {
        if (aborted) break;
        // A reset after a complete answer still counts as the answer.
        if (error instanceof Deno.errors.ConnectionReset && size > 0) break;
        throw error;
      }
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
      size += n;
      // A whole response with a Content-Length is enough: the server may keep the connection open (for
      // example while it waits for the rest of a request body it will never read).
      if (isComplete(fromLatin1(concat(chunks)))) break;
    }
  } finally {
    signal?.removeEventListener("abort", abort);
    close();
  }
  if (aborted) throw new Error(`no complete answer: ${signal?.reason?.message ?? signal?.reason}`);
  if (chunks.length === 0) return undefined;
  return parseResponse(fromLatin1(concat(chunks)));
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) offset += await conn.write(bytes.subarray(offset));
}

/** Parses one HTTP/1.1 response (the body as received, not de-chunked). */
export function parseResponse(raw: string): RawResponse {
  const end = raw.indexOf("\r\n\r\n");
  const head = end === -1 ? raw : raw.slice(0, end);
  const [statusLine, ...lines] = head.split("\r\n");
  const status = Number(statusLine.match(/^HTTP\/1\.[01] (\d{3})/)?.[1] ?? NaN);
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
  });
  return { status, headers, body: end === -1 ? "" : raw.slice(end + 4), raw };
}

/** The value of the first header `name` of a response. */
export function header(response: RawResponse, name: string): string | undefined {
  return response.headers.find(([key]) => key === name)?.[1];
}

/** Opens a connection, writes `request` (perhaps unfinished), and leaves it open: read it with `readResponse`. */
export async function stalledConnection(port: number, request: HeaderValue): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, typeof request === "string" ? latin1(request) : request);
  return conn;
}
