#!/usr/bin/env bash
# Builds the OpenTelemetry Collector and Grafana Tempo natively from the Go module proxy, at the
# versions pinned in stack/versions.json (the same versions as the images in docker-compose.yml),
# and caches the binaries outside the repository, keyed by version:
#   ${STACK_CACHE:-~/.cache/deno-example}/otelcol-<version>/otelcol
#   ${STACK_CACHE:-~/.cache/deno-example}/tempo-<version>/tempo
# A second run finds them and does nothing. Usage: stack/build.sh [otelcol|tempo]...
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${STACK_CACHE:-$HOME/.cache/deno-example}"
versions="$here/versions.json"

# version KEY: reads one string from stack/versions.json.
version() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$versions" "$1"
}

log() { printf '[build] %s\n' "$*" >&2; }

# Scratch directories of an interrupted or failed build are removed on exit.
scratch=()
trap 'rm -rf "${scratch[@]}"' EXIT

build_otelcol() {
  local ver dir tmp start
  ver="$(version otel_collector)"
  dir="$cache/otelcol-$ver"
  if [[ -x "$dir/otelcol" ]]; then
    log "otelcol $ver: cached at $dir/otelcol"
    return
  fi
  start=$SECONDS
  tmp="$(mktemp -d "$cache/.otelcol-$ver.XXXXXX")"
  scratch+=("$tmp")
  log "otelcol $ver: installing the builder"
  GOBIN="$tmp/bin" go install "go.opentelemetry.io/collector/cmd/builder@v$ver"
  cp "$here/otelcol-builder.yaml" "$tmp/manifest.yaml"
  log "otelcol $ver: building (manifest stack/otelcol-builder.yaml)"
  (cd "$tmp" && "$tmp/bin/builder" --config=manifest.yaml)
  mkdir -p "$dir"
  install -m 0755 "$tmp/otelcol-dist/otelcol" "$dir/otelcol.new"
  mv "$dir/otelcol.new" "$dir/otelcol"
  log "otelcol $ver: built in $((SECONDS - start)) s"
}

build_tempo() {
  local ver pseudo dir tmp start
  ver="$(version tempo)"
  pseudo="$(version tempo_go_pseudo_version)"
  dir="$cache/tempo-$ver"
  if [[ -x "$dir/tempo" ]]; then
    log "tempo $ver: cached at $dir/tempo"
    return
  fi
  if [[ ! "$pseudo" =~ ^v[0-9]+\.[0-9]+\.[0-9]+-0\.[0-9]{14}-[0-9a-f]{12}$ ]]; then
    echo "stack/versions.json: tempo_go_pseudo_version must be the Go pseudo-version of the v$ver release commit" >&2
    echo "  (e.g. v1.5.1-0.YYYYMMDDhhmmss-<12 hex>), got: '$pseudo'" >&2
    exit 1
  fi
  start=$SECONDS
  tmp="$(mktemp -d "$cache/.tempo-$ver.XXXXXX")"
  scratch+=("$tmp")
  # Tempo's module path has no /v3 while its tags are v3.x, so the Go module proxy serves the release
  # commit only as a pseudo-version. Replace directives of a dependency are ignored, so this wrapper
  # module repeats Tempo's own (stack/tempo-replaces.txt, copied from Tempo's go.mod at that release).
  {
    echo "module example.invalid/tempo-build"
    echo
    echo "go 1.26"
    echo
    echo "require github.com/grafana/tempo $pseudo"
    echo
    grep -v '^[[:space:]]*\(#\|$\)' "$here/tempo-replaces.txt" | sed 's/^/replace /'
  } >"$tmp/go.mod"
  log "tempo $ver ($pseudo): resolving modules"
  (cd "$tmp" && GOFLAGS=-mod=mod go mod download github.com/grafana/tempo)
  log "tempo $ver: building (hundreds of modules on a first run)"
  (cd "$tmp" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X main.Version=$ver -X main.Branch=HEAD -X main.Revision=${pseudo##*-}" \
    -o "$tmp/tempo" github.com/grafana/tempo/cmd/tempo)
  mkdir -p "$dir"
  install -m 0755 "$tmp/tempo" "$dir/tempo.new"
  mv "$dir/tempo.new" "$dir/tempo"
  log "tempo $ver: built in $((SECONDS - start)) s"
}

mkdir -p "$cache"
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(otelcol tempo)
for t in "${targets[@]}"; do
  case "$t" in
    otelcol) build_otelcol ;;
    tempo) build_tempo ;;
    *) echo "unknown target: $t (otelcol|tempo)" >&2; exit 2 ;;
  esac
done
