#!/usr/bin/env bash
# `deno task --cwd tools/otlp generate`: regenerates tools/otlp/gen/ from tools/otlp/otlp.proto with buf and protoc-gen-es (both from
# npm, pinned in tools/otlp/codegen.json and its lock), then formats it as the repository is formatted.
#
# buf is a native binary: once started, Deno's permissions do not confine it. Its npm wrapper needs to start
# it (--allow-run, at a path inside Deno's cache) and hands it the whole environment (--allow-env), so those
# two are unscoped here; buf then starts protoc-gen-es under Deno (tools/otlp/buf.gen.yaml), which reads the
# environment and the TypeScript library files it bundles.
# Only this developer task runs buf; the example, the viewer and the tests never install it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
deno run --quiet --frozen --config tools/otlp/codegen.json --allow-run --allow-env --allow-read=tools/otlp \
  @bufbuild/buf generate --template tools/otlp/buf.gen.yaml
deno fmt --quiet tools/otlp/gen
