// Static checks of the scaled-out stack: the compose overlay, the contrib builder manifest and the agent's
// and gateways' configs agree with each other and with tools/stack/versions.json.
import assert from "node:assert/strict";
import { parse } from "yaml";
import { denoRunOf, permissionFlags } from "@example/harness/tasks";

const root = new URL("../../../", import.meta.url);
// deno-lint-ignore no-explicit-any
type Yaml = any;
const readText = (path: string) => Deno.readTextFileSync(new URL(path, root));
const readYaml = (path: string): Yaml => parse(readText(path));

const versions: Record<string, string> = JSON.parse(readText("tools/stack/versions.json"));
const overlay = readYaml("tools/stack/docker-compose.scale.yml");
const manifest = readYaml("tools/stack/scale/otelcol-builder.yaml");
const agent = readYaml("tools/stack/scale/agent.yaml");
const gateway = readYaml("tools/stack/scale/gateway.yaml");

Deno.test("scale overlay: the Collector and Deno images are pinned to the releases CI runs", () => {
  const contrib = `otel/opentelemetry-collector-contrib:${versions.otel_collector}`;
  for (const name of ["otel-collector", "gateway-1", "gateway-2"]) {
    assert.equal(
      overlay.services[name].image,
      contrib,
      `${name}: image drifted from tools/stack/versions.json`,
    );
  }
  assert.equal(overlay.services.server.image, `denoland/deno:${readText(".ci/deno-version").trim()}`);
});

Deno.test("scale overlay: ports on 127.0.0.1, configs read-only, no new privileges", () => {
  for (const [name, service] of Object.entries<Yaml>(overlay.services)) {
    for (const port of service.ports ?? []) assert.match(port, /^127\.0\.0\.1:/, `${name}: ${port}`);
    for (const volume of service.volumes ?? []) {
      if (!volume.startsWith(".")) continue;
      assert.match(volume, /:ro$/, `${name}: ${volume} must be read-only`);
      // Compose resolves a mount's source from the folder of the first compose file, tools/stack/.
      const source = new URL(volume.split(":")[0], new URL("tools/stack/", root));
      assert.doesNotThrow(() => Deno.statSync(source), `${name}: ${volume} mounts nothing`);
    }
    if (name !== "otel-collector") assert.deepEqual(service.security_opt, ["no-new-privileges:true"], name);
  }
});

Deno.test("scale overlay: the replicas may read the variables the server task allows, and no others", () => {
  const allowEnv = (flags: string[]) => flags.find((flag) => flag.startsWith("--allow-env="));
  assert.equal(allowEnv(overlay.services.server.command), allowEnv(permissionFlags(denoRunOf("server"))));
});

Deno.test("scale overlay: each gateway names itself and the agent lists both", () => {
  assert.equal(overlay.services["gateway-1"].environment.GATEWAY_NAME, "gateway-1");
  assert.equal(overlay.services["gateway-2"].environment.GATEWAY_NAME, "gateway-2");
  const hostnames: string[] = agent.exporters.load_balancing.resolver.static.hostnames;
  assert.deepEqual(hostnames.map((h) => h.match(/:-(.*)\}$/)?.[1]), ["gateway-1:4317", "gateway-2:4317"]);
});

Deno.test("scale: the agent routes traces by trace id, and only traces", () => {
  assert.equal(agent.exporters.load_balancing.routing_key, "traceID");
  const pipelines = agent.service.pipelines;
  assert.deepEqual(pipelines.traces.exporters, ["load_balancing"]);
  assert.ok(
    !pipelines.metrics.exporters.includes("load_balancing"),
    "metrics must not be routed by trace id",
  );
  assert.ok(!pipelines.logs.exporters.includes("load_balancing"));
});

Deno.test("scale: the gateways keep errors, slow traces and a share of the rest", () => {
  const policies = gateway.processors.tail_sampling.policies.map((p: Yaml) => p.type);
  assert.deepEqual(policies, ["status_code", "latency", "probabilistic"]);
  assert.deepEqual(gateway.processors.tail_sampling.policies[0].status_code.status_codes, ["ERROR"]);
  assert.deepEqual(gateway.service.pipelines.traces.processors, ["memory_limiter", "tail_sampling", "batch"]);
});

Deno.test("scale: the check's taps see every span a gateway receives, and exactly what it sends to Tempo", () => {
  const tap = readYaml("tools/stack/scale/testdata/tap.yaml");
  // A list in a later --config replaces the earlier one: the tap's must be the gateway's plus the tap.
  assert.deepEqual(tap.service.pipelines.traces.exporters, [
    ...gateway.service.pipelines.traces.exporters,
    "otlp_http/tap_sampled",
  ]);
  assert.equal(tap.service.pipelines.traces.processors, undefined, "the gateway's processors stay");
  assert.deepEqual(tap.service.pipelines["traces/tap"], {
    receivers: ["otlp"],
    exporters: ["otlp_http/tap"],
  });
});

const MODULES: Record<string, Record<string, string>> = {
  receivers: { otlp: "go.opentelemetry.io/collector/receiver/otlpreceiver" },
  processors: {
    memory_limiter: "go.opentelemetry.io/collector/processor/memorylimiterprocessor",
    batch: "go.opentelemetry.io/collector/processor/batchprocessor",
    tail_sampling:
      "github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor",
  },
  exporters: {
    otlp_grpc: "go.opentelemetry.io/collector/exporter/otlpexporter",
    otlp_http: "go.opentelemetry.io/collector/exporter/otlphttpexporter",
    load_balancing:
      "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter",
  },
  extensions: {
    health_check: "github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension",
  },
};

Deno.test("scale: the builder manifest holds exactly the components of both configs, all at one release", () => {
  const release = versions.otel_collector;
  assert.equal(manifest.dist.version, release);
  for (const kind of Object.keys(MODULES)) {
    const used = new Set(
      [agent, gateway].flatMap((config) => Object.keys(config[kind] ?? {})).map((id) => id.split("/")[0]),
    );
    const expected = [...used].map((type) => {
      assert.ok(type in MODULES[kind], `${kind} ${type} has no known module`);
      return `${MODULES[kind][type]} v${release}`;
    }).sort();
    const built = manifest[kind].map((c: { gomod: string }) => c.gomod).sort();
    assert.deepEqual(
      built,
      expected,
      `tools/stack/scale/otelcol-builder.yaml ${kind} differ from the configs`,
    );
  }
});
