#!/usr/bin/env bash
# The whole test suite (the README's test command):
#   1. media fixtures generated from Debian packages and the scikit-image wheel;
#   2. the host workspace: unit tests, the queue conformance suite on SQLite and PostgreSQL,
#      the sandbox tests, and the end-to-end tests in tests/it (real server, real HTTP);
#   3. the plugins' native tests (media decoding against ffmpeg, people counts).
# Needs: ffmpeg, opencv-doc, unzip (Debian), the wasm32-wasip2 target, PostgreSQL on
# 127.0.0.1:5432 with trust auth. `.ci/run` installs and starts them on a fresh machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

bash tests/fixtures/make-fixtures.sh
bash models/extract-test-images.sh >/dev/null

# Debug host build (Cranelift itself is optimized, see Cargo.toml); the plugins are always release.
cargo test --workspace
(cd plugins && cargo test --release --target "$(rustc -vV | sed -n 's/^host: //p')" -p frames -p people-count -p thumbnail)
(cd examples && cargo test --release --target "$(rustc -vV | sed -n "s/^host: //p")")
