"""Durable files: a short write is an error, a temporary file becomes its target by one rename
or vanishes, temporary names of dead runs are told from live ones and from users' files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stripwheel._durable import AtomicFile, is_leftover, looks_temporary, remove_leftovers, temp_name, write_all
from stripwheel._errors import OutputError


def test_atomic_file_replaces_the_target_by_one_rename(tmp_path: Path) -> None:
    """Until ``commit`` the target is untouched and the bytes sit in a hidden file beside it;
    ``commit`` renames that file over the target with the mode asked for."""
    target = tmp_path / "out" / "demo-1.0-py3-none-any.whl"
    target.parent.mkdir()
    target.write_bytes(b"old")
    atomic = AtomicFile(target, 0o640)
    atomic.write(b"new")
    assert target.read_bytes() == b"old"
    assert atomic.path.parent == target.parent and looks_temporary(atomic.path.name)
    atomic.commit()
    assert target.read_bytes() == b"new" and (target.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_atomic_file_discard_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "demo-1.0-py3-none-any.whl"
    target.write_bytes(b"old")
    atomic = AtomicFile(target, None)
    atomic.write(b"half a wheel")
    atomic.discard()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_atomic_file_cannot_make_its_directory(tmp_path: Path) -> None:
    """A regular file where the directory should be: an OutputError naming the path."""
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="cannot write"):
        AtomicFile(tmp_path / "file" / "out" / "demo-1.0-py3-none-any.whl", None)


def test_a_short_write_is_an_error(tmp_path: Path) -> None:
    """A pipe whose reader is gone takes nothing: the writer must not call that success. A
    full filesystem is the same case, tested for real in test_tree_hostile."""
    read, write = os.pipe()
    os.close(read)
    with pytest.raises(OSError):
        write_all(write, b"x" * 100)
    os.close(write)


def test_write_all_writes_everything_through_partial_writes(tmp_path: Path) -> None:
    """A pipe smaller than the data forces partial writes; a reader drains it meanwhile."""
    read, write = os.pipe()
    data = os.urandom(1 << 20)
    reader = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"],
        stdin=read,
        stdout=subprocess.PIPE,
    )
    os.close(read)
    write_all(write, memoryview(data))
    os.close(write)
    out, _ = reader.communicate(timeout=30)
    assert out == data


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(
    ("name", "leftover"),
    [
        (lambda: f".stripwheel-{dead_pid()}-0123abcd.tmp", True),
        (lambda: f".stripwheel-{os.getpid()}-0123abcd.tmp", False),  # this run's own
        (lambda: f".stripwheel-{os.getppid()}-0123abcd.tmp", False),  # a live process
        (lambda: ".lib.so.ab_12XYz.stripwheel", True),  # earlier versions' names
        (lambda: ".lib.so.stripwheel-link", True),
        (lambda: ".demo-1.0-py3-none-any.whl.k2j4h5g6.tmp", True),
        (lambda: ".stripwheel-staging-a1b2c3d4", True),
        (lambda: ".hidden.tmp", False),  # users' files
        (lambda: "notes.stripwheel", False),
        (lambda: ".stripwheel-12-xyz.tmp", False),
    ],
)
def test_leftovers_are_told_by_name(name: object, leftover: bool) -> None:
    assert callable(name)
    assert is_leftover(name()) is leftover


def test_remove_leftovers_keeps_everything_else(tmp_path: Path) -> None:
    stale = f".stripwheel-{dead_pid()}-0123abcd.tmp"
    for n in (stale, ".hidden.tmp", "lib.so", temp_name()):
        (tmp_path / n).write_bytes(b"x")
    (tmp_path / ".stripwheel-staging-a1b2c3d4").mkdir()
    removed = remove_leftovers(tmp_path, os.listdir(tmp_path))
    assert sorted(Path(r).name for r in removed) == sorted([stale, ".stripwheel-staging-a1b2c3d4"])
    assert len(os.listdir(tmp_path)) == 3
