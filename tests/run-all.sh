#!/usr/bin/env bash
# The whole test suite (the README's test command):
#   1. media fixtures generated from Debian packages and the scikit-image wheel;
#   2. the host workspace: unit tests, the queue conformance suite on SQLite and PostgreSQL,
#      the sandbox tests, and the end-to-end tests in tests/it (real server, real HTTP);
#   3. the plugins' native tests (media decoding against ffmpeg, people counts).
# Needs: ffmpeg, opencv-doc, unzip, postgresql (Debian) and the wasm32-wasip2 target;
# `.ci/run` installs them on a fresh machine. PostgreSQL: FRAMEPIPE_TEST_PG_URL if set (a
# server where the user may CREATE DATABASE), else a throwaway cluster started here.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if [[ -z "${FRAMEPIPE_TEST_PG_URL:-}" ]]; then
    pg_dir="${TMPDIR:-/tmp}/framepipe-run-all-pg-$$"
    FRAMEPIPE_TEST_PG_URL="$(bash tests/pg-cluster.sh ensure "$pg_dir")"
    export FRAMEPIPE_TEST_PG_URL
    trap 'bash tests/pg-cluster.sh stop "$pg_dir"' EXIT
fi

bash tests/fixtures/make-fixtures.sh
bash models/extract-test-images.sh >/dev/null

# Debug host build (Cranelift itself is optimized, see Cargo.toml); the plugins are always release.
cargo test --workspace
(cd plugins && cargo test --release --target "$(rustc -vV | sed -n 's/^host: //p')" -p frames -p people-count -p thumbnail)
(cd examples && cargo test --release --target "$(rustc -vV | sed -n "s/^host: //p")")
