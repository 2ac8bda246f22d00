"""``framepipe-py build APP -o plugin.wasm``: componentize-py with the SDK's WIT.

The SDK ships the ``framepipe:plugin`` WIT package it was written against, so a plugin
author needs no copy of it; the app's directory and this package's are put on the
component's Python path. componentize-py snapshots the interpreter after importing the
app (Wizer), so module-level work runs once at build time, not on each run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

WORLD = "plugin"


def wit_dir() -> Path:
    """The directory holding the WIT package the SDK targets."""
    return Path(__file__).resolve().parent / "wit"


def componentize_command(app: str, out: Path, paths: list[Path]) -> list[str]:
    """The componentize-py command line for ``app`` (a module name)."""
    sdk_parent = Path(__file__).resolve().parent.parent
    cmd = [
        sys.executable,
        "-c",
        "import sys; from componentize_py import script; sys.exit(script())",
        "-d",
        str(wit_dir()),
        "-w",
        WORLD,
        "componentize",
        app,
        "-o",
        str(out),
    ]
    for p in [*paths, sdk_parent]:
        cmd += ["-p", str(p)]
    return cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="framepipe-py", description="Build a framepipe plugin from Python."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build APP (a module, e.g. `app`) into a component")
    build.add_argument("app", help="the module defining `Step = export(...)`, e.g. app")
    build.add_argument("-o", "--output", default="plugin.wasm", type=Path)
    build.add_argument(
        "-p",
        "--python-path",
        action="append",
        type=Path,
        default=[],
        help="directories searched for the app and its modules (default: .)",
    )
    sub.add_parser("wit", help="print the directory of the WIT package the SDK targets")
    args = parser.parse_args(argv)
    if args.command == "wit":
        print(wit_dir())
        return 0
    app = args.app[:-3] if args.app.endswith(".py") else args.app
    paths = args.python_path or [Path(".")]
    cmd = componentize_command(app, args.output, [p.resolve() for p in paths])
    env = dict(os.environ)
    proc = subprocess.run(cmd, env=env)
    if proc.returncode != 0:
        print(f"framepipe-py: componentize-py failed (exit {proc.returncode})", file=sys.stderr)
        return proc.returncode
    size = args.output.stat().st_size
    print(f"built {args.output} ({size / 1048576:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
