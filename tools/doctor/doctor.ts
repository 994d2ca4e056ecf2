/**
 * `deno task doctor`: checks the OpenTelemetry settings that Deno accepts without a word but that lose or
 * split every trace: an export endpoint that is not a URL, one that already names a signal's path, a protocol
 * on the other protocol's port, a sampling ratio outside 0..1, and propagators without `tracecontext`. Deno
 * itself refuses only an unknown protocol or sampler (and stops on `OTEL_EXPORTER_OTLP_COMPRESSION=gzip` or a
 * zero `OTEL_BSP_MAX_QUEUE_SIZE`, before a program can say anything). It prints one line per finding and exits
 * with code 1 when there is any. It also names, in one `risk:` line that leaves the exit code alone, Deno's
 * baggage propagator when it is on (a malformed `baggage` header leaves a request unanswered on Deno 2.9.6).
 *
 * ```sh
 * OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 deno task doctor
 * ```
 *
 * @module
 */

/** Returns variable `name`, or `undefined` when it is unset, empty, or not readable; never prompts. */
function readEnv(name: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
  return Deno.env.get(name)?.trim() || undefined;
}

/** The variables {@linkcode otelWarnings} reads: the `doctor` task's `--allow-env` lists them. */
export const OTEL_VARIABLES = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_PROTOCOL",
  "OTEL_TRACES_SAMPLER_ARG",
  "OTEL_PROPAGATORS",
] as const;

/**
 * Returns one line for each setting that will silently lose or split traces; empty when all is well or the
 * variables are not readable (no `--allow-env` for them).
 */
export function otelWarnings(env: (name: string) => string | undefined = readEnv): string[] {
  const warnings: string[] = [];
  const endpoint = env("OTEL_EXPORTER_OTLP_ENDPOINT");
  const url = endpoint !== undefined && URL.canParse(endpoint) ? new URL(endpoint) : undefined;
  if (endpoint !== undefined) {
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
      warnings.push(
        `OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}: ` +
          "the telemetry will not arrive there",
      );
    } else if (/\/v1\/(traces|logs|metrics)\/?$/.test(url.pathname)) {
      warnings.push(
        `OTEL_EXPORTER_OTLP_ENDPOINT is a base URL, Deno appends /v1/traces to it; got ${
          JSON.stringify(endpoint)
        }`,
      );
    }
  }
  const protocol = env("OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf";
  for (const name of ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]) {
    const value = env(name);
    const port = value !== undefined && URL.canParse(value) ? new URL(value).port : "";
    if (protocol === "grpc" && port === "4318") {
      warnings.push(
        `OTEL_EXPORTER_OTLP_PROTOCOL=grpc with ${name} on port 4318, the OTLP/HTTP port: nothing will ` +
          "arrive (gRPC is port 4317)",
      );
    } else if (protocol.startsWith("http/") && port === "4317") {
      warnings.push(
        `OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} with ${name} on port 4317, the OTLP/gRPC port: nothing ` +
          "will arrive (OTLP/HTTP is port 4318)",
      );
    }
  }
  const ratio = env("OTEL_TRACES_SAMPLER_ARG");
  if (ratio !== undefined) {
    const number = /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/.test(ratio) ? Number(ratio) : NaN;
    if (!(number >= 0 && number <= 1)) {
      const effect = Number.isNaN(number)
        ? "Deno ignores it and keeps every trace"
        : number > 1
        ? "Deno keeps every trace"
        : "Deno keeps no trace";
      warnings.push(
        `OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got ${JSON.stringify(ratio)}: ${effect}`,
      );
    }
  }
  const propagators = env("OTEL_PROPAGATORS");
  if (
    propagators !== undefined && !propagators.split(",").map((name) => name.trim()).includes("tracecontext")
  ) {
    warnings.push(
      `OTEL_PROPAGATORS=${propagators} has no tracecontext (Deno knows only tracecontext and baggage): ` +
        "traces will not join across services",
    );
  }
  return warnings;
}

/**
 * Returns one line when Deno's baggage propagator is on (`OTEL_PROPAGATORS` unset or naming `baggage`): Deno
 * 2.9.6 never answers a request whose `baggage` header has a bad percent-escape, and holds its socket.
 */
export function otelRisks(env: (name: string) => string | undefined = readEnv): string[] {
  const propagators = env("OTEL_PROPAGATORS");
  if (propagators !== undefined && !propagators.split(",").map((name) => name.trim()).includes("baggage")) {
    return [];
  }
  return [
    `OTEL_PROPAGATORS=${
      propagators ?? "(unset: tracecontext,baggage)"
    } reads baggage: Deno never answers a ` +
    "request whose baggage has a bad percent-escape and keeps its socket; a server that needs no baggage: " +
    "OTEL_PROPAGATORS=tracecontext",
  ];
}

if (import.meta.main) {
  const warnings = otelWarnings();
  for (const warning of warnings) console.log(`warning: ${warning}`);
  for (const risk of otelRisks()) console.log(`risk: ${risk}`); // a server's exposure, not a loss of traces
  if (warnings.length > 0) Deno.exit(1);
  console.log(
    `OpenTelemetry settings: nothing found that loses traces (checked ${OTEL_VARIABLES.join(", ")})`,
  );
}
