"""The ELF rewriter on real binaries: gcc-built native files, a patchelf'ed library, files
with extended section numbering and clang/lld cross builds (other architectures, ELF32,
big-endian), checked by loading/running them and against binutils, llvm-strip and LIEF."""

from __future__ import annotations

import mmap
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from _elf_fixtures import (
    CROSS_TARGETS,
    LONG_RPATH,
    Native,
    build_cross,
    build_native,
    run,
    tool,
)
from _helpers import check_pieces
from stripwheel.binaries import (
    DEBUG_FILE_KIND,
    DEBUG_FILE_REASON,
    HEAD,
    BinaryError,
    Copy,
    Level,
    Stripped,
    Unchanged,
    detect,
    elf,
    elf_debug,
)

LEVELS: tuple[Level, ...] = ("all", "debug")


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Native:
    return build_native(tmp_path_factory.mktemp("elf-native"))


@pytest.fixture(scope="module")
def cross(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_cross(tmp_path_factory.mktemp("elf-cross"))


# -- helpers ------------------------------------------------------------------------------------


def stripped(path: Path, level: Level, dest: Path) -> Path:
    """Strip ``path`` into ``dest`` (a directory, or a file path) and return the file."""
    data = path.read_bytes()
    result = elf.strip(data, level)
    assert isinstance(result, Stripped), result
    check_pieces(result, len(data))
    out = dest / path.name if dest.is_dir() else dest
    out.write_bytes(result.materialize(data))
    out.chmod(0o755)
    return out


def readelf(*args: str | Path, tool_name: str = "readelf") -> tuple[str, str]:
    proc = run(tool(tool_name), *args)
    return proc.stdout, proc.stderr


def section_names(path: Path) -> list[str]:
    out, _ = readelf("-S", "-W", path)
    return re.findall(r"^\s*\[\s*\d+\]\s+(\S+)", out, re.MULTILINE)


def dyn_syms(path: Path, tool_name: str = "readelf") -> str:
    out, _ = readelf("--dyn-syms", "-W", path, tool_name=tool_name)
    return out


def notes(path: Path) -> str:
    out, _ = readelf("-n", "-W", path)
    return re.sub(r"Displaying notes found in: \S+\n", "", out)


def loads(path: Path) -> list[tuple[int, int, int, int, int, int]]:
    """(offset, vaddr, filesz, memsz, flags, align) of every PT_LOAD, parsed with readelf."""
    out, _ = readelf("-l", "-W", path)
    rows = []
    for m in re.finditer(
        r"^\s*LOAD\s+(0x\w+)\s+(0x\w+)\s+0x\w+\s+(0x\w+)\s+(0x\w+)\s+([RWE ]+?)\s+(0x\w+)",
        out,
        re.MULTILINE,
    ):
        off, vaddr, filesz, memsz, flags, align = m.groups()
        rows.append(
            (
                int(off, 16),
                int(vaddr, 16),
                int(filesz, 16),
                int(memsz, 16),
                hash(flags.replace(" ", "")),
                int(align, 16),
            )
        )
    return rows


def warnings_of(path: Path, tool_name: str) -> list[str]:
    """Warnings and errors ``readelf -W -a`` prints (to either stream)."""
    proc = subprocess.run([tool(tool_name), "-W", "-a", str(path)], capture_output=True, text=True, check=False)
    text = proc.stdout + proc.stderr
    return sorted(
        re.sub(r"'[^']*'", "", line).strip()
        for line in text.splitlines()
        if re.search(r"warning|error|bad section|invalid|corrupt", line, re.IGNORECASE)
    )


def assert_same_interface(before: Path, after: Path) -> None:
    """Dynamic symbols, notes (build-id) and loadable segments are untouched."""
    assert dyn_syms(after) == dyn_syms(before)
    assert notes(after) == notes(before)
    assert "Build ID" in notes(before)
    old, new = loads(before), loads(after)
    assert [r[1:] for r in new] == [r[1:] for r in old]
    for off, vaddr, _filesz, _memsz, _flags, align in new:
        # The loader maps pages: p_offset must stay congruent to p_vaddr mod p_align.
        assert align <= 1 or off % align == vaddr % align
    assert warnings_of(after, "readelf") == warnings_of(before, "readelf")
    assert warnings_of(after, "llvm-readelf-19") == warnings_of(before, "llvm-readelf-19")


def assert_level(path: Path, level: Level) -> None:
    names = section_names(path)
    assert not [n for n in names if n.startswith((".debug", ".zdebug"))]
    if level == "all":
        assert ".symtab" not in names and ".strtab" not in names
    else:
        assert ".symtab" in names and ".strtab" in names
    assert ".shstrtab" in names and ".dynsym" in names
    assert ".comment" in names
    assert ".note.gnu.build-id" in names


def static_symbols(path: Path) -> list[tuple[str, str, str, str, str, str]]:
    """(name, value, size, type, bind, defining section) of every ``.symtab`` entry, from readelf."""
    out, _ = readelf("-sW", path)
    _, found, table = out.partition("Symbol table '.symtab'")
    assert found, f"no .symtab in {path}"
    table = table.split("\n\nSymbol table", 1)[0]
    names = section_names(path)
    rows = []
    # Num: Value Size Type Bind Vis Ndx Name (empty for symbol 0)
    for m in re.finditer(r"^ *\d+: +(\w+) +(\w+) +(\w+) +(\w+) +\w+ +(\w+) ?(.*)$", table, re.MULTILINE):
        value, size, kind, bind, ndx, name = m.groups()
        where = names[int(ndx)] if ndx.isdigit() else ndx  # section_names() starts at section 0
        rows.append((name, value, size, kind, bind, where))
    return rows


def llvm_strip_debug(path: Path, dest: Path) -> Path:
    out = dest / f"llvm-{path.name}"
    run(tool("llvm-strip-19"), "--strip-debug", "-o", out, path)
    return out


def assert_like_strip_debug(before: Path, after: Path) -> None:
    """What ``strip --strip-debug`` guarantees of ``.symtab``: every ``STT_FILE`` symbol is gone,
    and so is every symbol of a removed debug section (lld's ``$d`` mapping symbols); every
    other symbol is still there with its value, size, type, binding and section."""
    old, new = static_symbols(before), static_symbols(after)
    assert any(row[3] == "FILE" for row in old), "the fixture must have STT_FILE symbols"
    assert not [row for row in new if row[3] == "FILE"]
    assert new == [row for row in old if row[3] != "FILE" and not row[5].startswith(".debug")]
    assert warnings_of(after, "readelf") == []
    assert warnings_of(after, "llvm-readelf-19") == []


# -- native binaries: they still load and run ---------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_extension_module_imports(native: Native, level: Level, tmp_path: Path) -> None:
    out = stripped(native.ext, level, tmp_path)
    assert out.stat().st_size < native.ext.stat().st_size
    assert_level(out, level)
    assert_same_interface(native.ext, out)
    proc = subprocess.run(
        [sys.executable, "-c", "import _swdemo; print(_swdemo.add(40, 2), _swdemo.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    answer, where = proc.stdout.split()
    assert answer == "42" and Path(where) == out


@pytest.mark.parametrize("level", LEVELS)
def test_shared_library_loads_with_ctypes(native: Native, level: Level, tmp_path: Path) -> None:
    out = stripped(native.lib, level, tmp_path)
    assert_level(out, level)
    assert_same_interface(native.lib, out)
    code = (
        "import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); "
        "print(lib.demo_mul(6, 7), ctypes.c_int.in_dll(lib, 'demo_value').value)"
    )
    proc = run(sys.executable, "-c", code, out)
    assert proc.stdout.split() == ["42", "35"]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("which", ["pie", "exe"])
def test_executable_runs(native: Native, which: str, level: Level, tmp_path: Path) -> None:
    original: Path = getattr(native, which)
    out = stripped(original, level, tmp_path)
    assert_level(out, level)
    assert_same_interface(original, out)
    assert run(out).stdout == "hello 42\n"
    kind = elf.inspect(out.read_bytes()).kind
    assert kind == ("PIE executable" if which == "pie" else "executable")


@pytest.mark.parametrize("level", LEVELS)
def test_patchelf_copy_moves_segments_down(native: Native, level: Level, tmp_path: Path) -> None:
    before = native.patched
    out, _ = readelf("-d", "-W", before)
    assert LONG_RPATH in out and "libz.so.1" in out
    # The fixture must really be the hard case: a PT_LOAD after the debug sections.
    sections, _ = readelf("-S", "-W", before)
    debug_offsets = [int(m.group(1), 16) for m in re.finditer(r"\.debug_\w+\s+\w+\s+\w+\s+(\w+)", sections)]
    assert debug_offsets and max(r[0] for r in loads(before)) > min(debug_offsets)

    after = stripped(before, level, tmp_path)
    assert_level(after, level)
    assert_same_interface(before, after)
    # Moved, not kept in place: the file shrank by at least the debug sections' size.
    gone = sum(int(m.group(1), 16) for m in re.finditer(r"\.debug_\w+\s+\w+\s+\w+\s+\w+\s+(\w+)", sections))
    assert after.stat().st_size <= before.stat().st_size - gone
    assert max(r[0] for r in loads(after)) < max(r[0] for r in loads(before))
    code = (
        "import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); print(lib.demo_mul(6, 7)); "
        "print(any('libz.so' in line for line in open('/proc/self/maps')))"
    )
    assert run(sys.executable, "-c", code, after).stdout.split() == ["42", "True"]


@pytest.mark.parametrize("level", LEVELS)
def test_patchelf_executable_runs(native: Native, level: Level, tmp_path: Path) -> None:
    before = native.patched_pie
    assert run(before).stdout == "hello 42\n"
    interp = [line for line in readelf("-l", "-W", before)[0].splitlines() if "INTERP" in line]
    assert interp and int(interp[0].split()[1], 16) > 0x1000  # patchelf moved it to the end
    after = stripped(before, level, tmp_path)
    assert_level(after, level)
    assert_same_interface(before, after)
    assert max(r[0] for r in loads(after)) < max(r[0] for r in loads(before))
    assert run(after).stdout == "hello 42\n"


@pytest.mark.parametrize("which", ["lib", "exe"])
def test_debug_level_is_strip_debug(native: Native, which: str, tmp_path: Path) -> None:
    """Level debug does what ``strip --strip-debug`` does to ``.symtab`` and ``.strtab``, to
    within 1 % + 4 KiB of llvm-strip's size, and the file still works."""
    original: Path = getattr(native, which)
    ours = stripped(original, "debug", tmp_path)
    assert_like_strip_debug(original, ours)
    llvm = llvm_strip_debug(original, tmp_path)
    size, target = ours.stat().st_size, llvm.stat().st_size
    assert abs(size - target) <= target // 100 + 4096, (size, target)
    if which == "lib":
        code = "import ctypes, sys; print(ctypes.CDLL(sys.argv[1]).demo_mul(6, 7))"
        assert run(sys.executable, "-c", code, ours).stdout.split() == ["42"]
    else:
        assert run(ours).stdout == "hello 42\n"


def test_debug_strips_file_symbols_alone(native: Native, tmp_path: Path) -> None:
    """A library built without -g has no debug section, but level debug still has its
    ``STT_FILE`` symbols and their strings to drop, as ``strip --strip-debug`` does."""
    lib = tmp_path / "libnodebug.so"
    run(tool("gcc"), "-g0", "-O1", "-shared", "-fPIC", native.lib.parent / "src" / "lib.c", "-o", lib)
    assert not [n for n in section_names(lib) if n.startswith(".debug")]
    ours = stripped(lib, "debug", tmp_path / "ours.so")
    assert ours.stat().st_size < lib.stat().st_size
    assert_like_strip_debug(lib, ours)
    assert abs(ours.stat().st_size - llvm_strip_debug(lib, tmp_path).stat().st_size) <= 8
    again = elf.strip(ours.read_bytes(), "debug")
    assert isinstance(again, Unchanged) and again.clean
    code = "import ctypes, sys; print(ctypes.CDLL(sys.argv[1]).demo_mul(6, 7))"
    assert run(sys.executable, "-c", code, ours).stdout.split() == ["42"]


@pytest.mark.parametrize("debug_info", ["-g", "-g0"])
def test_debug_refuses_when_relocations_index_symbols(native: Native, debug_info: str, tmp_path: Path) -> None:
    """With ``--emit-relocs`` a kept ``.rela.text`` names ``.symtab`` entries by index, so no
    symbol may go: not the section symbols of debug sections (``-g``), not the ``STT_FILE``
    symbols (``-g0``, where nothing else would change)."""
    exe = tmp_path / "hello-relocs"
    source = native.exe.parent / "src" / "exe.c"
    run(tool("gcc"), debug_info, "-O1", "-Wl,--emit-relocs", source, "-o", exe)
    assert ".rela.text" in section_names(exe)
    assert any(row[3] == "FILE" for row in static_symbols(exe))
    result = elf.strip(exe.read_bytes(), "debug")
    assert isinstance(result, Unchanged) and not result.clean
    assert "refer to symbols of .symtab by index" in result.reason


def test_gnu_strip_sizes(native: Native, tmp_path: Path) -> None:
    """Within alignment padding of GNU strip on plain (non-patchelf'ed) gcc output."""
    strip = tool("strip")
    for path in (native.ext, native.lib, native.pie):
        for level in LEVELS:
            flag = "--strip-unneeded" if level == "all" else "--strip-debug"
            gnu = tmp_path / f"{path.name}.{level}"
            run(strip, flag, "-o", gnu, path)
            result = elf.strip(path.read_bytes(), level)
            assert isinstance(result, Stripped)
            assert abs(result.size - gnu.stat().st_size) <= 512, (path.name, level)


@pytest.mark.parametrize("level", LEVELS)
def test_extended_section_numbering(native: Native, level: Level, tmp_path: Path) -> None:
    """More than 0xff00 sections: e_shnum == 0 and e_shstrndx == SHN_XINDEX on both sides."""
    header, _ = readelf("-h", "-W", native.many)
    assert re.search(r"Number of section headers:\s+0 \(\d+\)", header)
    assert re.search(r"Section header string table index:\s+65535 \(\d+\)", header)
    after = stripped(native.many, level, tmp_path)
    header, _ = readelf("-h", "-W", after)
    assert re.search(r"Number of section headers:\s+0 \(\d+\)", header)
    assert_level(after, level)
    assert_same_interface(native.many, after)
    names = section_names(after)
    assert names[-1] in (".shstrtab", ".strtab") and ".sw.65399" in names
    if level == "all":
        assert ".symtab_shndx" not in names
        llvm = tmp_path / "llvm.so"
        run(tool("llvm-strip-19"), "--strip-unneeded", "-o", llvm, native.many)
        assert after.stat().st_size == llvm.stat().st_size


# -- cross builds: other architectures, ELF32, big-endian ---------------------------------------


@pytest.mark.parametrize("target", sorted(CROSS_TARGETS))
@pytest.mark.parametrize("level", LEVELS)
def test_cross_target(cross: dict[str, Path], target: str, level: Level, tmp_path: Path) -> None:
    original = cross[target]
    info = elf.inspect(original.read_bytes())
    assert info.arch == CROSS_TARGETS[target]
    assert info.kind == "shared object" and info.format == "ELF"
    ours = stripped(original, level, tmp_path / "ours.so")
    assert_level(ours, level)
    assert_same_interface(original, ours)
    assert dyn_syms(ours, "llvm-readelf-19") == dyn_syms(original, "llvm-readelf-19")
    assert info.strippable[level] == original.stat().st_size - ours.stat().st_size

    llvm = tmp_path / "llvm.so"
    flag = "--strip-unneeded" if level == "all" else "--strip-debug"
    run(tool("llvm-strip-19"), flag, "-o", llvm, original)
    # Same layout rules and, at level debug, the same symbols and string table: equal up to
    # alignment padding.
    assert abs(ours.stat().st_size - llvm.stat().st_size) <= 8
    if level == "debug":
        assert_like_strip_debug(original, ours)


# -- LIEF as an independent reader --------------------------------------------------------------


def _lief_view(path: Path) -> tuple[object, ...]:
    import lief

    binary = lief.ELF.parse(str(path))
    assert binary is not None
    symbols = sorted((s.name, s.value, s.size, str(s.type), str(s.binding), s.shndx) for s in binary.dynamic_symbols)
    segments = [
        (str(s.type), s.virtual_address, s.virtual_size, int(s.flags), s.physical_size) for s in binary.segments
    ]
    return tuple(symbols), tuple(binary.libraries), tuple(segments)


@pytest.mark.parametrize("level", LEVELS)
def test_lief_sees_the_same_interface(native: Native, cross: dict[str, Path], level: Level, tmp_path: Path) -> None:
    paths = [native.ext, native.lib, native.pie, native.patched, native.patched_pie]
    for i, path in enumerate([*paths, *cross.values()]):
        out = stripped(path, level, tmp_path / f"{i}-{path.name}")
        assert _lief_view(out) == _lief_view(path), path.name


# -- pieces: small header changes, large unchanged runs copied ----------------------------------


def test_pieces_keep_the_image_in_place(native: Native) -> None:
    data = native.lib.read_bytes()
    result = elf.strip(data, "all")
    assert isinstance(result, Stripped)
    first, second = result.pieces[:2]
    assert isinstance(first, bytes) and len(first) == 64  # only the ELF header is rewritten
    assert isinstance(second, Copy) and second.offset == 64
    end_of_image = max(off + filesz for off, _v, filesz, *_ in loads(native.lib))
    assert second.offset + second.length >= end_of_image
    assert ".symtab" in result.removed and ".debug_info" in result.removed


def test_works_on_mmap(native: Native) -> None:
    with open(native.lib, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        result = elf.strip(mm, "all")
        assert isinstance(result, Stripped)
        data = native.lib.read_bytes()
        expected = elf.strip(data, "all")
        assert isinstance(expected, Stripped)
        assert result.materialize(mm) == expected.materialize(data)
        assert elf.inspect(mm).strippable["all"] == len(data) - expected.size
    # The mapping closed cleanly: no buffer export was left behind.


# -- refusals and malformed input ---------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_second_strip_is_clean(native: Native, level: Level, tmp_path: Path) -> None:
    once = stripped(native.lib, level, tmp_path)
    again = elf.strip(once.read_bytes(), level)
    assert isinstance(again, Unchanged) and again.clean
    info = elf.inspect(once.read_bytes())
    assert info.strippable[level] == 0
    if level == "all":
        assert info.strippable == {"all": 0, "debug": 0}


def test_relocatable_object_is_stripped(native: Native) -> None:
    """Objects go to elf_object (tests/test_elf_object.py checks them in depth)."""
    data = native.obj.read_bytes()
    for level in LEVELS:
        result = elf.strip(data, level)
        assert isinstance(result, Stripped) and result.size < len(data)
    info = elf.inspect(data)
    assert info.kind == "relocatable" and info.note is None and info.strippable["all"] > 0


def test_appended_payload_is_refused(native: Native) -> None:
    data = native.lib.read_bytes() + b"PYZ-PAYLOAD" * 100
    result = elf.strip(data, "all")
    assert isinstance(result, Unchanged) and not result.clean
    assert "appended" in result.reason
    assert elf.inspect(data).note == result.reason


def test_short_nul_tail_is_tolerated(native: Native) -> None:
    data = native.lib.read_bytes()
    plain = elf.strip(data, "all")
    tailed = elf.strip(data + b"\0", "all")
    assert isinstance(plain, Stripped) and isinstance(tailed, Stripped)
    assert tailed.materialize(data + b"\0") == plain.materialize(data)
    assert isinstance(elf.strip(data + b"\0" * 17, "all"), Unchanged)


def _header(data: bytes) -> tuple[int, ...]:
    return struct.unpack_from("<16sHHIQQQIHHHHHH", data, 0)


def test_truncated_file_is_an_error(native: Native) -> None:
    data = native.lib.read_bytes()
    for cut in (10, 40, 100, len(data) // 2, len(data) - 1):
        with pytest.raises(BinaryError):
            elf.strip(data[:cut], "all")
        with pytest.raises(BinaryError):
            elf.inspect(data[:cut])


def test_section_headers_past_eof_is_an_error(native: Native) -> None:
    data = bytearray(native.lib.read_bytes())
    struct.pack_into("<Q", data, 40, len(data) - 10)  # e_shoff
    with pytest.raises(BinaryError, match="section header"):
        elf.strip(bytes(data), "all")


def test_bad_entry_sizes_are_errors(native: Native) -> None:
    data = native.lib.read_bytes()
    bad_sh = bytearray(data)
    struct.pack_into("<H", bad_sh, 58, 40)  # e_shentsize of ELF32 in an ELF64 file
    with pytest.raises(BinaryError, match="e_shentsize"):
        elf.strip(bytes(bad_sh), "all")
    bad_ph = bytearray(data)
    struct.pack_into("<H", bad_ph, 54, 32)  # e_phentsize
    with pytest.raises(BinaryError, match="e_phentsize"):
        elf.strip(bytes(bad_ph), "all")


def test_section_past_eof_is_an_error(native: Native) -> None:
    data = bytearray(native.lib.read_bytes())
    fields = _header(bytes(data))
    shoff, shnum = fields[6], fields[12]
    # Point the last section header's sh_offset far past the end of the file.
    struct.pack_into("<Q", data, shoff + (shnum - 1) * 64 + 24, len(data) * 4)
    with pytest.raises(BinaryError):
        elf.strip(bytes(data), "all")


def test_garbage_names_are_errors_not_crashes(native: Native) -> None:
    data = bytearray(native.lib.read_bytes())
    fields = _header(bytes(data))
    shoff, shnum = fields[6], fields[12]
    for i in range(1, shnum):
        struct.pack_into("<I", data, shoff + i * 64, 0xFFFFFF00)  # sh_name out of range
    with pytest.raises(BinaryError):
        elf.strip(bytes(data), "all")


def test_not_elf_is_an_error() -> None:
    with pytest.raises(BinaryError):
        elf.strip(b"MZ" + bytes(100), "all")


def test_detect_knows_elf_by_its_magic() -> None:
    """The head of a real ELF file (the running interpreter) and of a hand-made one are ELF;
    with any byte of the magic changed they are not."""
    with open(os.path.realpath(sys.executable), "rb") as f:
        interpreter = f.read(HEAD)
    for head in (interpreter, tiny_elf([])[:HEAD]):
        assert detect(head) == "ELF", head
        for i in range(4):
            changed = bytearray(head)
            changed[i] ^= 0x20
            assert detect(bytes(changed)) != "ELF", bytes(changed)


# -- separate debug files: recognised from the section headers, never stripped ------------------

SHF_EXECINSTR = 0x4
ALLOC, ALLOC_X, ALLOC_W = elf.SHF_ALLOC, elf.SHF_ALLOC | SHF_EXECINSTR, elf.SHF_ALLOC | elf.SHF_WRITE


def tiny_elf(sections: list[tuple[int, int, int]], e_type: int = elf.ET_DYN) -> bytes:
    """An x86_64 ELF64 file of headers alone: the null section, ``sections`` (sh_type, sh_flags,
    sh_size; at most 64 bytes, all pointing at the same zero bytes), then ``.shstrtab``."""
    body, names = bytes(64), b"\0.shstrtab\0"
    table_at = align(64 + len(body) + len(names), 8)
    headers = [bytes(64)]
    headers += [
        struct.pack("<IIQQQQIIQQ", 0, kind, flags, 0x1000, 64, size, 0, 0, 1, 0) for kind, flags, size in sections
    ]
    headers.append(struct.pack("<IIQQQQIIQQ", 1, elf.SHT_STRTAB, 0, 0, 64 + len(body), len(names), 0, 0, 1, 0))
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    header = struct.pack(
        "<16sHHIQQQIHHHHHH", ident, e_type, 62, 1, 0, 0, table_at, 0, 64, 56, 0, 64, len(headers), len(headers) - 1
    )
    data = header + body + names
    return data + bytes(table_at - len(data)) + b"".join(headers)


def align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


NOBITS, PROGBITS, NOTE = elf.SHT_NOBITS, elf.SHT_PROGBITS, elf.SHT_NOTE


@pytest.mark.parametrize(
    ("sections", "e_type", "expected"),
    [
        ([(NOBITS, ALLOC_X, 16)], elf.ET_DYN, True),  # .text turned NOBITS
        ([(NOTE, ALLOC, 16), (NOBITS, ALLOC, 16), (NOBITS, ALLOC_W, 16)], elf.ET_EXEC, True),  # notes keep bytes
        ([(PROGBITS, ALLOC, 0), (NOBITS, ALLOC_X, 16)], elf.ET_DYN, True),  # an empty section says nothing
        ([(NOBITS, ALLOC_X, 16)], elf.ET_REL, True),  # objcopy --only-keep-debug of an object
        ([(NOBITS, ALLOC_W, 16)], elf.ET_DYN, False),  # .bss alone: every binary's NOBITS is writable
        ([(NOBITS, ALLOC_W | SHF_EXECINSTR, 16)], elf.ET_DYN, False),  # ppc32 bss-plt .plt
        ([(NOTE, ALLOC, 16)], elf.ET_DYN, False),  # nothing turned NOBITS
        ([(PROGBITS, ALLOC_X, 16), (NOBITS, ALLOC, 16)], elf.ET_DYN, False),  # real contents
        ([(PROGBITS, 0, 16)], elf.ET_REL, False),  # no allocated section: a .dwo file
        ([(NOBITS, ALLOC_X, 16)], elf.ET_CORE, False),  # a core describes memory
    ],
)
def test_debug_file_predicate_on_hand_made_headers(
    sections: list[tuple[int, int, int]], e_type: int, expected: bool
) -> None:
    data = tiny_elf(sections, e_type)
    assert elf.is_debug_file(data) is expected
    if expected:
        assert_left_alone(data)


def test_debug_file_predicate_is_false_for_odd_and_malformed_files() -> None:
    good = tiny_elf([(NOBITS, ALLOC_X, 16)])
    assert elf.is_debug_file(good)
    no_sections = bytearray(good)
    struct.pack_into("<QIHHHHHH", no_sections, 40, 0, 0, 64, 56, 0, 64, 0, 0)  # e_shoff = e_shnum = 0
    assert not elf.is_debug_file(bytes(no_sections))
    bad_entry = bytearray(good)
    struct.pack_into("<H", bad_entry, 58, 40)  # e_shentsize of ELF32
    assert not elf.is_debug_file(bytes(bad_entry))
    for data in (good[:-10], good[:20], b"", b"MZ" + bytes(100)):
        assert not elf.is_debug_file(data)


def assert_left_alone(data: bytes) -> None:
    """Neither level strips a debug file, inspect says what it is, and no debug file or
    MiniDebugInfo is made of it."""
    for level in LEVELS:
        result = elf.strip(data, level)
        assert result == Unchanged(DEBUG_FILE_REASON, clean=False)
        assert elf_debug.debug_file(data, level) is None
    assert elf_debug.mini_debuginfo(data) is None
    info = elf.inspect(data)
    assert info.kind == DEBUG_FILE_KIND and info.strippable == {"all": 0, "debug": 0}
    assert info.note == DEBUG_FILE_REASON and info.size == len(data)


def debug_forms(path: Path, tmp_path: Path, objcopy: str = "objcopy") -> dict[str, bytes]:
    """The debug files of ``path``: ``objcopy --only-keep-debug`` and stripwheel's own (both
    levels; none for an object file, which stripwheel does not strip)."""
    out = tmp_path / f"{path.name}.{os.path.basename(objcopy)}.debug"
    run(tool(objcopy), "--only-keep-debug", path, out)
    forms = {objcopy: out.read_bytes()}
    data = path.read_bytes()
    for level in LEVELS:
        parts = elf_debug.debug_file(data, level)
        if parts is not None:
            forms[f"stripwheel-{level}"] = b"".join(
                bytes(data[p.offset : p.offset + p.length]) if isinstance(p, Copy) else p for p in parts.pieces
            )
    return forms


NATIVE_KINDS = ["ext", "lib", "pie", "exe", "patched", "patched_pie", "obj"]


@pytest.mark.parametrize("which", NATIVE_KINDS)
def test_debug_files_of_native_binaries_are_left_alone(native: Native, which: str, tmp_path: Path) -> None:
    path: Path = getattr(native, which)
    forms = debug_forms(path, tmp_path)
    assert len(forms) == (1 if which == "obj" else 3)
    for name, data in forms.items():
        assert elf.is_debug_file(data), name
        assert_left_alone(data)


@pytest.mark.parametrize("target", sorted(CROSS_TARGETS))
def test_debug_files_of_cross_binaries_are_left_alone(cross: dict[str, Path], target: str, tmp_path: Path) -> None:
    """ELF32, big-endian and other machines; llvm-objcopy's form is the same as binutils'."""
    assert not elf.is_debug_file(cross[target].read_bytes())
    for name, data in debug_forms(cross[target], tmp_path, "llvm-objcopy-19").items():
        assert elf.is_debug_file(data), name
        assert_left_alone(data)


def test_normal_binaries_are_not_debug_files(native: Native, tmp_path: Path) -> None:
    """Every kind of normal binary, stripped or not, by stripwheel or by binutils."""
    paths = [getattr(native, which) for which in NATIVE_KINDS] + [native.many]
    for path in [native.lib, native.exe, native.pie]:
        for level in LEVELS:
            paths.append(stripped(path, level, tmp_path / f"{path.name}.{level}"))
        for option in ("--strip-all", "--strip-debug", "--strip-unneeded"):
            out = tmp_path / f"{path.name}{option}"
            run(tool("strip"), option, path, "-o", out)
            paths.append(out)
    for path in paths:
        assert not elf.is_debug_file(path.read_bytes()), path
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            assert not elf.is_debug_file(mm), path
