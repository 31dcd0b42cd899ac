"""In-place replacement (rename only: mode, xattrs and in-tree hardlinks kept, outside links
untouched, a changed file left alone) and the line-by-line RECORD update."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from stripwheel import binaries
from stripwheel._blob import Blob
from stripwheel._record import encode_digest
from stripwheel.tree.walk import TreeSource
from stripwheel.tree.writer import FileError, Written, replace, update_record


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


def run_replace(root: Path, name: str = "pkg/lib.so") -> Written:
    (file,) = [f for f in TreeSource(root).files() if f.path == name]
    blob = Blob.mapped(open(root / name, "rb"), file.size)
    try:
        return replace(root, file, blob, RESULT, digest=True)
    finally:
        blob.close()


def test_replaced_by_rename_with_mode_and_xattrs(tmp_path: Path) -> None:
    target = setup(tmp_path)
    os.setxattr(target, "user.origin", b"kept")
    inode = target.stat().st_ino
    written = run_replace(tmp_path)
    assert target.read_bytes() == EXPECTED
    assert (written.digest, written.size, written.old_size) == (digest(EXPECTED), 10, len(ORIGINAL))
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
    blob = Blob.mapped(open(target, "rb"), file.size)
    with pytest.raises(FileError, match="changed while it was processed"):
        replace(tmp_path, file, blob, RESULT, digest=False)
    blob.close()
    assert target.read_bytes() == ORIGINAL + b"appended by someone else"
    assert sorted(p.name for p in target.parent.iterdir()) == ["lib.so"]


RECORD_TEXT = (
    "pkg/__init__.py,sha256=STALE-but-not-ours,12\r\n"
    "pkg/lib.so,sha256={old},1008\r\n"
    '"pkg/odd, name.txt",sha256=abc,3\r\n'
    "this line is not a row\r\n"
    "../../bin/lib-tool,sha256={old},1008\r\n"
    "pkg-1.0.dist-info/RECORD,,\r\n"
)


def test_record_rows_of_changed_files_only(tmp_path: Path) -> None:
    """Changed rows get the new hash and size; every other line stays byte for byte, stale,
    odd or malformed (with a warning); paths climbing out of the site directory resolve."""
    site = tmp_path / "lib" / "site"
    (site / "pkg-1.0.dist-info").mkdir(parents=True)
    record = site / "pkg-1.0.dist-info" / "RECORD"
    record.write_bytes(RECORD_TEXT.format(old=digest(ORIGINAL)).encode())
    new = Written(digest(EXPECTED), 10, 1008)
    touched, warnings = update_record(
        tmp_path, "lib/site/pkg-1.0.dist-info/RECORD", {"lib/site/pkg/lib.so": new, "bin/lib-tool": new}
    )
    assert touched
    assert warnings == [f"{record}: line 4 is malformed; left as it is"]
    expected = RECORD_TEXT.format(old=digest(ORIGINAL)).replace(
        f"sha256={digest(ORIGINAL)},1008", f"sha256={digest(EXPECTED)},10"
    )
    assert record.read_bytes() == expected.encode()


def test_a_stale_row_of_a_changed_file_is_warned_about(tmp_path: Path) -> None:
    (tmp_path / "p-1.dist-info").mkdir()
    record = tmp_path / "p-1.dist-info" / "RECORD"
    record.write_text("p/x.so,sha256=not-what-the-file-had,5\n")
    touched, warnings = update_record(tmp_path, "p-1.dist-info/RECORD", {"p/x.so": Written("new", 1, 7)})
    assert touched and record.read_text() == "p/x.so,sha256=new,1\n"
    assert warnings == [f"{record}: the row of p/x.so was already stale; it now says what the file holds"]


def test_an_unrelated_record_is_not_rewritten(tmp_path: Path) -> None:
    (tmp_path / "p-1.dist-info").mkdir()
    record = tmp_path / "p-1.dist-info" / "RECORD"
    record.write_text("p/y.py,sha256=abc,3\n")
    inode = record.stat().st_ino
    assert update_record(tmp_path, "p-1.dist-info/RECORD", {"p/x.so": Written("new", 1, 7)}) == (False, [])
    assert record.stat().st_ino == inode
