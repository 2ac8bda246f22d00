"""Native tests of the analysis (no host needed): ``python3 -m unittest -v`` here.

The decoder is checked against ffmpeg's decoding of real PNG files and against pictures
encoded here with every PNG filter; the statistics against pictures whose answer is
known by construction.
"""

import os
import shutil
import subprocess
import unittest
from pathlib import Path

from framestats import png, stats

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "generated"


def solid(w, h, rgb):
    return bytes(rgb) * (w * h)


class PngTests(unittest.TestCase):
    def test_every_filter_round_trips(self):
        w, h = 23, 11
        data = bytes((x * 7 + y * 13 + c * 50) & 0xFF for y in range(h) for x in range(w) for c in range(3))
        for filters in [(0,), (1,), (2,), (3,), (4,), (0, 1, 2, 3, 4)]:
            pic = png.decode(png.encode_rgb(w, h, data, filters))
            self.assertEqual((pic.width, pic.height), (w, h))
            self.assertEqual(bytes(pic.data), data, f"filters {filters}")

    def test_refuses_what_it_cannot_read(self):
        with self.assertRaisesRegex(png.PngError, "signature"):
            png.decode(b"GIF89a...")
        good = png.encode_rgb(4, 4, solid(4, 4, (1, 2, 3)))
        with self.assertRaisesRegex(png.PngError, "cut short|IEND"):
            png.decode(good[:-20])

    def test_matches_ffmpeg_on_real_files(self):
        if shutil.which("ffmpeg") is None:
            self.fail("ffmpeg is needed for this test (apt-get install ffmpeg; .ci/run does)")
        names = ["astronaut.png", "coffee.png", "vtest-300.png"]
        missing = [n for n in names if not (FIXTURES / n).exists()]
        if missing:
            self.fail(f"fixtures {missing} missing: run bash tests/fixtures/make-fixtures.sh")
        for name in names:
            path = FIXTURES / name
            pic = png.decode(path.read_bytes())
            raw = subprocess.run(
                ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                check=True, capture_output=True,
            ).stdout
            self.assertEqual(len(raw), pic.width * pic.height * 3, name)
            self.assertEqual(bytes(pic.data), raw, name)


class StatsTests(unittest.TestCase):
    def test_brightness_of_solid_pictures(self):
        black = stats.luma_stats("a", png.Rgb(32, 18, bytearray(solid(32, 18, (0, 0, 0)))))
        white = stats.luma_stats("b", png.Rgb(32, 18, bytearray(solid(32, 18, (255, 255, 255)))))
        self.assertAlmostEqual(black.brightness, 0.0)
        self.assertAlmostEqual(white.brightness, 255.0)
        self.assertAlmostEqual(stats.motion(black, white), 1.0)
        self.assertAlmostEqual(stats.motion(white, white), 0.0)

    def test_motion_sees_a_moving_square(self):
        w, h = 64, 36

        def square_at(x0):
            data = bytearray(solid(w, h, (20, 20, 20)))
            for y in range(10, 20):
                for x in range(x0, x0 + 10):
                    data[(y * w + x) * 3 : (y * w + x) * 3 + 3] = b"\xff\xff\xff"
            return png.encode_rgb(w, h, bytes(data), (4,))

        frames = {"frame-0.png": square_at(0), "frame-1.png": square_at(0), "frame-2.png": square_at(40)}
        result = stats.analyse(list(frames) + ["frames.json"], frames.__getitem__, {"frame-2.png": 2.0}, stats.Config())
        motions = [r["motion"] for r in result["per_frame"]]
        self.assertIsNone(motions[0])
        self.assertEqual(motions[1], 0.0)
        self.assertGreater(motions[2], 0.02)
        self.assertEqual(result["per_frame"][2]["time_seconds"], 2.0)
        self.assertEqual(result["dark_frames"], ["frame-0.png", "frame-1.png", "frame-2.png"])

    def test_frame_order_is_numeric(self):
        self.assertEqual(
            stats.frame_order(["frame-10.png", "frame-2.png", "x.png", "frames.json", "frame-1.png"]),
            ["frame-1.png", "frame-2.png", "frame-10.png", "x.png"],
        )

    def test_no_png_frames_is_an_error_that_says_what_to_change(self):
        with self.assertRaisesRegex(ValueError, 'format = "png"'):
            stats.analyse(["frame-0.jpg"], lambda n: b"", {}, stats.Config())

    def test_config_is_checked(self):
        with self.assertRaises(ValueError):
            stats.Config.parse({"dark_below": 300})
        with self.assertRaises(ValueError):
            stats.Config.parse({"bogus": 1})


if __name__ == "__main__":
    unittest.main()
