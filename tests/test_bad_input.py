"""Bad input: one line naming the wheel (and member), exit 1, the input untouched, no
temporary file left behind — or, where the input is fine but a binary is odd, a valid output."""

from __future__ import annotations

import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from _helpers import check_wheel, sha256
from stripwheel._cli import main
from stripwheel._record import encode_digest
from test_strip import EXT

RECORD = "demo-1.0.dist-info/RECORD"


def rebuild(
    src: Path,
    dst: Path,
    *,
    drop: tuple[str, ...] = (),
    replace: dict[str, bytes] | None = None,
    add: dict[str, bytes] | None = None,
    record: Callable[[list[str]], list[str]] | None = None,
    fix_record: bool = False,
) -> Path:
    """A variant of a real wheel: members dropped, replaced or added; RECORD edited by
    ``record`` or, with ``fix_record``, recomputed so that only the intended flaw remains."""
    replace, add = replace or {}, add or {}
    with zipfile.ZipFile(src) as archive:
        contents = {i.filename: archive.read(i) for i in archive.infolist()}
        infos = archive.infolist()
    contents.update(replace)
    lines = contents[RECORD].decode().splitlines()
    if fix_record:
        import csv
        import hashlib
        import io

        rows = list(csv.reader(lines))
        lines = []
        for row in rows:
            if row[0] in replace and row[0] != RECORD:
                data = replace[row[0]]
                row = [row[0], "sha256=" + encode_digest(hashlib.sha256(data).digest()), str(len(data))]
            out = io.StringIO()
            csv.writer(out, lineterminator="").writerow(row)
            lines.append(out.getvalue())
        for name, data in add.items():
            out = io.StringIO()
            csv.writer(out, lineterminator="").writerow(
                [name, "sha256=" + encode_digest(hashlib.sha256(data).digest()), len(data)]
            )
            lines.append(out.getvalue())
    if record:
        lines = record(lines)
    contents[RECORD] = ("\n".join(lines) + "\n").encode()
    dst.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names we ask for
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as out_zip:
            for info in infos:
                if info.filename not in drop:
                    out_zip.writestr(info, contents[info.filename])
            for name, data in add.items():
                out_zip.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return dst


def assert_fails(wheel: Path, capsys: pytest.CaptureFixture[str], *fragments: str) -> None:
    """Exit 1, exactly one line naming the wheel and the fragments, nothing changed or left."""
    before = sha256(wheel)
    listing = sorted(p.name for p in wheel.parent.iterdir())
    assert main(["strip", str(wheel)]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"stripwheel: error: {wheel.name}: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in captured.err
    assert sha256(wheel) == before
    assert sorted(p.name for p in wheel.parent.iterdir()) == listing


def test_truncated_archive(demo_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad" / demo_wheel.name
    bad.parent.mkdir()
    bad.write_bytes(demo_wheel.read_bytes()[: demo_wheel.stat().st_size // 2])
    assert_fails(bad, capsys, "not a valid zip archive")


def test_not_a_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad" / "demo-1.0-py3-none-any.whl"
    bad.parent.mkdir()
    bad.write_text("hello\n")
    assert_fails(bad, capsys, "not a valid zip archive")


def test_missing_wheel_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strip", str(tmp_path / "demo-1.0-py3-none-any.whl")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "demo-1.0-py3-none-any.whl: cannot read" in err[0]


@pytest.mark.parametrize(
    ("variant", "fragments"),
    [
        (dict(drop=(RECORD,)), ("missing demo-1.0.dist-info/RECORD",)),
        (dict(drop=("demo-1.0.dist-info/WHEEL",)), ("missing demo-1.0.dist-info/WHEEL",)),
        (
            dict(replace={"demo/__init__.py": b"from ._ext import add\n\nVERSION = '6.6'\n"}),
            ("demo/__init__.py", "hash does not match RECORD"),
        ),
        (dict(replace={"demo/__init__.py": b"x = 1\n"}), ("demo/__init__.py", "does not match RECORD")),
        (dict(add={"demo/extra.py": b"y = 2\n"}), ("demo/extra.py", "missing from RECORD")),
        (dict(drop=("demo/__init__.py",)), ("demo/__init__.py", "RECORD names a member the archive does not have")),
        (dict(add={"../evil.py": b"z = 3\n"}, fix_record=True), ("../evil.py", "unsafe path")),
        (dict(add={"/etc/evil.py": b"z = 3\n"}, fix_record=True), ("/etc/evil.py", "unsafe path")),
        (
            dict(add={"demo/__init__.py": b"from ._ext import add\n\nVERSION = '1.0'\n"}),
            ("demo/__init__.py", "duplicate member name"),
        ),
        (dict(add={"demo/line\u2028break.py": b"w = 4\n"}, fix_record=True), ("line break",)),
        (dict(record=lambda lines: lines + lines[:1]), ("RECORD lists this path twice",)),
        (dict(record=lambda lines: [line.replace("sha256=", "md5=") for line in lines]), ("bad hash",)),
    ],
    ids=[
        "no-record",
        "no-wheel-file",
        "hash-mismatch",
        "size-mismatch",
        "unrecorded-member",
        "row-without-member",
        "dotdot-path",
        "absolute-path",
        "duplicate-name",
        "u2028-name",
        "duplicate-row",
        "md5-hash",
    ],
)
def test_corrupt_wheels(
    demo_wheel: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    variant: dict[str, Any],
    fragments: tuple[str, ...],
) -> None:
    """Each flaw is found while reading, before anything is written."""
    bad = rebuild(demo_wheel, tmp_path / "bad" / demo_wheel.name, **variant)
    assert_fails(bad, capsys, *fragments)


def test_bzip2_member_rejected(demo_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad" / demo_wheel.name
    bad.parent.mkdir()
    with zipfile.ZipFile(demo_wheel) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "demo/__init__.py":
                info.compress_type = zipfile.ZIP_BZIP2
            dst.writestr(info, data)
    assert_fails(bad, capsys, "demo/__init__.py", "compression method 12 is not allowed")


def test_deflate_bomb(demo_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A member that inflates far past its declared size is stopped at that size."""
    bad = rebuild(demo_wheel, tmp_path / "bad" / demo_wheel.name, add={"demo/bomb.bin": b"\0" * 100}, fix_record=True)
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = bomb.compress(b"\0" * (256 << 20)) + bomb.flush()
    data = bad.read_bytes()
    with zipfile.ZipFile(bad) as archive:
        info = archive.getinfo("demo/bomb.bin")
    # Swap the member's deflate stream for the bomb, keeping the declared size of 100 bytes.
    name_len, extra_len = struct.unpack_from("<2H", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    delta = len(stream) - info.compress_size
    patched = bytearray(data[:start] + stream + data[start + info.compress_size :])
    struct.pack_into("<L", patched, info.header_offset + 18, len(stream))
    eocd = patched.rfind(b"PK\x05\x06")
    count, _, cd_offset = struct.unpack_from("<HLL", patched, eocd + 10)
    cd = cd_offset + delta
    struct.pack_into("<L", patched, eocd + 16, cd)
    for _ in range(count):
        nlen, elen, clen = struct.unpack_from("<3H", patched, cd + 28)
        offset = struct.unpack_from("<L", patched, cd + 42)[0]
        if patched[cd + 46 : cd + 46 + nlen] == b"demo/bomb.bin":
            struct.pack_into("<L", patched, cd + 20, len(stream))
        elif offset > info.header_offset:
            struct.pack_into("<L", patched, cd + 42, offset + delta)
        cd += 46 + nlen + elen + clen
    bad.write_bytes(bytes(patched))
    assert_fails(bad, capsys, "demo/bomb.bin", "inflates past its declared size of 100 bytes")


def test_odd_binaries_are_left_alone(demo_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A truncated ELF and one whose section headers lie past EOF are reported and kept
    byte-identical; the rest of the wheel is still stripped and valid."""
    with zipfile.ZipFile(demo_wheel) as archive:
        ext = archive.read(EXT)
    truncated = ext[:1000]
    past_eof = bytearray(ext)
    struct.pack_into("<Q", past_eof, 0x28, len(ext) + 4096)  # e_shoff of ELF64
    out = rebuild(
        demo_wheel,
        tmp_path / "odd" / demo_wheel.name,
        add={"demo/truncated.so": truncated, "demo/shoff.so": bytes(past_eof)},
        fix_record=True,
    )
    assert main(["strip", str(out)]) == 0
    err = capsys.readouterr().err
    check_wheel(out, skip=frozenset({"demo/truncated.so", "demo/shoff.so"}))
    with zipfile.ZipFile(out) as archive:
        assert archive.read("demo/truncated.so") == truncated
        assert archive.read("demo/shoff.so") == bytes(past_eof)
        assert len(archive.read(EXT)) < len(ext)
    lines = {line.split()[1]: line for line in err.splitlines() if line.startswith("  unchanged")}
    assert "left as is" in lines["demo/truncated.so"] and "left as is" in lines["demo/shoff.so"]
