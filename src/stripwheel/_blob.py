"""A binary's contents held for the rewriters: bytes when small, else a mapped temporary file,
so a 400 MB library never sits in memory and the file it came from is never mapped."""

from __future__ import annotations

import contextlib
import gc
import mmap
import os
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Optional

from . import binaries

#: Bytes read or hashed at once.
CHUNK = 1 << 20
#: Mapped bytes handed to a write (and the hash) at once.
VIEW = 16 << 20
#: Contents up to this size are held in memory; larger ones are spooled to a temporary file.
IN_MEMORY = 32 << 20


class Shrank(OSError):
    """The file held fewer bytes than it did when it was listed."""

    def __init__(self, read: int) -> None:
        super().__init__(f"it shrank while it was read (only {read:,} B left)")


class Blob:
    """A binary's contents: bytes when small, else a mapped temporary file of ours (an inflated
    member, or a copy of a tree's file: never the tree's file itself).

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
        """``file``'s contents without a copy, mapped read-only; the blob closes the file. Only
        for files nobody else can change (a temporary file of ours): a mapped file that
        another process truncates kills the reader with SIGBUS."""
        blob = cls((), 0)
        blob.size = size
        blob._file = file
        if size:
            blob._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            blob.buf = blob._map
        return blob

    @classmethod
    def snapshot(cls, fd: int, size: int) -> Blob:
        """A private copy of the first ``size`` bytes of the open file ``fd`` (a file of a tree,
        which other processes may change or truncate while we work): read into memory when
        small, else copied by the kernel into a temporary file that is then mapped. Raises
        :class:`Shrank` when the file holds fewer bytes than ``size``."""
        if size <= IN_MEMORY:
            data = bytearray(size)
            view = memoryview(data)
            done = 0
            while done < size:
                got = os.preadv(fd, [view[done:]], done)
                if got <= 0:
                    raise Shrank(done)
                done += got
            view.release()
            blob = cls((), 0)
            blob.size, blob.buf = size, data
            return blob
        copy = tempfile.TemporaryFile()
        try:
            done = 0
            while done < size:
                got = os.sendfile(copy.fileno(), fd, done, min(size - done, 1 << 30))
                if got <= 0:
                    raise Shrank(done)
                done += got
            return cls.mapped(copy, size)
        except BaseException:
            copy.close()
            raise

    def read(self, offset: int, length: int) -> Iterator[bytes]:
        if self._file is None:
            view = memoryview(self.buf)
            for start in range(offset, offset + length, CHUNK):
                yield bytes(view[start : min(start + CHUNK, offset + length)])
            return
        end = offset + length
        while offset < end:
            chunk = os.pread(self._file.fileno(), min(CHUNK, end - offset), offset)
            if not chunk:
                raise OSError("file truncated while it was read")
            offset += len(chunk)
            yield chunk

    def views(self, result: binaries.Stripped) -> Iterator[bytes | memoryview]:
        """The output's pieces without copying a mapped input (slices of its memory)."""
        if self._map is None and not isinstance(self.buf, bytearray):
            yield from self.pieces(result)
            return
        whole = memoryview(self._map if self._map is not None else self.buf)
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
