/**
 * The example's client: one `fetch` to the server inside a `call-api` span. Deno opens the fetch's CLIENT span
 * and sends the trace in its `traceparent` header, so both programs' spans form one trace. Run it with
 * `OTEL_DENO=true OTEL_SERVICE_NAME=client deno run --allow-net client.ts`.
 * @module
 */
import { SpanStatusCode, trace } from "@opentelemetry/api";

const tracer = trace.getTracer("api-client", "1.0.0");

/**
 * `GET url` inside a new active span `call-api`, as in the tutorial, plus what a real service needs: the
 * answer and its whole body must arrive within `timeoutMs`, the body may be at most `maxBytes`, and no
 * redirect is followed (the trace headers go to no other host). A failure is recorded on the span, and thrown.
 */
export function callApi(url: string | URL, { timeoutMs = 5000, maxBytes = 2 ** 20 } = {}): Promise<Answer> {
  return tracer.startActiveSpan("call-api", async (span) => {
    const { traceId } = span.spanContext();
    try {
      const signal = AbortSignal.timeout(timeoutMs); // one deadline for the answer and its body
      const response = await fetch(url, { signal, redirect: "manual" }).catch((error) => {
        throw failure(error, `no answer from ${url} within ${timeoutMs} ms`, `cannot reach ${url}`);
      });
      span.addEvent("received_response", { "http.response.status_code": response.status });
      const body = await readJson(response, { url, timeoutMs, maxBytes });
      return { body, traceId };
    } catch (error) {
      const callError = new CallError((error as Error).message, traceId);
      span.recordException(callError);
      span.setStatus({ code: SpanStatusCode.ERROR, message: callError.message });
      throw callError;
    } finally {
      span.end();
    }
  });
}

/** A failed call: its message says what happened in one line; `traceId` names the call's trace. */
export class CallError extends Error {
  /** A failed call, in the trace `traceId`; `name` is `CallError`, the span's `exception.type`. */
  constructor(message: string, readonly traceId: string) {
    super(message);
    this.name = "CallError";
  }
}

/** What {@linkcode callApi} returns: the JSON body of the 2xx answer, and the trace id of the call. */
export type Answer = { body: unknown; traceId: string };

/** What a call may take: one deadline for the answer and its body, and the most bytes of the body. */
type Limits = { url: string | URL; timeoutMs: number; maxBytes: number };

/** The JSON body of a 2xx answer within `limits`, like `response.json()`; anything else throws, in one line. */
async function readJson(response: Response, limits: Limits): Promise<unknown> {
  const declared = Number(response.headers.get("content-length"));
  if (!response.ok || declared > limits.maxBytes) {
    await response.body?.cancel();
    if (response.ok) throw new Error(`${tooLarge(limits)} (Content-Length: ${declared})`);
    throw new Error(`${limits.url} answered ${response.status} ${response.statusText}`); // 3xx: not followed
  }
  const text = await readCounted(response.body, limits);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${limits.url} answered ${response.status} with a body that is not JSON`);
  }
}

/** The body as text, its bytes counted as they arrive (inflated: a gzip bomb stops too), at most `maxBytes`. */
async function readCounted(body: ReadableStream<Uint8Array<ArrayBuffer>> | null, limits: Limits) {
  const { url, timeoutMs, maxBytes } = limits;
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let size = 0;
  try {
    for await (const chunk of body ?? []) {
      if ((size += chunk.byteLength) > maxBytes) throw new Error(tooLarge(limits));
      chunks.push(chunk);
    }
  } catch (error) {
    if (size > maxBytes) throw error;
    const late = `the answer of ${url} was not complete within ${timeoutMs} ms (${size} bytes received)`;
    throw failure(error as Error, late, `the answer of ${url} broke off after ${size} bytes`);
  }
  return await new Blob(chunks).text();
}

const tooLarge = ({ url, maxBytes }: Limits) =>
  `${url} answered more than ${maxBytes} bytes (MAX_RESPONSE_BYTES): not read`;

/** A failed step in one line: `late` past the deadline, else `broken` and the reason (Deno 2.9: in the cause). */
function failure(error: Error, late: string, broken: string): Error {
  const reason = (error.cause instanceof Error ? error.cause : error).message.split("): ").pop();
  return new Error(error.name === "TimeoutError" ? late : `${broken}: ${reason}`);
}

const unread: string[] = [];
/** Variable `name`, or `undefined` if unset or not allowed: asked first, as reading without leave prompts. */
function env(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  if (state === "granted") return Deno.env.get(name)?.trim() || undefined;
  unread.push(name);
}

/** The whole number in variable `name`, or `fallback`; any other value stops the client (exit code 2). */
function wholeNumber(name: string, fallback: number, max: number): number {
  const value = env(name) ?? String(fallback);
  if (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= max) return Number(value);
  console.error(`Client: ${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(value)}`);
  Deno.exit(2);
}

/** The http(s) URL in variable `name`, or `fallback`; any other value stops the client (exit code 2). */
function httpUrl(name: string, fallback: string): URL {
  const value = env(name) ?? fallback;
  if (/^https?:\/\//i.test(value) && URL.canParse(value)) return new URL(value);
  console.error(`Client: ${name} must be an http:// or https:// URL, got ${JSON.stringify(value)}`);
  Deno.exit(2);
}

// What the server sent is printed: what a terminal acts on or shows as another text (C1, bidi) is escaped.
const escaped = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
const print = (line: string, to = console.log) => to(line.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, escaped));

/** Prints the trace id with links to it in Grafana (`grafana`), or says that tracing is off. */
function printTrace(traceId: string, grafana: string): void {
  if (/^0+$/.test(traceId)) return print("trace id: none (tracing is off; run with OTEL_DENO=true)");
  const tempo = { type: "tempo", uid: "tempo" };
  const query = { refId: "A", datasource: tempo, queryType: "traceql", query: traceId };
  const panes = { trace: { datasource: "tempo", queries: [query], range: { from: "now-1h", to: "now" } } };
  const search = new URLSearchParams({ schemaVersion: "1", orgId: "1", panes: JSON.stringify(panes) });
  print(`trace id: ${traceId}`);
  print(`Grafana:  ${grafana}/explore?${search}`);
  print(`Dashboard: ${grafana}/d/deno-services (rate, errors and latency per route; traces; logs)`);
}

if (import.meta.main) {
  const url = httpUrl("SERVER_URL", "http://localhost:8000/");
  const timeoutMs = wholeNumber("REQUEST_TIMEOUT_MS", 5000, 600_000);
  const maxBytes = wholeNumber("MAX_RESPONSE_BYTES", 1_048_576, 1_073_741_824);
  const grafana = httpUrl("GRAFANA_URL", "http://localhost:3000").href.replace(/\/$/, "");
  if (unread.length > 0) console.error(`Client: no --allow-env=${unread.join()}: using the defaults`);
  try {
    const { body, traceId } = await callApi(url, { timeoutMs, maxBytes });
    print(`Client: received ${JSON.stringify(body)}`);
    printTrace(traceId, grafana);
  } catch (error) {
    if (!(error instanceof CallError)) throw error;
    print(`Client: ${error.message}`, console.error);
    printTrace(error.traceId, grafana);
    Deno.exitCode = 1;
  }
}
