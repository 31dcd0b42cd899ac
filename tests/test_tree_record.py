"""Installed RECORDs: rows found by path (climbing ``../``, through symlinks, names holding
``\\x0c`` or a newline), only changed rows rewritten and every other line kept byte for byte,
RECORDs that cannot be rewritten named, the RECORD's owner, mode and xattrs kept; the rows of a
file run bare found in its environment."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from stripwheel._record import encode_digest
from stripwheel.tree.record import BareRecords, Change, Records, split_records
from stripwheel.tree.walk import Identity, TreeFile, TreeSource


def digest(data: bytes) -> str:
    return encode_digest(hashlib.sha256(data).digest())


OLD, NEW = b"x" * 1008, b"y" * 10

RECORD_TEXT = (
    "pkg/__init__.py,sha256=STALE-but-not-ours,12\r\n"
    "pkg/lib.so,sha256={old},1008\r\n"
    '"pkg/odd, name.txt",sha256=abc,3\r\n'
    "this line is not a row\r\n"
    "../../bin/lib-tool,sha256={old},1008\r\n"
    "pkg-1.0.dist-info/RECORD,,\r\n"
)


def records(root: Path) -> Records:
    source = TreeSource(root)
    return Records(root, source.files(), source.links)


def make_site(root: Path, text: str) -> Path:
    site = root / "lib" / "site"
    (site / "pkg-1.0.dist-info").mkdir(parents=True)
    (site / "pkg").mkdir()
    (site / "pkg" / "lib.so").write_bytes(OLD)
    (root / "bin").mkdir()
    (root / "bin" / "lib-tool").write_bytes(OLD)
    record = site / "pkg-1.0.dist-info" / "RECORD"
    record.write_bytes(text.encode())
    return record


def test_rows_of_changed_files_only(tmp_path: Path) -> None:
    """Changed rows get the new hash and size; every other line stays byte for byte, stale,
    odd or malformed; paths climbing out of the site directory resolve."""
    record = make_site(tmp_path, RECORD_TEXT.format(old=digest(OLD)))
    change = Change(digest(NEW), 10, 1008)
    touched, errors, warnings = records(tmp_path).update({"lib/site/pkg/lib.so": change, "bin/lib-tool": change})
    assert (touched, errors, warnings) == (["lib/site/pkg-1.0.dist-info/RECORD"], [], [])
    expected = RECORD_TEXT.format(old=digest(OLD)).replace(f"sha256={digest(OLD)},1008", f"sha256={digest(NEW)},10")
    assert record.read_bytes() == expected.encode()


def test_a_stale_row_is_warned_about(tmp_path: Path) -> None:
    (tmp_path / "p-1.dist-info").mkdir()
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "x.so").write_bytes(b"1234567")
    record = tmp_path / "p-1.dist-info" / "RECORD"
    record.write_text("p/x.so,sha256=not-what-the-file-had,5\n")
    touched, _, warnings = records(tmp_path).update({"p/x.so": Change("new", 1, 7)})
    assert touched and record.read_text() == "p/x.so,sha256=new,1\n"
    assert warnings == [f"{record}: the row of 'p/x.so', did not match the files; they now say what the files hold"]


def test_an_unrelated_record_is_not_rewritten(tmp_path: Path) -> None:
    (tmp_path / "p-1.dist-info").mkdir()
    record = tmp_path / "p-1.dist-info" / "RECORD"
    record.write_text("p/y.py,sha256=abc,3\n")
    inode = record.stat().st_ino
    assert records(tmp_path).update({"p/x.so": Change("new", 1, 7)}) == ([], [], [])
    assert record.stat().st_ino == inode


@pytest.mark.parametrize("name", ["p/form\x0cfeed.so", "p/new\nline.so", "p/ret\rurn.so", "p/sep\x1c\x85.so"])
def test_odd_names_are_one_row(tmp_path: Path, name: str) -> None:
    """``str.splitlines`` would cut these names in two and lose the row."""
    (tmp_path / "p-1.dist-info").mkdir()
    (tmp_path / "p").mkdir()
    (tmp_path / name).write_bytes(OLD)
    record = tmp_path / "p-1.dist-info" / "RECORD"
    quoted = '"' + name + '"' if "\n" in name or "\r" in name else name
    record.write_text(f"{quoted},sha256={digest(OLD)},1008\np-1.dist-info/RECORD,,\n", newline="")
    assert [fields[0] for _, fields in split_records(record.read_bytes().decode())] == [name, "p-1.dist-info/RECORD"]
    touched, _, _ = records(tmp_path).update({name: Change(digest(NEW), 10, 1008)})
    assert touched
    assert list(split_records(record.read_bytes().decode()))[0][1] == [name, f"sha256={digest(NEW)}", "10"]


def test_a_row_through_a_symlink_names_the_file(tmp_path: Path) -> None:
    """``lib64 -> lib``: the row is the file's, and is updated with it."""
    (tmp_path / "lib" / "p").mkdir(parents=True)
    (tmp_path / "lib" / "p" / "x.so").write_bytes(OLD)
    (tmp_path / "lib64").symlink_to("lib")
    (tmp_path / "lib" / "p-1.dist-info").mkdir()
    record = tmp_path / "lib" / "p-1.dist-info" / "RECORD"
    record.write_text(f"../lib64/p/x.so,sha256={digest(OLD)},1008\n")
    found = records(tmp_path)
    assert found.owner("lib/p/x.so") == "p"
    found.update({"lib/p/x.so": Change(digest(NEW), 10, 1008)})
    assert record.read_text() == f"../lib64/p/x.so,sha256={digest(NEW)},10\n"


def blocked_reason(root: Path) -> str | None:
    found = records(root)
    (file,) = [f for f in TreeSource(root).files() if f.path == "p/x.so"]
    return found.blocked(file)


def listed_site(root: Path) -> Path:
    (root / "p-1.dist-info").mkdir(parents=True)
    (root / "p").mkdir()
    (root / "p" / "x.so").write_bytes(OLD)
    return root / "p-1.dist-info" / "RECORD"


def test_a_record_that_is_a_symlink_cannot_be_rewritten(tmp_path: Path) -> None:
    record = listed_site(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text(f"p/x.so,sha256={digest(OLD)},1008\n")
    record.symlink_to(elsewhere)
    assert "is a symlink" in (blocked_reason(tmp_path) or "")


def test_a_record_with_a_byte_order_mark_cannot_be_rewritten(tmp_path: Path) -> None:
    listed_site(tmp_path).write_text(f"\ufeffp/x.so,sha256={digest(OLD)},1008\n")
    assert "byte-order mark" in (blocked_reason(tmp_path) or "")


def test_an_immutable_record_cannot_be_rewritten(tmp_path: Path) -> None:
    record = listed_site(tmp_path)
    record.write_text(f"p/x.so,sha256={digest(OLD)},1008\n")
    if os.geteuid() != 0:
        os.chmod(record.parent, 0o555)
        try:
            assert "Permission denied" in (blocked_reason(tmp_path) or "")
        finally:
            os.chmod(record.parent, 0o755)
        return
    subprocess.run(["chattr", "+i", str(record)], check=True)
    try:
        assert "immutable" in (blocked_reason(tmp_path) or "")
    finally:
        subprocess.run(["chattr", "-i", str(record)], check=True)


def test_the_record_keeps_its_mode_owner_and_xattrs(tmp_path: Path) -> None:
    record = listed_site(tmp_path)
    record.write_text(f"p/x.so,sha256={digest(OLD)},1008\n")
    os.chmod(record, 0o640)
    os.setxattr(record, "user.origin", b"kept")
    if os.geteuid() == 0:
        os.chown(record, 1234, 1234)
    records(tmp_path).update({"p/x.so": Change(digest(NEW), 10, 1008)})
    st = record.stat()
    assert st.st_mode & 0o7777 == 0o640 and os.getxattr(record, "user.origin") == b"kept"
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (1234, 1234)
    assert sorted(p.name for p in record.parent.iterdir()) == ["RECORD"]


def bare(path: Path) -> TreeFile:
    """``path`` as a bare-file run walks it: its name, in its own directory."""
    st = os.stat(path)
    return TreeFile(path.name, Identity.of(st), st.st_nlink)


def test_a_file_run_bare_finds_its_rows_in_the_environment(tmp_path: Path) -> None:
    """A file in site-packages has its rows in the RECORDs of the nearest directory above it
    holding ``*.dist-info``; a script in ``<env>/bin`` in those of ``<env>/lib/python*/
    site-packages`` (``../../../bin/tool``). Only its row changes, and the RECORD rewritten is
    named by its full path; a file no RECORD lists has none."""
    site = tmp_path / "lib" / "python3.12" / "site-packages"
    (site / "pkg-1.0.dist-info").mkdir(parents=True)
    (site / "pkg").mkdir()
    (tmp_path / "bin").mkdir()
    for path in (site / "pkg" / "lib.so", tmp_path / "bin" / "tool", site / "pkg" / "stray.so"):
        path.write_bytes(OLD)
    text = (
        f"pkg/__init__.py,sha256=abc,3\npkg/lib.so,sha256={digest(OLD)},1008\n"
        f"../../../bin/tool,sha256={digest(OLD)},1008\npkg-1.0.dist-info/RECORD,,\n"
    )
    record = site / "pkg-1.0.dist-info" / "RECORD"
    record.write_text(text)
    assert BareRecords.find(site / "pkg" / "stray.so", bare(site / "pkg" / "stray.so")) is None
    elsewhere = tmp_path / "elsewhere" / "x.so"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(OLD)
    assert BareRecords.find(elsewhere, bare(elsewhere)) is None
    change = Change(digest(NEW), 10, 1008)
    for path, row in ((site / "pkg" / "lib.so", "pkg/lib.so"), (tmp_path / "bin" / "tool", "../../../bin/tool")):
        file = bare(path)
        found = BareRecords.find(path, file)
        assert found is not None and found.listed(file) and not found.stale(file) and found.blocked(file) is None
        before = record.read_text()
        assert found.update({file.path: change}) == ([str(record)], [], [])
        old_row, new_row = f"{row},sha256={digest(OLD)},1008\n", f"{row},sha256={digest(NEW)},10\n"
        assert record.read_text() == before.replace(old_row, new_row)
