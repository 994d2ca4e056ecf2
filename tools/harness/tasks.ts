/**
 * The tasks of `deno.json`, parsed: what each `deno` command in a task runs, with which permission flags and
 * which variables the task sets in front of it. The harness takes the server's and the client's permissions
 * from here, so that `deno.json` is their one source.
 *
 * `deno.json` is imported as a module, so reading it needs no `--allow-read`.
 *
 * @module
 */
import config from "../../deno.json" with { type: "json" };

/** One command of a task (tasks may chain several with `&&`). */
export interface TaskCommand {
  /** Variables the task sets in front of the command (`OTEL_DENO=true deno run …`). */
  env: Record<string, string>;
  /** The program and its arguments, split on spaces. */
  argv: string[];
}

/** The tasks of `deno.json`, by name, as command lines (a task object gives its `command`). */
export function readTasks(): Record<string, string> {
  const tasks: Record<string, string | { command?: string }> = config.tasks ?? {};
  return Object.fromEntries(
    Object.entries(tasks).map(([name, task]) => [name, typeof task === "string" ? task : task.command ?? ""]),
  );
}

/**
 * Every task of the workspace: the root's by name, and each member's as `<member>/<name>` (`tools/bench/smoke` is
 * `deno task --cwd tools/bench smoke`). Reads the members' `deno.json` files, so it needs `--allow-read` of them.
 */
export function readWorkspaceTasks(): Record<string, string> {
  const all = readTasks();
  for (const member of config.workspace ?? []) {
    const name = member.replace(/^\.\//, "");
    const text = Deno.readTextFileSync(new URL(`../../${name}/deno.json`, import.meta.url));
    const tasks: Record<string, string | { command?: string }> = JSON.parse(text).tasks ?? {};
    for (const [task, value] of Object.entries(tasks)) {
      all[`${name}/${task}`] = typeof value === "string" ? value : value.command ?? "";
    }
  }
  return all;
}

/**
 * Splits a task's command line into its commands (on `&&`, `||`, `;` and `|`) and each into variables and
 * words. Quoting is not supported: a task that needs it fails here, loudly.
 *
 * @throws {Error} when the line quotes or expands anything.
 */
export function parseTask(line: string): TaskCommand[] {
  if (/["'`\\$]/.test(line)) throw new Error(`quoting or expansion in a task is not supported: ${line}`);
  return line.split(/&&|\|\||;|\|/).map((part) => part.trim()).filter((part) => part !== "").map((part) => {
    const words = part.split(/\s+/);
    const env: Record<string, string> = {};
    while (words.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) {
      const [name, ...value] = words.shift()!.split("=");
      env[name] = value.join("=");
    }
    return { env, argv: words };
  });
}

/**
 * The one `deno run` command of task `name`.
 *
 * @throws {Error} when the task does not exist or has no single `deno run`.
 */
export function denoRunOf(name: string): TaskCommand {
  const line = readTasks()[name];
  if (line === undefined) throw new Error(`deno.json has no task ${name}`);
  const runs = parseTask(line).filter(({ argv }) => argv[0] === "deno" && argv[1] === "run");
  if (runs.length !== 1) throw new Error(`task ${name} does not run exactly one program: ${line}`);
  return runs[0];
}

/** The permission flags (`--allow-*`, `--deny-*`, `-A`) of a command. */
export function permissionFlags({ argv }: TaskCommand): string[] {
  return argv.filter((word) => /^(--allow-|--deny-|-A$)/.test(word));
}

/**
 * The `--env-file=…` flags of a command: the task's defaults, which Deno loads without overriding a variable
 * already set.
 */
export function envFileFlags({ argv }: TaskCommand): string[] {
  return argv.filter((word) => word.startsWith("--env-file"));
}

/** The script a `deno run` command runs: its first word after `run` that is not a flag. */
export function scriptOf({ argv }: TaskCommand): string {
  const script = argv.slice(2).find((word) => !word.startsWith("-"));
  if (script === undefined) throw new Error(`no script in: ${argv.join(" ")}`);
  return script;
}
