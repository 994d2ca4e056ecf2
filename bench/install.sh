#!/usr/bin/env bash
# Installs the benchmark's tools, pinned where the installer allows: the Node.js side (the OpenTelemetry SDK)
# from node/package-lock.json; vegeta, the constant-rate load generator of the span-loss runs, into
# bench/.bin; and wrk, the closed-loop load generator, from the system's packages when it is missing.
# Needs Node.js 20.6+ with npm, Go 1.22+, and for wrk apt-get (Debian/Ubuntu; elsewhere install wrk yourself).
set -euo pipefail
cd "$(dirname "$0")"
(cd node && npm ci --no-audit --no-fund)
# Keep the version in step with machine.ts, which prints it with the results.
GOBIN="$(pwd)/.bin" go install github.com/tsenart/vegeta/v12@v12.13.0
if ! command -v wrk >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y wrk || { $sudo apt-get update && $sudo apt-get install -y wrk; }
fi
