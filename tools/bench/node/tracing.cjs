// The OpenTelemetry SDK for Node.js with HTTP auto-instrumentation, loaded before the server with
// `node --require ./tracing.cjs server.cjs`. Everything else comes from the standard environment variables,
// as in Deno: OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf by
// default), OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_* (still read in SDK 3.x, because no exporter or span
// processor is given here). SDK 3.x needs Node.js 22.15+: the benchmark runs the one pinned in
// package-lock.json (node_modules/.bin/node).
"use strict";

const { NodeSDK } = require("@opentelemetry/sdk-node");
const { HttpInstrumentation } = require("@opentelemetry/instrumentation-http");

const sdk = new NodeSDK({ instrumentations: [new HttpInstrumentation()] });
sdk.start();

// Export what is still queued before the process ends; the server stops listening on the same signals.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    sdk.shutdown().catch((error) => console.error("OpenTelemetry SDK shutdown failed:", error));
  });
}
