const bodies: unknown[] = [];
const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
  const url = new URL(req.url);
  if (url.pathname === "/v1/metrics") bodies.push(await req.json());
  else await req.body?.cancel();
  return Response.json({});
});
const endpoint = `http://127.0.0.1:${server.addr.port}`;
const child = new Deno.Command("deno", {
  args: [
    "serve",
    "--parallel",
    "--host=127.0.0.1",
    "--port=18123",
    "--allow-net=127.0.0.1",
    "--allow-env",
    "stack/scale/serve_parallel.ts",
  ],
  env: {
    DENO_JOBS: "2",
    OTEL_DENO: "true",
    OTEL_SERVICE_NAME: "server",
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_METRIC_EXPORT_INTERVAL: "1000",
    SIMULATED_WORK_MS: "0",
    PATH: Deno.env.get("PATH")!,
    HOME: Deno.env.get("HOME")!,
  },
  clearEnv: true,
  stdout: "piped",
  stderr: "piped",
}).spawn();
await new Promise((r) => setTimeout(r, 4000));
await Promise.all(Array.from({ length: 8 }, async () => {
  for (let i = 0; i < 50; i++) {
    const c = Deno.createHttpClient({});
    await (await fetch("http://127.0.0.1:18123/", { client: c })).text();
    c.close();
  }
}));
await new Promise((r) => setTimeout(r, 2500));
child.kill("SIGTERM");
const out = await child.output();
console.log(new TextDecoder().decode(out.stderr).slice(0, 500));
console.log("metric bodies", bodies.length);
for (const b of bodies.slice(-1) as any[]) {
  for (const rm of b.resourceMetrics) {
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        const d = m.sum ?? m.gauge ?? m.histogram;
        console.log(
          sm.scope?.name,
          m.name,
          d.dataPoints.length,
          JSON.stringify(
            d.dataPoints.map((p: any) => [
              p.count ?? p.asInt ?? p.asDouble,
              p.attributes.map((a: any) => a.value.stringValue ?? a.value.intValue).join("/"),
            ]),
          ),
        );
      }
    }
  }
  for (const rm of b.resourceMetrics) {
    const res = rm.resource.attributes.map((a: any) => `${a.key}=${JSON.stringify(a.value)}`).join(" ");
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        if (m.name === "http.server.request.duration") {
          for (const dp of m.histogram.dataPoints) {
            console.log(
              res.slice(0, 300),
              "| count",
              dp.count,
              "start",
              dp.startTimeUnixNano,
              JSON.stringify(dp.attributes).slice(0, 200),
            );
          }
        }
      }
    }
  }
}
server.shutdown();
