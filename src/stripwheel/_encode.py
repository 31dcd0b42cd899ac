"""Encoding rewritten members for the zip: holding a member's contents (memory or a temporary
file), deflating new bytes on the pool, and reusing the input's compressed blocks for the
unchanged image of a stripped binary (see ``_deflate``)."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import mmap
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Optional

from . import _deflate, _record, binaries
from ._source import Member, WheelSource
from ._zip import CHUNK, pread

#: Mapped bytes handed to a write (and the hash) at once.
VIEW = 16 << 20
#: Members up to this size are held in memory; larger ones are spooled to a temporary file.
IN_MEMORY = 32 << 20


class Blob:
    """A binary's contents: bytes when small, else a mapped file (a temporary one holding an
    inflated member, or the file itself in an installed tree).

    Rewriters parse ``buf`` (bytes, or an mmap touched only where headers lie); bulk copies
    go through ``read`` (``pread``), so a 400 MB library never sits in memory.
    """

    def __init__(self, chunks: Iterable[bytes], size: int) -> None:
        self.size = size
        self._file: Optional[IO[bytes]] = None
        self._map: Optional[mmap.mmap] = None
        if size <= IN_MEMORY:
            self.buf: binaries.Buffer = b"".join(chunks)
            return
        self._file = tempfile.TemporaryFile()
        for chunk in chunks:
            self._file.write(chunk)
        self._file.flush()
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        self.buf = self._map

    @classmethod
    def mapped(cls, file: IO[bytes], size: int) -> Blob:
        """``file``'s contents without a copy, mapped read-only; the blob closes the file."""
        blob = cls((), 0)
        blob.size = size
        blob._file = file
        if size:
            blob._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            blob.buf = blob._map
        return blob

    def read(self, offset: int, length: int) -> Iterator[bytes]:
        if self._file is None:
            view = memoryview(self.buf)
            for start in range(offset, offset + length, CHUNK):
                yield bytes(view[start : min(start + CHUNK, offset + length)])
            return
        end = offset + length
        while offset < end:
            chunk = pread(self._file, min(CHUNK, end - offset), offset)
            if not chunk:
                raise OSError("file truncated while it was read")
            offset += len(chunk)
            yield chunk

    def views(self, result: binaries.Stripped) -> Iterator[bytes | memoryview]:
        """The output's pieces without copying a mapped input (slices of its memory)."""
        if self._map is None:
            yield from self.pieces(result)
            return
        whole = memoryview(self._map)
        try:
            for piece in result.pieces:
                if isinstance(piece, binaries.Copy):
                    end = piece.offset + piece.length
                    for start in range(piece.offset, end, VIEW):
                        with whole[start : min(start + VIEW, end)] as view:
                            yield view
                elif piece:
                    yield bytes(piece)
        finally:
            whole.release()

    def pieces(self, result: binaries.Stripped) -> Iterator[bytes]:
        """The rewritten file's bytes, in chunks."""
        return self.pieces_of(result.pieces)

    def pieces_of(self, pieces: Iterable[binaries.Piece]) -> Iterator[bytes]:
        """The bytes that ``pieces`` (of this input) stand for, in chunks."""
        for piece in pieces:
            if isinstance(piece, binaries.Copy):
                yield from self.read(piece.offset, piece.length)
            elif piece:
                yield bytes(piece)

    def close(self) -> None:
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:
                # A rewriter's view into the map is still alive in cyclic garbage: collect it
                # and try again; failing that, the map closes itself once that view is freed.
                gc.collect()
                with contextlib.suppress(BufferError):
                    self._map.close()
            self._map = None
            self.buf = b""
        if self._file is not None:
            self._file.close()
            self._file = None


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

    def __init__(self, chunks: Iterable[bytes], pool: Optional[ThreadPoolExecutor]) -> None:
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)
        self.crc = self.file_size = self.compress_size = 0
        hasher = hashlib.sha256()

        def hashed() -> Iterator[bytes]:
            for chunk in chunks:
                hasher.update(chunk)
                self.crc = zlib.crc32(chunk, self.crc)
                self.file_size += len(chunk)
                yield chunk

        for data in _deflate.deflate_stream(hashed(), pool):
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


class Spliced(Encoded):
    """New head and tail around the input member's own compressed middle (see ``_deflate``)."""

    def __init__(
        self, source: WheelSource, member: Member, splice: _deflate.Splice, before: bytes, after: bytes
    ) -> None:
        self._source = source
        self._member = member
        self._before = before
        self._after = after
        first, last = splice.start.bit // 8, splice.end.bit // 8
        self._middle = (first + 1, last - first - 1)
        self.compress_size = len(before) + self._middle[1] + len(after)
        self.crc = self.file_size = 0
        self.digest = ""

    def chunks(self) -> Iterator[bytes]:
        yield self._before
        yield from self._source.raw(self._member, *self._middle)
        yield self._after

    def accept(self, contents: Iterable[bytes]) -> None:
        """Take CRC, size and hash from ``contents``, the bytes the stream is known to decode to."""
        hasher = hashlib.sha256()
        crc = size = 0
        for chunk in contents:
            hasher.update(chunk)
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
        self.crc, self.file_size = crc, size
        self.digest = _record.encode_digest(hasher.digest())

    def check(self, expected_crc: int, expected_size: int) -> bool:
        """Inflate the spliced stream in full; take its CRC and hash only if it gives exactly
        the intended bytes."""
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
                        return False
                    hasher.update(out)
                    crc = zlib.crc32(out, crc)
            out = inflater.flush()
        except zlib.error:
            return False
        size += len(out)
        crc = zlib.crc32(out, crc)
        hasher.update(out)
        if not inflater.eof or inflater.unused_data or size != expected_size or crc != expected_crc:
            return False
        self.crc, self.file_size = crc, size
        self.digest = _record.encode_digest(hasher.digest())
        return True


def _identical_run(result: binaries.Stripped) -> tuple[int, int]:
    """The longest output range made of input bytes at their own offsets."""
    best = (0, 0)
    position = 0
    run_start: Optional[int] = None
    for piece in result.pieces:
        length = piece.length if isinstance(piece, binaries.Copy) else len(piece)
        if isinstance(piece, binaries.Copy) and piece.offset == position:
            if run_start is None:
                run_start = position
        else:
            run_start = None
        position += length
        if run_start is not None and position - run_start > best[1] - best[0]:
            best = (run_start, position)
    return best


def _output_range(blob: Blob, result: binaries.Stripped, start: int, end: int) -> Iterator[bytes]:
    """Output bytes ``[start, end)`` of a stripped file."""
    position = 0
    for piece in result.pieces:
        length = piece.length if isinstance(piece, binaries.Copy) else len(piece)
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
    result: binaries.Stripped,
    boundaries: list[_deflate.Boundary],
    pool: Optional[ThreadPoolExecutor],
) -> Encoded:
    """Deflate the output, reusing the input's compressed blocks where they still fit."""
    same = _identical_run(result)
    splice = _deflate.plan_splice(boundaries, same)
    if splice is not None:
        first, last = (b"".join(source.raw(member, bit // 8, 1)) for bit in (splice.start.bit, splice.end.bit))
        head = b"".join(_deflate.deflate_stream(_output_range(blob, result, 0, splice.start.offset), pool, final=False))
        window = b"".join(blob.read(splice.end.offset - _deflate.WINDOW, _deflate.WINDOW))
        tail = b"".join(
            _deflate.deflate_stream(_output_range(blob, result, splice.end.offset, result.size), pool, window)
        )
        before, after = _deflate.spliced_parts(splice, head, first[0], last[0], tail)
        spliced = Spliced(source, member, splice, before, after)
        # Checks the new head and tail only; the reused middle provably decodes as it did in
        # the input (see check_splice). None: that proof is out of reach, inflate it all.
        verdict = _deflate.check_splice(
            splice,
            same,
            before,
            after,
            first[0],
            last[0],
            _output_range(blob, result, 0, splice.start.offset),
            window,
            _output_range(blob, result, splice.end.offset, result.size),
        )
        if verdict:
            spliced.accept(blob.pieces(result))
            return spliced
        if verdict is None:
            expected_crc = 0
            for chunk in blob.pieces(result):
                expected_crc = zlib.crc32(chunk, expected_crc)
            if spliced.check(expected_crc, result.size):
                return spliced
    return Spool(blob.pieces(result), pool)
