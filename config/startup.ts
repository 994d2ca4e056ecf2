/**
 * What both programs of the example say before they start: one line for settings they cannot read, one
 * line for each OpenTelemetry setting that loses telemetry, and one line (exit code 2) for a bad setting.
 *
 * @module
 */
import { ConfigError, unreadableNotice } from "./env.ts";
import { otelWarnings } from "./otel_env.ts";

/**
 * The lines `program` prints on stderr as it starts: a notice when some of `variables` are not readable (no
 * `--allow-env` for them), then the warnings of {@linkcode otelWarnings}.
 */
export function startupNotices(program: string, variables: readonly string[], detail?: string): string[] {
  const notice = unreadableNotice(program, variables, detail);
  return [
    ...(notice === undefined ? [] : [notice]),
    ...otelWarnings().map((warning) => `${program}: warning: ${warning}`),
  ];
}

/**
 * Returns `read()`, or prints its {@linkcode ConfigError} as one line and exits with code 2.
 *
 * @param program the name the line starts with, e.g. `Server`.
 */
export function configOrExit<T>(program: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${program}: ${error.message}`);
    Deno.exit(2);
  }
}
