/**
 * The command-line flags of `deno task viewer` and `deno task demo`, parsed with `node:util`'s `parseArgs`
 * from one definition each: every flag's default and help text are written once, numbers are validated
 * once, and `--help` and the usage line on a mistake are made from the same definition (as is the table in
 * `viewer/README.md`, which a test checks).
 *
 * ```ts
 * import { parseFlags } from "./flags.ts";
 * const flags = { port: { default: 4318, max: 65535, help: "the port" } };
 * parseFlags(flags, ["--port", "0"]); // { port: 0 }
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

/** A flag taking a whole number. */
export interface NumberFlag {
  /** The value when the flag is not given. */
  default: number;
  /** The smallest value accepted (default 0). */
  min?: number;
  /** The largest value accepted (default none). */
  max?: number;
  /** What the flag does, in a few words: shown by `--help` and in the README's table. */
  help: string;
}

/** A flag that is on when given. */
export interface BooleanFlag {
  /** Always off when not given. */
  default: false;
  /** What the flag does, in a few words. */
  help: string;
}

/** The flags of a command, by name (without the `--`). */
export type FlagDefinitions = Record<string, NumberFlag | BooleanFlag>;

/** The values of parsed flags: numbers for number flags, booleans for boolean ones. */
export type FlagValues<D extends FlagDefinitions> = {
  [K in keyof D]: D[K] extends BooleanFlag ? boolean : number;
};

/** A flag given wrongly: its message says which and why. */
export class FlagError extends Error {
  /** Always `FlagError`. */
  override name = "FlagError";
}

/** A port: 0 picks a free one. */
export const PORT = { min: 0, max: 65535 } as const;

/**
 * Parses `args` by `definitions`.
 *
 * @throws {FlagError} for an unknown flag, a missing value or a number out of its range.
 */
export function parseFlags<D extends FlagDefinitions>(definitions: D, args: string[]): FlagValues<D> {
  let values;
  try {
    values = parseArgs({
      args,
      options: Object.fromEntries(
        Object.entries(definitions).map((
          [name, flag],
        ) => [name, { type: isBoolean(flag) ? "boolean" : "string" }]),
      ) as Record<string, { type: "boolean" | "string" }>,
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new FlagError((error as Error).message.split("\n")[0]);
  }
  const result: Record<string, number | boolean> = {};
  for (const [name, flag] of Object.entries(definitions)) {
    const value = values[name];
    if (isBoolean(flag)) result[name] = value === true;
    else result[name] = value === undefined ? flag.default : wholeNumber(name, flag, String(value));
  }
  return result as FlagValues<D>;
}

/** The usage text of `command`: one line per flag with its default and help. */
export function usage(command: string, definitions: FlagDefinitions): string {
  const lines = Object.entries(definitions).map(([name, flag]) => {
    const left = isBoolean(flag) ? `--${name}` : `--${name} ${flag.default}`;
    return `  ${left.padEnd(22)} ${flag.help}`;
  });
  return [`usage: ${command} [flags]`, ...lines, `  ${"--help".padEnd(22)} shows this`].join("\n");
}

/** The rows of the README's flag table for `definitions`: flag, default, help. */
export function tableRows(definitions: FlagDefinitions): [string, string, string][] {
  return Object.entries(definitions).map((
    [name, flag],
  ) => [`\`--${name}\``, isBoolean(flag) ? "off" : String(flag.default), flag.help]);
}

/**
 * Parses the flags of an entry point, or, for `--help`, prints the usage and exits 0, and for a mistake
 * prints it with the usage and exits 2.
 */
export function flagsOrExit<D extends FlagDefinitions>(
  command: string,
  definitions: D,
  args: string[] = Deno.args,
): FlagValues<D> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usage(command, definitions));
    Deno.exit(0);
  }
  try {
    return parseFlags(definitions, args);
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    console.error(`${command.split(" ").at(-1)}: ${error.message}\n${usage(command, definitions)}`);
    Deno.exit(2);
  }
}

function isBoolean(flag: NumberFlag | BooleanFlag): flag is BooleanFlag {
  return typeof flag.default === "boolean";
}

function wholeNumber(name: string, { min = 0, max }: NumberFlag, value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || (max !== undefined && number > max)) {
    const range = max === undefined ? `${min} or more` : `from ${min} to ${max}`;
    throw new FlagError(`--${name} takes a whole number ${range}, got ${JSON.stringify(value)}`);
  }
  return number;
}
