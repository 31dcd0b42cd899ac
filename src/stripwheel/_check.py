"""The release gate (``stripwheel check``): what every binary of wheels, trees and bare files
would still lose at a level, and whether that, and each wheel's size, stays within budget."""

from __future__ import annotations

import json
import re
import stat
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Optional

from ._errors import StripwheelError
from ._report import JSON_VERSION, BinaryView

_SIZE = re.compile(r"^\s*(\d+)(?:\.(\d+))?\s*([kmg]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
#: The largest size taken: what a signed 64-bit file size holds.
LARGEST_SIZE = (1 << 63) - 1


def parse_size(text: str) -> int:
    """Bytes in ``"4096"``, ``"64k"``, ``"1M"``, ``"1.5G"`` (binary units; ``KiB``/``MB`` spellings
    too), computed exactly; ValueError for anything but a whole number of bytes up to 2**63-1."""
    match = _SIZE.match(text)
    if match is None:
        stripped = text.strip()
        if not stripped:
            raise ValueError(f"{_shown(text)} is not a size: it is empty")
        if stripped.startswith("-") and _SIZE.match(stripped[1:]):
            raise ValueError(f"{_shown(text)} is not a size: it is negative")
        raise ValueError(f"{_shown(text)} is not a size (bytes, or a number with k, M or G)")
    whole, fraction = match.group(1).lstrip("0") or "0", (match.group(2) or "").rstrip("0") or "0"
    # Lengths first: int() refuses a string of thousands of digits. A whole part of more digits
    # than the largest size is over it; a fraction (its trailing zeros gone) of more than 30
    # digits is never a whole number of bytes, 2**30 being the largest unit.
    if len(whole) > len(str(LARGEST_SIZE)):
        raise ValueError(f"{_shown(text)} is not a size: more than {LARGEST_SIZE} bytes")
    if len(fraction) > 30:
        raise ValueError(f"{_shown(text)} is not a size: not a whole number of bytes")
    size = Fraction(f"{whole}.{fraction}") * _UNITS[match.group(3).lower()]
    if size.denominator != 1:
        raise ValueError(f"{_shown(text)} is not a size: not a whole number of bytes")
    if size > LARGEST_SIZE:
        raise ValueError(f"{_shown(text)} is not a size: more than {LARGEST_SIZE} bytes")
    return int(size)


def _shown(text: str) -> str:
    """The value as a message quotes it: a very long one cut short, to keep the line readable."""
    return repr(text) if len(text) <= 40 else f"{text[:20] + '...'!r} ({len(text)} characters)"


@dataclass
class Finding:
    """One binary as the gate sees it."""

    path: str
    member: str
    format: str
    arch: str
    size: int
    strippable: int
    #: why stripping would leave it alone (signed, malformed, a thin archive), when it would
    refused: Optional[str] = None
    over: bool = False


@dataclass
class CheckReport:
    """The gate's verdict over every path given."""

    level: str
    max_strippable: int
    max_wheel_size: Optional[int]
    strict: bool
    findings: list[Finding] = field(default_factory=list)
    #: (wheel, its file size) for every wheel over ``max_wheel_size``
    oversized: list[tuple[str, int]] = field(default_factory=list)
    #: ``{"path": a path given, "error": one line}`` for each path, or part of a directory,
    #: that could not be read: the gate cannot vouch for what it did not see
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.over or (self.strict and f.refused)]

    @property
    def passed(self) -> bool:
        return not self.failures and not self.oversized and not self.errors


def gather(report: CheckReport, path: Path, views: list[BinaryView]) -> None:
    """Add one wheel's, tree's or file's binaries to the report (a debug file is not one)."""
    from .binaries import DEBUG_FILE_KIND

    for view in views:
        if view.kind == DEBUG_FILE_KIND:
            continue  # kept apart on purpose, never stripped: neither strippable nor refused
        strippable = view.strippable.get(report.level, 0)
        refused = view.note if view.note and not strippable else None
        report.findings.append(
            Finding(
                str(path),
                view.member,
                view.format,
                view.arch,
                view.size,
                strippable,
                refused,
                over=strippable > report.max_strippable,
            )
        )


def check_path(report: CheckReport, path: Path) -> list[str]:
    """Inspect one wheel, directory or bare binary into ``report``; returns one line for each
    part of a directory that could not be read (what could is in the report all the same).
    StripwheelError when the path cannot be looked at at all."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise StripwheelError(f"{path}: no such file or directory") from None
    except OSError as exc:  # a directory above it that may not be searched, a symlink loop
        raise StripwheelError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        from .tree.executor import inspect_tree

        listing = inspect_tree(path)
        gather(report, path, listing.binaries)
        return list(listing.errors)
    if path.suffix == ".whl":
        from .wheel.inspect import inspect_wheel

        gather(report, path, inspect_wheel(path).binaries)
        if report.max_wheel_size is not None and st.st_size > report.max_wheel_size:
            report.oversized.append((str(path), st.st_size))
    else:
        from .tree.executor import inspect_file

        gather(report, path, inspect_file(path).binaries)
    return []


def render_check(report: CheckReport) -> str:
    """The table for people: binaries with something left to strip, worst first; refusals;
    oversized wheels; the verdict."""
    from ._report import size

    lines = []
    left = sorted((f for f in report.findings if f.strippable), key=lambda f: (-f.strippable, f.path, f.member))
    for f in left:
        mark = "FAIL" if f.over else "ok  "
        lines.append(f"  {mark} {size(f.strippable):>10} strippable  {_where(f)} ({f.format} {f.arch})".rstrip())
    for f in report.findings:
        if f.refused:
            mark = "FAIL" if report.strict else "note"
            lines.append(f"  {mark} {'refused':>10}             {_where(f)}: {f.refused}")
    for wheel, wheel_size in report.oversized:
        limit = size(report.max_wheel_size or 0)
        lines.append(f"  FAIL {size(wheel_size):>10} wheel file  {wheel}: over --max-wheel-size {limit}")
    verdict = "passed" if report.passed else "FAILED"
    counts = [_count(len(report.errors), "error", "errors")] if report.errors else []
    counts.append(_count(len(report.findings), "binary", "binaries"))
    total = sum(f.strippable for f in report.findings)
    lines.append(
        f"stripwheel check: {verdict}: {', '.join(counts)}, {size(total)} strippable at level "
        f"{report.level}, {len([f for f in report.findings if f.over])} over {size(report.max_strippable)}"
    )
    return "\n".join(lines)


def _count(n: int, one: str, many: str) -> str:
    """``1 error``, ``2 errors``."""
    return f"{n} {one if n == 1 else many}"


def check_json(report: CheckReport) -> str:
    """The machine-readable verdict printed by ``check --json``."""
    document = {"stripwheel": JSON_VERSION, "command": "check", "passed": report.passed}
    document.update(asdict(report))
    document["oversized"] = [{"wheel": wheel, "size": size} for wheel, size in report.oversized]
    return json.dumps(document, indent=2)


def _where(finding: Finding) -> str:
    """``wheel: member``, ``tree: path``, or a bare file's own path."""
    if Path(finding.path).name == finding.member and not finding.path.endswith(".whl"):
        return finding.path
    return f"{finding.path}: {finding.member}"
