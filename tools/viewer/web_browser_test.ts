/**
 * The web view in a real browser: Debian's Chromium, headless, driven by puppeteer-core over the DevTools
 * protocol. The example's server and client export to a receiver; the page must show their joined trace,
 * a span's event and log line, hostile sender data as text, and new traces without a reload.
 *
 * Skipped, saying so, where `/usr/bin/chromium` is not installed (`apt-get install chromium`); CI has it.
 * Given `--allow-write=tools/viewer/web_view.png`, it also refreshes that screenshot of the waterfall.
 *
 * @module
 */
import assert from "node:assert/strict";
import puppeteer, { type Browser, type ConnectionTransport, type Page } from "puppeteer-core/browser";
import { type Receiver, startReceiver } from "@example/otlp/receiver";
import { runClient, startServer } from "@example/harness/processes";
import { startWebView, type WebView } from "./web.ts";
import { checkout } from "./testdata/checkout.ts";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = new URL("web_view.png", import.meta.url);
const SEARCH_SCREENSHOT = new URL("web_search.png", import.meta.url);
const COMPARE_SCREENSHOT = new URL("web_compare.png", import.meta.url);
const HOSTILE = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">`;

/** Chromium's version, or `undefined` where it is not installed. */
async function chromiumVersion(): Promise<string | undefined> {
  try {
    const output = await new Deno.Command(CHROMIUM, { args: ["--version"], clearEnv: true, stderr: "null" })
      .output();
    return new TextDecoder().decode(output.stdout).trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

const chromium = await chromiumVersion();
if (chromium === undefined) {
  console.warn(
    `tools/viewer/web_browser_test.ts: skipped, no browser at ${CHROMIUM} (Debian: apt-get install chromium)`,
  );
}

/** Starts headless Chromium with a temporary profile and connects puppeteer to it over a WebSocket. */
async function launchChromium() {
  const process = new Deno.Command(CHROMIUM, {
    args: [
      "--headless",
      // CI runs as root, where Chromium's sandbox does not start; the browser loads only the local viewer.
      "--no-sandbox",
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--hide-scrollbars",
      "about:blank",
    ],
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    let seen = "";
    let endpoint: string | undefined;
    for await (const chunk of process.stderr.pipeThrough(new TextDecoderStream())) {
      seen += chunk;
      endpoint = seen.match(/DevTools listening on (ws:\/\/\S+)/)?.[1];
      if (endpoint) break;
    }
    if (endpoint === undefined) throw new Error(`Chromium did not start:\n${seen}`);
    const browser = await puppeteer.connect({ transport: await webSocketTransport(endpoint) });
    return {
      browser,
      async [Symbol.asyncDispose]() {
        await browser.close().catch(() => process.kill("SIGKILL"));
        await process.status;
      },
    };
  } catch (error) {
    process.kill("SIGKILL");
    await process.status;
    throw error;
  }
}

/**
 * The DevTools protocol over Deno's own WebSocket: puppeteer's Node transport loads the `ws` package, which
 * reads environment variables the test has no permission for.
 */
function webSocketTransport(url: string): Promise<ConnectionTransport> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const transport: ConnectionTransport = {
      send: (message) => socket.send(message),
      close: () => socket.close(),
    };
    socket.onmessage = (event) => transport.onmessage?.(event.data);
    socket.onclose = () => transport.onclose?.();
    socket.onopen = () => resolve(transport);
    socket.onerror = (event) =>
      reject(new Error(`DevTools WebSocket ${url}: ${(event as ErrorEvent).message}`));
  });
}

const hex = (bytes: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");

/** OTLP/JSON for one trace: a hostile span and a log record inside it. */
function hostileTelemetry(traceId: string, spanId: string) {
  const now = BigInt(Date.now()) * 1_000_000n;
  const resource = { attributes: [{ key: "service.name", value: { stringValue: "hostile" } }] };
  const spans = {
    resourceSpans: [{
      resource,
      scopeSpans: [{
        scope: { name: HOSTILE },
        spans: [{
          traceId,
          spanId,
          name: HOSTILE,
          kind: 2,
          startTimeUnixNano: String(now),
          endTimeUnixNano: String(now + 5_000_000n),
          attributes: [{ key: "payload", value: { stringValue: HOSTILE } }],
          status: { code: 2, message: HOSTILE },
        }],
      }],
    }],
  };
  const logs = {
    resourceLogs: [{
      resource,
      scopeLogs: [{
        scope: {},
        logRecords: [{ traceId, spanId, timeUnixNano: String(now), body: { stringValue: HOSTILE } }],
      }],
    }],
  };
  return { spans, logs };
}

/** OTLP/JSON for one trace of `count` spans, each the child of the one before. */
function deepTrace(traceId: string, count: number) {
  const start = BigInt(Date.now()) * 1_000_000n - 10_000_000_000n;
  const spanId = (i: number) => (i + 1).toString(16).padStart(16, "0");
  const spans = Array.from({ length: count }, (_, i) => ({
    traceId,
    spanId: spanId(i),
    ...(i > 0 ? { parentSpanId: spanId(i - 1) } : {}),
    name: `level-${i}`,
    kind: 1,
    startTimeUnixNano: String(start + BigInt(i) * 1000n),
    endTimeUnixNano: String(start + BigInt(2 * count - i) * 1000n),
  }));
  return {
    resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: "deep" }, spans }] }],
  };
}

async function post(url: string, body: unknown) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200, await response.text());
}

/**
 * A new page 1280 pixels wide, with the URL of every request it makes and every error or warning it logs
 * (a CSP violation is one).
 */
async function watchedPage(browser: Browser, height: number) {
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await page.setViewport({ width: 1280, height });
  const requests: string[] = [];
  const problems: string[] = [];
  page.on("request", (request) => void requests.push(request.url()));
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warn") problems.push(message.text());
  });
  page.on("pageerror", (error) => void problems.push(String(error)));
  return { page, requests, problems };
}

/** The waterfall's rows as [service, kind, name]. */
function waterfallRows(page: Page): Promise<string[][]> {
  return page.$$eval(
    ".span-row",
    (rows) =>
      rows.map((row) => [".svc", ".kind", ".name"].map((s) => row.querySelector(s)?.textContent ?? "")),
  );
}

/**
 * Clicks the element that `selector` names at this instant, in one step inside the page: the trace and log
 * lists re-render as telemetry arrives, and puppeteer's `page.click` (find, scroll, then click) can find a row
 * that is replaced before the click lands.
 */
async function clickNow(page: Page, selector: string): Promise<void> {
  const quoted = JSON.stringify(selector);
  await page.evaluate(`{
    const element = document.querySelector(${quoted});
    if (element === null) throw new Error("nothing matches " + ${quoted});
    element.click();
  }`);
}

/** A test in Chromium (skipped without it) against a receiver and the web view of its store. */
function browserTest(name: string, run: (receiver: Receiver, web: WebView) => Promise<void>): void {
  Deno.test(
    { name, ignore: chromium === undefined, sanitizeResources: false, sanitizeOps: false },
    async () => {
      await using receiver = startReceiver({ port: 0 });
      await using web = startWebView({ store: receiver.store, port: 0 });
      await run(receiver, web);
    },
  );
}

browserTest(
  "the web view shows the example's joined trace, a span's details, hostile data as text, live updates",
  async (receiver, web) => {
    const origin = new URL(web.url).origin;

    // The example, for real: the server and the client exporting to the receiver.
    let traceId: string | undefined;
    {
      await using server = await startServer({ otlpEndpoint: receiver.url });
      const client = await runClient(server.url, { otlpEndpoint: receiver.url });
      traceId = client.traceId;
      assert.ok(traceId, client.stdout + client.stderr);
      const signal = AbortSignal.timeout(15_000);
      await receiver.store.waitForTrace(traceId, { spans: 4, signal });
      await receiver.store.waitFor(
        (store) =>
          store.trace(traceId!)?.logs.some((log) =>
            String(log.body).includes("Server: Processing request in trace")
          ),
        { signal, what: "the server's log record" },
      );
    }

    await using chrome = await launchChromium();
    const { page, requests, problems } = await watchedPage(chrome.browser, 720);

    await page.goto(web.url);
    const traceRow = `#trace-rows tr[data-trace-id="${traceId}"]`;
    await page.waitForSelector(traceRow);
    const cells = await page.$$eval(`${traceRow} td`, (cells) => cells.map((cell) => cell.textContent));
    assert.deepEqual(cells.slice(2, 5), ["call-api client", "clientserver", "4"]);
    assert.deepEqual(cells.slice(6), ["ok", traceId]);
    assert.deepEqual(
      await page.$$eval(`${traceRow} .chip`, (chips) => chips.map((chip) => chip.textContent)),
      ["client", "server"],
    );
    await clickNow(page, traceRow);
    await page.waitForFunction('document.querySelectorAll(".span-row").length === 4');
    assert.deepEqual(await waterfallRows(page), [
      ["client", "INTERNAL", "call-api"],
      ["client", "CLIENT", "GET"],
      ["server", "SERVER", "GET /"],
      ["server", "INTERNAL", "process-request"],
    ]);
    assert.equal(await page.$eval(".span-row.hop-in .hop", (hop) => hop.textContent), "⇢ client → server");
    assert.deepEqual(
      await page.$$eval("#legend .chip", (chips) => chips.map((chip) => chip.textContent)),
      ["client", "server", "critical path"],
    );
    // The handler calls nothing, so the trace's end waited on it throughout: it is on the critical path.
    assert.equal(await page.$$eval(".span-row:nth-child(4) .critical", (marks) => marks.length), 1);

    await page.click(".span-row:nth-child(4)");
    await page.waitForFunction('document.querySelector("#details h3")?.textContent === "process-request"');
    const details = String(await page.evaluate('document.getElementById("details").innerText'));
    for (
      const expected of [
        /kind\s+INTERNAL/,
        /scope\s+api-server 1\.0\.0/,
        /Events \(1\)\s+processing_request at \+/,
        /request_id/,
        /Log records \(1\)[\s\S]*Server: Processing request in trace context/,
        /service\.name\s+server/,
      ]
    ) {
      assert.match(details, expected);
    }
    assert.match(page.url(), new RegExp(`#trace=${traceId}&span=[0-9a-f]{16}$`));

    const permission = await Deno.permissions.query({ name: "write", path: SCREENSHOT });
    if (permission.state === "granted") {
      await Deno.writeFile(SCREENSHOT, await page.screenshot({ type: "png" }));
    }

    // Hostile data and a trace of 2000 nested spans, sent while the page is open: they appear without reload.
    const [hostileTraceId, hostileSpanId, deepTraceId] = [hex(16), hex(8), hex(16)];
    const hostile = hostileTelemetry(hostileTraceId, hostileSpanId);
    await post(`${receiver.url}/v1/traces`, hostile.spans);
    await post(`${receiver.url}/v1/logs`, hostile.logs);
    await post(`${receiver.url}/v1/traces`, deepTrace(deepTraceId, 2000));
    await page.waitForSelector(`#trace-rows tr[data-trace-id="${hostileTraceId}"]`);
    await page.waitForSelector(`#trace-rows tr[data-trace-id="${deepTraceId}"]`);
    // The trace that changed last first: the deep one was sent last.
    assert.equal(await page.$eval("#trace-rows tr", (row) => row.dataset.traceId), deepTraceId);
    await clickNow(page, `#trace-rows tr[data-trace-id="${hostileTraceId}"]`);
    await page.waitForSelector(`.span-row[data-span-id="${hostileSpanId}"]`);
    await page.click(`.span-row[data-span-id="${hostileSpanId}"]`);
    await page.waitForSelector("#details .log-body");
    assert.equal(await page.$eval(".span-row .name", (name) => name.textContent), HOSTILE);
    assert.equal(await page.$eval(".span-row .err", (error) => error.textContent), `✗ ${HOSTILE}`);
    assert.equal(await page.$eval("#details h3", (title) => title.textContent), HOSTILE);
    assert.equal(await page.$eval("#details .log-body", (body) => body.textContent), HOSTILE);
    assert.ok((await page.$eval("#details", (d) => d.textContent!)).includes(`payload${HOSTILE}`));
    assert.deepEqual(
      await page.evaluate(`({
      pwned: window.__pwned ?? null,
      images: document.querySelectorAll("img").length,
      scripts: document.querySelectorAll("script").length,
    })`),
      { pwned: null, images: 0, scripts: 1 },
    );

    await clickNow(page, `#trace-rows tr[data-trace-id="${deepTraceId}"]`);
    await page.waitForFunction('document.querySelectorAll(".span-row").length === 2000');
    assert.equal(await page.$eval(".span-row:last-child .name", (name) => name.textContent), "level-1999");
    assert.equal(await page.$eval(".span-row:last-child .deep", (deep) => deep.textContent), "depth 1999");

    assert.deepEqual(problems, []);
    assert.deepEqual(requests.filter((url) => !url.startsWith(origin + "/")), []);
  },
);

browserTest(
  "seven tabs of one browser all show the list, and a new trace appears in every one",
  async (receiver, web) => {
    const [first, second] = [hex(16), hex(16)];
    await post(`${receiver.url}/v1/traces`, deepTrace(first, 1));
    await using chrome = await launchChromium();
    const problems: string[] = [];
    const pages: Page[] = [];
    // One at a time, each waiting for the list: with an event stream per tab, the 6 connections a browser
    // opens to one host are all held by the first six, and the seventh never loads.
    for (let i = 0; i < 7; i++) {
      const page = await chrome.browser.newPage();
      page.setDefaultTimeout(10_000);
      page.on("pageerror", (error) => void problems.push(String(error)));
      await page.goto(web.url);
      await page.waitForSelector(`#trace-rows tr[data-trace-id="${first}"]`);
      await page.waitForFunction('document.getElementById("status").textContent === "live"');
      pages.push(page);
    }
    await post(`${receiver.url}/v1/traces`, deepTrace(second, 1));
    await Promise.all(pages.map((page) => page.waitForSelector(`#trace-rows tr[data-trace-id="${second}"]`)));
    assert.deepEqual(problems, []);
  },
);

const METRICS_SCREENSHOT = new URL("web_metrics.png", import.meta.url);
const LOGS_SCREENSHOT = new URL("web_logs.png", import.meta.url);

/** OTLP/JSON metrics and a log record whose names, attribute values and body are hostile. */
function hostileMetricsAndLog() {
  const now = String(BigInt(Date.now()) * 1_000_000n);
  const resource = { attributes: [{ key: "service.name", value: { stringValue: "hostile" } }] };
  const attributes = [{ key: HOSTILE, value: { stringValue: HOSTILE } }];
  const metrics = {
    resourceMetrics: [{
      resource,
      scopeMetrics: [{
        scope: { name: HOSTILE },
        metrics: [
          {
            name: HOSTILE,
            unit: HOSTILE,
            gauge: { dataPoints: [{ timeUnixNano: now, asDouble: 1, attributes }] },
          },
          { name: "hostile.nan", gauge: { dataPoints: [{ timeUnixNano: now, asDouble: "NaN" }] } },
          {
            name: "http.server.request.duration",
            unit: "s",
            histogram: {
              aggregationTemporality: 2,
              dataPoints: [{
                startTimeUnixNano: String(BigInt(now) - 1_000_000_000n),
                timeUnixNano: now,
                count: "1",
                bucketCounts: ["1", "0"],
                explicitBounds: [0.1],
                attributes: [{ key: "http.route", value: { stringValue: HOSTILE } }],
              }],
            },
          },
        ],
      }],
    }],
  };
  const logs = {
    resourceLogs: [{
      resource,
      scopeLogs: [{
        scope: {},
        logRecords: [{ timeUnixNano: now, severityText: "ERROR", body: { stringValue: HOSTILE } }],
      }],
    }],
  };
  return { metrics, logs };
}

/** Whether the page's visible views are exactly `view`. */
function shownView(page: Page): Promise<unknown> {
  return page.evaluate(
    `["traces", "metrics", "logs"].filter((v) => !document.getElementById(v + "-view").hidden)`,
  );
}

browserTest(
  "the Metrics and Logs views show the example's rates and its log line linked to its span, hostile data as text",
  async (receiver, web) => {
    const origin = new URL(web.url).origin;
    const signal = AbortSignal.timeout(20_000);

    // Demo traffic: the example's server, exporting metrics every second, called on / and /error.
    let traceId: string | undefined;
    {
      await using server = await startServer({
        otlpEndpoint: receiver.url,
        env: { OTEL_METRIC_EXPORT_INTERVAL: "1000" },
      });
      const client = await runClient(server.url, { otlpEndpoint: receiver.url });
      traceId = client.traceId;
      assert.ok(traceId, client.stdout + client.stderr);
      // A few more calls, so that the charts have a few seconds of traffic to show.
      for (const path of ["/", "/error", "/", "/", "/error", "/"]) {
        await runClient(new URL(path, server.url).href, { otlpEndpoint: receiver.url });
      }
      await receiver.store.waitFor(
        (store) =>
          store.metrics.series().some((series) =>
            series.service === "server" && series.name === "http.server.request.duration" &&
            series.attributes["http.response.status_code"] === "500"
          ),
        { signal, what: "the server's request duration of GET /error" },
      );
      await receiver.store.waitFor(
        (store) => store.trace(traceId!)?.logs.some((log) => String(log.body).includes("Processing request")),
        { signal, what: "the server's log record" },
      );
    }
    const hostile = hostileMetricsAndLog();
    await post(`${receiver.url}/v1/metrics`, hostile.metrics);
    await post(`${receiver.url}/v1/logs`, hostile.logs);

    await using chrome = await launchChromium();
    const { page, requests, problems } = await watchedPage(chrome.browser, 900);

    // Metrics: the server's route with a non-zero request rate, the error route with a non-zero error rate.
    await page.goto(web.url + "#view=metrics");
    assert.deepEqual(await shownView(page), ["metrics"]);
    const row = (route: string) => `#http-rows tr[data-service="server"][data-route="${route}"]`;
    await page.waitForSelector(row("GET /"));
    await page.waitForSelector(row("GET /error"));
    const cells = (route: string) =>
      page.$$eval(
        `${row(route)} td`,
        (tds) => tds.map((td) => td.querySelector(".value")?.textContent ?? td.textContent),
      );
    const [service, side, route, rate, errors, latency] = await cells("GET /");
    assert.deepEqual([service, side, route], ["server", "server", "GET /"]);
    assert.ok(Number.parseFloat(rate!) > 0, `request rate ${rate}`);
    assert.match(errors!, /^0\.00\/s \(0\.00%\)$/);
    assert.match(latency!, /^[\d.]+ m?s \/ [\d.]+ m?s \/ [\d.]+ m?s$/);
    const [, , , , errorRate] = await cells("GET /error");
    assert.ok(Number.parseFloat(errorRate!) > 0, `error rate ${errorRate}`);
    assert.equal(await page.$$eval(`${row("GET /")} svg.chart`, (charts) => charts.length), 3);
    // Deno's runtime metrics and the hostile one, its name and unit as text.
    await page.waitForSelector('#metric-rows tr[data-metric="v8js.memory.heap.size"]');
    const hostileRow = await page.$$eval(
      "#metric-rows tr",
      (rows, text) =>
        rows.filter((row) => row.dataset.metric === text).map((row) => [
          row.querySelector(".name")?.textContent,
          row.querySelector(".unit")?.textContent,
        ]),
      HOSTILE,
    );
    assert.deepEqual(hostileRow, [[HOSTILE, HOSTILE.slice(0, 64)]], "a unit is cut to 64 characters");
    // An attribute value as a route.
    assert.equal(
      await page.$eval('#http-rows tr[data-service="hostile"] .route', (route) => route.textContent),
      HOSTILE,
    );
    assert.match(String(await page.$eval("#metrics-facts", (p) => p.textContent)), /invalidPoints 1/);
    const permission = await Deno.permissions.query({ name: "write", path: METRICS_SCREENSHOT });
    if (permission.state === "granted") {
      await Deno.writeFile(METRICS_SCREENSHOT, await page.screenshot({ type: "png" }));
    }

    // Logs: the handler's line, linked to its span; filters by service, severity and text.
    await page.click("#tab-logs");
    await page.waitForSelector("#log-rows tr");
    assert.deepEqual(await shownView(page), ["logs"]);
    const logRows = () =>
      page.$$eval("#log-rows tr", (rows) =>
        rows.map((row) => ({
          service: row.querySelector(".svc")?.textContent,
          severity: row.querySelector(".severity")?.textContent,
          body: row.querySelector(".log-body")?.textContent,
          link: row.querySelector(".span-link a")?.getAttribute("href") ?? null,
        })));
    const handlerSpan = receiver.store.trace(traceId)!.spans.find((span) => span.name === "process-request")!;
    const all = await logRows();
    assert.equal(all[0].body, HOSTILE, "newest first: the hostile record came last");
    assert.deepEqual(all[0], { service: "hostile", severity: "ERROR", body: HOSTILE, link: null });
    const handlerLine = all.findLast((log) => log.body === "Server: Processing request in trace context\n");
    assert.deepEqual(handlerLine, {
      service: "server",
      severity: "INFO",
      body: "Server: Processing request in trace context\n",
      link: `#trace=${traceId}&span=${handlerSpan.spanId}`,
    });
    if (permission.state === "granted") {
      await Deno.writeFile(LOGS_SCREENSHOT, await page.screenshot({ type: "png" }));
    }
    await page.select("#log-service", "server");
    await page.select("#log-severity", "ERROR");
    // The server's two calls of /error, and nothing else.
    await page.waitForFunction(
      `[...document.querySelectorAll("#log-rows .log-body")].map((body) => body.textContent).join("|") ===
      Array(2).fill("Server: simulated failure\\n").join("|")`,
    );
    await page.select("#log-severity", "");
    await page.type("#log-text", "PROCESSING request");
    await page.waitForFunction('document.querySelectorAll("#log-rows tr").length === 5');
    const processing = await logRows();
    assert.ok(processing.every((log) => log.body === "Server: Processing request in trace context\n"));
    assert.equal(processing.at(-1)!.link, handlerLine!.link, "the oldest is the first call's");

    // The link opens the span in the Traces view.
    await clickNow(page, "#log-rows tr:last-child .span-link a");
    await page.waitForFunction('document.querySelector("#details h3")?.textContent === "process-request"');
    assert.deepEqual(await shownView(page), ["traces"]);
    assert.match(page.url(), new RegExp(`#trace=${traceId}&span=${handlerSpan.spanId}$`));

    assert.deepEqual(
      await page.evaluate(
        `({ pwned: window.__pwned ?? null, images: document.querySelectorAll("img").length })`,
      ),
      { pwned: null, images: 0 },
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(requests.filter((url) => !url.startsWith(origin + "/")), []);
  },
);

/** OTLP/JSON of a queue: trace `sent` (PRODUCER and its CONSUMER), trace `batch` linking to the PRODUCER. */
function queueTraces(sent: string, batch: string, elsewhere: string) {
  const start = BigInt(Date.now()) * 1_000_000n - 5_000_000_000n;
  const span = (traceId: string, n: number, fields: Record<string, unknown>) => ({
    traceId,
    spanId: (n + 1).toString(16).padStart(16, "0"),
    startTimeUnixNano: String(start + BigInt(n) * 1_000_000n),
    endTimeUnixNano: String(start + BigInt(n + 1) * 1_000_000n),
    ...fields,
  });
  const destination = { key: "messaging.destination.name", value: { stringValue: "jobs" } };
  const spans = [
    span(sent, 0, { name: "enqueue jobs", kind: 4, attributes: [destination] }),
    span(sent, 1, {
      name: "process jobs",
      kind: 5,
      parentSpanId: span(sent, 0, {}).spanId,
      attributes: [destination],
    }),
    span(batch, 2, {
      name: "process notifications",
      kind: 5,
      links: [
        { traceId: sent, spanId: span(sent, 0, {}).spanId, attributes: [destination] },
        { traceId: elsewhere, spanId: "00000000000000aa" },
      ],
    }),
  ];
  const resource = { attributes: [{ key: "service.name", value: { stringValue: "jobs" } }] };
  return { resourceSpans: [{ resource, scopeSpans: [{ scope: { name: "jobs-queue" }, spans }] }] };
}

browserTest(
  "the web view draws PRODUCER and CONSUMER spans, and links that open the span they point to, or come from",
  async (receiver, web) => {
    const [sent, batch, elsewhere] = [hex(16), hex(16), hex(16)];
    await post(`${receiver.url}/v1/traces`, queueTraces(sent, batch, elsewhere));
    await using chrome = await launchChromium();
    const page = await chrome.browser.newPage();
    page.setDefaultTimeout(10_000);
    const problems: string[] = [];
    page.on("pageerror", (error) => void problems.push(String(error)));

    await page.goto(`${web.url}#trace=${sent}`);
    await page.waitForFunction('document.querySelectorAll(".span-row").length === 2');
    assert.deepEqual(await waterfallRows(page), [["jobs", "PRODUCER", "enqueue jobs"], [
      "jobs",
      "CONSUMER",
      "process jobs",
    ]]);
    assert.equal(await page.$$eval(".span-row .kind.messaging", (kinds) => kinds.length), 2);
    assert.equal(await page.$eval(".span-row .hop", (hop) => hop.textContent), "⇢ jobs");
    assert.deepEqual(
      await page.$$eval(".span-row .linked-from", (marks) => marks.map((mark) => mark.textContent)),
      ["↙ linked from 1"],
    );

    await page.goto(`${web.url}#trace=${batch}&span=0000000000000003`);
    await page.waitForSelector("#details .item.link");
    assert.equal(await page.$eval(".span-row .links", (badge) => badge.textContent), "↗ 2 links");
    const items = await page.$$eval("#details .item.link", (items) => items.map((item) => item.textContent));
    assert.match(items[0]!, new RegExp(`^↗ jobs enqueue jobs \\(trace ${sent} · span 0000000000000001\\)`));
    assert.match(items[0]!, /messaging\.destination\.name\s*jobs/);
    assert.equal(items[1], `↗ trace ${elsewhere} · span 00000000000000aa (not held by this viewer)`);
    assert.equal(await page.$$eval("#details a.link-target", (anchors) => anchors.length), 1);

    await page.click("#details a.link-target");
    await page.waitForFunction('document.querySelector("#details h3")?.textContent === "enqueue jobs"');
    assert.ok(page.url().endsWith(`#trace=${sent}&span=0000000000000001`), page.url());

    // The other way: the PRODUCER span names the batch that links to it, and that opens the batch's span.
    await page.waitForSelector("#details .item.linked-from");
    const linkedFrom = await page.$$eval(
      "#details .item.linked-from",
      (items) => items.map((item) => item.textContent),
    );
    assert.deepEqual(linkedFrom, [`↙ jobs process notifications (trace ${batch} · span 0000000000000003)`]);
    assert.ok(
      await page.$$eval(
        "#details h4",
        (heads) => heads.some((head) => head.textContent === "Linked from (1)"),
      ),
    );
    await page.click("#details a.link-source");
    await page.waitForFunction(
      'document.querySelector("#details h3")?.textContent === "process notifications"',
    );
    assert.ok(page.url().endsWith(`#trace=${batch}&span=0000000000000003`), page.url());
    assert.deepEqual(problems, []);
  },
);

/** Empties an input of the page (it is searched again on the next change). */
async function clear(page: Page, id: string) {
  await page.evaluate(`document.getElementById("${id}").value = ""`);
}

/** Sets the input `id` to `value` in one step and tells the search bar, as a paste would. */
async function fill(page: Page, id: string, value: string) {
  await page.evaluate(`{
    const input = document.getElementById(${JSON.stringify(id)});
    input.value = ${JSON.stringify(value)};
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }`);
}

/** The trace ids of the list's rows, top to bottom. */
function listed(page: Page): Promise<string[]> {
  return page.$$eval("#trace-rows tr", (rows) => rows.map((row) => row.dataset.traceId ?? ""));
}

browserTest(
  "the web view searches the traces, marks the critical path, shows self time and compares two picked traces",
  async (receiver, web) => {
    const [slow, fast, failed] = [hex(16), hex(16), hex(16)];
    await post(`${receiver.url}/v1/traces`, checkout(slow, 300, { environment: "prod" }));
    await post(`${receiver.url}/v1/traces`, checkout(fast, 40));
    await post(`${receiver.url}/v1/traces`, checkout(failed, 100, { failed: true }));
    await using chrome = await launchChromium();
    const { page, problems } = await watchedPage(chrome.browser, 900);
    await page.goto(web.url);
    await page.waitForFunction('document.querySelectorAll("#trace-rows tr").length === 3');
    assert.deepEqual(await listed(page), [failed, fast, slow], "newest first");

    // Search: each field narrows the list, and the bar says how many match.
    const waitListed = (ids: string[]) =>
      page.waitForFunction(
        `[...document.querySelectorAll("#trace-rows tr")].map((row) => row.dataset.traceId).join() === "${ids}"`,
      );
    await page.select("#search-sort", "duration");
    await waitListed([slow, failed, fast]);
    await page.type("#search-attributes", "deployment.environment=prod");
    await waitListed([slow]);
    assert.equal(await page.$eval("#search-facts", (facts) => facts.textContent), "1 of 3 traces match");
    await clear(page, "search-attributes");
    await page.click("#search-errors");
    await waitListed([failed]);
    await page.type("#search-service", "shop");
    await waitListed([]);
    assert.equal(await page.$eval("#search-facts", (facts) => facts.textContent), "0 of 3 traces match");
    await page.click("#search-errors");
    await page.type("#search-min", "100");
    await waitListed([slow, failed]);
    await page.type("#search-max", "50");
    await page.waitForFunction(
      'document.getElementById("search-facts").textContent === "minDurationMs is more than maxDurationMs"',
    );
    assert.deepEqual(await listed(page), [slow, failed], "a refused search keeps the list");
    await clear(page, "search-max");
    // Whole values at once: typed a key at a time, "POST /c" matches nothing for a moment, and the list that
    // already showed [slow, failed] would pass the wait below before the search of the whole name had run.
    await fill(page, "search-max", "1000");
    await fill(page, "search-operation", "POST /checkout");
    await waitListed([slow, failed]);

    // The critical path of the slow checkout: the query, then the cache, then the shop's own 10 ms.
    await clickNow(page, `#trace-rows tr[data-trace-id="${slow}"]`);
    await page.waitForFunction('document.querySelectorAll(".span-row").length === 3');
    const marks = await page.$$eval(".span-row", (rows) =>
      rows.map((row) => [
        row.querySelector(".name")?.textContent,
        row.classList.contains("on-critical"),
        row.querySelectorAll(".critical").length,
      ]));
    assert.deepEqual(marks, [["POST /checkout", true, 1], ["SELECT orders", true, 1], ["GET cart", true, 1]]);
    assert.deepEqual(
      await page.$$eval("#legend .chip.critical", (chips) => chips.map((chip) => chip.textContent)),
      ["critical path"],
    );
    await page.click(".span-row:nth-child(1)");
    await page.waitForFunction('document.querySelector("#details h3")?.textContent === "POST /checkout"');
    assert.match(
      String(await page.evaluate('document.getElementById("details").innerText')),
      /duration\s+330\.0 ms\s+self time\s+10\.0 ms/,
    );
    for (const [url, permission] of [[SEARCH_SCREENSHOT, "search"]] as const) {
      if ((await Deno.permissions.query({ name: "write", path: url })).state === "granted") {
        await Deno.writeFile(url, await page.screenshot({ type: "png" }));
      }
      void permission;
    }

    // Compare: pick the slow one and the fast one; what changed most (the query) comes first.
    await clear(page, "search-min");
    await clear(page, "search-max");
    await clear(page, "search-operation");
    await clear(page, "search-service");
    await page.select("#search-sort", "recent");
    await waitListed([failed, fast, slow]);
    assert.equal(await page.evaluate('document.getElementById("compare-button").disabled'), true);
    await clickNow(page, `#trace-rows tr[data-trace-id="${slow}"] input.pick`);
    await clickNow(page, `#trace-rows tr[data-trace-id="${fast}"] input.pick`);
    assert.ok(page.url().includes(`#trace=${slow}`), "picking does not select the trace");
    await page.click("#compare-button");
    await page.waitForSelector("#compare-rows tr");
    assert.ok(page.url().endsWith(`#compare=${slow}&with=${fast}`), page.url());
    assert.equal(await page.evaluate('document.getElementById("waterfall-panel").hidden'), true);
    const rows = await page.$$eval(
      "#compare-rows tr",
      (rows) =>
        rows.map((row) => [row.className, ...[...row.querySelectorAll("td")].map((td) => td.textContent)]),
    );
    assert.deepEqual(rows, [
      ["faster", "db", "SELECT orders", "1", "1", "300.0 ms", "40.0 ms", "−260.0 ms"],
      ["", "cache", "GET cart", "1", "1", "20.0 ms", "20.0 ms", "±0.00 ms"],
      ["", "shop", "POST /checkout", "1", "1", "10.0 ms", "10.0 ms", "±0.00 ms"],
    ]);
    assert.match(
      String(await page.$eval("#compare-facts", (facts) => facts.textContent)),
      /1 of 3 operations changed/,
    );
    if ((await Deno.permissions.query({ name: "write", path: COMPARE_SCREENSHOT })).state === "granted") {
      await Deno.writeFile(COMPARE_SCREENSHOT, await page.screenshot({ type: "png" }));
    }
    // Back to a trace: the waterfall returns.
    await clickNow(page, `#trace-rows tr[data-trace-id="${fast}"]`);
    await page.waitForFunction(
      '!document.getElementById("waterfall-panel").hidden && document.querySelectorAll(".span-row").length === 3',
    );
    // The browser logs the 400s of the search refused above (most ms less than least), and nothing else.
    assert.deepEqual(problems.filter((problem) => !problem.includes("status of 400 (Bad Request)")), []);
  },
);
