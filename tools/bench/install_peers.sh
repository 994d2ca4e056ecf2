#!/usr/bin/env bash
# Builds the receiver section's peers from the Go module proxy, cached by version under
# ~/.cache/deno-example: telemetrygen (the OpenTelemetry load generator) and Jaeger v2 all-in-one, and links
# them into bench/.bin, where `deno task --cwd bench receiver` may run them. `go install` refuses Jaeger (its
# go.mod has replace directives), so it is built inside a writable copy of its module directory. Both are
# Apache-2.0. Needs Go 1.24+; the first build takes minutes.
set -euo pipefail
cd "$(dirname "$0")"
TELEMETRYGEN_VERSION=v0.161.0
JAEGER_VERSION=v1.75.0
cache="$HOME/.cache/deno-example"
command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"

tg="$cache/telemetrygen-$TELEMETRYGEN_VERSION"
if [ ! -x "$tg/telemetrygen" ]; then
  echo "install_peers.sh: building telemetrygen $TELEMETRYGEN_VERSION into $tg" >&2
  GOBIN="$tg.tmp" go install \
    "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$TELEMETRYGEN_VERSION"
  mkdir -p "$tg" && mv "$tg.tmp/telemetrygen" "$tg/telemetrygen" && rmdir "$tg.tmp"
fi

jg="$cache/jaeger-$JAEGER_VERSION"
if [ ! -x "$jg/jaeger" ]; then
  echo "install_peers.sh: building jaeger $JAEGER_VERSION into $jg" >&2
  dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  src=$(mktemp -d)
  trap 'chmod -R u+w "$src"; rm -rf "$src"' EXIT
  cp -r "$dir/." "$src" && chmod -R u+w "$src"
  (cd "$src" && go build -o "$src/jaeger" ./cmd/jaeger)
  mkdir -p "$jg" && mv "$src/jaeger" "$jg/jaeger"
fi
mkdir -p .bin
ln -sf "$tg/telemetrygen" .bin/telemetrygen
ln -sf "$jg/jaeger" .bin/jaeger
