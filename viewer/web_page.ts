/**
 * The web view's page: its HTML, its style and its script, served by `web.ts` as `/`, `/app.css` and
 * `/app.js`. No framework and no build step; the script reads the viewer's JSON API and listens to its event
 * stream, and builds every element from sender data with `textContent`, never as HTML.
 *
 * @module
 */

/** The page: a trace list, a waterfall and a span's details, filled in by the script. */
export const PAGE_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Traces · Deno tracing example</title>
<link rel="icon" href="/favicon.svg">
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <h1>Traces</h1>
  <span id="trace-count" class="muted"></span>
  <span id="status" class="status">connecting…</span>
</header>
<main>
  <section id="traces-panel" aria-label="Traces, newest first">
    <table id="traces">
      <thead><tr>
        <th>Started</th><th>Root span</th><th>Services</th><th class="num">Spans</th>
        <th class="num">Duration</th><th>Status</th><th>Trace id</th>
      </tr></thead>
      <tbody id="trace-rows"></tbody>
    </table>
    <p id="no-traces" class="muted">No trace yet. Run the server and the client with
      <code>OTEL_DENO=true</code>, exporting to this viewer's OTLP receiver; each trace appears here.</p>
  </section>
  <div id="bottom">
    <section id="waterfall-panel" aria-label="Waterfall">
      <h2 id="trace-title">Select a trace</h2>
      <div id="trace-facts" class="muted"></div>
      <div id="legend"></div>
      <div id="ruler"></div>
      <div id="waterfall" role="tree"></div>
    </section>
    <aside id="details-panel" aria-label="Span details">
      <div id="details"><p class="muted">Select a span in the waterfall.</p></div>
    </aside>
  </div>
</main>
</body>
</html>
`;

/** The page's icon: a small waterfall. */
export const FAVICON_SVG: string = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">
<rect x="1" y="2" width="12" height="3" fill="#0969da"/><rect x="4" y="7" width="9" height="3" fill="#0969da"/>
<rect x="6" y="12" width="6" height="3" fill="#1a7f37"/></svg>
`;

/** The page's style. */
export const PAGE_CSS: string = `
:root { font: 13px/1.4 system-ui, sans-serif; color: #1f2328; background: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; height: 100vh; display: flex; flex-direction: column; }
header { display: flex; gap: 12px; align-items: baseline; padding: 8px 14px; background: #24292f; color: #fff; }
header h1 { font-size: 16px; margin: 0; }
header .muted { color: #c9d1d9; }
.status { margin-left: auto; font-size: 12px; padding: 1px 8px; border-radius: 10px; background: #57606a; }
.status.live { background: #1a7f37; }
.status.down { background: #cf222e; }
main { flex: 1; display: flex; flex-direction: column; min-height: 0; }
.muted { color: #57606a; }
code { font: 12px ui-monospace, monospace; }
#traces-panel { max-height: 32vh; overflow: auto; background: #fff; border-bottom: 1px solid #d0d7de; }
#traces-panel p { padding: 0 14px; }
table { border-collapse: collapse; width: 100%; }
#traces th { position: sticky; top: 0; background: #f6f8fa; text-align: left; font-weight: 600; }
#traces th, #traces td { padding: 4px 10px; border-bottom: 1px solid #eaeef2; white-space: nowrap; }
#traces td { max-width: 28em; overflow: hidden; text-overflow: ellipsis; }
#traces tbody tr { cursor: pointer; }
#traces tbody tr:hover { background: #f3f7fd; }
#traces tbody tr.selected { background: #ddf4ff; }
#traces tbody tr.error td.state { color: #cf222e; font-weight: 600; }
.num { text-align: right; }
#traces td.num { text-align: right; font-variant-numeric: tabular-nums; }
.id { font: 12px ui-monospace, monospace; color: #57606a; }
.chip { display: inline-block; padding: 0 6px; margin-right: 4px; border-radius: 9px; color: #fff;
  background: var(--c, #57606a); font-size: 12px; }
#bottom { flex: 1; display: flex; min-height: 0; }
#waterfall-panel { flex: 3; overflow: auto; padding: 8px 14px; min-width: 0; }
#details-panel { flex: 2; overflow: auto; padding: 8px 14px; background: #fff; border-left: 1px solid #d0d7de;
  min-width: 0; }
h2 { font-size: 15px; margin: 4px 0; overflow-wrap: anywhere; }
#legend { margin: 6px 0; }
#legend .chip.error { background: repeating-linear-gradient(135deg, #cf222e 0 5px, #a40e26 5px 10px); }
#legend .note { margin-left: 8px; }
.span-row, #ruler { display: grid; grid-template-columns: minmax(240px, 45%) 64px 1fr; }
#ruler { font-size: 11px; color: #57606a; border-bottom: 1px solid #d0d7de; }
#ruler .track { height: 16px; }
#ruler .tick { position: absolute; transform: translateX(-50%); white-space: nowrap; }
#ruler .tick:first-child { transform: none; }
#ruler .tick:last-child { transform: translateX(-100%); }
.span-row { border-bottom: 1px solid #eaeef2; cursor: pointer; height: 25px;
  content-visibility: auto; contain-intrinsic-size: auto 25px; }
.span-row:hover { background: #f3f7fd; }
.span-row.selected { background: #ddf4ff; outline: 1px solid #54aeff; }
.span-row.error { background: #ffebe9; }
.span-row.error.selected { background: #ffd8d3; }
.span-row.hop-in { border-top: 2px dashed var(--c); }
.label { display: flex; gap: 6px; align-items: center; white-space: nowrap; overflow: hidden; padding: 2px 6px; }
.label .svc { color: #fff; background: var(--c); border-radius: 3px; padding: 0 5px; font-size: 11px; }
.label .kind { font: 10px ui-monospace, monospace; color: #57606a; border: 1px solid #d0d7de; border-radius: 3px;
  padding: 0 3px; }
.label > * { flex: none; }
.label .name { flex: 0 1 auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; }
.label .hop, .label .err, .label .missing { flex: 0 1000 auto; min-width: 1.5em; overflow: hidden;
  text-overflow: ellipsis; }
.label .hop { font-size: 11px; color: #0550ae; background: #ddf4ff; border-radius: 3px; padding: 0 4px; }
.label .err, .label .missing { font-size: 11px; color: #fff; background: #cf222e; border-radius: 3px; padding: 0 4px; }
.label .missing { background: #9a6700; }
.label .deep { font-size: 11px; color: #57606a; }
.track { position: relative; }
.span-row .bar { position: absolute; top: 6px; height: 12px; min-width: 2px; border-radius: 2px; background: var(--c); }
.span-row.error .bar { background: repeating-linear-gradient(135deg, #cf222e 0 5px, #a40e26 5px 10px); }
.span-row .mark { position: absolute; top: 3px; width: 2px; height: 18px; background: #1f2328; }
.dur { align-self: center; text-align: right; padding-right: 8px; font-size: 11px; color: #57606a;
  white-space: nowrap; font-variant-numeric: tabular-nums; }
.note { color: #57606a; font-style: italic; }
#details h3 { font-size: 15px; margin: 4px 0 8px; overflow-wrap: anywhere; }
#details h4 { font-size: 13px; margin: 14px 0 4px; border-bottom: 1px solid #eaeef2; }
#details table td { padding: 2px 6px; vertical-align: top; border-bottom: 1px solid #f0f2f4; }
#details table td:first-child { color: #57606a; white-space: nowrap; width: 1%; }
#details .value { white-space: pre-wrap; overflow-wrap: anywhere; max-height: 12em; overflow: auto;
  font: 12px ui-monospace, monospace; }
#details .item { margin: 6px 0; padding: 4px 8px; border-left: 3px solid #d0d7de; background: #f6f8fa; }
#details .item.log { border-left-color: #8250df; }
#details .item .head { font-weight: 600; overflow-wrap: anywhere; }
#details .status-ERROR { color: #cf222e; font-weight: 600; }
`;

/** The page's script: fetches `/api/traces` and `/api/traces/{id}`, listens to `/api/events`. */
export const PAGE_SCRIPT: string = String.raw`"use strict";
(() => {
  // Sender data reaches the page only through textContent and the title property: never as HTML.
  const PALETTE = ["#0969da", "#1a7f37", "#8250df", "#bc4c00", "#bf3989", "#0a7b83", "#4d2d00", "#57606a"];
  const MAX_ROWS = 5000;
  const MAX_INDENT = 30;
  const state = { traceId: null, spanId: null, trace: null, colors: new Map() };
  const $ = (id) => document.getElementById(id);

  function el(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = String(text);
    return element;
  }
  function nanos(value) {
    try {
      return BigInt(value);
    } catch {
      return 0n;
    }
  }
  function ms(value) {
    const millis = Number(value) / 1e6;
    if (millis >= 1000) return (millis / 1000).toFixed(2) + " s";
    return millis.toFixed(millis < 10 ? 2 : 1) + " ms";
  }
  function show(value) {
    return typeof value === "string" ? value : JSON.stringify(value);
  }
  function setStatus(kind, text) {
    const status = $("status");
    status.className = "status " + kind;
    status.textContent = text;
  }
  async function getJson(path) {
    const response = await fetch(path, { headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(path + " answered " + response.status);
    return response.json();
  }
  /** Runs an async job at most once at a time; a call during a run runs it once more afterwards. */
  function serial(job) {
    let running = false, again = false;
    const run = async () => {
      if (running) return void (again = true);
      running = true;
      try {
        await job();
      } catch (error) {
        setStatus("down", error.message);
      } finally {
        running = false;
        if (again) {
          again = false;
          run();
        }
      }
    };
    return run;
  }

  // The trace list.
  const refreshList = serial(async () => {
    const { traces, total } = await getJson("/api/traces");
    const rows = traces.map((trace) => {
      const row = el("tr");
      row.dataset.traceId = trace.traceId;
      row.tabIndex = 0;
      row.classList.toggle("selected", trace.traceId === state.traceId);
      row.classList.toggle("error", trace.errors > 0);
      const started = new Date(Number(nanos(trace.startTimeUnixNano) / 1000000n));
      const root = el("td");
      root.append(el("strong", "", trace.name || "(no root span)"), " ", el("span", "muted", trace.service));
      const services = el("td");
      trace.services.forEach((service, i) => {
        const chip = el("span", "chip", service);
        chip.style.setProperty("--c", PALETTE[i % PALETTE.length]);
        services.append(chip);
      });
      const status = trace.errors > 0
        ? "✗ " + trace.errors + (trace.errors === 1 ? " error" : " errors")
        : trace.complete ? "ok" : "incomplete";
      row.append(
        el("td", "", started.toLocaleTimeString()),
        root,
        services,
        el("td", "num", trace.spans),
        el("td", "num", ms(trace.durationNanos)),
        el("td", "state", status),
        el("td", "id", trace.traceId),
      );
      return row;
    });
    $("trace-rows").replaceChildren(...rows);
    $("no-traces").hidden = rows.length > 0;
    $("trace-count").textContent = total === rows.length
      ? total + (total === 1 ? " trace" : " traces")
      : "the newest " + rows.length + " of " + total + " traces";
  });

  // The selected trace and span live in the address (#trace=…&span=…), so a reload or a link keeps them.
  function select(traceId, spanId) {
    const hash = "#trace=" + traceId + (spanId ? "&span=" + spanId : "");
    if (location.hash !== hash) location.hash = hash;
  }
  function fromHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const traceId = params.get("trace"), spanId = params.get("span");
    return {
      traceId: /^[0-9a-f]{32}$/.test(traceId ?? "") ? traceId : null,
      spanId: /^[0-9a-f]{16}$/.test(spanId ?? "") ? spanId : null,
    };
  }
  const loadTrace = serial(async () => {
    const traceId = state.traceId;
    const trace = traceId === null ? null : await getJson("/api/traces/" + traceId);
    if (traceId !== state.traceId) return;
    // Times parsed once: the waterfall, the sort and the details use these.
    if (trace !== null) {
      trace._start = null;
      for (const span of trace.spans) {
        span._start = nanos(span.startTimeUnixNano);
        span._end = nanos(span.endTimeUnixNano);
        if (trace._start === null || span._start < trace._start) trace._start = span._start;
      }
      trace._start ??= 0n;
    }
    state.trace = trace;
    renderWaterfall();
    renderDetails();
  });
  function route() {
    const { traceId, spanId } = fromHash();
    for (const row of $("trace-rows").children) {
      row.classList.toggle("selected", row.dataset.traceId === traceId);
    }
    state.spanId = spanId;
    if (traceId !== state.traceId) {
      state.traceId = traceId;
      state.trace = null;
      loadTrace();
    } else {
      markSelectedSpan();
      renderDetails();
    }
  }

  /** The spans in waterfall order: depth first by parent, siblings by start. No recursion, cycles cut. */
  function order(spans) {
    const byId = new Map();
    for (const span of spans) if (!byId.has(span.spanId)) byId.set(span.spanId, span);
    const children = new Map();
    const roots = [];
    for (const span of spans) {
      const parent = span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId);
      if (parent === undefined || parent === span) roots.push(span);
      else {
        if (!children.has(parent)) children.set(parent, []);
        children.get(parent).push(span);
      }
    }
    const byStart = (a, b) => {
      return a._start < b._start ? -1 : a._start > b._start ? 1 : 0;
    };
    roots.sort(byStart);
    for (const list of children.values()) list.sort(byStart);
    const rows = [];
    const seen = new Set();
    const walk = (top) => {
      const stack = [[top, 0]];
      while (stack.length > 0) {
        const [span, depth] = stack.pop();
        if (seen.has(span)) continue;
        seen.add(span);
        rows.push({ span, depth });
        const list = children.get(span) ?? [];
        for (let i = list.length - 1; i >= 0; i--) stack.push([list[i], depth + 1]);
      }
    };
    for (const root of roots) walk(root);
    // Spans whose parents form a cycle are reached from no root: draw them at the top.
    for (const span of spans) if (!seen.has(span)) walk(span);
    return { rows, byId };
  }

  function colorOf(service) {
    if (!state.colors.has(service)) state.colors.set(service, PALETTE[state.colors.size % PALETTE.length]);
    return state.colors.get(service);
  }

  function renderWaterfall() {
    const trace = state.trace;
    const waterfall = $("waterfall");
    state.colors = new Map();
    if (trace === null) {
      $("trace-title").textContent = "Select a trace";
      for (const id of ["trace-facts", "legend", "ruler"]) $(id).replaceChildren();
      waterfall.replaceChildren();
      return;
    }
    const spans = trace.spans;
    const start = trace._start;
    const end = spans.reduce((max, span) => span._end > max ? span._end : max, start);
    const total = end > start ? Number(end - start) : 1;
    const { rows, byId } = order(spans);
    for (const { span } of rows) colorOf(span.service);
    const errors = spans.filter((span) => span.status.code === "ERROR").length;
    const root = rows[0]?.span;
    $("trace-title").textContent = root ? root.name + " (" + root.service + ")" : "Trace without spans";
    const count = (n, noun) => n + " " + noun + (n === 1 ? "" : "s");
    $("trace-facts").textContent = "trace " + trace.traceId + " · " + count(spans.length, "span") + " · " +
      count(state.colors.size, "service") + " · " + ms(total) + " · " + count(trace.logs.length, "log record") +
      (errors > 0 ? " · " + errors + " with errors" : "") + (trace.complete ? "" : " · incomplete");
    const legend = [];
    for (const [service, color] of state.colors) {
      const chip = el("span", "chip", service);
      chip.style.setProperty("--c", color);
      legend.push(chip);
    }
    if (errors > 0) legend.push(el("span", "chip error", "error"));
    legend.push(el("span", "note", "⇢ marks where a CLIENT span's request entered another service"));
    $("legend").replaceChildren(...legend);
    const ticks = el("div", "track");
    for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
      const tick = el("span", "tick", ms(total * fraction));
      tick.style.left = fraction * 100 + "%";
      ticks.append(tick);
    }
    $("ruler").replaceChildren(el("div", "label", "span"), el("div", "dur", "duration"), ticks);

    const fragment = document.createDocumentFragment();
    for (const { span, depth } of rows.slice(0, MAX_ROWS)) {
      const row = el("div", "span-row");
      row.dataset.spanId = span.spanId;
      row.tabIndex = 0;
      row.setAttribute("role", "treeitem");
      row.setAttribute("aria-level", String(depth + 1));
      row.style.setProperty("--c", colorOf(span.service));
      const failed = span.status.code === "ERROR";
      row.classList.toggle("error", failed);
      const label = el("div", "label");
      label.style.paddingLeft = 6 + Math.min(depth, MAX_INDENT) * 16 + "px";
      if (depth > MAX_INDENT) label.append(el("span", "deep", "depth " + depth));
      label.append(el("span", "svc", span.service), el("span", "kind", span.kind), el("span", "name", span.name));
      label.title = span.name;
      const parent = span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId);
      if (parent && parent.kind === "CLIENT" && span.kind === "SERVER") {
        row.classList.add("hop-in");
        label.append(el("span", "hop", "⇢ " + parent.service + " → " + span.service));
      }
      if (span.parentSpanId !== undefined && parent === undefined) {
        label.append(el("span", "missing", "parent " + span.parentSpanId + " missing"));
      }
      if (failed) label.append(el("span", "err", "✗ " + (span.status.message || "ERROR")));
      const track = el("div", "track");
      const offset = Number(span._start - start) / total * 100;
      const width = Math.max(0, Number(span._end - span._start)) / total * 100;
      const bar = el("div", "bar");
      bar.style.left = offset + "%";
      bar.style.width = width + "%";
      track.append(bar);
      for (const event of span.events) {
        const mark = el("div", "mark");
        mark.style.left = Number(nanos(event.timeUnixNano) - start) / total * 100 + "%";
        mark.title = event.name;
        track.append(mark);
      }
      const duration = el("div", "dur", ms(span._end - span._start));
      row.append(label, duration, track);
      fragment.append(row);
    }
    if (rows.length > MAX_ROWS) {
      fragment.append(el("p", "note", "The first " + MAX_ROWS + " of " + rows.length + " spans are drawn."));
    }
    waterfall.replaceChildren(fragment);
    markSelectedSpan();
  }

  function markSelectedSpan() {
    for (const row of $("waterfall").querySelectorAll(".span-row.selected")) row.classList.remove("selected");
    if (state.spanId === null) return;
    const row = $("waterfall").querySelector('.span-row[data-span-id="' + state.spanId + '"]');
    row?.classList.add("selected");
  }

  function table(entries) {
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
  function attributeList(attributes) {
    const entries = Object.entries(attributes ?? {});
    return entries.length > 0 ? table(entries) : el("p", "muted", "none");
  }

  function renderDetails() {
    const details = $("details");
    const trace = state.trace;
    const span = trace && state.spanId !== null ? trace.spans.find((s) => s.spanId === state.spanId) : undefined;
    if (!span) {
      details.replaceChildren(el("p", "muted", trace ? "Select a span in the waterfall." : ""));
      return;
    }
    const at = (time) => "+" + ms(nanos(time) - trace._start);
    const parts = [el("h3", "", span.name)];
    const status = el("span", "status-" + span.status.code, span.status.code);
    const facts = table([
      ["service", span.service],
      ["kind", span.kind],
      ["scope", span.scope.name + (span.scope.version ? " " + span.scope.version : "")],
      ["span id", span.spanId],
      ["parent", span.parentSpanId ?? "(root)"],
      ["start", at(span.startTimeUnixNano)],
      ["duration", ms(span._end - span._start)],
      ["status", ""],
    ]);
    const statusCell = facts.querySelector("tr:last-child .value");
    statusCell.append(status);
    if (span.status.message) statusCell.append(": " + span.status.message);
    parts.push(facts, el("h4", "", "Attributes"), attributeList(span.attributes));
    parts.push(el("h4", "", "Events (" + span.events.length + ")"));
    for (const event of span.events) {
      const item = el("div", "item event");
      item.append(el("div", "head", event.name + " at " + at(event.timeUnixNano)), attributeList(event.attributes));
      parts.push(item);
    }
    const logs = trace.logs.filter((log) => log.spanId === span.spanId);
    parts.push(el("h4", "", "Log records (" + logs.length + ")"));
    for (const log of logs) {
      const item = el("div", "item log");
      item.append(
        el("div", "muted", at(log.timeUnixNano) + (log.severityText ? " · " + log.severityText : "")),
        el("div", "value log-body", show(log.body)),
      );
      if (Object.keys(log.attributes ?? {}).length > 0) item.append(attributeList(log.attributes));
      parts.push(item);
    }
    parts.push(el("h4", "", "Resource"), attributeList(span.resource));
    details.replaceChildren(...parts);
  }

  function onActivate(container, selector, activate) {
    container.addEventListener("click", (event) => {
      const target = event.target.closest(selector);
      if (target) activate(target);
    });
    container.addEventListener("keydown", (event) => {
      const target = event.target.closest(selector);
      if (target && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        activate(target);
      }
    });
  }
  onActivate($("trace-rows"), "tr[data-trace-id]", (row) => select(row.dataset.traceId));
  onActivate($("waterfall"), ".span-row", (row) => select(state.traceId, row.dataset.spanId));
  window.addEventListener("hashchange", route);

  // New traces and spans arrive as server-sent events: {"traceIds": [...]} or {"traceIds": null} for many.
  const events = new EventSource("/api/events");
  events.addEventListener("open", () => {
    setStatus("live", "live");
    refreshList();
    if (state.traceId !== null) loadTrace();
  });
  events.addEventListener("error", () => setStatus("down", "reconnecting…"));
  events.addEventListener("traces", (event) => {
    const { traceIds } = JSON.parse(event.data);
    refreshList();
    if (state.traceId !== null && (traceIds === null || traceIds.includes(state.traceId))) loadTrace();
  });
  route();
})();
`;
