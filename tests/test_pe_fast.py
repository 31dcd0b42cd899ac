"""The PE rewriter (pe.py) on the prebuilt MinGW DLLs of tests/data/binaries (make.sh): PE32+ and
PE32, each with DWARF sections and a COFF symbol table. Each is stripped at both levels and read
back with the independent reader of ``_prebuilt``, against what MinGW's ``strip`` left and
``llvm-readobj`` read when they were built (expected.json); then the layouts the rewriter must
refuse, and hundreds of malformed mutations. No compiler, no external tool."""

from __future__ import annotations

import contextlib
import mmap
import struct
import zlib
from collections.abc import Callable

import pytest

from _prebuilt import DIR, FILES, Pe, load, mutations, names
from stripwheel import binaries
from stripwheel.binaries import BinaryError, Copy, Level, Stripped, Unchanged, pe

LEVELS: tuple[Level, ...] = ("all", "debug")
PE = names("PE")
#: stripwheel's output sizes (MinGW's strip also rewrites the headers and lands elsewhere)
SIZES = {"pe-x86_64.dll": {"all": 5120, "debug": 7335}, "pe-i686.dll": {"all": 4622, "debug": 6857}}
ARCHS = {"IMAGE_FILE_MACHINE_AMD64": "x86_64", "IMAGE_FILE_MACHINE_I386": "i386"}
DEBUG_STRIPPED, LOCAL_SYMS_STRIPPED, LINE_NUMS_STRIPPED = 0x200, 0x8, 0x4


def stripped(data: bytes, level: Level) -> bytes:
    result = pe.strip(data, level)
    assert isinstance(result, Stripped), result
    out = result.materialize(data)
    assert len(out) == result.size
    return out


def is_subsequence(short: list[str], long: list[str]) -> bool:
    rest = iter(long)
    return all(any(item == other for other in rest) for item in short)


# --- stripping, against the record ----------------------------------------------------------------


def test_the_record_covers_both_optional_headers() -> None:
    assert set(SIZES) == set(PE)
    assert {FILES[n]["magic"] for n in PE} == {"0x20B", "0x10B"}
    assert all(FILES[n]["dll"] for n in PE)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", PE)
def test_strip_matches_the_reference(name: str, level: Level) -> None:
    """MinGW strip's sections, the export table and every kept byte untouched, a correct
    CheckSum, and at level debug the symbols MinGW strip keeps (and no .file record)."""
    data, record = load(name), FILES[name]
    reference = record["reference"][level]
    out = stripped(data, level)
    assert len(out) == SIZES[name][level]
    before, after = Pe(data), Pe(out)
    assert after.section_names == reference["sections"]
    assert after.exports() == record["exports"]
    assert (after.machine, after.magic, after.dirs) == (before.machine, before.magic, before.dirs)
    for old, new in zip(before.sections, after.sections):
        assert old[:5] == new[:5]  # name, virtual size and address, raw size and pointer
        assert out[new[4] : new[4] + new[3]] == data[old[4] : old[4] + old[3]]
    assert after.checksum == after.naive_checksum() != 0
    kept = after.sections[-1]
    assert after.size_of_image == -(-(kept[2] + max(kept[1], kept[3])) // 0x1000) * 0x1000
    assert after.characteristics & DEBUG_STRIPPED
    if level == "all":
        assert after.nsyms == 0
        # no symbols; a string table stays only for a long section name (i686: .eh_frame)
        assert after.symptr == (0 if name == "pe-x86_64.dll" else kept[4] + kept[3])
        assert after.characteristics & (LOCAL_SYMS_STRIPPED | LINE_NUMS_STRIPPED) == 0xC
    else:
        symbols, original = after.symbols(), before.symbols()
        # the same records (MinGW's i686 strip moves some to the end), in the input's order
        assert sorted(symbols) == sorted(reference["symbols"]) and is_subsequence(symbols, original)
        removed = set(record["sections"]) - set(reference["sections"])
        assert ".file" not in symbols and not removed & set(symbols)
        assert len(symbols) < len(original)
        if name == "pe-x86_64.dll":
            assert symbols == reference["symbols"]


def test_a_long_section_name_survives_level_all() -> None:
    """Without symbols the string table keeps only the long names of kept sections."""
    data = load("pe-i686.dll")
    out = stripped(data, "all")
    parsed = Pe(out)
    header = out[parsed.sections[3][5] : parsed.sections[3][5] + 8]
    assert header.startswith(b"/4\0") and parsed.sections[3][0] == ".eh_frame"
    assert out[parsed.symptr :] == struct.pack("<I", 14) + b".eh_frame\0"


@pytest.mark.parametrize("name", PE)
def test_second_strip_is_clean_and_the_output_deterministic(name: str) -> None:
    data = load(name)
    for level in LEVELS:
        out = stripped(data, level)
        assert pe.strip(out, level) == Unchanged("nothing to strip", clean=True)
        assert pe.strip(data, level) == pe.strip(data, level)
        assert binaries.strip("PE", data, level) == pe.strip(data, level)
    assert len(stripped(stripped(data, "debug"), "all")) == SIZES[name]["all"]


@pytest.mark.parametrize("name", PE)
def test_inspect(name: str) -> None:
    data = load(name)
    info = pe.inspect(data)
    assert (info.format, info.arch, info.kind, info.signature, info.note, info.size) == (
        "PE",
        ARCHS[FILES[name]["machine"]],
        "dll",
        "none",
        None,
        len(data),
    )
    assert info.strippable == {level: len(data) - SIZES[name][level] for level in LEVELS}
    assert binaries.detect(data[: binaries.HEAD]) == "PE"
    assert binaries.inspect("PE", data) == info
    assert binaries.arch("PE", data) == pe.arch(data) == info.arch
    assert not binaries.is_debug_file("PE", data)


def test_buffers_of_every_kind() -> None:
    path = DIR / "pe-x86_64.dll"
    data = load(path.name)
    expected = stripped(data, "debug")
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        for buf in (bytearray(data), memoryview(data), mapped):
            result = pe.strip(buf, "debug")
            assert isinstance(result, Stripped) and result.materialize(buf) == expected


def test_checksum_of_odd_pieces() -> None:
    """The folded sum of pieces at odd offsets and a zero sum, against the obvious loop."""
    data = load("pe-i686.dll")
    pieces = (data[:3], Copy(3, 1001), data[1004:2000])
    folded = pe._checksum(pieces, data, 2000)
    plain = data[:2000]
    total = 0
    for i in range(0, len(plain), 2):
        total += plain[i] | plain[i + 1] << 8
        total = (total & 0xFFFF) + (total >> 16)
    assert folded == ((total & 0xFFFF) + (total >> 16) + 2000) & 0xFFFFFFFF
    assert pe._checksum((bytes(10),), b"", 10) == 10
    assert pe._checksum((b"\xff\xff",), b"", 2) == 0xFFFF + 2


# --- refusals and malformed files --------------------------------------------------------------------


def patched(data: bytes, at: int, fmt: str, *values: int | bytes) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, at, *values)
    return bytes(out)


def directory(data: bytes, index: int, rva: int, size: int) -> bytes:
    parsed = Pe(data)
    return patched(data, parsed.opt + (96 if parsed.magic == 0x10B else 112) + 8 * index, "<II", rva, size)


def section_header(data: bytes, name: str) -> int:
    return next(s[5] for s in Pe(data).sections if s[0] == name)


def first_debug(data: bytes) -> tuple[str, int, int, int, int, int]:
    return next(s for s in Pe(data).sections if s[0].startswith(".debug"))


def debug_directory(data: bytes, pointer: int, size: int = 28, entry_size: int = 16) -> bytes:
    """A debug directory in the header padding after the section table, with one entry of
    ``entry_size`` bytes at file offset ``pointer``."""
    parsed = Pe(data)
    at = parsed.table + 40 * len(parsed.sections)
    out = patched(data, at, "<IIHHIIII", 0, 0, 0, 0, 2, entry_size, 0, pointer)
    return directory(out, 6, at, size)


def all_sections_debug(data: bytes) -> bytes:
    out = data
    for name, *_rest, header in Pe(data).sections:
        if not name.startswith(".debug"):
            out = patched(patched(out, header, "8s", b".debug_x"), header + 36, "<I", 0x40000040)
    return out


def _refusals() -> list[tuple[str, Callable[[bytes], bytes], str]]:
    x64 = "pe-x86_64.dll"
    return [
        (x64, lambda d: directory(d, 4, 0x3000, 0x100), "Authenticode-signed"),
        (x64, lambda d: patched(d, section_header(d, ".rdata"), "8s", b".debug_r"), "followed by non-debug"),
        (x64, lambda d: d + b"PK\x05\x06" + bytes(18), "overlay"),
        (x64, lambda d: d + bytes(600), "overlay"),
        (x64, lambda d: directory(d, 13, first_debug(d)[2] + 16, 32), "data directory 13 points into removed"),
        (x64, lambda d: patched(d, Pe(d).opt + 16, "<I", first_debug(d)[2] + 4), "entry point lies in removed"),
        (x64, lambda d: patched(d, section_header(d, ".text") + 34, "<H", 3), "COFF line numbers"),
        (x64, lambda d: patched(d, section_header(d, ".debug_info") + 20, "<I", 0x600), "lies inside the image"),
        (x64, lambda d: debug_directory(d, len(d) - 100), "debug directory entry points into removed"),
        (x64, all_sections_debug, "no loadable section would remain"),
        ("pe-i686.dll", lambda d: patched(d, section_header(d, ".eh_frame"), "8s", b"/9999"), "unresolvable long name"),
    ]


@pytest.mark.parametrize(("name", "mutate", "reason"), _refusals(), ids=lambda v: v if isinstance(v, str) else "")
def test_refused_layouts(name: str, mutate: Callable[[bytes], bytes], reason: str) -> None:
    data = mutate(load(name))
    result = pe.strip(data, "all")
    assert isinstance(result, Unchanged) and reason in result.reason and not result.clean, result
    info = pe.inspect(data)
    assert info.strippable["all"] == 0 and info.note is not None


def test_refusals_that_depend_on_the_level() -> None:
    data = load("pe-i686.dll")
    unresolvable = patched(data, section_header(data, ".eh_frame"), "8s", b"/9999")
    assert isinstance(pe.strip(unresolvable, "debug"), Stripped)  # the symbols keep the table
    assert pe.inspect(unresolvable).strippable["debug"] == len(data) - SIZES["pe-i686.dll"]["debug"]
    signed = directory(load("pe-x86_64.dll"), 4, 0x3000, 0x100)
    assert pe.inspect(signed).signature == "authenticode"


def test_what_is_tolerated() -> None:
    data = load("pe-x86_64.dll")
    assert pe.strip(data + bytes(100), "all") == pe.strip(data, "all")  # short zero padding
    inside = debug_directory(data, 0x600)  # an entry inside the kept image: CodeView, say
    assert isinstance(pe.strip(inside, "all"), Stripped)
    elsewhere = directory(data, 6, 0x100000, 28)  # in no section: not followed
    assert isinstance(pe.strip(elsewhere, "all"), Stripped)
    with pytest.raises(BinaryError, match="debug directory extends past"):
        pe.strip(debug_directory(data, 0x600, size=20000), "all")  # short of the removed sections
    assert pe.strip(stripped(data, "all"), "debug") == Unchanged("nothing to strip", clean=True)


def test_level_all_without_symbols_is_left_alone() -> None:
    """A file with debug sections removed by hand but its symbols gone too: nothing left."""
    out = stripped(load("pe-x86_64.dll"), "all")
    assert pe.strip(out, "all") == Unchanged("nothing to strip", clean=True)
    assert pe.inspect(out).strippable == {"all": 0, "debug": 0}


def _malformed() -> list[tuple[Callable[[bytes], bytes], str]]:
    return [
        (lambda d: patched(d, Pe(d).opt, "<H", 0x999), "unknown PE optional header magic"),
        (lambda d: patched(d, Pe(d).lfanew + 4 + 16, "<H", 40), "optional header too small"),
        (lambda d: patched(d, Pe(d).lfanew + 4 + 2, "<H", 4000), "truncated PE section table"),
        (lambda d: patched(d, Pe(d).lfanew + 4 + 8, "<I", len(d) - 10), "truncated"),
        (lambda d: patched(d, Pe(d).strtab or 0, "<I", 1 << 20), "truncated COFF string table"),
        (lambda d: patched(d, section_header(d, ".text") + 16, "<I", 1 << 20), "extends past the end"),
        (lambda d: patched(d, section_header(d, ".debug_info") + 16, "<I", 1 << 20), "extends past the end"),
        (lambda d: d[: Pe(d).lfanew + 30], "truncated"),
    ]


@pytest.mark.parametrize(("mutate", "message"), _malformed())
@pytest.mark.parametrize("name", PE)
def test_malformed(name: str, mutate: Callable[[bytes], bytes], message: str) -> None:
    data = mutate(load(name))
    for level in LEVELS:
        with pytest.raises(BinaryError, match=message):
            pe.strip(data, level)


def test_dos_programs_are_not_ours() -> None:
    dos = b"MZ" + bytes(0x3A) + struct.pack("<I", 0x40) + b"\xb4\x4c\xcd\x21" + bytes(60)
    for data in (dos, b"MZ", b"MZ" + bytes(100)):
        assert pe.strip(data, "all") == Unchanged("not a PE image (MS-DOS program)", clean=True)
        assert pe.arch(data) == ""
        info = pe.inspect(data)
        assert (info.kind, info.strippable) == ("dos", {"all": 0, "debug": 0})
    assert pe.claims(b"MZ") and binaries.detect(dos[:8]) == "PE"
    odd = patched(load("pe-x86_64.dll"), Pe(load("pe-x86_64.dll")).lfanew + 4, "<H", 0x1234)
    assert pe.arch(odd) == "0x1234" and pe.inspect(odd).arch == "0x1234"


def _regions(data: bytes) -> list[tuple[int, int]]:
    parsed = Pe(data)
    out = [(0x3C, 4), (parsed.lfanew, parsed.table + 40 * len(parsed.sections) - parsed.lfanew)]
    out.append((parsed.symptr, 18 * parsed.nsyms + 64))
    rva, size = parsed.dirs[0]
    out.append((parsed.rva(rva), size))
    return out


@pytest.mark.parametrize("name", PE)
def test_mutation_fuzz(name: str) -> None:
    """Seeded byte changes in the headers, the section table, the export directory and the
    symbol table: BinaryError or a valid, smaller result, never another exception."""
    data = load(name)
    count = 0
    for mutated in mutations(data, _regions(data), 150, seed=zlib.crc32(name.encode())):
        for level in LEVELS:
            try:
                result = pe.strip(mutated, level)
            except BinaryError:
                continue
            if isinstance(result, Stripped):
                assert len(result.materialize(mutated)) == result.size < len(mutated)
        with contextlib.suppress(BinaryError):
            pe.inspect(mutated)
        count += 1
    assert count == 150


@pytest.mark.parametrize("name", PE)
def test_truncations(name: str) -> None:
    data = load(name)
    parsed = Pe(data)
    for cut in range(0, parsed.lfanew + 4, 7):  # no PE signature left
        assert pe.strip(data[:cut], "all") == Unchanged("not a PE image (MS-DOS program)", clean=True)
    for cut in [*range(parsed.lfanew + 4, parsed.table + 40 * len(parsed.sections), 23), *range(0x400, len(data), 331)]:
        for level in LEVELS:
            with pytest.raises(BinaryError):
                pe.strip(data[:cut], level)
