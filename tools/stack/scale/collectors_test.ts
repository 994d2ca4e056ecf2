import assert from "node:assert/strict";
import { metricSum } from "./collectors.ts";

const TEXT = `# HELP otelcol_exporter_sent_spans Number of spans successfully sent.
# TYPE otelcol_exporter_sent_spans counter
otelcol_exporter_sent_spans{exporter="otlp_grpc/tempo",service_instance_id="gateway-1"} 2788
otelcol_exporter_sent_spans{exporter="otlp_http/tap",service_instance_id="gateway-1"} 12000
otelcol_process_memory_rss 7.6e+07
otelcol_exporter_sent_spans_extra 5
`;

Deno.test("metricSum: sums the samples of one name whose labels match", () => {
  assert.equal(metricSum(TEXT, "otelcol_exporter_sent_spans"), 14788);
  assert.equal(metricSum(TEXT, "otelcol_exporter_sent_spans", { exporter: "otlp_grpc/tempo" }), 2788);
  assert.equal(metricSum(TEXT, "otelcol_process_memory_rss"), 76_000_000);
  assert.equal(metricSum(TEXT, "otelcol_receiver_accepted_spans"), 0);
});
