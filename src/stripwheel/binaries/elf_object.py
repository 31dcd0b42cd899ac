"""ELF relocatable objects (``ET_REL``): strip debug sections and unneeded symbols, renumbering every index.

Level ``debug`` is GNU ``strip -g``: the debug sections go, with the relocation sections that
apply to them, the COMDAT groups left with no member, the ``STT_FILE`` symbols, the symbols
defined in removed sections and the section symbols no relocation uses. Level ``all`` is GNU
``strip --strip-unneeded``: also every local symbol that no kept relocation, kept group or
``.llvm_addrsig`` names (ARM and AArch64 mapping symbols excepted); global and weak symbols,
defined or not, all stay (see :func:`_select` for why unused undefined ones stay too).

What holds an index and is rewritten:

* section indices: every ``sh_link``, the ``sh_info`` of relocation sections (and of any
  ``SHF_INFO_LINK`` section), ``e_shstrndx`` (with its ``SHN_XINDEX`` escape in section 0), the
  member lists of ``SHT_GROUP`` sections (whose ``GRP_COMDAT`` flag stays), and ``st_shndx`` of
  every symbol (through ``SHT_SYMTAB_SHNDX`` when it is ``SHN_XINDEX``; that table is rewritten
  in step with ``.symtab``, or dropped once every index fits ``st_shndx``);
* symbol indices: ``r_info`` of every kept ``SHT_REL``/``SHT_RELA`` entry, the ``sh_info``
  (signature) of every kept group, the ULEB128 list of ``.llvm_addrsig`` (rewritten, never
  dropped or unlinked as strip tools do, so ``lld --icf=safe`` keeps its precision), and the
  ``sh_info`` of ``.symtab`` (its first non-local symbol).

A section whose type is not understood (it might hold indices) leaves the object as it is, so do
LTO objects and split-DWARF objects. An object has no segments, so the output is compacted: the
ELF header, the kept sections in their input order (each at its alignment), then the section
header table; unchanged contents are :class:`Copy` pieces, and the symbol and string tables are
written afresh.
"""

from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, compress, islice, repeat
from operator import add, attrgetter, is_, not_, sub
from typing import Literal, NamedTuple, cast

from ._core import (
    DEBUG_FILE_REASON,
    LEVELS,
    BinaryError,
    Buffer,
    Copy,
    Level,
    Piece,
    Refused,
    Result,
    Stripped,
    Unchanged,
    align_up,
    guarded,
)
from .elf import (
    ET_REL,
    SHF_ALLOC,
    SHF_INFO_LINK,
    SHF_WRITE,
    SHN_LORESERVE,
    SHN_XINDEX,
    SHT_GROUP,
    SHT_NOBITS,
    SHT_NOTE,
    SHT_PROGBITS,
    SHT_REL,
    SHT_RELA,
    SHT_STRTAB,
    SHT_SYMTAB,
    SHT_SYMTAB_SHNDX,
    STT_FILE,
    STT_TYPE_MASK,
    XINDEX_SIZE,
    Added,
    _check_tail,
    _Elf,
    _is_debug,
    _is_debug_file,
    _Section,
)
from .elf_debug import _split_dwarf

SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY = 14, 15, 16
SHT_LLVM_LINKER_OPTIONS = 0x6FFF4C01
SHT_LLVM_CALL_GRAPH_PROFILE = 0x6FFF4C02
SHT_LLVM_ADDRSIG = 0x6FFF4C03
SHT_LLVM_DEPENDENT_LIBRARIES = 0x6FFF4C04
SHT_GNU_SFRAME = 0x6FFFFFF4
SHT_GNU_ATTRIBUTES = 0x6FFFFFF5
SHT_LOPROC, SHT_HIPROC = 0x70000000, 0x7FFFFFFF
EM_MIPS, EM_ARM, EM_AARCH64 = 8, 40, 183
STB_LOCAL = 0
STT_NOTYPE = 0
STT_SECTION = 3

#: Contents with no symbol or section index in them: copied as they are.
_PLAIN_TYPES = frozenset(
    (
        SHT_PROGBITS,
        SHT_NOTE,
        SHT_NOBITS,
        SHT_STRTAB,
        SHT_INIT_ARRAY,
        SHT_FINI_ARRAY,
        SHT_PREINIT_ARRAY,
        SHT_GNU_ATTRIBUTES,
        SHT_GNU_SFRAME,
        SHT_LLVM_LINKER_OPTIONS,
        SHT_LLVM_DEPENDENT_LIBRARIES,
    )
)
#: Sections that name ``.symtab`` entries by index and are rewritten here.
_SYMBOL_USERS = frozenset((SHT_REL, SHT_RELA, SHT_GROUP, SHT_SYMTAB_SHNDX, SHT_LLVM_ADDRSIG))
#: Since LLVM 13 the call-graph profile holds only weights (8 bytes each); its symbol pairs are
#: relocations. The older form (16-byte entries) holds symbol indices and is refused.
CGPROFILE_ENTRY = 8

_LTO_PREFIXES = (".gnu.lto_", ".gnu.debuglto_")
_LTO_NAMES = (".llvm.lto",)

#: By st_info: 1 when the symbol may go at the level (its type or binding says so).
_MAY_GO: dict[Level, bytes] = {
    "debug": bytes(info & STT_TYPE_MASK in (STT_FILE, STT_SECTION) for info in range(256)),
    "all": bytes(info & STT_TYPE_MASK in (STT_FILE, STT_SECTION) or info >> 4 == STB_LOCAL for info in range(256)),
}
#: New bytes are joined into pieces of up to this size (as :func:`.elf._add_piece` joins them).
_JOINED = 1 << 16
#: Typecode of an array of 32-bit words ("I" wherever CPython runs; "L" where an int is not 32-bit).
_U32: Literal["I", "L"] = "I" if array("I").itemsize == 4 else "L"
_HOST_LE = sys.byteorder == "little"

#: Refusal of an object whose debug info lives in ``.dwo`` files.
SPLIT_DWARF_REASON = "split DWARF object: left as it is (its skeleton units pair it with .dwo files)"


def strip(data: Buffer, level: Level, add: tuple[Added, ...] = (), parsed: _Elf | None = None) -> Result:
    """Strip the relocatable object ``data`` at ``level``; ``add`` (sections an
    :func:`.elf.strip` caller would append) is refused: objects get no debug link. ``parsed``:
    ``data`` with its tables parsed already (an archive member its rewriter looked into)."""
    if level not in LEVELS:
        # Checked outside the guard: a caller's bad level is not a malformed file.
        raise ValueError(f"bad strip level {level!r}")
    return _strip_or_refuse(data, level, add, parsed)


@guarded("ELF")
def _strip_or_refuse(data: Buffer, level: Level, add: tuple[Added, ...], parsed: _Elf | None) -> Result:
    try:
        if add:
            raise Refused(f"relocatable object: cannot add {add[0][0]} to it")
        return _strip(data, level, parsed)
    except Refused as refused:
        return Unchanged.of(refused)


# -- reading ----------------------------------------------------------------------------------------


class _Symbols(NamedTuple):
    """``.symtab`` as read, a column per field this module reads."""

    section: _Section
    raw: bytes
    #: st_name, st_info and st_shndx of every entry
    names: Sequence[int]
    infos: bytes
    shndx: Sequence[int]
    #: the section each symbol is defined in (the extended index resolved), 0 for none
    homes: list[int]
    #: the string table's bytes
    strings: bytes
    xsec: _Section | None

    @property
    def entries(self) -> int:
        return len(self.infos)

    def name(self, i: int) -> bytes:
        return _cstring(self.strings, self.names[i], "symbol name")


class _Reloc(NamedTuple):
    """One kept relocation section, as 32-bit words in the host's order: an ``r_info`` is one
    word of ELF32 (symbol above the type byte), two of ELF64 (symbol in the high one)."""

    section: _Section
    words: array[int]
    stride: int  # words per entry
    at: int  # the word of an entry that holds the symbol (ELF64) or r_info (ELF32)
    #: the symbol of every entry, in order, and the highest (-1 for none)
    symbols: array[int]
    top: int


def _open(data: Buffer, parsed: _Elf | None = None) -> _Elf:
    """The parsed object (``parsed`` when the caller has parsed its tables already), when it
    is one this module rewrites."""
    elf = _Elf(data) if parsed is None else parsed
    if _is_debug_file(elf) if parsed is None else _is_debug_object(parsed):
        raise Refused(DEBUG_FILE_REASON)
    if elf.e_type != ET_REL:
        raise BinaryError(f"not a relocatable object (ELF type {elf.e_type})")
    if elf.e_machine == EM_MIPS and elf.is64 and elf.le:
        # Its r_info is a 32-bit symbol then four type bytes, not the ELF64 word.
        raise Refused("MIPS64 little-endian object: its relocation layout is not understood")
    if parsed is None:
        elf.parse_tables()
    if elf.segments:
        raise Refused("relocatable object with program headers")
    if not elf.sections:
        raise Refused("no section headers", clean=True)
    # The names between NULs (no name holds one): each test below is one search of them all.
    names = "\0" + "\0".join(s.name for s in elf.sections) + "\0"
    if any(f"\0{prefix}" in names for prefix in _LTO_PREFIXES) or any(f"\0{n}\0" in names for n in _LTO_NAMES):
        lto = next(s.name for s in elf.sections if s.name.startswith(_LTO_PREFIXES) or s.name in _LTO_NAMES)
        # GNU strip -g breaks the debug info of GCC 12 -flto -g objects; LTO reads it back.
        raise Refused(f"LTO object ({lto}): left as it is")
    if ".dwo\0" in names or _split_dwarf(elf):
        raise Refused(SPLIT_DWARF_REASON)
    _check_tail(elf)
    return elf


def _is_debug_object(elf: _Elf) -> bool:
    """:func:`.elf._is_debug_file` of an object whose sections are parsed, without reading its
    section headers again (all of them, in an object whose code sections are empty)."""
    evidence = False
    for sec in elf.sections[1:]:
        if not sec.flags & SHF_ALLOC or not sec.size or sec.type == SHT_NOTE:
            continue
        if sec.type != SHT_NOBITS:
            return False
        evidence = evidence or not sec.flags & SHF_WRITE
    return evidence


def _words(data: Buffer, offset: int, size: int, swap: bool) -> array[int]:
    """``size`` bytes at ``offset`` (a multiple of 4) as 32-bit words in the host's order."""
    words = array(_U32)
    with memoryview(data) as whole, whole[offset : offset + size] as view:
        words.frombytes(view)
    if swap:
        words.byteswap()
    return words


def _to_bytes(words: array[int], swap: bool) -> bytes:
    if swap:
        words.byteswap()
    return words.tobytes()


def _read_symtab(elf: _Elf) -> _Symbols:
    """The one ``.symtab``, checked against its string and extended-index tables."""
    secs = elf.sections
    tables = [s for s in secs if s.type == SHT_SYMTAB]
    if len(tables) != 1:
        raise Refused("relocatable object without a symbol table" if not tables else "more than one symbol table")
    sym = tables[0]
    size = elf.sym_size
    if sym.alloc or sym.size % size or sym.entsize not in (0, size):
        raise BinaryError(f"bad symbol table {sym.name} (size {sym.size}, entry size {sym.entsize})")
    if not 0 < sym.link < len(secs) or secs[sym.link].type != SHT_STRTAB:
        raise BinaryError(f"{sym.name} has no string table")
    raw = elf.read(sym)
    count = len(raw) // size
    if sym.info > count:
        raise BinaryError(f"{sym.name}: first global symbol {sym.info} past its {count} entries")
    # Columns sliced out of the table at C speed: Elf64_Sym is name, info, other, shndx, value,
    # size; Elf32_Sym is name, value, size, info, other, shndx.
    swap = elf.le != _HOST_LE
    names = array(_U32, raw)
    halves = array("H", raw)
    if swap:
        names.byteswap()
        halves.byteswap()
    infos = raw[4 if elf.is64 else 12 :: size]
    shndx = halves[elf.sym_shndx_at // 2 :: size // 2]
    xsecs = [s for s in secs if s.type == SHT_SYMTAB_SHNDX]
    if len(xsecs) > 1 or (xsecs and xsecs[0].link != sym.num):
        raise Refused("extended section index tables not understood")
    xsec = xsecs[0] if xsecs else None
    nsec = len(secs)
    # Without extended indices a symbol's home is its st_shndx below SHN_LORESERVE.
    homes = [s if s < SHN_LORESERVE else 0 for s in shndx] if xsec is None else []
    if xsec is not None or SHN_XINDEX in shndx or max(homes, default=0) >= nsec:
        xvals: list[int] = []
        if xsec is not None:
            if xsec.size < count * XINDEX_SIZE or xsec.type == SHT_NOBITS:
                raise BinaryError(f"{xsec.name} is shorter than {sym.name}")
            xvals = list(struct.unpack_from(f"{elf.e}{count}I", elf.data, xsec.offset))
        homes = [_home(v, xvals[i] if xvals else None, nsec) for i, v in enumerate(shndx)]
    return _Symbols(sym, raw, names[:: size // 4], infos, shndx, homes, elf.read(secs[sym.link]), xsec)


def _home(shndx: int, xval: int | None, nsec: int) -> int:
    """The section a symbol is defined in; 0 for undefined, absolute, common and the like."""
    if shndx == SHN_XINDEX:
        if xval is None:
            raise BinaryError("SHN_XINDEX symbol without an extended section index table")
        shndx = xval
    elif shndx >= SHN_LORESERVE:
        return 0
    if shndx >= nsec:
        raise BinaryError(f"symbol section index {shndx} out of range")
    return shndx


def _read_reloc(elf: _Elf, sec: _Section) -> _Reloc:
    """A ``SHT_REL``/``SHT_RELA`` section (either class, either order) and its symbols."""
    rela = sec.type == SHT_RELA
    entry = (24 if rela else 16) if elf.is64 else (12 if rela else 8)
    if sec.size % entry or sec.entsize not in (0, entry) or sec.type == SHT_NOBITS:
        raise BinaryError(f"bad relocation section {sec.name} (size {sec.size}, entry size {sec.entsize})")
    words = _words(elf.data, sec.offset, sec.size, elf.le != _HOST_LE)
    stride = entry // 4
    if elf.is64:
        # r_info is the second 8-byte word: its high half comes last in little-endian order.
        at = 3 if elf.le else 2
        symbols = words[at::stride]
    else:
        at = 1
        symbols = array(_U32, [info >> 8 for info in words[at::stride]])
    return _Reloc(sec, words, stride, at, symbols, max(symbols, default=-1))


def _read_group(elf: _Elf, sec: _Section, symbols: int) -> list[int]:
    """The group's words: its flags (``GRP_COMDAT``), then its member section indices."""
    if sec.size < XINDEX_SIZE or sec.size % XINDEX_SIZE or sec.type == SHT_NOBITS:
        raise BinaryError(f"bad group section {sec.name} (size {sec.size})")
    if sec.info >= symbols:
        raise BinaryError(f"group {sec.name} has signature symbol {sec.info}, out of range")
    words = list(struct.unpack_from(f"{elf.e}{sec.size // XINDEX_SIZE}I", elf.data, sec.offset))
    for member in words[1:]:
        if not 0 < member < len(elf.sections):
            raise BinaryError(f"group {sec.name} names section {member}, out of range")
    return words


def _uleb_list(raw: bytes, label: str) -> list[int]:
    out: list[int] = []
    value = shift = 0
    for byte in raw:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            if shift > 63:
                raise BinaryError(f"ULEB128 too long in {label}")
        else:
            out.append(value)
            value = shift = 0
    if shift:
        raise BinaryError(f"truncated ULEB128 in {label}")
    return out


def _uleb(values: list[int]) -> bytes:
    out = bytearray()
    for value in values:
        while True:
            byte = value & 0x7F
            value >>= 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                break
    return bytes(out)


# -- deciding ---------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """What the rewrite decides, handed from one phase to the next."""

    elf: _Elf
    symbols: _Symbols
    removed: set[int]
    #: kept symbols, in order, and a byte per symbol: 1 when it is kept
    keep: list[int] = field(default_factory=list)
    kept: bytearray = field(default_factory=bytearray)
    #: the new index of every input section; -1 for a removed one
    newidx: list[int] = field(default_factory=list)
    #: new contents, sh_info and sh_name of sections, by input index
    contents: dict[int, bytes] = field(default_factory=dict)
    info: dict[int, int] = field(default_factory=dict)
    names: dict[int, int] = field(default_factory=dict)

    @property
    def new_shnum(self) -> int:
        return len(self.elf.sections) - len(self.removed)


def _strip(data: Buffer, level: Level, parsed: _Elf | None = None) -> Stripped:
    """The whole rewrite; an object that cannot or need not change raises :class:`Refused`."""
    elf = _open(data, parsed)
    symbols = _read_symtab(elf)
    _check_types(elf, symbols.section)
    removed = _removed_sections(elf, symbols.section)
    groups = {s.num: _read_group(elf, s, symbols.entries) for s in elf.sections if s.type == SHT_GROUP}
    # A group whose members all go (debug type units) goes with them.
    removed |= {num for num, words in groups.items() if all(m in removed for m in words[1:])}
    relocs = [_read_reloc(elf, s) for s in elf.sections if s.type in (SHT_REL, SHT_RELA) and s.num not in removed]
    addrsig = _addrsig(elf, removed)
    plan = _Plan(elf, symbols, removed)
    plan.kept = _select(plan, level, relocs, addrsig[1] if addrsig else [])
    plan.keep = list(compress(range(symbols.entries), plan.kept))
    if not removed and len(plan.keep) == symbols.entries:
        raise Refused("already stripped", clean=True)
    _renumber(plan)
    _check_links(plan)
    _symbol_table(plan, _string_tables(plan))
    # The new index of every kept symbol: how many are kept before it.
    newsym = list(accumulate(plan.kept, initial=-1))
    del newsym[0]
    # Symbols below the first dropped one keep their index: a section naming only those stays.
    first_dropped = plan.kept.find(0)
    for reloc in relocs:
        _rewrite_reloc(plan, reloc, newsym, symbols.entries if first_dropped < 0 else first_dropped)
    for num, words in groups.items():
        if num not in removed:
            _rewrite_group(plan, elf.sections[num], words, newsym)
    if addrsig is not None:
        # Entries of dropped symbols go: only symbols of removed sections, at either level.
        plan.contents[addrsig[0].num] = _uleb([newsym[i] for i in addrsig[1] if plan.kept[i]])
    pieces, size = _assemble(plan)
    names = tuple(elf.sections[i].name for i in sorted(plan.removed))
    return Stripped(tuple(pieces), size, removed=names)


def _check_types(elf: _Elf, symtab: _Section) -> None:
    """Refuse any section that may hold indices this module does not rewrite."""
    for s in elf.sections[1:]:
        if s.type in _SYMBOL_USERS:
            if s.link != symtab.num and not _stale_addrsig(s):
                raise Refused(f"{s.name} refers to a symbol table other than {symtab.name}")
            continue
        cgprofile = s.type == SHT_LLVM_CALL_GRAPH_PROFILE and s.entsize == CGPROFILE_ENTRY
        if s.type in _PLAIN_TYPES or SHT_LOPROC <= s.type <= SHT_HIPROC or cgprofile:
            if s.link == symtab.num and not cgprofile:
                raise Refused(f"{s.name} (type {s.type:#x}) refers to symbols in a way not understood")
        elif s.num != symtab.num:
            raise Refused(f"section {s.name} of type {s.type:#x} is not understood")


def _removed_sections(elf: _Elf, symtab: _Section) -> set[int]:
    """The debug sections and the relocation sections that apply to them (groups come later)."""
    secs = elf.sections
    tables = (symtab.num, symtab.link, elf.real_shstrndx)
    removed = {s.num for s in secs[1:] if not s.alloc and _is_debug(s.name) and s.num not in tables}
    for s in secs[1:]:
        if s.type in (SHT_REL, SHT_RELA) and s.info in removed:
            removed.add(s.num)
    return removed


def _stale_addrsig(s: _Section) -> bool:
    """An address-significance table that GNU strip or llvm-strip unlinked (``sh_link`` 0) after
    renumbering symbols: its indices mean nothing, lld ignores it, and it is copied as it is."""
    return s.type == SHT_LLVM_ADDRSIG and s.link == 0


def _addrsig(elf: _Elf, removed: set[int]) -> tuple[_Section, list[int]] | None:
    """``.llvm_addrsig`` and the symbol indices it lists, or None."""
    found = [s for s in elf.sections if s.type == SHT_LLVM_ADDRSIG and s.num not in removed and not _stale_addrsig(s)]
    if not found:
        return None
    if len(found) > 1:
        raise Refused("more than one address-significance table")
    return found[0], _uleb_list(elf.read(found[0]), found[0].name)


def _needed(elf: _Elf, symbols: _Symbols, relocs: list[_Reloc], removed: set[int]) -> set[int]:
    """The symbols that kept relocations and kept groups name."""
    count = symbols.entries
    needed: set[int] = set()
    for reloc in relocs:
        if reloc.top >= count:
            sym = next(s for s in set(reloc.symbols) if s >= count)
            raise BinaryError(f"{reloc.section.name} names symbol {sym}, out of range")
        needed.update(reloc.symbols)
    needed.update(s.info for s in elf.sections if s.type == SHT_GROUP and s.num not in removed)
    needed.discard(0)
    return needed


def _naming(elf: _Elf, relocs: list[_Reloc], removed: set[int], sym: int) -> str:
    """The first section that names symbol ``sym`` (for a refusal)."""
    for reloc in relocs:
        if sym in reloc.symbols:
            return reloc.section.name
    return next(
        f"group {s.name}" for s in elf.sections if s.type == SHT_GROUP and s.num not in removed and s.info == sym
    )


def _select(plan: _Plan, level: Level, relocs: list[_Reloc], addrsig: list[int]) -> bytearray:
    """The symbols that stay: a byte per symbol, 1 when it stays. The symbols of removed
    sections, ``STT_FILE`` and the section symbols nothing names go (GNU strip -g drops those
    too since binutils 2.36: a section symbol exists for relocations only); at level ``all`` so
    do the local symbols nothing names.

    Undefined symbols all stay, even those no relocation names, which GNU strip and llvm-strip
    drop: a linker acts on them anyway (``.TOC.`` makes lld reserve the TOC slot of a ppc64
    ``.got``, ``_GLOBAL_OFFSET_TABLE_`` makes ld create ``.got.plt``, any of them pulls archive
    members in), so dropping one can change the linked program, for one entry saved.

    ``.llvm_addrsig`` counts as naming its symbols: dropping a local function it lists would let
    ``lld --icf=safe`` fold that function's section, and its address would stop being unique.
    """
    symbols, removed = plan.symbols, plan.removed
    count = symbols.entries
    # Only the symbols that may go are looked at one by one (at level debug, a few per object):
    # those whose st_info says so, and those defined in a removed section.
    may_go = symbols.infos.translate(_MAY_GO[level])
    if removed:
        gone = bytearray(len(plan.elf.sections))
        for num in removed:
            gone[num] = 1
        homed = bytes(map(gone.__getitem__, symbols.homes))
        may_go = (int.from_bytes(may_go, "little") | int.from_bytes(homed, "little")).to_bytes(count, "little")
    needed = _needed(plan.elf, symbols, relocs, removed)
    significant = set(addrsig)
    if any(i >= count for i in significant):
        raise BinaryError("an address-significance entry names a symbol out of range")
    locals_go = level == "all"
    machine = plan.elf.e_machine
    kept = bytearray(b"\1") * count
    i = may_go.find(1, 1)  # symbol 0 stays
    while i >= 0:
        info = symbols.infos[i]
        kind = info & STT_TYPE_MASK
        if kind == STT_FILE or symbols.homes[i] in removed:
            if i in needed:
                name = symbols.name(i).decode("utf-8", "replace")
                why = _drop_reason(plan, i, info)
                raise Refused(f"{_naming(plan.elf, relocs, removed, i)} refers to symbol {name!r}, which {why}")
            kept[i] = 0
        elif i in needed or i in significant:
            pass
        elif kind == STT_SECTION:
            kept[i] = 0  # an unused section symbol
        elif locals_go and info >> 4 == STB_LOCAL and not _mapping_symbol(machine, info, symbols.name(i)):
            kept[i] = 0
        i = may_go.find(1, i + 1)
    return kept


def _drop_reason(plan: _Plan, i: int, info: int) -> str | None:
    """Why symbol ``i`` goes at either level, or None."""
    home = plan.symbols.homes[i]
    if home in plan.removed:
        return f"is defined in {plan.elf.sections[home].name}, which goes"
    if info & STT_TYPE_MASK == STT_FILE:
        return "is a file symbol"
    return None


def _mapping_symbol(machine: int, info: int, name: bytes) -> bool:
    """ARM (``$a``, ``$t``, ``$d``) and AArch64 (``$x``, ``$d``) mapping symbols: linkers read them
    (BE8 byte swapping, the Cortex-A53 erratum scan), so they stay as llvm-strip keeps them."""
    kinds = {EM_ARM: b"atd", EM_AARCH64: b"xd"}.get(machine)
    if kinds is None or info & STT_TYPE_MASK != STT_NOTYPE or len(name) < 2 or name[:1] != b"$":
        return False
    return name[1] in kinds and (len(name) == 2 or name[2:3] == b".")


def _numbering(count: int, removed: set[int]) -> list[int]:
    newidx: list[int] = []
    n = 0
    for i in range(count):
        newidx.append(-1 if i in removed else n)
        n += i not in removed
    return newidx


def _renumber(plan: _Plan) -> None:
    """Number the kept sections; drop ``SHT_SYMTAB_SHNDX`` when no kept symbol needs it."""
    count = len(plan.elf.sections)
    plan.newidx = _numbering(count, plan.removed)
    xsec = plan.symbols.xsec
    homes = plan.symbols.homes
    if xsec is not None and not any(plan.newidx[homes[i]] >= SHN_LORESERVE for i in plan.keep):
        # Section indices only shrink: once every one fits st_shndx, none can overflow again.
        plan.removed.add(xsec.num)
        plan.newidx = _numbering(count, plan.removed)


def _check_links(plan: _Plan) -> None:
    """Refuse a kept section linked to a removed one (a link-order section of a debug section)."""
    secs, newidx = plan.elf.sections, plan.newidx
    for s in secs[1:]:
        if s.num in plan.removed:
            continue
        if 0 < s.link < len(secs) and newidx[s.link] < 0:
            raise Refused(f"{s.name} is linked to {secs[s.link].name}, which goes")
        if _info_is_section(s):
            if s.info >= len(secs):
                raise BinaryError(f"{s.name} applies to section {s.info}, out of range")
            if s.info and newidx[s.info] < 0:
                raise Refused(f"{s.name} applies to {secs[s.info].name}, which goes")


def _info_is_section(s: _Section) -> bool:
    return s.type in (SHT_REL, SHT_RELA) or bool(s.flags & SHF_INFO_LINK)


# -- rewriting --------------------------------------------------------------------------------------


def _string_tables(plan: _Plan) -> list[int]:
    """Fresh section-name and symbol-name tables (one, when the object shares them, as LLVM's
    do); sets every kept section's ``sh_name`` and returns the kept symbols' ``st_name``, in order."""
    elf, symbols = plan.elf, plan.symbols
    secs = elf.sections
    shstrndx, strndx = elf.real_shstrndx, symbols.section.link
    for s in secs[1:]:
        if s.num not in plan.removed and s.num != symbols.section.num and s.link and s.link in (shstrndx, strndx):
            raise Refused(f"{s.name} uses the string table {secs[s.link].name}")
    shstr = elf.read(secs[shstrndx])
    section_names = {
        s.num: _cstring(shstr, s.name_off, "section name")[::-1] for s in secs[1:] if s.num not in plan.removed
    }
    symbol_names = _reversed_names(symbols, plan.keep)
    if shstrndx == strndx:
        table, where = _suffix_table([*section_names.values(), *symbol_names])
        plan.contents[shstrndx] = table
        symbol_where = where
    else:
        table, where = _suffix_table(section_names.values())
        plan.contents[shstrndx] = table
        plan.contents[strndx], symbol_where = _suffix_table(symbol_names)
    plan.names = {num: where[name] for num, name in section_names.items()}
    return list(map(symbol_where.__getitem__, symbol_names))


def _cstring(table: bytes, offset: int, what: str) -> bytes:
    if offset >= len(table) and offset:
        raise BinaryError(f"{what} offset {offset} outside its string table")
    end = table.find(b"\0", offset)
    return table[offset : end if end >= 0 else len(table)]


def _reversed_names(symbols: _Symbols, keep: list[int]) -> list[bytes]:
    """The names of the symbols ``keep``, in order, each spelled backwards (as
    :func:`_suffix_table` takes them)."""
    strings = symbols.strings
    offsets = list(map(symbols.names.__getitem__, keep))
    # Every string of the table by where it starts, from one split of the reversed table: its
    # parts are the strings spelled backwards, last first.
    parts = strings[::-1].split(b"\0")
    parts.reverse()
    if strings.endswith(b"\0"):
        parts.pop()  # the empty "string" after the last NUL: no name starts there
    starts = accumulate(map(add, map(len, parts), repeat(1)), initial=0)
    by_start = dict(zip(starts, parts))
    found = list(map(by_start.get, offsets))
    if None not in found:
        return cast("list[bytes]", found)
    # Names that end others (assemblers merge tails), or offsets out of range: the first bad
    # one in symbol order is the one reported.
    inside = set(compress(offsets, map(is_, found, repeat(None))))
    if max(inside) >= len(strings):
        _cstring(strings, next(o for o in offsets if o in inside and o >= len(strings)), "symbol name")
    by_start.update((o, _cstring(strings, o, "symbol name")[::-1]) for o in inside)
    return list(map(by_start.__getitem__, offsets))


def _suffix_table(backwards: Iterable[bytes], prefix: bytes = b"\0") -> tuple[bytes, dict[bytes, int]]:
    """:func:`._core.suffix_shared_table` of names given spelled backwards, at C speed: the
    same table, and the offset of each name keyed by its backward spelling.

    Sorted backwards in descending order, a name that ends another follows it; it is written
    only when it does not end the name just before it, and otherwise sits at the end of the
    last name written (which it then ends as well)."""
    # (A name given twice ends its twin: it shares its bytes, as a set would have it.)
    order = sorted(backwards, reverse=True)
    while order and not order[-1]:
        order.pop()  # the empty name sorts last: it is the prefix's last NUL
    where = {b"": len(prefix) - 1}
    if not order:
        return prefix, where
    ending = list(map(bytes.startswith, order, islice(order, 1, None)))  # ends the name before it
    sizes = list(map(add, map(len, order), repeat(1)))  # each name and its NUL
    if not any(ending):
        # Every name written, one after the other (the usual symbol table).
        where.update(zip(order, accumulate(sizes, initial=len(prefix))))
        heads = order[::-1]
    else:
        written = [True, *map(not_, ending)]
        # starts[k]: where the k-th written name starts; starts[k + 1], where it ends with its NUL
        starts = list(accumulate(compress(sizes, written), initial=len(prefix)))
        # A name ends where the last name written up to it ends (count the written, index starts).
        ends = map(starts.__getitem__, accumulate(written))
        where.update(zip(order, map(sub, ends, sizes)))
        heads = list(compress(order, written))
        heads.reverse()
    # The written names spelled forwards, in order: the join of the reversed list, reversed.
    return prefix + b"\0".join(heads)[::-1] + b"\0", where


def _symbol_table(plan: _Plan, names: list[int]) -> None:
    """The kept entries with new names and section indices, and their extended indices."""
    elf, symbols, keep = plan.elf, plan.symbols, plan.keep
    sym = symbols.section
    plan.info[sym.num] = bisect_left(keep, sym.info)  # keep is sorted: the kept locals
    kept = plan.kept
    # st_shndx: the new index of the home section; undefined, absolute and common as they were
    # (without extended indices a symbol with a home has it as its st_shndx).
    homes = list(compress(symbols.homes, kept))
    shndx = list(map(add, map(sub, compress(symbols.shndx, kept), homes), map(plan.newidx.__getitem__, homes)))
    if symbols.xsec is not None or min(shndx, default=0) < 0:
        # Extended indices; or symbol 0 (always kept) defined in a removed section, which the
        # entry-by-entry writer reports.
        _symbol_table_extended(plan, names)
        return
    size, raw = elf.sym_size, symbols.raw
    runs: list[bytes] = []  # the kept entries, run by run
    end = 0
    start = kept.find(1)
    while start >= 0:
        end = kept.find(0, start)
        end = len(kept) if end < 0 else end
        runs.append(raw[start * size : end * size])
        start = kept.find(1, end)
    table = bytearray(b"".join(runs))
    halves = array("H", shndx)
    words = array(_U32, names)
    if elf.le != _HOST_LE:
        halves.byteswap()
        words.byteswap()
    with memoryview(table) as view, view.cast(_U32) as word_view, view.cast("H") as half_view:
        word_view[:: size // 4] = words  # st_name opens every entry
        half_view[elf.sym_shndx_at // 2 :: size // 2] = halves
    plan.contents[sym.num] = bytes(table)


def _symbol_table_extended(plan: _Plan, names: list[int]) -> None:
    """:func:`_symbol_table` of a table with an ``SHT_SYMTAB_SHNDX`` companion, entry by entry."""
    elf, symbols = plan.elf, plan.symbols
    size = elf.sym_size
    pack_h, pack_i = struct.Struct(elf.e + "H"), struct.Struct(elf.e + "I")
    xsec = symbols.xsec if symbols.xsec is not None and symbols.xsec.num not in plan.removed else None
    table, xtable = bytearray(), bytearray()
    for i, name in zip(plan.keep, names):
        entry = bytearray(symbols.raw[i * size : (i + 1) * size])
        pack_i.pack_into(entry, 0, name)  # st_name opens every entry
        home, xval = symbols.homes[i], 0
        if home:
            new = plan.newidx[home]
            shndx, xval = (SHN_XINDEX, new) if new >= SHN_LORESERVE else (new, 0)
            pack_h.pack_into(entry, elf.sym_shndx_at, shndx)
        table += entry
        xtable += pack_i.pack(xval)
    plan.contents[symbols.section.num] = bytes(table)
    if xsec is not None:
        plan.contents[xsec.num] = bytes(xtable)


def _rewrite_reloc(plan: _Plan, reloc: _Reloc, newsym: list[int], first_dropped: int) -> None:
    """New ``r_info`` symbol indices, when any changes (the type bits stay)."""
    symbols = reloc.symbols
    if reloc.top < first_dropped:
        return
    words, at, stride = reloc.words, reloc.at, reloc.stride
    if plan.elf.is64:
        words[at::stride] = array(_U32, map(newsym.__getitem__, symbols))
    else:
        words[at::stride] = array(_U32, [newsym[info >> 8] << 8 | info & 0xFF for info in words[at::stride]])
    plan.contents[reloc.section.num] = _to_bytes(words, plan.elf.le != _HOST_LE)


def _rewrite_group(plan: _Plan, sec: _Section, words: list[int], newsym: list[int]) -> None:
    """The group's flags as they are (``GRP_COMDAT`` stays), its kept members renumbered."""
    members = [plan.newidx[m] for m in words[1:] if plan.newidx[m] >= 0]
    plan.contents[sec.num] = struct.pack(f"{plan.elf.e}{1 + len(members)}I", words[0], *members)
    plan.info[sec.num] = newsym[sec.info]


# -- writing ----------------------------------------------------------------------------------------


def _assemble(plan: _Plan) -> tuple[list[Piece], int]:
    """The ELF header, the kept sections in input order, each at its alignment, and the section
    header table; refuses when the file would not shrink."""
    elf, contents = plan.elf, plan.contents
    head_end = max(elf.ehdr_size, min(elf.header.ehsize, elf.size))
    order = sorted((s for s in elf.sections[1:] if s.num not in plan.removed), key=attrgetter("offset", "num"))
    offsets = {0: elf.sections[0].offset}
    placed: list[tuple[int, int, Piece]] = []  # (offset, length, contents) of each section with bytes
    cursor = head_end
    for s in order:
        cursor = align_up(cursor, s.addralign)
        offsets[s.num] = cursor
        new = contents.get(s.num)
        length = 0 if s.type == SHT_NOBITS else s.size if new is None else len(new)
        if length:
            placed.append((cursor, length, new or Copy(s.offset, s.size)))
        cursor += length
    shoff = align_up(cursor, elf.word)
    size = shoff + plan.new_shnum * elf.shdr_size
    # Before any padding is made: a hostile alignment must not allocate gigabytes of zeros.
    if size >= elf.size:
        raise Refused("stripping would not make the file smaller")
    pieces: list[Piece] = [_elf_header(plan, shoff)]
    if head_end > elf.ehdr_size:
        pieces.append(Copy(elf.ehdr_size, head_end - elf.ehdr_size))
    pos = head_end
    for at, length, piece in placed:
        if at > pos:
            pieces.append(bytes(at - pos))
        pieces.append(piece)
        pos = at + length
    pieces.append(bytes(shoff - pos) + _section_headers(plan, offsets))
    return _merged(pieces), size


def _merged(pieces: list[Piece]) -> list[Piece]:
    """``pieces`` as :func:`.elf._add_piece` would leave them, one after the other (adjacent
    copies joined, runs of new bytes joined up to 64 KiB), each byte joined once rather than
    once per piece added after it (an object's relocation sections are many new pieces)."""
    out: list[Piece] = []
    run: list[bytes] = []  # new bytes being joined into one piece
    run_size = 0
    for piece in pieces:
        if isinstance(piece, Copy):
            if run:
                out.append(b"".join(run))
                run, run_size = [], 0
            last = out[-1] if out else None
            if isinstance(last, Copy) and last.offset + last.length == piece.offset:
                out[-1] = Copy(last.offset, last.length + piece.length)
            else:
                out.append(piece)
        elif run and run_size + len(piece) <= _JOINED:
            run.append(piece)
            run_size += len(piece)
        else:
            if run:
                out.append(b"".join(run))
            run, run_size = [piece], len(piece)
    if run:
        out.append(b"".join(run))
    return out


def _elf_header(plan: _Plan, shoff: int) -> bytes:
    """The ELF header with the new table offset and counts (extended numbering when they overflow)."""
    elf = plan.elf
    shnum, shstrndx = plan.new_shnum, plan.newidx[elf.real_shstrndx]
    header = elf.header._replace(
        shoff=shoff,
        shnum=0 if shnum >= SHN_LORESERVE else shnum,
        shstrndx=SHN_XINDEX if shstrndx >= SHN_LORESERVE else shstrndx,
    )
    return struct.pack(elf.ehdr_fmt, *header)


def _section_headers(plan: _Plan, offsets: dict[int, int]) -> bytes:
    """The kept sections' headers: new names, offsets, sizes, links and infos."""
    elf, newidx, names, infos, contents = plan.elf, plan.newidx, plan.names, plan.info, plan.contents
    nsec = len(elf.sections)
    link0, size0 = _escapes(plan)
    fields: list[int] = []
    for s in elf.sections:
        num = s.num
        if num in plan.removed:
            continue
        link, info = s.link, s.info
        size = len(contents[num]) if num in contents else s.size
        if num == 0:
            link, size = link0, size0
        else:
            link = newidx[link] if 0 < link < nsec else link
            if (s.type in (SHT_REL, SHT_RELA) or s.flags & SHF_INFO_LINK) and 0 < info < nsec:
                info = newidx[info]
            info = infos.get(num, info)
        fields += (names.get(num, 0), s.type, s.flags, s.addr, offsets[num], size, link, info, s.addralign, s.entsize)
    # One pack for the whole table (an archive has thousands of sections).
    return struct.pack(elf.e + elf.shdr_fmt[1:] * (len(fields) // 10), *fields)


def _escapes(plan: _Plan) -> tuple[int, int]:
    """Section 0's ``sh_link`` and ``sh_size``: the real ``e_shstrndx`` and section count when
    they overflow the ELF header's fields, else what they were (0 where an escape is gone)."""
    elf = plan.elf
    sec0 = elf.sections[0]
    shnum, shstrndx = plan.new_shnum, plan.newidx[elf.real_shstrndx]
    size = shnum if shnum >= SHN_LORESERVE else (0 if elf.header.shnum == 0 else sec0.size)
    escaped = elf.header.shstrndx == SHN_XINDEX
    link = shstrndx if shstrndx >= SHN_LORESERVE else (0 if escaped else sec0.link)
    return link, size
