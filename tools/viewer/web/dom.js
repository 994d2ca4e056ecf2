/**
 * The page's small helpers: building elements, formatting times, reading the JSON API. Sender data reaches
 * the page only through `textContent` and the `title` property: never as HTML.
 *
 * @module
 */

/** One colour per service, in the order the services appear. */
export const PALETTE = [
  "#0969da",
  "#1a7f37",
  "#8250df",
  "#bc4c00",
  "#bf3989",
  "#0a7b83",
  "#4d2d00",
  "#57606a",
];

/**
 * The element with this id, which the page must have.
 *
 * @param {string} id
 * @returns {HTMLElement}
 */
export function $(id) {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element;
}

/**
 * A new element with a class and text (as text, never as HTML).
 *
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {unknown} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = String(text);
  return element;
}

/**
 * A time in nanoseconds, from the decimal string the API sends; 0 for anything else.
 *
 * @param {unknown} value
 * @returns {bigint}
 */
export function nanos(value) {
  try {
    return BigInt(/** @type {string} */ (value));
  } catch {
    return 0n;
  }
}

/**
 * A duration in nanoseconds as milliseconds or seconds.
 *
 * @param {bigint | number | string} value
 */
export function ms(value) {
  const millis = Number(value) / 1e6;
  if (millis >= 1000) return (millis / 1000).toFixed(2) + " s";
  return millis.toFixed(millis < 10 ? 2 : 1) + " ms";
}

/**
 * An attribute value as text.
 *
 * @param {unknown} value
 */
export function show(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * Counts a noun: "1 span", "2 spans".
 *
 * @param {number} n
 * @param {string} noun
 */
export function count(n, noun) {
  return n + " " + noun + (n === 1 ? "" : "s");
}

/**
 * Shows the connection's state in the header.
 *
 * @param {"live" | "down"} kind
 * @param {string} text
 */
export function setStatus(kind, text) {
  const status = $("status");
  status.className = "status " + kind;
  status.textContent = text;
}

/**
 * GETs JSON from the viewer.
 *
 * @param {string} path
 * @returns {Promise<any>}
 */
export async function getJson(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(path + " answered " + response.status);
  return response.json();
}

/**
 * Runs an async job at most once at a time; a call during a run runs it once more afterwards. A failure is
 * shown in the header.
 *
 * @param {() => Promise<void>} job
 * @returns {() => void}
 */
export function serial(job) {
  let running = false, again = false;
  const run = async () => {
    if (running) return void (again = true);
    running = true;
    try {
      await job();
    } catch (error) {
      setStatus("down", error instanceof Error ? error.message : String(error));
    } finally {
      running = false;
      if (again) {
        again = false;
        run();
      }
    }
  };
  return () => void run();
}

/**
 * A two-column table of names and values.
 *
 * @param {[string, unknown][]} entries
 */
export function table(entries) {
  const body = el("tbody");
  for (const [key, value] of entries) {
    const row = el("tr");
    const cell = el("td");
    cell.append(el("div", "value", show(value)));
    row.append(el("td", "", key), cell);
    body.append(row);
  }
  const result = el("table");
  result.append(body);
  return result;
}

/**
 * Attributes as a table, or "none".
 *
 * @param {Record<string, unknown> | undefined} attributes
 */
export function attributeList(attributes) {
  const entries = Object.entries(attributes ?? {});
  return entries.length > 0 ? table(entries) : el("p", "muted", "none");
}

/**
 * Calls `activate` with the element matching `selector` that is clicked, or chosen with Enter or Space.
 *
 * @param {HTMLElement} container
 * @param {string} selector
 * @param {(target: HTMLElement) => void} activate
 */
export function onActivate(container, selector, activate) {
  /** @param {Event} event */
  const targetOf = (event) =>
    event.target instanceof Element
      ? /** @type {HTMLElement | null} */ (event.target.closest(selector))
      : null;
  container.addEventListener("click", (event) => {
    const target = targetOf(event);
    if (target) activate(target);
  });
  container.addEventListener("keydown", (event) => {
    const target = targetOf(event);
    if (target && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      activate(target);
    }
  });
}
