"""The input wheel: opened, its structure and RECORD checked before anything is written, and
each member's contents streamed and checked against RECORD as they are read."""

from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from .. import _record
from .._errors import WheelError
from .._record import SIGNATURES, Row
from . import deflate
from .zip import CHUNK, FLAG_ENCRYPTED, LOCAL, LOCAL_EXTRA_LEN, LOCAL_MAGIC, LOCAL_NAME_LEN, pread

#: RECORD larger than this is not a RECORD.
MAX_RECORD = 64 << 20


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


class WheelSource:
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
        if info.flag_bits & FLAG_ENCRYPTED:
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
        if info.file_size > MAX_RECORD:
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
        header = pread(self._file, LOCAL.size, info.header_offset)
        if len(header) != LOCAL.size or header[:4] != LOCAL_MAGIC:
            raise WheelError(self.label, "bad local header (truncated archive?)", info.filename)
        fields = LOCAL.unpack(header)
        name_len, extra_len = fields[LOCAL_NAME_LEN], fields[LOCAL_EXTRA_LEN]
        offset: int = info.header_offset + LOCAL.size + name_len + extra_len
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

    def inflate(self, member: Member, boundaries: list[deflate.Boundary] | None = None) -> Iterator[bytes]:
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
        if deflated and boundaries is not None and deflate.can_index():
            raw = deflate.inflate_indexed(raw, boundaries)
            if expected >= deflate.READ_AHEAD_FROM:
                raw = deflate.read_ahead(raw)
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

    def head(self, member: Member, size: int) -> bytes:
        """The first ``size`` bytes of the member's contents (fewer if it is shorter), inflating
        no more than it takes: enough for the plan to recognise a binary by its magic."""
        info = member.info
        if info.compress_type == zipfile.ZIP_STORED:
            return b"".join(self.raw(member, 0, min(size, info.compress_size)))
        inflater = zlib.decompressobj(-15)
        out = b""
        offset = 0
        try:
            while len(out) < size and offset < info.compress_size and not inflater.eof:
                step = min(HEAD_STEP, info.compress_size - offset)
                # Input is left unconsumed only once ``size`` bytes are out, which ends the loop.
                out += inflater.decompress(b"".join(self.raw(member, offset, step)), size - len(out))
                offset += step
        except zlib.error:
            return b""  # the full read reports the corruption, with the member's name
        return out[:size]

    def open(self, member: Member, boundaries: list[deflate.Boundary] | None = None) -> CheckedStream:
        """The member's contents as a stream checked against its CRC, size and RECORD hash.

        Use it as a context manager: leaving the block normally reads whatever the consumer
        left unread, so every member is checked in full whatever is done with it.
        """
        return CheckedStream(self, member, boundaries)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> WheelSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Compressed bytes read per step when peeking at a member's first bytes.
HEAD_STEP = 4096


class CheckedStream:
    """One member's contents, read once, checked against RECORD when fully read."""

    def __init__(self, source: WheelSource, member: Member, boundaries: list[deflate.Boundary] | None) -> None:
        self.member = member
        self._label = source.label
        self._chunks = source.inflate(member, boundaries)
        row = member.row
        # RECORD's own row and the signature files have no hash: the CRC check is theirs.
        self._hasher = hashlib.new(row.algorithm) if row is not None and row.algorithm is not None else None
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            if self._hasher is not None:
                self._hasher.update(chunk)
            yield chunk
        self._check()

    def read(self) -> bytes:
        """All of the (remaining) contents."""
        return b"".join(self)

    def finish(self) -> None:
        """Read what is left and check the whole member."""
        if not self._done:
            for _ in self:
                pass

    def _check(self) -> None:
        self._done = True
        row = self.member.row
        if self._hasher is not None and row is not None and _record.encode_digest(self._hasher.digest()) != row.digest:
            raise WheelError(self._label, f"{row.algorithm} hash does not match RECORD", self.member.name)

    def __enter__(self) -> CheckedStream:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.finish()
