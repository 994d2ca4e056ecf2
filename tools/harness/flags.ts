/**
 * The tools' one way to read command-line flags: each flag is defined once, with its default, its bounds and
 * its help text, and from that one definition come the parsing (`node:util` `parseArgs`), the validation of
 * numbers, the `--help` text and the table a README shows.
 *
 * ```ts
 * import { parseFlags } from "./flags.ts";
 * const flags = {
 *   port: { type: "number", default: 4318, min: 0, max: 65535, help: "the port to listen on" },
 *   verbose: { type: "boolean", help: "print more" },
 * } as const;
 * const { values } = parseFlags(flags, ["--port=4000"]);
 * values.port; // 4000
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

/** A flag that takes a number: a whole one unless `fraction` is set, from `min` to `max`. */
export interface NumberFlag {
  /** `"number"`. */
  type: "number";
  /** The value when the flag is not given. */
  default: number;
  /** The smallest value accepted (default 0). */
  min?: number;
  /** The largest value accepted (default `Number.MAX_SAFE_INTEGER`). */
  max?: number;
  /** Whether a fraction such as `0.5` is accepted (default: whole numbers only). */
  fraction?: boolean;
  /** One line on what the flag does. */
  help: string;
}

/** A flag that takes a text, or one of `choices`. */
export interface StringFlag {
  /** `"string"`. */
  type: "string";
  /** The value when the flag is not given (none: `undefined`). */
  default?: string;
  /** The only values accepted, when there is such a list. */
  choices?: readonly string[];
  /** One line on what the flag does. */
  help: string;
}

/** A flag that takes a comma-separated list of numbers within `min` and `max`. */
export interface NumberListFlag {
  /** `"numbers"`. */
  type: "numbers";
  /** The list when the flag is not given. */
  default: readonly number[];
  /** The smallest value accepted (default 0). */
  min?: number;
  /** The largest value accepted (default `Number.MAX_SAFE_INTEGER`). */
  max?: number;
  /** One line on what the flag does. */
  help: string;
}

/** A comma-separated list of texts, each one of `choices` when there is such a list. */
export interface StringListFlag {
  /** `"strings"`. */
  type: "strings";
  /** The list when the flag is not given (none: `undefined`). */
  default?: readonly string[];
  /** The only values accepted, when there is such a list. */
  choices?: readonly string[];
  /** Whether each item is given as a flag of its own (`--env=A=1 --env=B=2`), not split at commas. */
  repeated?: boolean;
  /** One line on what the flag does. */
  help: string;
}

/** A flag that is on when given, off otherwise. */
export interface BooleanFlag {
  /** `"boolean"`. */
  type: "boolean";
  /** One line on what the flag does. */
  help: string;
}

/** Any flag's definition. */
export type Flag = NumberFlag | StringFlag | NumberListFlag | StringListFlag | BooleanFlag;

/** Flags by name (the name is the flag without its `--`). */
export type FlagSpecs = Record<string, Flag>;

/** The parsed value of one flag: a number, a list, a text or a boolean. */
export type ValueOf<F extends Flag> = F extends NumberFlag ? number
  : F extends BooleanFlag ? boolean
  : F extends NumberListFlag ? number[]
  : F extends StringListFlag ? F extends { default: readonly string[] } ? string[] : string[] | undefined
  : F extends { default: string } ? string
  : string | undefined;

/** The parsed values of `S`, each typed by its flag. */
export type FlagValues<S extends FlagSpecs> = { -readonly [K in keyof S]: ValueOf<S[K]> };

/** A flag that was given a value it does not take, or a flag that does not exist. */
export class FlagError extends Error {
  /** `"FlagError"`. */
  override name = "FlagError";
}

function bounds(flag: NumberFlag | NumberListFlag): [number, number] {
  return [flag.min ?? 0, flag.max ?? Number.MAX_SAFE_INTEGER];
}

function toNumber(name: string, flag: NumberFlag | NumberListFlag, text: string): number {
  const [min, max] = bounds(flag);
  const pattern = flag.type === "number" && flag.fraction ? /^-?\d+(\.\d+)?$/ : /^-?\d+$/;
  const value = Number(text);
  if (!pattern.test(text.trim()) || !(value >= min && value <= max)) {
    const kind = flag.type === "number" && flag.fraction ? "a number" : "a whole number";
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw new FlagError(`--${name} takes ${kind} ${range}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function checkChoice(name: string, choices: readonly string[] | undefined, value: string): string {
  if (choices !== undefined && !choices.includes(value)) {
    throw new FlagError(`--${name} takes one of ${choices.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function convert(name: string, flag: Flag, raw: string | boolean | string[] | undefined): unknown {
  if (flag.type === "boolean") return raw === true;
  if (Array.isArray(raw)) {
    return raw.map((item) => checkChoice(name, "choices" in flag ? flag.choices : undefined, item));
  }
  if (raw === undefined) {
    return flag.type === "numbers" || flag.type === "strings" ? flag.default?.slice() : flag.default;
  }
  const text = String(raw);
  switch (flag.type) {
    case "number":
      return toNumber(name, flag, text);
    case "numbers":
      return text.split(",").map((item) => toNumber(name, flag, item));
    case "strings":
      return text.split(",").map((item) => checkChoice(name, flag.choices, item));
    case "string":
      return checkChoice(name, flag.choices, text);
  }
}

/**
 * Parses `args` against `specs`, plus `--help` (`-h`). Every number is validated against its bounds.
 *
 * @throws {FlagError} for an unknown flag, a missing value or a value out of bounds, with a one-line message.
 */
export function parseFlags<S extends FlagSpecs>(
  specs: S,
  args: readonly string[],
  { positionals = false }: { positionals?: boolean } = {},
): { values: FlagValues<S>; help: boolean; positionals: string[] } {
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, flag] of Object.entries(specs)) {
    const multiple = flag.type === "strings" && flag.repeated === true;
    options[name] = { type: flag.type === "boolean" ? "boolean" : "string", multiple };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: positionals });
  } catch (error) {
    throw new FlagError((error as Error).message.split("\n")[0]);
  }
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(specs)) {
    values[name] = convert(name, flag, parsed.values[name] as string | boolean | string[] | undefined);
  }
  return {
    values: values as FlagValues<S>,
    help: parsed.values.help === true,
    positionals: parsed.positionals,
  };
}

function defaultText(flag: Flag): string {
  switch (flag.type) {
    case "boolean":
      return "off";
    case "number":
      return String(flag.default);
    case "numbers":
    case "strings":
      return flag.default?.length ? flag.default.join(",") : "none";
    case "string":
      return flag.default === undefined ? "none" : flag.default === "" ? '""' : flag.default;
  }
}

/** The choices, when they fit in the flag's column of the help text. */
function shortChoices(flag: Flag): string | undefined {
  const choices = "choices" in flag ? flag.choices?.join("|") : undefined;
  return choices !== undefined && choices.length <= 32 ? choices : undefined;
}

function argumentText(name: string, flag: Flag): string {
  switch (flag.type) {
    case "boolean":
      return `--${name}`;
    case "number":
      return `--${name}=N`;
    case "numbers":
      return `--${name}=N,N`;
    case "string":
      return `--${name}=${shortChoices(flag) ?? "TEXT"}`;
    case "strings":
      return flag.repeated ? `--${name}=TEXT ...` : `--${name}=${shortChoices(flag) ?? "A,B"}`;
  }
}

function helpLine(flag: Flag): string {
  const choices = "choices" in flag && flag.choices && !shortChoices(flag)
    ? `; one of ${flag.choices.join(", ")}`
    : "";
  const fallback = defaultText(flag);
  return `${flag.help}${choices}${
    flag.type === "boolean" || fallback === "none" ? "" : ` (default ${fallback})`
  }`;
}

/** The `--help` text of a command: its usage line, then one line per flag with its default. */
export function helpText(usage: string, specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, flag]) => [argumentText(name, flag), helpLine(flag)]);
  const width = Math.max(...rows.map(([argument]) => argument.length));
  return [`usage: ${usage}`, ...rows.map(([argument, help]) => `  ${argument.padEnd(width)}  ${help}`)].join(
    "\n",
  );
}

/** A port: 0 picks a free one. Spread it into a number flag: `{ type: "number", default: 8000, ...PORT }`. */
export const PORT = { min: 0, max: 65535 } as const;

/** The rows of a README's flag table: the flag, its default, what it does. */
export function tableRows(specs: FlagSpecs): [string, string, string][] {
  return Object.entries(specs).map(([name, flag]) => [`\`--${name}\``, defaultText(flag), flag.help]);
}

/** The flags as a Markdown table (flag, default, meaning), for a README; a test keeps the README equal to it. */
export function flagTable(specs: FlagSpecs): string {
  const rows = tableRows(specs).map((cells) => `| ${cells.join(" | ")} |`);
  return ["| flag | default | meaning |", "| --- | --- | --- |", ...rows].join("\n");
}

/**
 * The flags of an entry point (`command` as a user types it, e.g. `deno task viewer`): parsed, or, for
 * `--help`, the help text printed and exit 0, and for a mistake the message and the help text printed to
 * stderr and exit 2.
 */
export function flagsOrExit<S extends FlagSpecs>(
  command: string,
  specs: S,
  args: readonly string[] = Deno.args,
): FlagValues<S> {
  let parsed;
  try {
    parsed = parseFlags(specs, args);
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    console.error(`${command.split(" ").at(-1)}: ${error.message}\n${helpText(`${command} [flags]`, specs)}`);
    Deno.exit(2);
  }
  if (parsed.help) {
    console.log(helpText(`${command} [flags]`, specs));
    Deno.exit(0);
  }
  return parsed.values;
}
