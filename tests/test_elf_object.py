"""The ELF relocatable-object rewriter: gcc, g++, clang and cross-compiled objects checked with
binutils, elfutils and LLVM (relocations, groups, symbols, sizes against GNU strip and
llvm-strip) and by linking and running them; prebuilt objects for the fast layer and fuzzing."""

from __future__ import annotations

import contextlib
import random
import re
import struct
from pathlib import Path

import pytest

from _elf_fixtures import run, tool
from _helpers import check_pieces
from _object_fixtures import (
    CROSS,
    MIXED_GROUPS,
    MIXED_MAIN,
    Program,
    build_cross,
    build_programs,
    debugish,
    elflint_complaints,
    groups,
    loaded_image,
    many_sections_source,
    relocations,
    section_names,
    section_table,
    symbols,
)
from _object_fixtures import addrsig as addrsig_names
from stripwheel import binaries
from stripwheel.binaries import BinaryError, Level, Result, Stripped, Unchanged, elf, elf_object
from stripwheel.binaries._core import suffix_shared_table

LEVELS: tuple[Level, ...] = ("all", "debug")
DATA = Path(__file__).parent / "data"
PREBUILT = sorted(DATA.glob("object-*.o"))
#: the reference tool's flag for each level
FLAGS = {"debug": "--strip-debug", "all": "--strip-unneeded"}


def strip_bytes(data: bytes, level: Level) -> bytes:
    result = elf.strip(data, level)
    assert isinstance(result, Stripped), result
    check_pieces(result, len(data))
    return result.materialize(data)


def strip_file(path: Path, level: Level, out: Path) -> Path:
    out.write_bytes(strip_bytes(path.read_bytes(), level))
    return out


# -- the fast layer: prebuilt objects (tests/data/make_objects.sh) ---------------------------------


def test_prebuilt_objects_exist() -> None:
    assert [p.name for p in PREBUILT] == ["object-i686.o", "object-powerpc64.o", "object-x86_64.o"]


@pytest.mark.parametrize("path", PREBUILT, ids=lambda p: p.stem)
def test_prebuilt_strips(path: Path) -> None:
    """Both levels shrink the object, keep no debug section, are deterministic and idempotent;
    ``inspect`` and the package entry point agree with ``elf.strip``."""
    data = path.read_bytes()
    outputs = {level: strip_bytes(data, level) for level in LEVELS}
    assert len(outputs["all"]) < len(outputs["debug"]) < len(data)
    for level, out in outputs.items():
        assert out == strip_bytes(data, level)  # deterministic
        again = elf.strip(out, level)
        assert again == Unchanged("already stripped", clean=True)
        parsed = elf._Elf(out)
        parsed.parse_tables()
        names = [s.name for s in parsed.sections]
        assert ".symtab" in names and not any(elf._is_debug(n) for n in names)
        assert binaries.strip("ELF", data, level) == elf.strip(data, level)
    assert isinstance(elf.strip(outputs["debug"], "all"), Stripped)  # its locals can still go
    info = elf.inspect(data)
    assert info.kind == "relocatable" and info.note is None
    assert info.strippable == {level: len(data) - len(out) for level, out in outputs.items()}


def test_sections_cannot_be_added_to_an_object() -> None:
    data = PREBUILT[0].read_bytes()
    result = elf.strip(data, "debug", add=((".gnu_debuglink", b"x.debug\0\0\0\0\0", 4),))
    assert isinstance(result, Unchanged) and ".gnu_debuglink" in result.reason


def test_bad_level_is_a_caller_error() -> None:
    with pytest.raises(ValueError):
        elf_object.strip(PREBUILT[0].read_bytes(), "none")  # type: ignore[arg-type]


def test_fast_string_table_lays_out_the_shared_table() -> None:
    """The string tables are built from names spelled backwards at C speed: the same bytes and
    offsets as suffix_shared_table, names that end others (chains of them) and empty ones too."""
    rng = random.Random(7)
    for _ in range(600):
        names = [bytes(rng.choice(b"ab.") for _ in range(rng.randrange(6))) for _ in range(rng.randrange(25))]
        for prefix in (b"\0", b"\0\0"):
            table, where = suffix_shared_table(names, prefix)
            fast_table, fast_where = elf_object._suffix_table([name[::-1] for name in names], prefix)
            assert fast_table == table
            assert {name[::-1]: offset for name, offset in fast_where.items()} == where


def test_symbol_names_found_inside_other_names() -> None:
    """A name may start inside another (tails merged): it is read there; an offset past the
    table is the first one reported, in symbol order."""
    strings = b"\0foo_bar\0baz\0"
    sec = elf._Section(0, "", *([0] * 10))
    offsets = [0, 5, 1, 9, 10, 13, 40]
    symbols = elf_object._Symbols(sec, b"", offsets, bytes(len(offsets)), [0] * 7, [0] * 7, strings, None)
    assert elf_object._reversed_names(symbols, [0, 1, 2, 3, 4]) == [b"", b"rab", b"rab_oof", b"zab", b"za"]
    with pytest.raises(BinaryError, match="symbol name offset 13 "):
        elf_object._reversed_names(symbols, [0, 1, 5, 6])
    unterminated = symbols._replace(names=[0, 1, 2, 4, 5], strings=b"\0ab\0cd")
    assert elf_object._reversed_names(unterminated, [0, 1, 2, 3, 4]) == [b"", b"ba", b"b", b"dc", b"d"]


def _parsed(data: bytes) -> elf._Elf:
    parsed = elf._Elf(data)
    parsed.parse_tables()
    return parsed


def _section(parsed: elf._Elf, predicate: object) -> elf._Section:
    return next(s for s in parsed.sections if predicate(s))  # type: ignore[operator]


def _patch_header(data: bytes, parsed: elf._Elf, sec: elf._Section, **changes: int) -> bytes:
    """``data`` with fields of ``sec``'s section header changed."""
    fields = sec._asdict()
    fields.update(changes)
    out = bytearray(data)
    values = [fields[name] for name in elf._Section._fields[2:]]
    struct.pack_into(parsed.shdr_fmt, out, parsed.shoff + sec.num * parsed.shdr_size, *values)
    return bytes(out)


def _both_levels(data: bytes) -> list[Result]:
    return [elf.strip(data, level) for level in LEVELS]


@pytest.mark.parametrize("path", PREBUILT, ids=lambda p: p.stem)
def test_relocation_symbol_out_of_range(path: Path) -> None:
    data = path.read_bytes()
    parsed = _parsed(data)
    rel = _section(parsed, lambda s: s.type in (elf.SHT_REL, elf.SHT_RELA) and s.name.endswith("apii"))
    out = bytearray(data)
    at = rel.offset + (8 if parsed.is64 else 4)
    if parsed.is64:
        (info,) = struct.unpack_from(parsed.e + "Q", out, at)
        struct.pack_into(parsed.e + "Q", out, at, 0xFFFFFF << 32 | info & 0xFFFFFFFF)
    else:
        (info,) = struct.unpack_from(parsed.e + "I", out, at)
        struct.pack_into(parsed.e + "I", out, at, 0xFFFFFF << 8 | info & 0xFF)
    for level in LEVELS:
        with pytest.raises(BinaryError, match="out of range"):
            elf.strip(bytes(out), level)


@pytest.mark.parametrize("path", PREBUILT, ids=lambda p: p.stem)
def test_group_indices_out_of_range(path: Path) -> None:
    data = path.read_bytes()
    parsed = _parsed(data)
    group = _section(parsed, lambda s: s.type == elf.SHT_GROUP)
    bad_member = bytearray(data)
    struct.pack_into(parsed.e + "I", bad_member, group.offset + 4, 0xFFFF)
    bad_signature = _patch_header(data, parsed, group, info=10_000)
    for bad in (bytes(bad_member), bad_signature):
        for level in LEVELS:
            with pytest.raises(BinaryError, match="out of range"):
                elf.strip(bad, level)


@pytest.mark.parametrize("shndx", [0xFE00, 0xFFFF])
def test_symbol_section_index_out_of_range(shndx: int) -> None:
    """A section index past the table, and SHN_XINDEX without an extended index table."""
    data = PREBUILT[-1].read_bytes()
    parsed = _parsed(data)
    symtab = _section(parsed, lambda s: s.type == elf.SHT_SYMTAB)
    out = bytearray(data)
    struct.pack_into(parsed.e + "H", out, symtab.offset + 3 * parsed.sym_size + parsed.sym_shndx_at, shndx)
    for level in LEVELS:
        with pytest.raises(BinaryError):
            elf.strip(bytes(out), level)


@pytest.mark.parametrize("kind", [0x6FFF4C0A, 0x6FFFFFF0, 0x40000014, 0x80000001])
def test_unknown_section_types_leave_the_object_alone(kind: int) -> None:
    """SHT_LLVM_BB_ADDR_MAP, another OS type, SHT_CREL, a user type: they might hold indices."""
    data = PREBUILT[-1].read_bytes()
    parsed = _parsed(data)
    comment = _section(parsed, lambda s: s.name == ".comment")
    for result in _both_levels(_patch_header(data, parsed, comment, type=kind)):
        assert isinstance(result, Unchanged) and "not understood" in result.reason and not result.clean


def test_unlinked_address_significance_table_is_copied() -> None:
    """GNU strip and llvm-strip leave .llvm_addrsig with sh_link 0 and stale indices: it stays
    as it is (lld ignores it), and does not stop the object from being stripped."""
    data = PREBUILT[-1].read_bytes()
    parsed = _parsed(data)
    table = _section(parsed, lambda s: s.type == elf_object.SHT_LLVM_ADDRSIG)
    patched = _patch_header(data, parsed, table, link=0)
    for level in LEVELS:
        out = _parsed(strip_bytes(patched, level))
        kept = _section(out, lambda s: s.type == elf_object.SHT_LLVM_ADDRSIG)
        assert kept.link == 0 and out.read(kept) == parsed.read(table)


def test_processor_section_naming_the_symbol_table_is_left_alone() -> None:
    data = PREBUILT[-1].read_bytes()
    parsed = _parsed(data)
    symtab = _section(parsed, lambda s: s.type == elf.SHT_SYMTAB)
    comment = _section(parsed, lambda s: s.name == ".comment")
    patched = _patch_header(data, parsed, comment, type=0x70000001, link=symtab.num)
    for result in _both_levels(patched):
        assert isinstance(result, Unchanged) and "not understood" in result.reason


def test_link_to_a_removed_section_is_refused() -> None:
    """A link-order section tied to a debug section cannot keep its link."""
    data = PREBUILT[-1].read_bytes()
    parsed = _parsed(data)
    debug = _section(parsed, lambda s: s.name == ".debug_abbrev")
    comment = _section(parsed, lambda s: s.name == ".comment")
    for result in _both_levels(_patch_header(data, parsed, comment, link=debug.num)):
        assert isinstance(result, Unchanged) and ".debug_abbrev" in result.reason


def test_mips64_little_endian_is_refused() -> None:
    data = bytearray(PREBUILT[-1].read_bytes())
    struct.pack_into("<H", data, 18, 8)  # e_machine = EM_MIPS in an ELF64 LSB object
    for result in _both_levels(bytes(data)):
        assert isinstance(result, Unchanged) and "MIPS64" in result.reason


@pytest.mark.parametrize("name", [b".gnu.lto_.stack", b".gnu.debuglto_x", b".llvm.lto\0stack"])
def test_lto_section_names_leave_the_object_alone(name: bytes) -> None:
    data = PREBUILT[-1].read_bytes()
    old = b".note.GNU-stack"
    assert data.count(old) == 1 and len(name) == len(old)
    for result in _both_levels(data.replace(old, name)):
        assert isinstance(result, Unchanged) and "LTO object" in result.reason


def test_truncated_objects() -> None:
    """Every cut of every prebuilt object: an error or a result, never another exception."""
    for path in PREBUILT:
        data = path.read_bytes()
        for cut in range(0, len(data), 7):
            for level in LEVELS:
                _strip_or_error(data[:cut], level)


def _strip_or_error(data: bytes, level: Level) -> None:
    try:
        result = elf.strip(data, level)
    except BinaryError:
        return
    if isinstance(result, Stripped):
        check_pieces(result, len(data))
        assert result.size < len(data)


def test_mutation_fuzz() -> None:
    """Seeded byte flips in the ELF header, the section headers, the symbol table, a relocation
    section and a group: BinaryError or a valid result, never another exception."""
    rng = random.Random(20240611)
    cases = 0
    for path in PREBUILT:
        data = path.read_bytes()
        parsed = _parsed(data)
        regions = [(0, parsed.ehdr_size), (parsed.shoff, parsed.real_shnum * parsed.shdr_size)]
        for s in parsed.sections:
            if s.type in (elf.SHT_SYMTAB, elf.SHT_GROUP, elf.SHT_RELA, elf.SHT_REL, elf_object.SHT_LLVM_ADDRSIG):
                regions.append((s.offset, s.size))
        for _ in range(120):
            start, length = rng.choice(regions)
            out = bytearray(data)
            for _flip in range(rng.randint(1, 3)):
                pos = start + rng.randrange(max(length, 1))
                out[pos] = rng.randrange(256) if rng.random() < 0.5 else out[pos] ^ (1 << rng.randrange(8))
            for level in LEVELS:
                _strip_or_error(bytes(out), level)
            with contextlib.suppress(BinaryError):
                elf.inspect(bytes(out))
            cases += 1
    assert cases >= 300


# -- the slow layer: objects compiled here, checked with other tools ---------------------------------


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Program]:
    return {p.name: p for p in build_programs(tmp_path_factory.mktemp("objects"))}


@pytest.fixture(scope="module")
def cross(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    return build_cross(tmp_path_factory.mktemp("objects-cross"))


PROGRAMS = ["gcc-O0-g", "gcc-O2-g3", "clang-O0-g", "clang-O2-g3", "g++-O0-dwarf4", "g++-O2-g3", "clang++-O1-g"]


def assert_faithful(original: Path, stripped: Path) -> None:
    """What any stripped object must keep: every kept section's header (its links by name), every
    relocation of every kept section (offset, type, addend, and the symbol's name, binding, type
    and section), the groups with their COMDAT flag and kept members, the address-significance
    table, and no more elflint complaints."""
    names = section_names(stripped)
    assert not any(debugish(n) for n in names), names
    assert section_table(stripped) == [row for row in section_table(original) if not debugish(str(row[0]))]
    expected = [(name, rows) for name, rows in relocations(original) if not debugish(name)]
    assert relocations(stripped) == expected
    kept_groups = [(c, sig, [m for m in members if not debugish(m)]) for c, sig, members in groups(original)]
    assert groups(stripped) == [g for g in kept_groups if g[2]]
    assert addrsig_names(stripped) == addrsig_names(original)
    assert elflint_complaints(stripped) <= elflint_complaints(original)
    assert not any(s.type == "FILE" for s in symbols(stripped))


def symbol_set(path: Path) -> set[tuple[str, str, str, str]]:
    return {(s.name, s.type, s.bind, s.section) for s in symbols(path)[1:]}


def assert_like_llvm(original: Path, ours: Path, reference: Path) -> None:
    """The same symbols as llvm-strip's output but three kinds, and the same size within 2 %
    once they are counted: the local symbols ``.llvm_addrsig`` names, which we keep (llvm-strip
    drops them and unlinks the table), the undefined symbols no relocation names, which we keep,
    and the section symbols no relocation uses, which we drop as GNU strip does (llvm-strip
    keeps them)."""
    significant = set(addrsig_names(original))
    extra = symbol_set(ours) - symbol_set(reference)
    missing = symbol_set(reference) - symbol_set(ours)
    assert all((s[0] in significant and s[2] == "LOCAL") or s[3] == "UND" for s in extra), extra
    assert all(s[1] == "SECTION" for s in missing), missing
    size, theirs = ours.stat().st_size, reference.stat().st_size
    assert abs(size - theirs) <= theirs // 50 + _allowance(original, extra), (size, theirs)


def _allowance(obj: Path, extra: set[tuple[str, str, str, str]]) -> int:
    """The bytes the ``extra`` symbols take: their entries and names."""
    entry = 24 if "ELF64" in run(tool("readelf"), "-hW", obj).stdout else 16
    return sum(entry + len(s[0]) + 1 for s in extra)


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", PROGRAMS)
def test_compiled_objects(programs: dict[str, Program], name: str, level: Level, tmp_path: Path) -> None:
    """Each object against the original and the reference strip (GNU for gcc output, llvm-strip
    for clang's); the stripped objects link into the same program, which runs."""
    program = programs[name]
    stripped = []
    for obj in program.objects:
        out = strip_file(obj, level, tmp_path / obj.name)
        stripped.append(out)
        assert_faithful(obj, out)
        reference = tmp_path / f"{obj.stem}.reference.o"
        run(tool("strip" if program.gnu else "llvm-strip-19"), FLAGS[level], obj, "-o", reference)
        if program.gnu:
            ours, theirs = out.stat().st_size, reference.stat().st_size
            extra = symbol_set(out) - symbol_set(reference)
            # Undefined symbols no relocation names stay (GNU drops _GLOBAL_OFFSET_TABLE_).
            assert symbol_set(reference) <= symbol_set(out) and all(s[3] == "UND" for s in extra), extra
            assert abs(ours - theirs) <= theirs // 100 + _allowance(obj, extra), (ours, theirs)
        else:
            assert_like_llvm(obj, out, reference)
        assert elf.strip(out.read_bytes(), level) == Unchanged("already stripped", clean=True)
    original_exe, stripped_exe = tmp_path / "original", tmp_path / "stripped"
    run(*program.link, "-Wl,--build-id=none", *program.objects, "-o", original_exe)
    run(*program.link, "-Wl,--build-id=none", *stripped, "-o", stripped_exe)
    assert run(stripped_exe).stdout.strip() == program.output
    assert loaded_image(stripped_exe) == loaded_image(original_exe)


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("target", CROSS)
def test_cross_objects(cross: dict[str, tuple[Path, Path]], target: str, level: Level, tmp_path: Path) -> None:
    """Other machines, ELF32 and big-endian, against llvm-strip; linked by ld.lld into the same
    shared object as the originals."""
    stripped = []
    for obj in cross[target]:
        out = strip_file(obj, level, tmp_path / obj.name)
        stripped.append(out)
        assert_faithful(obj, out)
        reference = tmp_path / f"{obj.stem}.llvm.o"
        run(tool("llvm-strip-19"), FLAGS[level], obj, "-o", reference)
        assert_like_llvm(obj, out, reference)
    lld = tool("ld.lld-19")
    original_so, stripped_so = tmp_path / "original.so", tmp_path / "stripped.so"
    run(lld, "-shared", "--build-id=none", *cross[target], "-o", original_so)
    run(lld, "-shared", "--build-id=none", *stripped, "-o", stripped_so)
    assert loaded_image(stripped_so) == loaded_image(original_so)


@pytest.mark.slow
def test_mapping_symbols_stay(cross: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    """ARM and AArch64 mapping symbols survive level all, as with llvm-strip."""
    for target in ("aarch64-linux-gnu", "armv7-linux-gnueabihf"):
        obj = cross[target][0]
        out = strip_file(obj, "all", tmp_path / f"{target}.o")
        mapping = {s for s in symbol_set(obj) if s[0].startswith("$") and not debugish(s[3])}
        assert mapping and mapping <= symbol_set(out)


def _unchanged(path: Path, fragment: str) -> None:
    data = path.read_bytes()
    for level in LEVELS:
        result = elf.strip(data, level)
        assert isinstance(result, Unchanged) and fragment in result.reason and not result.clean, result
    info = elf.inspect(data)
    assert info.note is not None and fragment in info.note and info.strippable == {"all": 0, "debug": 0}


@pytest.mark.slow
@pytest.mark.parametrize("flags", [("-flto", "-ffat-lto-objects"), ("-flto",)], ids=["fat", "slim"])
def test_lto_objects_are_left_alone(flags: tuple[str, ...], tmp_path: Path) -> None:
    """GNU strip -g breaks GCC's -flto -g objects: they stay as they are."""
    (tmp_path / "lib.c").write_text("int lib_value = 3;\nint lib_add(int a, int b) { return a + b; }\n")
    obj = tmp_path / "lib.o"
    run(tool("gcc"), "-g", "-O2", *flags, "-c", tmp_path / "lib.c", "-o", obj)
    assert any(n.startswith(".gnu.lto_") for n in section_names(obj))
    _unchanged(obj, "LTO object")


@pytest.mark.slow
@pytest.mark.parametrize(
    "compiler,flags",
    [("gcc", ("-gsplit-dwarf",)), ("clang", ("-gsplit-dwarf",)), ("clang", ("-gsplit-dwarf=single",))],
    ids=["gcc", "clang", "clang-single"],
)
def test_split_dwarf_objects_are_left_alone(compiler: str, flags: tuple[str, ...], tmp_path: Path) -> None:
    (tmp_path / "lib.c").write_text("struct s { int a; };\nint lib_add(struct s *p, int b) { return p->a + b; }\n")
    obj = tmp_path / "lib.o"
    run(tool(compiler), "-g", "-O1", *flags, "-c", tmp_path / "lib.c", "-o", obj, cwd=tmp_path)
    _unchanged(obj, "split DWARF")
    for dwo in tmp_path.glob("*.dwo"):
        _unchanged(dwo, "split DWARF")


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_groups_with_debug_members(level: Level, tmp_path: Path) -> None:
    """A group keeps its code members, loses its debug ones and stays COMDAT, whether its
    signature symbol is global or local (llvm-strip would clear the flag of the latter)."""
    (tmp_path / "groups.s").write_text(MIXED_GROUPS)
    (tmp_path / "main.c").write_text(MIXED_MAIN)
    obj, main = tmp_path / "groups.o", tmp_path / "main.o"
    run(tool("gcc"), "-c", tmp_path / "groups.s", "-o", obj)
    run(tool("gcc"), "-c", tmp_path / "main.c", "-o", main)
    out = strip_file(obj, level, tmp_path / "groups.stripped.o")
    assert_faithful(obj, out)
    assert groups(out) == [(True, "shared_fn", [".text.shared"]), (True, "local_sig", [".rodata.local"])]
    assert any(s.name == "local_sig" and s.bind == "LOCAL" for s in symbols(out))
    exe = tmp_path / "groups"
    run(tool("gcc"), main, out, "-o", exe)
    assert run(exe).stdout.strip() == "49"


@pytest.mark.slow
@pytest.mark.parametrize("plain,extended", [(65400, True), (65255, False)], ids=["stays-extended", "falls-below"])
def test_extended_section_numbering(plain: int, extended: bool, tmp_path: Path) -> None:
    """More than 0xff00 sections: e_shnum, e_shstrndx and st_shndx escape through section 0 and
    SHT_SYMTAB_SHNDX. Removing 40 debug sections either keeps the escapes (the extended index
    table is rewritten) or brings the count below 0xff00 (escapes and table are dropped)."""
    source = tmp_path / "many.s"
    source.write_text(many_sections_source(plain, 40))
    obj = tmp_path / "many.o"
    run(tool("gcc"), "-c", source, "-o", obj)
    before = len(section_names(obj))
    assert before > 0xFF00
    last = next(s for s in symbols(obj) if s.name == "sw_last")
    for level in LEVELS:
        out = strip_file(obj, level, tmp_path / f"many.{level}.o")
        names = section_names(out)
        # The debug sections go, and the extended index table with them once nothing needs it.
        assert len(names) == before - 40 - (not extended)
        header = run(tool("readelf"), "-hW", out).stdout
        assert bool(re.search(r"Number of section headers:\s+0 \(\d+\)", header)) == extended
        assert bool(re.search(r"Section header string table index:\s+65535 \(\d+\)", header)) == extended
        assert (".symtab_shndx" in names) == extended
        assert next(s for s in symbols(out) if s.name == "sw_last") == last
        assert relocations(out) == relocations(obj)
        assert elflint_complaints(out) <= elflint_complaints(obj)
        linked = tmp_path / f"many.{level}.so"
        run(tool("ld.lld-19"), "-shared", "--build-id=none", out, "-o", linked)
        reference = tmp_path / "many.so"
        run(tool("ld.lld-19"), "-shared", "--build-id=none", obj, "-o", reference)
        assert loaded_image(linked) == loaded_image(reference)
