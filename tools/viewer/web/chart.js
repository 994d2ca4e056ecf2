/**
 * Small live charts drawn as SVG by the page itself: a line per series of values, gaps where a value is
 * `null`, scaled to the largest value shown. No charting library: these are sparklines without axes or
 * interaction, a few dozen points each, and SVG elements built with `createElementNS` need no inline style
 * or script, so they hold under the page's Content-Security-Policy.
 *
 * @module
 */

const SVG = "http://www.w3.org/2000/svg";

/**
 * One line of a chart.
 *
 * @typedef {object} Line
 * @property {(number | null)[]} values
 * @property {string} className
 */

/**
 * A sparkline of one or more lines on a common scale, with a title (shown on hover) as text.
 *
 * @param {Line[]} lines
 * @param {string} title
 * @param {{ width?: number, height?: number }} [size]
 * @returns {SVGSVGElement}
 */
export function sparkline(lines, title, { width = 120, height = 28 } = {}) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("role", "img");
  const label = document.createElementNS(SVG, "title");
  label.textContent = title;
  svg.append(label);
  const finite = lines.flatMap((line) =>
    line.values.filter((value) => value !== null && Number.isFinite(value))
  );
  const top = Math.max(0, ...(/** @type {number[]} */ (finite)));
  const baseline = document.createElementNS(SVG, "line");
  baseline.setAttribute("class", "baseline");
  baseline.setAttribute("x1", "0");
  baseline.setAttribute("x2", String(width));
  baseline.setAttribute("y1", String(height - 0.5));
  baseline.setAttribute("y2", String(height - 0.5));
  svg.append(baseline);
  for (const line of lines) {
    for (const segment of segments(line.values, width, height, top)) {
      const path = document.createElementNS(SVG, "polyline");
      path.setAttribute("class", line.className);
      path.setAttribute("points", segment);
      svg.append(path);
    }
  }
  return svg;
}

/**
 * The runs of values between gaps, as SVG `points` lists; a lone value is a short flat stroke.
 *
 * @param {(number | null)[]} values
 * @param {number} width
 * @param {number} height
 * @param {number} top
 * @returns {string[]}
 */
function segments(values, width, height, top) {
  const step = width / Math.max(1, values.length);
  const y = (/** @type {number} */ value) =>
    (height - 2 - (top > 0 ? (value / top) * (height - 4) : 0)).toFixed(1);
  /** @type {string[]} */
  const result = [];
  /** @type {string[]} */
  let run = [];
  values.forEach((value, i) => {
    if (value === null || !Number.isFinite(value)) {
      if (run.length > 0) result.push(run.join(" "));
      run = [];
      return;
    }
    run.push(`${(i * step).toFixed(1)},${y(value)}`, `${((i + 1) * step).toFixed(1)},${y(value)}`);
  });
  if (run.length > 0) result.push(run.join(" "));
  return result;
}
