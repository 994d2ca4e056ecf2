// The example's API server (server.ts) on node:http, for the Node.js side of the benchmark: the same routes,
// the same span around the work of `GET /`, the same route naming of the HTTP SERVER span and the same
// `traceresponse` header. Without `--require ./tracing.cjs` the OpenTelemetry API is a no-op, as it is in Deno
// without OTEL_DENO=true.
//
//   HOST=127.0.0.1 PORT=8000 SIMULATED_WORK_MS=0 node server.cjs
//   OTEL_SERVICE_NAME=server node --require ./tracing.cjs server.cjs
"use strict";

const http = require("node:http");
const { randomUUID } = require("node:crypto");
const { SpanStatusCode, trace } = require("@opentelemetry/api");

const tracer = trace.getTracer("api-server", "1.0.0");

/** Reads a whole number from the environment, like config/env.ts's parseInteger. */
function integer(name, fallback, min, max) {
  const value = process.env[name]?.trim();
  if (value === undefined || value === "") return fallback;
  const number = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    console.error(
      `Server: ${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
    process.exit(2);
  }
  return number;
}

const hostname = process.env.HOST?.trim() || "127.0.0.1";
const port = integer("PORT", 8000, 0, 65535);
const workMs = integer("SIMULATED_WORK_MS", 50, 0, 60_000);

function json(status, body, headers = {}) {
  return { status, body: JSON.stringify(body), headers };
}

const routes = {
  "/": () =>
    tracer.startActiveSpan("process-request", async (span) => {
      try {
        span.addEvent("processing_request", {
          request_id: randomUUID(),
          timestamp: new Date().toISOString(),
        });
        console.log("Server: Processing request in trace context");
        if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs));
        return json(200, { message: "Hello from server!" });
      } finally {
        span.end();
      }
    }),
  "/health": () => json(200, { status: "ok" }),
  "/error": () =>
    tracer.startActiveSpan("process-request", (span) => {
      try {
        throw new Error("simulated failure");
      } catch (error) {
        span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
        console.error(`Server: ${error.message}`);
        return json(500, { error: "simulated failure" });
      } finally {
        span.end();
      }
    }),
};

async function handle(request) {
  // The HTTP SERVER span of the instrumentation, when the SDK is loaded.
  const httpSpan = trace.getActiveSpan();
  const { pathname } = new URL(request.url, "http://localhost");
  const route = Object.hasOwn(routes, pathname) ? routes[pathname] : undefined;
  let response;
  if (route === undefined) {
    response = json(404, { error: "not found" });
  } else {
    httpSpan?.setAttribute("http.route", pathname);
    httpSpan?.updateName(`${request.method} ${pathname}`);
    response = request.method === "GET"
      ? await route()
      : json(405, { error: "method not allowed" }, { allow: "GET" });
  }
  const context = httpSpan?.spanContext();
  if (context && trace.isSpanContextValid(context)) {
    const flags = context.traceFlags.toString(16).padStart(2, "0");
    response.headers.traceresponse = `00-${context.traceId}-${context.spanId}-${flags}`;
  }
  return response;
}

const server = http.createServer((request, response) => {
  handle(request).then(({ status, body, headers }) => {
    response.writeHead(status, { "content-type": "application/json", ...headers });
    response.end(body);
  }, (error) => {
    console.error("Server: unexpected error:", error);
    response.writeHead(500, { "content-type": "application/json" });
    response.end(JSON.stringify({ error: "internal server error" }));
  });
});

server.listen(port, hostname, () => {
  const address = server.address();
  console.log(`Server listening on http://${address.address}:${address.port}/`);
});

// Graceful stop: no new connections, idle keep-alive connections closed; the process then ends on its own
// (tracing.cjs flushes the SDK on the same signals).
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    console.log("Server: shutting down");
    server.close();
    server.closeIdleConnections();
  });
}
