"""Deflate streams: parallel compression, and reuse of an input member's compressed bytes.

A stripped binary is mostly its original bytes at their original offsets (the allocated
image), with new headers in front and a short tail; its debug file is mostly the input's last
sections (symbol and debug tables), one after the other. Recompressing hundreds of megabytes of
unchanged image dominates the cost of a rewrite, so while a member is inflated we note where
its deflate blocks begin (``Z_BLOCK``, through the system zlib via ``ctypes``; without it the
reuse is simply skipped), and the output stream is spliced from:

    deflate(new head) | empty blocks to match bit phase | original blocks | alignment | deflate(new tail)

Deflate blocks may refer back 32 KiB, so the reused run starts at least 32 KiB into a range
of the input that the output holds in one piece, and the tail is compressed with that window as its
dictionary. Before it is used, the spliced stream is shown to decode to the intended bytes
(``check_splice``): the new head and tail are inflated and compared, and the reused middle
needs no inflating because it decodes as it did in the input (see there for why).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import queue
import sys
import threading
import zlib
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

#: Deflate level of new data: zipfile's default, what wheel builders use.
LEVEL = 6
#: Large inputs are deflated in chunks of this size on several threads.
CHUNK = 4 << 20
WINDOW = 32768
#: Below this, splicing is not worth its bookkeeping.
MIN_REUSE = 128 << 10
#: Members at least this large are inflated on a thread of their own (``read_ahead``).
READ_AHEAD_FROM = 64 << 20


def deflate(data: bytes, window: bytes = b"", final: bool = True, level: int = LEVEL) -> bytes:
    """One piece of a raw deflate stream; pieces joined in order form one valid stream.

    A piece is primed with the previous 32 KiB, so back-references work across pieces,
    and ends on a byte boundary (``Z_SYNC_FLUSH``) unless it is the last (``Z_FINISH``).
    """
    if window:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15, zdict=window)
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)


def deflate_stream(
    chunks: Iterable[bytes],
    pool: Optional[ThreadPoolExecutor],
    window: bytes = b"",
    final: bool = True,
    level: int = LEVEL,
) -> Iterator[bytes]:
    """Compress ``chunks`` as one raw deflate stream, ``CHUNK`` bytes per task on ``pool``;
    with ``final=False`` the stream stays open, ending on a byte boundary."""
    pending: list[Future[bytes]] = []
    buffered: list[bytes] = []
    size = 0

    def submit(data: bytes, final: bool) -> None:
        nonlocal window
        if pool is None or len(data) < CHUNK:
            future: Future[bytes] = Future()
            future.set_result(deflate(data, window, final, level))
        else:
            future = pool.submit(deflate, data, window, final, level)
        pending.append(future)
        window = (window + data)[-WINDOW:] if len(data) < WINDOW else data[-WINDOW:]

    for chunk in chunks:
        buffered.append(chunk)
        size += len(chunk)
        if size >= CHUNK:
            submit(b"".join(buffered), False)
            buffered, size = [], 0
            while len(pending) > 3:
                yield pending.pop(0).result()
    submit(b"".join(buffered), final)
    for future in pending:
        yield future.result()


# --- block boundaries through the system zlib


class _ZStream(ctypes.Structure):
    _fields_ = [
        ("next_in", ctypes.c_void_p),
        ("avail_in", ctypes.c_uint),
        ("total_in", ctypes.c_ulong),
        ("next_out", ctypes.c_void_p),
        ("avail_out", ctypes.c_uint),
        ("total_out", ctypes.c_ulong),
        ("msg", ctypes.c_char_p),
        ("state", ctypes.c_void_p),
        ("zalloc", ctypes.c_void_p),
        ("zfree", ctypes.c_void_p),
        ("opaque", ctypes.c_void_p),
        ("data_type", ctypes.c_int),
        ("adler", ctypes.c_ulong),
        ("reserved", ctypes.c_ulong),
    ]


_Z_OK, _Z_STREAM_END, _Z_BUF_ERROR, _Z_NO_FLUSH, _Z_BLOCK = 0, 1, -5, 0, 5
# What inflate(Z_BLOCK) reports in ``data_type`` (zlib.h): the number of unused bits in the last
# byte consumed, whether it stopped at the end of a block, and whether that was the last block.
_DT_UNUSED_BITS, _DT_LAST_BLOCK, _DT_BLOCK_END = 7, 64, 128
#: Output buffer of the splice checks.
CHECK_OUT = 1 << 20


def _load_zlib() -> Optional[ctypes.CDLL]:
    names = {"linux": ["libz.so.1"], "darwin": ["libz.1.dylib", "libz.dylib"]}.get(sys.platform, [])
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        return None
    try:
        lib.zlibVersion.restype = ctypes.c_char_p
        lib.inflateInit2_.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.inflate.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.inflateEnd.argtypes = [ctypes.c_void_p]
        if not lib.zlibVersion().startswith(b"1."):
            return None
    except AttributeError:
        return None
    return lib


def _load_check(lib: Optional[ctypes.CDLL]) -> bool:
    """Declare what the splice check needs (zlib >= 1.2.2.4); without it the check inflates
    the whole spliced stream instead."""
    if lib is None:
        return False
    try:
        lib.inflatePrime.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.inflateSetDictionary.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint]
    except AttributeError:
        return False
    return True


_ZLIB = _load_zlib()
_CAN_CHECK = _load_check(_ZLIB)


@dataclass(frozen=True)
class Boundary:
    """A deflate block starts ``bit`` bits into the stream, at output offset ``offset``."""

    offset: int
    bit: int


def _raw_inflater(lib: ctypes.CDLL) -> Optional[_ZStream]:
    """A zlib stream set up to inflate raw deflate data (end it with ``inflateEnd``), or None."""
    stream = _ZStream()
    if lib.inflateInit2_(ctypes.byref(stream), -15, lib.zlibVersion(), ctypes.sizeof(stream)) != _Z_OK:
        return None
    return stream


def can_index() -> bool:
    return _ZLIB is not None


def inflate_indexed(raw: Iterable[bytes], boundaries: list[Boundary], out_size: int = 1 << 20) -> Iterator[bytes]:
    """Inflate a raw deflate stream like ``zlib.decompressobj(-15)``, appending every block
    boundary (but the end of the last block) to ``boundaries``."""
    lib = _ZLIB
    if lib is None:
        raise RuntimeError("inflate_indexed needs the system zlib (check can_index() first)")
    raw = iter(raw)
    stream = _raw_inflater(lib)
    if stream is None:
        raise zlib.error("inflateInit2 failed")
    out = ctypes.create_string_buffer(out_size)
    filled = 0  # bytes of ``out`` not handed on yet

    def run() -> Iterator[bytes]:
        """Inflate what input there is; stops when it needs more. Returns at stream end.

        Output is handed on in whole buffers, not per block (``Z_BLOCK`` stops at each, every
        ~100 KB): fewer, larger chunks for the CRC, the hash and the spool downstream.
        """
        nonlocal filled
        while True:
            room = out_size - filled
            stream.next_out = ctypes.addressof(out) + filled
            stream.avail_out = room
            ret = lib.inflate(ctypes.byref(stream), _Z_BLOCK)
            produced = room - stream.avail_out
            filled += produced
            if filled == out_size or (ret == _Z_STREAM_END and filled):
                yield ctypes.string_at(out, filled)
                filled = 0
            if ret == _Z_STREAM_END:
                raise _End
            if ret not in (_Z_OK, _Z_BUF_ERROR):
                raise zlib.error((stream.msg or b"inflate failed").decode(errors="replace"))
            flags = stream.data_type
            if flags & _DT_BLOCK_END and not flags & _DT_LAST_BLOCK:
                bit = stream.total_in * 8 - (flags & _DT_UNUSED_BITS)
                if not boundaries or boundaries[-1].bit != bit:
                    boundaries.append(Boundary(stream.total_out, bit))
            if ret == _Z_BUF_ERROR or (stream.avail_in == 0 and produced < room and not flags & _DT_BLOCK_END):
                return

    try:
        for chunk in raw:
            keep = chunk  # next_in points into this object: keep it alive
            stream.next_in = ctypes.cast(ctypes.c_char_p(keep), ctypes.c_void_p)
            stream.avail_in = len(keep)
            yield from run()
        stream.avail_in = 0
        yield from run()  # the last block may end exactly where the input does
        raise zlib.error("incomplete deflate stream")
    except _End:
        if stream.avail_in:
            raise zlib.error("data after the end of the deflate stream") from None
        for chunk in raw:
            if chunk:
                raise zlib.error("data after the end of the deflate stream") from None
    finally:
        lib.inflateEnd(ctypes.byref(stream))


class _End(Exception):
    """The deflate stream ended."""


#: Marks the end of ``read_ahead``'s queue.
_DONE = b""


def read_ahead(chunks: Iterable[bytes], depth: int = 4) -> Generator[bytes, None, None]:
    """``chunks``, produced on a thread of their own up to ``depth`` ahead of the consumer.

    For a member so large that it is alone on the critical path (torch's 434 MB library):
    inflating it and hashing, checking and spooling what comes out then run on two cores
    instead of one after the other. Errors reach the consumer; a consumer that stops early
    stops the producer.
    """
    items: queue.Queue[bytes | BaseException] = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        source = iter(chunks)
        try:
            for chunk in source:
                if stop.is_set():
                    return
                if chunk:
                    items.put(chunk)
            items.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            items.put(exc)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a generator's own cleanup (inflateEnd) runs here, on its thread

    thread = threading.Thread(target=produce, name="stripwheel-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if isinstance(item, BaseException):
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # let a producer blocked on a full queue see ``stop``
            with contextlib.suppress(queue.Empty):
                items.get(timeout=0.01)
        thread.join()


# --- splicing


#: The order of the code length code lengths in a dynamic block header (RFC 1951, 3.2.7).
_CL_ORDER = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)


class _Bits:
    """Least-significant-bit-first writer, as deflate packs its bits."""

    def __init__(self) -> None:
        self.value = 0
        self.count = 0

    def put(self, value: int, count: int) -> None:
        self.value |= value << self.count
        self.count += count

    def empty_fixed_block(self) -> None:
        # BFINAL=0, BTYPE=01 (fixed Huffman), end-of-block code 256 = seven 0 bits: 10 bits.
        self.put(0, 1)
        self.put(1, 2)
        self.put(0, 7)

    def empty_dynamic_block(self) -> None:
        """95 bits, odd, where the fixed block's 10 reach only even phases: a dynamic-Huffman
        block with complete codes (so every inflater takes it) and only end-of-block in it."""
        self.put(0, 1)  # BFINAL=0
        self.put(2, 2)  # BTYPE=10, dynamic Huffman
        self.put(0, 5)  # HLIT: 257 literal/length codes
        self.put(1, 5)  # HDIST: 2 distance codes
        self.put(15, 4)  # HCLEN: all 19 code length codes
        for symbol in _CL_ORDER:  # code length codes 1 and 18 get 1 bit each: 1 is 0, 18 is 1
            self.put(1 if symbol in (1, 18) else 0, 3)
        self.put(0, 1)  # literal 0: length 1
        self.put(1, 1)  # literals 1-138: 138 zero lengths (code 18, 11 + 127)
        self.put(127, 7)
        self.put(1, 1)  # literals 139-255: 117 zero lengths (code 18, 11 + 106)
        self.put(106, 7)
        self.put(0, 1)  # end-of-block (256): length 1; literal 0 is code 0, 256 is code 1
        self.put(0, 1)  # distance codes 0 and 1: length 1 each
        self.put(0, 1)
        self.put(1, 1)  # end-of-block

    def align(self, phase: int) -> None:
        """Empty blocks until the bit count is ``phase`` modulo 8."""
        if (self.count - phase) % 2:
            self.empty_dynamic_block()
        while (self.count - phase) % 8:  # each fixed block advances the phase by 2
            self.empty_fixed_block()

    def take(self) -> bytes:
        if self.count % 8:
            raise ValueError(f"{self.count} bits do not make whole bytes")
        data = self.value.to_bytes(self.count // 8, "little")
        self.value = self.count = 0
        return data


@dataclass(frozen=True)
class Splice:
    """Reuse the input's compressed bits ``[start.bit, end.bit)``, which inflate to its bytes
    ``[start.offset, end.offset)``, where the output holds those bytes (at the same offsets
    in a stripped binary, earlier in a debug file): offsets are the input's."""

    start: Boundary
    end: Boundary


def plan_splice(boundaries: list[Boundary], same: tuple[int, int]) -> Optional[Splice]:
    """The longest reusable run of blocks inside ``same``: an input range the output holds
    in one piece."""
    low, high = same
    starts = [b for b in boundaries if b.offset >= low + WINDOW]
    ends = [b for b in boundaries if b.offset <= high]
    if not starts or not ends:
        return None
    start, end = starts[0], ends[-1]
    if end.offset - start.offset < MIN_REUSE or end.bit - start.bit < 64:
        return None
    return Splice(start, end)


def spliced_parts(splice: Splice, head: bytes, first: int, last: int, tail: bytes) -> tuple[bytes, bytes]:
    """The bytes that go before and after the reused middle.

    ``head`` is the new raw deflate data for output ``[0, start.offset)`` ending on a byte
    boundary; ``first``/``last`` are the input stream's bytes holding ``start.bit`` and
    ``end.bit``; ``tail`` is the new, final deflate data for the rest. The reused middle is
    the input stream's bytes strictly between those two.
    """
    phase = splice.start.bit % 8
    bits = _Bits()
    bits.align(phase)
    bits.put(first >> phase, 8 - phase)
    before = head + bits.take()
    phase = splice.end.bit % 8
    bits.put(last & ((1 << phase) - 1), phase)
    bits.align(0)
    return before, bits.take() + tail


# --- checking a splice without inflating the reused middle


class _Expected:
    """The bytes an inflate must produce, consumed as it produces them."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf = b""
        self._pos = 0

    def take(self, data: bytes) -> bool:
        """True if ``data`` is what comes next."""
        offset = 0
        while offset < len(data):
            if self._pos == len(self._buf):
                self._buf = next((c for c in self._chunks if c), b"")
                self._pos = 0
                if not self._buf:
                    return False  # more output than expected
            n = min(len(data) - offset, len(self._buf) - self._pos)
            # bytes slices: comparing memoryviews goes item by item, ~20x slower
            if data[offset : offset + n] != self._buf[self._pos : self._pos + n]:
                return False
            self._pos += n
            offset += n
        return True

    def done(self) -> bool:
        return self._pos == len(self._buf) and next((c for c in self._chunks if c), None) is None


def _inflate_head(lib: ctypes.CDLL, data: bytes, stop_bit: int, expected: _Expected) -> bool:
    """True if raw-inflating ``data`` from its start gives exactly the ``expected`` bytes and
    then stops at a block boundary ``stop_bit`` bits in, with no final block before it."""
    stream = _raw_inflater(lib)
    if stream is None:
        return False
    out = ctypes.create_string_buffer(CHECK_OUT)
    keep = data  # next_in points into this object: keep it alive
    stream.next_in = ctypes.cast(ctypes.c_char_p(keep), ctypes.c_void_p)
    stream.avail_in = len(keep)
    try:
        while True:
            stream.next_out = ctypes.addressof(out)
            stream.avail_out = CHECK_OUT
            ret = lib.inflate(ctypes.byref(stream), _Z_BLOCK)
            produced = CHECK_OUT - stream.avail_out
            if produced and not expected.take(ctypes.string_at(out, produced)):
                return False
            if ret not in (_Z_OK, _Z_BUF_ERROR):
                return False  # an error, or the stream ended inside the head
            flags = stream.data_type
            if flags & _DT_BLOCK_END:
                if flags & _DT_LAST_BLOCK:
                    return False  # the block just decoded was marked final
                bit = stream.total_in * 8 - (flags & _DT_UNUSED_BITS)
                if bit == stop_bit:
                    return expected.done()
                if bit > stop_bit:
                    return False
            if ret == _Z_BUF_ERROR or (stream.avail_in == 0 and produced < CHECK_OUT):
                return False  # out of input before reaching the boundary
    finally:
        lib.inflateEnd(ctypes.byref(stream))


def _inflate_tail(lib: ctypes.CDLL, data: bytes, skip: int, window: bytes, expected: _Expected) -> bool:
    """True if raw-inflating ``data`` from bit ``skip`` of its first byte, with ``window`` as
    the preceding output, gives exactly the ``expected`` bytes and ends the deflate stream
    in the last byte of ``data``."""
    stream = _raw_inflater(lib)
    if stream is None:
        return False
    out = ctypes.create_string_buffer(CHECK_OUT)
    try:
        if lib.inflateSetDictionary(ctypes.byref(stream), window, len(window)) != _Z_OK:
            return False
        if skip:
            if not data or lib.inflatePrime(ctypes.byref(stream), 8 - skip, data[0] >> skip) != _Z_OK:
                return False
            data = data[1:]
        keep = data
        stream.next_in = ctypes.cast(ctypes.c_char_p(keep), ctypes.c_void_p)
        stream.avail_in = len(keep)
        while True:
            stream.next_out = ctypes.addressof(out)
            stream.avail_out = CHECK_OUT
            ret = lib.inflate(ctypes.byref(stream), _Z_NO_FLUSH)
            produced = CHECK_OUT - stream.avail_out
            if produced and not expected.take(ctypes.string_at(out, produced)):
                return False
            if ret == _Z_STREAM_END:
                return stream.avail_in == 0 and expected.done()
            if ret != _Z_OK or (stream.avail_in == 0 and produced < CHECK_OUT):
                return False  # an error, or the input ran out before the stream ended
    finally:
        lib.inflateEnd(ctypes.byref(stream))


def check_splice(
    splice: Splice,
    same: tuple[int, int],
    before: bytes,
    after: bytes,
    first: int,
    last: int,
    head: Iterable[bytes],
    window: bytes,
    tail: Iterable[bytes],
) -> Optional[bool]:
    """Whether ``before + input[first.byte + 1 : last.byte] + after`` inflates to exactly
    ``head + input contents[start.offset:end.offset] + tail``, without inflating the middle.

    Offsets are the input's. ``same`` is an input range the output holds in one piece, ``first``
    and ``last`` the input's bytes holding ``start.bit`` and ``end.bit``, ``window`` the 32 KiB
    of contents before ``end.offset``. Returns None when the system zlib cannot do the check
    (the caller then inflates the whole stream), False when the splice is wrong.

    Why checking the ends is enough: a deflate decoder between two blocks holds nothing but
    its bit position and the output so far, of which only the last 32 KiB can be referred to
    (RFC 1951: distances are at most 32768; each block carries its own Huffman codes). So

    1. ``before`` is inflated: it must give exactly ``head`` (the output up to
       the start of the reused bytes) and reach a block boundary, with no final block, at the very bit
       where the input's bits from ``start.bit`` were placed;
    2. from there the decoder reads the input's own bits ``[start.bit, end.bit)``, checked
       here to be in place (the partial bytes at both ends; the whole bytes between them are
       the input's, read from the same member), with the same 32 KiB behind it as when the
       input was inflated, because the output holds ``[same[0], end.offset)`` in one piece
       and ``start.offset >= same[0] + WINDOW``. It therefore does what the input's
       decoder did, which the indexer saw: produce the contents ``[start.offset,
       end.offset)`` (already checked against the input's CRC and RECORD hash) and stop at a
       non-final block boundary at ``end.bit``;
    3. ``after`` is inflated from that bit with ``window`` (the 32 KiB before ``end.offset``,
       which the output holds too) as its history: it must give exactly ``tail`` and end the
       stream in its last byte.
    """
    lib = _ZLIB
    if lib is None or not _CAN_CHECK:
        return None
    low, high = same
    start, end = splice.start, splice.end
    if not (low + WINDOW <= start.offset and end.offset - start.offset >= WINDOW and end.offset <= high):
        return None
    if len(window) != WINDOW or not before or not after:
        return None
    first_phase, last_phase = start.bit % 8, end.bit % 8
    # The partial bytes at the junctions carry the input's own bits there.
    if before[-1] >> first_phase != first >> first_phase:
        return False
    mask = (1 << last_phase) - 1
    if after[0] & mask != last & mask:
        return False
    junction = len(before) * 8 - (8 - first_phase)
    if not _inflate_head(lib, before, junction, _Expected(head)):
        return False
    return _inflate_tail(lib, after, last_phase, window, _Expected(tail))
