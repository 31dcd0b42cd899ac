"""What happened to a wheel or an installed tree, as data first: rendered as text for people, JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal, Optional, Union

if TYPE_CHECKING:  # the rewriters are not imported for a report (``--help`` stays fast)
    from .binaries import BinaryInfo, Format

#: Bumped whenever a field changes meaning or disappears.
JSON_VERSION = 1

#: What was done to a binary.
Action = Literal["stripped", "unchanged"]


@dataclass(frozen=True)
class DebugFields:
    """What a stripped binary kept of its debug information, as its report row says it."""

    #: ``split-debug``: the debug file written for it, and its size
    file: Optional[str] = None
    file_size: Optional[int] = None
    #: ``mini-debuginfo``: bytes of the ``.gnu_debugdata`` section it got
    mini_debuginfo: int = 0


@dataclass
class BinaryReport:
    """One binary member: what was done to it and what it weighs, installed and compressed.
    Built by :meth:`stripped` or :meth:`unchanged`."""

    member: str
    format: Format
    arch: str
    action: Action
    #: why it was left as it is (``unchanged`` only)
    reason: Optional[str]
    size_before: int
    size_after: int
    #: stored sizes inside the wheel (None for a file of an installed tree)
    compressed_before: Optional[int]
    compressed_after: Optional[int]
    removed: list[str] = field(default_factory=list)
    verified: bool = False  # stripped, and LIEF found the same dynamic interface (``verify``)
    #: unchanged because there was nothing to strip (already stripped), not refused
    clean: bool = False
    #: ``split-debug``: the debug file written for it, and its size
    debug_file: Optional[str] = None
    debug_file_size: Optional[int] = None
    #: ``mini-debuginfo``: bytes of the ``.gnu_debugdata`` section it got
    mini_debuginfo: int = 0

    @classmethod
    def stripped(
        cls,
        member: str,
        *,
        format: Format,
        arch: str,
        size_before: int,
        size_after: int,
        compressed_before: Optional[int] = None,
        compressed_after: Optional[int] = None,
        removed: Sequence[str] = (),
        verified: bool = False,
        debug: Optional[DebugFields] = None,
    ) -> BinaryReport:
        """A binary that was stripped (``compressed_*``: its stored sizes inside a wheel)."""
        debug = debug or DebugFields()
        return cls(
            member=member,
            format=format,
            arch=arch,
            action="stripped",
            reason=None,
            size_before=size_before,
            size_after=size_after,
            compressed_before=compressed_before,
            compressed_after=compressed_after,
            removed=list(removed),
            verified=verified,
            debug_file=debug.file,
            debug_file_size=debug.file_size,
            mini_debuginfo=debug.mini_debuginfo,
        )

    @classmethod
    def unchanged(
        cls,
        member: str,
        *,
        format: Format,
        arch: str,
        reason: str,
        size: int,
        compressed: Optional[int] = None,
        clean: bool = False,
    ) -> BinaryReport:
        """A binary left as it is, and why (``compressed``: its stored size inside a wheel;
        ``clean``: there was nothing to strip)."""
        return cls(
            member=member,
            format=format,
            arch=arch,
            action="unchanged",
            reason=reason,
            size_before=size,
            size_after=size,
            compressed_before=compressed,
            compressed_after=compressed,
            clean=clean,
        )


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
    #: ``split-debug-layout = "wheel"``: the companion wheel holding the debug files (named in a
    #: dry run too), and its size once written
    debug_wheel: Optional[str] = None
    debug_wheel_size: Optional[int] = None
    seconds: float = 0.0


@dataclass
class SliceView:
    """One slice of a fat Mach-O file as ``inspect`` sees it."""

    arch: str
    signature: str
    strippable: dict[str, int]
    note: Optional[str]


@dataclass
class BinaryView:
    """One binary as ``inspect`` sees it. Built by :meth:`inspected` or :meth:`malformed`."""

    member: str
    format: Format
    arch: str
    kind: str
    size: int
    #: stored size inside the wheel (None for a file of an installed tree)
    compressed_size: Optional[int]
    strippable: dict[str, int]
    signature: str
    note: Optional[str]
    slices: list[SliceView] = field(default_factory=list)
    #: the installed distribution whose RECORD lists the file (installed trees)
    package: Optional[str] = None

    @classmethod
    def inspected(cls, member: str, info: BinaryInfo, *, size: int, compressed_size: Optional[int]) -> BinaryView:
        """A binary its rewriter read: what ``info`` says of it and of each of its slices."""
        return cls(
            member=member,
            format=info.format,
            arch=info.arch,
            kind=info.kind,
            size=size,
            compressed_size=compressed_size,
            strippable=dict(info.strippable),
            signature=info.signature,
            note=info.note,
            slices=[SliceView(s.arch, s.signature, dict(s.strippable), s.note) for s in info.slices],
        )

    @classmethod
    def malformed(
        cls, member: str, *, format: Format, size: int, compressed_size: Optional[int], reason: str
    ) -> BinaryView:
        """A binary its rewriter found malformed: nothing strippable, and why."""
        return cls(
            member=member,
            format=format,
            arch="",
            kind="",
            size=size,
            compressed_size=compressed_size,
            strippable={"all": 0, "debug": 0},
            signature="none",
            note=f"malformed: {reason}",
        )


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


@dataclass
class TreeReport:
    """The outcome for one installed tree (a venv, a site-packages, a Python installation)."""

    path: str
    dry_run: bool
    #: regular files looked at
    files: int = 0
    binaries: list[BinaryReport] = field(default_factory=list)
    #: ``*.dist-info/RECORD`` files whose rows were brought up to date
    records: list[str] = field(default_factory=list)
    #: one line per file that could not be done (it was left as it was)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: of ``seconds``, the time spent waiting for data to reach the disk
    sync_seconds: float = 0.0


@dataclass
class TreeInspectReport:
    """``inspect`` output for one installed tree: binaries largest-strippable first."""

    path: str
    files: int = 0
    binaries: list[BinaryView] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        return {level: sum(b.strippable.get(level, 0) for b in self.binaries) for level in ("all", "debug")}


#: What one path of a ``strip`` or ``inspect`` run gave.
Report = Union[WheelReport, InspectReport, TreeReport, TreeInspectReport]


def to_json(kind: str, reports: Sequence[Report], failures: list[dict[str, str]]) -> str:
    """The versioned machine-readable document printed by ``--json``: wheels and trees apart."""
    wheels = [asdict(r) for r in reports if isinstance(r, (WheelReport, InspectReport))]
    trees = [
        dict(asdict(r), **({"totals": r.totals} if isinstance(r, TreeInspectReport) else {}))
        for r in reports
        if isinstance(r, (TreeReport, TreeInspectReport))
    ]
    document = {"stripwheel": JSON_VERSION, "command": kind, "wheels": wheels, "trees": trees, "errors": failures}
    return json.dumps(document, indent=2)


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
    lines += _binary_lines(report.binaries)
    if report.binaries:
        lines.append(_binary_summary(report.binaries))
    if report.bytecode_added or report.bytecode_removed:
        lines.append(f"  bytecode: {len(report.bytecode_added)} added, {len(report.bytecode_removed)} removed")
    lines.append(f"  installed size: {_change(report.installed_size_before, report.installed_size_after)}")
    lines.append(f"  wheel size: {_change(report.wheel_size_before, report.wheel_size_after)}")
    if report.debug_wheel:
        written = "would be written" if report.dry_run else size(report.debug_wheel_size or 0)
        lines.append(f"  debug wheel: {report.debug_wheel} ({written})")
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
                f"    slice {s.arch}: signature {s.signature};"
                f" strippable: all {size(s.strippable.get('all', 0))},"
                f" debug {size(s.strippable.get('debug', 0))}" + (f" ({s.note})" if s.note else "")
            )
    if not report.binaries:
        lines.append("  no native binaries")
    state = "sourceless" if report.sourceless else f"{report.bytecode_files} .pyc"
    tags = f" ({', '.join(report.bytecode_tags)})" if report.bytecode_tags else ""
    lines.append(f"  python: {report.python_files} .py, bytecode: {state}{tags}")
    return "\n".join(lines)


def _binary_lines(binaries: list[BinaryReport]) -> list[str]:
    lines = []
    width = max((len(b.member) for b in binaries), default=0)
    for b in binaries:
        what = f"{b.format} {b.arch}".strip()
        if b.action == "stripped":
            kept = f"; debug file {b.debug_file} ({size(b.debug_file_size or 0)})" if b.debug_file else ""
            kept += f"; MiniDebugInfo {size(b.mini_debuginfo)}" if b.mini_debuginfo else ""
            lines.append(f"  stripped   {b.member:<{width}}  {what}: {_change(b.size_before, b.size_after)}{kept}")
        else:
            lines.append(f"  unchanged  {b.member:<{width}}  {what}: {b.reason}")
    return lines


def _binary_summary(binaries: list[BinaryReport]) -> str:
    stripped = [b for b in binaries if b.action == "stripped"]
    before = sum(b.size_before for b in stripped)
    after = sum(b.size_after for b in stripped)
    verified = sum(b.verified for b in stripped)
    return (
        f"  binaries: {len(stripped)} of {len(binaries)} stripped"
        + (f", {_change(before, after)}" if stripped else "")
        + (f"; {verified} verified with LIEF" if verified else "")
    )


def render_tree_strip(report: TreeReport) -> str:
    """The human summary of an installed tree; binaries with nothing to strip are counted, not
    listed (a Python installation has hundreds)."""
    stripped = [b for b in report.binaries if b.action == "stripped"]
    verb = "would strip" if report.dry_run else "stripped"
    done = f"{verb} {len(stripped)} of {len(report.binaries)} binaries" if report.binaries else f"{verb} nothing"
    failed = f"; {len(report.errors)} could not be done (errors below)" if report.errors else ""
    lines = [f"stripwheel: {report.path}: {done}{failed}"]
    lines += _binary_lines([b for b in report.binaries if not b.clean])
    clean = sum(b.clean for b in report.binaries)
    if clean:
        lines.append(f"  already stripped: {clean}")
    if report.binaries:
        lines.append(_binary_summary(report.binaries))
    elif not report.errors:
        lines.append(f"  no native binaries among {report.files} files")
    if report.records:
        lines.append(f"  RECORD updated: {', '.join(report.records)}")
    synced = f" ({report.sync_seconds:.2f} s waiting for the disk)" if report.sync_seconds >= 0.005 else ""
    lines.append(f"  time: {report.seconds:.2f} s{synced}")
    lines.extend(f"  warning: {w}" for w in report.warnings)
    return "\n".join(lines)


def render_tree_inspect(report: TreeInspectReport) -> str:
    """The human listing of an installed tree: what is big, and what each level would remove."""
    lines = [f"{report.path}: {len(report.binaries)} binaries among {report.files} files"]
    for b in report.binaries:
        owner = f" [{b.package}]" if b.package else ""
        line = (
            f"  {b.member}{owner}: {b.format} {b.arch} {b.kind}, {size(b.size)};"
            f" strippable: all {size(b.strippable.get('all', 0))}, debug {size(b.strippable.get('debug', 0))}"
        )
        if b.note:
            line += f" ({b.note})"
        lines.append(line)
    totals = report.totals
    total = sum(b.size for b in report.binaries)
    lines.append(
        f"  total: {size(total)} of binaries; strippable: all {size(totals['all'])}, debug {size(totals['debug'])}"
    )
    return "\n".join(lines)
