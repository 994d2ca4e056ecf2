/**
 * Checks the OpenTelemetry settings that Deno accepts without a word but that lose or split every trace: an
 * export endpoint that is not a URL, one that already names a signal's path, and propagators without
 * `tracecontext`. Deno itself refuses only an unknown protocol or sampler.
 *
 * @module
 */
import { readEnv } from "./env.ts";

/**
 * Returns one line for each setting that will silently lose or split traces; empty when all is well or the
 * variables are not readable (no `--allow-env` for them).
 */
export function otelWarnings(env: (name: string) => string | undefined = readEnv): string[] {
  const warnings: string[] = [];
  const endpoint = env("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (endpoint !== undefined) {
    const url = URL.canParse(endpoint) ? new URL(endpoint) : undefined;
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
      warnings.push(
        `OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}: ` +
          "Deno will export nothing",
      );
    } else if (/\/v1\/(traces|logs|metrics)\/?$/.test(url.pathname)) {
      warnings.push(
        `OTEL_EXPORTER_OTLP_ENDPOINT is a base URL, Deno appends /v1/traces to it; got ${
          JSON.stringify(endpoint)
        }`,
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
