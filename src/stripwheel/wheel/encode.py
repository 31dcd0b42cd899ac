"""Encoding rewritten members for the zip: holding a member's contents (memory or a temporary
file), deflating new bytes on the pool, and reusing the input's compressed blocks for the
bytes a stripped binary or its debug file still has in the input's order (see ``deflate``)."""

from __future__ import annotations

import hashlib
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Optional, Protocol

from .. import _record, binaries
from .._blob import Blob
from . import deflate
from .source import Member, WheelSource
from .zip import CHUNK

#: Mapped bytes handed to a write (and the hash) at once.
VIEW = 16 << 20
#: Members up to this size are held in memory; larger ones are spooled to a temporary file.
IN_MEMORY = 32 << 20


class Encoded:
    """A rewritten member ready for the zip writer: CRC, sizes, RECORD hash, stored bytes."""

    crc: int
    file_size: int
    compress_size: int
    digest: str

    def chunks(self) -> Iterator[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class Spool(Encoded):
    """Freshly deflated output, spooled to a temporary file when large."""

    def __init__(self, chunks: Iterable[bytes], pool: Optional[ThreadPoolExecutor], level: int = deflate.LEVEL) -> None:
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)
        self.crc = self.file_size = self.compress_size = 0
        hasher = hashlib.sha256()

        def hashed() -> Iterator[bytes]:
            for chunk in chunks:
                hasher.update(chunk)
                self.crc = zlib.crc32(chunk, self.crc)
                self.file_size += len(chunk)
                yield chunk

        for data in deflate.deflate_stream(hashed(), pool, level=level):
            self._file.write(data)
            self.compress_size += len(data)
        self.digest = _record.encode_digest(hasher.digest())

    def chunks(self) -> Iterator[bytes]:
        self._file.seek(0)
        while True:
            chunk = self._file.read(CHUNK)
            if not chunk:
                break
            yield chunk

    def close(self) -> None:
        self._file.close()


class SplicedStream:
    """New head and tail around the input member's own compressed middle (see ``_deflate``),
    not yet known to decode to the intended bytes: :meth:`accept` or :meth:`check` makes it
    a :class:`Spliced` member."""

    def __init__(
        self, source: WheelSource, member: Member, splice: deflate.Splice, before: bytes, after: bytes
    ) -> None:
        self._source = source
        self._member = member
        self._before = before
        self._after = after
        first, last = splice.start.bit // 8, splice.end.bit // 8
        self._middle = (first + 1, last - first - 1)
        self.compress_size = len(before) + self._middle[1] + len(after)

    def chunks(self) -> Iterator[bytes]:
        yield self._before
        yield from self._source.raw(self._member, *self._middle)
        yield self._after

    def accept(self, contents: Iterable[bytes]) -> Spliced:
        """The member, with CRC, size and hash taken from ``contents``: the bytes the stream is
        known to decode to."""
        hasher = hashlib.sha256()
        crc = size = 0
        for chunk in contents:
            hasher.update(chunk)
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
        return Spliced(self, crc, size, _record.encode_digest(hasher.digest()))

    def check(self, expected_crc: int, expected_size: int) -> Optional[Spliced]:
        """Inflate the stream in full: the member, with the CRC and hash of what it gives, if
        that is exactly the intended bytes; else None."""
        inflater = zlib.decompressobj(-15)
        hasher = hashlib.sha256()
        crc = size = 0
        try:
            for chunk in self.chunks():
                while chunk:
                    out = inflater.decompress(chunk, CHUNK)
                    chunk = inflater.unconsumed_tail
                    size += len(out)
                    if size > expected_size:
                        return None
                    hasher.update(out)
                    crc = zlib.crc32(out, crc)
            out = inflater.flush()
        except zlib.error:
            return None
        size += len(out)
        crc = zlib.crc32(out, crc)
        hasher.update(out)
        if not inflater.eof or inflater.unused_data or size != expected_size or crc != expected_crc:
            return None
        return Spliced(self, crc, size, _record.encode_digest(hasher.digest()))


class Spliced(Encoded):
    """A spliced stream known to decode to the member's new contents (their CRC, size and hash)."""

    def __init__(self, stream: SplicedStream, crc: int, file_size: int, digest: str) -> None:
        self._stream = stream
        self.crc = crc
        self.file_size = file_size
        self.compress_size = stream.compress_size
        self.digest = digest

    def chunks(self) -> Iterator[bytes]:
        return self._stream.chunks()


class Layout(Protocol):
    """A rewritten file as pieces of its input: a stripped binary, or its debug file."""

    @property
    def pieces(self) -> tuple[binaries.Piece, ...]: ...

    @property
    def size(self) -> int: ...


@dataclass(frozen=True)
class Run:
    """Output bytes ``[start, end)`` are the input's bytes ``[start + shift, end + shift)``."""

    start: int
    end: int
    shift: int


def _identical_run(pieces: Iterable[binaries.Piece]) -> Run:
    """The longest output range made of one run of consecutive input bytes: a stripped
    binary's image stays at its own offsets (shift 0); a debug file holds the input's last
    sections, one after the other, earlier in the file."""
    best = Run(0, 0, 0)
    position = 0
    current: Optional[Run] = None
    for piece in pieces:
        length = binaries.piece_length(piece)
        if not isinstance(piece, binaries.Copy):
            current = None
        elif current is None or piece.offset != position + current.shift:
            current = Run(position, position, piece.offset - position)
        position += length
        if current is not None:
            current = Run(current.start, position, current.shift)
            if current.end - current.start > best.end - best.start:
                best = current
    return best


def _output_range(blob: Blob, pieces: Iterable[binaries.Piece], start: int, end: int) -> Iterator[bytes]:
    """Output bytes ``[start, end)`` of a file made of ``pieces``."""
    position = 0
    for piece in pieces:
        length = binaries.piece_length(piece)
        low, high = max(start, position), min(end, position + length)
        if low < high:
            if isinstance(piece, binaries.Copy):
                yield from blob.read(piece.offset + low - position, high - low)
            else:
                yield bytes(piece[low - position : high - position])
        position += length


def encode(
    source: WheelSource,
    member: Member,
    blob: Blob,
    result: Layout,
    boundaries: list[deflate.Boundary],
    pool: Optional[ThreadPoolExecutor],
    level: int = deflate.LEVEL,
) -> Encoded:
    """Deflate ``result`` (a file made of pieces of ``member``, read into ``blob``), reusing
    the member's compressed blocks where its bytes still follow each other; new bytes at
    ``level``."""
    pieces = result.pieces
    run = _identical_run(pieces)
    same = (run.start + run.shift, run.end + run.shift)  # in the input's offsets, as the boundaries are
    splice = deflate.plan_splice(boundaries, same)
    if splice is not None:
        first, last = (b"".join(source.raw(member, bit // 8, 1)) for bit in (splice.start.bit, splice.end.bit))
        start, end = splice.start.offset - run.shift, splice.end.offset - run.shift  # in the output's
        head = b"".join(deflate.deflate_stream(_output_range(blob, pieces, 0, start), pool, final=False, level=level))
        window = b"".join(blob.read(splice.end.offset - deflate.WINDOW, deflate.WINDOW))
        tail = b"".join(
            deflate.deflate_stream(_output_range(blob, pieces, end, result.size), pool, window, level=level)
        )
        before, after = deflate.spliced_parts(splice, head, first[0], last[0], tail)
        stream = SplicedStream(source, member, splice, before, after)
        # Checks the new head and tail only; the reused middle provably decodes as it did in
        # the input (see check_splice). None: that proof is out of reach, inflate it all.
        verdict = deflate.check_splice(
            splice,
            same,
            before,
            after,
            first[0],
            last[0],
            _output_range(blob, pieces, 0, start),
            window,
            _output_range(blob, pieces, end, result.size),
        )
        if verdict:
            return stream.accept(blob.pieces_of(pieces))
        if verdict is None:
            expected_crc = 0
            for chunk in blob.pieces_of(pieces):
                expected_crc = zlib.crc32(chunk, expected_crc)
            spliced = stream.check(expected_crc, result.size)
            if spliced is not None:
                return spliced
    return Spool(blob.pieces_of(pieces), pool, level)
