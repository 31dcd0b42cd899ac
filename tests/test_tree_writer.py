"""In-place replacement in two steps (prepare beside, commit by rename): mode, set-id bits,
xattrs and in-tree hardlinks kept, outside links untouched, a changed file left alone, nothing
left behind on failure."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from _helpers import snapshot
from stripwheel import binaries
from stripwheel._record import encode_digest
from stripwheel.tree.walk import TreeSource
from stripwheel.tree.writer import FileError, Prepared, commit, prepare


def digest(data: bytes) -> str:
    return encode_digest(hashlib.sha256(data).digest())


ORIGINAL = b"HEAD" + b"x" * 1000 + b"TAIL"
#: keep the first 4 bytes and the last 4, drop the middle: a stand-in for any rewrite
RESULT = binaries.Stripped(pieces=(binaries.Copy(0, 4), b"--", binaries.Copy(1004, 4)), size=10)
EXPECTED = b"HEAD--TAIL"


def setup(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    target = root / "pkg" / "lib.so"
    target.write_bytes(ORIGINAL)
    os.chmod(target, 0o751)
    return target


def run_replace(root: Path, name: str = "pkg/lib.so") -> Prepared:
    (file,) = [f for f in TreeSource(root).files() if f.path == name]
    blob = snapshot(root / name, file.size)
    try:
        prepared = prepare(root, file, blob, RESULT, digest=True)
    finally:
        blob.close()
    assert commit(root, prepared) == list(file.paths)
    return prepared


def test_replaced_by_rename_with_mode_and_xattrs(tmp_path: Path) -> None:
    target = setup(tmp_path)
    os.setxattr(target, "user.origin", b"kept")
    inode = target.stat().st_ino
    written = run_replace(tmp_path)
    assert target.read_bytes() == EXPECTED
    assert (written.digest, written.size) == (digest(EXPECTED), 10)
    assert target.stat().st_mode & 0o7777 == 0o751
    assert os.getxattr(target, "user.origin") == b"kept"
    assert target.stat().st_ino != inode  # a new file: never written in place
    assert sorted(p.name for p in target.parent.iterdir()) == ["lib.so"]  # no temporary left


def test_a_link_from_outside_keeps_the_original_bytes(tmp_path: Path) -> None:
    """uv's cache hardlinks into environments: the cache's copy must not change."""
    root = tmp_path / "venv"
    target = setup(root)
    cache = tmp_path / "cache-entry"
    os.link(target, cache)
    run_replace(root)
    assert target.read_bytes() == EXPECTED
    assert cache.read_bytes() == ORIGINAL


def test_hardlinks_inside_the_tree_stay_together(tmp_path: Path) -> None:
    target = setup(tmp_path)
    os.link(target, tmp_path / "pkg" / "lib.so.1")
    run_replace(tmp_path)
    again = tmp_path / "pkg" / "lib.so.1"
    assert again.read_bytes() == EXPECTED
    assert again.stat().st_ino == target.stat().st_ino


def test_a_file_changed_meanwhile_is_left_alone(tmp_path: Path) -> None:
    target = setup(tmp_path)
    (file,) = TreeSource(tmp_path).files()
    target.write_bytes(ORIGINAL + b"appended by someone else")
    blob = snapshot(target, file.size)
    prepared = prepare(tmp_path, file, blob, RESULT, digest=False)
    blob.close()
    with pytest.raises(FileError, match="changed while it was processed"):
        commit(tmp_path, prepared)
    assert target.read_bytes() == ORIGINAL + b"appended by someone else"
    assert sorted(p.name for p in target.parent.iterdir()) == ["lib.so"]


def test_set_id_bits_survive_a_change_of_owner(tmp_path: Path) -> None:
    """As root on another user's file: chown clears set-id bits, so the mode comes after it."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file to another user")
    target = setup(tmp_path)
    os.chown(target, 1234, 1234)
    os.chmod(target, 0o4755)
    run_replace(tmp_path)
    st = target.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1234, 1234, 0o4755)


def test_a_failed_hardlink_leaves_every_path_as_it_was(tmp_path: Path) -> None:
    """The links' temporary files are made before any rename: one that cannot be made leaves
    the whole group untouched and nothing behind."""
    target = setup(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    os.link(target, other / "lib.so")
    root = os.geteuid() == 0  # root writes to a read-only directory, not to an immutable one
    subprocess.run(["chattr", "+i", str(other)], check=True) if root else os.chmod(other, 0o555)
    try:
        files = [f for f in TreeSource(tmp_path).files() if f.path == "other/lib.so"]
        blob = snapshot(target, len(ORIGINAL))
        with pytest.raises(FileError):
            prepare(tmp_path, files[0], blob, RESULT, digest=False)
        blob.close()
    finally:
        subprocess.run(["chattr", "-i", str(other)], check=True) if root else os.chmod(other, 0o755)
    assert target.read_bytes() == ORIGINAL and (other / "lib.so").stat().st_ino == target.stat().st_ino
    assert sorted(p.name for p in target.parent.iterdir()) == ["lib.so"]
