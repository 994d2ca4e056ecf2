/**
 * The web page's files (`web/`), by the path the viewer serves each at. They are imported as text, so they
 * are part of the module graph and the viewer needs no `--allow-read` to serve them. The scripts are ES modules
 * the page loads from the viewer itself; `web/` is a workspace member whose `deno.json` turns on `checkJs`
 * with the DOM's types, so `deno check` type-checks them as browser code.
 *
 * A new file of the page is imported here and listed in {@linkcode PAGE_ASSETS}.
 *
 * @module
 */
import html from "./web/page.html" with { type: "text" };
import css from "./web/page.css" with { type: "text" };
import favicon from "./web/favicon.svg" with { type: "text" };
import api from "./web/api.js" with { type: "text" };
import details from "./web/details.js" with { type: "text" };
import dom from "./web/dom.js" with { type: "text" };
import list from "./web/list.js" with { type: "text" };
import main from "./web/main.js" with { type: "text" };
import waterfall from "./web/waterfall.js" with { type: "text" };
import chart from "./web/chart.js" with { type: "text" };
import logs from "./web/logs.js" with { type: "text" };
import metrics from "./web/metrics.js" with { type: "text" };
import views from "./web/views.js" with { type: "text" };

/** One file of the page: its text and its content type. */
export interface PageAsset {
  /** The file's text. */
  body: string;
  /** Its `content-type`. */
  type: string;
}

const SCRIPT = "text/javascript; charset=utf-8";

/** The page's files by path: `/` is the page, the rest are what it loads. */
export const PAGE_ASSETS: ReadonlyMap<string, PageAsset> = new Map([
  ["/", { body: html, type: "text/html; charset=utf-8" }],
  ["/page.css", { body: css, type: "text/css; charset=utf-8" }],
  ["/favicon.svg", { body: favicon, type: "image/svg+xml" }],
  ["/api.js", { body: api, type: SCRIPT }],
  ["/details.js", { body: details, type: SCRIPT }],
  ["/dom.js", { body: dom, type: SCRIPT }],
  ["/list.js", { body: list, type: SCRIPT }],
  ["/main.js", { body: main, type: SCRIPT }],
  ["/waterfall.js", { body: waterfall, type: SCRIPT }],
  ["/chart.js", { body: chart, type: SCRIPT }],
  ["/logs.js", { body: logs, type: SCRIPT }],
  ["/metrics.js", { body: metrics, type: SCRIPT }],
  ["/views.js", { body: views, type: SCRIPT }],
]);
