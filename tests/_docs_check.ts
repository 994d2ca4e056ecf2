/**
 * The mechanical checks of the repository's Markdown, for `tests/docs_test.ts`: a relative link that points
 * nowhere (a file, or a heading's anchor), a `deno task NAME` that names no task, and a paragraph of more
 * than {@linkcode MAX_PARAGRAPH_WORDS} words. Paragraphs are split as the developers' before-stop hook splits
 * them: code fences removed, blocks between blank lines, each list item on its own, tables skipped.
 *
 * @module
 */

/** The most words a paragraph of a guide may have. */
export const MAX_PARAGRAPH_WORDS = 120;

/** Folders never read: dependencies, version control, and test fixtures (which break the rules on purpose). */
const SKIPPED_DIRS = new Set(["node_modules", ".git", "testdata"]);

/** The Markdown files under `root`, as paths relative to it, without those in skipped or git-ignored folders. */
export function markdownFiles(root: URL, dir = ""): string[] {
  const ignored = ignoredDirs(new URL(dir, root));
  const files: string[] = [];
  for (const entry of Deno.readDirSync(new URL(dir || ".", root))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) {
      if (!SKIPPED_DIRS.has(entry.name) && !ignored.has(entry.name)) {
        files.push(...markdownFiles(root, `${path}/`));
      }
    } else if (entry.isFile && entry.name.endsWith(".md")) {
      files.push(path);
    }
  }
  return files.sort();
}

/** The plain folder names a `.gitignore` in `dir` ignores (`results/smoke/` and `node_modules/` forms). */
function ignoredDirs(dir: URL): Set<string> {
  let text = "";
  try {
    text = Deno.readTextFileSync(new URL(".gitignore", dir));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return new Set(
    text.split("\n").map((line) => line.trim()).filter((line) => /^[\w.-]+\/$/.test(line)).map((line) =>
      line.slice(0, -1)
    ),
  );
}

/** Markdown without its code fences (each fenced line left empty, so line numbers hold). */
export function withoutFences(text: string): string {
  let inFence = false;
  return text.split("\n").map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      inFence = !inFence;
      return "";
    }
    return inFence ? "" : line;
  }).join("\n");
}

/** The paragraphs of `text` as the before-stop hook splits them (fences removed, tables skipped). */
export function paragraphs(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, "");
  return prose.split(/\n\s*\n/)
    .flatMap((block) => block.split(/\n(?=\s*(?:[-*]|\d+\.)\s)/))
    .filter((paragraph) => !paragraph.trimStart().startsWith("|"));
}

/** Words: runs of non-space characters. */
export function wordCount(text: string): number {
  return text.match(/\S+/g)?.length ?? 0;
}

/** A paragraph over the limit, as a problem line. */
export function paragraphProblems(file: string, text: string): string[] {
  return paragraphs(text).filter((p) => wordCount(p) > MAX_PARAGRAPH_WORDS).map((p) =>
    `${file}: a paragraph of ${wordCount(p)} words (at most ${MAX_PARAGRAPH_WORDS}): "${
      p.trim().replace(/\s+/g, " ").slice(0, 60)
    }…"`
  );
}

/** The anchors of a Markdown file's headings, as GitHub makes them (`## The web page` → `the-web-page`). */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of withoutFences(text).split("\n")) {
    const heading = line.match(/^#{1,6}\s+(.*?)\s*#*\s*$/)?.[1];
    if (heading === undefined) continue;
    const base = heading.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

/** The link targets of a Markdown file outside code: inline `[text](target)`, images, and `[ref]: target`. */
export function linkTargets(text: string): string[] {
  const prose = withoutFences(text).replace(/`[^`\n]*`/g, "``");
  const inline = [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
  const references = [...prose.matchAll(/^\s{0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]);
  return [...inline, ...references];
}

/** The relative links of `file` (relative to `root`) that point to no file, or to no heading of it. */
export function linkProblems(root: URL, file: string, text: string): string[] {
  const problems: string[] = [];
  for (const target of linkTargets(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: and the like
    const [path, anchor] = target.split("#", 2);
    const url = new URL(path === "" ? file : decodeURI(path), new URL(file, root));
    if (!isInside(url, root)) {
      problems.push(`${file}: the link ${target} leaves the repository`);
      continue;
    }
    const exists = path === "" ? text : statKind(url) === "dir" ? "" : readOrUndefined(url);
    if (exists === undefined) {
      problems.push(`${file}: the link ${target} points to no file`);
    } else if (anchor !== undefined && url.pathname.endsWith(".md") && !anchors(exists).has(anchor)) {
      problems.push(`${file}: the link ${target} points to no heading of ${path || file}`);
    }
  }
  return problems;
}

function isInside(url: URL, root: URL): boolean {
  return url.href.startsWith(root.href) || `${url.href}/` === root.href;
}

function statKind(url: URL): "dir" | "file" | undefined {
  try {
    return Deno.statSync(url).isDirectory ? "dir" : "file";
  } catch {
    return undefined;
  }
}

function readOrUndefined(url: URL): string | undefined {
  try {
    return Deno.readTextFileSync(url);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.IsADirectory) return undefined;
    throw error;
  }
}

/** The tasks of the `deno.json` in `dir` (relative to `root`), or none when it has no `deno.json`. */
export function tasksIn(root: URL, dir: string): Set<string> {
  const text = readOrUndefined(new URL(`${dir}deno.json`, root));
  return new Set(Object.keys(text === undefined ? {} : JSON.parse(text).tasks ?? {}));
}

/**
 * The `deno task NAME` and `deno task --cwd DIR NAME` commands in `file`'s code (fenced or inline) whose task
 * does not exist: NAME must be a task of the root's `deno.json`, of `DIR/deno.json` with `--cwd`, or of the
 * nearest `deno.json` above the file, as `deno task` finds it when run in the file's folder.
 */
export function taskProblems(root: URL, file: string, text: string): string[] {
  const code = [
    ...text.matchAll(/^\s*(```|~~~)[^\n]*\n([\s\S]*?)^\s*\1/gm).map((m) => m[2]),
    ...withoutFences(text).matchAll(/`([^`\n]+)`/g).map((m) => m[1]),
  ].join("\n");
  const rootTasks = tasksIn(root, "");
  const nearest = nearestConfigDir(root, file);
  const problems: string[] = [];
  for (const m of code.matchAll(/\bdeno task(?:[ \t]+--cwd(?:=|[ \t]+)(\S+))?[ \t]+([\w:.-]+)/g)) {
    const [command, cwd, name] = m;
    if (name.startsWith("-")) continue;
    const known = cwd === undefined
      ? rootTasks.has(name) || tasksIn(root, nearest).has(name)
      : tasksIn(root, `${cwd.replace(/\/?$/, "/")}`).has(name);
    if (!known) problems.push(`${file}: \`${command}\` names no task`);
  }
  return problems;
}

/** The folder (relative to `root`) of the nearest `deno.json` at or above `file`'s folder. */
function nearestConfigDir(root: URL, file: string): string {
  const parts = file.split("/").slice(0, -1);
  for (let n = parts.length; n > 0; n--) {
    const dir = `${parts.slice(0, n).join("/")}/`;
    if (statKind(new URL(`${dir}deno.json`, root)) === "file") return dir;
  }
  return "";
}

/** Every problem of every Markdown file under `root`, one line each. */
export function checkDocs(root: URL): string[] {
  return markdownFiles(root).flatMap((file) => {
    const text = Deno.readTextFileSync(new URL(file, root));
    return [
      ...linkProblems(root, file, text),
      ...taskProblems(root, file, text),
      ...paragraphProblems(file, text),
    ];
  });
}
