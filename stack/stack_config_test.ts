// Static checks of the Grafana stack's configuration: every YAML parses, and the cross-references that
// would break `docker compose up` (or the native run of stack/run_native.sh) hold. Needs --allow-read.
import assert from "node:assert/strict";
import { parse } from "npm:yaml@2.9.1";
import { TEMPO_DATASOURCE_UID } from "../config/grafana_link.ts";

// deno-lint-ignore no-explicit-any
type Yaml = any;

const root = new URL("../", import.meta.url);

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
  versions: lazy((): Record<string, string> => JSON.parse(readText("stack/versions.json"))),
  compose: lazy(() => readYaml("docker-compose.yml")),
  collector: lazy(() => readYaml("otel-collector.yaml")),
  tempo: lazy(() => readYaml("tempo.yaml")),
  manifest: lazy(() => readYaml("stack/otelcol-builder.yaml")),
  datasources: lazy(() =>
    readYaml("grafana/provisioning/datasources/datasources.yaml").datasources as Yaml[]
  ),
};
const { versions, compose, collector, tempo, manifest, datasources } = files;

Deno.test("every YAML file of the stack parses", () => {
  const files = [
    "docker-compose.yml",
    "otel-collector.yaml",
    "tempo.yaml",
    "prometheus.yaml",
    "stack/otelcol-builder.yaml",
    ...walk("grafana/"),
  ];
  assert.ok(files.some((f) => f.startsWith("grafana/provisioning/datasources/")));
  for (const file of files) {
    assert.doesNotThrow(() => readYaml(file), `${file} does not parse`);
    assert.equal(typeof readYaml(file), "object", `${file} is empty`);
  }
});

Deno.test("compose: Compose Specification without a version key, the four services", () => {
  assert.equal(compose().version, undefined);
  assert.deepEqual(Object.keys(compose().services).sort(), [
    "grafana",
    "otel-collector",
    "prometheus",
    "tempo",
  ]);
});

Deno.test("compose: every image has an exact tag equal to stack/versions.json", () => {
  const expected: Record<string, string> = {
    "otel-collector": `otel/opentelemetry-collector:${versions().otel_collector}`,
    tempo: `grafana/tempo:${versions().tempo}`,
    prometheus: `prom/prometheus:v${versions().prometheus}`,
    grafana: `grafana/grafana:${versions().grafana}`,
  };
  for (const [name, service] of Object.entries<Yaml>(compose().services)) {
    assert.equal(service.image, expected[name], `${name}: image drifted from stack/versions.json`);
    assert.match(service.image, /:v?\d+\.\d+\.\d+$/, `${name}: the image tag is not an exact version`);
  }
  assert.match(versions().tempo, /^3\./, "Tempo must be 3.x (tempo().yaml is in the 3.x format)");
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
        const path = source.replace(/^\.\//, "");
        assert.doesNotThrow(() => Deno.statSync(new URL(path, root)), `${name}: ${source} does not exist`);
      } else {
        assert.ok(source in (compose().volumes ?? {}), `${name}: volume ${source} is not declared`);
      }
    }
  }
  assert.ok(
    compose().services.tempo.volumes.some((v: string) => v.endsWith(":/var/tempo")),
    "Tempo keeps its data in a named volume",
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
  assert.ok("tempo" in compose().services["otel-collector"].depends_on);
  assert.ok("prometheus" in compose().services.tempo.depends_on);
  assert.ok("tempo" in compose().services.grafana.depends_on);
  // FROM scratch / distroless: no shell, no wget, so an in-container healthcheck could never pass.
  assert.equal(compose().services["otel-collector"].healthcheck, undefined);
  assert.equal(compose().services.tempo.healthcheck, undefined);
});

Deno.test("compose: each service runs the repository's own config file", () => {
  const mounts = (name: string) => compose().services[name].volumes.map(String);
  assert.ok(mounts("otel-collector").includes("./otel-collector.yaml:/etc/otelcol/config.yaml:ro"));
  assert.ok(compose().services["otel-collector"].command.includes("--config=/etc/otelcol/config.yaml"));
  assert.ok(mounts("tempo").includes("./tempo.yaml:/etc/tempo/tempo.yaml:ro"));
  assert.ok(compose().services.tempo.command.includes("-config.file=/etc/tempo/tempo.yaml"));
  assert.ok(compose().services.tempo.command.includes("-config.expand-env=true"));
  assert.ok(compose().services.tempo.command.includes("-target=all"));
  assert.ok(mounts("prometheus").includes("./prometheus.yaml:/etc/prometheus/prometheus.yml:ro"));
  assert.ok(compose().services.prometheus.command.includes("--config.file=/etc/prometheus/prometheus.yml"));
  assert.ok(compose().services.prometheus.command.includes("--web.enable-remote-write-receiver"));
  assert.ok(mounts("grafana").includes("./grafana/provisioning:/etc/grafana/provisioning:ro"));
  const env = compose().services.grafana.environment;
  assert.equal(env.GF_AUTH_ANONYMOUS_ENABLED, "true");
  assert.equal(env.GF_AUTH_DISABLE_LOGIN_FORM, "true");
});

Deno.test("collector: pipelines name only declared components, memory_limiter first and batch last", () => {
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
  assert.deepEqual(service.pipelines.metrics.exporters, ["debug"]);
  assert.deepEqual(service.pipelines.logs.exporters, ["debug"]);
  assert.ok("health_check" in collector().extensions);
});

Deno.test("collector: OTLP on 0.0.0.0 in the container, traces exported to Tempo's OTLP gRPC port", () => {
  const { grpc, http } = collector().receivers.otlp.protocols;
  assert.equal(defaultOf(grpc.endpoint), "0.0.0.0:4317");
  assert.equal(defaultOf(http.endpoint), "0.0.0.0:4318");
  const [exporter] = collector().service.pipelines.traces.exporters;
  assert.match(exporter, /^otlp_grpc(\/|$)/, "Collector >= 0.144 names the gRPC exporter otlp_grpc");
  const [host, port] = defaultOf(collector().exporters[exporter].endpoint).split(":");
  assert.ok(host in compose().services, `the exporter points at ${host}, not a compose service`);
  assert.equal(host, "tempo");
  const tempoGrpc = defaultOf(tempo().distributor.receivers.otlp.protocols.grpc.endpoint);
  assert.equal(port, tempoGrpc.split(":")[1], "the exporter's port is not Tempo's OTLP gRPC port");
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
    assert.deepEqual(built, expected, `stack/otelcol-builder.yaml ${kind} differ from otel-collector.yaml`);
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

Deno.test("grafana: data sources point at the compose services, the uids line up", () => {
  const byType = (type: string) => {
    const found = datasources().filter((d) => d.type === type);
    assert.equal(found.length, 1, `one ${type} data source`);
    return found[0];
  };
  const tempoDs = byType("tempo");
  const promDs = byType("prometheus");
  assert.equal(tempoDs.uid, TEMPO_DATASOURCE_UID, "the client's trace links use this uid");
  assert.equal(new URL(tempoDs.url).host, `tempo:${defaultOf(tempo().server.http_listen_port)}`);
  assert.equal(new URL(promDs.url).host, "prometheus:9090");
  assert.equal(
    tempoDs.jsonData.serviceMap.datasourceUid,
    promDs.uid,
    "the service map reads the Prometheus uid",
  );
  assert.equal(tempoDs.jsonData.nodeGraph.enabled, true);
  assert.equal(new Set(datasources().map((d) => d.uid)).size, datasources().length, "uids are unique");
});

Deno.test("versions: one source for images, the builder manifest and the Tempo build", () => {
  assert.deepEqual(Object.keys(versions()).sort(), [
    "grafana",
    "otel_collector",
    "prometheus",
    "tempo",
    "tempo_go_pseudo_version",
  ]);
  for (const component of (["receivers", "processors", "exporters", "extensions"] as const)) {
    for (const { gomod } of manifest()[component] ?? []) {
      assert.ok(
        gomod.endsWith(` v${versions().otel_collector}`),
        `${gomod} is not at v${versions().otel_collector}`,
      );
    }
  }
  const build = readText("stack/build.sh");
  assert.match(build, /go\.opentelemetry\.io\/collector\/cmd\/builder@v\$ver/);
  assert.match(build, /version tempo_go_pseudo_version/);
});
