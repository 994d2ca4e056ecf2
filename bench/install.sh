#!/usr/bin/env bash
# Installs the benchmark's tools, pinned: the Node.js side (autocannon, the OpenTelemetry SDK) from
# node/package-lock.json, and vegeta, the constant-rate load generator of the span-loss runs, into bench/.bin.
# Needs Node.js 20.6+ with npm, and Go 1.22+.
set -euo pipefail
cd "$(dirname "$0")"
(cd node && npm ci --no-audit --no-fund)
# Keep the version in step with machine.ts, which prints it with the results.
GOBIN="$(pwd)/.bin" go install github.com/tsenart/vegeta/v12@v12.13.0
