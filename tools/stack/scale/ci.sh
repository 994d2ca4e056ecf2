#!/usr/bin/env bash
# The scaled-out part of CI (.ci/run calls it after tools/stack/ci.sh, from the repository root, with deno on PATH
# and Debian's docker-compose installed by tools/stack/ci.sh):
#   1. `docker-compose config` validates tools/stack/docker-compose.yml with the tools/stack/docker-compose.scale.yml overlay;
#   2. tools/stack/build.sh otelcol-scale: the contrib Collector (load_balancing, tail_sampling) built with the
#      official builder from the Go module proxy, cached in ~/.cache/deno-example/otelcol-scale-<version>/;
#   3. `otelcol validate` on the agent's and the gateways' configs, as in the containers and as run natively;
#   4. tools/stack/scale/run_scale.sh: Tempo, the agent, two gateways, three servers and a client load of 3000
#      calls, then the tail-sampling check against Tempo and the gateways' own metrics.
set -euo pipefail

[[ $# -eq 0 ]] || { echo "usage: tools/stack/scale/ci.sh (no arguments)" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
cd "$repo"
cache="${STACK_CACHE:-$HOME/.cache/deno-example}"
started=$SECONDS
step() { printf '\n=== scale: %s\n' "$*"; }

step "docker-compose config (tools/stack/docker-compose.yml + tools/stack/docker-compose.scale.yml)"
docker-compose -f tools/stack/docker-compose.yml -f tools/stack/docker-compose.scale.yml config -q
echo "the overlay is valid"

step "contrib Collector at the pinned release (cached by version)"
"$repo/tools/stack/build.sh" otelcol-scale
otelcol="$cache/otelcol-scale-$(python3 -c 'import json; print(json.load(open("tools/stack/versions.json"))["otel_collector"])')/otelcol"
"$otelcol" --version

step "otelcol validate tools/stack/scale/agent.yaml, tools/stack/scale/gateway.yaml"
"$otelcol" validate --config=tools/stack/scale/agent.yaml
"$otelcol" validate --config=tools/stack/scale/gateway.yaml
OTELCOL_OTLP_GRPC_ENDPOINT=127.0.0.1:4317 OTELCOL_OTLP_HTTP_ENDPOINT=127.0.0.1:4318 \
  OTELCOL_HEALTH_ENDPOINT=127.0.0.1:13133 OTELCOL_METRICS_HOST=127.0.0.1 \
  GATEWAY_1_ENDPOINT=127.0.0.1:14417 GATEWAY_2_ENDPOINT=127.0.0.1:14418 \
  "$otelcol" validate --config=tools/stack/scale/agent.yaml
TAP_ENDPOINT=http://127.0.0.1:4318 TAP_SAMPLED_ENDPOINT=http://127.0.0.1:4319 \
  TEMPO_OTLP_GRPC_ENDPOINT=127.0.0.1:14317 TAIL_DECISION_WAIT=5s \
  "$otelcol" validate --config=tools/stack/scale/gateway.yaml --config=tools/stack/scale/testdata/tap.yaml
echo "the agent's and the gateways' configs are valid"

step "tail sampling across two gateways (tools/stack/scale/run_scale.sh)"
"$here/run_scale.sh"

echo
echo "=== scale: all checks passed in $((SECONDS - started)) s"
