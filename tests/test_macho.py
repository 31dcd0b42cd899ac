"""Mach-O stripping on real binaries built with clang/lld, checked with llvm tools and LIEF."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import struct
import zlib
from pathlib import Path

import pytest

import _wheels
from _codesign_oracle import code_directories, signature_kind, verify_signature
from _helpers import check_wheel
from _macho_fixtures import (
    LIPO,
    NM,
    OBJDUMP,
    STRIP,
    build_all,
    dsym,
    dsym_dwarf,
    fat_slices,
    load_commands,
    run,
    splice_signature,
)
from stripwheel import binaries
from stripwheel._cli import main
from stripwheel.binaries import (
    DEBUG_FILE_KIND,
    DEBUG_FILE_REASON,
    BinaryError,
    BinaryInfo,
    Copy,
    Stripped,
    Unchanged,
    detect,
    macho,
)

THIN = [
    "arm64_bundle.so",
    "arm64_dylib.dylib",
    "x86_64_bundle.so",
    "x86_64_signed.so",
    "arm64_chained.so",
    "arm64_executable",
    "arm64_32.dylib",
]
ALL = THIN + ["universal2.so"]
#: llvm-objdump dumps that describe what dyld uses; stripping must not change any of them
DYLD_DUMPS = [
    ["--exports-trie"],
    ["--bind"],
    ["--lazy-bind"],
    ["--weak-bind"],
    ["--rebase"],
    ["--function-starts"],
    ["--dyld-info"],
    ["--chained-fixups"],
]


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_all(tmp_path_factory.mktemp("macho"))


def stripped(data: bytes, level: str = "all") -> bytes:
    result = macho.strip(data, level)  # type: ignore[arg-type]
    assert isinstance(result, Stripped), result
    out = result.materialize(data)
    assert len(out) == result.size
    return out


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def dump(path: Path, *args: str) -> str:
    """llvm-objdump output with the file name removed, plus its diagnostics."""
    done = run(OBJDUMP, "--macho", *args, path)
    return done.stdout.replace(str(path), "FILE") + done.stderr.replace(str(path), "FILE")


def nm(path: Path, *args: str) -> str:
    return run(NM, *args, path).stdout.replace(str(path), "FILE")


def slices(data: bytes) -> list[bytes]:
    if data[:4] == b"\xca\xfe\xba\xbe":
        return [data[off : off + size] for _, off, size, _ in fat_slices(data)]
    return [data]


# --- size and idempotence -------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_strip_shrinks_then_is_clean(fixtures: dict[str, Path], name: str) -> None:
    data = fixtures[name].read_bytes()
    for level in ("all", "debug"):
        out = stripped(data, level)
        assert len(out) < len(data)
        again = macho.strip(out, level)
        assert isinstance(again, Unchanged) and again.clean, again
    assert len(stripped(data, "all")) < len(stripped(data, "debug"))


@pytest.mark.parametrize("name", ALL)
def test_level_all_matches_llvm_strip_x(fixtures: dict[str, Path], name: str, tmp_path: Path) -> None:
    src = fixtures[name]
    ours = write(tmp_path, "ours", stripped(src.read_bytes(), "all"))
    theirs = tmp_path / "theirs"
    run(STRIP, "-x", src, "-o", theirs)
    assert nm(ours, "-ap") == nm(theirs, "-ap")
    size_ours, size_theirs = ours.stat().st_size, theirs.stat().st_size
    # llvm-strip re-signs with the output file name as identifier; allow for that and padding.
    assert abs(size_ours - size_theirs) <= max(64, size_theirs * 0.005), (size_ours, size_theirs)


@pytest.mark.parametrize("name", ["arm64_bundle.so", "x86_64_bundle.so", "universal2.so"])
def test_level_debug_matches_llvm_strip_S(fixtures: dict[str, Path], name: str, tmp_path: Path) -> None:
    src = fixtures[name]
    ours = write(tmp_path, "ours", stripped(src.read_bytes(), "debug"))
    theirs = tmp_path / "theirs"
    run(STRIP, "-S", src, "-o", theirs)
    assert nm(ours, "-ap") == nm(theirs, "-ap")
    listing = nm(ours, "-ap")
    assert " SO " not in listing and " OSO " not in listing and " FUN " not in listing
    assert "_helper" in listing  # local symbols stay at level debug


def test_already_stripped_is_left_identical(fixtures: dict[str, Path], tmp_path: Path) -> None:
    for name in ALL:
        out = tmp_path / name
        run(STRIP, "-x", fixtures[name], "-o", out)
        result = macho.strip(out.read_bytes(), "all")
        assert isinstance(result, Unchanged) and result.clean, (name, result)
        info = macho.inspect(out.read_bytes())
        assert info.strippable == {"all": 0, "debug": 0}


# --- structure: what dyld sees must not change -----------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_dyld_view_unchanged(fixtures: dict[str, Path], name: str, tmp_path: Path) -> None:
    src = fixtures[name]
    for level in ("all", "debug"):
        out = write(tmp_path, f"out-{level}", stripped(src.read_bytes(), level))
        headers = dump(out, "--all-headers", "--arch=all")
        assert "warning" not in headers.lower() and "error" not in headers.lower(), headers
        for args in DYLD_DUMPS:
            assert dump(out, *args, "--arch=all") == dump(src, *args, "--arch=all"), args
        # indirect symbol entries keep their addresses and names; only the indices move
        indirect = [
            re.sub(r"(?m)^(\S+)\s+\d+ ", r"\1 ", dump(p, "--indirect-symbols", "--arch=all")) for p in (out, src)
        ]
        assert indirect[0] == indirect[1]
        assert nm(out, "-m", "-g", "--arch=all") == nm(src, "-m", "-g", "--arch=all")
        if level == "debug":  # only the debug map goes: every real symbol stays
            defined = [nm(p, "-m", "--defined-only", "--arch=all") for p in (out, src)]
            assert defined[0] == defined[1]


def test_chained_fixups_fixture_has_chained_fixups(fixtures: dict[str, Path]) -> None:
    text = dump(fixtures["arm64_chained.so"], "--chained-fixups")
    assert "dyld chained fixups header" in text.lower() or "fixups_version" in text
    assert "_printf" in text


@pytest.mark.parametrize("name", THIN)
def test_linkedit_is_compact_and_last(fixtures: dict[str, Path], name: str) -> None:
    out = stripped(fixtures[name].read_bytes())
    seg = next(
        pos for pos, cmd, _ in load_commands(out) if cmd in (0x1, 0x19) and b"__LINKEDIT" in out[pos + 8 : pos + 24]
    )
    is64 = out[:4] == b"\xcf\xfa\xed\xfe"
    if is64:
        vmsize, fileoff, filesize = struct.unpack_from("<3Q", out, seg + 32)
    else:
        vmsize, fileoff, filesize = struct.unpack_from("<3I", out, seg + 28)
    assert fileoff + filesize == len(out)
    assert vmsize >= filesize


# --- signatures --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_signatures_stay_valid(fixtures: dict[str, Path], name: str) -> None:
    data = fixtures[name].read_bytes()
    for level in ("all", "debug"):
        out = stripped(data, level)
        for before, after in zip(slices(data), slices(out)):
            kind = signature_kind(before)
            assert signature_kind(after) == kind
            if kind == "none":
                assert verify_signature(after) == ["no code signature"]
                continue
            assert verify_signature(after) == []  # page hashes, special slots, layout
            assert_sha256_4k(after)


def assert_sha256_4k(data: bytes) -> None:
    """An ad hoc re-signature has one SHA-256 CodeDirectory over 4 KiB pages."""
    assert [(cd.hash_type, cd.hash_size, cd.page_shift) for cd in code_directories(data)] == [(2, 32, 12)]


def test_signature_kinds(fixtures: dict[str, Path]) -> None:
    """What inspect reports, against the oracle's own reading."""
    data = fixtures["arm64_bundle.so"].read_bytes()
    for sample, kind in (
        (data, "linker-signed"),
        (fixtures["x86_64_bundle.so"].read_bytes(), "none"),
        (splice_signature(data, b""), "ad hoc"),
        (splice_signature(data, b"\x30\x80" * 100), "certificate"),
    ):
        assert macho.inspect(sample).signature == signature_kind(sample) == kind


def test_verifier_catches_a_changed_byte(fixtures: dict[str, Path]) -> None:
    data = bytearray(stripped(fixtures["arm64_bundle.so"].read_bytes()))
    data[0x600] ^= 1
    problems = verify_signature(bytes(data))
    assert problems and "page hashes wrong" in problems[0]


@pytest.mark.parametrize("name", [n for n in ALL if n != "x86_64_bundle.so"])
def test_resign_untouched_linker_signed_is_identical(fixtures: dict[str, Path], name: str) -> None:
    data = fixtures[name].read_bytes()
    assert macho.resign(data) == data


def test_codesign_style_ad_hoc_signature_is_rebuilt(fixtures: dict[str, Path]) -> None:
    """Requirements blob, empty CMS wrapper and special slots survive, with fresh hashes."""
    data = splice_signature(fixtures["arm64_bundle.so"].read_bytes(), b"")
    assert verify_signature(data) == []
    out = stripped(data)
    assert verify_signature(out) == []
    assert signature_kind(out) == macho.inspect(out).signature == "ad hoc"
    dataoff = next(struct.unpack_from("<I", out, pos + 8)[0] for pos, cmd, _ in load_commands(out) if cmd == 0x1D)
    count = struct.unpack_from(">I", out, dataoff + 8)[0]
    slots = [struct.unpack_from(">I", out, dataoff + 12 + 8 * i)[0] for i in range(count)]
    assert slots == [0, 2, 0x10000]
    assert b"fixture.identifier\0" in out[dataoff:]
    assert_sha256_4k(out)


def test_certificate_signed_slice_is_refused(fixtures: dict[str, Path]) -> None:
    data = splice_signature(fixtures["arm64_bundle.so"].read_bytes(), b"\x30\x82" + bytes(300))
    result = macho.strip(data, "all")
    assert isinstance(result, Unchanged) and not result.clean
    assert "certificate" in result.reason
    info = macho.inspect(data)
    assert info.signature == "certificate" and info.note and "certificate" in info.note
    assert info.strippable == {"all": 0, "debug": 0}


def test_fat_with_a_certificate_slice_strips_only_the_other(fixtures: dict[str, Path], tmp_path: Path) -> None:
    x86 = splice_signature(fixtures["x86_64_signed.so"].read_bytes(), b"\x30\x82" + bytes(300))
    arm = fixtures["arm64_bundle.so"].read_bytes()
    fat = tmp_path / "fat"
    run(
        "llvm-lipo-19",
        "-create",
        write(tmp_path, "x86", x86),
        fixtures["arm64_bundle.so"],
        "-output",
        fat,
    )
    data = fat.read_bytes()
    result = macho.strip(data, "all")
    assert isinstance(result, Stripped), result
    assert any("x86_64 slice kept" in r and "certificate" in r for r in result.removed)
    before, after = slices(data), slices(result.materialize(data))
    assert after[0] == before[0] == x86
    assert after[1] == stripped(arm)
    assert verify_signature(after[1]) == []


# --- fat files ---------------------------------------------------------------------------------


def test_fat_layout(fixtures: dict[str, Path], tmp_path: Path) -> None:
    data = fixtures["universal2.so"].read_bytes()
    out = stripped(data)
    old, new = fat_slices(data), fat_slices(out)
    assert [(ct, align) for ct, _, _, align in new] == [(ct, align) for ct, _, _, align in old]
    for (_, off, _size, align), piece in zip(new, slices(out)):
        assert off % (1 << align) == 0
        assert piece[:4] == b"\xcf\xfa\xed\xfe"
    last = max(new, key=lambda s: s[1])
    assert last[1] + last[2] == len(out)
    # every slice is exactly what stripping the thin file gives
    for name, piece in zip(["x86_64_bundle.so", "arm64_bundle.so"], slices(out)):
        assert piece == stripped(fixtures[name].read_bytes())
    # gaps are zero
    ends = sorted((off, off + size) for _, off, size, _ in new)
    header_end = 8 + 20 * len(new)
    for (start, _), (_, prev_end) in zip(ends, [(0, header_end)] + ends[:-1]):
        assert out[prev_end:start].count(0) == start - prev_end
    info = run("llvm-lipo-19", "-info", write(tmp_path, "fat", out)).stdout
    assert "x86_64 arm64" in info


# --- inspect -----------------------------------------------------------------------------------


def test_inspect(fixtures: dict[str, Path]) -> None:
    info = macho.inspect(fixtures["arm64_bundle.so"].read_bytes())
    assert (info.format, info.arch, info.kind, info.signature) == (
        "Mach-O",
        "arm64",
        "bundle",
        "linker-signed",
    )
    size = fixtures["arm64_bundle.so"].stat().st_size
    assert info.strippable["all"] == size - len(stripped(fixtures["arm64_bundle.so"].read_bytes()))
    assert 0 < info.strippable["debug"] < info.strippable["all"]
    assert macho.inspect(fixtures["arm64_dylib.dylib"].read_bytes()).kind == "dylib"
    assert macho.inspect(fixtures["arm64_executable"].read_bytes()).kind == "executable"
    assert macho.inspect(fixtures["arm64_32.dylib"].read_bytes()).arch == "arm64_32"

    fat = macho.inspect(fixtures["universal2.so"].read_bytes())
    assert fat.arch == "universal2 (x86_64, arm64)"
    assert [s.arch for s in fat.slices] == ["x86_64", "arm64"]
    assert [s.signature for s in fat.slices] == ["none", "linker-signed"]
    assert all(s.strippable["all"] > 0 for s in fat.slices)
    assert fat.strippable["all"] > 0


# --- refusals and malformed input --------------------------------------------------------------


def test_object_file_is_refused(fixtures: dict[str, Path]) -> None:
    result = macho.strip(fixtures["object"].read_bytes(), "all")
    assert isinstance(result, Unchanged) and not result.clean
    assert "MH_OBJECT" in result.reason
    assert macho.inspect(fixtures["object"].read_bytes()).kind == "object"


def test_data_after_linkedit_is_refused(fixtures: dict[str, Path]) -> None:
    data = fixtures["x86_64_bundle.so"].read_bytes() + b"payload"
    result = macho.strip(data, "all")
    assert isinstance(result, Unchanged) and "after __LINKEDIT" in result.reason


@pytest.mark.parametrize("name", ["arm64_bundle.so", "universal2.so", "arm64_32.dylib"])
def test_truncated_input_raises_binary_error(fixtures: dict[str, Path], name: str) -> None:
    data = fixtures[name].read_bytes()
    for length in (4, 9, 30, 100, 600, 2000, len(data) // 2, len(data) - 700, len(data) - 1):
        with pytest.raises(BinaryError):
            macho.strip(data[:length], "all")
        with pytest.raises(BinaryError):
            macho.inspect(data[:length])


def test_garbage_never_escapes_as_another_exception(fixtures: dict[str, Path]) -> None:
    data = fixtures["arm64_bundle.so"].read_bytes()
    for pos in range(16, 1400, 7):
        corrupt = bytearray(data)
        corrupt[pos] ^= 0xFF
        try:
            macho.strip(bytes(corrupt), "all")
            macho.inspect(bytes(corrupt))
        except BinaryError:
            pass


def test_detect_and_magics(fixtures: dict[str, Path]) -> None:
    for name in ALL:
        head = fixtures[name].read_bytes()[:8]
        assert detect(head) == "Mach-O"
        assert head[:4] in macho.MAGICS


def test_thin_output_copies_the_untouched_prefix(fixtures: dict[str, Path]) -> None:
    data = fixtures["arm64_bundle.so"].read_bytes()
    result = macho.strip(data, "all")
    assert isinstance(result, Stripped)
    assert any(isinstance(p, Copy) and p.length > 1000 for p in result.pieces)
    assert [re.sub(r"\d+", "N", r) for r in result.removed] == [
        "N local symbols",
        "N debug-map entries",
    ]


def test_mmap_input(fixtures: dict[str, Path]) -> None:
    import mmap

    with (
        open(fixtures["universal2.so"], "rb") as f,
        mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
    ):
        result = macho.strip(mapped, "all")
        assert isinstance(result, Stripped)
        assert result.materialize(mapped) == stripped(fixtures["universal2.so"].read_bytes())
        assert isinstance(macho.inspect(mapped), BinaryInfo)


def test_mmap_can_be_closed_after_an_error(fixtures: dict[str, Path], tmp_path: Path) -> None:
    """The engine maps members read-only: no view may outlive a failed call."""
    import mmap

    data = fixtures["arm64_bundle.so"].read_bytes()
    for name, payload in (("cut", data[: len(data) - 100]), ("tail", data + b"x")):
        path = write(tmp_path, name, payload)
        with open(path, "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            with contextlib.suppress(BinaryError):
                macho.strip(mapped, "all")
            mapped.close()  # BufferError if a memoryview were still alive


# --- independent reader: LIEF -----------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_lief_sees_the_same_interface(fixtures: dict[str, Path], name: str) -> None:
    import lief  # a test dependency: missing means a broken environment, not a skip

    data = fixtures[name].read_bytes()
    out = stripped(data)

    def interface(raw: bytes) -> list[tuple[object, ...]]:
        fat = lief.MachO.parse(raw)
        assert fat is not None
        result: list[tuple[object, ...]] = []
        for binary in fat:
            result.append(
                (
                    sorted(s.name for s in binary.exported_symbols),
                    sorted(s.name for s in binary.imported_symbols if not s.raw_type & 0xE0),
                    [lib.name for lib in binary.libraries],
                    list(starts.functions) if (starts := binary.function_starts) else [],
                    [
                        (seg.name, seg.virtual_address, seg.file_offset)
                        for seg in binary.segments
                        if seg.name != "__LINKEDIT"
                    ],
                    [cmd.command for cmd in binary.commands],
                    binary.has_code_signature,
                )
            )
        return result

    assert interface(out) == interface(data)
    fat = lief.MachO.parse(out)
    assert fat is not None
    for binary in fat:
        sig = binary.code_signature
        if sig is not None:
            content = bytes(sig.content)
            assert content[:4] == b"\xfa\xde\x0c\xc0"
            assert sig.data_offset % 16 == 0
            assert sig.data_offset + sig.data_size == binary.original_size
            assert b"\xfa\xde\x0c\x02" in content


def _with_external_relocations(data: bytes, names: list[bytes]) -> bytes:
    """Append an external-relocation table naming ``names`` to an unsigned 64-bit slice.

    lld never writes one (i386-era images and ``-r`` style links do), so it is spliced in: the
    table becomes the last ``__LINKEDIT`` blob and ``LC_DYSYMTAB`` points at it.
    """
    commands = load_commands(data)
    symtab = next(pos for pos, cmd, _ in commands if cmd == 0x2)
    dysymtab = next(pos for pos, cmd, _ in commands if cmd == 0xB)
    linkedit = next(pos for pos, cmd, _ in commands if cmd == 0x19 and data[pos + 8 : pos + 18] == b"__LINKEDIT")
    symoff, nsyms, stroff, _ = struct.unpack_from("<4I", data, symtab + 8)
    index: dict[bytes, int] = {}
    for i in range(nsyms):
        strx, n_type = struct.unpack_from("<IB", data, symoff + 16 * i)
        if not n_type & 0xE0:  # the first real symbol of that name, never a STABS entry
            name = data[stroff + strx : data.index(b"\0", stroff + strx)]
            index.setdefault(name, i)
    out = bytearray(data)
    table = b"".join(
        struct.pack("<iI", 0x1000 + 8 * k, index[name] | 1 << 27 | 3 << 25)  # extern, 8 bytes
        for k, name in enumerate(names)
    )
    struct.pack_into("<2I", out, dysymtab + 8 + 14 * 4, len(out), len(names))
    filesize = struct.unpack_from("<Q", out, linkedit + 48)[0] + len(table)
    struct.pack_into("<Q", out, linkedit + 48, filesize)
    struct.pack_into("<Q", out, linkedit + 32, -(-filesize // 0x4000) * 0x4000)
    return bytes(out) + table


def test_external_relocations_are_remapped_and_keep_their_symbols(
    fixtures: dict[str, Path],
) -> None:
    names = [b"_printf", b"_helper", b"_global_value"]
    data = _with_external_relocations(fixtures["x86_64_bundle.so"].read_bytes(), names)
    out = stripped(data, "all")
    commands = load_commands(out)
    symtab = next(pos for pos, cmd, _ in commands if cmd == 0x2)
    dysymtab = next(pos for pos, cmd, _ in commands if cmd == 0xB)
    symoff, nsyms, stroff, _ = struct.unpack_from("<4I", out, symtab + 8)
    extreloff, nextrel = struct.unpack_from("<2I", out, dysymtab + 8 + 14 * 4)
    assert nextrel == len(names)
    for k, name in enumerate(names):
        address, word = struct.unpack_from("<iI", out, extreloff + 8 * k)
        assert address == 0x1000 + 8 * k and word >> 24 == (1 << 3 | 3 << 1)
        symbol = word & 0xFFFFFF
        assert symbol < nsyms
        strx = struct.unpack_from("<I", out, symoff + 16 * symbol)[0]
        assert out[stroff + strx : out.index(b"\0", stroff + strx)] == name
    # _helper is local but a relocation needs it: it stays; the other locals go.
    kept = {
        out[stroff + strx : out.index(b"\0", stroff + strx)]
        for strx, n_type in (struct.unpack_from("<IB", out, symoff + 16 * i) for i in range(nsyms))
        if not n_type & 0x01
    }
    assert kept == {b"_helper"}


# --- the string table keeps the linker's order --------------------------------------------------


def _many_exports_source(count: int) -> str:
    """A library shaped like a large C++ extension: many exported names sharing long prefixes
    and only a few local symbols, so nearly all of the string table survives ``strip -x``."""
    lines = ["static int counter;", "static int bump(int x) { counter += x; return counter; }"]
    for i in range(count):
        lines.append(f"int engine_{i % 7}_operator_{i:04d}_execute_vector(int x) {{ return bump(x + {i}); }}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def many_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("exports")
    (root / "x.c").write_text(_many_exports_source(600))
    run("clang-19", "-target", "arm64-apple-macos11", "-O0", "-nostdinc", "-fPIC", "-c", root / "x.c",
        "-o", root / "x.o")  # fmt: skip
    out = root / "x.so"
    run("ld64.lld-19", "-arch", "arm64", "-platform_version", "macos", "11.0", "11.0", "-bundle",
        "-undefined", "dynamic_lookup", root / "x.o", "-o", out)  # fmt: skip
    return out


def _symbols(data: bytes) -> tuple[bytes, list[tuple[int, int, int]]]:
    """The string table of a little-endian 64-bit slice and its symbols' (n_strx, n_type, n_value)."""
    symtab = next(pos for pos, cmd, _ in load_commands(data) if cmd == 0x2)
    symoff, nsyms, stroff, strsize = struct.unpack_from("<4I", data, symtab + 8)
    entries = [struct.unpack_from("<IB3xQ", data, symoff + 16 * i) for i in range(nsyms)]
    return data[stroff : stroff + strsize], entries


def _name(table: bytes, offset: int) -> bytes:
    return table[offset : table.index(b"\0", offset)]


@pytest.mark.parametrize("fixture", ["arm64_bundle.so", "x86_64_bundle.so", "many_exports"])
def test_string_table_keeps_the_original_order(fixtures: dict[str, Path], many_exports: Path, fixture: str) -> None:
    """Re-sorting the kept names made duckdb's wheel bigger: a linker-ordered table deflates
    better. Kept names keep their relative order, and no string stays that nothing names."""
    data = (many_exports if fixture == "many_exports" else fixtures[fixture]).read_bytes()
    table_in, symbols_in = _symbols(data)
    # built without -g, the many-exports library has no debug map for level debug to remove
    for level in ("all",) if fixture == "many_exports" else ("all", "debug"):
        out = stripped(data, level)
        table_out, symbols_out = _symbols(out)
        # Kept symbols keep their order: pair each with the first matching input symbol left.
        pairs: list[tuple[int, int]] = []
        remaining = iter(symbols_in)
        for strx, n_type, n_value in symbols_out:
            key = (_name(table_out, strx), n_type, n_value)
            before = next(s for s in remaining if (_name(table_in, s[0]), s[1], s[2]) == key)
            if strx:
                pairs.append((before[0], strx))
        assert [o for _, o in sorted(pairs)] == sorted(o for _, o in pairs), level
        # the table starts as the linker's did and ends padded to the pointer size
        assert table_out[:2] == table_in[:2] and len(table_out) % 8 == 0
        names = {_name(table_out, o) for _, o in pairs}
        assert {s for s in table_out.split(b"\0") if s.strip()} <= names, level
        assert len(zlib.compress(out, 6)) <= len(zlib.compress(data, 6)), level


# --- dSYM companions: debug files, never stripped nor counted by check -------------------------

_MH_DSYM = 0xA
_MIXED = "universal file mixes dSYM companion slices with image slices"


@pytest.fixture(scope="module")
def dsyms(fixtures: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``<name>.dSYM`` bundles made by dsymutil for the arm64 and the x86_64 bundle and, their
    DWARF files joined by llvm-lipo when it is installed, for universal2.so (the two bundles
    joined): what ``dsymutil`` and ``lipo`` give for a universal build."""
    root = tmp_path_factory.mktemp("dsym")
    out = {name: dsym(fixtures[name], root) for name in ("x86_64_bundle.so", "arm64_bundle.so")}
    if shutil.which(LIPO) is not None:
        universal = root / "universal2.so.dSYM"
        for thin in out.values():
            shutil.copytree(thin, universal, dirs_exist_ok=True, ignore=shutil.ignore_patterns("DWARF"))
        dsym_dwarf(universal).parent.mkdir()
        run(LIPO, "-create", *(dsym_dwarf(thin) for thin in out.values()), "-output", dsym_dwarf(universal))
        out["universal2.so"] = universal
    return out


def dsym_of(dsyms: dict[str, Path], name: str) -> Path:
    """The dSYM bundle of the fixture ``name``; the universal one needs llvm-lipo."""
    if name not in dsyms:
        pytest.skip(f"{LIPO} is not installed: no universal dSYM to test")
    return dsyms[name]


def dsym_package(fixtures: dict[str, Path], dsyms: dict[str, Path], name: str) -> dict[str, bytes]:
    """A package's files: the binary ``demo/<name>`` and, beside it, every file of its dSYM bundle."""
    bundle = dsym_of(dsyms, name)
    files = {f"demo/{name}": fixtures[name].read_bytes()}
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        files[f"demo/{path.relative_to(bundle.parent).as_posix()}"] = path.read_bytes()
    return files


def assert_check_counts_the_binary_alone(path: Path, binary: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``check`` and ``check --strict`` pass on ``path``, stripped, with ``binary`` its one finding."""
    for strict in ([], ["--strict"]):
        assert main(["check", "--json", *strict, str(path)]) == 0, strict
        document = json.loads(capsys.readouterr().out)
        assert document["passed"], document
        assert [(f["member"], f["strippable"], f["refused"]) for f in document["findings"]] == [(binary, 0, None)]


@pytest.mark.parametrize("name", ["arm64_bundle.so", "x86_64_bundle.so", "universal2.so"])
def test_a_dsym_is_a_debug_file(
    dsyms: dict[str, Path], name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """dsymutil's output (``MH_DSYM``, in every slice of a universal one) is a debug file:
    neither level strips it and inspect says what it is; as a bare file ``strip`` leaves it
    byte-identical and ``check --strict`` passes without counting it."""
    dwarf = dsym_dwarf(dsym_of(dsyms, name))
    data = dwarf.read_bytes()
    assert {struct.unpack_from("<I", s, 12)[0] for s in slices(data)} == {_MH_DSYM}
    assert b"__debug_info" in data and binaries.is_debug_file("Mach-O", data)
    for level in ("all", "debug"):
        assert macho.strip(data, level) == Unchanged(DEBUG_FILE_REASON)
    info = macho.inspect(data)
    assert (info.kind, info.note, info.strippable) == (DEBUG_FILE_KIND, DEBUG_FILE_REASON, {"all": 0, "debug": 0})
    bare = tmp_path / dwarf.name
    shutil.copy(dwarf, bare)
    assert main(["strip", "--json", str(bare)]) == 0
    (binary,) = json.loads(capsys.readouterr().out)["trees"][0]["binaries"]
    assert (binary["action"], binary["reason"], binary["clean"]) == ("unchanged", DEBUG_FILE_REASON, False)
    assert bare.read_bytes() == data
    for strict in ([], ["--strict"]):
        assert main(["check", "--json", *strict, str(bare)]) == 0
        document = json.loads(capsys.readouterr().out)
        assert document["passed"] and document["findings"] == [], document


@pytest.mark.parametrize("name", ["arm64_bundle.so", "universal2.so"])
def test_a_dsym_bundle_in_a_wheel_is_kept(
    fixtures: dict[str, Path], dsyms: dict[str, Path], name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wheel shipping ``demo/<name>.dSYM`` beside the binary: ``strip`` strips the binary and
    leaves every file of the bundle byte-identical, its DWARF file reported as a debug file;
    ``check --strict`` then passes, counting the binary alone (the dSYM was a refused binary)."""
    files = dsym_package(fixtures, dsyms, name)
    binary, dwarf = f"demo/{name}", f"demo/{name}.dSYM/Contents/Resources/DWARF/{name}"
    wheel = _wheels.pack(tmp_path / "in", files, tag="py3-none-macosx_11_0_universal2", purelib=False)
    assert main(["strip", "--json", str(wheel)]) == 0
    report = {b["member"]: b for b in json.loads(capsys.readouterr().out)["wheels"][0]["binaries"]}
    assert set(report) == {binary, dwarf}
    assert report[binary]["action"] == "stripped"
    assert (report[dwarf]["action"], report[dwarf]["reason"]) == ("unchanged", DEBUG_FILE_REASON)
    after = _wheels.members(wheel)
    assert len(after[binary]) < len(files[binary])
    bundle = {member: data for member, data in files.items() if ".dSYM/" in member}
    assert {member: after[member] for member in bundle} == bundle
    check_wheel(wheel)
    assert_check_counts_the_binary_alone(wheel, binary, capsys)


@pytest.mark.parametrize("name", ["arm64_bundle.so", "universal2.so"])
def test_a_dsym_bundle_in_a_tree_is_kept(
    fixtures: dict[str, Path], dsyms: dict[str, Path], name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An installed tree with ``demo/<name>.dSYM`` beside the binary: the same, and the text
    report and ``inspect`` call the dSYM's DWARF file a debug file."""
    files = dsym_package(fixtures, dsyms, name)
    binary, dwarf = f"demo/{name}", f"demo/{name}.dSYM/Contents/Resources/DWARF/{name}"
    tree = tmp_path / "site-packages"
    for member, data in files.items():
        (tree / member).parent.mkdir(parents=True, exist_ok=True)
        (tree / member).write_bytes(data)
    assert main(["strip", "--json", str(tree)]) == 0
    report = {b["member"]: b for b in json.loads(capsys.readouterr().out)["trees"][0]["binaries"]}
    assert set(report) == {binary, dwarf}
    assert report[binary]["action"] == "stripped"
    assert (report[dwarf]["action"], report[dwarf]["reason"]) == ("unchanged", DEBUG_FILE_REASON)
    assert (tree / binary).stat().st_size < len(files[binary])
    assert {m: (tree / m).read_bytes() for m in files if ".dSYM/" in m} == {
        m: d for m, d in files.items() if ".dSYM/" in m
    }
    assert main(["strip", str(tree)]) == 0
    (line,) = [line for line in capsys.readouterr().err.splitlines() if dwarf in line]
    assert line.split()[0] == "unchanged" and line.endswith(f": {DEBUG_FILE_REASON}"), line
    assert main(["inspect", "--json", str(tree)]) == 0
    views = {v["member"]: v for v in json.loads(capsys.readouterr().out)["trees"][0]["binaries"]}
    assert (views[dwarf]["kind"], views[binary]["strippable"]) == (DEBUG_FILE_KIND, {"all": 0, "debug": 0})
    assert_check_counts_the_binary_alone(tree, binary, capsys)


def test_a_universal_file_mixing_a_dsym_and_an_image_is_refused(
    fixtures: dict[str, Path], dsyms: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """llvm-lipo joins a dSYM slice to an image slice without complaint; the result is neither
    a debug file nor an image to strip: malformed, left as it is with the reason, and
    ``check --strict`` fails on it."""
    if shutil.which(LIPO) is None:
        pytest.skip(f"{LIPO} is not installed: no universal file to test")
    tree = tmp_path / "tree"
    tree.mkdir()
    mixed = tree / "mixed.so"
    run(LIPO, "-create", dsym_dwarf(dsyms["x86_64_bundle.so"]), fixtures["arm64_bundle.so"], "-output", mixed)
    data = mixed.read_bytes()
    assert not binaries.is_debug_file("Mach-O", data)
    with pytest.raises(BinaryError, match=f"^{_MIXED}$"):
        macho.strip(data, "all")
    assert main(["strip", "--json", str(tree)]) == 0
    (binary,) = json.loads(capsys.readouterr().out)["trees"][0]["binaries"]
    assert (binary["action"], binary["reason"]) == ("unchanged", f"left as is: {_MIXED}")
    assert mixed.read_bytes() == data
    assert main(["check", "--json", str(tree)]) == 0
    capsys.readouterr()
    assert main(["check", "--json", "--strict", str(tree)]) == 1
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert finding["refused"] == f"malformed: {_MIXED}"
