#!/usr/bin/env bash
# Runs the scaled-out stack of tools/stack/docker-compose.scale.yml without Docker and checks it: Tempo (from the cache
# tools/stack/build.sh fills) on 127.0.0.1, then tools/stack/scale/check_scale.ts, which starts the agent and the two
# gateways (the contrib Collector of `tools/stack/build.sh otelcol-scale`), three servers and the client load.
# Arguments go to check_scale.ts (--calls=N, --decision-wait=10s, --kill-gateway, ...).
#
#   tools/stack/scale/run_scale.sh                  the check CI runs
#   tools/stack/scale/run_scale.sh --kill-gateway   gateway-2 killed mid-run: what is lost, what the agent keeps
#
# It binds fixed ports (Tempo 3200, 14317, 14318, 19095, 17946; the Collectors 4317, 4318, 8888-8890,
# 13133-13135, 14417, 14418): run it where they are free, e.g. unshare -n bash -c 'ip link set lo up; ...'.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
stack="$(cd "$here/.." && pwd)"
repo="$(cd "$stack/../.." && pwd)"
cache="${STACK_CACHE:-$HOME/.cache/deno-example}"
version() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$stack/versions.json" "$1"
}
log() { printf '[scale] %s\n' "$*" >&2; }

"$stack/build.sh" otelcol-scale tempo
otelcol="$cache/otelcol-scale-$(version otel_collector)/otelcol"
tempo="$cache/tempo-$(version tempo)/tempo"

work="$(mktemp -d "${TMPDIR:-/tmp}/deno-example-scale.XXXXXX")"
tempo_pid=""
finish() {
  local status=$?
  if [[ -n "$tempo_pid" ]] && kill -0 "$tempo_pid" 2>/dev/null; then
    kill -TERM "$tempo_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$tempo_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$tempo_pid" 2>/dev/null || true
    wait "$tempo_pid" 2>/dev/null || true
  fi
  if [[ $status -ne 0 ]]; then
    echo "----- last lines of Tempo's log ($work/tempo.log) -----" >&2
    tail -n 30 "$work/tempo.log" >&2 || true
  else
    rm -rf "$work"
  fi
  exit $status
}
trap finish EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/tempo"
env TEMPO_LISTEN_ADDRESS=127.0.0.1 TEMPO_HTTP_PORT=3200 TEMPO_GRPC_PORT=19095 \
  TEMPO_MEMBERLIST_ADDRESS=127.0.0.1 TEMPO_MEMBERLIST_PORT=17946 \
  TEMPO_OTLP_GRPC_ENDPOINT=127.0.0.1:14317 TEMPO_OTLP_HTTP_ENDPOINT=127.0.0.1:14318 \
  TEMPO_DATA_DIR="$work/tempo" TEMPO_PROMETHEUS_REMOTE_WRITE_URL=http://127.0.0.1:9090/api/v1/write \
  "$tempo" -target=all -config.file="$stack/tempo.yaml" -config.expand-env=true >"$work/tempo.log" 2>&1 &
tempo_pid=$!
deadline=$((SECONDS + 120))
until curl -fsS -o /dev/null http://127.0.0.1:3200/ready 2>/dev/null; do
  kill -0 "$tempo_pid" 2>/dev/null || { echo "Tempo exited before it became ready" >&2; exit 1; }
  ((SECONDS < deadline)) || { echo "Tempo did not become ready within 120 s" >&2; exit 1; }
  sleep 1
done
log "Tempo ready (pid $tempo_pid)"

cd "$repo"
OTELCOL_SCALE_BIN="$otelcol" TEMPO_URL=http://127.0.0.1:3200 TEMPO_OTLP_GRPC_ENDPOINT=127.0.0.1:14317 \
  deno run --allow-run=deno,"$otelcol" --allow-net=127.0.0.1 --allow-read=. \
  --allow-env=OTELCOL_SCALE_BIN,TEMPO_URL,TEMPO_OTLP_GRPC_ENDPOINT,PATH,HOME,DENO_DIR,XDG_CACHE_HOME \
  tools/stack/scale/check_scale.ts "$@"
