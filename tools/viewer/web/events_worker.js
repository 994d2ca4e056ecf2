/**
 * A SharedWorker that holds the one event stream (`/api/events`) of every tab of this browser on the viewer,
 * and passes each event to the tabs' ports. A browser opens at most 6 HTTP/1.1 connections to one host: an
 * event stream per tab would take them all with six tabs, and a seventh would load nothing.
 *
 * A tab's port gets `{ type: "open" }` when the stream is (or becomes) live, `{ type: "error" }` while it
 * reconnects, and `{ type: "traces", traceIds }` for each change. A tab posts "close" when it goes away and
 * "open" when it comes back (from the back-forward cache).
 *
 * @module
 */

/** @type {Set<MessagePort>} */
const ports = new Set();
/** @type {EventSource | null} */
let source = null;
let live = false;

/** @param {unknown} message */
function broadcast(message) {
  for (const port of ports) port.postMessage(message);
}

function connect() {
  source = new EventSource("/api/events");
  source.addEventListener("open", () => {
    live = true;
    broadcast({ type: "open" });
  });
  source.addEventListener("error", () => {
    live = false;
    broadcast({ type: "error" });
  });
  source.addEventListener("traces", (event) => {
    const { traceIds } = JSON.parse(/** @type {MessageEvent<string>} */ (event).data);
    broadcast({ type: "traces", traceIds });
  });
}

addEventListener("connect", (event) => {
  const port = /** @type {MessageEvent} */ (event).ports[0];
  ports.add(port);
  port.addEventListener("message", ({ data }) => {
    if (data === "close") ports.delete(port);
    if (data === "open") {
      ports.add(port);
      if (live) port.postMessage({ type: "open" });
    }
  });
  port.start();
  if (source === null) connect();
  else if (live) port.postMessage({ type: "open" });
});
