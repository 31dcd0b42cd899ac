"""Pins ``wheel.encode``: a stripped large library reuses the original's compressed image, and
its debug file (the companion wheel's member) the original's compressed symbol and debug
tables (slow: gcc); which run of input bytes is reused (fast).

The unchanged deflate blocks are spliced in, not recompressed, and the library still loads and
computes what it did."""

from __future__ import annotations

import ctypes
import random
import zipfile
from pathlib import Path

import pytest

from _helpers import check_wheel, install_wheel, need, run, section_names
from _wheels import pack, stored
from stripwheel._cli import main
from stripwheel.binaries import Copy
from stripwheel.wheel import deflate as _deflate
from stripwheel.wheel.encode import Run, _identical_run

#: The table's size: past the reuse threshold (MIN_REUSE + WINDOW, 160 kB) with room for
#: several deflate blocks on either side, yet quick to compile (a 1 MB initializer took gcc
#: seconds).
TABLE = 384 << 10


def table_bytes() -> bytes:
    """Deflate-friendly but varied: words from a small vocabulary with random bytes mixed in,
    so that zlib ends blocks often enough for a splice inside the table."""
    rng = random.Random(1234)
    words = [bytes(rng.randrange(256) for _ in range(rng.randrange(2, 9))) for _ in range(300)]
    out = bytearray()
    while len(out) < TABLE:
        out += rng.choice(words) if rng.random() < 0.9 else rng.randbytes(16)
    return bytes(out[:TABLE])


def expected_sum(data: bytes) -> int:
    total = 0
    for byte in data:
        total = (total * 31 + byte) & 0xFFFFFFFFFFFFFFFF
    return total


@pytest.fixture(scope="module")
def big_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel around a library with debug info and a large table, built by gcc and packed by
    the wheel factory."""
    assert TABLE > _deflate.MIN_REUSE + _deflate.WINDOW
    work = tmp_path_factory.mktemp("big")
    data = table_bytes()
    source = work / "table.c"
    source.write_text(
        "const unsigned char table[] = {" + ",".join(map(str, data)) + "};\n"
        "unsigned long table_sum(void) { unsigned long s = 0;"
        f" for (unsigned long i = 0; i < {len(data)}; i++) s = s * 31 + table[i]; return s; }}\n"
    )
    run(need("gcc"), "-g", "-O1", "-fPIC", "-shared", source, "-o", work / "libtable.so")
    files = {"big/__init__.py": b"", "big/libtable.so": (work / "libtable.so").read_bytes()}
    return pack(work / "dist", files, name="big", tag="py3-none-linux_x86_64", purelib=False)


def test_large_library_reuses_its_compressed_image(big_wheel: Path, tmp_path: Path) -> None:
    """The stripped library's stored bytes contain the original's compressed image verbatim,
    and the library still returns the checksum of its table."""
    out = tmp_path / "out"
    assert main(["strip", "-w", str(out), str(big_wheel)]) == 0
    result = out / big_wheel.name
    check_wheel(result)
    before, after = stored(big_wheel, "big/libtable.so"), stored(result, "big/libtable.so")
    middle = before[len(before) // 2 : len(before) // 2 + 65536]
    assert middle in after, "the unchanged image was recompressed instead of reused"
    with zipfile.ZipFile(result) as archive:
        library = archive.read("big/libtable.so")
    assert ".symtab" not in section_names(library) and ".debug_info" not in section_names(library)
    site = install_wheel(result, tmp_path / "prefix")
    lib = ctypes.CDLL(str(site / "big" / "libtable.so"))
    lib.table_sum.restype = ctypes.c_ulong
    assert lib.table_sum() == expected_sum(table_bytes())


def test_partial_splice_check_and_full_inflate_agree(
    big_wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without what the partial check needs, the spliced stream is inflated in full instead:
    the same splice is accepted and the wheel comes out byte-identical."""
    from stripwheel.wheel import encode as _encode

    checks: list[bool] = []
    full_check = _encode.SplicedStream.check

    def counted(self: _encode.SplicedStream, expected_crc: int, expected_size: int) -> _encode.Spliced | None:
        spliced = full_check(self, expected_crc, expected_size)
        checks.append(spliced is not None)
        return spliced

    monkeypatch.setattr(_encode.SplicedStream, "check", counted)
    assert main(["strip", "-w", str(tmp_path / "partial"), str(big_wheel)]) == 0
    assert checks == []
    monkeypatch.setattr(_deflate, "_CAN_CHECK", False)
    assert main(["strip", "-w", str(tmp_path / "full"), str(big_wheel)]) == 0
    assert checks == [True]
    partial, full = (tmp_path / d / big_wheel.name for d in ("partial", "full"))
    assert partial.read_bytes() == full.read_bytes()


def test_the_longest_run_of_consecutive_input_bytes_is_reused() -> None:
    """A stripped binary's image stays at its offsets (shift 0); a debug file holds the
    input's last sections one after the other, earlier in the file; new bytes, or a copy that
    does not follow the previous one in the input, end a run."""
    stripped = (b"new header", Copy(10, 500), Copy(510, 90), b"new tail")
    assert _identical_run(stripped) == Run(10, 600, 0)
    debug_file = (b"h" * 64, Copy(568, 36), b"\0" * 4, Copy(9000, 300), Copy(9300, 700), Copy(10000, 5), b"t" * 9)
    assert _identical_run(debug_file) == Run(104, 1109, 8896)
    apart = (Copy(0, 100), Copy(200, 100), Copy(300, 150))
    assert _identical_run(apart) == Run(100, 350, 100)
    assert _identical_run((b"only new bytes",)) == Run(0, 0, 0)


@pytest.fixture(scope="module")
def symbols_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel around a library whose debug file is mostly its symbol and debug tables
    (thousands of hidden functions with long names, -g): far more than a splice needs."""
    work = tmp_path_factory.mktemp("symbols")
    source = work / "many.c"
    source.write_text(
        "".join(
            f"int function_with_a_long_and_descriptive_name_number_{i}(int x) {{ return x * {i} + {i % 7}; }}\n"
            for i in range(4000)
        )
    )
    library = work / "libmany.so"
    run(need("gcc"), "-g", "-O0", "-fPIC", "-fvisibility=hidden", "-shared", source, "-o", library)
    files = {"many/__init__.py": b"", "many/libmany.so": library.read_bytes()}
    return pack(work / "dist", files, name="many", tag="py3-none-linux_x86_64", purelib=False)


def test_the_companions_debug_file_reuses_the_input_s_compressed_tables(symbols_wheel: Path, tmp_path: Path) -> None:
    """The companion's member stores the input's compressed symbol and debug tables verbatim,
    decodes to the very file the ``beside`` layout writes, and the companion passes
    installer's checks."""
    debug = tmp_path / "debug"
    argv = ["strip", "-w", str(tmp_path / "out"), "--split-debug", str(debug)]
    assert main([*argv, "--split-debug-layout", "wheel", str(symbols_wheel)]) == 0
    (companion,) = debug.glob("many_debug-*.whl")
    check_wheel(companion)
    member = "many/.debug/libmany.so.debug"
    before, after = stored(symbols_wheel, "many/libmany.so"), stored(companion, member)
    # Compressed bytes never repeat 1 KiB at a time by chance: these are the input's own.
    reused = sum(before[at : at + 1024] in after for at in range(0, len(before) - 1024, 1024))
    assert reused >= 16, "the debug file's tables were compressed again instead of reused"
    assert len(after) < len(before)
    beside = tmp_path / "beside"
    assert (
        main(
            [
                "strip",
                "-w",
                str(tmp_path / "out2"),
                "--split-debug",
                str(beside),
                "--split-debug-layout",
                "beside",
                str(symbols_wheel),
            ]
        )
        == 0
    )
    with zipfile.ZipFile(companion) as archive:
        assert archive.read(member) == (beside / member).read_bytes()
