// The benchmark's arithmetic and rendering, without running anything: span expectations, loss, the tables and
// the chart. `deno task --cwd tools/bench smoke` runs the harness itself.
import assert from "node:assert/strict";
import { countTempoSpans, rotated } from "./bench.ts";
import { CountingStore } from "./counting_store.ts";
import {
  clientRoundsTable,
  type ClientRun,
  clientTable,
  lossPercent,
  median,
  rateTable,
  renderChart,
  type ServerRun,
  serverTable,
  spanCount,
  spread,
  summarizeClients,
  summarizeServers,
} from "./report.ts";
import { parseWrkOutput } from "./wrk.ts";

function run(overrides: Partial<ServerRun>): ServerRun {
  return {
    id: "deno-off",
    label: "Deno, tracing off",
    runtime: "deno",
    round: 0,
    settings: {},
    sinkDelayMs: 0,
    requestsPerSecond: 50_000,
    latencyUs: { p50: 500, p99: 2_000 },
    ok: 500_000,
    failed: 0,
    peakRssKiB: 90 * 1024,
    cpuUsPerRequest: 16,
    cpu: { server: 1, sink: 0, generator: 0.8, machine: 1.85, others: 0.05 },
    ...overrides,
  };
}

Deno.test("loss is the share of expected spans that did not arrive, never negative", () => {
  assert.equal(lossPercent(1000, 990), 1);
  assert.equal(lossPercent(1000, 1000), 0);
  assert.equal(lossPercent(1000, 1010), 0);
  assert.equal(lossPercent(0, 0), 0);
});

Deno.test("an exact span expectation is requests times spans per request", () => {
  assert.deepEqual(spanCount(1000, 2, 1990), {
    expected: 2000,
    received: 1990,
    approximate: false,
    lossPercent: 0.5,
  });
});

Deno.test("a sampled expectation carries three standard deviations of tolerance", () => {
  const count = spanCount(10_000, 2, 2_050, 0.1);
  assert.equal(count.expected, 2_000);
  assert.equal(count.approximate, true);
  // 3 × 2 × sqrt(10000 × 0.1 × 0.9) = 180
  assert.equal(count.tolerance, 180);
  const table = rateTable([
    run({ targetRate: 1000, spans: count, settings: { OTEL_TRACES_SAMPLER_ARG: "0.1" } }),
  ]);
  assert.match(table, /\| 0 ± 9\.0 % \| 1\.00 \| 1\.85 \|$/m, "within the tolerance it is no loss");
});

Deno.test("the median of an even and an odd number of values", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

Deno.test("rotation puts each configuration first once over as many rounds", () => {
  assert.deepEqual(rotated(["a", "b", "c"], 0), ["a", "b", "c"]);
  assert.deepEqual(rotated(["a", "b", "c"], 1), ["b", "c", "a"]);
  assert.deepEqual(rotated(["a", "b", "c"], 5), ["c", "a", "b"]);
  assert.deepEqual(rotated([], 3), []);
});

Deno.test("a spread is the median and the range", () => {
  assert.deepEqual(spread([3, 9, 1, 4]), { median: 3.5, min: 1, max: 9 });
});

// Two rounds: the machine was twice as fast in the second, and the ratio within each round is still 0.5.
const rounds = [
  run({ round: 0, requestsPerSecond: 20_000 }),
  run({
    round: 0,
    id: "deno-protobuf",
    label: "server.ts, traced",
    baseline: "deno-off",
    requestsPerSecond: 10_000,
    spans: spanCount(100_000, 2, 200_000),
    logs: spanCount(100_000, 1, 90_000),
  }),
  run({ round: 1, requestsPerSecond: 40_000 }),
  run({
    round: 1,
    id: "deno-protobuf",
    label: "server.ts, traced",
    baseline: "deno-off",
    requestsPerSecond: 20_000,
    spans: spanCount(200_000, 2, 400_000),
    logs: spanCount(200_000, 1, 200_000),
  }),
];

Deno.test("ratios are taken within each round, and losses summed over the rounds", () => {
  const [off, traced] = summarizeServers(rounds);
  assert.equal(off.rounds, 2);
  assert.deepEqual(off.requestsPerSecond, { median: 30_000, min: 20_000, max: 40_000 });
  assert.equal(off.vsUntraced, undefined);
  assert.deepEqual(traced.vsUntraced, { median: 0.5, min: 0.5, max: 0.5 });
  assert.equal(traced.spans?.lossPercent, 0);
  assert.equal(traced.logs?.expected, 300_000);
  assert.equal(traced.logs?.received, 290_000);
});

Deno.test("the server table shows medians with ranges, ratios and log loss", () => {
  const rows = serverTable(summarizeServers(rounds)).split("\n");
  assert.equal(rows.length, 4);
  assert.match(rows[2], /^\| Deno, tracing off \| 30,000 \(20,000–40,000\) \| – \| – \| 16 \|/);
  assert.match(rows[3], /^\| server\.ts, traced \| 15,000 \(10,000–20,000\) \| – \| 0\.50 \| 16 \|/);
  assert.match(rows[3], /\| 0 % of 600,000 \| 3\.3 % of 300,000 \|$/);
});

function clientRun(overrides: Partial<ClientRun>): ClientRun {
  return {
    id: "bench-client-off",
    label: "callApi, tracing off",
    round: 0,
    callsPerSecond: 8_000,
    latencyUs: { p50: 700, p99: 5_000 },
    calls: 40_000,
    errors: 0,
    peakRssKiB: 60 * 1024,
    cpuUsPerCall: 100,
    cpu: { server: 0.3, sink: 0.1, generator: 1, machine: 1.45, others: 0.05 },
    ...overrides,
  };
}

function tracedClient(overrides: Partial<ClientRun>): ClientRun {
  return clientRun({
    id: "bench-client-on",
    label: "callApi, tracing on",
    baseline: "bench-client-off",
    callsPerSecond: 6_000,
    cpuUsPerCall: 150,
    peakRssKiB: 70 * 1024,
    ...overrides,
  });
}

// Three rounds in rotated order; the machine was slower in the second, and the ratio within each round is
// what counts: 0.75, 0.5, 0.75.
const clientRounds = [
  clientRun({ round: 0 }),
  tracedClient({ round: 0, spans: spanCount(30_000, 2, 60_000) }),
  tracedClient({ round: 1, callsPerSecond: 2_000, cpuUsPerCall: 200, spans: spanCount(10_000, 2, 19_000) }),
  clientRun({ round: 1, callsPerSecond: 4_000, cpuUsPerCall: 120, peakRssKiB: 62 * 1024 }),
  clientRun({ round: 2, callsPerSecond: 8_000, cpuUsPerCall: 90 }),
  // 70.2 MiB: shown as 70, like the other runs, with no range.
  tracedClient({ round: 2, peakRssKiB: 70 * 1024 + 200, spans: spanCount(30_000, 2, 60_000) }),
];

Deno.test("client runs are summarised per configuration, ratios within a round, spans summed", () => {
  const [off, on] = summarizeClients(clientRounds);
  assert.equal(off.id, "bench-client-off");
  assert.equal(off.rounds, 3);
  assert.deepEqual(off.callsPerSecond, { median: 8_000, min: 4_000, max: 8_000 });
  assert.deepEqual(off.cpuUsPerCall, { median: 100, min: 90, max: 120 });
  assert.deepEqual(off.peakRssKiB, { median: 60 * 1024, min: 60 * 1024, max: 62 * 1024 });
  assert.equal(off.vsUntraced, undefined);
  assert.equal(off.spans, undefined);
  assert.deepEqual(on.vsUntraced, { median: 0.75, min: 0.5, max: 0.75 });
  assert.deepEqual(on.cpuUsPerCall, { median: 150, min: 150, max: 200 });
  assert.equal(on.spans?.expected, 140_000);
  assert.equal(on.spans?.received, 139_000);
  assert.equal(on.calls, 120_000);
});

Deno.test("the client table shows medians with ranges, the ratio within rounds and the spans lost", () => {
  const rows = clientTable(summarizeClients(clientRounds)).split("\n");
  assert.equal(rows.length, 4);
  assert.match(rows[0], /^\| Client \| calls\/s \| client CPU µs\/call \| calls\/s vs untraced \|/);
  assert.equal(
    rows[2],
    "| callApi, tracing off | 8,000 (4,000–8,000) | 100 (90–120) | – | 0.70 | 5.00 | 60 (60–62) | – | – | – |",
  );
  assert.equal(
    rows[3],
    "| callApi, tracing on | 6,000 (2,000–6,000) | 150 (150–200) | 0.75 (0.50–0.75) | 0.70 | 5.00 | 70 | " +
      "140,000 | 139,000 | 0.7 % |",
  );
});

Deno.test("every client run is listed in the order it ran, with its round and the CPU shares", () => {
  const rows = clientRoundsTable(clientRounds).split("\n").slice(2);
  assert.deepEqual(rows.map((row) => row.split(" | ").slice(0, 2).join(" | ")), [
    "| 1 | callApi, tracing off",
    "| 1 | callApi, tracing on",
    "| 2 | callApi, tracing on",
    "| 2 | callApi, tracing off",
    "| 3 | callApi, tracing off",
    "| 3 | callApi, tracing on",
  ]);
  assert.match(
    rows[2],
    /\| 2,000 \| 200 \| 0\.70 \| 5\.00 \| 70 \| 5\.0 % \| 1\.00 \| 0\.30 \| 1\.45 \| 0\.05 \|$/,
  );
});

Deno.test("the chart is SVG with a bar and a whisker per configuration and measure", () => {
  const svg = renderChart(summarizeServers([
    ...rounds,
    run({ id: "x", label: "A <b>", baseline: "deno-off", requestsPerSecond: 25_000 }),
  ]));
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal(svg.match(/<rect x=/g)?.length, 6);
  assert.equal(svg.match(/<line /g)?.length, 18);
  assert.match(svg, /A &lt;b&gt;/);
  assert.match(svg, />25,000 \(×untraced 1\.25\)</);
});

Deno.test("wrk's report line becomes requests per second of answers below 400", () => {
  const result = parseWrkOutput(
    "Running 5s test @ http://127.0.0.1:1/\n" +
      '{"requests":10000,"durationUs":5000000,"connectErrors":0,"readErrors":1,"writeErrors":0,' +
      '"timeouts":2,"non2xx":500,"p50":900,"p99":4000,"max":9000,"mean":1000.4}\n',
  );
  assert.equal(result.requestsPerSecond, 1900);
  assert.equal(result.errors, 3);
  assert.deepEqual(result.latencyUs, { p50: 900, p99: 4000, max: 9000, mean: 1000 });
  assert.throws(() => parseWrkOutput("nothing"), /wrk printed no report/);
});

Deno.test("Tempo answers are counted whatever their nesting", () => {
  const v1 = { batches: [{ scopeSpans: [{ spans: [{}, {}] }] }, { scopeSpans: [{ spans: [{}] }] }] };
  const v2 = { trace: { resourceSpans: [{ scopeSpans: [{ spans: [{}, {}, {}, {}] }] }] } };
  assert.equal(countTempoSpans(v1), 3);
  assert.equal(countTempoSpans(v2), 4);
  assert.equal(countTempoSpans({}), 0);
});

Deno.test("the counting store counts per service and keeps nothing", () => {
  const store = new CountingStore();
  const span = { service: "a" } as Parameters<CountingStore["addSpans"]>[0][number];
  store.addSpans([span, span, { ...span, service: "b" }]);
  store.addLogs([{ service: "a" } as Parameters<CountingStore["addLogs"]>[0][number]]);
  assert.deepEqual(store.received("a"), { spans: 2, logs: 1 });
  assert.deepEqual(store.received("b"), { spans: 1, logs: 0 });
  assert.deepEqual(store.received("c"), { spans: 0, logs: 0 });
  assert.equal(store.spans.length, 0);
  assert.equal(store.traces().length, 0);
});
