"""Static archives: the libpython of every pyenv CPython stripped at both levels (members,
order, dates and index kept, GNU strip's sizes, an embedding program still links and runs),
mixed archives (bitcode, LTO, split DWARF, text), every ar flavour (long names, ``/SYM64/``,
BSD, thin), a Rust rlib, the CLI, and malformed or mutated archives, which only ever raise
BinaryError. Hand-made archives keep the unit layer free of tools; GNU ar, nm, llvm-ar and the
linkers are the oracles of the slow layer."""

from __future__ import annotations

import importlib.util
import json
import mmap
import os
import random
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from _helpers import need, run
from stripwheel import binaries
from stripwheel._cli import main
from stripwheel.binaries import BinaryError, Copy, Level, Stripped, Unchanged, archive

LEVELS: tuple[Level, ...] = ("all", "debug")
#: Whether relocatable objects are stripped at all (``binaries/elf_object.py``); before it,
#: ``elf.strip`` refuses them and no archive member can change.
OBJECTS = importlib.util.find_spec("stripwheel.binaries.elf_object") is not None
needs_objects = pytest.mark.xfail(
    not OBJECTS, reason="depends on the ELF object rewriter (binaries/elf_object.py)", strict=True
)


# -- an independent reader and a writer of archives ------------------------------------------------


@dataclass(frozen=True)
class Member:
    name: str
    #: the header's date, uid, gid and mode fields, as written
    fields: bytes
    data: bytes


@dataclass(frozen=True)
class Read:
    members: list[Member]
    #: (symbol, name of the member holding it), in index order
    symbols: list[tuple[str, str]]
    #: the index member's name ("" when there is none)
    index: str


def read_ar(data: bytes) -> Read:
    """The test's own reading of a GNU or BSD archive (no rewriter code)."""
    assert data[:8] == b"!<arch>\n"
    pos, longnames = 8, b""
    raw: list[tuple[int, str, bytes, bytes]] = []
    while pos < len(data):
        header = data[pos : pos + 60]
        assert header[58:60] == b"`\n"
        size = int(header[48:58])
        body = data[pos + 60 : pos + 60 + size]
        name = header[:16].rstrip(b" ").decode()
        if name.startswith("#1/"):
            length = int(name[3:])
            name, body = body[:length].rstrip(b"\0").decode(), body[length:]
        elif name == "//":
            longnames = body
        elif re.fullmatch(r"/\d+", name):
            start = int(name[1:])
            name = longnames[start : longnames.index(b"\n", start)].decode().rstrip("/")
        elif name.endswith("/") and name not in ("/", "/SYM64/"):
            name = name[:-1]
        raw.append((pos, name, header[16:48], body))
        pos += 60 + size + (size & 1)
    by_offset = {at: name for at, name, _, _ in raw}
    specials = ("/", "/SYM64/", "//", "__.SYMDEF", "__.SYMDEF_64")
    members = [Member(name, fields, body) for _, name, fields, body in raw if name not in specials]
    index = raw[0][1] if raw and raw[0][1] in ("/", "/SYM64/", "__.SYMDEF", "__.SYMDEF_64") else ""
    return Read(members, _symbols(raw[0][3], index, by_offset) if index else [], index)


def _symbols(table: bytes, index: str, by_offset: dict[int, str]) -> list[tuple[str, str]]:
    if index in ("/", "/SYM64/"):
        word = ">I" if index == "/" else ">Q"
        width = struct.calcsize(word)
        (count,) = struct.unpack_from(word, table, 0)
        offsets = struct.unpack_from(f">{count}{word[1]}", table, width)
        names = table[width * (count + 1) :].split(b"\0")[:count]
        return [(n.decode(), by_offset[o]) for n, o in zip(names, offsets)]
    word = "<I" if index == "__.SYMDEF" else "<Q"
    width = struct.calcsize(word)
    (size,) = struct.unpack_from(word, table, 0)
    entries = [struct.unpack_from(f"<2{word[1]}", table, width + i) for i in range(0, size, 2 * width)]
    strings = table[2 * width + size :]
    return [(strings[s : strings.index(b"\0", s)].decode(), by_offset[o]) for s, o in entries]


def write_ar(members: list[tuple[str, bytes]], symbols: list[tuple[str, str]], style: str = "gnu") -> bytes:
    """An archive of ``members`` with an index of ``symbols`` (symbol, member name): ``gnu``
    (``/`` and ``//``), ``sym64`` (``/SYM64/``) or ``bsd`` (``#1/`` names, ``__.SYMDEF``). Each
    member gets its own date, uid, gid and mode."""
    bsd = style == "bsd"
    longnames = b"" if bsd else b"".join(n.encode() + b"/\n" for n, _ in members if len(n) > 15)
    entries: list[tuple[bytes, bytes]] = []  # (header name, data)
    where: dict[str, int] = {}
    for name, data in members:
        if bsd and len(name) > 16:
            entries.append((b"#1/%d" % len(name), name.encode() + data))
        elif not bsd and len(name) > 15:
            entries.append((b"/%d" % longnames.index(name.encode() + b"/\n"), data))
        else:
            entries.append((name.encode() + (b"" if bsd else b"/"), data))
    table_size = len(_index_table(symbols, {n: 0 for n, _ in members}, style))
    pos = 8 + 60 + table_size + (table_size & 1)
    if longnames:
        pos += 60 + len(longnames) + (len(longnames) & 1)
    for (name, _), (_, body) in zip(members, entries):
        where[name] = pos
        pos += 60 + len(body) + (len(body) & 1)
    out = bytearray(b"!<arch>\n")
    index_name = {"gnu": b"/", "sym64": b"/SYM64/", "bsd": b"__.SYMDEF"}[style]
    _append(out, index_name, _index_table(symbols, where, style), b"0", b"0", b"0", b"0")
    if longnames:
        _append(out, b"//", longnames, b"", b"", b"", b"")
    for i, (raw, body) in enumerate(entries):
        mode = b"100600" if i % 2 else b"100644"
        _append(out, raw, body, b"%d" % (1700000000 + i), b"%d" % (1000 + i), b"%d" % (100 + i), mode)
    return bytes(out)


def _index_table(symbols: list[tuple[str, str]], where: dict[str, int], style: str) -> bytes:
    strings = b"".join(s.encode() + b"\0" for s, _ in symbols)
    if style == "bsd":
        ranlib = b"".join(struct.pack("<II", strings.index(s.encode() + b"\0"), where[m]) for s, m in symbols)
        return struct.pack("<I", len(ranlib)) + ranlib + struct.pack("<I", len(strings)) + strings
    word = ">I" if style == "gnu" else ">Q"
    offsets = b"".join(struct.pack(word, where[m]) for _, m in symbols)
    return struct.pack(word, len(symbols)) + offsets + strings


def _append(out: bytearray, name: bytes, data: bytes, date: bytes, uid: bytes, gid: bytes, mode: bytes) -> None:
    out += ar_header(name, len(data), date, uid, gid, mode) + data + b"\n" * (len(data) & 1)


def ar_header(
    name: bytes, size: int, date: bytes = b"0", uid: bytes = b"0", gid: bytes = b"0", mode: bytes = b"644"
) -> bytes:
    return b"%-16s%-12s%-6s%-6s%-8s%-10d`\n" % (name, date, uid, gid, mode, size)


def offsets(data: bytes) -> dict[str, int]:
    """The header offset of each member, by the name its header holds."""
    found, pos = {}, 8
    while pos + 60 <= len(data):
        size = int(data[pos + 48 : pos + 58])
        found[data[pos : pos + 16].rstrip(b" ").decode()] = pos
        pos += 60 + size + (size & 1)
    return found


def tiny_object(symbol: str, debug: int = 400) -> bytes:
    """A minimal x86-64 ELF relocatable object: the global function ``symbol`` in ``.text``
    and ``debug`` bytes of ``.debug_info``."""
    shstrtab = b"\0.text\0.debug_info\0.symtab\0.strtab\0.shstrtab\0"
    strtab = b"\0" + symbol.encode() + b"\0"
    info = bytes(4) + bytes(i % 251 for i in range(debug - 4))  # a unit of length 0: no skeleton
    symtab = bytes(24) + struct.pack("<IBBHQQ", 1, 0x12, 0, 1, 0, 1)
    body = [b"\xc3", info, symtab, strtab, shstrtab]
    #        sh_type, sh_flags, sh_link, sh_info, sh_addralign, sh_entsize
    kinds = [(1, 6, 0, 0, 16, 0), (1, 0, 0, 0, 1, 0), (2, 0, 4, 1, 8, 24), (3, 0, 0, 0, 1, 0), (3, 0, 0, 0, 1, 0)]
    names = [shstrtab.index(n + b"\0") for n in (b".text", b".debug_info", b".symtab", b".strtab", b".shstrtab")]
    out = bytearray(64)
    headers = bytes(64)
    for name, part, (kind, flags, link, info_, align, entsize) in zip(names, body, kinds):
        out += bytes(-len(out) % 8)
        headers += struct.pack("<IIQQQQIIQQ", name, kind, flags, 0, len(out), len(part), link, info_, align, entsize)
        out += part
    out += bytes(-len(out) % 8)
    shoff = len(out)
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    out[:64] = ident + struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 6, 5)
    return bytes(out + headers)


BITCODE = b"BC\xc0\xde" + bytes(range(40))


def sample_members() -> list[tuple[str, bytes]]:
    """Objects (one of a long name), a bitcode member, an odd-sized text file, Rust metadata."""
    return [
        ("first.o", tiny_object("first_fn")),
        ("a_rather_long_object_name.o", tiny_object("long_fn", 901)),
        ("bitcode.o", BITCODE),
        ("notes.txt", b"not an object\n\n\n"),
        ("lib.rmeta", tiny_object("rmeta_fn", 100)),
        ("odd.o", tiny_object("odd_fn", 333)),
    ]


SAMPLE_SYMBOLS = [("first_fn", "first.o"), ("long_fn", "a_rather_long_object_name.o"), ("bc_fn", "bitcode.o")]
SAMPLE_SYMBOLS += [("odd_fn", "odd.o"), ("first_alias", "first.o")]


def sample(style: str = "gnu") -> bytes:
    return write_ar(sample_members(), SAMPLE_SYMBOLS, style)


def check_pieces(result: Stripped, size: int) -> None:
    """The pieces describe exactly ``result.size`` bytes and copy only from the input."""
    total = 0
    for piece in result.pieces:
        if isinstance(piece, Copy):
            assert piece.length > 0 and piece.offset >= 0 and piece.offset + piece.length <= size
        total += binaries.piece_length(piece)
    assert total == result.size


# -- the rewriter on hand-made archives ------------------------------------------------------------


def test_detect() -> None:
    assert binaries.detect(b"!<arch>\n") == "archive"
    assert binaries.detect(b"!<thin>\n") == "archive"
    assert binaries.detect(b"!<arch>") is None
    assert binaries.REWRITERS["archive"].FORMAT == "archive"


@needs_objects
@pytest.mark.parametrize("style", ["gnu", "sym64", "bsd"])
@pytest.mark.parametrize("level", LEVELS)
def test_hand_made_archive(style: str, level: Level) -> None:
    """Member order, names and header fields (but sizes) are kept; objects shrink; the rest is
    byte-identical; the index maps every symbol to the same member, in the same format."""
    data = sample(style)
    result = archive.strip(data, level)
    assert isinstance(result, Stripped)
    check_pieces(result, len(data))
    out = result.materialize(data)
    before, after = read_ar(data), read_ar(out)
    assert after.index == before.index and after.symbols == before.symbols == SAMPLE_SYMBOLS
    assert [(m.name, m.fields) for m in after.members] == [(m.name, m.fields) for m in before.members]
    for old, new in zip(before.members, after.members):
        if old.name in ("first.o", "a_rather_long_object_name.o", "odd.o"):
            assert len(new.data) < len(old.data) and new.data[:4] == b"\x7fELF", old.name
        else:
            assert new.data == old.data, old.name
    assert result.removed == (".debug_* of 3 members",)
    assert archive.strip(out, level) == Unchanged("already stripped", clean=True)


def test_works_on_mmap(tmp_path: Path) -> None:
    path = tmp_path / "lib.a"
    path.write_bytes(sample())
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        result = archive.strip(mapped, "all")
        assert archive.strip(sample(), "all") == result
        assert archive.arch(mapped) == "x86_64"


def test_inspect_notes_members_left_alone() -> None:
    info = archive.inspect(sample())
    assert (info.format, info.arch, info.kind) == ("archive", "x86_64", "static archive")
    assert info.note == "members left alone: 1 LLVM bitcode, 1 not an object, 1 Rust metadata"
    if OBJECTS:
        assert info.strippable["all"] > 0 and info.strippable["debug"] > 0
        stripped = archive.strip(sample(), "all")
        assert isinstance(stripped, Stripped)
        assert archive.inspect(stripped.materialize(sample())).note is None  # clean: nothing to report


def test_archive_without_objects_is_left_alone_with_the_reason() -> None:
    data = write_ar([("bitcode.o", BITCODE), ("notes.txt", b"text")], [("bc_fn", "bitcode.o")])
    assert archive.strip(data, "all") == Unchanged("members left alone: 1 LLVM bitcode, 1 not an object")
    assert archive.arch(data) == ""


def test_thin_archive_is_left_alone() -> None:
    thin = b"!<thin>\n" + ar_header(b"first.o/", 960)
    for level in LEVELS:
        assert archive.strip(thin, level) == Unchanged("thin archive: left alone (its members live elsewhere)")
    info = archive.inspect(thin)
    assert (info.kind, info.note, info.strippable) == ("thin archive", archive.THIN_REASON, {"all": 0, "debug": 0})


@needs_objects
def test_a_table_that_cannot_be_rebuilt_keeps_the_archive() -> None:
    """A second ``/`` member (a Windows second linker member) holds offsets this rewriter
    does not rebuild: the archive is left as it is, with the reason."""
    plain = write_ar(sample_members(), [])  # an empty index: inserting a member moves nothing it names
    assert isinstance(archive.strip(plain, "all"), Stripped)
    at = offsets(plain)["//"]
    data = plain[:at] + ar_header(b"/", 4) + bytes(4) + plain[at:]
    assert archive.strip(data, "all") == Unchanged("its / table cannot be rebuilt for the new offsets")


def test_bad_level_is_a_caller_error() -> None:
    with pytest.raises(ValueError):
        archive.strip(sample(), "everything")  # type: ignore[arg-type]


# -- malformed archives ----------------------------------------------------------------------------


def malformed_samples() -> dict[str, bytes]:
    data = sample()
    where = offsets(data)
    first, long_ref = where["first.o/"], where["/0"]
    count = struct.unpack_from(">I", data, 68)[0]
    bsd = sample("bsd")
    return {
        "truncated in a header": data[: first + 30],
        "truncated in a member": data[: first + 100],
        "truncated after a member": data[: where["bitcode.o/"]],
        "bad size field": data[: first + 48] + b"12a       " + data[first + 58 :],
        "empty size field": data[: first + 48] + b" " * 10 + data[first + 58 :],
        "size past the end": data[: first + 48] + b"%-10d" % len(data) + data[first + 58 :],
        "bad header terminator": data[: first + 58] + b"`\r" + data[first + 60 :],
        "index offset out of range": data[:72] + struct.pack(">I", len(data) + 10) + data[76:],
        "index offset inside a member": data[:72] + struct.pack(">I", first + 1) + data[76:],
        "index count past its member": data[:68] + struct.pack(">I", count + 1000) + data[72:],
        "long name outside the table": data[:long_ref] + b"/9999           " + data[long_ref + 16 :],
        "bsd name past its member": bsd.replace(b"#1/27   ", b"#1/9999 ", 1),
        "bsd index size": bsd[:68] + struct.pack("<I", 7) + bsd[72:],
        "bad magic": b"!<arch>x" + data[8:],
    }


@pytest.mark.parametrize("case", sorted(malformed_samples()))
def test_malformed_archives_are_binary_errors(case: str) -> None:
    data = malformed_samples()[case]
    for level in LEVELS:
        with pytest.raises(BinaryError):
            archive.strip(data, level)
    with pytest.raises(BinaryError):
        archive.inspect(data)
    with pytest.raises(BinaryError):
        archive.arch(data)


def fuzz(data: bytes, seed: int, rounds: int) -> int:
    """Mutate ``data`` ``rounds`` times: every outcome is a result with consistent pieces or a
    BinaryError, never another exception. Returns how many mutants were rejected."""
    rng = random.Random(seed)
    rejected = 0
    for _ in range(rounds):
        mutant = bytearray(data)
        how = rng.randrange(4)
        if how == 0:
            for _ in range(rng.randint(1, 4)):
                mutant[rng.randrange(len(mutant))] = rng.randrange(256)
        elif how == 1:
            # a header field: where archives are parsed, not the members' insides
            at = rng.choice([m.start() for m in re.finditer(b"`\n", bytes(mutant))]) - 58
            mutant[at + rng.randrange(60)] = rng.choice(b"0123456789 /#`\n\0x")
        elif how == 2:
            del mutant[rng.randrange(len(mutant)) :]
        else:
            at = rng.randrange(len(mutant))
            mutant[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 9)))
        try:
            for level in LEVELS:
                result = archive.strip(bytes(mutant), level)
                if isinstance(result, Stripped):
                    check_pieces(result, len(mutant))
            archive.inspect(bytes(mutant))
            archive.arch(bytes(mutant))
        except BinaryError:
            rejected += 1
    return rejected


@pytest.mark.parametrize("style", ["gnu", "sym64", "bsd"])
def test_mutated_hand_made_archives(style: str) -> None:
    rejected = fuzz(sample(style), seed=2024, rounds=300)
    assert 0 < rejected < 300


# -- the libpython of every pyenv CPython ----------------------------------------------------------


def pyenv_archives() -> list[Path]:
    """``libpythonX.Y.a`` of every pyenv CPython, by version."""
    roots = {Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser()}
    if shutil.which("pyenv"):
        proc = subprocess.run(["pyenv", "root"], capture_output=True, text=True)
        roots.add(Path(proc.stdout.strip()))
    found = {p for root in roots for p in root.glob("versions/*/lib/python3.*/config-*/libpython3.*.a")}
    return sorted(found, key=lambda p: _version(p))


def _version(path: Path) -> tuple[int, int]:
    match = re.fullmatch(r"libpython3\.(\d+)m?\.a", path.name)
    return (3, int(match.group(1))) if match else (0, 0)


def _params(archives: list[Path]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(
        "libpython",
        archives or [pytest.param(None, marks=pytest.mark.skip(reason="no pyenv CPython with a libpython*.a"))],
        ids=[p.name[len("lib") : -len(".a")] for p in archives] or ["none"],
    )


LIBPYTHONS = pyenv_archives()
libpython_params = _params(LIBPYTHONS)
#: ``pythonX.Y-config --embed`` came with 3.8 (and 3.7's own unstripped archive crashes when
#: embedded here, before any stripping).
embeddable_params = _params([p for p in LIBPYTHONS if _version(p) >= (3, 8)])


@pytest.fixture(scope="module")
def stripped_copies(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[Path, str], Path]:
    """``(archive, level) -> stripped copy``, filled as the tests ask (each is stripped once)."""
    return {}


def stripped(cache: dict[tuple[Path, str], Path], path: Path, level: Level, where: Path) -> Path:
    if (path, level) not in cache:
        data = path.read_bytes()
        result = archive.strip(data, level)
        out = where / f"{level}-{path.name}"
        out.write_bytes(result.materialize(data) if isinstance(result, Stripped) else data)
        cache[path, level] = out
    return cache[path, level]


def ar_listing(path: Path) -> list[tuple[str, ...]]:
    """``ar tv``: mode, uid/gid, date and name of each member (sizes left out)."""
    lines = run(need("ar"), "tv", path).stdout.splitlines()
    return [tuple(line.split()[:2] + line.split()[3:]) for line in lines]


def armap(path: Path, nm: str = "nm") -> list[tuple[str, str]]:
    """The index as ``nm --print-armap`` prints it: (symbol, member), in order."""
    out = run(need(nm), "--print-armap", path).stdout
    block = out.split("\n\n", 1)[0] if "Archive index:" in out or "Archive map" in out else ""
    pairs = [line.rsplit(" in ", 1) for line in block.splitlines()[1:] if " in " in line]
    return [(symbol, member) for symbol, member in pairs]


@pytest.mark.slow
@libpython_params
@pytest.mark.parametrize("level", LEVELS)
def test_libpython_keeps_members_dates_and_index(
    libpython: Path,
    level: Level,
    stripped_copies: dict[tuple[Path, str], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``ar t`` lists the same members in the same order, ``ar tv`` the same modes, owners and
    dates, and every index symbol names the same member."""
    out = stripped(stripped_copies, libpython, level, tmp_path_factory.mktemp("libpython"))
    assert run(need("ar"), "t", out).stdout == run(need("ar"), "t", libpython).stdout
    assert ar_listing(out) == ar_listing(libpython)
    before = armap(libpython)
    assert len(before) > 1000 and armap(out) == before


@pytest.mark.slow
@needs_objects
@libpython_params
@pytest.mark.parametrize("level", LEVELS)
def test_libpython_sizes_match_gnu_strip(
    libpython: Path,
    level: Level,
    stripped_copies: dict[tuple[Path, str], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Within 1 % of GNU ``strip -g`` (debug) and ``strip --strip-unneeded`` (all)."""
    where = tmp_path_factory.mktemp("gnu")
    out = stripped(stripped_copies, libpython, level, where)
    gnu = where / f"gnu-{level}-{libpython.name}"
    shutil.copy(libpython, gnu)
    run(need("strip"), "-g" if level == "debug" else "--strip-unneeded", gnu)
    assert out.stat().st_size < libpython.stat().st_size * 0.5
    assert abs(out.stat().st_size - gnu.stat().st_size) <= gnu.stat().st_size * 0.01


EMBED = r"""
#include <Python.h>
int main(void) {
    Py_Initialize();
    int rc = PyRun_SimpleString(
        "import sys, os, re, collections\n"
        "mods = [__import__(n) for n in sys.builtin_module_names]\n"
        "assert re.match(r'(\\d+)-', '42-x').group(1) == '42'\n"
        "assert collections.Counter('abca')['a'] == 2\n"
        "print('embedded', len(mods), '%d.%d' % sys.version_info[:2])\n");
    if (Py_FinalizeEx() < 0) return 120;
    return rc ? 1 : 0;
}
"""


@pytest.mark.slow
@embeddable_params
@pytest.mark.parametrize("level", LEVELS)
def test_libpython_still_links_an_embedding_program(
    libpython: Path,
    level: Level,
    stripped_copies: dict[tuple[Path, str], Path],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> None:
    """A program built with ``pythonX.Y-config --embed`` links statically against the stripped
    archive (its directory comes first on the search path) and runs Python code importing
    every builtin module."""
    out = stripped(stripped_copies, libpython, level, tmp_path_factory.mktemp("libpython"))
    prefix = libpython.parents[3]
    major_minor = _version(libpython)
    config = next(prefix.glob(f"bin/python{major_minor[0]}.{major_minor[1]}*-config"))
    cflags = run(config, "--cflags").stdout.split()
    ldflags = run(config, "--embed", "--ldflags").stdout.split()
    libdir = tmp_path / "lib"
    libdir.mkdir()
    shutil.copy(out, libdir / libpython.name)
    (tmp_path / "embed.c").write_text(EMBED)
    program = tmp_path / "embed"
    run(need("gcc"), tmp_path / "embed.c", "-o", program, *cflags, f"-L{libdir}", *ldflags)
    assert "libpython" not in run(need("readelf"), "-d", program).stdout  # linked statically
    proc = run(program, env={"PYTHONHOME": str(prefix), "PATH": os.environ["PATH"]})
    assert proc.stdout.startswith("embedded ") and proc.stdout.split()[-1] == f"{major_minor[0]}.{major_minor[1]}"


# -- archives made by the tools --------------------------------------------------------------------


def compile_c(tmp: Path, name: str, source: str, *flags: str, compiler: str = "gcc") -> Path:
    (tmp / f"{name}.c").write_text(source)
    out = tmp / f"{name}.o"
    run(need(compiler), "-c", *flags, tmp / f"{name}.c", "-o", out)
    return out


def strip_file(path: Path, level: Level, out: Path) -> Path:
    data = path.read_bytes()
    result = archive.strip(data, level)
    out.write_bytes(result.materialize(data) if isinstance(result, Stripped) else data)
    return out


def member_bytes(path: Path, name: str) -> bytes:
    return subprocess.run([need("ar"), "p", str(path), name], capture_output=True, check=True).stdout


@pytest.mark.slow
@needs_objects
@pytest.mark.parametrize("level", LEVELS)
def test_mixed_archive(level: Level, tmp_path: Path) -> None:
    """clang ``-flto`` bitcode, a gcc object, a text file, a gcc LTO object and a split-DWARF
    object: only the plain object changes; the index keeps the bitcode's symbols (GNU strip
    drops them) and lld still links an LTO program from the stripped archive."""
    objs = [
        compile_c(tmp_path, "bc", "int bc_func(int x) { return x * 3; }\n", "-flto", "-g", compiler="clang-19"),
        compile_c(tmp_path, "obj", "int obj_func(int x) { return x + 1; }\n", "-g"),
        tmp_path / "notes.txt",
        compile_c(tmp_path, "lto", "int lto_func(int x) { return x - 1; }\n", "-flto", "-g"),
        compile_c(tmp_path, "split", "int split_func(int x) { return x * x; }\n", "-g", "-gsplit-dwarf"),
    ]
    (tmp_path / "notes.txt").write_text("a text member\n")
    lib = tmp_path / "libmix.a"
    run(need("llvm-ar-19"), "rcs", lib, *objs)
    out = strip_file(lib, level, tmp_path / "libmix-stripped.a")
    for member in ("bc.o", "notes.txt", "lto.o", "split.o"):
        assert member_bytes(out, member) == member_bytes(lib, member), member
    assert len(member_bytes(out, "obj.o")) < len(member_bytes(lib, "obj.o"))
    before = armap(lib, "llvm-nm-19")
    assert ("bc_func", "bc.o") in before and armap(out, "llvm-nm-19") == before
    info = archive.inspect(lib.read_bytes())
    assert info.note == "members left alone: 1 LLVM bitcode, 1 not an object, 1 LTO object, 1 split-DWARF object"
    main_c = tmp_path / "main.c"
    main_c.write_text("int bc_func(int); int obj_func(int);\nint main(void) { return bc_func(2) + obj_func(3); }\n")
    program = tmp_path / "prog"
    run(need("clang-19"), "-flto", "-fuse-ld=lld", main_c, out, "-o", program)
    assert subprocess.run([program]).returncode == 10


def gcc_objects(tmp: Path, names: list[str]) -> list[Path]:
    """One gcc ``-g`` object per name, each defining ``<stem>_fn``; the odd ones mode 0600."""
    objs = []
    for i, name in enumerate(names):
        stem = name[: -len(".o")].replace("-", "_")
        obj = compile_c(tmp, name[: -len(".o")], f"int {stem}_fn(int x) {{ return x + {i}; }}\n", "-g", "-O1")
        os.chmod(obj, 0o600 if i % 2 else 0o644)
        objs.append(obj)
    return objs


NAMES = ["short.o", "a_member_name_longer_than_fifteen.o", "another_rather_long_member_name.o", "z.o"]


@pytest.mark.slow
@needs_objects
@pytest.mark.parametrize("level", LEVELS)
def test_gnu_archive_with_long_names_dates_and_modes(level: Level, tmp_path: Path) -> None:
    """``ar rcsU`` (real dates, uids, modes) with names past 15 characters (a ``//`` table):
    everything ``ar tv`` shows is kept, where GNU strip zeroes dates and owners."""
    lib = tmp_path / "liblong.a"
    run(need("ar"), "rcsU", lib, *gcc_objects(tmp_path, NAMES))
    assert b"//" + b" " * 46 in lib.read_bytes()  # the long-name table's header
    out = strip_file(lib, level, tmp_path / "out.a")
    assert out.stat().st_size < lib.stat().st_size
    assert run(need("ar"), "t", out).stdout.split() == NAMES
    assert ar_listing(out) == ar_listing(lib)
    assert armap(out) == armap(lib) and len(armap(lib)) == len(NAMES)


@pytest.mark.slow
@needs_objects
@pytest.mark.parametrize("level", LEVELS)
def test_sym64_index(level: Level, tmp_path: Path) -> None:
    """llvm-ar writes ``/SYM64/`` with ``SYM64_THRESHOLD=0``; the rebuilt index stays 64-bit."""
    lib = tmp_path / "lib64.a"
    env = {**os.environ, "SYM64_THRESHOLD": "0"}
    run(need("llvm-ar-19"), "rcs", lib, *gcc_objects(tmp_path, NAMES), env=env)
    assert lib.read_bytes()[8:16] == b"/SYM64/ "
    out = strip_file(lib, level, tmp_path / "out.a")
    assert out.read_bytes()[8:16] == b"/SYM64/ " and out.stat().st_size < lib.stat().st_size
    assert armap(out, "llvm-nm-19") == armap(lib, "llvm-nm-19") and len(armap(lib, "llvm-nm-19")) == len(NAMES)
    assert [m.name for m in read_ar(out.read_bytes()).members] == NAMES


@pytest.mark.slow
@needs_objects
@pytest.mark.parametrize("level", LEVELS)
def test_bsd_archive(level: Level, tmp_path: Path) -> None:
    """``llvm-ar --format=bsd``: ``#1/`` names and a ``__.SYMDEF`` index, read and kept."""
    lib = tmp_path / "libbsd.a"
    run(need("llvm-ar-19"), "--format=bsd", "rcs", lib, *gcc_objects(tmp_path, NAMES))
    assert b"#1/" in lib.read_bytes()
    out = strip_file(lib, level, tmp_path / "out.a")
    assert out.stat().st_size < lib.stat().st_size
    assert run(need("llvm-ar-19"), "t", out).stdout.split() == NAMES
    assert armap(out, "llvm-nm-19") == armap(lib, "llvm-nm-19") and len(armap(lib, "llvm-nm-19")) == len(NAMES)
    run(need("llvm-nm-19"), out)  # every member reads back


@pytest.mark.slow
def test_thin_archive_made_by_ar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = tmp_path / "libthin.a"
    run(need("ar"), "rcsT", lib, *gcc_objects(tmp_path, NAMES[:2]))
    before = lib.read_bytes()
    assert main(["strip", str(lib)]) == 0
    assert "thin archive: left alone (its members live elsewhere)" in capsys.readouterr().err
    assert lib.read_bytes() == before


RUST_LIB = """
pub fn answer() -> u32 { 42 }
pub fn greet(name: &str) -> String { format!("hello {name}") }
"""
RUST_MAIN = """
fn main() { println!("{} {}", mylib::greet("rlib"), mylib::answer()); }
"""


@pytest.mark.slow
@needs_objects
@pytest.mark.parametrize("level", LEVELS)
def test_rust_rlib(level: Level, tmp_path: Path) -> None:
    """A dependency-free rlib built with ``-g``: its code shrinks, ``lib.rmeta`` is kept as it
    is, and ``rustc --extern`` still builds a program against it."""
    rustc = need("rustc")
    (tmp_path / "mylib.rs").write_text(RUST_LIB)
    rlib = tmp_path / "libmylib.rlib"
    run(rustc, "--edition=2021", "--crate-type=rlib", "-g", tmp_path / "mylib.rs", "-o", rlib)
    stripped_dir = tmp_path / "stripped"
    stripped_dir.mkdir()
    out = strip_file(rlib, level, stripped_dir / "libmylib.rlib")
    assert out.stat().st_size < rlib.stat().st_size
    assert member_bytes(out, "lib.rmeta") == member_bytes(rlib, "lib.rmeta")
    (tmp_path / "main.rs").write_text(RUST_MAIN)
    program = tmp_path / "main"
    run(rustc, "--edition=2021", "--extern", f"mylib={out}", tmp_path / "main.rs", "-o", program)
    assert run(program).stdout == "hello rlib 42\n"


@pytest.mark.slow
def test_mutated_real_archive(tmp_path: Path) -> None:
    """A GNU ar archive of gcc objects, mutated a few hundred times: results or BinaryError."""
    lib = tmp_path / "libsmall.a"
    run(need("ar"), "rcs", lib, *gcc_objects(tmp_path, NAMES))
    rejected = fuzz(lib.read_bytes(), seed=7, rounds=400)
    assert 0 < rejected < 400


# -- through the CLI -------------------------------------------------------------------------------


@pytest.fixture
def libfoo(tmp_path: Path) -> Path:
    lib = tmp_path / "libfoo.a"
    run(need("ar"), "rcs", lib, *gcc_objects(tmp_path, NAMES))
    return lib


@pytest.mark.slow
@needs_objects
def test_cli_strip_in_place_and_to_output(libfoo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = libfoo.read_bytes()
    output = tmp_path / "out" / "libfoo.a"
    assert main(["strip", str(libfoo), "-o", str(output)]) == 0
    assert libfoo.read_bytes() == original
    assert main(["strip", "--json", str(libfoo)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert libfoo.read_bytes() == output.read_bytes() and len(output.read_bytes()) < len(original)
    (row,) = document["trees"][0]["binaries"]
    assert (row["format"], row["arch"], row["action"]) == ("archive", "x86_64", "stripped")
    assert row["removed"] == [f".debug_* of {len(NAMES)} members"]
    assert run(need("ar"), "t", libfoo).stdout.split() == NAMES


@pytest.mark.slow
@needs_objects
def test_cli_inspect_and_check(libfoo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``check`` counts an archive's strippable bytes (no longer a refusal); once stripped it
    passes."""
    assert main(["inspect", "--json", str(libfoo)]) == 0
    (view,) = json.loads(capsys.readouterr().out)["trees"][0]["binaries"]
    assert (view["format"], view["kind"], view["note"]) == ("archive", "static archive", None)
    assert view["strippable"]["all"] >= view["strippable"]["debug"] > 0
    assert main(["check", "--json", str(libfoo)]) == 1
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert finding["strippable"] == view["strippable"]["all"] and finding["refused"] is None
    assert main(["strip", str(libfoo)]) == 0
    assert main(["check", "--strict", str(libfoo)]) == 0


@pytest.mark.slow
@needs_objects
def test_cli_tree_with_an_archive_and_split_debug(
    libfoo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tree's archive is stripped; with split-debug the report says its debug info was dropped."""
    tree = tmp_path / "tree"
    (tree / "lib").mkdir(parents=True)
    shutil.copy(libfoo, tree / "lib" / "libfoo.a")
    (tree / "README").write_text("a file that is not a binary\n")
    assert main(["strip", "--split-debug", str(tmp_path / "debug"), str(tree)]) == 0
    err = capsys.readouterr().err
    assert re.search(r"stripped +lib/libfoo\.a +archive x86_64: ", err), err
    assert "split-debug: the debug info of 1 static archives was dropped (a debugger finds it nowhere)" in err
    assert (tree / "lib" / "libfoo.a").stat().st_size < libfoo.stat().st_size
    assert run(need("ar"), "t", tree / "lib" / "libfoo.a").stdout.split() == NAMES
