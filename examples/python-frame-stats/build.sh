#!/usr/bin/env bash
# Builds this plugin into a component: `bash build.sh [OUT.wasm]` (default
# python-frame-stats.wasm here). Needs `framepipe-py` (pip install ./sdk/python);
# FRAMEPIPE_PY_VENV names a venv that has componentize-py instead, the SDK is then taken
# from this checkout (what tests/it does, with the venv tests/plugin-toolchains.sh makes).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(realpath -m "${1:-$here/python-frame-stats.wasm}")"
cd "$here"
if [[ -n "${FRAMEPIPE_PY_VENV:-}" ]]; then
    PYTHONPATH="$here/../../sdk/python/src" exec "$FRAMEPIPE_PY_VENV/bin/python" -m framepipe_plugin build app -o "$out"
fi
if ! command -v framepipe-py >/dev/null; then
    echo "framepipe-py not found: pip install ./sdk/python (brings componentize-py 0.25.1)," >&2
    echo "or set FRAMEPIPE_PY_VENV (bash tests/plugin-toolchains.sh install python)" >&2
    exit 1
fi
exec framepipe-py build app -o "$out"
