#!/usr/bin/env bash
# Writes the people-count test images into tests/fixtures/generated/ (gitignored):
#   astronaut.png, coffee.png   from scikit-image's data (Debian python3-skimage, else
#                               the PyPI wheel): 1 person, 0 people
#   vtest-300.png, vtest-600.png frames 300 and 600 of Debian opencv-doc's vtest.avi: 6 each
#   vtest-seq/frame-<k>.jpg      vtest.avi frames 300 + 5k, k = 0..8 (the same 6 people)
# Needs: ffmpeg, opencv-doc and python3-skimage
#   (apt-get install -y ffmpeg opencv-doc python3-skimage), or pip + unzip instead of the last.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/tests/fixtures/generated"
mkdir -p "$dest"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Debian's python3-skimage ships the same data files as the wheel; prefer it (no network).
debian_data=/usr/lib/python3/dist-packages/skimage/data
if [[ -f "$debian_data/astronaut.png" && -f "$debian_data/coffee.png" ]]; then
    cp "$debian_data/astronaut.png" "$debian_data/coffee.png" "$dest/"
elif [[ ! -f "$dest/astronaut.png" || ! -f "$dest/coffee.png" ]]; then
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
# A short walk for the tracker: frames 300-340 (30-34 s), every 5th (0.5 s apart), as the
# frames step would name them: vtest-seq/frame-0.jpg (frame 300) ... frame-8.jpg (340).
mkdir -p "$dest/vtest-seq"
ffmpeg -nostdin -loglevel error -y -i "$vtest" \
    -vf "select=between(n\,300\,340)*not(mod(n\,5))" -fps_mode passthrough -q:v 3 \
    -start_number 0 "$dest/vtest-seq/frame-%d.jpg"
ls -l "$dest"/astronaut.png "$dest"/coffee.png "$dest"/vtest-300.png "$dest"/vtest-600.png
