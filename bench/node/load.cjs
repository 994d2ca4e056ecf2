// Drives HTTP load at one URL with autocannon and prints one JSON line: what was answered and the latency
// percentiles. autocannon's own histogram has 1 ms resolution, too coarse for sub-millisecond answers, so the
// latency of every 2xx answer is also recorded here, in microseconds, in an HdrHistogram.
//
//   node load.cjs --url http://127.0.0.1:8000/ --connections 32 --duration 10 --warmup 2 [--rate 5000]
"use strict";

const { parseArgs } = require("node:util");
const autocannon = require("autocannon");
const hdr = require("hdr-histogram-js");

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    connections: { type: "string", default: "32" },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "0" },
    rate: { type: "string" },
  },
  strict: true,
});
if (values.url === undefined) throw new Error("--url is required");
if (values.rate !== undefined && Number(values.rate) < Number(values.connections)) {
  // autocannon gives each connection rate / connections requests per second; 0 would mean no limit.
  throw new Error("--rate must be at least --connections");
}

function number(name) {
  const value = Number(values[name]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number >= 0`);
  return value;
}

/**
 * Requests autocannon sent in a run. Its `requests.sent` counts each connection's first request as the
 * connection's rate limit instead of 1 when a rate is set (lib/run.js: "we will miss the initial request
 * emits"), so that count is corrected here: with a rate of at least one request per second per connection,
 * it is over by `rate - connections`.
 */
function sent(result) {
  const rate = values.rate === undefined ? undefined : number("rate");
  return rate === undefined ? result.requests.sent : result.requests.sent - rate + number("connections");
}

/** Runs autocannon for `seconds`, calling `onOk` with each 2xx answer's latency in milliseconds. */
function run(seconds, onOk) {
  const options = {
    url: values.url,
    connections: number("connections"),
    duration: seconds,
    ...(values.rate === undefined ? {} : { overallRate: number("rate") }),
  };
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) => error ? reject(error) : resolve(result));
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) onOk(responseTime);
    });
  });
}

async function main() {
  let warmupOk = 0;
  let warmupSent = 0;
  if (number("warmup") > 0) {
    const warm = await run(number("warmup"), () => {});
    warmupOk = warm["2xx"];
    warmupSent = sent(warm);
  }
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const result = await run(
    number("duration"),
    (ms) => histogram.recordValue(Math.max(1, Math.round(ms * 1000))),
  );
  const ok = result["2xx"];
  console.log(JSON.stringify({
    warmupOk,
    warmupSent,
    ok,
    sent: sent(result),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds: result.duration,
    requestsPerSecond: ok / result.duration,
    latencyUs: {
      p50: histogram.getValueAtPercentile(50),
      p99: histogram.getValueAtPercentile(99),
      max: histogram.maxValue,
      mean: histogram.mean,
    },
    // This process's own CPU time (warm-up included), to tell the load generator's share of the machine.
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    tool: `autocannon ${require("autocannon/package.json").version}`,
  }));
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
