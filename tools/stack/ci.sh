#!/usr/bin/env bash
# The stack part of CI (.ci/run calls it from the repository root, with deno on PATH):
#   1. installs Debian's docker-compose when missing (apt, as root) and validates tools/stack/docker-compose.yml with
#      `docker-compose config` (no Docker engine needed);
#   2. puts the native binaries in place at the pinned versions (tools/stack/build.sh, cached in
#      ~/.cache/deno-example/<name>-<version>/: a second run does not rebuild): the Collector and Prometheus
#      built from the Go module proxy, Tempo and Loki unpacked from ../shared/tools/ after a digest check;
#   3. `otelcol validate` on the repository's tools/stack/otel-collector.yaml, as in the container and as run natively;
#   4. tools/stack/run_native.sh: Prometheus, Loki, Tempo and the Collector on 127.0.0.1 with the repository's
#      configs, then `deno task test:stack` (joined trace and search in Tempo, the server's log line in Loki,
#      Deno's metrics, the service graph, span metrics and exemplars in Prometheus, every query of the
#      Grafana dashboard).
# Every step fails loudly; re-running it is safe. Each step prints how long it took.
set -euo pipefail

[[ $# -eq 0 ]] || { echo "usage: tools/stack/ci.sh (no arguments)" >&2; exit 2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"
cache="${STACK_CACHE:-$HOME/.cache/deno-example}"

started=$SECONDS
step_started=$SECONDS
step() {
  printf '\n=== stack: %s\n' "$*"
  step_started=$SECONDS
}
took() { echo "(took $((SECONDS - step_started)) s)"; }

step "tools"
for tool in deno go python3 curl gunzip sha256sum; do
  command -v "$tool" >/dev/null || { echo "tools/stack/ci.sh needs $tool on PATH" >&2; exit 1; }
done
if ! command -v docker-compose >/dev/null; then
  echo "installing docker-compose from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi
docker-compose version --short

step "docker-compose config"
docker-compose -f tools/stack/docker-compose.yml config -q
echo "tools/stack/docker-compose.yml is valid"

step "native binaries at the pinned versions (cached by version)"
"$here/build.sh" otelcol prometheus tempo loki
for name in prometheus tempo loki; do
  ver="$(python3 -c 'import json,sys; print(json.load(open("tools/stack/versions.json"))[sys.argv[1]])' "$name")"
  "$cache/$name-$ver/$name" --version 2>&1 | head -n 1
done
took

step "otelcol validate tools/stack/otel-collector.yaml"
otelcol="$cache/otelcol-$(python3 -c 'import json; print(json.load(open("tools/stack/versions.json"))["otel_collector"])')/otelcol"
"$otelcol" --version
"$otelcol" validate --config=tools/stack/otel-collector.yaml
OTELCOL_OTLP_GRPC_ENDPOINT=127.0.0.1:4317 OTELCOL_OTLP_HTTP_ENDPOINT=127.0.0.1:4318 \
  OTELCOL_HEALTH_ENDPOINT=127.0.0.1:13133 TEMPO_OTLP_GRPC_ENDPOINT=127.0.0.1:14317 \
  LOKI_OTLP_ENDPOINT=http://127.0.0.1:3100/otlp PROMETHEUS_OTLP_ENDPOINT=http://127.0.0.1:9090/api/v1/otlp \
  "$otelcol" validate --config=tools/stack/otel-collector.yaml
echo "tools/stack/otel-collector.yaml is valid (container defaults and native overrides)"

step "native stack + deno task test:stack"
"$here/run_native.sh"
took

echo
echo "=== stack: all checks passed in $((SECONDS - started)) s"
