/**
 * The viewer's changes, as they happen: one event stream per browser, shared by its tabs through a
 * SharedWorker (`events_worker.js`), so that any number of tabs can be open; where a browser has no
 * SharedWorker, each tab opens its own.
 *
 * @module
 */

/**
 * What a tab is told.
 *
 * @typedef {object} Listener
 * @property {() => void} onOpen the stream is live (again): whatever changed meanwhile must be fetched
 * @property {() => void} onError the stream is down and reconnecting
 * @property {(traceIds: string[] | null) => void} onTraces these traces changed (`null`: many did)
 */

/**
 * Listens to the viewer's changes.
 *
 * @param {Listener} listener
 */
export function subscribe(listener) {
  /** @param {{ type: string, traceIds?: string[] | null }} message */
  const dispatch = (message) => {
    if (message.type === "open") listener.onOpen();
    else if (message.type === "error") listener.onError();
    else if (message.type === "traces") listener.onTraces(message.traceIds ?? null);
  };
  if (typeof SharedWorker !== "function") return ownStream(dispatch);
  const worker = new SharedWorker("/events_worker.js", { name: "viewer events" });
  worker.port.addEventListener("message", (event) => dispatch(event.data));
  worker.port.start();
  // A tab that goes away stops getting events; one restored from the back-forward cache gets them again.
  addEventListener("pagehide", () => worker.port.postMessage("close"));
  addEventListener("pageshow", (event) => {
    if (event.persisted) worker.port.postMessage("open");
  });
}

/**
 * A tab's own event stream, where there is no SharedWorker.
 *
 * @param {(message: { type: string, traceIds?: string[] | null }) => void} dispatch
 */
function ownStream(dispatch) {
  const source = new EventSource("/api/events");
  source.addEventListener("open", () => dispatch({ type: "open" }));
  source.addEventListener("error", () => dispatch({ type: "error" }));
  source.addEventListener("traces", (event) => dispatch({ type: "traces", ...JSON.parse(event.data) }));
}
