/**
 * The tasks of `deno.json`, parsed: what each `deno` command in a task runs, with which permission flags and
 * which variables the task sets in front of it.
 *
 * @module
 */

/** One command of a task (tasks may chain several with `&&`). */
export interface TaskCommand {
  /** Variables the task sets in front of the command (`OTEL_DENO=true deno run …`). */
  env: Record<string, string>;
  /** The program and its arguments, split on spaces. */
  argv: string[];
}

const CONFIG = new URL("../deno.json", import.meta.url);

/** The tasks of `deno.json`, by name, as command lines. */
export function readTasks(): Record<string, string> {
  const config = JSON.parse(Deno.readTextFileSync(CONFIG));
  const tasks: Record<string, string | { command?: string }> = config.tasks ?? {};
  return Object.fromEntries(
    Object.entries(tasks).map(([name, task]) => [name, typeof task === "string" ? task : task.command ?? ""]),
  );
}

/**
 * Splits a task's command line into its commands (on `&&`, `||`, `;` and `|`) and each into variables and
 * words. Quoting is not supported: a task that needs it fails here, loudly.
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

/** The one `deno run` command of task `name`. @throws {Error} when the task has no single one. */
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
