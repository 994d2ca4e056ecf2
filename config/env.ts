/**
 * Reading configuration from the environment, the way both programs of the example need it: without
 * `--allow-env` every variable falls back to its default (no crash, no permission prompt), and a bad value
 * becomes a {@linkcode ConfigError} whose message fits on one line.
 *
 * @module
 */

/** A configuration value that cannot be used; its message is meant to be printed as it is. */
export class ConfigError extends Error {
  /** Always `"ConfigError"`. */
  override name = "ConfigError";
}

/**
 * Returns the environment variable `name`, or `undefined` when it is unset, empty, or not readable because
 * the program runs without `--allow-env` for it. Never prompts for the permission.
 */
export function readEnv(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  if (state !== "granted") return undefined;
  const value = Deno.env.get(name)?.trim();
  return value === "" ? undefined : value;
}

/**
 * Parses `value` (read from the variable `name`) as a whole number from `min` to `max`, or returns
 * `fallback` when it is `undefined`.
 *
 * @throws {ConfigError} when the value is not a whole number in range.
 */
export function parseInteger(
  name: string,
  value: string | undefined,
  { fallback, min, max }: { fallback: number; min: number; max: number },
): number {
  if (value === undefined) return fallback;
  const number = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new ConfigError(
      `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return number;
}

/**
 * Parses `value` (read from the variable `name`) as `true` or `false`, or returns `fallback` when it is
 * `undefined`.
 *
 * @throws {ConfigError} when the value is neither `true` nor `false`.
 */
export function parseBoolean(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === "true" || value === "false") return value === "true";
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(value)}`);
}

/**
 * Parses `value` (read from the variable `name`) as an absolute http(s) URL, or returns `fallback` when it
 * is `undefined`.
 *
 * @throws {ConfigError} when the value is not an http or https URL.
 */
export function parseHttpUrl(name: string, value: string | undefined, fallback: string): URL {
  if (value === undefined) return new URL(fallback);
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new ConfigError(`${name} must be an http:// or https:// URL, got ${JSON.stringify(value)}`);
  }
  return url;
}

/**
 * Returns those of `names` that the program may not read (no `--allow-env` for them): their values, if set,
 * are ignored, and the program should say so rather than use its defaults in silence.
 */
export function unreadable(names: readonly string[]): string[] {
  return names.filter((name) =>
    Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted"
  );
}

/**
 * The one line a program prints when some of its variables are not readable, or `undefined` when all are:
 * `Client: not reading SERVER_URL without --allow-env; using the defaults (calling http://localhost:8000/)`.
 *
 * @param program the name the line starts with, e.g. `Client`.
 * @param names the variables the program reads.
 * @param detail what the defaults mean, e.g. `calling http://localhost:8000/`.
 */
export function unreadableNotice(
  program: string,
  names: readonly string[],
  detail?: string,
): string | undefined {
  const missing = unreadable(names);
  if (missing.length === 0) return undefined;
  return `${program}: not reading ${missing.join(", ")} without --allow-env; using the defaults` +
    (detail === undefined ? "" : ` (${detail})`);
}
