"""The release gate (``stripwheel check``): what every binary of wheels, trees and bare files
would still lose at a level, and whether that, and each wheel's size, stays within budget."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from ._errors import StripwheelError
from ._report import JSON_VERSION, BinaryView

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(text: str) -> int:
    """Bytes in ``"4096"``, ``"64k"``, ``"1M"``, ``"1.5G"`` (binary units; ``KiB``/``MB`` spellings
    too); ValueError otherwise."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size (bytes, or a number with k, M or G)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


@dataclass
class Finding:
    """One binary as the gate sees it."""

    path: str
    member: str
    format: str
    arch: str
    size: int
    strippable: int
    #: why stripping would leave it alone (signed, malformed, archive), when it would
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

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.over or (self.strict and f.refused)]

    @property
    def passed(self) -> bool:
        return not self.failures and not self.oversized


def gather(report: CheckReport, path: Path, views: list[BinaryView]) -> None:
    """Add one wheel's, tree's or file's binaries to the report."""
    for view in views:
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


def check_path(report: CheckReport, path: Path) -> None:
    """Inspect one wheel, directory or bare binary into ``report``."""
    if path.is_dir():
        from .tree.executor import inspect_tree

        listing = inspect_tree(path)
        if listing.errors:
            raise StripwheelError(listing.errors[0])
        gather(report, path, listing.binaries)
    elif not path.exists():
        raise StripwheelError(f"{path}: no such file or directory")
    elif path.suffix == ".whl":
        from .wheel.inspect import inspect_wheel

        gather(report, path, inspect_wheel(path).binaries)
        size = path.stat().st_size
        if report.max_wheel_size is not None and size > report.max_wheel_size:
            report.oversized.append((str(path), size))
    else:
        from .tree.bare import inspect_file

        gather(report, path, inspect_file(path).binaries)


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
    total = sum(f.strippable for f in report.findings)
    lines.append(
        f"stripwheel check: {verdict}: {len(report.findings)} binaries, {size(total)} strippable at level "
        f"{report.level}, {len([f for f in report.findings if f.over])} over {size(report.max_strippable)}"
    )
    return "\n".join(lines)


def check_json(report: CheckReport, errors: list[dict[str, str]]) -> str:
    """The machine-readable verdict printed by ``check --json``."""
    document = {"stripwheel": JSON_VERSION, "command": "check", "passed": report.passed and not errors}
    document.update(asdict(report))
    document["oversized"] = [{"wheel": wheel, "size": size} for wheel, size in report.oversized]
    document["errors"] = errors
    return json.dumps(document, indent=2)


def _where(finding: Finding) -> str:
    """``wheel: member``, ``tree: path``, or a bare file's own path."""
    if Path(finding.path).name == finding.member and not finding.path.endswith(".whl"):
        return finding.path
    return f"{finding.path}: {finding.member}"
