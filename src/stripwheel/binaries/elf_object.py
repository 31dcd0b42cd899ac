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
from dataclasses import dataclass, field
from typing import NamedTuple

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
    suffix_shared_table,
)
from .elf import (
    ET_REL,
    SHF_INFO_LINK,
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
    _add_piece,
    _check_tail,
    _Elf,
    _is_debug,
    _is_debug_file,
    _read_symbols,
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

#: Refusal of an object whose debug info lives in ``.dwo`` files.
SPLIT_DWARF_REASON = "split DWARF object: left as it is (its skeleton units pair it with .dwo files)"


def strip(data: Buffer, level: Level, add: tuple[Added, ...] = ()) -> Result:
    """Strip the relocatable object ``data`` at ``level``; ``add`` (sections an
    :func:`.elf.strip` caller would append) is refused: objects get no debug link."""
    if level not in LEVELS:
        # Checked outside the guard: a caller's bad level is not a malformed file.
        raise ValueError(f"bad strip level {level!r}")
    return _strip_or_refuse(data, level, add)


@guarded("ELF")
def _strip_or_refuse(data: Buffer, level: Level, add: tuple[Added, ...]) -> Result:
    try:
        if add:
            raise Refused(f"relocatable object: cannot add {add[0][0]} to it")
        return _strip(data, level)
    except Refused as refused:
        return Unchanged.of(refused)


# -- reading ----------------------------------------------------------------------------------------


class _Symbols(NamedTuple):
    """``.symtab`` as read: entries, where each is defined, names."""

    section: _Section
    raw: bytes
    #: (st_name, st_info, st_shndx) of every entry
    rows: list[tuple[int, int, int]]
    #: the section each symbol is defined in (the extended index resolved), 0 for none
    homes: list[int]
    #: the string table's bytes
    strings: bytes
    xsec: _Section | None

    def name(self, i: int) -> bytes:
        return _cstring(self.strings, self.rows[i][0], "symbol name")


class _Reloc(NamedTuple):
    """One kept relocation section: its entries' ``r_info`` and where they sit."""

    section: _Section
    infos: list[int]
    entry: int  # entry size
    at: int  # offset of r_info in an entry
    shift: int  # r_info >> shift is the symbol index

    def symbols(self) -> list[int]:
        return [info >> self.shift for info in self.infos]


def _open(data: Buffer) -> _Elf:
    """The parsed object, when it is one this module rewrites."""
    elf = _Elf(data)
    if _is_debug_file(elf):
        raise Refused(DEBUG_FILE_REASON)
    if elf.e_type != ET_REL:
        raise BinaryError(f"not a relocatable object (ELF type {elf.e_type})")
    if elf.e_machine == EM_MIPS and elf.is64 and elf.le:
        # Its r_info is a 32-bit symbol then four type bytes, not the ELF64 word.
        raise Refused("MIPS64 little-endian object: its relocation layout is not understood")
    elf.parse_tables()
    if elf.segments:
        raise Refused("relocatable object with program headers")
    if not elf.sections:
        raise Refused("no section headers", clean=True)
    names = [s.name for s in elf.sections]
    lto = next((n for n in names if n.startswith(_LTO_PREFIXES) or n in _LTO_NAMES), None)
    if lto is not None:
        # GNU strip -g breaks the debug info of GCC 12 -flto -g objects; LTO reads it back.
        raise Refused(f"LTO object ({lto}): left as it is")
    if any(n.endswith(".dwo") for n in names) or _split_dwarf(elf):
        raise Refused(SPLIT_DWARF_REASON)
    _check_tail(elf)
    return elf


def _read_symtab(elf: _Elf) -> _Symbols:
    """The one ``.symtab``, checked against its string and extended-index tables."""
    secs = elf.sections
    tables = [s for s in secs if s.type == SHT_SYMTAB]
    if len(tables) != 1:
        raise Refused("relocatable object without a symbol table" if not tables else "more than one symbol table")
    sym = tables[0]
    if sym.alloc or sym.size % elf.sym_size or sym.entsize not in (0, elf.sym_size):
        raise BinaryError(f"bad symbol table {sym.name} (size {sym.size}, entry size {sym.entsize})")
    if not 0 < sym.link < len(secs) or secs[sym.link].type != SHT_STRTAB:
        raise BinaryError(f"{sym.name} has no string table")
    rows = _read_symbols(elf, sym)
    if sym.info > len(rows):
        raise BinaryError(f"{sym.name}: first global symbol {sym.info} past its {len(rows)} entries")
    xsecs = [s for s in secs if s.type == SHT_SYMTAB_SHNDX]
    if len(xsecs) > 1 or (xsecs and xsecs[0].link != sym.num):
        raise Refused("extended section index tables not understood")
    xsec = xsecs[0] if xsecs else None
    xvals: list[int] = []
    if xsec is not None:
        if xsec.size < len(rows) * XINDEX_SIZE or xsec.type == SHT_NOBITS:
            raise BinaryError(f"{xsec.name} is shorter than {sym.name}")
        xvals = list(struct.unpack_from(f"{elf.e}{len(rows)}I", elf.data, xsec.offset))
    homes = [_home(shndx, xvals[i] if xvals else None, len(secs)) for i, (_n, _info, shndx) in enumerate(rows)]
    return _Symbols(sym, elf.read(sym), rows, homes, elf.read(secs[sym.link]), xsec)


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
    """The ``r_info`` words of a ``SHT_REL``/``SHT_RELA`` section (either class, either order)."""
    rela = sec.type == SHT_RELA
    if elf.is64:
        entry, at, shift, word = (24 if rela else 16), 8, 32, "Q"
    else:
        entry, at, shift, word = (12 if rela else 8), 4, 8, "I"
    if sec.size % entry or sec.entsize not in (0, entry) or sec.type == SHT_NOBITS:
        raise BinaryError(f"bad relocation section {sec.name} (size {sec.size}, entry size {sec.entsize})")
    fmt = f"{elf.e}{at}x{word}{entry - at - struct.calcsize(word)}x"
    with memoryview(elf.data) as whole, whole[sec.offset : sec.offset + sec.size] as view:
        infos = [info for (info,) in struct.iter_unpack(fmt, view)]
    return _Reloc(sec, infos, entry, at, shift)


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
    #: kept symbols, in order
    keep: list[int] = field(default_factory=list)
    #: the new index of every input section; -1 for a removed one
    newidx: list[int] = field(default_factory=list)
    #: new contents, sh_info and sh_name of sections, by input index
    contents: dict[int, bytes] = field(default_factory=dict)
    info: dict[int, int] = field(default_factory=dict)
    names: dict[int, int] = field(default_factory=dict)

    @property
    def new_shnum(self) -> int:
        return len(self.elf.sections) - len(self.removed)


def _strip(data: Buffer, level: Level) -> Stripped:
    """The whole rewrite; an object that cannot or need not change raises :class:`Refused`."""
    elf = _open(data)
    symbols = _read_symtab(elf)
    _check_types(elf, symbols.section)
    removed = _removed_sections(elf, symbols.section)
    groups = {s.num: _read_group(elf, s, len(symbols.rows)) for s in elf.sections if s.type == SHT_GROUP}
    # A group whose members all go (debug type units) goes with them.
    removed |= {num for num, words in groups.items() if all(m in removed for m in words[1:])}
    relocs = [_read_reloc(elf, s) for s in elf.sections if s.type in (SHT_REL, SHT_RELA) and s.num not in removed]
    addrsig = _addrsig(elf, removed)
    plan = _Plan(elf, symbols, removed)
    plan.keep = _select(plan, level, _needed(elf, symbols, relocs, removed), addrsig[1] if addrsig else [])
    if not removed and len(plan.keep) == len(symbols.rows):
        raise Refused("already stripped", clean=True)
    _renumber(plan)
    _check_links(plan)
    _symbol_table(plan, _string_tables(plan))
    newsym = {old: new for new, old in enumerate(plan.keep)}
    for reloc in relocs:
        _rewrite_reloc(plan, reloc, newsym)
    for num, words in groups.items():
        if num not in removed:
            _rewrite_group(plan, elf.sections[num], words, newsym)
    if addrsig is not None:
        # Entries of dropped symbols go: only symbols of removed sections, at either level.
        plan.contents[addrsig[0].num] = _uleb([newsym[i] for i in addrsig[1] if i in newsym])
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


def _needed(elf: _Elf, symbols: _Symbols, relocs: list[_Reloc], removed: set[int]) -> dict[int, str]:
    """The symbols that kept relocations and kept groups name, each with one section naming it."""
    count = len(symbols.rows)
    needed: dict[int, str] = {}
    for reloc in relocs:
        for sym in set(reloc.symbols()):
            if sym >= count:
                raise BinaryError(f"{reloc.section.name} names symbol {sym}, out of range")
            needed.setdefault(sym, reloc.section.name)
    for s in elf.sections:
        if s.type == SHT_GROUP and s.num not in removed:
            needed.setdefault(s.info, f"group {s.name}")
    needed.pop(0, None)
    return needed


def _select(plan: _Plan, level: Level, needed: dict[int, str], addrsig: list[int]) -> list[int]:
    """The symbols that stay, in order. The symbols of removed sections, ``STT_FILE`` and the
    section symbols nothing names go (GNU strip -g drops those too since binutils 2.36: a section
    symbol exists for relocations only); at level ``all`` so do the local symbols nothing names.

    Undefined symbols all stay, even those no relocation names, which GNU strip and llvm-strip
    drop: a linker acts on them anyway (``.TOC.`` makes lld reserve the TOC slot of a ppc64
    ``.got``, ``_GLOBAL_OFFSET_TABLE_`` makes ld create ``.got.plt``, any of them pulls archive
    members in), so dropping one can change the linked program, for one entry saved.

    ``.llvm_addrsig`` counts as naming its symbols: dropping a local function it lists would let
    ``lld --icf=safe`` fold that function's section, and its address would stop being unique.
    """
    symbols = plan.symbols
    count = len(symbols.rows)
    significant = set(addrsig)
    if any(i >= count for i in significant):
        raise BinaryError("an address-significance entry names a symbol out of range")
    keep = [0] if count else []
    for i in range(1, count):
        info = symbols.rows[i][1]
        why = _drop_reason(plan, i, info)
        if why is None and i not in needed and i not in significant:
            if info & STT_TYPE_MASK == STT_SECTION:
                why = "is an unused section symbol"
            elif level == "all" and info >> 4 == STB_LOCAL:
                why = None if _mapping_symbol(plan.elf.e_machine, info, symbols.name(i)) else "is local"
        if why is None:
            keep.append(i)
        elif i in needed:
            name = symbols.name(i).decode("utf-8", "replace")
            raise Refused(f"{needed[i]} refers to symbol {name!r}, which {why}")
    return keep


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


def _string_tables(plan: _Plan) -> dict[int, int]:
    """Fresh section-name and symbol-name tables (one, when the object shares them, as LLVM's
    do); sets every kept section's ``sh_name`` and returns every kept symbol's ``st_name``."""
    elf, symbols = plan.elf, plan.symbols
    secs = elf.sections
    shstrndx, strndx = elf.real_shstrndx, symbols.section.link
    for s in secs[1:]:
        if s.num not in plan.removed and s.num != symbols.section.num and s.link and s.link in (shstrndx, strndx):
            raise Refused(f"{s.name} uses the string table {secs[s.link].name}")
    shstr = elf.read(secs[shstrndx])
    section_names = {s.num: _cstring(shstr, s.name_off, "section name") for s in secs[1:] if s.num not in plan.removed}
    symbol_names = {i: symbols.name(i) for i in plan.keep}
    if shstrndx == strndx:
        table, where = suffix_shared_table([*section_names.values(), *symbol_names.values()])
        plan.contents[shstrndx] = table
        symbol_where = where
    else:
        table, where = suffix_shared_table(section_names.values())
        plan.contents[shstrndx] = table
        plan.contents[strndx], symbol_where = suffix_shared_table(symbol_names.values())
    plan.names = {num: where[name] for num, name in section_names.items()}
    return {i: symbol_where[name] for i, name in symbol_names.items()}


def _cstring(table: bytes, offset: int, what: str) -> bytes:
    if offset >= len(table) and offset:
        raise BinaryError(f"{what} offset {offset} outside its string table")
    end = table.find(b"\0", offset)
    return table[offset : end if end >= 0 else len(table)]


def _symbol_table(plan: _Plan, names: dict[int, int]) -> None:
    """The kept entries with new names and section indices, and their extended indices."""
    elf, symbols = plan.elf, plan.symbols
    size = elf.sym_size
    pack_h, pack_i = struct.Struct(elf.e + "H"), struct.Struct(elf.e + "I")
    xsec = symbols.xsec if symbols.xsec is not None and symbols.xsec.num not in plan.removed else None
    table, xtable = bytearray(), bytearray()
    for i in plan.keep:
        entry = bytearray(symbols.raw[i * size : (i + 1) * size])
        pack_i.pack_into(entry, 0, names[i])  # st_name opens every entry
        home, xval = symbols.homes[i], 0
        if home:
            new = plan.newidx[home]
            shndx, xval = (SHN_XINDEX, new) if new >= SHN_LORESERVE else (new, 0)
            pack_h.pack_into(entry, elf.sym_shndx_at, shndx)
        table += entry
        xtable += pack_i.pack(xval)
    sym = symbols.section
    plan.contents[sym.num] = bytes(table)
    plan.info[sym.num] = sum(1 for i in plan.keep if i < sym.info)
    if xsec is not None:
        plan.contents[xsec.num] = bytes(xtable)


def _rewrite_reloc(plan: _Plan, reloc: _Reloc, newsym: dict[int, int]) -> None:
    """New ``r_info`` symbol indices, when any changes (the type bits stay)."""
    shift = reloc.shift
    if all(newsym[info >> shift] == info >> shift for info in reloc.infos):
        return
    out = bytearray(plan.elf.read(reloc.section))
    pack = struct.Struct(plan.elf.e + ("Q" if plan.elf.is64 else "I")).pack_into
    types = (1 << shift) - 1
    for j, info in enumerate(reloc.infos):
        sym = info >> shift
        if newsym[sym] != sym:
            pack(out, j * reloc.entry + reloc.at, newsym[sym] << shift | info & types)
    plan.contents[reloc.section.num] = bytes(out)


def _rewrite_group(plan: _Plan, sec: _Section, words: list[int], newsym: dict[int, int]) -> None:
    """The group's flags as they are (``GRP_COMDAT`` stays), its kept members renumbered."""
    members = [plan.newidx[m] for m in words[1:] if plan.newidx[m] >= 0]
    plan.contents[sec.num] = struct.pack(f"{plan.elf.e}{1 + len(members)}I", words[0], *members)
    plan.info[sec.num] = newsym[sec.info]


# -- writing ----------------------------------------------------------------------------------------


def _assemble(plan: _Plan) -> tuple[list[Piece], int]:
    """The ELF header, the kept sections in input order, each at its alignment, and the section
    header table; refuses when the file would not shrink."""
    elf = plan.elf
    head_end = max(elf.ehdr_size, min(elf.header.ehsize, elf.size))
    order = sorted((s for s in elf.sections[1:] if s.num not in plan.removed), key=lambda s: (s.offset, s.num))
    offsets = {0: elf.sections[0].offset}
    cursor = head_end
    for s in order:
        cursor = align_up(cursor, s.addralign)
        offsets[s.num] = cursor
        cursor += _new_size(plan, s) if s.type != SHT_NOBITS else 0
    shoff = align_up(cursor, elf.word)
    size = shoff + plan.new_shnum * elf.shdr_size
    if size >= elf.size:
        raise Refused("stripping would not make the file smaller")
    pieces: list[Piece] = [_elf_header(plan, shoff)]
    if head_end > elf.ehdr_size:
        pieces.append(Copy(elf.ehdr_size, head_end - elf.ehdr_size))
    pos = head_end
    for s in order:
        length = _new_size(plan, s) if s.type != SHT_NOBITS else 0
        if not length:
            continue
        if offsets[s.num] > pos:
            _add_piece(pieces, bytes(offsets[s.num] - pos))
        _add_piece(pieces, plan.contents.get(s.num) or Copy(s.offset, s.size))
        pos = offsets[s.num] + length
    _add_piece(pieces, bytes(shoff - pos) + _section_headers(plan, offsets))
    return pieces, size


def _new_size(plan: _Plan, s: _Section) -> int:
    return len(plan.contents[s.num]) if s.num in plan.contents else s.size


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
    elf, newidx = plan.elf, plan.newidx
    nsec = len(elf.sections)
    table = bytearray()
    for s in elf.sections:
        if s.num in plan.removed:
            continue
        link, info, size = s.link, s.info, _new_size(plan, s)
        if s.num == 0:
            link, size = _escapes(plan)
        else:
            link = newidx[link] if 0 < link < nsec else link
            if _info_is_section(s) and 0 < info < nsec:
                info = newidx[info]
            info = plan.info.get(s.num, info)
        fields = (plan.names.get(s.num, 0), s.type, s.flags, s.addr, offsets[s.num], size, link, info)
        table += struct.pack(elf.shdr_fmt, *fields, s.addralign, s.entsize)
    return bytes(table)


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
