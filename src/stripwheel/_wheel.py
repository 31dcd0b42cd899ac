"""Zip in and zip out: the only module that opens wheel archives.

Reading checks the archive against its RECORD before anything is written; writing copies
unchanged members as raw compressed bytes with their original ``ZipInfo`` and writes each
new member from a stream whose CRC, sizes and hash are known before its local header.
"""

from __future__ import annotations

import os
import struct
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from . import _deflate, _record
from ._errors import WheelError
from ._record import Row

CHUNK = 1 << 20
#: Members of the RECORD family that are not listed in RECORD itself.
SIGNATURES = ("RECORD.jws", "RECORD.p7s")
_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR64 = struct.Struct("<4sLQL")
_FLAG_ENCRYPTED = 0x1
_FLAG_DESCRIPTOR = 0x8
_FLAG_UTF8 = 0x800
_U32 = 0xFFFFFFFF
_SEEK_LOCK = threading.Lock()


def pread(file: IO[bytes], size: int, offset: int) -> bytes:
    """Read at an offset without disturbing other readers of the same file (threads)."""
    if hasattr(os, "pread"):
        return os.pread(file.fileno(), size, offset)
    with _SEEK_LOCK:  # Windows has no pread
        file.seek(offset)
        return file.read(size)


@dataclass(frozen=True)
class Member:
    """One archive member as read from the input: its ``ZipInfo`` and where its data lies."""

    info: zipfile.ZipInfo
    data_offset: int
    row: Row | None

    @property
    def name(self) -> str:
        return self.info.filename

    @property
    def is_dir(self) -> bool:
        return self.info.filename.endswith("/")


class WheelReader:
    """An opened input wheel whose structure and RECORD rows have been checked.

    Member *contents* are checked against RECORD while they are streamed (``inflate``),
    so every byte is read once.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = path.name
        try:
            self.name, self.version, _, self.tags = parse_wheel_filename(path.name)
        except InvalidWheelFilename as exc:
            raise WheelError(self.label, f"not a wheel file name ({exc})") from None
        try:
            self._file: BinaryIO = open(path, "rb")
        except OSError as exc:
            raise WheelError(self.label, f"cannot read: {exc.strerror or exc}") from None
        try:
            self._open()
        except BaseException:
            self._file.close()
            raise

    def _open(self) -> None:
        try:
            with zipfile.ZipFile(self._file) as archive:
                infos = archive.infolist()
                self.comment = archive.comment
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            raise WheelError(self.label, f"not a valid zip archive ({exc})") from None
        self.size = os.fstat(self._file.fileno()).st_size
        seen: set[str] = set()
        for info in infos:
            self._check_name(info, seen)
        self.top_level = sorted({name.split("/", 1)[0] for name in seen if "/" in name})
        self.dist_info = self._find_dist_info(seen)
        record_name = f"{self.dist_info}/RECORD"
        rows = self._read_record(infos, record_name)
        self.rows = rows
        self.record_name = record_name
        self.members = self._match(infos, rows, record_name)
        self.total_size = sum(m.info.file_size for m in self.members)

    def _check_name(self, info: zipfile.ZipInfo, seen: set[str]) -> None:
        name = info.filename
        if name in seen:
            raise WheelError(self.label, "duplicate member name in the archive", name)
        seen.add(name)
        parts = name.split("/")
        if (
            name.startswith("/")
            or "\\" in name
            or ".." in parts
            or (len(parts[0]) >= 2 and parts[0][1] == ":")
            or "\x00" in name
        ):
            raise WheelError(self.label, "unsafe path (absolute, '..' or backslash)", name)
        if any(c in name for c in _record.LINE_BREAKS):
            raise WheelError(self.label, "name contains a line break that RECORD cannot carry", name)
        if info.flag_bits & _FLAG_ENCRYPTED:
            raise WheelError(self.label, "encrypted member", name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise WheelError(self.label, f"compression method {info.compress_type} is not allowed in a wheel", name)

    def _find_dist_info(self, names: set[str]) -> str:
        candidates = sorted(
            {n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info") and "/" in n}
        )
        wanted = [c for c in candidates if canonicalize_name(c[: -len(".dist-info")].rsplit("-", 1)[0]) == self.name]
        if not wanted:
            raise WheelError(self.label, f"no {self.name}-{self.version}.dist-info directory")
        if len(wanted) > 1:
            raise WheelError(self.label, "more than one .dist-info directory: " + ", ".join(wanted))
        dist_info = wanted[0]
        for required in ("WHEEL", "RECORD"):
            if f"{dist_info}/{required}" not in names:
                raise WheelError(self.label, f"missing {dist_info}/{required}")
        return dist_info

    def _read_record(self, infos: list[zipfile.ZipInfo], record_name: str) -> list[Row]:
        info = next(i for i in infos if i.filename == record_name)
        if info.file_size > 64 << 20:
            raise WheelError(self.label, "RECORD is implausibly large", record_name)
        member = Member(info, self._data_offset(info), None)
        data = b"".join(self.inflate(member))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise WheelError(self.label, "RECORD is not UTF-8", record_name) from None
        rows, problems = _record.parse(text)
        if problems:
            raise WheelError(self.label, problems[0], record_name)
        return rows

    def _match(self, infos: list[zipfile.ZipInfo], rows: list[Row], record_name: str) -> list[Member]:
        by_path: dict[str, Row] = {}
        for row in rows:
            if row.path in by_path:
                raise WheelError(self.label, "RECORD lists this path twice", row.path)
            by_path[row.path] = row
        present = {i.filename for i in infos}
        for row in rows:
            if row.path not in present:
                raise WheelError(self.label, "RECORD names a member the archive does not have", row.path)
        members = []
        unrecorded = {record_name} | {f"{self.dist_info}/{s}" for s in SIGNATURES}
        for info in infos:
            found = by_path.get(info.filename)
            if info.filename.endswith("/"):
                if info.file_size:
                    raise WheelError(self.label, "directory entry with contents", info.filename)
            elif info.filename not in unrecorded:
                if found is None:
                    raise WheelError(self.label, "member is missing from RECORD", info.filename)
                if found.algorithm is None:
                    raise WheelError(self.label, "RECORD row has no hash", info.filename)
                if found.size != info.file_size:
                    raise WheelError(
                        self.label,
                        f"size {info.file_size} does not match RECORD ({found.size})",
                        info.filename,
                    )
            members.append(Member(info, self._data_offset(info), found))
        return members

    def _data_offset(self, info: zipfile.ZipInfo) -> int:
        header = pread(self._file, _LOCAL.size, info.header_offset)
        if len(header) != _LOCAL.size or header[:4] != b"PK\x03\x04":
            raise WheelError(self.label, "bad local header (truncated archive?)", info.filename)
        fields = _LOCAL.unpack(header)
        name_len, extra_len = fields[9], fields[10]
        offset: int = info.header_offset + _LOCAL.size + name_len + extra_len
        if offset + info.compress_size > self.size:
            raise WheelError(self.label, "member data runs past the end of the archive", info.filename)
        return offset

    def raw(self, member: Member, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The member's stored (compressed) bytes, or ``length`` of them from ``start``, in chunks."""
        offset = member.data_offset + start
        remaining = member.info.compress_size - start if length is None else length
        while remaining:
            chunk = pread(self._file, min(CHUNK, remaining), offset)
            if not chunk:
                raise WheelError(self.label, "archive truncated", member.name)
            offset += len(chunk)
            remaining -= len(chunk)
            yield chunk

    def inflate(self, member: Member, boundaries: list[_deflate.Boundary] | None = None) -> Iterator[bytes]:
        """The member's contents, in chunks, checked against its CRC and declared size.

        Inflation is bounded by the declared size, so a deflate bomb costs no more memory
        or time than an honest member of that size. With ``boundaries``, deflate block
        boundaries are noted there where the system zlib can tell them.
        """
        info = member.info
        expected = info.file_size
        crc = 0
        total = 0
        deflated = info.compress_type == zipfile.ZIP_DEFLATED
        raw = self.raw(member)
        if deflated and boundaries is not None and _deflate.can_index():
            raw = _deflate.inflate_indexed(raw, boundaries)
            deflated = False  # already inflated: the loop below only checks
        inflater = zlib.decompressobj(-15) if deflated else None
        try:
            for chunk in raw:
                pending = chunk
                while pending:
                    if inflater is None:
                        out, pending = pending, b""
                    else:
                        out = inflater.decompress(pending, CHUNK)
                        pending = inflater.unconsumed_tail
                        if inflater.eof and (pending or inflater.unused_data):
                            raise WheelError(self.label, "data after the end of the deflate stream", member.name)
                    total += len(out)
                    if total > expected:
                        raise WheelError(
                            self.label, f"inflates past its declared size of {expected} bytes", member.name
                        )
                    crc = zlib.crc32(out, crc)
                    if out:
                        yield out
            if inflater is not None:
                tail = inflater.flush()
                total += len(tail)
                if tail:
                    crc = zlib.crc32(tail, crc)
                    yield tail
                if not inflater.eof:
                    raise WheelError(self.label, "deflate stream is truncated", member.name)
        except zlib.error as exc:
            raise WheelError(self.label, f"corrupt deflate data ({exc})", member.name) from None
        if total != expected:
            raise WheelError(self.label, f"inflates to {total} bytes, not the declared {expected}", member.name)
        if crc != info.CRC:
            raise WheelError(self.label, "CRC-32 mismatch (corrupt member)", member.name)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> WheelReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- writing


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
        flags = template.flag_bits & ~(_FLAG_DESCRIPTOR | _FLAG_ENCRYPTED)
        if not template.filename.isascii():
            flags |= _FLAG_UTF8
        extra = _strip_zip64(template.extra)
        dos_time, dos_date = _dos_datetime(template.date_time)
        header_offset = self._offset
        big_sizes = payload.file_size >= _U32 or payload.compress_size >= _U32
        version = max(template.extract_version, 45 if big_sizes or header_offset >= _U32 else 20)
        local_extra = extra
        if big_sizes:
            local_extra = struct.pack("<2H2Q", 1, 16, payload.file_size, payload.compress_size) + extra
        self._write(
            _LOCAL.pack(
                b"PK\x03\x04",
                version,
                flags,
                payload.compress_type,
                dos_time,
                dos_date,
                payload.crc,
                _U32 if big_sizes else payload.compress_size,
                _U32 if big_sizes else payload.file_size,
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
        if usize >= _U32:
            zip64.append(usize)
            usize = _U32
        if csize >= _U32:
            zip64.append(csize)
            csize = _U32
        if offset >= _U32:
            zip64.append(offset)
            offset = _U32
        central_extra = extra
        if zip64:
            central_extra = struct.pack(f"<2H{len(zip64)}Q", 1, 8 * len(zip64), *zip64) + extra
        comment = template.comment
        self._central.append(
            _CENTRAL.pack(
                b"PK\x01\x02",
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
        if count >= 0xFFFF or start >= _U32 or size >= _U32:
            end64 = self._offset
            self._write(_END64.pack(b"PK\x06\x06", _END64.size - 12, 45, 45, 0, 0, count, count, size, start))
            self._write(_LOCATOR64.pack(b"PK\x06\x07", 0, end64, 1))
            self._write(_END.pack(b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, _U32, _U32, len(comment)) + comment)
        else:
            self._write(_END.pack(b"PK\x05\x06", 0, 0, count, count, size, start, len(comment)) + comment)


def _strip_zip64(extra: bytes) -> bytes:
    """The extra field without its Zip64 record (rewritten as the output needs)."""
    out = bytearray()
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<2H", extra, i)
        if tag != 1:
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


def atomic_output(target: Path, mode: int | None) -> tuple[IO[bytes], Path]:
    """A temporary file beside ``target``, to be renamed over it once complete."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(name, mode & 0o7777)
    return os.fdopen(fd, "wb"), Path(name)
