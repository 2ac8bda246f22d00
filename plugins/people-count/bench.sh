#!/usr/bin/env bash
# People counting at 416x416: ms per frame in the sandbox vs the same code natively, side
# by side in one run (3 alternated rounds, medians). Both run `run::run` on the same nine
# vtest frames (models/extract-test-images.sh) and report the plugin's own `ms_per_frame`
# (read + decode + detect + track, model load excluded).
# Usage: plugins/people-count/bench.sh [path/to/framepipe]   (default: the release build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
target="${CARGO_TARGET_DIR:-$root/target}"
framepipe="${1:-$target/release/framepipe}"
frames=("$root"/tests/fixtures/generated/vtest-seq/frame-*.jpg)
(cd "$root/plugins" && cargo build -q --release --target x86_64-unknown-linux-gnu -p people-count --example native_run)
native="$target/x86_64-unknown-linux-gnu/release/examples/native_run"
inputs=()
for f in "${frames[@]}"; do inputs+=(--input "$(basename "$f")=$f"); done
out="$(mktemp -d)"
field() { python3 -c "import json,sys; d=json.load(sys.stdin); d=d.get('result', d); print(d['$1'])"; }
n=(); s=(); nl=(); sl=()
for _ in 1 2 3; do
    j="$("$native" "${frames[@]}")"
    n+=("$(field ms_per_frame <<<"$j")"); nl+=("$(field model_load_ms <<<"$j")")
    j="$("$framepipe" --data-dir "$out/data" run-step people-count --memory-mib 256 --out "$out/a" "${inputs[@]}")"
    s+=("$(field ms_per_frame <<<"$j")"); sl+=("$(field model_load_ms <<<"$j")")
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
mn="$(median "${n[@]}")"; ms="$(median "${s[@]}")"
echo "people-count, ${#frames[@]} frames of 768x576 at 416x416, median of 3 alternated rounds"
echo "native:  ${mn} ms/frame (rounds ${n[*]}), model load ${nl[*]} ms"
echo "sandbox: ${ms} ms/frame (rounds ${s[*]}), model load ${sl[*]} ms"
awk -v n="$mn" -v s="$ms" 'BEGIN { printf "sandbox speed = %.2fx native (goal >= 0.45x)\n", n / s }'
rm -rf "$out"
