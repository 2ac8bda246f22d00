"""Native tests of the SDK's host-free parts: ``python3 -m unittest discover -s tests``
from sdk/python. The host-facing parts (Context, Blob, ArtifactWriter, the glue) run in
the component: host/runtime/tests/languages.rs and tests/it/languages.rs exercise them."""

import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from framepipe_plugin import Descriptor, ErrorKind, Port, StepError  # noqa: E402
from framepipe_plugin import build  # noqa: E402
from framepipe_plugin.errors import from_io_error  # noqa: E402

REPO = Path(__file__).resolve().parents[3]


class ErrorTests(unittest.TestCase):
    def test_codes_become_prefixes_and_must_be_screaming_snake(self):
        e = StepError.invalid_input("no frames", code="NO_FRAMES")
        self.assertEqual(e.kind, ErrorKind.INVALID_INPUT)
        self.assertEqual(e.wire_message(), "NO_FRAMES: no frames")
        self.assertEqual(StepError.unavailable("later").wire_message(), "later")
        with self.assertRaises(ValueError):
            StepError.internal("x", code="not-snake")
        with self.assertRaises(TypeError):
            StepError("internal", "x")  # a kind, not a string

    def test_io_errors_map_to_kinds(self):
        class IoError_LimitExceeded:  # the shape componentize-py generates
            def __init__(self, value):
                self.value = value

        class IoError_Failed(IoError_LimitExceeded):
            pass

        e = from_io_error(IoError_LimitExceeded("read of 9 MiB"), "clip")
        self.assertEqual((e.kind, e.message), (ErrorKind.INVALID_INPUT, "clip: limit exceeded: read of 9 MiB"))
        self.assertEqual(from_io_error(IoError_Failed("disk"), "a").kind, ErrorKind.UNAVAILABLE)

    def test_kinds_match_the_wit(self):
        wit = (REPO / "wit" / "plugin.wit").read_text()
        for kind in ErrorKind:
            self.assertIn(f"{kind.value},", wit)


class DescriptorTests(unittest.TestCase):
    def test_schema_as_dict_or_text(self):
        d = Descriptor("x", "0.1.0", "d", config_schema={"type": "object"}, inputs=[Port("in", ["*/*"])])
        self.assertEqual(json.loads(d.schema_text()), {"type": "object"})
        self.assertEqual(Descriptor("x", "0.1.0", "d").schema_text(), "")


class PackagingTests(unittest.TestCase):
    def test_the_shipped_wit_is_the_repository_wit(self):
        shipped = (build.wit_dir() / "plugin.wit").read_text()
        self.assertEqual(shipped, (REPO / "wit" / "plugin.wit").read_text(),
                         "copy wit/plugin.wit to sdk/python/src/framepipe_plugin/wit/")

    def test_build_command_names_the_world_app_and_paths(self):
        cmd = build.componentize_command("app", Path("out.wasm"), [Path("/work/app")])
        self.assertEqual(cmd[cmd.index("-w") + 1], "plugin")
        self.assertIn("componentize", cmd)
        self.assertEqual(cmd[cmd.index("componentize") + 1], "app")
        self.assertIn("/work/app", cmd)


if __name__ == "__main__":
    unittest.main()
