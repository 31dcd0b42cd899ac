"""A binary's bytes held for the rewriters: a private snapshot of a tree's file, exact when small
(memory) and when large (a mapped temporary copy), and a file that shrank is an error, not a
crash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _helpers import snapshot
from stripwheel import binaries
from stripwheel._blob import IN_MEMORY, Shrank


@pytest.mark.parametrize("size", [0, 1, 4097, IN_MEMORY + 12345])
def test_a_snapshot_holds_the_file(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    blob = snapshot(tmp_path / "f", size)
    try:
        assert b"".join(blob.read(0, size)) == data
        assert bytes(blob.buf[:16]) == data[:16]
        result = binaries.Stripped(pieces=(binaries.Copy(0, min(size, 10)), b"--"), size=min(size, 10) + 2)
        assert b"".join(bytes(v) for v in blob.views(result)) == data[:10] + b"--"
    finally:
        blob.close()


def test_a_snapshot_is_not_changed_by_a_truncation(tmp_path: Path) -> None:
    """The copy is ours: the file truncated afterwards (even a big one) changes nothing we hold."""
    size = IN_MEMORY + 4096
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    blob = snapshot(tmp_path / "f", size)
    os.truncate(tmp_path / "f", 10)
    try:
        assert bytes(blob.buf[-4096:]) == data[-4096:]
    finally:
        blob.close()


@pytest.mark.parametrize("size", [100, IN_MEMORY + 100])
def test_a_file_that_shrank_is_an_error(tmp_path: Path, size: int) -> None:
    (tmp_path / "f").write_bytes(b"x" * (size - 50))
    with pytest.raises(Shrank, match="shrank"):
        snapshot(tmp_path / "f", size)
