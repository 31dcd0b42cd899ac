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
        return BinaryView.malformed(name, format=fmt, size=blob.size, compressed_size=compressed_size, reason=str(exc))
    return BinaryView.inspected(name, info, size=blob.size, compressed_size=compressed_size)
