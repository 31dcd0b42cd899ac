"""Pins ``_destination``: order, RECORD rows, ZipInfo kept, SOURCE_DATE_EPOCH, Zip64, atomic replace.

Members keep the input's order with ``.dist-info`` last and RECORD last of all; unchanged
members keep their stored bytes, ZipInfo and RECORD rows; new members are dated by
SOURCE_DATE_EPOCH; Zip64 when the member count needs it; the output replaces the target by one
rename or not at all."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest

from _demo import BINARIES, PURE_PYC
from _helpers import check_wheel, section_names
from _wheels import ODD_NAME, infos, pack, read, stored, variant
from stripwheel._cli import main

DIST = "demo-1.0.dist-info"
RECORD = f"{DIST}/RECORD"


def rows(wheel: Path) -> dict[str, str]:
    """RECORD's lines by their text up to the first comma (enough for names without one)."""
    return {r.split(",")[0]: r for r in read(wheel, RECORD).decode().splitlines()}


def csv_rows(wheel: Path) -> dict[str, list[str]]:
    """RECORD's rows by path, read as CSV (names with commas and quotes included)."""
    return {row[0]: row for row in csv.reader(read(wheel, RECORD).decode().splitlines())}


def test_unchanged_members_keep_stored_bytes_zipinfo_and_rows(pure_wheel: Path, pure_wheel_master: Path) -> None:
    """Dropping the bytecode rewrites the wheel: every other member keeps its stored bytes,
    time, permissions, compression and RECORD row, in the same order; the odd name round-trips
    through RECORD's CSV."""
    assert main(["strip", "--bytecode", "drop", str(pure_wheel)]) == 0
    check_wheel(pure_wheel)
    before, after = infos(pure_wheel_master), infos(pure_wheel)
    assert set(before) - set(after) == {PURE_PYC} and set(after) <= set(before)
    rows_before, rows_after = csv_rows(pure_wheel_master), csv_rows(pure_wheel)
    for name, new in after.items():
        info = before[name]
        assert (new.date_time, new.external_attr) == (info.date_time, info.external_attr), name
        if name == RECORD:
            continue
        assert new.compress_type == info.compress_type and new.CRC == info.CRC, name
        assert stored(pure_wheel, name) == stored(pure_wheel_master, name), name
        assert rows_after[name] == rows_before[name], name
    assert PURE_PYC not in rows_after and rows_after[RECORD] == [RECORD, "", ""]
    assert read(pure_wheel, ODD_NAME) == b"odd name\n"
    assert list(after) == [n for n in before if n != PURE_PYC]


def test_dist_info_goes_last_and_record_last_of_all(pure_wheel: Path, tmp_path: Path) -> None:
    """Whatever order the input has, the output puts ``.dist-info`` after the payload (in its
    order) and RECORD last."""
    shuffled = variant(pure_wheel, tmp_path / "shuffled" / pure_wheel.name, order=lambda names: names[::-1])
    assert next(iter(infos(shuffled))) == RECORD
    assert main(["strip", "--bytecode", "drop", str(shuffled)]) == 0
    check_wheel(shuffled)
    names = list(infos(shuffled))
    payload = [n for n in reversed(list(infos(pure_wheel))) if not n.startswith(DIST) and n != PURE_PYC]
    assert names == [*payload, f"{DIST}/WHEEL", f"{DIST}/METADATA", RECORD]


def test_new_members_are_dated_by_source_date_epoch(
    pure_wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same input, same bytes; new members are dated by SOURCE_DATE_EPOCH (clamped to 1980)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    one, two = tmp_path / "one", tmp_path / "two"
    for out in (one, two):
        assert main(["strip", "--bytecode", "compile", "-w", str(out), str(pure_wheel)]) == 0
    assert (one / pure_wheel.name).read_bytes() == (two / pure_wheel.name).read_bytes()
    assert infos(one / pure_wheel.name)[PURE_PYC].date_time == (2023, 11, 14, 22, 13, 20)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    three = tmp_path / "three"
    assert main(["strip", "--bytecode", "compile", "-w", str(three), str(pure_wheel)]) == 0
    assert infos(three / pure_wheel.name)[PURE_PYC].date_time == (1980, 1, 1, 0, 0, 0)


# --- with real binaries


@pytest.mark.slow
def test_unchanged_members_keep_bytes_and_zipinfo(demo_wheel: Path, demo_wheel_master: Path) -> None:
    """Every member that is not rewritten keeps its stored bytes, time, permissions, and its
    RECORD row; rewritten binaries keep time and permissions; the odd name round-trips through
    RECORD's CSV."""
    assert main(["strip", str(demo_wheel)]) == 0
    before, after = infos(demo_wheel_master), infos(demo_wheel)
    assert set(before) == set(after)
    rows_before, rows_after = rows(demo_wheel_master), rows(demo_wheel)
    for name, info in before.items():
        new = after[name]
        assert (new.date_time, new.external_attr) == (info.date_time, info.external_attr), name
        if name in BINARIES or name == RECORD:
            continue
        assert new.compress_type == info.compress_type and new.CRC == info.CRC, name
        assert stored(demo_wheel, name) == stored(demo_wheel_master, name), name
        if not name.startswith("demo/data/a,b"):
            assert rows_after[name] == rows_before[name], name
    assert read(demo_wheel, ODD_NAME) == b"odd name\n"
    payload = [n for n in after if not n.startswith(f"{DIST}/")]
    assert payload == [n for n in before if not n.startswith(f"{DIST}/")]


@pytest.mark.slow
def test_zip64_member_count(demo_tree: Path, tmp_path: Path) -> None:
    """More than 65,535 members: the output needs Zip64 end records, and stays valid. (The
    wheel is packed straight from memory: no file tree on disk.)"""
    files: dict[str, bytes] = {f"many/data/{i:05d}.txt": f"{i}\n".encode() for i in range(66_000)}
    files["many/libhelper.so"] = (demo_tree / "demo.libs" / "libhelper.so").read_bytes()
    wheel = pack(tmp_path / "dist", files, name="many", tag="py3-none-linux_x86_64", purelib=False)
    assert main(["strip", str(wheel)]) == 0
    check_wheel(wheel)
    data = wheel.read_bytes()
    assert b"PK\x06\x06" in data[-200:] and b"PK\x06\x07" in data[-200:]
    with zipfile.ZipFile(wheel) as archive:
        assert len(archive.infolist()) == 66_000 + 4
        assert ".symtab" not in section_names(archive.read("many/libhelper.so"))
