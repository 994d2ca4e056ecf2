// Static checks of the Grafana stack's configuration: every YAML parses, and the cross-references that
// would break `docker compose up` (or the native run of tools/stack/run_native.sh) hold. Needs --allow-read.
import assert from "node:assert/strict";
import { parse } from "yaml";
import { TEMPO_DATASOURCE_UID } from "./grafana_link.ts";
import {
  EXEMPLAR_TRACE_ID_LABEL,
  logsForSpanQuery,
  LOKI_TRACE_ID_FIELD,
  spanRateQuery,
} from "./check_stack.ts";

// deno-lint-ignore no-explicit-any
type Yaml = any;

const root = new URL("../../", import.meta.url);

function readText(path: string): string {
  return Deno.readTextFileSync(new URL(path, root));
}

function readYaml(path: string): Yaml {
  return parse(readText(path), { strict: true, uniqueKeys: true });
}

/** The default of a `${env:NAME:-default}` (Collector) or `${NAME:-default}` (Tempo) placeholder. */
function defaultOf(value: string): string {
  return String(value).replace(/\$\{(?:env:)?[A-Z0-9_]+:-([^}]*)\}/g, "$1");
}

function walk(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(new URL(dir, root))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) files.push(...walk(`${path}/`));
    else if (/\.ya?ml$/.test(entry.name)) files.push(path);
  }
  return files;
}

/** Parses a file on first use, so that a broken file fails the tests that need it, not the module. */
function lazy<T>(read: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: read() }).v;
}

const files = {
  versions: lazy((): Record<string, string> => JSON.parse(readText("tools/stack/versions.json"))),
  compose: lazy(() => readYaml("tools/stack/docker-compose.yml")),
  collector: lazy(() => readYaml("tools/stack/otel-collector.yaml")),
  tempo: lazy(() => readYaml("tools/stack/tempo.yaml")),
  loki: lazy(() => readYaml("tools/stack/loki.yaml")),
  prometheus: lazy(() => readYaml("tools/stack/prometheus.yaml")),
  manifest: lazy(() => readYaml("tools/stack/otelcol-builder.yaml")),
  datasources: lazy(() =>
    readYaml("tools/stack/grafana/provisioning/datasources/datasources.yaml").datasources as Yaml[]
  ),
};
const { versions, compose, collector, tempo, loki, prometheus, manifest, datasources } = files;

/** A compose service's port as the other services reach it (the container side of a published port). */
function containerPort(service: string, port: string): void {
  const ports = (compose().services[service].ports ?? []).map((p: string) => String(p).split(":").at(-1));
  assert.ok(ports.includes(port), `${service} does not publish port ${port}`);
}

/** Grafana expands environment variables in provisioning files: `$$` stands for one `$`. */
function unescapeProvisioning(value: string): string {
  return value.replaceAll("$$", "$");
}

Deno.test("every YAML file of the stack parses", () => {
  const files = [
    "tools/stack/docker-compose.yml",
    "tools/stack/otel-collector.yaml",
    "tools/stack/tempo.yaml",
    "tools/stack/loki.yaml",
    "tools/stack/prometheus.yaml",
    "tools/stack/otelcol-builder.yaml",
    ...walk("tools/stack/grafana/"),
  ];
  assert.ok(files.some((f) => f.startsWith("tools/stack/grafana/provisioning/datasources/")));
  for (const file of files) {
    assert.doesNotThrow(() => readYaml(file), `${file} does not parse`);
    assert.equal(typeof readYaml(file), "object", `${file} is empty`);
  }
});

Deno.test("compose: Compose Specification without a version key, the five services", () => {
  assert.equal(compose().version, undefined);
  assert.deepEqual(Object.keys(compose().services).sort(), [
    "grafana",
    "loki",
    "otel-collector",
    "prometheus",
    "tempo",
  ]);
});

Deno.test("compose: every image has an exact tag equal to tools/stack/versions.json", () => {
  const expected: Record<string, string> = {
    "otel-collector": `otel/opentelemetry-collector:${versions().otel_collector}`,
    tempo: `grafana/tempo:${versions().tempo}`,
    loki: `grafana/loki:${versions().loki}`,
    prometheus: `prom/prometheus:v${versions().prometheus}`,
    grafana: `grafana/grafana:${versions().grafana}`,
  };
  for (const [name, service] of Object.entries<Yaml>(compose().services)) {
    assert.equal(service.image, expected[name], `${name}: image drifted from tools/stack/versions.json`);
    assert.match(service.image, /:v?\d+\.\d+\.\d+$/, `${name}: the image tag is not an exact version`);
  }
  assert.match(versions().tempo, /^3\./, "Tempo must be 3.x (tools/stack/tempo.yaml is in the 3.x format)");
  assert.match(versions().loki, /^3\./, "Loki must be 3.x (native OTLP ingestion)");
  assert.match(versions().prometheus, /^3\./, "Prometheus must be 3.x (OTLP receiver)");
});

Deno.test("compose: published ports on 127.0.0.1 only; the Collector publishes OTLP 4317 and 4318", () => {
  for (const [name, service] of Object.entries<Yaml>(compose().services)) {
    for (const port of service.ports ?? []) {
      assert.match(String(port), /^127\.0\.0\.1:\d+:\d+$/, `${name}: port ${port} is not bound to 127.0.0.1`);
    }
  }
  const ports = compose().services["otel-collector"].ports.map(String);
  assert.ok(ports.includes("127.0.0.1:4317:4317"));
  assert.ok(ports.includes("127.0.0.1:4318:4318"));
});

Deno.test("compose: no-new-privileges everywhere, config mounts read-only, named volumes declared", () => {
  for (const [name, service] of Object.entries<Yaml>(compose().services)) {
    assert.ok(service.security_opt?.includes("no-new-privileges:true"), `${name}: no-new-privileges missing`);
    for (const volume of service.volumes ?? []) {
      const [source, , mode] = String(volume).split(":");
      if (source.startsWith(".")) {
        assert.equal(mode, "ro", `${name}: the config mount ${volume} is not read-only`);
        // Compose resolves a mount's source from the compose file's folder.
        const path = new URL(source, new URL("tools/stack/", root));
        assert.doesNotThrow(() => Deno.statSync(path), `${name}: ${source} does not exist`);
      } else {
        assert.ok(source in (compose().volumes ?? {}), `${name}: volume ${source} is not declared`);
      }
    }
  }
  assert.ok(
    compose().services.tempo.volumes.some((v: string) => v.endsWith(":/var/tempo")),
    "Tempo keeps its data in a named volume",
  );
  assert.ok(
    compose().services.loki.volumes.some((v: string) => v.endsWith(":/loki")),
    "Loki keeps its data in a named volume",
  );
});

Deno.test("compose: start order by depends_on, no healthcheck in shell-less images", () => {
  for (const [name, service] of Object.entries<Yaml>(compose().services)) {
    for (const [dependency, spec] of Object.entries<Yaml>(service.depends_on ?? {})) {
      assert.ok(dependency in compose().services, `${name} depends on unknown ${dependency}`);
      if (spec.condition === "service_healthy") {
        assert.ok(
          compose().services[dependency].healthcheck,
          `${name} waits for ${dependency}'s missing healthcheck`,
        );
      }
    }
  }
  for (const backend of ["tempo", "loki", "prometheus"]) {
    assert.ok(
      backend in compose().services["otel-collector"].depends_on,
      `the Collector waits for ${backend}`,
    );
    assert.ok(backend in compose().services.grafana.depends_on, `Grafana waits for ${backend}`);
  }
  assert.ok("prometheus" in compose().services.tempo.depends_on);
  // FROM scratch / distroless: no shell, no wget, so an in-container healthcheck could never pass.
  assert.equal(compose().services["otel-collector"].healthcheck, undefined);
  assert.equal(compose().services.tempo.healthcheck, undefined);
});

Deno.test("compose: each service runs the repository's own config file, with the flags of the native run", () => {
  const mounts = (name: string) => compose().services[name].volumes.map(String);
  const command = (name: string) => compose().services[name].command;
  const native = readText("tools/stack/run_native.sh");
  assert.ok(mounts("otel-collector").includes("./otel-collector.yaml:/etc/otelcol/config.yaml:ro"));
  assert.ok(command("otel-collector").includes("--config=/etc/otelcol/config.yaml"));
  assert.ok(mounts("tempo").includes("./tempo.yaml:/etc/tempo/tempo.yaml:ro"));
  for (const flag of ["-config.file=/etc/tempo/tempo.yaml", "-config.expand-env=true", "-target=all"]) {
    assert.ok(command("tempo").includes(flag), `tempo: ${flag}`);
  }
  assert.ok(mounts("loki").includes("./loki.yaml:/etc/loki/loki.yaml:ro"));
  for (const flag of ["-config.file=/etc/loki/loki.yaml", "-config.expand-env=true"]) {
    assert.ok(command("loki").includes(flag), `loki: ${flag}`);
  }
  assert.ok(mounts("prometheus").includes("./prometheus.yaml:/etc/prometheus/prometheus.yml:ro"));
  assert.ok(command("prometheus").includes("--config.file=/etc/prometheus/prometheus.yml"));
  // The receivers the stack depends on, in the container and in the native run alike.
  for (
    const flag of [
      "--web.enable-remote-write-receiver",
      "--web.enable-otlp-receiver",
      "--enable-feature=exemplar-storage",
    ]
  ) {
    assert.ok(command("prometheus").includes(flag), `prometheus: ${flag}`);
    assert.ok(native.includes(`  ${flag}`), `tools/stack/run_native.sh does not pass ${flag} to Prometheus`);
  }
  for (
    const config of [
      "tools/stack/tempo.yaml",
      "tools/stack/loki.yaml",
      "tools/stack/prometheus.yaml",
      "tools/stack/otel-collector.yaml",
    ]
  ) {
    const name = config.split("/").at(-1)!;
    assert.ok(native.includes(`/${name}"`), `tools/stack/run_native.sh does not run with ${config}`);
  }
  assert.ok(mounts("grafana").includes("./grafana/provisioning:/etc/grafana/provisioning:ro"));
  const env = compose().services.grafana.environment;
  assert.equal(env.GF_AUTH_ANONYMOUS_ENABLED, "true");
  assert.equal(env.GF_AUTH_DISABLE_LOGIN_FORM, "true");
});

Deno.test("grafana: anonymous users are Editors (Explore needs it), on 127.0.0.1 only, with nothing to publish or provision", () => {
  const grafana = compose().services.grafana;
  // Viewer would be safer, but Grafana 12+ opens Explore to Editors only; never Admin.
  assert.equal(grafana.environment.GF_AUTH_ANONYMOUS_ORG_ROLE, "Editor");
  assert.equal(grafana.environment.GF_SNAPSHOTS_EXTERNAL_ENABLED, "false");
  assert.equal(grafana.environment.GF_USERS_ALLOW_SIGN_UP, "false");
  assert.deepEqual(grafana.ports, ["127.0.0.1:3000:3000"]);
  for (const source of datasources()) assert.equal(source.editable, false, source.name);
  const dashboards = readYaml("tools/stack/grafana/provisioning/dashboards/dashboards.yaml");
  for (const provider of dashboards.providers) assert.equal(provider.allowUiUpdates, false, provider.name);
});

Deno.test("collector: each signal to its backend, memory_limiter first and batch last, no debug exporter", () => {
  const { service } = collector();
  for (const extension of service.extensions) assert.ok(extension in collector().extensions, extension);
  assert.deepEqual(Object.keys(service.pipelines).sort(), ["logs", "metrics", "traces"]);
  for (const [name, pipeline] of Object.entries<Yaml>(service.pipelines)) {
    for (const kind of ["receivers", "processors", "exporters"]) {
      assert.ok(pipeline[kind]?.length > 0, `${name}: no ${kind}`);
      for (const id of pipeline[kind]) {
        assert.ok(id in collector()[kind], `${name}: undeclared ${kind} ${id}`);
      }
    }
    assert.equal(pipeline.processors[0], "memory_limiter", `${name}: memory_limiter must come first`);
    assert.equal(pipeline.processors.at(-1), "batch", `${name}: batch must come last`);
  }
  assert.deepEqual(service.pipelines.traces.exporters, ["otlp_grpc/tempo"]);
  assert.deepEqual(service.pipelines.logs.exporters, ["otlp_http/loki"]);
  assert.deepEqual(service.pipelines.metrics.exporters, ["otlp_http/prometheus"]);
  assert.ok("health_check" in collector().extensions);
});

Deno.test("collector: OTLP on 0.0.0.0 in the container; exporters point at the backends' OTLP endpoints", () => {
  const { grpc, http } = collector().receivers.otlp.protocols;
  assert.equal(defaultOf(grpc.endpoint), "0.0.0.0:4317");
  assert.equal(defaultOf(http.endpoint), "0.0.0.0:4318");
  const exporters = collector().exporters;
  for (const id of Object.keys(exporters)) {
    assert.match(id, /^otlp_(grpc|http)(\/|$)/, `${id}: Collector >= 0.144 names them otlp_grpc / otlp_http`);
    assert.match(
      exporters[id].endpoint,
      /^\$\{env:[A-Z_]+:-[^}]+\}$/,
      `${id}: endpoint not from the environment`,
    );
  }
  // Traces: Tempo's OTLP gRPC receiver.
  const [host, port] = defaultOf(exporters["otlp_grpc/tempo"].endpoint).split(":");
  assert.equal(host, "tempo");
  const tempoGrpc = defaultOf(tempo().distributor.receivers.otlp.protocols.grpc.endpoint);
  assert.equal(port, tempoGrpc.split(":")[1], "the exporter's port is not Tempo's OTLP gRPC port");
  // Logs: Loki's native OTLP endpoint (the exporter appends /v1/logs).
  const lokiUrl = new URL(defaultOf(exporters["otlp_http/loki"].endpoint));
  assert.equal(lokiUrl.hostname, "loki");
  assert.equal(lokiUrl.port, defaultOf(String(loki().server.http_listen_port)));
  containerPort("loki", lokiUrl.port);
  assert.equal(lokiUrl.pathname, "/otlp");
  // Metrics: Prometheus's OTLP receiver (the exporter appends /v1/metrics).
  const promUrl = new URL(defaultOf(exporters["otlp_http/prometheus"].endpoint));
  assert.equal(promUrl.hostname, "prometheus");
  assert.equal(promUrl.port, "9090");
  containerPort("prometheus", promUrl.port);
  assert.equal(promUrl.pathname, "/api/v1/otlp");
  for (const id of Object.keys(exporters)) {
    const host = new URL(`x://${defaultOf(exporters[id].endpoint).replace(/^\w+:\/\//, "")}`).hostname;
    assert.ok(host in compose().services, `${id} points at ${host}, not a compose service`);
  }
});

Deno.test("collector: the builder manifest holds exactly the components the config uses, at the pinned version", () => {
  const modules: Record<string, Record<string, string>> = {
    receivers: { otlp: "go.opentelemetry.io/collector/receiver/otlpreceiver" },
    processors: {
      memory_limiter: "go.opentelemetry.io/collector/processor/memorylimiterprocessor",
      batch: "go.opentelemetry.io/collector/processor/batchprocessor",
    },
    exporters: {
      otlp_grpc: "go.opentelemetry.io/collector/exporter/otlpexporter",
      otlp_http: "go.opentelemetry.io/collector/exporter/otlphttpexporter",
      debug: "go.opentelemetry.io/collector/exporter/debugexporter",
    },
    extensions: {
      health_check:
        "github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension",
    },
  };
  assert.equal(manifest().dist.version, versions().otel_collector);
  for (const kind of Object.keys(modules)) {
    const used = new Set(Object.keys(collector()[kind]).map((id) => id.split("/")[0]));
    const expected = [...used].map((type) => {
      assert.ok(type in modules[kind], `${kind} ${type} has no known module`);
      return `${modules[kind][type]} v${versions().otel_collector}`;
    }).sort();
    const built = (manifest()[kind] ?? []).map((c: { gomod: string }) => c.gomod).sort();
    assert.deepEqual(
      built,
      expected,
      `tools/stack/otelcol-builder.yaml ${kind} differ from tools/stack/otel-collector.yaml`,
    );
  }
});

Deno.test("tempo: 3.x format, local storage, metrics generator writing to the compose Prometheus", () => {
  for (const gone of ["ingester", "compactor", "metrics_generator_client", "ingester_client"]) {
    assert.equal(tempo()[gone], undefined, `${gone} is a 2.x block; Tempo 3.x refuses it`);
  }
  assert.equal(tempo().storage.trace.backend, "local");
  assert.ok(tempo().storage.trace.local.path && tempo().storage.trace.wal.path);
  assert.equal(defaultOf(tempo().server.http_listen_port), "3200");
  const processors = tempo().overrides.defaults.metrics_generator.processors;
  assert.ok(processors.includes("service-graphs") && processors.includes("span-metrics"));
  const [write] = tempo().metrics_generator.storage.remote_write;
  assert.equal(write.send_exemplars, true, "exemplars lead from the span metrics to the trace");
  const url = new URL(defaultOf(write.url));
  assert.ok(
    url.hostname in compose().services,
    `remote write goes to ${url.hostname}, not a compose service`,
  );
  assert.equal(url.hostname, "prometheus");
  assert.equal(url.port, "9090");
  assert.equal(url.pathname, "/api/v1/write");
  assert.equal(tempo().usage_report.reporting_enabled, false);
  // Every path defaults under the volume mounted at /var/tempo.
  const paths = [
    tempo().storage.trace.local.path,
    tempo().storage.trace.wal.path,
    tempo().metrics_generator.storage.path,
    tempo().live_store.wal.path,
    tempo().backend_scheduler.local_work_path,
  ].map(defaultOf);
  for (const path of paths) assert.match(path, /^\/var\/tempo\//);
});

Deno.test("loki: single binary, filesystem storage under the /loki volume, structured metadata on", () => {
  assert.equal(loki().auth_enabled, false);
  assert.equal(defaultOf(String(loki().server.http_listen_port)), "3100");
  assert.equal(loki().common.replication_factor, 1);
  assert.equal(loki().common.ring.kvstore.store, "inmemory");
  const [schema] = loki().schema_config.configs;
  assert.equal(schema.store, "tsdb");
  assert.equal(schema.schema, "v13");
  assert.equal(loki().limits_config.allow_structured_metadata, true);
  assert.equal(loki().analytics.reporting_enabled, false);
  const paths = [
    loki().common.path_prefix,
    loki().common.storage.filesystem.chunks_directory,
    loki().common.storage.filesystem.rules_directory,
  ].map(defaultOf);
  for (const path of paths) assert.match(path, /^\/loki(\/|$)/);
});

Deno.test("prometheus: OTLP resource attributes promoted, out-of-order pushes accepted", () => {
  assert.ok(prometheus().otlp.promote_resource_attributes.includes("service.name"));
  assert.ok(prometheus().storage.tsdb.out_of_order_time_window);
});

Deno.test("grafana: data sources point at the compose services, every uid a link names exists", () => {
  const byType = (type: string) => {
    const found = datasources().filter((d) => d.type === type);
    assert.equal(found.length, 1, `one ${type} data source`);
    return found[0];
  };
  const tempoDs = byType("tempo");
  const lokiDs = byType("loki");
  const promDs = byType("prometheus");
  assert.equal(tempoDs.uid, TEMPO_DATASOURCE_UID, "the client's trace links use this uid");
  assert.equal(new URL(tempoDs.url).host, `tempo:${defaultOf(tempo().server.http_listen_port)}`);
  assert.equal(new URL(lokiDs.url).host, `loki:${defaultOf(String(loki().server.http_listen_port))}`);
  assert.equal(new URL(promDs.url).host, "prometheus:9090");
  for (const [service, url] of [["tempo", tempoDs.url], ["loki", lokiDs.url], ["prometheus", promDs.url]]) {
    containerPort(service, new URL(url).port);
  }
  assert.equal(new Set(datasources().map((d) => d.uid)).size, datasources().length, "uids are unique");
  // Every link goes to the data source of the right type.
  const t = tempoDs.jsonData;
  assert.equal(t.tracesToLogsV2.datasourceUid, lokiDs.uid);
  assert.equal(t.tracesToMetrics.datasourceUid, promDs.uid);
  assert.equal(t.serviceMap.datasourceUid, promDs.uid, "the service map reads the Prometheus uid");
  assert.equal(t.nodeGraph.enabled, true);
  const [derived] = lokiDs.jsonData.derivedFields;
  assert.equal(derived.datasourceUid, tempoDs.uid);
  const [exemplars] = promDs.jsonData.exemplarTraceIdDestinations;
  assert.equal(exemplars.datasourceUid, tempoDs.uid);
});

Deno.test("grafana: the links run the queries `deno task test:stack` proves against the real backends", () => {
  const tempoDs = datasources().find((d) => d.type === "tempo");
  const lokiDs = datasources().find((d) => d.type === "loki");
  const promDs = datasources().find((d) => d.type === "prometheus");
  const [service, traceId, spanId] = ["server", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"];
  // Tempo → Loki: Grafana fills ${__tags} with the mapped tags (label="value") and the span's ids.
  const logs = tempoDs.jsonData.tracesToLogsV2;
  assert.equal(logs.customQuery, true);
  assert.deepEqual(logs.tags, [{ key: "service.name", value: "service_name" }]);
  const logQuery = unescapeProvisioning(logs.query)
    .replace("${__tags}", `service_name="${service}"`)
    .replace("${__span.traceId}", traceId)
    .replace("${__span.spanId}", spanId);
  assert.equal(logQuery, logsForSpanQuery(service, traceId, spanId));
  // Tempo → Prometheus: $__tags becomes service="server", the label of Tempo's span metrics.
  const metrics = tempoDs.jsonData.tracesToMetrics;
  assert.deepEqual(metrics.tags, [{ key: "service.name", value: "service" }]);
  const [first] = metrics.queries;
  assert.equal(
    unescapeProvisioning(first.query).replace("$__tags", `service="${service}"`),
    spanRateQuery(service),
  );
  // Loki → Tempo: the structured-metadata field holding the trace id opens it as a trace query.
  const [derived] = lokiDs.jsonData.derivedFields;
  assert.equal(derived.matcherType, "label");
  assert.equal(derived.matcherRegex, LOKI_TRACE_ID_FIELD);
  assert.equal(unescapeProvisioning(derived.url), "${__value.raw}");
  // Prometheus → Tempo: the exemplar label that carries the trace id.
  const [exemplars] = promDs.jsonData.exemplarTraceIdDestinations;
  assert.equal(exemplars.name, EXEMPLAR_TRACE_ID_LABEL);
  // No unescaped `$` left for Grafana's environment expansion to eat.
  const raw = readText("tools/stack/grafana/provisioning/datasources/datasources.yaml")
    .split("\n").filter((line) => !/^\s*#/.test(line)).join("\n");
  assert.doesNotMatch(raw.replaceAll("$$", ""), /\$/, "a `$` in provisioning must be written `$$`");
});

Deno.test("versions: one source for images, the builder manifest and the native binaries", () => {
  assert.deepEqual(Object.keys(versions()).sort(), [
    "grafana",
    "loki",
    "otel_collector",
    "prometheus",
    "tempo",
  ]);
  for (const component of (["receivers", "processors", "exporters", "extensions"] as const)) {
    for (const { gomod } of manifest()[component] ?? []) {
      assert.ok(
        gomod.endsWith(` v${versions().otel_collector}`),
        `${gomod} is not at v${versions().otel_collector}`,
      );
    }
  }
  const build = readText("tools/stack/build.sh");
  assert.match(build, /go\.opentelemetry\.io\/collector\/cmd\/builder@v\$ver/);
  assert.match(build, /github\.com\/prometheus\/prometheus\/cmd\/prometheus@\$module/);
  assert.match(build, /version\.Version=\$ver/);
  assert.match(build, /SHA256SUMS/);
});
