"""``stripwheel strip|inspect|check``: parse arguments, call the engine, print one line per error."""

from __future__ import annotations

import argparse
import contextlib
import signal
import stat
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, TextIO, TypeVar

from . import __version__
from ._config import OPTIONS, STRIP_LEVELS, Config, Layer, Option, pyproject_layer, resolve
from ._errors import ConfigError, StripwheelError, error_lines, error_messages
from ._report import (
    InspectReport,
    Report,
    TreeInspectReport,
    TreeReport,
    WheelReport,
    render_inspect,
    render_strip,
    render_tree_inspect,
    render_tree_strip,
    to_json,
)

if TYPE_CHECKING:
    from ._pool import Progress

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
    strip.add_argument("-o", "--output", metavar="OUT", type=Path, help="a bare binary: write it to OUT (one input)")
    for option in OPTIONS:
        if option.cli:
            _add_option(strip, option)
    strip.add_argument("--dry-run", action="store_true", help="write nothing; report what would change")
    strip.add_argument("--json", action="store_true", help="print a machine-readable report on stdout")
    strip.add_argument("paths", nargs="+", metavar="PATH", type=Path, help="wheel files, directories, binaries")

    inspect = commands.add_parser("inspect", help="list the binaries and bytecode in wheels")
    inspect.add_argument("--json", action="store_true", help="print a machine-readable report on stdout")
    inspect.add_argument("paths", nargs="+", metavar="PATH", type=Path, help="wheel files, directories, binaries")

    check = commands.add_parser(
        "check",
        help="fail when binaries still hold strippable bytes (a release gate)",
        description="Exit 0 when every binary's strippable bytes are within --max-strippable, 1 when not.",
    )
    levels = [level for level in STRIP_LEVELS if level != "none"]
    check.add_argument("--strip", choices=levels, default="all", help="the level to check (default: all)")
    check.add_argument(
        "--max-strippable", metavar="SIZE", type=_size, default=0, help="bytes a binary may keep (64k, 1M; default 0)"
    )
    check.add_argument("--max-wheel-size", metavar="SIZE", type=_size, help="fail any wheel file larger than SIZE")
    check.add_argument("--strict", action="store_true", help="binaries stripping would refuse fail too")
    check.add_argument("--json", action="store_true", help="print a machine-readable report on stdout")
    check.add_argument("paths", nargs="+", metavar="PATH", type=Path, help="wheel files, directories, binaries")
    return parser


def _size(text: str) -> int:
    from ._check import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    """A flag spelled like the TOML key; its help is the option's documentation."""
    flag = f"--{option.key}"
    text = option.doc.replace("`", "").replace("%", "%%")
    if option.kind == "bool":
        parser.add_argument(flag, action="store_true", default=None, help=text)
    elif option.kind == "choice":
        parser.add_argument(flag, choices=option.choices, help=f"{text} (default: {option.default})")
    elif option.kind == "levels":
        parser.add_argument(
            flag, type=int, action="append", choices=option.choices, metavar="N", help=f"{text} (repeatable)"
        )
    elif option.kind == "dir":
        parser.add_argument(flag, metavar="DIR", help=text)
    elif option.kind == "globs":
        parser.add_argument(flag, action="append", metavar="GLOB", help=f"{text} (repeatable)")
    else:
        parser.add_argument(flag, metavar=option.key.upper(), help=text)


def _cli_layer(args: argparse.Namespace) -> Layer:
    values = {o.key: getattr(args, o.attr) for o in OPTIONS if o.cli and getattr(args, o.attr) is not None}
    return Layer("command line", values)


def _config(args: argparse.Namespace) -> Config:
    """``[tool.stripwheel]`` of ./pyproject.toml, flags on top; paths relative to here."""
    return resolve(pyproject_layer(Path("pyproject.toml")), _cli_layer(args)).anchored(Path.cwd())


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


_R = TypeVar("_R")


def _with_progress(label: str, work: Callable[[Optional[Progress]], _R]) -> _R:
    """Run ``work`` with a progress line on stderr (a terminal only), cleared afterwards."""
    progress = _progress(sys.stderr, label)
    result = work(progress)
    if progress is not None:
        sys.stderr.write("\r\x1b[K")
    return result


def main(argv: Optional[Sequence[str]] = None, prog: str = "stripwheel") -> int:
    """Run the command line; returns the exit status (0 ok, 1 a wheel failed, 2 usage)."""
    parser = _parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    err = sys.stderr
    try:
        config = _config(args) if args.command == "strip" else Config()
    except ConfigError as exc:
        for line in error_lines(exc, prog):
            print(line, file=err)
        return EXIT_USAGE
    if args.command == "check":
        return _check(args, prog)
    if args.command == "strip" and args.output is not None and len(args.paths) != 1:
        print(f"{prog}: error: -o/--output takes one input, not {len(args.paths)}", file=err)
        return EXIT_USAGE
    reports: list[Report] = []
    failures: list[dict[str, str]] = []
    for path in args.paths:
        try:
            with _terminate_as_interrupt():
                report = _one(args, config, path)
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=err)
            return 130
        except Exception as exc:  # noqa: BLE001 - the one error boundary: one line each, never a traceback
            messages = error_messages(exc, where=path.name)
        else:
            reports.append(report)
            # a tree with files that could not be done
            messages = report.errors if isinstance(report, (TreeReport, TreeInspectReport)) else []
        for message in messages:
            print(f"{prog}: error: {message}", file=err)
        failures.extend(_failure(path, message) for message in messages)
    if args.json:
        print(to_json(args.command, reports, failures))
    return EXIT_FAILED if failures else EXIT_OK


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (``docker stop``, a CI timeout) ends a run the way Ctrl-C does: what was done is
    recorded before the process goes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _failure(path: Path, message: str) -> dict[str, str]:
    """A JSON error entry; ``wheel`` is kept for wheels, as JSON version 1 has it."""
    return {"path": str(path), "error": message} | ({} if path.is_dir() else {"wheel": str(path)})


def _one(args: argparse.Namespace, config: Config, path: Path) -> Report:
    """Inspect or strip one wheel or directory, printing its text report; returns the report."""
    # The engine is imported only once there is work: ``--help`` and usage errors stay fast.
    try:
        st = path.stat()
    except FileNotFoundError:
        raise StripwheelError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise StripwheelError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        return _tree(args, config, path)
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block the first read forever
        raise StripwheelError(f"{path}: not a regular file, a directory or a wheel")
    if path.suffix != ".whl":
        return _file(args, config, path)
    if args.command == "strip" and args.output is not None:
        raise StripwheelError(f"{path}: -o/--output is for a bare binary; a wheel goes to -w DIR")
    if args.command == "inspect":
        from .wheel.inspect import inspect_wheel

        listing: InspectReport = inspect_wheel(path)
        if not args.json:
            print(render_inspect(listing))
        return listing
    from .wheel.executor import process_wheel

    result: WheelReport = _with_progress(
        path.name,
        lambda progress: process_wheel(
            path, config, output_dir=args.wheel_dir, dry_run=args.dry_run, progress=progress
        ),
    )
    print(render_strip(result), file=sys.stderr)
    return result


def _file(args: argparse.Namespace, config: Config, path: Path) -> Report:
    """A bare binary: stripped in place or into -o OUT, or inspected."""
    from .tree.executor import inspect_file, process_file

    if args.command == "inspect":
        listing = inspect_file(path)
        if not args.json:
            print(render_tree_inspect(listing))
        return listing
    if args.wheel_dir is not None:
        raise StripwheelError(f"{path}: -w/--wheel-dir is for wheels; a binary is stripped in place or to -o OUT")
    report = process_file(path, config, output=args.output, dry_run=args.dry_run)
    if report.binaries:  # the one binary failed: its error line says it all
        print(render_tree_strip(report), file=sys.stderr)
    return report


def _check(args: argparse.Namespace, prog: str) -> int:
    """``check``: gather every path, print the table (and JSON), exit 0 or 1. An error (a path,
    or a part of a directory, that could not be read) fails the gate: one line each."""
    from ._check import CheckReport, check_json, check_path, render_check

    report = CheckReport(args.strip, args.max_strippable, args.max_wheel_size, args.strict)
    for path in args.paths:
        try:
            lines = check_path(report, path)
        except StripwheelError as exc:
            lines = error_messages(exc)
        for line in lines:
            report.errors.append({"path": str(path), "error": line})
            print(f"{prog}: error: {line}", file=sys.stderr)
    print(render_check(report), file=sys.stderr)
    if args.json:
        print(check_json(report))
    return EXIT_OK if report.passed else EXIT_FAILED


def _tree(args: argparse.Namespace, config: Config, path: Path) -> Report:
    """A directory: an installed tree, stripped in place or inspected."""
    from .tree.executor import inspect_tree, process_tree

    if args.command == "inspect":
        listing = inspect_tree(path)
        if not args.json:
            print(render_tree_inspect(listing))
        return listing
    if args.wheel_dir is not None or args.output is not None:
        raise StripwheelError(f"{path}: -w and -o are for wheels and binaries; a directory is stripped in place")
    report = _with_progress(
        path.name or str(path), lambda progress: process_tree(path, config, dry_run=args.dry_run, progress=progress)
    )
    print(render_tree_strip(report), file=sys.stderr)
    return report
