"""Pins ``_deflate``: block indexing and splicing decode to exactly the bytes replaced, at every phase.

Otherwise the rewrite falls back to plain deflate."""

from __future__ import annotations

import random
import zlib

import pytest

from stripwheel import _deflate


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
    """Same output as zlib, and boundaries that are increasing, even-phased and in range."""
    data = sample(3 << 20, level)
    stream = raw_deflate(data, level)
    boundaries: list[_deflate.Boundary] = []
    assert b"".join(_deflate.inflate_indexed(chunked(stream, 100_000), boundaries)) == data
    assert len(boundaries) > 3
    assert all(b.bit % 2 == 0 for b in boundaries)
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
    assert sorted(by_phase) == [0, 2, 4, 6] or len(by_phase) >= 3
    ends = [b for b in boundaries if b.offset > len(data) // 2]
    for start in by_phase.values():
        for end in {e.bit % 8: e for e in ends}.values():
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
