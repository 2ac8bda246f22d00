#!/usr/bin/env bash
# Writes the people-count test images into tests/fixtures/generated/ (gitignored):
#   astronaut.png, coffee.png   from scikit-image's wheel (PyPI): 1 person, 0 people
#   vtest-300.png, vtest-600.png frames 300 and 600 of Debian opencv-doc's vtest.avi: 6 each
# Needs: pip (PyPI access), unzip, ffmpeg and opencv-doc
#   (apt-get install -y ffmpeg opencv-doc unzip).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/tests/fixtures/generated"
mkdir -p "$dest"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [[ ! -f "$dest/astronaut.png" || ! -f "$dest/coffee.png" ]]; then
    # Any platform's wheel carries the same data files; take the one pip picks here.
    python3 -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary=:all: -d "$work" scikit-image
    wheel="$(ls "$work"/scikit_image-*.whl | head -n 1)"
    unzip -q -j -o "$wheel" 'skimage/data/astronaut.png' 'skimage/data/coffee.png' -d "$dest"
fi

vtest=/usr/share/doc/opencv-doc/examples/data/vtest.avi
if [[ ! -f "$vtest" ]]; then
    echo "missing $vtest: apt-get install -y opencv-doc" >&2
    exit 1
fi
for n in 300 600; do
    # select=eq(n,N) picks the frame by decode index (not by timestamp), as the counts were made.
    ffmpeg -nostdin -loglevel error -y -i "$vtest" -vf "select=eq(n\,$n)" -vframes 1 "$dest/vtest-$n.png"
done
ls -l "$dest"/astronaut.png "$dest"/coffee.png "$dest"/vtest-300.png "$dest"/vtest-600.png
