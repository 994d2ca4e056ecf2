#!/usr/bin/env bash
# Runs the stack of docker-compose.yml without Docker: the same versions of the OpenTelemetry Collector and
# Tempo (built by stack/build.sh, cached by version) and Debian's Prometheus, on 127.0.0.1, each with the
# repository's own config file; only listen addresses and data paths are overridden (environment, flags).
# Then runs `deno task test:stack` against it and stops what it started.
#
#   stack/run_native.sh            start, check, stop
#   stack/run_native.sh --keep     start, check, leave running (stop with Ctrl-C)
#
# STACK_TEMPO_BIN=/path/to/tempo uses a Tempo binary built elsewhere instead of stack/build.sh's; it must
# report the pinned version (`tempo -version`).
#
# Ports (all 127.0.0.1): Collector OTLP 4317/4318, health 13133; Tempo API 3200, its OTLP receiver
# 14317/14318, gRPC 19095, memberlist 17946; Prometheus 9090; the example server 8000.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cache="${STACK_CACHE:-$HOME/.cache/deno-example}"
keep=false
[[ "${1:-}" == "--keep" ]] && keep=true

version() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$here/versions.json" "$1"
}
log() { printf '[native] %s\n' "$*" >&2; }

for tool in deno python3 curl prometheus; do
  command -v "$tool" >/dev/null || { echo "run_native.sh needs $tool on PATH (see stack/ci.sh)" >&2; exit 1; }
done

"$here/build.sh" otelcol
otelcol="$cache/otelcol-$(version otel_collector)/otelcol"
if [[ -n "${STACK_TEMPO_BIN:-}" ]]; then
  tempo="$STACK_TEMPO_BIN"
  if ! "$tempo" -version 2>&1 | grep -q "version $(version tempo)\b"; then
    echo "STACK_TEMPO_BIN=$tempo does not report version $(version tempo):" >&2
    "$tempo" -version >&2 || true
    exit 1
  fi
else
  "$here/build.sh" tempo
  tempo="$cache/tempo-$(version tempo)/tempo"
fi

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
for port in 4317 4318 13133 3200 14317 14318 19095 17946 9090 8000; do
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
start prometheus prometheus \
  --config.file="$repo/prometheus.yaml" \
  --web.listen-address=127.0.0.1:9090 \
  --storage.tsdb.path="$work/prometheus" \
  --web.enable-remote-write-receiver
wait_http Prometheus http://127.0.0.1:9090/-/ready 60

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
  "$tempo" -target=all -config.file="$repo/tempo.yaml" -config.expand-env=true
wait_http Tempo http://127.0.0.1:3200/ready 120

start otel-collector env \
  OTELCOL_OTLP_GRPC_ENDPOINT=127.0.0.1:4317 \
  OTELCOL_OTLP_HTTP_ENDPOINT=127.0.0.1:4318 \
  OTELCOL_HEALTH_ENDPOINT=127.0.0.1:13133 \
  TEMPO_OTLP_GRPC_ENDPOINT=127.0.0.1:14317 \
  "$otelcol" --config="$repo/otel-collector.yaml"
wait_http Collector http://127.0.0.1:13133/ 60

(cd "$repo" && deno task test:stack)

if $keep; then
  log "stack left running (Grafana is not part of the native run); Ctrl-C stops it"
  wait
fi
