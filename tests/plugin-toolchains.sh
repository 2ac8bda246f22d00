#!/usr/bin/env bash
# The Python and JavaScript plugin toolchains, installed from PyPI and npm at pinned
# versions into $HOME/.cache/framepipe/toolchains/<name>-<versions>/, so a later run (and
# CI on the same machine) reuses them:
#   python: a venv with componentize-py (the SDK itself is taken from sdk/python/src);
#   js:     node_modules with ComponentizeJS, jco and rolldown (the SDK from sdk/js).
# Usage:
#   bash tests/plugin-toolchains.sh install [python|js]...   # install what is missing
#   bash tests/plugin-toolchains.sh path python|js            # print the directory, or
#                                                             # fail saying how to install
# .ci/run installs both; the tests only ask for the paths and fail clearly without them.
set -euo pipefail

COMPONENTIZE_PY=0.25.1
COMPONENTIZE_JS=0.23.0
JCO=1.35.0
ROLLDOWN=1.3.3
cache="${FRAMEPIPE_TOOLCHAINS:-$HOME/.cache/framepipe/toolchains}"
py_dir="$cache/python-componentize-py-$COMPONENTIZE_PY"
js_dir="$cache/js-componentize-js-$COMPONENTIZE_JS-jco-$JCO-rolldown-$ROLLDOWN"

dir_of() {
    case "$1" in
        python) echo "$py_dir" ;;
        js) echo "$js_dir/node_modules" ;;
        *) echo "unknown toolchain $1 (python or js)" >&2; exit 2 ;;
    esac
}

install_python() {
    [[ -f "$py_dir/.complete" ]] && return
    command -v python3 >/dev/null || { echo "python3 (3.10+) is needed to build Python plugins" >&2; exit 1; }
    local start=$SECONDS
    rm -rf "$py_dir" && mkdir -p "$cache"
    python3 -m venv "$py_dir"
    "$py_dir/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY"
    touch "$py_dir/.complete"
    echo "python toolchain (componentize-py $COMPONENTIZE_PY) installed in $((SECONDS - start)) s: $py_dir" >&2
}

install_js() {
    [[ -f "$js_dir/.complete" ]] && return
    command -v npm >/dev/null || { echo "node and npm (Node.js 20.19+) are needed to build JavaScript plugins" >&2; exit 1; }
    local start=$SECONDS
    rm -rf "$js_dir" && mkdir -p "$js_dir"
    printf '{"private": true}\n' >"$js_dir/package.json"
    (cd "$js_dir" && npm install --silent --no-audit --no-fund --save-exact \
        "@bytecodealliance/componentize-js@$COMPONENTIZE_JS" "@bytecodealliance/jco@$JCO" "rolldown@$ROLLDOWN")
    touch "$js_dir/.complete"
    echo "js toolchain (componentize-js $COMPONENTIZE_JS, jco $JCO, rolldown $ROLLDOWN) installed in $((SECONDS - start)) s: $js_dir" >&2
}

command="${1:-}"
shift || true
case "$command" in
    install)
        (($#)) || set -- python js
        for t in "$@"; do
            case "$t" in
                python) install_python ;;
                js) install_js ;;
                *) dir_of "$t" >/dev/null ;;
            esac
        done
        ;;
    path)
        t="${1:?path python|js}"
        d="$(dir_of "$t")"
        marker="$py_dir/.complete"
        [[ "$t" == js ]] && marker="$js_dir/.complete"
        if [[ ! -f "$marker" ]]; then
            echo "the $t plugin toolchain is not installed: run bash tests/plugin-toolchains.sh install $t (.ci/run does)" >&2
            exit 1
        fi
        echo "$d"
        ;;
    *)
        echo "usage: $0 install [python|js]... | path python|js" >&2
        exit 2
        ;;
esac
