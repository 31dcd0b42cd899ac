"""The zip format itself: record layouts, positioned reads, and a deterministic member writer.

Nothing here knows about wheels or RECORD; ``source`` and ``destination`` build on it.
"""

from __future__ import annotations

import os
import struct
import threading
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Protocol

CHUNK = 1 << 20
LOCAL = struct.Struct("<4s5H3L2H")
CENTRAL = struct.Struct("<4s6H3L5H2L")
END = struct.Struct("<4s4H2LH")
END64 = struct.Struct("<4sQ2H2L4Q")
LOCATOR64 = struct.Struct("<4sLQL")
LOCAL_MAGIC = b"PK\x03\x04"
CENTRAL_MAGIC = b"PK\x01\x02"
END_MAGIC = b"PK\x05\x06"
END64_MAGIC = b"PK\x06\x06"
LOCATOR64_MAGIC = b"PK\x06\x07"
#: Where the name and extra-field lengths sit in an unpacked local header.
LOCAL_NAME_LEN, LOCAL_EXTRA_LEN = 9, 10
FLAG_ENCRYPTED = 0x1
FLAG_DESCRIPTOR = 0x8
FLAG_UTF8 = 0x800
#: "version needed to extract": 2.0 for deflate, 4.5 for Zip64 (APPNOTE 4.4.3).
VERSION_DEFLATE, VERSION_ZIP64 = 20, 45
ZIP64_TAG = 0x0001
U16_MAX = 0xFFFF
U32_MAX = 0xFFFFFFFF
#: The range of dates a zip entry can hold (DOS date: 1980 to 2107).
EPOCH_MIN, EPOCH_MAX = 315532800, 4354819198
_SEEK_LOCK = threading.Lock()


def pread(file: IO[bytes], size: int, offset: int) -> bytes:
    """Read at an offset without disturbing other readers of the same file (threads)."""
    if hasattr(os, "pread"):
        return os.pread(file.fileno(), size, offset)
    with _SEEK_LOCK:  # Windows has no pread
        file.seek(offset)
        return file.read(size)


def new_info(name: str, date_time: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    """The ``ZipInfo`` of a new member: an ordinary file dated by ``SOURCE_DATE_EPOCH`` when
    set (clamped to what zip can store), else ``date_time``."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        date_time = time.gmtime(min(max(int(epoch), EPOCH_MIN), EPOCH_MAX))[:6]
    info = zipfile.ZipInfo(name, date_time)
    info.external_attr = 0o100644 << 16
    info.create_system = 3  # Unix: external_attr holds the mode
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


@dataclass(frozen=True)
class Payload:
    """Stored bytes of one output member, with what its headers need."""

    compress_type: int
    crc: int
    compress_size: int
    file_size: int
    chunks: Iterable[bytes]


class Sink(Protocol):
    """Where the zip writer puts bytes: a file, or a counter for ``--dry-run``."""

    def write(self, data: bytes, /) -> int: ...


class ZipWriter:
    """A minimal, deterministic zip writer (Zip64 where sizes, offsets or counts need it)."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._offset = 0
        self._central: list[bytes] = []

    def _write(self, data: bytes) -> None:
        self._sink.write(data)
        self._offset += len(data)

    def add(self, template: zipfile.ZipInfo, payload: Payload) -> None:
        """Write one member: name, time, attributes and comment from ``template``."""
        name = template.filename.encode("utf-8")
        flags = template.flag_bits & ~(FLAG_DESCRIPTOR | FLAG_ENCRYPTED)
        if not template.filename.isascii():
            flags |= FLAG_UTF8
        extra = _strip_zip64(template.extra)
        dos_time, dos_date = _dos_datetime(template.date_time)
        header_offset = self._offset
        big_sizes = payload.file_size >= U32_MAX or payload.compress_size >= U32_MAX
        version = max(
            template.extract_version,
            VERSION_ZIP64 if big_sizes or header_offset >= U32_MAX else VERSION_DEFLATE,
        )
        local_extra = extra
        if big_sizes:
            local_extra = struct.pack("<2H2Q", ZIP64_TAG, 16, payload.file_size, payload.compress_size) + extra
        self._write(
            LOCAL.pack(
                LOCAL_MAGIC,
                version,
                flags,
                payload.compress_type,
                dos_time,
                dos_date,
                payload.crc,
                U32_MAX if big_sizes else payload.compress_size,
                U32_MAX if big_sizes else payload.file_size,
                len(name),
                len(local_extra),
            )
            + name
            + local_extra
        )
        written = 0
        for chunk in payload.chunks:
            self._write(chunk)
            written += len(chunk)
        if written != payload.compress_size:
            raise RuntimeError(f"{template.filename}: wrote {written} bytes, expected {payload.compress_size}")
        zip64: list[int] = []
        usize, csize, offset = payload.file_size, payload.compress_size, header_offset
        if usize >= U32_MAX:
            zip64.append(usize)
            usize = U32_MAX
        if csize >= U32_MAX:
            zip64.append(csize)
            csize = U32_MAX
        if offset >= U32_MAX:
            zip64.append(offset)
            offset = U32_MAX
        central_extra = extra
        if zip64:
            central_extra = struct.pack(f"<2H{len(zip64)}Q", ZIP64_TAG, 8 * len(zip64), *zip64) + extra
        comment = template.comment
        self._central.append(
            CENTRAL.pack(
                CENTRAL_MAGIC,
                template.create_version | (template.create_system << 8),
                version,
                flags,
                payload.compress_type,
                dos_time,
                dos_date,
                payload.crc,
                csize,
                usize,
                len(name),
                len(central_extra),
                len(comment),
                0,
                template.internal_attr,
                template.external_attr,
                offset,
            )
            + name
            + central_extra
            + comment
        )

    def close(self, comment: bytes = b"") -> None:
        """Write the central directory and the end records."""
        start = self._offset
        for entry in self._central:
            self._write(entry)
        size = self._offset - start
        count = len(self._central)
        if count >= U16_MAX or start >= U32_MAX or size >= U32_MAX:
            end64 = self._offset
            self._write(
                END64.pack(END64_MAGIC, END64.size - 12, VERSION_ZIP64, VERSION_ZIP64, 0, 0, count, count, size, start)
            )
            self._write(LOCATOR64.pack(LOCATOR64_MAGIC, 0, end64, 1))
            self._write(END.pack(END_MAGIC, 0, 0, U16_MAX, U16_MAX, U32_MAX, U32_MAX, len(comment)) + comment)
        else:
            self._write(END.pack(END_MAGIC, 0, 0, count, count, size, start, len(comment)) + comment)


def _strip_zip64(extra: bytes) -> bytes:
    """The extra field without its Zip64 record (rewritten as the output needs)."""
    out = bytearray()
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<2H", extra, i)
        if tag != ZIP64_TAG:
            out += extra[i : i + 4 + size]
        i += 4 + size
    return bytes(out)


def _dos_datetime(dt: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = dt
    year = min(max(year, 1980), 2107)
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


class CountingSink:
    """A write-only sink that keeps nothing: ``--dry-run`` still learns every size."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)
