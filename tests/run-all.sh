#!/usr/bin/env bash
# The whole test suite (the README's test command):
#   1. media fixtures generated from Debian packages and the scikit-image wheel;
#   2. the host workspace: unit tests, the queue conformance suite on SQLite and PostgreSQL,
#      the sandbox tests, and the end-to-end tests in tests/it (real server, real HTTP);
#   3. the plugins' native tests (media decoding against ffmpeg, people counts);
#   4. the Python and JavaScript SDKs and examples (native tests), and the plugin tutorials
#      of docs/plugins.md run verbatim against a real server (tests/check-tutorials.sh).
# Needs: ffmpeg, opencv-doc, unzip, postgresql (Debian), the wasm32-wasip2 target, and the
# Python and JavaScript plugin toolchains (python3, node; `bash tests/plugin-toolchains.sh
# install`); `.ci/run` installs them on a fresh machine. Without them the tests that need
# them fail saying how to install them. PostgreSQL: FRAMEPIPE_TEST_PG_URL if set (a
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
(cd plugins && cargo test --release --target "$(rustc -vV | sed -n 's/^host: //p')" -p frames -p people-count -p thumbnail -p framepipe-vp8 -p mpeg4video -p msmpeg4)
(cd examples && cargo test --release --target "$(rustc -vV | sed -n "s/^host: //p")")

# Python and JavaScript: the SDKs' and examples' native tests, then the tutorials verbatim.
(cd sdk/python && python3 -m unittest discover -s tests)
(cd sdk/js && node --test test/)
(cd examples/python-frame-stats && python3 -m unittest)
(cd examples/js-frame-colors && node --test test/)
bash tests/check-tutorials.sh
