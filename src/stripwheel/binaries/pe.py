"""PE/COFF images (Windows DLLs and executables): drop trailing DWARF sections and COFF symbols.

MSVC keeps debug information in separate PDB files, so an MSVC image has nothing to strip.
MinGW/GCC images carry DWARF in ``.debug_*`` sections placed after every loadable section, and a
COFF symbol table plus its string table at the very end of the file. Because those sections come
last in both the section table and the file, stripping is a truncation plus a header patch: no
loadable byte moves, so no RVA or file offset inside the image changes.

Level ``all`` removes the debug sections and the COFF symbol table; level ``debug`` removes the
debug sections only and moves the (pruned) symbol table down to the new end of the file.

Field names and offsets are those of the PE/COFF specification.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._core import (
    BinaryError,
    BinaryInfo,
    Buffer,
    Copy,
    Format,
    Level,
    Piece,
    Refused,
    Result,
    Stripped,
    Unchanged,
    align_up,
    guarded,
    piece_length,
    strippable_by_level,
)

FORMAT: Format = "PE"
MAGICS = (b"MZ",)


def claims(head: bytes) -> bool:
    """An ``MZ`` file is handled here (an MS-DOS program without a PE header is reported as such)."""
    return True


_MACHINES = {
    0x014C: "i386",
    0x8664: "x86_64",
    0xAA64: "arm64",
    0x01C0: "arm",
    0x01C4: "arm",
    0xA641: "arm64ec",
}

# MS-DOS header
_DOS_HEADER_SIZE = 0x40
_E_LFANEW = 0x3C  # file offset of the PE signature
_PE_SIGNATURE = b"PE\0\0"

# COFF file header, right after the signature
_COFF_HEADER = "<HHIIIHH"  # Machine, NumberOfSections, TimeDateStamp, PointerToSymbolTable,
# NumberOfSymbols, SizeOfOptionalHeader, Characteristics
_COFF_HEADER_SIZE = 20
_COFF_NUMBER_OF_SECTIONS = 2
_COFF_POINTER_TO_SYMBOL_TABLE = 8  # NumberOfSymbols follows
_COFF_CHARACTERISTICS = 18

# COFF file header characteristics
_LINE_NUMS_STRIPPED = 0x0004
_LOCAL_SYMS_STRIPPED = 0x0008
_DEBUG_STRIPPED = 0x0200
_FILE_DLL = 0x2000

# optional header
_PE32_MAGIC = 0x10B
_PE32_PLUS_MAGIC = 0x20B
_OPT_ADDRESS_OF_ENTRY_POINT = 16
_OPT_SECTION_ALIGNMENT = 32  # FileAlignment follows
_OPT_SIZE_OF_IMAGE = 56
_OPT_SIZE_OF_HEADERS = 60  # CheckSum follows
_OPT_CHECKSUM = 64
#: where the data directories start; NumberOfRvaAndSizes is the word before them
_OPT_DATA_DIRECTORIES = {_PE32_MAGIC: 96, _PE32_PLUS_MAGIC: 112}
_DATA_DIRECTORY_SIZE = 8  # VirtualAddress, Size
_DIR_SECURITY = 4  # the certificate table: a file offset, not an RVA
_DIR_DEBUG = 6

# section header
_SECTION_HEADER_SIZE = 40
_SECTION_NAME_SIZE = 8
_SECTION_FIELDS = "<IIIIIIHHI"  # VirtualSize, VirtualAddress, SizeOfRawData, PointerToRawData,
# PointerToRelocations, PointerToLinenumbers, NumberOfRelocations, NumberOfLinenumbers,
# Characteristics

# section characteristics that a pure debug-information section never has
_SCN_CODE = 0x00000020
_SCN_EXECUTE = 0x20000000
_SCN_WRITE = 0x80000000

# debug directory entry: SizeOfData, AddressOfRawData, PointerToRawData from +16
_DEBUG_ENTRY_SIZE = 28
_DEBUG_ENTRY_DATA = 16

# COFF symbol records (18 bytes; auxiliary records follow their symbol)
_SYM_SIZE = 18
_SYM_VALUE = 8  # Value, SectionNumber, Type, StorageClass, NumberOfAuxSymbols
_SYM_SECTION = 12
_SYM_STORAGE_CLASS = 16
_SYM_NUMBER_OF_AUX = 17
_AUX_TAG_INDEX = _SYM_SIZE  # first word of the first auxiliary record
_AUX_NEXT_FUNCTION = _SYM_SIZE + 12  # PointerToNextFunction of a function definition
_DTYPE_MASK = 0xF0
_DTYPE_FUNCTION = 0x20
#: the string table starts with its own size (4 bytes, counted)
_STRTAB_SIZE_FIELD = 4

# COFF symbol storage classes whose records hold symbol-table indices
_CLASS_EXTERNAL = 2
_CLASS_STATIC = 3
_CLASS_FUNCTION = 101
_CLASS_FILE = 103
_CLASS_WEAK_EXTERNAL = 105

#: zero bytes after the last section shorter than this (and than FileAlignment) are padding
_MAX_PADDING = 512
_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Section:
    index: int
    header: int  # file offset of the 40-byte header
    name: str | None  # None when a long name cannot be resolved
    long_name: bool
    vsize: int
    va: int
    raw_size: int
    raw_ptr: int
    nlines: int
    flags: int

    @property
    def vend(self) -> int:
        # a zero VirtualSize means "as large as the raw data" for old linkers
        return self.va + (self.vsize or self.raw_size)

    @property
    def label(self) -> str:
        return self.name or f"section {self.index}"


@dataclass(frozen=True)
class _Image:
    coff: int  # file offset of the COFF file header
    opt: int  # file offset of the optional header
    machine: int
    characteristics: int
    symptr: int
    nsyms: int
    table_end: int  # end of the section table
    section_align: int
    file_align: int
    size_of_headers: int
    entry: int
    checksum: int
    dirs: tuple[tuple[int, int], ...]
    sections: tuple[_Section, ...]
    strtab: tuple[int, int] | None  # (offset, size) of the COFF string table

    @property
    def signed(self) -> bool:
        return len(self.dirs) > _DIR_SECURITY and self.dirs[_DIR_SECURITY][1] != 0


@dataclass(frozen=True)
class _OptionalHeader:
    entry: int
    section_align: int
    file_align: int
    size_of_headers: int
    checksum: int
    dirs: tuple[tuple[int, int], ...]


def _unpack(fmt: str, data: Buffer, offset: int) -> tuple[int, ...]:
    if offset < 0 or offset + struct.calcsize(fmt) > len(data):
        raise BinaryError("truncated PE file")
    return struct.unpack_from(fmt, data, offset)


def _is_pe(data: Buffer) -> bool:
    """True if an NT header follows the MS-DOS header; a bare DOS program is not ours."""
    if len(data) < _DOS_HEADER_SIZE or bytes(data[:2]) != b"MZ":
        return False
    (lfanew,) = struct.unpack_from("<I", data, _E_LFANEW)
    signature = bytes(data[lfanew : lfanew + len(_PE_SIGNATURE)])
    return lfanew >= 4 and signature == _PE_SIGNATURE


def _parse(data: Buffer) -> _Image:
    (lfanew,) = _unpack("<I", data, _E_LFANEW)
    coff = lfanew + len(_PE_SIGNATURE)
    machine, nsections, _, symptr, nsyms, opt_size, characteristics = _unpack(_COFF_HEADER, data, coff)
    opt = coff + _COFF_HEADER_SIZE
    optional = _parse_optional_header(data, opt, opt_size)
    table = opt + opt_size
    table_end = table + _SECTION_HEADER_SIZE * nsections
    if table_end > len(data):
        raise BinaryError("truncated PE section table")
    strtab: tuple[int, int] | None = None
    if symptr:
        at = symptr + _SYM_SIZE * nsyms
        (strsize,) = _unpack("<I", data, at)
        # the size counts its own four bytes; 0 is written by some tools for "empty"
        strsize = max(strsize, _STRTAB_SIZE_FIELD)
        if at + strsize > len(data):
            raise BinaryError("truncated COFF string table")
        strtab = (at, strsize)
    sections = tuple(_parse_section(data, i, table + _SECTION_HEADER_SIZE * i, strtab) for i in range(nsections))
    return _Image(
        coff=coff,
        opt=opt,
        machine=machine,
        characteristics=characteristics,
        symptr=symptr,
        nsyms=nsyms,
        table_end=table_end,
        section_align=optional.section_align,
        file_align=optional.file_align,
        size_of_headers=optional.size_of_headers,
        entry=optional.entry,
        checksum=optional.checksum,
        dirs=optional.dirs,
        sections=sections,
        strtab=strtab,
    )


def _parse_optional_header(data: Buffer, opt: int, opt_size: int) -> _OptionalHeader:
    (magic,) = _unpack("<H", data, opt)
    dirs_at = _OPT_DATA_DIRECTORIES.get(magic)
    if dirs_at is None:
        raise BinaryError(f"unknown PE optional header magic 0x{magic:x}")
    if opt_size < dirs_at:
        raise BinaryError("PE optional header too small")
    (entry,) = _unpack("<I", data, opt + _OPT_ADDRESS_OF_ENTRY_POINT)
    section_align, file_align = _unpack("<II", data, opt + _OPT_SECTION_ALIGNMENT)
    size_of_headers, checksum = _unpack("<II", data, opt + _OPT_SIZE_OF_HEADERS)
    (ndirs,) = _unpack("<I", data, opt + dirs_at - 4)
    # NumberOfRvaAndSizes may claim more than the optional header holds: trust the header size
    ndirs = min(ndirs, (opt_size - dirs_at) // _DATA_DIRECTORY_SIZE)
    entries = (_unpack("<II", data, opt + dirs_at + _DATA_DIRECTORY_SIZE * i) for i in range(ndirs))
    dirs = tuple((rva, size) for rva, size in entries)
    return _OptionalHeader(entry, section_align, file_align, size_of_headers, checksum, dirs)


def _parse_section(data: Buffer, index: int, header: int, strtab: tuple[int, int] | None) -> _Section:
    raw_name = bytes(data[header : header + _SECTION_NAME_SIZE])
    vsize, va, raw_size, raw_ptr, _, _, _, nlines, flags = _unpack(_SECTION_FIELDS, data, header + _SECTION_NAME_SIZE)
    name, long_name = _section_name(data, raw_name, strtab)
    return _Section(index, header, name, long_name, vsize, va, raw_size, raw_ptr, nlines, flags)


def _section_name(data: Buffer, raw: bytes, strtab: tuple[int, int] | None) -> tuple[str | None, bool]:
    """Resolve a section name; GNU writes names longer than 8 bytes as ``/<offset>``."""
    short = raw.rstrip(b"\0")
    if not (short.startswith(b"/") and short[1:].isdigit()):
        return short.decode("latin-1"), False
    if strtab is None:
        return None, True
    offset = int(short[1:])
    at, size = strtab
    if not _STRTAB_SIZE_FIELD <= offset < size:
        return None, True
    end = bytes(data[at + offset : at + size]).find(b"\0")
    if end < 0:
        return None, True
    return bytes(data[at + offset : at + offset + end]).decode("latin-1"), True


def _is_debug(section: _Section) -> bool:
    if section.name is None or section.flags & (_SCN_CODE | _SCN_EXECUTE | _SCN_WRITE):
        return False
    name = section.name
    return name.startswith((".debug_", ".zdebug_")) or name in (".stab", ".stabstr")


def _rva_to_offset(img: _Image, rva: int) -> int | None:
    for s in img.sections:
        if s.raw_size and s.va <= rva < s.va + min(s.raw_size, s.vsize or s.raw_size):
            return s.raw_ptr + rva - s.va
    return rva if rva < img.size_of_headers else None


# --- what may be removed -----------------------------------------------------------------------


def _kept_sections(img: _Image, level: Level) -> int:
    """How many sections stay: all but the trailing debug ones."""
    if img.signed:
        raise Refused("Authenticode-signed (stripping would invalidate the signature)")
    sections = img.sections
    kept = len(sections)
    while kept and _is_debug(sections[kept - 1]):
        kept -= 1
    for s in sections[:kept]:
        if _is_debug(s):
            raise Refused(f"debug section {s.name} is followed by non-debug sections")
    if kept == len(sections) and not (level == "all" and img.nsyms > 0):
        raise Refused("nothing to strip", clean=True)
    if kept == 0:
        raise Refused("no loadable section would remain")
    return kept


def _cut(data: Buffer, img: _Image, kept: int) -> int:
    """Where the new file ends: after the last kept section's raw data, never inside the headers."""
    cut = max(img.table_end, img.size_of_headers)
    for s in img.sections[:kept]:
        if s.raw_size:
            if s.raw_ptr + s.raw_size > len(data):
                raise BinaryError(f"section {s.name or s.index} extends past the end of the file")
            cut = max(cut, s.raw_ptr + s.raw_size)
    if cut > len(data):
        raise BinaryError("PE headers extend past the end of the file")
    return cut


def _check_removed_data(data: Buffer, img: _Image, cut: int, kept: int) -> None:
    """Refuse unless everything after the cut is something known to be removable."""
    removed = img.sections[kept:]
    for s in removed:
        if s.raw_size and s.raw_ptr < cut:
            raise Refused(f"debug section {s.name} lies inside the image data")
        if s.raw_size and s.raw_ptr + s.raw_size > len(data):
            raise BinaryError(f"section {s.name or s.index} extends past the end of the file")
    if any(s.nlines for s in img.sections):
        raise Refused("COFF line numbers present")
    if img.strtab is not None and img.symptr < cut:
        raise Refused("COFF symbol table lies inside the image data")
    # Removed sections, the symbol table and short zero padding may follow the cut. Anything
    # else is an overlay (installer payloads, appended archives) that some program reads by
    # file offset.
    regions = sorted(
        [(s.raw_ptr, s.raw_ptr + s.raw_size) for s in removed if s.raw_size]
        + ([(img.symptr, img.strtab[0] + img.strtab[1])] if img.strtab else [])
    )
    pos = cut
    for start, end in [*regions, (len(data), len(data))]:
        if start > pos:
            gap = bytes(data[pos:start])
            if len(gap) >= max(img.file_align, _MAX_PADDING) or gap.count(0) != len(gap):
                raise Refused("unknown data after the last section (overlay)")
        pos = max(pos, end)


def _check_references(data: Buffer, img: _Image, cut: int, kept: int) -> None:
    """Refuse when a kept structure points into the removed sections: it would dangle."""
    removed = img.sections[kept:]

    def hits(rva: int, size: int) -> _Section | None:
        for s in removed:
            if rva < s.vend and s.va < rva + max(size, 1):
                return s
        return None

    if img.entry and (hit := hits(img.entry, 1)) is not None:
        raise Refused(f"entry point lies in removed section {hit.name}")
    for i, (rva, size) in enumerate(img.dirs):
        if i != _DIR_SECURITY and (rva or size) and (hit := hits(rva, size)) is not None:
            raise Refused(f"data directory {i} points into removed section {hit.name}")
    if len(img.dirs) <= _DIR_DEBUG or not img.dirs[_DIR_DEBUG][1]:
        return
    rva, size = img.dirs[_DIR_DEBUG]
    at = _rva_to_offset(img, rva)
    if at is None:
        return
    if at + size > len(data):
        raise BinaryError("debug directory extends past the end of the file")
    for e in range(size // _DEBUG_ENTRY_SIZE):
        dsize, drva, dptr = _unpack("<III", data, at + _DEBUG_ENTRY_SIZE * e + _DEBUG_ENTRY_DATA)
        if dsize and ((dptr and dptr + dsize > cut) or (drva and hits(drva, dsize))):
            raise Refused("debug directory entry points into removed data")


# --- the symbol table --------------------------------------------------------------------------


def _prune_symbols(data: Buffer, img: _Image, kept: int) -> bytes:
    """The COFF symbol table without what ``strip --strip-debug`` drops, indices renumbered.

    That is the symbols of removed sections and the ``.file`` records (source file names, only
    read by debuggers). Removed sections are the last ones, so kept sections keep their
    numbers; only symbol indices in auxiliary records (functions, weak externals) shift.
    """
    n, base = img.nsyms, img.symptr
    keep = _kept_records(data, img, kept)
    # new_index[j] = kept records before j: the new index of a kept record, and the index of
    # the next kept record for a removed one (where references to it now land)
    new_index = [0] * (n + 1)
    count = 0
    for j in range(n):
        new_index[j] = count
        count += keep[j]
    new_index[n] = count

    out = bytearray()
    i = 0
    while i < n:
        at = base + _SYM_SIZE * i
        naux = data[at + _SYM_NUMBER_OF_AUX]
        if keep[i]:
            rec = bytearray(data[at : at + _SYM_SIZE * (1 + naux)])
            for offset in _index_fields(rec, naux):
                (old,) = struct.unpack_from("<I", rec, offset)
                if 0 < old <= n:
                    struct.pack_into("<I", rec, offset, new_index[old])
            out += rec
        i += 1 + naux
    return bytes(out)


def _kept_records(data: Buffer, img: _Image, kept: int) -> bytearray:
    """1 for every record (primary and auxiliary) that stays, 0 for the others."""
    n, base, nsections = img.nsyms, img.symptr, len(img.sections)
    keep = bytearray(n)
    i = 0
    while i < n:
        (section,) = _unpack("<h", data, base + _SYM_SIZE * i + _SYM_SECTION)
        cls, naux = _unpack("<BB", data, base + _SYM_SIZE * i + _SYM_STORAGE_CLASS)
        if i + 1 + naux > n:
            raise BinaryError("malformed COFF symbol table")
        if not (kept < section <= nsections or cls == _CLASS_FILE):
            keep[i : i + 1 + naux] = b"\1" * (1 + naux)
        i += 1 + naux
    return keep


def _index_fields(rec: bytearray, naux: int) -> tuple[int, ...]:
    """Offsets, within a symbol and its first auxiliary record, of symbol-table indices."""
    if not naux:
        return ()
    value, section, typ, cls = struct.unpack_from("<IhHB", rec, _SYM_VALUE)
    if cls in (_CLASS_EXTERNAL, _CLASS_STATIC) and typ & _DTYPE_MASK == _DTYPE_FUNCTION and section > 0:
        return (_AUX_TAG_INDEX, _AUX_NEXT_FUNCTION)  # function definition
    if cls == _CLASS_FUNCTION and bytes(rec[:_SECTION_NAME_SIZE]).rstrip(b"\0") == b".bf":
        return (_AUX_NEXT_FUNCTION,)
    if cls == _CLASS_WEAK_EXTERNAL or (cls == _CLASS_EXTERNAL and section == 0 and value == 0):
        return (_AUX_TAG_INDEX,)  # weak external
    return ()


@dataclass
class _SymbolTail:
    """What follows the kept sections: the symbol and string tables, or a string table only."""

    pieces: list[Piece]
    symptr: int = 0
    nsyms: int = 0


def _symbol_tail(data: Buffer, img: _Image, level: Level, kept: int, cut: int, header: bytearray) -> _SymbolTail:
    if img.strtab is None:
        return _SymbolTail([])
    if level == "all":
        return _long_names_only(img, kept, cut, header)
    tail = _SymbolTail([], symptr=cut, nsyms=img.nsyms)
    if kept < len(img.sections) and img.nsyms:
        symbols = _prune_symbols(data, img, kept)
        tail.nsyms = len(symbols) // _SYM_SIZE
        tail.pieces.append(symbols)
    elif img.nsyms:
        tail.pieces.append(Copy(img.symptr, _SYM_SIZE * img.nsyms))
    tail.pieces.append(Copy(*img.strtab))
    return tail


def _long_names_only(img: _Image, kept: int, cut: int, header: bytearray) -> _SymbolTail:
    """Without symbols the string table only serves long names of kept sections (e.g.
    ".eh_frame" on i386): a fresh one holding just those, the section headers pointing into it."""
    names = bytearray()
    for s in img.sections[:kept]:
        if s.long_name:
            if s.name is None:
                raise Refused(f"section {s.index} has an unresolvable long name")
            ref = f"/{_STRTAB_SIZE_FIELD + len(names)}".encode()
            if len(ref) > _SECTION_NAME_SIZE:
                raise Refused("long section names too far into the string table")
            header[s.header : s.header + _SECTION_NAME_SIZE] = ref.ljust(_SECTION_NAME_SIZE, b"\0")
            names += s.name.encode("latin-1") + b"\0"
    if not names:
        return _SymbolTail([])
    return _SymbolTail([struct.pack("<I", _STRTAB_SIZE_FIELD + len(names)) + bytes(names)], symptr=cut)


# --- the rewrite ------------------------------------------------------------------------------


def _checksum(pieces: tuple[Piece, ...], data: Buffer, size: int) -> int:
    """The PE image checksum: 16-bit one's-complement style sum of the file, plus its size.

    Folding 16-bit words with end-around carry is summing modulo 0xFFFF (2**16 == 1 mod
    0xFFFF), so large chunks can be summed as one little-endian integer instead of word by
    word; a chunk starting at an odd offset has its bytes in the high halves of words.
    """
    total = 0
    nonzero = False
    pos = 0

    def add(chunk: bytes) -> None:
        nonlocal total, nonzero, pos
        value = int.from_bytes(chunk, "little")
        nonzero = nonzero or value != 0
        total += (value << 8 if pos & 1 else value) % 0xFFFF
        pos += len(chunk)

    for piece in pieces:
        if isinstance(piece, Copy):
            for start in range(piece.offset, piece.offset + piece.length, _CHUNK):
                add(bytes(data[start : min(start + _CHUNK, piece.offset + piece.length)]))
        else:
            add(piece)
    folded = total % 0xFFFF
    if folded == 0 and nonzero:
        folded = 0xFFFF  # end-around carry never yields 0 once something non-zero was added
    return (folded + size) & 0xFFFFFFFF


def _patch_headers(header: bytearray, img: _Image, level: Level, kept: int, tail: _SymbolTail) -> None:
    """Section count, symbol table, stripped flags, SizeOfImage; CheckSum zeroed until known."""
    sections = img.sections
    characteristics = img.characteristics
    if kept < len(sections):
        characteristics |= _DEBUG_STRIPPED
    if level == "all":
        characteristics |= _LOCAL_SYMS_STRIPPED | _LINE_NUMS_STRIPPED
    size_of_image = max(align_up(s.vend, img.section_align) for s in sections[:kept])
    size_of_image = max(size_of_image, align_up(img.size_of_headers, img.section_align))
    if size_of_image > 0xFFFFFFFF:
        raise BinaryError("section addresses beyond 4 GiB")
    struct.pack_into("<II", header, img.coff + _COFF_POINTER_TO_SYMBOL_TABLE, tail.symptr, tail.nsyms)
    struct.pack_into("<H", header, img.coff + _COFF_NUMBER_OF_SECTIONS, kept)
    struct.pack_into("<H", header, img.coff + _COFF_CHARACTERISTICS, characteristics)
    struct.pack_into("<I", header, img.opt + _OPT_SIZE_OF_IMAGE, size_of_image)
    struct.pack_into("<I", header, img.opt + _OPT_CHECKSUM, 0)


def _rewrite(data: Buffer, img: _Image, level: Level, final: bool) -> Stripped:
    """The rewrite; without ``final`` the CheckSum is left for what it is (sizes only)."""
    kept = _kept_sections(img, level)
    cut = _cut(data, img, kept)
    _check_removed_data(data, img, cut, kept)
    _check_references(data, img, cut, kept)

    header = bytearray(data[: img.table_end])
    # drop the removed section headers; SizeOfHeaders and the first section do not move
    first_removed = img.sections[kept].header if kept < len(img.sections) else img.table_end
    header[first_removed:] = bytes(img.table_end - first_removed)
    tail = _symbol_tail(data, img, level, kept, cut, header)
    _patch_headers(header, img, level, kept, tail)

    body: list[Piece] = [Copy(img.table_end, cut - img.table_end)] if cut > img.table_end else []
    size = len(header) + sum(piece_length(p) for p in body + tail.pieces)
    if size >= len(data):
        raise Refused("stripping would not make the file smaller")
    if img.checksum and final:
        checksum = _checksum((bytes(header), *body, *tail.pieces), data, size)
        struct.pack_into("<I", header, img.opt + _OPT_CHECKSUM, checksum)
    removed = tuple(s.label for s in img.sections[kept:])
    if level == "all" and img.nsyms > 0:
        removed += ("COFF symbol table",)
    return Stripped(pieces=(bytes(header), *body, *tail.pieces), size=size, removed=removed)


def _plan(data: Buffer, img: _Image, level: Level, final: bool) -> Result:
    try:
        return _rewrite(data, img, level, final)
    except Refused as refused:
        return Unchanged.of(refused)


_NOT_PE = Unchanged("not a PE image (MS-DOS program)", clean=True)


@guarded("PE")
def strip(data: Buffer, level: Level) -> Result:
    """Strip the trailing debug sections (and at level ``all`` the COFF symbol table)."""
    if not _is_pe(data):
        return _NOT_PE
    return _plan(data, _parse(data), level, final=True)


@guarded("PE")
def arch(data: Buffer) -> str:
    """The architecture ``inspect`` reports, from the headers alone ("" for MS-DOS programs)."""
    if not _is_pe(data):
        return ""
    machine = _parse(data).machine
    return _MACHINES.get(machine, f"0x{machine:04x}")


@guarded("PE")
def inspect(data: Buffer) -> BinaryInfo:
    """Architecture, kind, signature and what each level would remove."""
    if not _is_pe(data):
        return BinaryInfo(
            format=FORMAT,
            arch="",
            size=len(data),
            strippable={"all": 0, "debug": 0},
            note=_NOT_PE.reason,
            kind="dos",
        )
    img = _parse(data)
    # summing the whole output for the CheckSum is the only costly step: skip it
    strippable, note = strippable_by_level(lambda level: _plan(data, img, level, final=False), len(data))
    return BinaryInfo(
        format=FORMAT,
        arch=_MACHINES.get(img.machine, f"0x{img.machine:04x}"),
        size=len(data),
        strippable=strippable,
        signature="authenticode" if img.signed else "none",
        note=note,
        kind="dll" if img.characteristics & _FILE_DLL else "executable",
    )
