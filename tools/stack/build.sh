#!/usr/bin/env bash
# Puts the stack's native binaries, at the versions pinned in tools/stack/versions.json (the same versions as the
# images in tools/stack/docker-compose.yml), into a cache outside the repository, keyed by version:
#   ${STACK_CACHE:-~/.cache/deno-example}/otelcol-<version>/otelcol        built from the Go module proxy
#   ${STACK_CACHE:-~/.cache/deno-example}/otelcol-scale-<version>/otelcol  the same, with the contrib
#                                        loadbalancing and tail_sampling (tools/stack/scale/otelcol-builder.yaml)
#   ${STACK_CACHE:-~/.cache/deno-example}/prometheus-<version>/prometheus  built from the Go module proxy
#   ${STACK_CACHE:-~/.cache/deno-example}/tempo-<version>/tempo            unpacked from ../shared/tools/
#   ${STACK_CACHE:-~/.cache/deno-example}/loki-<version>/loki              unpacked from ../shared/tools/
# Tempo and Loki cannot be built here (the Go module proxy refuses their modules): they come prebuilt from
# their release tags in ${STACK_TOOLS:-<repo>/../shared/tools} (its README says how), checked against its
# SHA256SUMS before use. A second run finds everything and does nothing.
# Usage: tools/stack/build.sh [otelcol|otelcol-scale|prometheus|tempo|loki]...   (no argument: all but otelcol-scale)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${STACK_CACHE:-$HOME/.cache/deno-example}"
tools="${STACK_TOOLS:-$here/../../../shared/tools}"
versions="$here/versions.json"

# version KEY: reads one string from tools/stack/versions.json.
version() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$versions" "$1"
}

log() { printf '[build] %s\n' "$*" >&2; }

# Scratch directories of an interrupted or failed build are removed on exit.
scratch=()
trap 'rm -rf "${scratch[@]}"' EXIT

# install_binary FILE DIR NAME VERSION: checks that FILE reports VERSION (`--version`), then moves it into
# DIR/NAME atomically (a half-written or wrong binary is never cached).
install_binary() {
  if ! "$1" --version 2>&1 | grep -q "version $4\b"; then
    echo "$3: the new binary does not report version $4:" >&2
    "$1" --version >&2 || true
    exit 1
  fi
  mkdir -p "$2"
  install -m 0755 "$1" "$2/$3.new"
  mv "$2/$3.new" "$2/$3"
}

# build_otelcol NAME MANIFEST: builds a Collector from MANIFEST (relative to tools/stack/) into
# $cache/NAME-<version>/otelcol; every module of the manifest is at the one release in versions.json.
build_otelcol() {
  local name=$1 manifest=$2 ver dir tmp start
  ver="$(version otel_collector)"
  dir="$cache/$name-$ver"
  if [[ -x "$dir/otelcol" ]]; then
    log "$name $ver: cached at $dir/otelcol"
    return
  fi
  start=$SECONDS
  tmp="$(mktemp -d "$cache/.$name-$ver.XXXXXX")"
  scratch+=("$tmp")
  log "$name $ver: installing the builder"
  GOBIN="$tmp/bin" go install "go.opentelemetry.io/collector/cmd/builder@v$ver"
  cp "$here/$manifest" "$tmp/manifest.yaml"
  log "$name $ver: building (manifest tools/stack/$manifest)"
  (cd "$tmp" && "$tmp/bin/builder" --config=manifest.yaml)
  install_binary "$tmp/otelcol-dist/otelcol" "$dir" otelcol "$ver"
  log "$name $ver: built in $((SECONDS - start)) s"
}

build_prometheus() {
  local ver module dir tmp start
  ver="$(version prometheus)"
  dir="$cache/prometheus-$ver"
  if [[ -x "$dir/prometheus" ]]; then
    log "prometheus $ver: cached at $dir/prometheus"
    return
  fi
  # Release v3.X.Y is published on the module proxy as github.com/prometheus/prometheus v0.3X.Y
  # (e.g. 3.16.0 -> v0.316.0). The version string is set so that `prometheus --version` reports it.
  if [[ ! "$ver" =~ ^3\.([0-9]+)\.([0-9]+)$ ]]; then
    echo "tools/stack/versions.json: prometheus must be a 3.x release (3.X.Y), got '$ver'" >&2
    exit 1
  fi
  module="v0.3$(printf '%02d' "${BASH_REMATCH[1]}").${BASH_REMATCH[2]}"
  start=$SECONDS
  tmp="$(mktemp -d "$cache/.prometheus-$ver.XXXXXX")"
  scratch+=("$tmp")
  log "prometheus $ver: building github.com/prometheus/prometheus/cmd/prometheus@$module (minutes on a first run)"
  GOBIN="$tmp/bin" go install -trimpath \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$ver" \
    "github.com/prometheus/prometheus/cmd/prometheus@$module"
  install_binary "$tmp/bin/prometheus" "$dir" prometheus "$ver"
  log "prometheus $ver: built in $((SECONDS - start)) s"
}

# unpack_prebuilt NAME: checks ../shared/tools/NAME-<version>-linux-amd64.gz against SHA256SUMS, unpacks it.
unpack_prebuilt() {
  local name=$1 ver dir file tmp
  ver="$(version "$name")"
  dir="$cache/$name-$ver"
  if [[ -x "$dir/$name" ]]; then
    log "$name $ver: cached at $dir/$name"
    return
  fi
  file="$name-$ver-linux-amd64.gz"
  if [[ ! -f "$tools/$file" || ! -f "$tools/SHA256SUMS" ]]; then
    echo "$name $ver: $tools/$file (with SHA256SUMS beside it) is missing; set STACK_TOOLS to the folder" >&2
    echo "  that holds the prebuilt backends (../shared/tools/ next to the repository in CI)" >&2
    exit 1
  fi
  if ! grep -q "  $file\$" "$tools/SHA256SUMS"; then
    echo "$name $ver: $tools/SHA256SUMS has no digest for $file" >&2
    exit 1
  fi
  (cd "$tools" && grep "  $file\$" SHA256SUMS | sha256sum -c --quiet -) || {
    echo "$name $ver: $tools/$file does not match its digest in SHA256SUMS" >&2
    exit 1
  }
  tmp="$(mktemp -d "$cache/.$name-$ver.XXXXXX")"
  scratch+=("$tmp")
  gunzip -c "$tools/$file" >"$tmp/$name"
  chmod +x "$tmp/$name"
  install_binary "$tmp/$name" "$dir" "$name" "$ver"
  log "$name $ver: unpacked into $dir/$name (digest checked)"
}

mkdir -p "$cache"
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(otelcol prometheus tempo loki)
for t in "${targets[@]}"; do
  case "$t" in
    otelcol) build_otelcol otelcol otelcol-builder.yaml ;;
    otelcol-scale) build_otelcol otelcol-scale scale/otelcol-builder.yaml ;;
    prometheus) build_prometheus ;;
    tempo | loki) unpack_prebuilt "$t" ;;
    *) echo "unknown target: $t (otelcol|otelcol-scale|prometheus|tempo|loki)" >&2; exit 2 ;;
  esac
done
