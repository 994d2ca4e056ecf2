import assert from "node:assert/strict";
import { otelWarnings } from "./otel_env.ts";

const env = (values: Record<string, string>) => (name: string) => values[name];

Deno.test("good or absent OpenTelemetry settings give no warning", () => {
  assert.deepEqual(otelWarnings(env({})), []);
  assert.deepEqual(
    otelWarnings(
      env({
        OTEL_EXPORTER_OTLP_ENDPOINT: "https://otel.example:4318/base",
        OTEL_PROPAGATORS: "tracecontext,baggage",
      }),
    ),
    [],
  );
});

Deno.test("an endpoint that is no http(s) URL, or names a signal's path, is warned about", () => {
  for (const endpoint of ["not a url", "127.0.0.1:4318", "http://127.0.0.1:99999", "ftp://host:4318"]) {
    assert.deepEqual(otelWarnings(env({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint })), [
      `OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL, got ${
        JSON.stringify(endpoint)
      }: Deno will export nothing`,
    ]);
  }
  assert.match(
    otelWarnings(env({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/v1/traces" }))[0],
    /is a base URL/,
  );
});

Deno.test("propagators without tracecontext are warned about", () => {
  assert.equal(otelWarnings(env({ OTEL_PROPAGATORS: "b3, baggage" })).length, 1);
  assert.deepEqual(otelWarnings(env({ OTEL_PROPAGATORS: " tracecontext " })), []);
});
