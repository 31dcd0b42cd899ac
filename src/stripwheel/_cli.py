"""``stripwheel strip|inspect``: parse arguments, call the engine, print one line per error."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional, TextIO

from . import __version__
from ._config import BYTECODE_MODES, INVALIDATION_MODES, STRIP_LEVELS, Config, Layer, pyproject_layer, resolve
from ._engine import Progress, inspect_wheel, process_wheel
from ._errors import ConfigError, StripwheelError
from ._report import render_inspect, render_strip, to_json

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Strip debug info and symbol tables from the native binaries inside wheels.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    strip = commands.add_parser(
        "strip",
        help="rewrite wheels with stripped binaries",
        description=(
            "Rewrite each wheel in place (atomically), or into DIR with -w. Options default to "
            "[tool.stripwheel] of ./pyproject.toml when there is one; flags override it."
        ),
    )
    strip.add_argument("-w", "--wheel-dir", metavar="DIR", type=Path, help="write results into DIR")
    strip.add_argument("--strip", choices=STRIP_LEVELS, help="what to remove (default: all)")
    strip.add_argument("--bytecode", choices=BYTECODE_MODES, help="what to do with bytecode (default: keep)")
    strip.add_argument(
        "--optimize",
        type=int,
        action="append",
        choices=(0, 1, 2),
        metavar="N",
        help="optimisation level to compile (repeatable)",
    )
    strip.add_argument(
        "--invalidation-mode", choices=INVALIDATION_MODES, help="PEP 552 mode of compiled .pyc (default: checked-hash)"
    )
    strip.add_argument(
        "--sourceless", action="store_true", default=None, help="ship .pyc in place of .py (with --bytecode compile)"
    )
    strip.add_argument(
        "--include", action="append", metavar="GLOB", help="members that are candidates (repeatable; default: **)"
    )
    strip.add_argument("--exclude", action="append", metavar="GLOB", help="members never touched (repeatable)")
    strip.add_argument(
        "--verify", action="store_true", default=None, help="re-read rewritten binaries with LIEF (stripwheel[verify])"
    )
    strip.add_argument("--dry-run", action="store_true", help="write nothing; report what would change")
    strip.add_argument("--json", action="store_true", help="print a machine-readable report on stdout")
    strip.add_argument("wheels", nargs="+", metavar="WHEEL", type=Path)

    inspect = commands.add_parser("inspect", help="list the binaries and bytecode in wheels")
    inspect.add_argument("--json", action="store_true", help="print a machine-readable report on stdout")
    inspect.add_argument("wheels", nargs="+", metavar="WHEEL", type=Path)
    return parser


def _cli_layer(args: argparse.Namespace) -> Layer:
    keys = ("strip", "bytecode", "optimize", "invalidation_mode", "sourceless", "include", "exclude", "verify")
    values = {k.replace("_", "-"): getattr(args, k) for k in keys if getattr(args, k) is not None}
    return Layer("command line", values)


def _config(args: argparse.Namespace) -> Config:
    return resolve(pyproject_layer(Path("pyproject.toml")), _cli_layer(args))


def _progress(stream: TextIO, label: str) -> Optional[Progress]:
    """A percentage on a terminal, shown only once a wheel takes more than a moment."""
    if not stream.isatty():
        return None
    started = time.monotonic()
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if now - started < 1.0 or now - last[0] < 0.2:
            return
        last[0] = now
        percent = 100 * done // total if total else 100
        stream.write(f"\rstripwheel: {label}: {percent}%\x1b[K")
        stream.flush()

    return show


def main(argv: Optional[Sequence[str]] = None, prog: str = "stripwheel") -> int:
    """Run the command line; returns the exit status (0 ok, 1 a wheel failed, 2 usage)."""
    parser = _parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    err = sys.stderr
    try:
        config = _config(args) if args.command == "strip" else None
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{prog}: error: {problem}", file=err)
        return EXIT_USAGE
    reports: list[Any] = []
    failures: list[dict[str, str]] = []
    for wheel in args.wheels:
        try:
            if args.command == "inspect":
                result: Any = inspect_wheel(wheel)
                if not args.json:
                    print(render_inspect(result))
            else:
                assert config is not None
                progress = _progress(err, wheel.name)
                result = process_wheel(
                    wheel, config, output_dir=args.wheel_dir, dry_run=args.dry_run, progress=progress
                )
                if progress is not None:
                    err.write("\r\x1b[K")
                print(render_strip(result), file=err)
            reports.append(result)
        except StripwheelError as exc:
            failures.append({"wheel": str(wheel), "error": str(exc)})
            print(f"{prog}: error: {exc}", file=err)
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=err)
            return 130
        except Exception as exc:  # a bug: still one line, never a traceback
            if os.environ.get("STRIPWHEEL_DEBUG"):
                raise
            failures.append({"wheel": str(wheel), "error": f"internal error: {exc!r}"})
            print(f"{prog}: error: {wheel.name}: internal error: {exc!r}", file=err)
    if args.json:
        print(to_json(args.command, reports, failures))
    return EXIT_FAILED if failures else EXIT_OK
