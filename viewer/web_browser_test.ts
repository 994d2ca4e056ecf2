/**
 * The web view in a real browser: Debian's Chromium, headless, driven by puppeteer-core over the DevTools
 * protocol. The example's server and client export to a receiver; the page must show their joined trace,
 * a span's event and log line, hostile sender data as text, and new traces without a reload.
 *
 * Skipped, saying so, where `/usr/bin/chromium` is not installed (`apt-get install chromium`); CI has it.
 * Given `--allow-write=viewer/web_view.png`, it also refreshes that screenshot of the waterfall.
 *
 * @module
 */
import assert from "node:assert/strict";
import puppeteer, { type ConnectionTransport, type Page } from "puppeteer-core/browser";
import { startReceiver } from "@example/otlp/receiver";
import { runClient, startServer } from "@example/harness/processes";
import { startWebView } from "./web.ts";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = new URL("web_view.png", import.meta.url);
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
    `viewer/web_browser_test.ts: skipped, no browser at ${CHROMIUM} (Debian: apt-get install chromium)`,
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

/** The waterfall's rows as [service, kind, name]. */
function waterfallRows(page: Page): Promise<string[][]> {
  return page.$$eval(
    ".span-row",
    (rows) =>
      rows.map((row) => [".svc", ".kind", ".name"].map((s) => row.querySelector(s)?.textContent ?? "")),
  );
}

Deno.test({
  name: "the web view shows the example's joined trace, a span's details, hostile data as text, live updates",
  ignore: chromium === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await using receiver = startReceiver({ port: 0 });
  await using web = startWebView({ store: receiver.store, port: 0 });
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
  const page = await chrome.browser.newPage();
  page.setDefaultTimeout(10_000);
  await page.setViewport({ width: 1280, height: 720 });
  const requests: string[] = [];
  const problems: string[] = [];
  page.on("request", (request) => void requests.push(request.url()));
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warn") problems.push(message.text());
  });
  page.on("pageerror", (error) => void problems.push(String(error)));

  await page.goto(web.url);
  const traceRow = `#trace-rows tr[data-trace-id="${traceId}"]`;
  await page.waitForSelector(traceRow);
  const cells = await page.$$eval(`${traceRow} td`, (cells) => cells.map((cell) => cell.textContent));
  assert.deepEqual(cells.slice(1, 4), ["call-api client", "clientserver", "4"]);
  assert.deepEqual(cells.slice(5), ["ok", traceId]);
  assert.deepEqual(
    await page.$$eval(`${traceRow} .chip`, (chips) => chips.map((chip) => chip.textContent)),
    ["client", "server"],
  );
  await page.click(traceRow);
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
    ["client", "server"],
  );

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
  await page.click(`#trace-rows tr[data-trace-id="${hostileTraceId}"]`);
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

  await page.click(`#trace-rows tr[data-trace-id="${deepTraceId}"]`);
  await page.waitForFunction('document.querySelectorAll(".span-row").length === 2000');
  assert.equal(await page.$eval(".span-row:last-child .name", (name) => name.textContent), "level-1999");
  assert.equal(await page.$eval(".span-row:last-child .deep", (deep) => deep.textContent), "depth 1999");

  assert.deepEqual(problems, []);
  assert.deepEqual(requests.filter((url) => !url.startsWith(origin + "/")), []);
});

Deno.test({
  name: "seven tabs of one browser all show the list, and a new trace appears in every one",
  ignore: chromium === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await using receiver = startReceiver({ port: 0 });
  await using web = startWebView({ store: receiver.store, port: 0 });
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
});
