"""``stripwheel inspect`` of a wheel: every binary with what each level would remove, and the
state of its bytecode. Reads and checks the wheel; writes nothing."""

from __future__ import annotations

from pathlib import Path

from .. import binaries
from .._blob import Blob
from .._inspect import binary_view
from .._plan import MIN_BINARY
from .._report import InspectReport
from .source import WheelSource


def inspect_wheel(wheel: Path) -> InspectReport:
    """What ``stripwheel inspect`` shows: every binary, and the bytecode state."""
    wheel = Path(wheel)
    with WheelSource(wheel) as source:
        report = InspectReport(
            wheel=str(wheel),
            tags=sorted(str(t) for t in source.tags),
            wheel_size=source.size,
            installed_size=source.total_size,
        )
        cache_tags: set[str] = set()
        py_stems: set[str] = set()
        pyc_stems: set[str] = set()
        for member in source.members:
            name = member.name
            if member.is_dir or name == source.record_name:
                continue
            if name.endswith(".py"):
                report.python_files += 1
                py_stems.add(name[:-3])
            elif name.endswith(".pyc"):
                report.bytecode_files += 1
                if "__pycache__/" in name:
                    parts = name.rsplit("/", 1)[1].split(".")
                    if len(parts) >= 3:
                        cache_tags.add(parts[1])
                else:
                    pyc_stems.add(name[:-4])
            size = member.info.file_size
            fmt = binaries.detect(source.head(member, binaries.HEAD)) if size >= MIN_BINARY else None
            with source.open(member) as stream:  # leaving the block reads and checks the rest
                if fmt is None:
                    continue
                blob = Blob(stream, size)
            try:
                report.binaries.append(binary_view(member.name, fmt, blob, member.info.compress_size))
            finally:
                blob.close()
        report.bytecode_tags = sorted(cache_tags)
        report.sourceless = bool(pyc_stems) and not (pyc_stems & py_stems)
    return report
