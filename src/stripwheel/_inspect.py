"""``stripwheel inspect``: every binary of a wheel with what each level would remove, and the
state of its bytecode. Reads and checks the wheel; writes nothing."""

from __future__ import annotations

from typing import Optional

from . import binaries
from ._blob import Blob
from ._report import BinaryView


def binary_view(name: str, fmt: binaries.Format, blob: Blob, compressed_size: Optional[int]) -> BinaryView:
    """One binary as ``inspect`` shows it (a wheel member or a file of a tree)."""
    try:
        info = binaries.inspect(fmt, blob.buf)
    except binaries.BinaryError as exc:
        no_savings = {"all": 0, "debug": 0}
        return BinaryView(name, fmt, "", "", blob.size, compressed_size, no_savings, "none", f"malformed: {exc}")
    slices = [
        {"arch": s.arch, "signature": s.signature, "strippable": dict(s.strippable), "note": s.note}
        for s in info.slices
    ]
    return BinaryView(
        name,
        info.format,
        info.arch,
        info.kind,
        blob.size,
        compressed_size,
        dict(info.strippable),
        info.signature,
        info.note,
        slices,
    )
