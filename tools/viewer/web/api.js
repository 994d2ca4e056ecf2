/**
 * What the page reads from the viewer's JSON API (`/api/traces`, `/api/traces/{id}`), as types, and the
 * fetching of one trace with its times parsed once.
 *
 * @module
 */
import { getJson, nanos } from "./dom.js";

/**
 * One line of the trace list.
 *
 * @typedef {object} TraceSummary
 * @property {string} traceId
 * @property {string} name
 * @property {string} service
 * @property {string[]} services
 * @property {number} spans
 * @property {number} logs
 * @property {number} errors
 * @property {string} startTimeUnixNano
 * @property {string} durationNanos
 * @property {boolean} complete
 * @property {number} duplicateSpans
 */

/**
 * @typedef {object} SpanEvent
 * @property {string} name
 * @property {string} timeUnixNano
 * @property {Record<string, unknown>} attributes
 */

/**
 * @typedef {object} SpanLink
 * @property {string} traceId
 * @property {string} spanId
 * @property {Record<string, unknown>} attributes
 */

/**
 * A span whose link points to a span of the trace shown.
 *
 * @typedef {object} LinkSource
 * @property {string} traceId
 * @property {string} spanId
 * @property {string} service
 * @property {string} name
 */

/**
 * A span as the API sends it, with its times parsed (`_start`, `_end`).
 *
 * @typedef {object} Span
 * @property {string} spanId
 * @property {string} [parentSpanId]
 * @property {string} name
 * @property {string} kind
 * @property {string} startTimeUnixNano
 * @property {string} endTimeUnixNano
 * @property {Record<string, unknown>} attributes
 * @property {SpanEvent[]} events
 * @property {SpanLink[]} [links]
 * @property {{ code: string, message?: string }} status
 * @property {string} service
 * @property {number} resource the index of its resource in the trace's `resources`
 * @property {{ name: string, version?: string }} scope
 * @property {string} [selfTimeNanos] its duration less what its children cover
 * @property {bigint} _start
 * @property {bigint} _end
 */

/**
 * A stretch of the critical path, spent in span `spanId` itself.
 *
 * @typedef {object} CriticalSegment
 * @property {string} spanId
 * @property {string} startTimeUnixNano
 * @property {string} endTimeUnixNano
 */

/**
 * @typedef {object} LogRecord
 * @property {string} [spanId]
 * @property {string} timeUnixNano
 * @property {string} [severityText]
 * @property {unknown} body
 * @property {Record<string, unknown>} [attributes]
 */

/**
 * One trace as the API sends it, with its earliest start parsed (`_start`).
 *
 * @typedef {object} Trace
 * @property {string} traceId
 * @property {Span[]} spans
 * @property {LogRecord[]} logs
 * @property {boolean} complete
 * @property {CriticalSegment[]} [criticalPath] segments in time order that together cover the root span
 * @property {number} duplicateSpans spans that arrived with an id the trace already held (not kept)
 * @property {Record<string, unknown>[]} resources each distinct resource once; spans name theirs by index
 * @property {{ resources: number, spans: number, logs: number, criticalPath: number, reason: string }} [truncated]
 *   what was left out
 * @property {Record<string, { service: string, name: string }>} [linkTargets] the spans links point to that
 *   the viewer holds, by `traceId/spanId`
 * @property {Record<string, LinkSource[]>} [linkedFrom] by the id of a span of this trace, the spans the viewer
 *   holds whose links point to it
 * @property {number} [linkedFromLeftOut] links to this trace not sent (past the store's caps or the answer's bound)
 * @property {bigint} _start
 */

/**
 * Fetches one trace and parses its times once: the waterfall, the sort and the details use these.
 *
 * @param {string} traceId
 * @returns {Promise<Trace>}
 */
export async function fetchTrace(traceId) {
  const trace = await getJson("/api/traces/" + traceId);
  /** @type {bigint | null} */
  let start = null;
  for (const span of trace.spans) {
    span._start = nanos(span.startTimeUnixNano);
    span._end = nanos(span.endTimeUnixNano);
    if (start === null || span._start < start) start = span._start;
  }
  trace._start = start ?? 0n;
  return trace;
}
