#!/usr/bin/env bash
# Builds this plugin into a component: `bash build.sh [OUT.wasm]` (default
# js-frame-colors.wasm here), with the SDK of this checkout (sdk/js). The build tools
# (ComponentizeJS, rolldown) come from FRAMEPIPE_JS_MODULES (a node_modules directory,
# as tests/plugin-toolchains.sh makes) or from sdk/js/node_modules (npm install in sdk/js).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sdk="$here/../../sdk/js"
out="$(realpath -m "${1:-$here/js-frame-colors.wasm}")"
if ! command -v node >/dev/null; then
    echo "node not found: install Node.js 20.19 or later" >&2
    exit 1
fi
if [[ -z "${FRAMEPIPE_JS_MODULES:-}" && ! -d "$sdk/node_modules/@bytecodealliance/componentize-js" ]]; then
    echo "ComponentizeJS not found: set FRAMEPIPE_JS_MODULES (bash tests/plugin-toolchains.sh install js)" >&2
    echo "or run npm install in sdk/js" >&2
    exit 1
fi
cd "$here"
exec node "$sdk/bin/framepipe-js.js" build app.js -o "$out"
