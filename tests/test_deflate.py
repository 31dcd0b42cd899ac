"""Pins ``_deflate``: block indexing and splicing decode to exactly the bytes replaced, at every phase.

Otherwise the rewrite falls back to plain deflate."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator

import pytest

from stripwheel.wheel import deflate as _deflate


def sample(size: int, seed: int) -> bytes:
    """Compressible but varied data: words from a small vocabulary, with random bytes mixed in."""
    rng = random.Random(seed)
    words = [bytes(rng.randrange(256) for _ in range(rng.randrange(2, 9))) for _ in range(400)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) if rng.random() < 0.9 else rng.randbytes(64)
    return bytes(out[:size])


def raw_deflate(data: bytes, level: int) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_zlib_is_available_for_indexing() -> None:
    """On Linux the system zlib is always there; without it the engine would recompress."""
    assert _deflate.can_index()


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_inflate_indexed_matches_zlib(level: int) -> None:
    """Same output as zlib, and boundaries that are increasing and in range."""
    data = sample(3 << 20, level)
    stream = raw_deflate(data, level)
    boundaries: list[_deflate.Boundary] = []
    assert b"".join(_deflate.inflate_indexed(chunked(stream, 100_000), boundaries)) == data
    assert len(boundaries) > 3
    assert [b.offset for b in boundaries] == sorted({b.offset for b in boundaries})
    assert all(0 <= b.offset <= len(data) and 0 <= b.bit < 8 * len(stream) for b in boundaries)


def test_inflate_indexed_rejects_bad_streams() -> None:
    data = sample(1 << 20, 1)
    stream = raw_deflate(data, 6)
    with pytest.raises(zlib.error):
        b"".join(_deflate.inflate_indexed([stream[: len(stream) // 2]], []))
    with pytest.raises(zlib.error):
        b"".join(_deflate.inflate_indexed([stream + b"junk"], []))
    with pytest.raises(zlib.error):
        b"".join(_deflate.inflate_indexed([b"\xff" * 1000], []))


def test_splice_every_phase() -> None:
    """A new head and tail around the original middle decode to the new bytes, for start and
    end boundaries of every bit phase."""
    data = sample(4 << 20, 7)
    stream = raw_deflate(data, 6)
    boundaries: list[_deflate.Boundary] = []
    b"".join(_deflate.inflate_indexed([stream], boundaries))
    by_phase: dict[int, _deflate.Boundary] = {}
    for b in boundaries:
        if b.offset >= _deflate.WINDOW:
            by_phase.setdefault(b.bit % 8, b)
    ends = {b.bit % 8: b for b in boundaries if b.offset > len(data) // 2}
    assert sorted(by_phase) == sorted(ends) == list(range(8))
    for start in by_phase.values():
        for end in ends.values():
            # The new file: a changed first kilobyte, the same middle, a different tail.
            new = b"N" * 1024 + data[1024 : end.offset] + b"new tail" * 5000
            splice = _deflate.Splice(start, end)
            head = b"".join(_deflate.deflate_stream([new[: start.offset]], None, final=False))
            tail = b"".join(
                _deflate.deflate_stream([new[end.offset :]], None, new[end.offset - _deflate.WINDOW : end.offset])
            )
            before, after = _deflate.spliced_parts(splice, head, stream[start.bit // 8], stream[end.bit // 8], tail)
            spliced = before + stream[start.bit // 8 + 1 : end.bit // 8] + after
            assert zlib.decompress(spliced, -15) == new, (start, end)


def test_empty_blocks_reach_every_phase() -> None:
    """The filler blocks decode to nothing, with zlib, and bring any bit count to any phase."""
    dynamic = _deflate._Bits()
    dynamic.empty_dynamic_block()
    assert dynamic.count == 95
    for first in range(8):
        for phase in range(8):
            bits = _deflate._Bits()
            bits.align(first)
            assert bits.count % 8 == first
            bits.align(phase)
            assert bits.count % 8 == phase
            bits.put(1, 1)  # a final empty fixed block, then padding to a byte
            bits.put(1, 2)
            bits.put(0, 7)
            bits.put(0, -bits.count % 8)
            assert zlib.decompress(bits.take(), -15) == b"", (first, phase)


def test_plan_splice_keeps_the_window_inside_the_identical_range() -> None:
    bounds = [_deflate.Boundary(o, o) for o in range(0, 10_000_000, 100_000)]
    splice = _deflate.plan_splice(bounds, (64, 5_000_064))
    assert splice is not None
    assert splice.start.offset >= 64 + _deflate.WINDOW and splice.end.offset <= 5_000_064
    assert _deflate.plan_splice(bounds, (64, 150_000)) is None


def test_parallel_deflate_is_one_stream() -> None:
    """Chunks deflated on several threads join into one valid stream."""
    from concurrent.futures import ThreadPoolExecutor

    data = sample(_deflate.CHUNK * 3 + 12345, 3)
    with ThreadPoolExecutor(2) as pool:
        stream = b"".join(_deflate.deflate_stream(chunked(data, 1 << 20), pool))
    assert zlib.decompress(stream, -15) == data


def _spliced(data: bytes, start: _deflate.Boundary, end: _deflate.Boundary, stream: bytes) -> tuple[bytes, ...]:
    """The parts of a splice of ``stream`` (which inflates to ``data``): a new head and tail
    around the middle, as the engine builds them; returns (new contents, before, after)."""
    # The new tail repeats bytes from just before it, so it refers back across the junction.
    new = b"N" * 1024 + data[1024 : end.offset] + data[end.offset - 20_000 : end.offset] + b"new tail" * 5000
    head = b"".join(_deflate.deflate_stream([new[: start.offset]], None, final=False))
    window = new[end.offset - _deflate.WINDOW : end.offset]
    tail = b"".join(_deflate.deflate_stream([new[end.offset :]], None, window))
    before, after = _deflate.spliced_parts(
        _deflate.Splice(start, end), head, stream[start.bit // 8], stream[end.bit // 8], tail
    )
    return new, before, after


def _check(
    splice: _deflate.Splice, new: bytes, before: bytes, after: bytes, stream: bytes, same: tuple[int, int]
) -> bool | None:
    start, end = splice.start, splice.end
    return _deflate.check_splice(
        splice,
        same,
        before,
        after,
        stream[start.bit // 8],
        stream[end.bit // 8],
        chunked(new[: start.offset], 7000),
        new[end.offset - _deflate.WINDOW : end.offset],
        chunked(new[end.offset :], 9000),
    )


def _indexed(size: int, seed: int) -> tuple[bytes, bytes, list[_deflate.Boundary]]:
    data = sample(size, seed)
    stream = raw_deflate(data, 6)
    boundaries: list[_deflate.Boundary] = []
    b"".join(_deflate.inflate_indexed([stream], boundaries))
    return data, stream, boundaries


def test_check_splice_accepts_good_splices_at_every_phase() -> None:
    """What the partial check accepts is what a full inflate gives, for every pair of phases."""
    data, stream, boundaries = _indexed(4 << 20, 11)
    starts: dict[int, _deflate.Boundary] = {}
    for b in boundaries:
        if 1024 + _deflate.WINDOW <= b.offset < len(data) // 2:
            starts.setdefault(b.bit % 8, b)
    ends = {b.bit % 8: b for b in boundaries if b.offset > len(data) // 2}
    assert sorted(starts) == sorted(ends) == list(range(8))
    for start in starts.values():
        for end in ends.values():
            splice = _deflate.Splice(start, end)
            new, before, after = _spliced(data, start, end, stream)
            spliced = before + stream[start.bit // 8 + 1 : end.bit // 8] + after
            assert zlib.decompress(spliced, -15) == new
            assert _check(splice, new, before, after, stream, (1024, end.offset + 1)) is True, (start, end)


def test_check_splice_rejects_wrong_splices() -> None:
    data, stream, boundaries = _indexed(4 << 20, 12)
    start = next(b for b in boundaries if b.offset >= 1024 + _deflate.WINDOW and b.bit % 8)
    end = next(b for b in reversed(boundaries) if b.offset < len(data) - 100_000 and b.bit % 8)
    splice = _deflate.Splice(start, end)
    new, before, after = _spliced(data, start, end, stream)
    same = (1024, end.offset)
    assert _check(splice, new, before, after, stream, same) is True

    def flipped(data: bytes, at: int) -> bytes:
        return data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1 :]

    # a corrupted head or tail, anywhere, including the junction bytes
    for at in (0, len(before) // 2, len(before) - 2, len(before) - 1):
        assert _check(splice, new, flipped(before, at), after, stream, same) is False, at
    for at in (0, 1, len(after) // 2, len(after) - 1):
        assert _check(splice, new, before, flipped(after, at), stream, same) is False, at
    # bytes after the end of the stream
    assert _check(splice, new, before, after + b"\0", stream, same) is False
    # the head does not end where the reused bits begin
    other = next(b for b in boundaries if b.offset > start.offset and b.bit % 8 == start.bit % 8)
    _, wrong_before, _ = _spliced(data, other, end, stream)
    assert _check(splice, new, wrong_before, after, stream, same) is False
    # intended bytes that differ from what the splice gives
    changed = new[:100] + b"X" + new[101:]
    assert _check(splice, changed, before, after, stream, same) is False
    tail_changed = new[:-5] + b"XXXXX"
    assert _check(splice, tail_changed, before, after, stream, same) is False
    # the identical range does not cover the window or the middle: no proof, inflate it all
    assert _check(splice, new, before, after, stream, (start.offset - 100, end.offset)) is None
    assert _check(splice, new, before, after, stream, (1024, end.offset - 1)) is None


def test_check_splice_tail_needs_the_right_window() -> None:
    """The tail refers back into the 32 KiB before it: decoded with another history, it
    cannot match."""
    data, stream, boundaries = _indexed(4 << 20, 13)
    start = next(b for b in boundaries if b.offset >= 1024 + _deflate.WINDOW)
    end = next(b for b in reversed(boundaries) if b.offset < len(data) - 100_000)
    splice = _deflate.Splice(start, end)
    new, before, after = _spliced(data, start, end, stream)
    wrong_window = bytes(_deflate.WINDOW)
    verdict = _deflate.check_splice(
        splice,
        (1024, end.offset),
        before,
        after,
        stream[start.bit // 8],
        stream[end.bit // 8],
        [new[: start.offset]],
        wrong_window,
        [new[end.offset :]],
    )
    assert verdict is False


def test_read_ahead_gives_the_same_chunks() -> None:
    data = sample(3 << 20, 21)
    stream = raw_deflate(data, 6)
    boundaries: list[_deflate.Boundary] = []
    direct: list[_deflate.Boundary] = []
    ahead = b"".join(_deflate.read_ahead(_deflate.inflate_indexed(chunked(stream, 50_000), boundaries), depth=2))
    assert ahead == data == b"".join(_deflate.inflate_indexed(chunked(stream, 50_000), direct))
    assert boundaries == direct


def test_read_ahead_hands_errors_to_the_consumer() -> None:
    stream = raw_deflate(sample(1 << 20, 22), 6)
    with pytest.raises(zlib.error):
        b"".join(_deflate.read_ahead(_deflate.inflate_indexed([stream[: len(stream) // 2]], [])))


def test_read_ahead_stops_the_producer_when_the_consumer_stops() -> None:
    """A consumer that leaves early (an error downstream) ends the producer, which runs its
    generator's cleanup (for ``inflate_indexed``: ``inflateEnd``)."""
    closed = []

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b"x" * 1000
        finally:
            closed.append(True)

    chunks = _deflate.read_ahead(endless(), depth=2)
    assert next(chunks) == b"x" * 1000
    chunks.close()
    assert closed == [True]
