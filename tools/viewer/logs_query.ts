/**
 * The viewer's log list: every log record the store holds, newest first, filtered by service, by a least
 * severity and by text in the body. What `GET /api/logs` answers.
 *
 * @module
 */
import type { LogRecord } from "@example/otlp/decode";
import type { TelemetryStore } from "@example/otlp/receiver";

/** What to list. */
export interface LogFilter {
  /** Only this service's records ("" or absent: all). */
  service?: string;
  /** Only records at least this severe: `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `FATAL`. */
  severity?: string;
  /** Only records whose body holds this text, ignoring case. */
  text?: string;
  /** At most this many records (default 200). */
  limit?: number;
}

/** The answer of {@linkcode listLogs}. */
export interface LogList {
  /** Log records held. */
  total: number;
  /** Records that match the filter. */
  matched: number;
  /** The newest `limit` of them, newest first. */
  logs: LogRecord[];
  /** Every service with a record held, sorted. */
  services: string[];
}

/** The severities a filter names, least first, with OpenTelemetry's lowest severity number of each. */
export const SEVERITIES: Readonly<Record<string, number>> = {
  TRACE: 1,
  DEBUG: 5,
  INFO: 9,
  WARN: 13,
  ERROR: 17,
  FATAL: 21,
};

/** The most records one answer holds. */
export const MAX_LOG_LIMIT = 1000;

/** The severity number of a record's severity text (`INFO`, `warn`, `ERROR2` …), or 0 when it has none known. */
export function severityOf(text: string | undefined): number {
  const match = /^(TRACE|DEBUG|INFO|WARN(?:ING)?|ERROR|FATAL)([1-4])?$/i.exec(text?.trim() ?? "");
  if (match === null) return 0;
  const base = SEVERITIES[match[1].toUpperCase().replace("WARNING", "WARN")];
  return base + (match[2] ? Number(match[2]) - 1 : 0);
}

function bodyText(body: unknown): string {
  return typeof body === "string" ? body : JSON.stringify(body) ?? "";
}

/**
 * The store's log records that match `filter`, newest first. Reads every record held (a body's text may be
 * long), in slices of `sliceMs` (default 10) that let the event loop run between them, so that a search that
 * matches nothing does not keep the receiver from its work.
 */
export async function listLogs(
  store: TelemetryStore,
  filter: LogFilter = {},
  { sliceMs = 10 }: { sliceMs?: number } = {},
): Promise<LogList> {
  const least = filter.severity ? SEVERITIES[filter.severity] ?? 0 : 0;
  const text = filter.text?.toLowerCase() ?? "";
  const limit = filter.limit ?? 200;
  const services = new Set<string>();
  const matches: LogRecord[] = [];
  let matched = 0, started = performance.now();
  // The records held when the search began: the store adds to its array, and replaces it as it evicts.
  const logs = store.logs;
  const total = logs.length;
  for (let i = 0; i < total; i++) {
    const log = logs[i];
    if (performance.now() - started >= sliceMs) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      started = performance.now();
    }
    services.add(log.service);
    if (filter.service && log.service !== filter.service) continue;
    if (least > 0 && severityOf(log.severityText) < least) continue;
    if (text && !bodyText(log.body).toLowerCase().includes(text)) continue;
    matched++;
    matches.push(log);
    // Arrival order is nearly time order: keep the latest arrivals, then sort those by time.
    if (matches.length > 2 * limit) matches.splice(0, matches.length - limit);
  }
  const sorted = matches
    .sort((a, b) => a.timeUnixNano > b.timeUnixNano ? -1 : a.timeUnixNano < b.timeUnixNano ? 1 : 0)
    .slice(0, limit);
  return { total, matched, logs: sorted, services: [...services].sort() };
}

/**
 * Reads a {@linkcode LogFilter} from `GET /api/logs` query parameters (`service`, `severity`, `q`, `limit`),
 * or says what is wrong with them.
 */
export function logFilterOf(params: URLSearchParams): LogFilter | { error: string } {
  const raw = params.get("limit") ?? "200";
  const limit = Number(raw);
  if (!/^\d+$/.test(raw) || limit < 1 || limit > MAX_LOG_LIMIT) {
    return { error: `limit takes a whole number from 1 to ${MAX_LOG_LIMIT}, got ${JSON.stringify(raw)}` };
  }
  const severity = (params.get("severity") ?? "").toUpperCase();
  if (severity !== "" && !Object.hasOwn(SEVERITIES, severity)) {
    return {
      error: `severity takes one of ${Object.keys(SEVERITIES).join(", ")}, got ${JSON.stringify(severity)}`,
    };
  }
  return {
    service: params.get("service") ?? "",
    severity,
    text: (params.get("q") ?? "").slice(0, 1000),
    limit,
  };
}
