#!/usr/bin/env bash
# Runs the stack of tools/stack/docker-compose.yml without Docker: the same versions of Tempo, Loki, Prometheus and the
# OpenTelemetry Collector (put in place by tools/stack/build.sh, cached by version), on 127.0.0.1, each with the
# repository's own config file; only listen addresses, ports and data paths are overridden (environment,
# flags). Then runs `deno task test:stack` against it and stops what it started. Grafana is not part of it.
#
#   tools/stack/run_native.sh            start, check, stop
#   tools/stack/run_native.sh --keep     start, check, leave running even if the check failed (stop with Ctrl-C)
#
# STACK_TEMPO_BIN / STACK_LOKI_BIN=/path/to/binary use a Tempo / Loki built elsewhere instead of the prebuilt
# ones tools/stack/build.sh unpacks; each must report the pinned version (`-version`).
#
# Ports (all 127.0.0.1): Collector OTLP 4317/4318, health 13133; Tempo API 3200, its OTLP receiver
# 14317/14318, gRPC 19095, memberlist 17946; Loki API 3100, gRPC 19096; Prometheus 9090; the example
# server 8000.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${STACK_CACHE:-$HOME/.cache/deno-example}"
keep=false
[[ "${1:-}" == "--keep" ]] && keep=true

version() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$here/versions.json" "$1"
}
log() { printf '[native] %s\n' "$*" >&2; }

for tool in deno python3 curl; do
  command -v "$tool" >/dev/null || { echo "run_native.sh needs $tool on PATH (see tools/stack/ci.sh)" >&2; exit 1; }
done

# prebuilt NAME OVERRIDE: the path of NAME's binary at the pinned version: $OVERRIDE if set (its version
# checked), else the one tools/stack/build.sh unpacks into the cache.
prebuilt() {
  local name=$1 override=${!2:-} ver
  ver="$(version "$name")"
  if [[ -z "$override" ]]; then
    "$here/build.sh" "$name"
    echo "$cache/$name-$ver/$name"
  elif "$override" -version 2>&1 | grep -q "version $ver\b"; then
    echo "$override"
  else
    echo "$2=$override does not report version $ver:" >&2
    "$override" -version >&2 || true
    return 1
  fi
}

"$here/build.sh" otelcol prometheus
otelcol="$cache/otelcol-$(version otel_collector)/otelcol"
prometheus="$cache/prometheus-$(version prometheus)/prometheus"
tempo="$(prebuilt tempo STACK_TEMPO_BIN)"
loki="$(prebuilt loki STACK_LOKI_BIN)"

work="$(mktemp -d "${TMPDIR:-/tmp}/deno-example-stack.XXXXXX")"
pids=()
names=()

stop_all() {
  local status=$?
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    if kill -0 "${pids[i]}" 2>/dev/null; then
      kill -TERM "${pids[i]}" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "${pids[i]}" 2>/dev/null || true
    fi
    wait "${pids[i]}" 2>/dev/null || true
  done
  if [[ $status -ne 0 ]]; then
    for name in "${names[@]}"; do
      echo "----- last lines of $name's log ($work/$name.log) -----" >&2
      tail -n 40 "$work/$name.log" >&2 || true
    done
  else
    rm -rf "$work"
  fi
  exit $status
}
trap stop_all EXIT
trap 'exit 130' INT TERM

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for port in 4317 4318 13133 3200 14317 14318 19095 17946 3100 19096 9090 8000; do
  port_free "$port" || {
    echo "127.0.0.1:$port is already in use: stop what listens there (docker compose down?) and retry" >&2
    exit 1
  }
done

start() { # start NAME COMMAND...: runs COMMAND in the background, output to $work/NAME.log
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
  log "$name started (pid $!)"
}

wait_http() { # wait_http NAME URL SECONDS: waits for the last started process to answer at URL
  local deadline=$((SECONDS + $3)) pid=${pids[-1]}
  until curl -fsS -o /dev/null "$2" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$1 exited before it became ready at $2" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "$1 did not become ready at $2 within $3 s" >&2
      return 1
    fi
    sleep 1
  done
  log "$1 ready at $2"
}

log "working directory $work"
# The same flags as the prometheus service of tools/stack/docker-compose.yml; only the addresses and paths differ.
start prometheus "$prometheus" \
  --config.file="$here/prometheus.yaml" \
  --web.listen-address=127.0.0.1:9090 \
  --storage.tsdb.path="$work/prometheus" \
  --web.enable-remote-write-receiver \
  --web.enable-otlp-receiver \
  --enable-feature=exemplar-storage
wait_http Prometheus http://127.0.0.1:9090/-/ready 60

mkdir -p "$work/loki"
start loki env \
  LOKI_LISTEN_ADDRESS=127.0.0.1 \
  LOKI_HTTP_PORT=3100 \
  LOKI_GRPC_PORT=19096 \
  LOKI_INSTANCE_ADDR=127.0.0.1 \
  LOKI_DATA_DIR="$work/loki" \
  "$loki" -config.file="$here/loki.yaml" -config.expand-env=true
wait_http Loki http://127.0.0.1:3100/ready 120

mkdir -p "$work/tempo"
start tempo env \
  TEMPO_LISTEN_ADDRESS=127.0.0.1 \
  TEMPO_HTTP_PORT=3200 \
  TEMPO_GRPC_PORT=19095 \
  TEMPO_MEMBERLIST_ADDRESS=127.0.0.1 \
  TEMPO_MEMBERLIST_PORT=17946 \
  TEMPO_OTLP_GRPC_ENDPOINT=127.0.0.1:14317 \
  TEMPO_OTLP_HTTP_ENDPOINT=127.0.0.1:14318 \
  TEMPO_DATA_DIR="$work/tempo" \
  TEMPO_PROMETHEUS_REMOTE_WRITE_URL=http://127.0.0.1:9090/api/v1/write \
  "$tempo" -target=all -config.file="$here/tempo.yaml" -config.expand-env=true
wait_http Tempo http://127.0.0.1:3200/ready 120

start otel-collector env \
  OTELCOL_OTLP_GRPC_ENDPOINT=127.0.0.1:4317 \
  OTELCOL_OTLP_HTTP_ENDPOINT=127.0.0.1:4318 \
  OTELCOL_HEALTH_ENDPOINT=127.0.0.1:13133 \
  TEMPO_OTLP_GRPC_ENDPOINT=127.0.0.1:14317 \
  LOKI_OTLP_ENDPOINT=http://127.0.0.1:3100/otlp \
  PROMETHEUS_OTLP_ENDPOINT=http://127.0.0.1:9090/api/v1/otlp \
  "$otelcol" --config="$here/otel-collector.yaml"
wait_http Collector http://127.0.0.1:13133/ 60

status=0
(cd "$repo" && deno task test:stack) || status=$?

if $keep; then
  log "stack left running (Grafana is not part of the native run), whatever the check said; Ctrl-C stops it"
  wait
fi
exit $status
