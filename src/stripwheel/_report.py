"""What happened to a wheel, as data first: rendered as text for people, JSON for machines."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

#: Bumped whenever a field changes meaning or disappears.
JSON_VERSION = 1


@dataclass
class BinaryReport:
    """One binary member: what was done to it and what it weighs, installed and compressed."""

    member: str
    format: str
    arch: str
    action: str  # "stripped" or "unchanged"
    reason: Optional[str]
    size_before: int
    size_after: int
    compressed_before: int
    compressed_after: int
    removed: list[str] = field(default_factory=list)
    verified: bool = False  # stripped, and LIEF found the same dynamic interface (``verify``)


@dataclass
class WheelReport:
    """The outcome for one wheel."""

    wheel: str
    output: Optional[str]
    dry_run: bool
    changed: bool = False
    binaries: list[BinaryReport] = field(default_factory=list)
    bytecode_added: list[str] = field(default_factory=list)
    bytecode_removed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    wheel_size_before: int = 0
    wheel_size_after: int = 0
    installed_size_before: int = 0
    installed_size_after: int = 0
    seconds: float = 0.0


@dataclass
class BinaryView:
    """One binary as ``inspect`` sees it."""

    member: str
    format: str
    arch: str
    kind: str
    size: int
    compressed_size: int
    strippable: dict[str, int]
    signature: str
    note: Optional[str]
    slices: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class InspectReport:
    """``inspect`` output for one wheel."""

    wheel: str
    tags: list[str]
    wheel_size: int
    installed_size: int
    binaries: list[BinaryView] = field(default_factory=list)
    python_files: int = 0
    bytecode_files: int = 0
    bytecode_tags: list[str] = field(default_factory=list)
    sourceless: bool = False


def to_json(kind: str, reports: list[Any], failures: list[dict[str, str]]) -> str:
    """The versioned machine-readable document printed by ``--json``."""
    return json.dumps(
        {
            "stripwheel": JSON_VERSION,
            "command": kind,
            "wheels": [asdict(r) for r in reports],
            "errors": failures,
        },
        indent=2,
    )


def size(n: int) -> str:
    """A byte count for people: exact below 10 kB, then kB with one decimal, MB with two."""
    if abs(n) < 10_000:
        return f"{n:,} B"
    if abs(n) < 1_000_000:
        return f"{n / 1e3:,.1f} kB"
    return f"{n / 1e6:,.2f} MB"


def _change(before: int, after: int) -> str:
    if before == 0:
        return f"{size(before)} -> {size(after)}"
    return f"{size(before)} -> {size(after)} ({(after - before) / before * 100:+.1f}%)"


def render_strip(report: WheelReport) -> str:
    """The human summary that goes to stderr."""
    title = "would rewrite" if report.dry_run else "rewrote" if report.changed else "unchanged"
    lines = [
        f"stripwheel: {report.wheel}: {title}" + (f" -> {report.output}" if report.output and report.changed else "")
    ]
    width = max((len(b.member) for b in report.binaries), default=0)
    for b in report.binaries:
        what = f"{b.format} {b.arch}".strip()
        if b.action == "stripped":
            lines.append(f"  stripped   {b.member:<{width}}  {what}: {_change(b.size_before, b.size_after)}")
        else:
            lines.append(f"  unchanged  {b.member:<{width}}  {what}: {b.reason}")
    stripped = [b for b in report.binaries if b.action == "stripped"]
    if report.binaries:
        before = sum(b.size_before for b in stripped)
        after = sum(b.size_after for b in stripped)
        verified = sum(b.verified for b in stripped)
        lines.append(
            f"  binaries: {len(stripped)} of {len(report.binaries)} stripped"
            + (f", {_change(before, after)}" if stripped else "")
            + (f"; {verified} verified with LIEF" if verified else "")
        )
    if report.bytecode_added or report.bytecode_removed:
        lines.append(f"  bytecode: {len(report.bytecode_added)} added, {len(report.bytecode_removed)} removed")
    lines.append(f"  installed size: {_change(report.installed_size_before, report.installed_size_after)}")
    lines.append(f"  wheel size: {_change(report.wheel_size_before, report.wheel_size_after)}")
    lines.append(f"  time: {report.seconds:.2f} s")
    lines.extend(f"  warning: {w}" for w in report.warnings)
    return "\n".join(lines)


def render_inspect(report: InspectReport) -> str:
    """The human listing printed by ``inspect``."""
    lines = [
        f"{report.wheel}  [{', '.join(report.tags)}]",
        f"  wheel size {size(report.wheel_size)}, installed size {size(report.installed_size)}",
    ]
    for b in report.binaries:
        strip_all = b.strippable.get("all", 0)
        strip_debug = b.strippable.get("debug", 0)
        line = (
            f"  {b.member}: {b.format} {b.arch} {b.kind}, {size(b.size)};"
            f" strippable: all {size(strip_all)}, debug {size(strip_debug)}"
        )
        if b.format == "Mach-O" or b.signature != "none":
            line += f"; signature: {b.signature}"
        if b.note:
            line += f" ({b.note})"
        lines.append(line)
        for s in b.slices:
            lines.append(
                f"    slice {s['arch']}: signature {s['signature']};"
                f" strippable: all {size(s['strippable'].get('all', 0))},"
                f" debug {size(s['strippable'].get('debug', 0))}" + (f" ({s['note']})" if s.get("note") else "")
            )
    if not report.binaries:
        lines.append("  no native binaries")
    state = "sourceless" if report.sourceless else f"{report.bytecode_files} .pyc"
    tags = f" ({', '.join(report.bytecode_tags)})" if report.bytecode_tags else ""
    lines.append(f"  python: {report.python_files} .py, bytecode: {state}{tags}")
    return "\n".join(lines)
