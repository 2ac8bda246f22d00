"""Per-frame brightness and frame-to-frame motion.

Brightness is the mean luma (BT.601 weights, 0..255) of every pixel, computed from the
channel sums of each row (C-speed slices rather than a Python loop per pixel). Motion is
the mean absolute difference, scaled to 0..1, between consecutive frames' 16x9 grids of
block-mean luma: small enough to ignore noise and re-encoding, fine enough to see a
person cross the picture. A frame darker than ``dark_below`` is listed as dark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from . import png

GRID_W, GRID_H = 16, 9
FRAMES_JSON = "frames.json"
_NUMBER = re.compile(r"(\d+)(?=\.[A-Za-z0-9]+$|$)")


@dataclass
class FrameStats:
    """What one frame measured."""

    name: str
    width: int
    height: int
    brightness: float
    grid: list[float]


def luma_stats(name: str, picture: png.Rgb) -> FrameStats:
    """Mean luma and the block grid of one picture."""
    w, h = picture.width, picture.height
    stride = w * 3
    data = picture.data
    cols = [(gx * w // GRID_W, (gx + 1) * w // GRID_W) for gx in range(GRID_W)]
    grid_sums = [0.0] * (GRID_W * GRID_H)
    total = 0
    for y in range(h):
        row = data[y * stride : (y + 1) * stride]
        gy = y * GRID_H // h
        row_total = 0
        for gx, (x0, x1) in enumerate(cols):
            part = row[x0 * 3 : x1 * 3]
            s = 77 * sum(part[0::3]) + 150 * sum(part[1::3]) + 29 * sum(part[2::3])
            grid_sums[gy * GRID_W + gx] += s
            row_total += s
        total += row_total
    grid = []
    for gy in range(GRID_H):
        rows = (gy + 1) * h // GRID_H - gy * h // GRID_H
        for gx, (x0, x1) in enumerate(cols):
            n = max(1, rows * (x1 - x0)) * 256
            grid.append(grid_sums[gy * GRID_W + gx] / n)
    return FrameStats(name, w, h, total / (w * h * 256), grid)


def motion(a: FrameStats, b: FrameStats) -> float:
    """Mean absolute grid difference between two frames, 0..1."""
    return sum(abs(x - y) for x, y in zip(a.grid, b.grid)) / (len(a.grid) * 255.0)


def frame_order(names: Iterable[str]) -> list[str]:
    """The PNG inputs in frame order: by the number before the extension, unnumbered last."""
    pngs = [n for n in names if n.lower().endswith(".png")]

    def key(n: str):
        m = _NUMBER.search(n)
        return (m is None, int(m.group(1)) if m else 0, n)

    return sorted(pngs, key=key)


@dataclass
class Config:
    """The step's config (see ``SCHEMA``)."""

    dark_below: float = 40.0
    max_frames: int = 1000

    @classmethod
    def parse(cls, raw: dict) -> "Config":
        unknown = set(raw) - {"dark_below", "max_frames"}
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        c = cls(**raw)
        if not 0 <= c.dark_below <= 255:
            raise ValueError(f"dark_below must be from 0 to 255, not {c.dark_below}")
        if not 1 <= c.max_frames <= 10000:
            raise ValueError(f"max_frames must be from 1 to 10000, not {c.max_frames}")
        return c


SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "dark_below": {"type": "number", "minimum": 0, "maximum": 255, "default": 40},
        "max_frames": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000},
    },
}


def analyse(
    names: list[str],
    read: Callable[[str], bytes],
    times: dict[str, float],
    config: Config,
    tick: Callable[[int, int], None] = lambda done, total: None,
) -> dict:
    """Decodes each frame in order and returns the result document."""
    frames = frame_order(names)
    if not frames:
        raise ValueError(
            f"no PNG frames among the inputs {sorted(names)}: give the frames step "
            'format = "png"'
        )
    if len(frames) > config.max_frames:
        raise ValueError(f"{len(frames)} frames, more than max_frames {config.max_frames}")
    rows = []
    previous = None
    for i, name in enumerate(frames):
        try:
            stats = luma_stats(name, png.decode(read(name)))
        except png.PngError as exc:
            raise ValueError(f"{name}: {exc}") from None
        moved = None if previous is None else round(motion(previous, stats), 4)
        rows.append(
            {
                "artifact": name,
                "time_seconds": times.get(name),
                "width": stats.width,
                "height": stats.height,
                "brightness": round(stats.brightness, 2),
                "motion": moved,
                "dark": stats.brightness < config.dark_below,
            }
        )
        previous = stats
        tick(i + 1, len(frames))
    moves = [r["motion"] for r in rows if r["motion"] is not None]
    bright = [r["brightness"] for r in rows]
    return {
        "frames": len(rows),
        "mean_brightness": round(sum(bright) / len(bright), 2),
        "min_brightness": min(bright),
        "max_brightness": max(bright),
        "mean_motion": round(sum(moves) / len(moves), 4) if moves else 0.0,
        "max_motion": max(moves) if moves else 0.0,
        "dark_frames": [r["artifact"] for r in rows if r["dark"]],
        "per_frame": rows,
    }


def frame_times(doc: dict) -> dict[str, float]:
    """Frame times by artifact name from the frames step's result (shown, else asked)."""
    out = {}
    for f in doc.get("frames", []):
        t = f.get("pts_seconds", f.get("requested_seconds"))
        if "artifact" in f and t is not None:
            out[f["artifact"]] = t
    return out


def to_csv(result: dict) -> str:
    """The per-frame table as CSV."""
    lines = ["artifact,time_seconds,brightness,motion,dark"]
    for r in result["per_frame"]:
        t = "" if r["time_seconds"] is None else r["time_seconds"]
        m = "" if r["motion"] is None else r["motion"]
        lines.append(f"{r['artifact']},{t},{r['brightness']},{m},{int(r['dark'])}")
    return "\n".join(lines) + "\n"
