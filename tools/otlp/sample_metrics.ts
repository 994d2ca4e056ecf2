/**
 * Decoded metrics for the tests of the metric store and of what the viewer makes of it.
 *
 * @module
 */
import type { Metric, MetricPoint } from "./decode.ts";

const S = 1_000_000_000n;

/** The bounds {@linkcode httpDuration} gives its buckets, in seconds. */
export const DURATION_BOUNDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1];

/**
 * A decoded metric: a gauge named `test` of the service `svc`, unless `fields` say otherwise; each point
 * without attributes or a start time, taken at 1 s, unless it says otherwise.
 */
export function testMetric(
  fields: Partial<Omit<Metric, "points">> & { points?: Partial<MetricPoint>[] } = {},
): Metric {
  const { points = [], ...rest } = fields;
  return {
    name: "test",
    description: "",
    unit: "1",
    kind: "gauge",
    temporality: "unspecified",
    monotonic: false,
    service: "svc",
    resource: { "service.name": rest.service ?? "svc" },
    scope: { name: "test" },
    ...rest,
    points: points.map((point) => ({ attributes: {}, startTimeUnixNano: 0n, timeUnixNano: S, ...point })),
  };
}

/**
 * Deno's `http.server.request.duration` of the service `server` for `GET route` answered `status`: one
 * cumulative point per `[second, bucketCounts]` (over {@linkcode DURATION_BOUNDS}), started at `start` s.
 */
export function httpDuration(
  status: number,
  points: [number, number[]][],
  { start = 1, route = "/" }: { start?: number; route?: string } = {},
): Metric {
  return testMetric({
    name: "http.server.request.duration",
    unit: "s",
    kind: "histogram",
    temporality: "cumulative",
    service: "server",
    scope: { name: "deno" },
    points: points.map(([second, buckets]) => ({
      attributes: { "http.request.method": "GET", "http.route": route, "http.response.status_code": status },
      startTimeUnixNano: BigInt(start) * S,
      timeUnixNano: BigInt(second) * S,
      count: buckets.reduce((a, b) => a + b, 0),
      bucketCounts: buckets,
      explicitBounds: [...DURATION_BOUNDS],
    })),
  });
}
