"""Pins ``_zip``: members read back by zipfile, Zip64 end records by count, DOS dates, new_info."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest

from stripwheel.wheel.zip import U16_MAX, CountingSink, Payload, ZipWriter, _strip_zip64, new_info


def stored_payload(data: bytes) -> Payload:
    return Payload(zipfile.ZIP_STORED, zlib.crc32(data), len(data), len(data), [data])


def deflated_payload(data: bytes) -> Payload:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    packed = c.compress(data) + c.flush()
    return Payload(zipfile.ZIP_DEFLATED, zlib.crc32(data), len(packed), len(data), [packed])


def test_members_read_back_with_their_zipinfo() -> None:
    """Name (UTF-8 flagged when not ASCII), time, permissions, comment and contents survive;
    a Zip64 extra in the template is not carried over."""
    out = io.BytesIO()
    writer = ZipWriter(out)
    template = zipfile.ZipInfo("pkg/caf\u00e9.txt", (2021, 6, 7, 8, 9, 10))
    template.external_attr = 0o100755 << 16
    template.create_system = 3
    template.comment = b"a comment"
    template.extra = struct.pack("<2HQ", 0x0001, 8, 5) + struct.pack("<2H3s", 0xCAFE, 3, b"abc")
    writer.add(template, deflated_payload(b"hello " * 100))
    writer.add(zipfile.ZipInfo("pkg/raw.bin", (1980, 1, 1, 0, 0, 0)), stored_payload(b"\0\1\2"))
    writer.close(b"archive comment")
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        assert archive.testzip() is None and archive.comment == b"archive comment"
        first, second = archive.infolist()
        assert first.filename == "pkg/caf\u00e9.txt" and first.flag_bits & 0x800
        assert (first.date_time, first.external_attr >> 16, first.comment) == (
            (2021, 6, 7, 8, 9, 10),
            0o100755,
            b"a comment",
        )
        assert first.extra == struct.pack("<2H3s", 0xCAFE, 3, b"abc")
        assert archive.read(first) == b"hello " * 100
        assert (second.compress_type, archive.read(second)) == (zipfile.ZIP_STORED, b"\0\1\2")


def test_zip64_end_records_for_more_than_65535_members() -> None:
    """A count that does not fit the classic end record gets Zip64 end records, and zipfile
    finds every member (the count test of the real wheel is in test_destination)."""
    out = io.BytesIO()
    writer = ZipWriter(out)
    for i in range(U16_MAX + 1):
        writer.add(zipfile.ZipInfo(f"d/{i}", (2020, 1, 1, 0, 0, 0)), stored_payload(b""))
    writer.close()
    data = out.getvalue()
    assert b"PK\x06\x06" in data[-100:] and b"PK\x06\x07" in data[-100:]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
    assert len(names) == U16_MAX + 1 and names[-1] == f"d/{U16_MAX}"


def test_no_zip64_below_the_limit() -> None:
    out = io.BytesIO()
    writer = ZipWriter(out)
    writer.add(zipfile.ZipInfo("a", (2020, 1, 1, 0, 0, 0)), stored_payload(b"a"))
    writer.close()
    assert b"PK\x06\x06" not in out.getvalue()


def test_dates_outside_dos_range_are_clamped() -> None:
    """zip stores years 1980 to 2107: earlier and later dates are clamped, not wrapped."""
    out = io.BytesIO()
    writer = ZipWriter(out)
    for name, year in (("old", 1970), ("late", 2150)):
        template = zipfile.ZipInfo(name)
        template.date_time = (year, 1, 1, 0, 0, 0)  # the constructor refuses years before 1980
        writer.add(template, stored_payload(b""))
    writer.close()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        assert [i.date_time[0] for i in archive.infolist()] == [1980, 2107]


def test_a_payload_of_the_wrong_size_is_refused() -> None:
    writer = ZipWriter(CountingSink())
    with pytest.raises(RuntimeError, match="wrote 3 bytes, expected 4"):
        writer.add(zipfile.ZipInfo("a"), Payload(zipfile.ZIP_STORED, 0, 4, 4, [b"abc"]))


@pytest.mark.parametrize(
    ("epoch", "date_time"),
    [
        (None, (2001, 2, 3, 4, 5, 6)),
        ("1700000000", (2023, 11, 14, 22, 13, 20)),
        ("0", (1980, 1, 1, 0, 0, 0)),
        ("99999999999", (2107, 12, 31, 23, 59, 58)),
        ("not a number", (2001, 2, 3, 4, 5, 6)),
    ],
)
def test_new_info_dates(monkeypatch: pytest.MonkeyPatch, epoch: str | None, date_time: tuple[int, ...]) -> None:
    """SOURCE_DATE_EPOCH dates new members when set (clamped to what zip can hold)."""
    if epoch is None:
        monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    else:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    info = new_info("pkg/new.pyc", (2001, 2, 3, 4, 5, 6))
    assert info.date_time == date_time
    assert (info.external_attr >> 16, info.compress_type) == (0o100644, zipfile.ZIP_DEFLATED)


def test_strip_zip64_keeps_the_other_extra_records() -> None:
    other = struct.pack("<2H2s", 0x7875, 2, b"xy")
    assert _strip_zip64(other + struct.pack("<2HQ", 0x0001, 8, 1) + other) == other + other
    assert _strip_zip64(b"") == b""
