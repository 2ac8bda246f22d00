#!/usr/bin/env bash
# Runs the plugin tutorials of docs/plugins.md verbatim, against a real server.
#
#   bash tests/check-tutorials.sh [python] [js]      (default: every tutorial)
#
# A tutorial is the fenced blocks whose info string names it:
#   ```sh tutorial-python               commands, run in order in one bash (set -euo pipefail)
#   ```python tutorial-python file=app.py   a file the reader saves; written before the
#                                           commands that follow it run
# in a fresh directory, with what the tutorial's "Before you start" says a reader has:
# `framepipe` on PATH, a server at $FRAMEPIPE_URL with an admin key $ADMIN_KEY and a user
# key $KEY, its pipelines directory $PIPELINES_DIR, the framepipe sources $FRAMEPIPE_SRC
# and a video $CLIP. Nothing is skipped: a missing tool fails the run, saying which.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
doc="$root/docs/plugins.md"
(($#)) || set -- python js
target="${CARGO_TARGET_DIR:-$root/target}"
bin="${FRAMEPIPE_BIN:-$target/debug/framepipe}"
[[ -x "$bin" ]] || { echo "check-tutorials: $bin missing: cargo build -p framepipe first" >&2; exit 1; }
for tool in python3 node npm curl; do
    command -v "$tool" >/dev/null || { echo "check-tutorials: $tool is needed (see .ci/run)" >&2; exit 1; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/framepipe-tutorials.XXXXXX")"
server_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# Extracts tutorial $1 from the doc as a bash script: commands as they are, files as heredocs.
extract() {
    python3 - "$doc" "$1" <<'PY'
import re, shlex, sys
doc, name = sys.argv[1], sys.argv[2]
tag = f"tutorial-{name}"
out, block, info = [], None, None
for line in open(doc, encoding="utf-8"):
    if block is None:
        m = re.match(r"^```(\S+)(.*)$", line.rstrip("\n"))
        if m and tag in m.group(2).split():
            block, info = [], m.group(2).split()
        continue
    if line.rstrip("\n") == "```":
        files = [w[5:] for w in info if w.startswith("file=")]
        if files:
            marker = "FRAMEPIPE_TUTORIAL_EOF"
            out.append(f"mkdir -p \"$(dirname {shlex.quote(files[0])})\"")
            out.append(f"cat > {shlex.quote(files[0])} <<'{marker}'\n{''.join(block)}{marker}")
        else:
            out.append("".join(block))
        block = None
        continue
    block.append(line)
if not out:
    sys.exit(f"docs/plugins.md has no blocks tagged {tag}")
print("\n".join(out))
PY
}

# The server the tutorials talk to.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export FRAMEPIPE_DATA_DIR="$work/server/data"
export PIPELINES_DIR="$work/server/pipelines"
mkdir -p "$FRAMEPIPE_DATA_DIR" "$PIPELINES_DIR"
# The compile cache the integration tests use: built-in plugins compile once per machine.
cache="${TMPDIR:-/tmp}/framepipe-test-cache"
printf 'pipelines_dir = "%s"\nruntime = { cache_dir = "%s" }\n' "$PIPELINES_DIR" "$cache" >"$work/server/config.toml"
export FRAMEPIPE_CONFIG="$work/server/config.toml"
ADMIN_KEY="$("$bin" keys create --admin --name tutorial-admin | tail -n 1)"
KEY="$("$bin" keys create --name tutorial | tail -n 1)"
export ADMIN_KEY KEY
"$bin" serve --addr "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
export FRAMEPIPE_URL="http://127.0.0.1:$port"
# A cold start compiles the built-in plugins: minutes for a debug build on a busy machine.
for _ in $(seq 600); do
    curl -fs "$FRAMEPIPE_URL/healthz" >/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.5
done
curl -fs "$FRAMEPIPE_URL/healthz" >/dev/null || { cat "$work/server.log" >&2; exit 1; }
export FRAMEPIPE_SRC="$root"
export CLIP="$root/tests/fixtures/generated/h264-high-720p.mp4"
[[ -f "$CLIP" ]] || { echo "check-tutorials: $CLIP missing: bash tests/fixtures/make-fixtures.sh" >&2; exit 1; }
mkdir -p "$work/bin" && ln -sf "$bin" "$work/bin/framepipe"
export PATH="$work/bin:$PATH"

passed=0
failed=0
for name in "$@"; do
    dir="$work/$name"
    mkdir -p "$dir"
    extract "$name" >"$work/$name.sh"
    start=$SECONDS
    # Each tutorial gets its own shell (its own venv, cwd, variables), as a reader would.
    if (cd "$dir" && bash -euo pipefail "$work/$name.sh") >"$work/$name.log" 2>&1; then
        echo "tutorial $name: ok ($((SECONDS - start)) s)"
        passed=$((passed + 1))
    else
        echo "tutorial $name: FAILED ($((SECONDS - start)) s); its script and output:" >&2
        cat -n "$work/$name.sh" >&2
        tail -n 60 "$work/$name.log" >&2
        echo "--- server log:" >&2
        tail -n 20 "$work/server.log" >&2
        failed=$((failed + 1))
    fi
done
echo "tutorials: $passed passed, $failed failed"
((failed == 0))
