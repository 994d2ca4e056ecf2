/**
 * The one check of the example's joined trace, for the tests, `deno task demo` and the stack check alike:
 * client `call-api` (INTERNAL, scope `api-client`, the root) → client HTTP span (CLIENT) → server `GET /`
 * (SERVER) → the handler's span (INTERNAL, scope `api-server`), four spans of two services in one trace.
 *
 * It takes spans in the receiver's shape ({@linkcode Span}); the stack check maps Tempo's answer to it.
 *
 * @module
 */
import type { Span } from "@example/otlp/decode";

/** What the check reads of a span. */
export type JoinedSpan = Pick<Span, "traceId" | "spanId" | "parentSpanId" | "name" | "kind" | "service"> & {
  /** The instrumentation scope; only its name is read. */
  scope: { name: string };
};

/** The four spans of the joined trace, each in its place. */
export interface JoinedTrace<S extends JoinedSpan> {
  /** The client's own span, the root. */
  callApi: S;
  /** Deno's CLIENT span of the fetch. */
  clientGet: S;
  /** Deno's SERVER span of the request, named by server.ts. */
  serverGet: S;
  /** The server handler's own span. */
  handler: S;
}

/** The trace is not the joined trace: the message says what is missing or wrong. */
export class JoinError extends Error {
  /** `"JoinError"`. */
  override name = "JoinError";
}

function describe(span: JoinedSpan): string {
  return `${span.service}/${span.scope.name} "${span.name}" ${span.kind}`;
}

function checkShape(spans: readonly JoinedSpan[], traceId: string): void {
  const services = [...new Set(spans.map((span) => span.service))].sort();
  if (spans.length === 0) throw new JoinError(`no span of trace ${traceId} arrived`);
  if (!services.includes("server")) {
    throw new JoinError(`no span of the server arrived (services: ${services})`);
  }
  if (services.join() !== "client,server") {
    throw new JoinError(`expected the services client and server, found ${services.join(", ")}`);
  }
  const all = spans.map(describe).join("; ");
  if (spans.length !== 4) throw new JoinError(`expected 4 spans, found ${spans.length} (${all})`);
  const stray = spans.find((span) => span.traceId !== traceId);
  if (stray) throw new JoinError(`${describe(stray)} is in trace ${stray.traceId}, not ${traceId}`);
}

function expectParent(child: JoinedSpan, parent: JoinedSpan | undefined): void {
  if (child.parentSpanId === parent?.spanId) return;
  const expected = parent ? `${describe(parent)} (${parent.spanId})` : "none (the root)";
  throw new JoinError(
    `${describe(child)}: its parent is ${child.parentSpanId ?? "none"}, expected ${expected}`,
  );
}

/**
 * Checks that `spans` are the example's joined trace `traceId`, and returns its four spans.
 *
 * @throws {JoinError} naming the first thing that is missing or wrong.
 */
export function checkJoinedTrace<S extends JoinedSpan>(spans: readonly S[], traceId: string): JoinedTrace<S> {
  checkShape(spans, traceId);
  const one = (what: string, match: (span: S) => boolean): S => {
    const found = spans.filter(match);
    if (found.length === 1) return found[0];
    throw new JoinError(`expected one ${what}, found ${found.length} (${spans.map(describe).join("; ")})`);
  };
  const trace = {
    callApi: one(
      "client span call-api (INTERNAL, scope api-client)",
      (s) =>
        s.service === "client" && s.name === "call-api" && s.kind === "INTERNAL" &&
        s.scope.name === "api-client",
    ),
    clientGet: one("client HTTP span (CLIENT)", (s) => s.service === "client" && s.kind === "CLIENT"),
    serverGet: one(
      'server HTTP span "GET /" (SERVER)',
      (s) => s.service === "server" && s.kind === "SERVER" && s.name === "GET /",
    ),
    handler: one(
      "server handler span (INTERNAL, scope api-server)",
      (s) => s.service === "server" && s.kind === "INTERNAL" && s.scope.name === "api-server",
    ),
  };
  expectParent(trace.callApi, undefined);
  expectParent(trace.clientGet, trace.callApi);
  expectParent(trace.serverGet, trace.clientGet);
  expectParent(trace.handler, trace.serverGet);
  return trace;
}
