"""Pins ``_source``: corrupt and unsafe wheels are found while reading, before anything is written.

Each is one line naming the wheel (and member), exit 1, the input untouched, no temporary file
left behind."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from _helpers import assert_fails
from _wheels import variant
from stripwheel._cli import main

RECORD = "demo-1.0.dist-info/RECORD"


def test_truncated_archive(pure_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad" / pure_wheel.name
    bad.parent.mkdir()
    bad.write_bytes(pure_wheel.read_bytes()[: pure_wheel.stat().st_size // 2])
    assert_fails(bad, capsys, "not a valid zip archive")


def test_not_a_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad" / "demo-1.0-py3-none-any.whl"
    bad.parent.mkdir()
    bad.write_text("hello\n")
    assert_fails(bad, capsys, "not a valid zip archive")


def test_missing_wheel_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strip", str(tmp_path / "demo-1.0-py3-none-any.whl")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"stripwheel: error: {tmp_path / 'demo-1.0-py3-none-any.whl'}: no such file or directory"]


def test_not_a_wheel_file_name(pure_wheel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The name is checked first: a zip that is not named like a wheel is refused as such."""
    renamed = pure_wheel.rename(pure_wheel.with_name("demo.zip.whl"))
    assert_fails(renamed, capsys, "not a wheel file name")


@pytest.mark.parametrize(
    ("variation", "fragments"),
    [
        (dict(drop=(RECORD,)), ("missing demo-1.0.dist-info/RECORD",)),
        (dict(drop=("demo-1.0.dist-info/WHEEL",)), ("missing demo-1.0.dist-info/WHEEL",)),
        (
            dict(replace={"demo/__init__.py": b"VERSION = '6.6'\n"}),
            ("demo/__init__.py", "hash does not match RECORD"),
        ),
        (dict(replace={"demo/__init__.py": b"x = 1\n"}), ("demo/__init__.py", "does not match RECORD")),
        (dict(add={"demo/extra.py": b"y = 2\n"}), ("demo/extra.py", "missing from RECORD")),
        (dict(drop=("demo/__init__.py",)), ("demo/__init__.py", "RECORD names a member the archive does not have")),
        (dict(add={"../evil.py": b"z = 3\n"}, fix_record=True), ("../evil.py", "unsafe path")),
        (dict(add={"/etc/evil.py": b"z = 3\n"}, fix_record=True), ("/etc/evil.py", "unsafe path")),
        (dict(add={"demo/__init__.py": b"VERSION = '1.0'\n"}), ("demo/__init__.py", "duplicate member name")),
        (dict(add={"demo/line\u2028break.py": b"w = 4\n"}, fix_record=True), ("line break",)),
        (dict(record=lambda lines: lines + lines[:1]), ("RECORD lists this path twice",)),
        (dict(record=lambda lines: [line.replace("sha256=", "md5=") for line in lines]), ("bad hash",)),
        (dict(add={"demo-2.0.dist-info/METADATA": b"x"}, fix_record=True), ("more than one .dist-info",)),
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
        "two-dist-infos",
    ],
)
def test_corrupt_wheels(
    pure_wheel: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    variation: dict[str, Any],
    fragments: tuple[str, ...],
) -> None:
    """Each flaw is found while reading, before anything is written."""
    bad = variant(pure_wheel, tmp_path / "bad" / pure_wheel.name, **variation)
    assert_fails(bad, capsys, *fragments)


def test_bzip2_member_rejected(pure_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = variant(pure_wheel, tmp_path / "bad" / pure_wheel.name, compress={"demo/__init__.py": zipfile.ZIP_BZIP2})
    assert_fails(bad, capsys, "demo/__init__.py", "compression method 12 is not allowed")


def test_deflate_bomb(pure_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A member that inflates far past its declared size is stopped at that size. (4 MB of
    zeros deflate to 4 kB: the bound is the declared 100 bytes, whatever the bomb's size.)"""
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = bomb.compress(b"\0" * (4 << 20)) + bomb.flush()
    bad = variant(
        pure_wheel,
        tmp_path / "bad" / pure_wheel.name,
        add={"demo/bomb.bin": b"\0" * 100},
        fix_record=True,
        stored={"demo/bomb.bin": stream},  # the declared size stays 100 bytes
    )
    assert_fails(bad, capsys, "demo/bomb.bin", "inflates past its declared size of 100 bytes")
