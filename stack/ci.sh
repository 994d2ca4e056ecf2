#!/usr/bin/env bash
# The stack part of CI (.ci/run calls it from the repository root, with deno on PATH):
#   1. installs Debian's prometheus and docker-compose when missing (apt, as root);
#   2. validates docker-compose.yml with `docker-compose config` (no Docker engine needed);
#   3. builds the Collector and Tempo from the Go module proxy at the pinned versions (stack/build.sh,
#      cached in ~/.cache/deno-example/<name>-<version>/: a second run does not rebuild);
#   4. `otelcol validate` on the repository's otel-collector.yaml, as in the container and as run natively;
#   5. stack/run_native.sh: the three services on 127.0.0.1 with the repository's configs, then
#      `deno task test:stack` (joined trace in Tempo, search by service.name, service graph in Prometheus).
# Every step fails loudly; re-running it is safe.
#
#   stack/ci.sh                    all of the above
#   stack/ci.sh --collector-only   steps 1-4 only; says loudly that Tempo and the end-to-end run were skipped
set -euo pipefail

collector_only=false
case "${1:-}" in
  "") ;;
  --collector-only) collector_only=true ;;
  *) echo "usage: stack/ci.sh [--collector-only]" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$repo"
cache="${STACK_CACHE:-$HOME/.cache/deno-example}"

step() { printf '\n=== stack: %s\n' "$*"; }

step "tools"
for tool in deno go python3 curl; do
  command -v "$tool" >/dev/null || { echo "stack/ci.sh needs $tool on PATH" >&2; exit 1; }
done
missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v docker-compose >/dev/null || missing+=(docker-compose)
if ((${#missing[@]} > 0)); then
  echo "installing from Debian: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
prometheus --version 2>&1 | head -n 1
docker-compose version --short

step "docker-compose config"
docker-compose -f docker-compose.yml config -q
echo "docker-compose.yml is valid"

step "build the Collector (cached by version)"
"$here/build.sh" otelcol

step "otelcol validate otel-collector.yaml"
otelcol="$cache/otelcol-$(python3 -c 'import json; print(json.load(open("stack/versions.json"))["otel_collector"])')/otelcol"
"$otelcol" validate --config=otel-collector.yaml
OTELCOL_OTLP_GRPC_ENDPOINT=127.0.0.1:4317 OTELCOL_OTLP_HTTP_ENDPOINT=127.0.0.1:4318 \
  OTELCOL_HEALTH_ENDPOINT=127.0.0.1:13133 TEMPO_OTLP_GRPC_ENDPOINT=127.0.0.1:14317 \
  "$otelcol" validate --config=otel-collector.yaml
echo "otel-collector.yaml is valid (container defaults and native overrides)"

if $collector_only; then
  echo
  echo "!!! stack/ci.sh --collector-only: SKIPPED the Tempo build and the native end-to-end run (test:stack)"
  exit 0
fi

step "build Tempo (cached by version)"
"$here/build.sh" tempo

step "native stack + deno task test:stack"
"$here/run_native.sh"
