#!/usr/bin/env bash
# People counting at 416x416: ms per frame in the sandbox vs the same code natively, side
# by side in one run (3 alternated rounds, medians). Both run `run::run` on the same nine
# vtest frames (models/extract-test-images.sh) and report the plugin's own `ms_per_frame`
# (read + decode + detect + track, model load excluded). Then checks that both found the
# same people: same count per frame, boxes within 2 px, scores within 0.01 (the sandbox's
# GEMM kernel is not native's, so the last digits differ); exits 1 if not.
# Usage: plugins/people-count/bench.sh [path/to/framepipe [plugin]]
#   framepipe: default the release build; plugin: default the built-in `people-count`, or a
#   `.wasm` component (e.g. one just built in plugins/, without rebuilding the host).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
target="${CARGO_TARGET_DIR:-$root/target}"
framepipe="${1:-$target/release/framepipe}"
plugin="${2:-people-count}"
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
    printf '%s' "$j" >"$out/native.json"
    j="$("$framepipe" --data-dir "$out/data" run-step "$plugin" --memory-mib 256 --out "$out/a" "${inputs[@]}")"
    s+=("$(field ms_per_frame <<<"$j")"); sl+=("$(field model_load_ms <<<"$j")")
    printf '%s' "$j" >"$out/sandbox.json"
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
mn="$(median "${n[@]}")"; ms="$(median "${s[@]}")"
echo "people-count, ${#frames[@]} frames of 768x576 at 416x416, median of 3 alternated rounds"
echo "native:  ${mn} ms/frame (rounds ${n[*]}), model load ${nl[*]} ms"
echo "sandbox: ${ms} ms/frame (rounds ${s[*]}), model load ${sl[*]} ms"
awk -v n="$mn" -v s="$ms" 'BEGIN { printf "sandbox speed = %.2fx native (goal >= 0.45x)\n", n / s }'
# Detections of the last round: frame by frame, the boxes in order (best score first).
python3 - "$out/native.json" "$out/sandbox.json" <<'PY' || { rm -rf "$out"; exit 1; }
import json, sys
native, sandbox = (json.load(open(p)) for p in sys.argv[1:])
native, sandbox = native.get("result", native), sandbox.get("result", sandbox)
boxes = scores = 0.0
people = 0
for a, b in zip(native["frames"], sandbox["frames"], strict=True):
    da, db = a["detections"], b["detections"]
    if len(da) != len(db):
        sys.exit(f"detections differ: {a['artifact']} has {len(da)} natively, {len(db)} in the sandbox")
    people += len(da)
    for x, y in zip(da, db):
        boxes = max(boxes, *(abs(x[k] - y[k]) for k in "xywh"))
        scores = max(scores, abs(x["score"] - y["score"]))
ok = boxes <= 2.0 and scores <= 0.01
print(f"detections: {people} in {len(native['frames'])} frames, sandbox vs native: "
      f"boxes within {boxes:.1f} px, scores within {scores:.3f} ({'ok' if ok else 'TOO FAR'})")
sys.exit(0 if ok else 1)
PY
rm -rf "$out"
