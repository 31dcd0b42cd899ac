"""Scale: a multi-megabyte library (the compressed image is reused, not recompressed) and a
wheel with more members than a classic zip directory can count (Zip64)."""

from __future__ import annotations

import ctypes
import random
import sys
import zipfile
from pathlib import Path

import pytest

from _helpers import check_wheel, install_wheel, need, run, section_names
from stripwheel._cli import main

TABLE = 1 << 20


def table_bytes() -> bytes:
    rng = random.Random(1234)
    words = [bytes(rng.randrange(256) for _ in range(rng.randrange(2, 9))) for _ in range(300)]
    out = bytearray()
    while len(out) < TABLE:
        out += rng.choice(words)
    return bytes(out[:TABLE])


def expected_sum(data: bytes) -> int:
    total = 0
    for byte in data:
        total = (total * 31 + byte) & 0xFFFFFFFFFFFFFFFF
    return total


@pytest.fixture(scope="module")
def big_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel around a 1 MB library with debug info, built by gcc and ``wheel pack``."""
    root = tmp_path_factory.mktemp("big") / "big-1.0"
    (root / "big").mkdir(parents=True)
    (root / "big-1.0.dist-info").mkdir()
    data = table_bytes()
    source = root.parent / "table.c"
    source.write_text(
        "const unsigned char table[] = {" + ",".join(map(str, data)) + "};\n"
        "unsigned long table_sum(void) { unsigned long s = 0;"
        f" for (unsigned long i = 0; i < {len(data)}; i++) s = s * 31 + table[i]; return s; }}\n"
    )
    run(need("gcc"), "-g", "-O1", "-fPIC", "-shared", source, "-o", root / "big" / "libtable.so")
    (root / "big" / "__init__.py").write_text("")
    (root / "big-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: big\nVersion: 1.0\n")
    (root / "big-1.0.dist-info" / "WHEEL").write_text(
        "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: false\nTag: py3-none-linux_x86_64\n"
    )
    dest = root.parent / "dist"
    dest.mkdir()
    run(sys.executable, "-m", "wheel", "pack", "--dest-dir", dest, root)
    (wheel,) = dest.glob("*.whl")
    return wheel


def stored(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    with open(path, "rb") as f:
        f.seek(info.header_offset + 26)
        skip = int.from_bytes(f.read(2), "little") + int.from_bytes(f.read(2), "little")
        f.seek(info.header_offset + 30 + skip)
        return f.read(info.compress_size)


def test_large_library_reuses_its_compressed_image(big_wheel: Path, tmp_path: Path) -> None:
    """The stripped library's stored bytes contain the original's compressed image verbatim,
    and the library still returns the checksum of its 1 MB table."""
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


def test_zip64_member_count(demo_tree: Path, tmp_path: Path) -> None:
    """More than 65,535 members: the output needs Zip64 end records, and stays valid."""
    root = tmp_path / "many-1.0"
    (root / "many" / "data").mkdir(parents=True)
    (root / "many-1.0.dist-info").mkdir()
    for i in range(66_000):
        (root / "many" / "data" / f"{i:05d}.txt").write_text(f"{i}\n")
    (root / "many" / "libhelper.so").write_bytes((demo_tree / "demo.libs" / "libhelper.so").read_bytes())
    (root / "many-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: many\nVersion: 1.0\n")
    (root / "many-1.0.dist-info" / "WHEEL").write_text(
        "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: false\nTag: py3-none-linux_x86_64\n"
    )
    dest = tmp_path / "dist"
    dest.mkdir()
    run(sys.executable, "-m", "wheel", "pack", "--dest-dir", dest, root)
    (wheel,) = dest.glob("*.whl")
    assert main(["strip", str(wheel)]) == 0
    check_wheel(wheel)
    data = wheel.read_bytes()
    assert b"PK\x06\x06" in data[-200:] and b"PK\x06\x07" in data[-200:]
    with zipfile.ZipFile(wheel) as archive:
        assert len(archive.infolist()) == 66_000 + 4
        assert ".symtab" not in section_names(archive.read("many/libhelper.so"))
