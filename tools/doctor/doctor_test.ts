import assert from "node:assert/strict";
import { OTEL_VARIABLES, otelRisks, otelWarnings } from "./doctor.ts";
import { runDoctor } from "@example/harness/processes";
import { denoRunOf, permissionFlags } from "@example/harness/tasks";

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
      }: the telemetry will not arrive there`,
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

Deno.test("a protocol on the other protocol's port is warned about, for either endpoint variable", () => {
  assert.deepEqual(
    otelWarnings(env({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" })),
    [
      "OTEL_EXPORTER_OTLP_PROTOCOL=grpc with OTEL_EXPORTER_OTLP_ENDPOINT on port 4318, the OTLP/HTTP port: " +
      "nothing will arrive (gRPC is port 4317)",
    ],
  );
  assert.match(
    otelWarnings(env({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4317/v1/traces" }))[0],
    /^OTEL_EXPORTER_OTLP_PROTOCOL=http\/protobuf with OTEL_EXPORTER_OTLP_TRACES_ENDPOINT on port 4317/,
  );
  assert.deepEqual(
    otelWarnings(env({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317" })),
    [],
  );
  assert.deepEqual(otelWarnings(env({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" })), []);
});

Deno.test("a sampling ratio outside 0..1 is warned about, with what Deno does instead", () => {
  for (const ratio of ["0", "1", "0.25", "1.0", ".5"]) {
    assert.deepEqual(otelWarnings(env({ OTEL_TRACES_SAMPLER_ARG: ratio })), [], ratio);
  }
  const warning = (ratio: string) => otelWarnings(env({ OTEL_TRACES_SAMPLER_ARG: ratio }));
  assert.deepEqual(warning("1.5"), [
    'OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got "1.5": Deno keeps every trace',
  ]);
  assert.match(warning("-0.1")[0], /got "-0\.1": Deno keeps no trace$/);
  assert.match(warning("10%")[0], /got "10%": Deno ignores it and keeps every trace$/);
});

Deno.test("OTEL_VARIABLES names every variable otelWarnings reads", () => {
  const read = new Set<string>();
  otelWarnings((name) => (read.add(name), undefined));
  assert.deepEqual([...read].sort(), [...OTEL_VARIABLES].sort());
});

Deno.test("deno task doctor may read exactly OTEL_VARIABLES, prints one line per finding and exits 1, else 0", async () => {
  assert.deepEqual(permissionFlags(denoRunOf("doctor")), [`--allow-env=${OTEL_VARIABLES.join(",")}`]);
  const bad = await runDoctor({ OTEL_PROPAGATORS: "b3", OTEL_TRACES_SAMPLER_ARG: "2" });
  assert.equal(bad.code, 1, bad.stderr);
  assert.deepEqual(bad.stdout.trimEnd().split("\n"), [
    'warning: OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got "2": Deno keeps every trace',
    "warning: OTEL_PROPAGATORS=b3 has no tracecontext (Deno knows only tracecontext and baggage): " +
    "traces will not join across services",
  ]);
  const good = await runDoctor({
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
    OTEL_PROPAGATORS: "tracecontext",
  });
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /^OpenTelemetry settings: nothing found that loses traces/);
});

Deno.test("the doctor names the baggage risk in one line while Deno's baggage propagator is on", async () => {
  for (const propagators of [undefined, "tracecontext,baggage", " baggage , tracecontext"]) {
    const lines = otelRisks(env(propagators === undefined ? {} : { OTEL_PROPAGATORS: propagators }));
    assert.equal(lines.length, 1, String(propagators));
    assert.match(lines[0], /bad percent-escape .*OTEL_PROPAGATORS=tracecontext$/);
  }
  assert.deepEqual(otelRisks(env({ OTEL_PROPAGATORS: "tracecontext" })), []);
  // A risk is not a loss of traces: one line, and the exit code stays 0.
  const run = await runDoctor({});
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.split("\n").filter((line) => line.startsWith("risk: ")).length, 1, run.stdout);
});
