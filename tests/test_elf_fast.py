"""The ELF rewriter (elf.py) and the debug files it leaves (elf_debug.py) on the prebuilt binaries
of tests/data/binaries (make.sh): ELF32 and ELF64 of both byte orders, a shared object with a
build-id, a PIE executable without one, a patchelf'ed library. Each is stripped at both levels
and read back with the independent reader of ``_prebuilt``, against what ``llvm-strip`` left and
``readelf`` read when they were built (expected.json); then hundreds of malformed mutations of
them. The fast layer: no compiler, no external tool."""

from __future__ import annotations

import contextlib
import lzma
import mmap
import struct
import zlib
from collections.abc import Callable

import pytest

from _helpers import check_pieces
from _prebuilt import DIR, FILES, PT_LOAD, SHF_ALLOC, SHT_DYNSYM, SHT_NOBITS, SHT_SYMTAB, Elf, load, mutations, names
from stripwheel import binaries
from stripwheel.binaries import (
    DEBUG_FILE_KIND,
    DEBUG_FILE_REASON,
    BinaryError,
    Copy,
    Level,
    Piece,
    Result,
    Stripped,
    Unchanged,
    elf,
    elf_debug,
)

LEVELS: tuple[Level, ...] = ("all", "debug")
ELF = names("ELF")
#: stripwheel's output sizes (a change is a change of layout: check it against the reference
#: sizes in expected.json, which every output must not exceed, before updating these)
SIZES = {
    "elf-x86_64.so": {"all": 13928, "debug": 15048},
    "elf-x86_64-pie": {"all": 14392, "debug": 15760},
    "elf-x86_64-patchelf.so": {"all": 22656, "debug": 23768},
    "elf-i686.so": {"all": 1676, "debug": 1976},
    "elf-ppc.so": {"all": 1780, "debug": 2040},
    "elf-ppc64.so": {"all": 3008, "debug": 3408},
}
#: readelf's words for the file type and machine -> what ``inspect`` says
KINDS = {"DYN (Shared object file)": "shared object", "DYN (Position-Independent Executable file)": "PIE executable"}
ARCHS = {"Advanced Micro Devices X86-64": "x86_64", "Intel 80386": "i386", "PowerPC": "ppc", "PowerPC64": "ppc64"}


def strip(data: bytes, level: Level, **kwargs: object) -> bytes:
    result = elf.strip(data, level, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Stripped), result
    check_pieces(result, len(data))
    return result.materialize(data)


def joined(data: bytes, pieces: tuple[Piece, ...]) -> bytes:
    return b"".join(data[p.offset : p.offset + p.length] if isinstance(p, Copy) else p for p in pieces)


# --- stripping, against the record ----------------------------------------------------------------


def test_the_record_covers_every_class_and_byte_order() -> None:
    assert set(SIZES) == set(ELF)
    classes = {(FILES[n]["class"], FILES[n]["data"].split()[-2]) for n in ELF}
    assert classes == {("ELF64", "little"), ("ELF32", "little"), ("ELF32", "big"), ("ELF64", "big")}


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", ELF)
def test_strip_matches_the_reference(name: str, level: Level) -> None:
    """The sections llvm-strip keeps, the symbols it keeps, the dynamic symbols untouched, no
    byte of the loaded image changed, and no larger than llvm-strip's output."""
    data, record = load(name), FILES[name]
    reference = record["reference"][level]
    result = elf.strip(data, level)
    assert isinstance(result, Stripped), result
    check_pieces(result, len(data))
    out = result.materialize(data)
    assert len(out) == result.size == SIZES[name][level]
    assert result.size <= reference["size"]
    before, after = Elf(data), Elf(out)
    assert after.section_names == reference["sections"]
    assert list(result.removed) == [n for n in record["sections"] if n not in reference["sections"]]
    assert after.symbol_names(SHT_SYMTAB) == reference["symtab"]
    assert after.symbol_names(SHT_DYNSYM) == record["dynsym"]
    assert after.symbols(SHT_DYNSYM) == before.symbols(SHT_DYNSYM)
    for sec in before.sections[1:]:
        if sec.flags & SHF_ALLOC:
            kept = after.section(sec.name)
            assert kept is not None and (kept.addr, kept.size, kept.type) == (sec.addr, sec.size, sec.type)
            assert after.contents(kept) == before.contents(sec), sec.name
    loads = [(s.vaddr, s.filesz, s.memsz, s.flags, s.align) for s in before.segments if s.type == PT_LOAD]
    assert [(s.vaddr, s.filesz, s.memsz, s.flags, s.align) for s in after.segments if s.type == PT_LOAD] == loads
    for seg in after.segments:
        if seg.type == PT_LOAD:
            assert seg.offset % seg.align == seg.vaddr % seg.align
    assert [s.type for s in after.segments] == [s.type for s in before.segments]
    assert (after.type, after.machine) == (before.type, before.machine)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", ELF)
def test_second_strip_is_clean_and_the_output_deterministic(name: str, level: Level) -> None:
    data = load(name)
    out = strip(data, level)
    assert elf.strip(out, level) == Unchanged("already stripped", clean=True)
    assert elf.strip(data, level) == elf.strip(data, level)
    assert binaries.strip("ELF", data, level) == elf.strip(data, level)
    if level == "debug":  # the static symbols can still go
        assert len(strip(out, "all")) < len(out)


def test_patchelf_segments_move_down() -> None:
    """patchelf appended PT_LOADs after the debug sections: they slide down over them."""
    data = load("elf-x86_64-patchelf.so")
    before = [s for s in Elf(data).segments if s.type == PT_LOAD]
    for level in LEVELS:
        after = [s for s in Elf(strip(data, level)).segments if s.type == PT_LOAD]
        moved = [(a.offset, b.offset) for a, b in zip(after, before) if a.offset != b.offset]
        assert moved and all(new < old for new, old in moved)


@pytest.mark.parametrize("name", ELF)
def test_inspect(name: str) -> None:
    data, record = load(name), FILES[name]
    info = elf.inspect(data)
    assert (info.format, info.arch, info.kind, info.size) == (
        "ELF",
        ARCHS[record["machine"]],
        KINDS[record["type"]],
        len(data),
    )
    assert info.strippable == {level: len(data) - SIZES[name][level] for level in LEVELS}
    assert info.note is None and info.signature == "none"
    assert binaries.detect(data[: binaries.HEAD]) == "ELF"
    assert binaries.inspect("ELF", data) == info
    assert binaries.arch("ELF", data) == elf.arch(data) == info.arch
    assert not binaries.is_debug_file("ELF", data) and not elf.is_debug_file(data)


def test_buffers_of_every_kind() -> None:
    """bytes, bytearray, memoryview and a read-only mmap give the same output."""
    path = DIR / "elf-x86_64.so"
    data = load(path.name)
    expected = strip(data, "all")
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        for buf in (bytearray(data), memoryview(data), mapped):
            result = elf.strip(buf, "all")
            assert isinstance(result, Stripped) and result.materialize(buf) == expected
            assert elf.inspect(buf) == elf.inspect(data)


def test_bad_level_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="bad strip level"):
        elf.strip(load("elf-i686.so"), "none")  # type: ignore[arg-type]


# --- sections added to a stripped file --------------------------------------------------------------


@pytest.mark.parametrize("name", ELF)
def test_debuglink_is_added_and_replaces_an_old_one(name: str) -> None:
    data = load(name)
    link = elf_debug.debuglink(data, "x.debug", 0x12345678)
    order = "<" if data[5] == 1 else ">"
    assert link == b"x.debug\0" + struct.pack(order + "I", 0x12345678)
    added = ((".gnu_debuglink", link, 4),)
    for level in LEVELS:
        out = strip(data, level, add=added)
        parsed = Elf(out)
        assert parsed.section_names == [*FILES[name]["reference"][level]["sections"], ".gnu_debuglink"]
        sec = parsed.section(".gnu_debuglink")
        assert sec is not None and parsed.contents(sec) == link and sec.offset % 4 == 0
        assert elf.strip(out, level) == Unchanged("already stripped", clean=True)
    # a file still holding .symtab and an old link: stripping again replaces the link
    linked = strip(data, "debug", add=added)
    newer = elf_debug.debuglink(data, "y.debug", 1)
    relinked = Elf(strip(linked, "all", add=((".gnu_debuglink", newer, 4),)))
    assert relinked.section_names.count(".gnu_debuglink") == 1
    sec = relinked.section(".gnu_debuglink")
    assert sec is not None and relinked.contents(sec) == newer


# --- debug files and MiniDebugInfo ------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", ELF)
def test_debug_file(name: str, level: Level) -> None:
    """The ``--only-keep-debug`` form: the same section table, the removed sections' bytes, the
    allocated ones turned SHT_NOBITS but the notes; it is recognised and never stripped."""
    data, record = load(name), FILES[name]
    parts = elf_debug.debug_file(data, level)
    assert parts is not None
    out = joined(data, parts.pieces)
    assert len(out) == parts.size
    assert parts.build_id == record["build_id"] and not parts.split_dwarf
    before, after = Elf(data), Elf(out)
    assert after.section_names == record["sections"]
    removed = set(record["sections"]) - set(record["reference"][level]["sections"])
    for sec, kept in zip(before.sections[1:], after.sections[1:]):
        if sec.name in removed or sec.type == SHT_SYMTAB:
            assert after.contents(kept) == before.contents(sec), sec.name
        elif sec.flags & SHF_ALLOC and sec.type != 7:  # SHT_NOTE keeps its bytes
            assert kept.type == SHT_NOBITS, sec.name
    assert elf.is_debug_file(out) and binaries.is_debug_file("ELF", out)
    for again in LEVELS:
        assert elf.strip(out, again) == Unchanged(DEBUG_FILE_REASON)
        assert elf_debug.debug_file(out, again) is None
    assert elf_debug.mini_debuginfo(out) is None
    info = elf.inspect(out)
    assert (info.kind, info.note, info.strippable) == (DEBUG_FILE_KIND, DEBUG_FILE_REASON, {"all": 0, "debug": 0})


def test_build_ids() -> None:
    found = {name: FILES[name]["build_id"] for name in ELF}
    assert found["elf-x86_64.so"] and found["elf-ppc64.so"] and found["elf-x86_64-pie"] is None
    for name, build_id in found.items():
        parsed = elf._Elf(load(name))
        parsed.parse_tables()
        assert elf_debug.build_id(parsed) == build_id


@pytest.mark.parametrize("name", ELF)
def test_mini_debuginfo(name: str) -> None:
    """An xz-compressed ELF whose .symtab holds the functions .symtab has and .dynsym lacks."""
    data = load(name)
    mini = elf_debug.mini_debuginfo(data)
    assert mini is not None
    inner = Elf(lzma.decompress(mini))
    symbols = inner.symbols(SHT_SYMTAB)
    assert symbols[0] == ("", 0, 0)
    functions = {n for n, info, shndx in Elf(data).symbols(SHT_SYMTAB) if info & 0xF in (2, 10) and shndx}
    chosen = {n for n, _, _ in symbols[1:]}
    assert chosen == functions - set(FILES[name]["dynsym"])
    assert ("answer" if name.endswith("pie") else "helper") in chosen
    binds = [info >> 4 for _, info, _ in symbols[1:]]
    assert binds == sorted(binds)  # locals first
    assert inner.section_names == FILES[name]["sections"]


def test_mini_debuginfo_of_a_stripped_file_is_none() -> None:
    data = load("elf-x86_64.so")
    assert elf_debug.mini_debuginfo(strip(data, "all")) is None
    assert elf_debug.debug_file(strip(data, "all"), "all") is None


# --- the string reader ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "offset", "expected"),
    [
        (b"\0abc\0def\0", 0, ""),
        (b"\0abc\0def\0", 1, "abc"),
        (b"\0abc\0def\0", 2, "bc"),
        (b"\0abc\0def\0", 5, "def"),
        (b"\0abc\0unterminated", 5, "unterminated"),
        (b"\0" + b"x" * 300 + b"\0", 1, "x" * 300),  # longer than the first reads
        (b"\0" + b"y" * 5000, 1, "y" * 5000),
        (b"\0\xff\xfe\0", 1, "\ufffd\ufffd"),
    ],
)
def test_string_reader(table: bytes, offset: int, expected: str) -> None:
    padded = b"PAD" + table + b"tail\0"
    assert elf._StringReader(padded, 3, len(table)).get(offset) == expected


def test_string_reader_refuses_offsets_past_the_table() -> None:
    with pytest.raises(BinaryError, match="out of range"):
        elf._StringReader(b"\0abc\0", 0, 5).get(5)


def test_block_layout() -> None:
    blocks = elf._merge([(0, 64, 1, True), (32, 100, 8, False), (200, 300, 16, False), (400, 400, 4, False)])
    assert [(b.start, b.end, b.mod, b.pinned) for b in blocks] == [(0, 100, 8, True), (200, 300, 16, False)]
    blocks[1].new = 112
    layout = elf._Layout(blocks)
    assert layout.containing(10, 20) is blocks[0] and layout.containing(90, 20) is None
    assert layout.containing(100, 0) is blocks[0] and layout.containing(-5, 1) is None
    assert layout.overlapping(90, 20) and not layout.overlapping(150, 20)
    # past a block's end an offset snaps to the block's new end
    assert (layout.shift(250), layout.shift(300), layout.shift(350), layout.shift(-1)) == (162, 212, 212, -1)
    assert layout.shift(350, 64) == 222  # an empty PT_LOAD keeps its congruence (350 - 222 = 2 * 64)


# --- mutations: other kinds, layouts and malformed files --------------------------------------------


def header_fields(data: bytes) -> tuple[str, int, int]:
    """(byte order, e_shoff, size of a section header)."""
    parsed = Elf(data)
    return parsed.e, parsed.shoff, 64 if parsed.is64 else 40


def with_header(data: bytes, **fields: int) -> bytes:
    """``data`` with ELF header fields changed (e_type, e_machine, e_phentsize, e_shentsize,
    e_shnum, e_shstrndx, e_shoff, e_phoff)."""
    e, is64 = ("<" if data[5] == 1 else ">"), data[4] == 2
    at = {"e_type": 16, "e_machine": 18}
    if is64:
        at.update(e_phoff=32, e_shoff=40, e_phentsize=54, e_phnum=56, e_shentsize=58, e_shnum=60, e_shstrndx=62)
    else:
        at.update(e_phoff=28, e_shoff=32, e_phentsize=42, e_phnum=44, e_shentsize=46, e_shnum=48, e_shstrndx=50)
    out = bytearray(data)
    for key, value in fields.items():
        wide = key in ("e_phoff", "e_shoff")
        struct.pack_into(e + ("Q" if wide and is64 else "I" if wide else "H"), out, at[key], value)
    return bytes(out)


def with_section(data: bytes, index: int, **fields: int) -> bytes:
    """``data`` with fields of section ``index``'s header changed."""
    parsed = Elf(data)
    e, shoff, size = header_fields(data)
    order = ["name", "type", "flags", "addr", "offset", "size", "link", "info", "addralign", "entsize"]
    fmt = e + ("IIQQQQIIQQ" if parsed.is64 else "IIIIIIIIII")
    values = list(struct.unpack_from(fmt, data, shoff + index * size))
    for key, value in fields.items():
        values[order.index(key)] = value
    out = bytearray(data)
    struct.pack_into(fmt, out, shoff + index * size, *values)
    return bytes(out)


def index_of(data: bytes, name: str) -> int:
    return Elf(data).section_names.index(name) + 1


@pytest.mark.parametrize("name", ELF)
def test_extended_numbering_in_the_input(name: str) -> None:
    """Counts moved to section 0 (as a file with 0xff00 sections has them) read the same: the
    output, numbered normally, is what the plain file gives."""
    data = load(name)
    count, shstrndx = len(Elf(data).sections), index_of(data, ".shstrtab")
    extended = with_header(with_section(data, 0, size=count, link=shstrndx), e_shnum=0, e_shstrndx=0xFFFF)
    for level in LEVELS:
        assert strip(extended, level) == strip(data, level)
    assert elf.inspect(extended).strippable == elf.inspect(data).strippable


def test_file_types() -> None:
    lib, pie = load("elf-x86_64.so"), load("elf-x86_64-pie")
    exe = with_header(pie, e_type=elf.ET_EXEC)
    assert elf.inspect(exe).kind == "executable"
    assert isinstance(elf.strip(exe, "all"), Stripped)
    core = with_header(lib, e_type=elf.ET_CORE)
    assert elf.strip(core, "all") == Unchanged("core dump")
    assert elf.inspect(core).kind == "core" and elf.inspect(core).note == "core dump"
    odd = with_header(lib, e_type=7)
    assert elf.strip(odd, "debug") == Unchanged("unsupported ELF type 7")
    assert elf.inspect(odd).kind == "type 7"
    assert elf.arch(with_header(lib, e_machine=0x1234)) == "machine 4660"
    assert elf.arch(with_header(lib, e_machine=183)) == "aarch64"
    assert elf_debug.debug_file(core, "all") is None and elf_debug.mini_debuginfo(core) is None


def test_pie_without_its_dynamic_flag_is_still_a_pie() -> None:
    """DF_1_PIE says it; without it, PT_INTERP and no DT_SONAME do."""
    data = load("elf-x86_64-pie")
    parsed = elf._Elf(data)
    parsed.parse_tables()
    dynamic = next(s for s in parsed.segments if s.type == elf.PT_DYNAMIC)
    entries = parsed.dynamic()
    at = dynamic.offset + 16 * [tag for tag, _ in entries].index(elf.DT_FLAGS_1)
    out = bytearray(data)
    struct.pack_into("<qQ", out, at, elf.DT_FLAGS_1, 0)
    assert elf.inspect(bytes(out)).kind == "PIE executable"
    assert elf.inspect(load("elf-x86_64.so")).kind == "shared object"


def test_appended_data() -> None:
    data = load("elf-ppc.so")
    payload = elf.strip(data + b"payload", "all")
    assert isinstance(payload, Unchanged) and "appended" in payload.reason and not payload.clean
    assert elf.strip(data + bytes(elf.MAX_NUL_TAIL), "all") == elf.strip(data, "all")  # patchelf's padding
    assert isinstance(elf.strip(data + bytes(elf.MAX_NUL_TAIL + 1), "all"), Unchanged)


def test_no_section_headers() -> None:
    data = with_header(load("elf-i686.so"), e_shoff=0, e_shnum=0, e_shstrndx=0)
    assert elf.strip(data, "all") == Unchanged("no section headers", clean=True)
    assert elf.inspect(data).strippable == {"all": 0, "debug": 0}


def test_sections_naming_the_symbol_table_keep_its_file_symbols() -> None:
    """A kept section whose sh_link is .symtab (relocations of ``--emit-relocs``): its indices
    must not shift, so level debug keeps every symbol but renumbers nothing it need not."""
    data = load("elf-x86_64.so")
    symtab = index_of(data, ".symtab")
    linked = with_section(data, index_of(data, ".comment"), link=symtab)
    out = Elf(strip(linked, "debug"))
    assert out.symbol_names(SHT_SYMTAB) == FILES["elf-x86_64.so"]["symtab"]
    assert ".debug_info" not in out.section_names
    assert Elf(strip(linked, "all")).section_names == FILES["elf-x86_64.so"]["reference"]["all"]["sections"]


def symbol_entry(data: bytes, table: int, position: int) -> int:
    """File offset of symbol ``position`` of the symbol table of type ``table``."""
    parsed = Elf(data)
    sec = next(s for s in parsed.sections if s.type == table)
    return sec.offset + position * (24 if parsed.is64 else 16)


def with_symbol_section(data: bytes, table: int, name: str, shndx: int) -> bytes:
    position = Elf(data).symbol_names(table).index(name)
    at = symbol_entry(data, table, position) + (6 if data[4] == 2 else 14)
    out = bytearray(data)
    struct.pack_into(("<" if data[5] == 1 else ">") + "H", out, at, shndx)
    return bytes(out)


def test_dynamic_symbol_in_a_removed_section_is_refused() -> None:
    data = load("elf-x86_64.so")
    moved = with_symbol_section(data, SHT_DYNSYM, "api_add", index_of(data, ".debug_info"))
    for level in LEVELS:
        result = elf.strip(moved, level)
        assert isinstance(result, Unchanged) and "defined in a removed section" in result.reason


def test_static_symbols_of_removed_sections_go() -> None:
    data = load("elf-ppc64.so")
    moved = with_symbol_section(data, SHT_SYMTAB, "helper", index_of(data, ".debug_info"))
    out = Elf(strip(moved, "debug"))
    assert "helper" not in out.symbol_names(SHT_SYMTAB)
    assert "api_add" in out.symbol_names(SHT_SYMTAB)
    xindex = with_symbol_section(data, SHT_SYMTAB, "helper", elf.SHN_XINDEX)  # and no SHT_SYMTAB_SHNDX
    assert "helper" in Elf(strip(xindex, "debug")).symbol_names(SHT_SYMTAB)


def test_symbol_name_past_the_string_table() -> None:
    data = load("elf-i686.so")
    position = Elf(data).symbol_names(SHT_SYMTAB).index("helper")
    out = bytearray(data)
    struct.pack_into("<I", out, symbol_entry(data, SHT_SYMTAB, position), 0x7FFFFF)
    with pytest.raises(BinaryError, match="symbol name offset"):
        elf.strip(bytes(out), "debug")
    assert isinstance(elf.strip(bytes(out), "all"), Stripped)  # .symtab goes whole


def _shstrtab(data: bytes) -> int:
    return index_of(data, ".shstrtab")


#: (what is broken, how, the BinaryError it gives)
MALFORMED: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("class", lambda d: d[:4] + b"\x03" + d[5:], "bad ELF class"),
    ("data encoding", lambda d: d[:5] + b"\x00" + d[6:], "bad ELF data encoding"),
    ("header cut", lambda d: d[:40], "truncated ELF header|malformed"),
    ("section entry size", lambda d: with_header(d, e_shentsize=12), "bad e_shentsize"),
    ("program entry size", lambda d: with_header(d, e_phentsize=12), "bad e_phentsize"),
    ("section table offset", lambda d: with_header(d, e_shoff=len(d) - 8), "section header table past end"),
    ("section count", lambda d: with_header(d, e_shnum=4000), "section header table past end"),
    ("program header count", lambda d: with_header(d, e_phnum=4000), "program header table past end"),
    ("name table index", lambda d: with_header(d, e_shstrndx=300), "bad e_shstrndx"),
    ("name table type", lambda d: with_section(d, _shstrtab(d), type=SHT_NOBITS), "section name table past end"),
    ("name table size", lambda d: with_section(d, _shstrtab(d), size=1 << 30), "section name table past end"),
    ("section name", lambda d: with_section(d, 3, name=1 << 20), "section name offset"),
    ("section size", lambda d: with_section(d, index_of(d, ".comment"), size=1 << 30), "past end of file"),
]


@pytest.mark.parametrize(("what", "mutate", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
@pytest.mark.parametrize("name", ["elf-x86_64.so", "elf-ppc.so"])
def test_malformed_headers(name: str, what: str, mutate: Callable[[bytes], bytes], message: str) -> None:
    data = mutate(load(name))
    for level in LEVELS:
        with pytest.raises(BinaryError, match=message):
            elf.strip(data, level)
    with pytest.raises(BinaryError, match=message):
        elf.inspect(data)
    assert not elf.is_debug_file(data)


def test_segment_past_the_end() -> None:
    data = load("elf-x86_64.so")
    parsed = Elf(data)
    out = bytearray(data)
    struct.pack_into("<Q", out, parsed.phoff + 32, 1 << 40)  # p_filesz of the first program header
    with pytest.raises(BinaryError, match="segment 0 past end"):
        elf.strip(bytes(out), "all")


def test_not_elf() -> None:
    for data in (b"", b"\x7fELF", b"\x7fEL" + bytes(100), b"MZ" + bytes(100)):
        with pytest.raises(BinaryError):
            elf.strip(data, "all")
        with pytest.raises(BinaryError):
            elf.arch(data)
        assert not elf.is_debug_file(data)


def outcome(data: bytes, level: Level) -> Result | None:
    """The strip result, checked; None for a BinaryError."""
    try:
        result = elf.strip(data, level)
    except BinaryError:
        return None
    if isinstance(result, Stripped):
        check_pieces(result, len(data))
        assert result.size < len(data)
    return result


def regions(data: bytes) -> list[tuple[int, int]]:
    """The parts of a file its parser reads: headers, tables, notes, symbols, dynamic section."""
    parsed = Elf(data)
    shdr, phdr = (64, 56) if parsed.is64 else (40, 32)
    out = [(0, 64), (parsed.shoff, len(parsed.sections) * shdr), (parsed.phoff, len(parsed.segments) * phdr)]
    for sec in parsed.sections:
        if sec.type in (SHT_SYMTAB, SHT_DYNSYM, 3, 6, 7) and sec.size:  # strtab, dynamic, note
            out.append((sec.offset, min(sec.size, 512)))
    return out


def with_sane_alignments(mutated: bytes, original: bytes) -> bytes:
    """``mutated`` with every section's sh_addralign as in ``original`` (see
    test_debug_file_of_a_section_with_an_absurd_alignment)."""
    parsed = Elf(original)
    _, shoff, size = header_fields(original)
    at, width = (48, 8) if parsed.is64 else (32, 4)
    out = bytearray(mutated)
    for i in range(len(parsed.sections)):
        field = shoff + i * size + at
        out[field : field + width] = original[field : field + width]
    return bytes(out)


@pytest.mark.parametrize("name", ELF)
def test_mutation_fuzz(name: str) -> None:
    """Seeded byte changes in the headers and tables: BinaryError or a valid result (pieces
    inside the input, smaller than it), never another exception, from every entry point."""
    data = load(name)
    count = 0
    for mutated in mutations(data, regions(data), 70, seed=zlib.crc32(name.encode())):
        for level in LEVELS:
            outcome(mutated, level)
        with contextlib.suppress(BinaryError):
            info = elf.inspect(mutated)
            assert set(info.strippable) == set(LEVELS)
        elf.is_debug_file(mutated)
        sane = with_sane_alignments(mutated, data)
        for level in LEVELS:
            with contextlib.suppress(BinaryError):
                parts = elf_debug.debug_file(sane, level)
                assert parts is None or parts.size > 0
        with contextlib.suppress(BinaryError):
            elf_debug.mini_debuginfo(sane)
        count += 1
    assert count == 70


def test_debug_file_of_a_section_with_an_absurd_alignment() -> None:
    """A corrupt sh_addralign (2**51, found by test_mutation_fuzz) is a BinaryError for the
    debug file and MiniDebugInfo, not petabytes of padding; strip drops the section anyway."""
    data = load("elf-x86_64.so")
    absurd = with_section(data, index_of(data, ".debug_info"), addralign=1 << 51)
    assert strip(absurd, "all") == strip(data, "all")  # the section goes: its alignment is moot
    with pytest.raises(BinaryError, match="alignment"):
        elf_debug.debug_file(absurd, "all")
    with contextlib.suppress(BinaryError):
        elf_debug.mini_debuginfo(absurd)  # reads no .debug_info: either answer is fine


@pytest.mark.parametrize("name", ["elf-x86_64-pie", "elf-ppc64.so"])
def test_truncations(name: str) -> None:
    data = load(name)
    for cut in [*range(0, 256, 9), *range(256, len(data), 211)]:
        for level in LEVELS:
            outcome(data[:cut], level)
        with contextlib.suppress(BinaryError):
            elf.inspect(data[:cut])
