/**
 * The web page's files (`web/`), read once when the first web view starts, by the path the viewer serves
 * each at: `/` is `page.html`, every other file of `web/` is served under its own name. The scripts are ES
 * modules the page loads from the viewer itself; `web/` is a workspace member whose `deno.json` turns on
 * `checkJs` with the DOM's types, so `deno check` type-checks them as browser code.
 *
 * Reading them needs `--allow-read` of `tools/viewer/web` (and nothing else), which `deno task viewer` and
 * `deno task demo` give. A new file of the page needs no change here.
 *
 * @module
 */

/** One file of the page: its text and its content type. */
export interface PageAsset {
  /** The file's text. */
  body: string;
  /** Its `content-type`. */
  type: string;
}

/** The folder of the page's files. */
export const PAGE_DIR: URL = new URL("./web/", import.meta.url);

/** The content types of the files served, by extension; other files of `web/` (its deno.json) are not. */
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
};

let assets: ReadonlyMap<string, PageAsset> | undefined;

/**
 * The page's files by path, read from {@linkcode PAGE_DIR} the first time.
 *
 * @throws {Error} saying which permission is missing when the files cannot be read.
 */
export function pageAssets(): ReadonlyMap<string, PageAsset> {
  assets ??= readPageAssets(PAGE_DIR);
  return assets;
}

/** Reads the page's files from `dir`. */
export function readPageAssets(dir: URL): ReadonlyMap<string, PageAsset> {
  const result = new Map<string, PageAsset>();
  try {
    for (const { name, isFile } of Deno.readDirSync(dir)) {
      const type = TYPES[name.slice(name.lastIndexOf("."))];
      if (!isFile || type === undefined) continue;
      const body = Deno.readTextFileSync(new URL(name, dir));
      result.set(name === "page.html" ? "/" : `/${name}`, { body, type });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied)) {
      throw error;
    }
    throw new Error(
      `cannot read the web page's files in ${dir.pathname}: run with --allow-read=tools/viewer/web ` +
        "(deno task viewer and deno task demo do)",
    );
  }
  if (!result.has("/")) throw new Error(`the web page's files are missing: no page.html in ${dir.pathname}`);
  return result;
}
