"""PE/COFF images (Windows DLLs and executables): drop trailing DWARF sections and COFF symbols.

MSVC keeps debug information in separate PDB files, so an MSVC image has nothing to strip.
MinGW/GCC images carry DWARF in ``.debug_*`` sections placed after every loadable section, and a
COFF symbol table plus its string table at the very end of the file. Because those sections come
last in both the section table and the file, stripping is a truncation plus a header patch: no
loadable byte moves, so no RVA or file offset inside the image changes.

Level ``all`` removes the debug sections and the COFF symbol table; level ``debug`` removes the
debug sections only and moves the (pruned) symbol table down to the new end of the file.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._core import BinaryError, BinaryInfo, Buffer, Copy, Format, Level, Piece, Stripped, Unchanged

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

# COFF file header characteristics
_LINE_NUMS_STRIPPED = 0x0004
_LOCAL_SYMS_STRIPPED = 0x0008
_DEBUG_STRIPPED = 0x0200
_FILE_DLL = 0x2000

# section characteristics that a pure debug-information section never has
_SCN_CODE = 0x00000020
_SCN_EXECUTE = 0x20000000
_SCN_WRITE = 0x80000000

_SYM_SIZE = 18
_SECTION_HEADER_SIZE = 40
_DIR_SECURITY = 4
_DIR_DEBUG = 6
_DEBUG_ENTRY_SIZE = 28

# COFF symbol storage classes whose records hold symbol-table indices
_CLASS_EXTERNAL = 2
_CLASS_STATIC = 3
_CLASS_FUNCTION = 101
_CLASS_FILE = 103
_CLASS_WEAK_EXTERNAL = 105

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


@dataclass(frozen=True)
class _Image:
    coff: int  # file offset of the COFF file header
    opt: int  # file offset of the optional header
    pe32plus: bool
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


def _unpack(fmt: str, data: Buffer, offset: int) -> tuple[int, ...]:
    if offset < 0 or offset + struct.calcsize(fmt) > len(data):
        raise BinaryError("truncated PE file")
    return struct.unpack_from(fmt, data, offset)


def _is_pe(data: Buffer) -> bool:
    """True if an NT header follows the MS-DOS header; a bare DOS program is not ours."""
    if len(data) < 0x40 or bytes(data[:2]) != b"MZ":
        return False
    (lfanew,) = struct.unpack_from("<I", data, 0x3C)
    return lfanew >= 4 and lfanew + 4 <= len(data) and bytes(data[lfanew : lfanew + 4]) == b"PE\0\0"


def _parse(data: Buffer) -> _Image:
    (lfanew,) = _unpack("<I", data, 0x3C)
    coff = lfanew + 4
    machine, nsections, _, symptr, nsyms, opt_size, characteristics = _unpack("<HHIIIHH", data, coff)
    opt = coff + 20
    (magic,) = _unpack("<H", data, opt)
    if magic == 0x10B:
        pe32plus, dirs_at = False, 96
    elif magic == 0x20B:
        pe32plus, dirs_at = True, 112
    else:
        raise BinaryError(f"unknown PE optional header magic 0x{magic:x}")
    if opt_size < dirs_at:
        raise BinaryError("PE optional header too small")
    (entry,) = _unpack("<I", data, opt + 16)
    section_align, file_align = _unpack("<II", data, opt + 32)
    size_of_headers, checksum = _unpack("<II", data, opt + 60)
    (ndirs,) = _unpack("<I", data, opt + dirs_at - 4)
    # NumberOfRvaAndSizes may claim more than the optional header holds: trust the header size
    ndirs = min(ndirs, (opt_size - dirs_at) // 8)
    dirs = tuple((rva, size) for rva, size in (_unpack("<II", data, opt + dirs_at + 8 * i) for i in range(ndirs)))

    table = opt + opt_size
    table_end = table + _SECTION_HEADER_SIZE * nsections
    if table_end > len(data):
        raise BinaryError("truncated PE section table")

    strtab: tuple[int, int] | None = None
    if symptr:
        at = symptr + _SYM_SIZE * nsyms
        (strsize,) = _unpack("<I", data, at)
        # the size counts its own four bytes; 0 is written by some tools for "empty"
        strsize = max(strsize, 4)
        if at + strsize > len(data):
            raise BinaryError("truncated COFF string table")
        strtab = (at, strsize)

    sections = []
    for i in range(nsections):
        hdr = table + _SECTION_HEADER_SIZE * i
        raw_name = bytes(data[hdr : hdr + 8])
        vsize, va, raw_size, raw_ptr, _, _, _, nlines, flags = _unpack("<IIIIIIHHI", data, hdr + 8)
        name, long_name = _section_name(data, raw_name, strtab)
        sections.append(_Section(i, hdr, name, long_name, vsize, va, raw_size, raw_ptr, nlines, flags))
    return _Image(
        coff=coff,
        opt=opt,
        pe32plus=pe32plus,
        machine=machine,
        characteristics=characteristics,
        symptr=symptr,
        nsyms=nsyms,
        table_end=table_end,
        section_align=section_align,
        file_align=file_align,
        size_of_headers=size_of_headers,
        entry=entry,
        checksum=checksum,
        dirs=dirs,
        sections=tuple(sections),
        strtab=strtab,
    )


def _section_name(data: Buffer, raw: bytes, strtab: tuple[int, int] | None) -> tuple[str | None, bool]:
    """Resolve a section name; GNU writes names longer than 8 bytes as ``/<offset>``."""
    short = raw.rstrip(b"\0")
    if not (short.startswith(b"/") and short[1:].isdigit()):
        return short.decode("latin-1"), False
    if strtab is None:
        return None, True
    offset = int(short[1:])
    at, size = strtab
    if not 4 <= offset < size:
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


def _align(value: int, alignment: int) -> int:
    if alignment <= 1:
        return value
    return -(-value // alignment) * alignment


def _refusal(data: Buffer, img: _Image, cut: int, kept: int) -> str | None:
    """Why the layout cannot be stripped safely, or None."""
    removed = img.sections[kept:]
    for s in removed:
        if s.raw_size and s.raw_ptr < cut:
            return f"debug section {s.name} lies inside the image data"
        if s.raw_size and s.raw_ptr + s.raw_size > len(data):
            raise BinaryError(f"section {s.name} extends past the end of the file")
    if any(s.nlines for s in img.sections):
        return "COFF line numbers present"
    if img.strtab is not None and img.symptr < cut:
        return "COFF symbol table lies inside the image data"

    # Everything after the cut must be something we know: removed sections, the symbol table
    # and short zero padding. Anything else is an overlay (installer payloads, appended
    # archives) that some program reads by file offset.
    regions = sorted(
        [(s.raw_ptr, s.raw_ptr + s.raw_size) for s in removed if s.raw_size]
        + ([(img.symptr, img.strtab[0] + img.strtab[1])] if img.strtab else [])
    )
    pos = cut
    for start, end in [*regions, (len(data), len(data))]:
        if start > pos:
            gap = bytes(data[pos:start])
            if len(gap) >= max(img.file_align, 512) or gap.count(0) != len(gap):
                return "unknown data after the last section (overlay)"
        pos = max(pos, end)

    # A kept structure that points into the removed sections would dangle.
    def hits(rva: int, size: int) -> _Section | None:
        for s in removed:
            if rva < s.vend and s.va < rva + max(size, 1):
                return s
        return None

    if img.entry and (hit := hits(img.entry, 1)) is not None:
        return f"entry point lies in removed section {hit.name}"
    for i, (rva, size) in enumerate(img.dirs):
        if i == _DIR_SECURITY or not (rva or size):
            continue
        if (hit := hits(rva, size)) is not None:
            return f"data directory {i} points into removed section {hit.name}"
    if len(img.dirs) > _DIR_DEBUG and img.dirs[_DIR_DEBUG][1]:
        rva, size = img.dirs[_DIR_DEBUG]
        at = _rva_to_offset(img, rva)
        if at is not None:
            if at + size > len(data):
                raise BinaryError("debug directory extends past the end of the file")
            for e in range(size // _DEBUG_ENTRY_SIZE):
                dsize, drva, dptr = _unpack("<III", data, at + _DEBUG_ENTRY_SIZE * e + 16)
                if dsize and ((dptr and dptr + dsize > cut) or (drva and hits(drva, dsize))):
                    return "debug directory entry points into removed data"
    return None


def _prune_symbols(data: Buffer, img: _Image, kept: int) -> bytes:
    """The COFF symbol table without what ``strip --strip-debug`` drops, indices renumbered.

    That is the symbols of removed sections and the ``.file`` records (source file names, only
    read by debuggers). Removed sections are the last ones, so kept sections keep their
    numbers; only symbol indices in auxiliary records (functions, weak externals) shift.
    """
    n, base = img.nsyms, img.symptr
    nsections = len(img.sections)
    keep = bytearray(n)  # per record, primary and auxiliary
    i = 0
    while i < n:
        (section,) = _unpack("<h", data, base + _SYM_SIZE * i + 12)
        cls, naux = _unpack("<BB", data, base + _SYM_SIZE * i + 16)
        if i + 1 + naux > n:
            raise BinaryError("malformed COFF symbol table")
        if not (kept < section <= nsections or cls == _CLASS_FILE):
            keep[i : i + 1 + naux] = b"\1" * (1 + naux)
        i += 1 + naux
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
        naux = data[at + 17]
        if keep[i]:
            rec = bytearray(data[at : at + _SYM_SIZE * (1 + naux)])
            for offset in _index_fields(rec, naux):
                (old,) = struct.unpack_from("<I", rec, offset)
                if 0 < old <= n:
                    struct.pack_into("<I", rec, offset, new_index[old])
            out += rec
        i += 1 + naux
    return bytes(out)


def _index_fields(rec: bytearray, naux: int) -> tuple[int, ...]:
    """Offsets, within a symbol and its first auxiliary record, of symbol-table indices."""
    if not naux:
        return ()
    value, section, typ, cls = struct.unpack_from("<IhHB", rec, 8)
    if cls in (_CLASS_EXTERNAL, _CLASS_STATIC) and typ & 0xF0 == 0x20 and section > 0:
        return (_SYM_SIZE, _SYM_SIZE + 12)  # function definition: TagIndex, next function
    if cls == _CLASS_FUNCTION and bytes(rec[:8]).rstrip(b"\0") == b".bf":
        return (_SYM_SIZE + 12,)  # next function
    if cls == _CLASS_WEAK_EXTERNAL or (cls == _CLASS_EXTERNAL and section == 0 and value == 0):
        return (_SYM_SIZE,)  # weak external: TagIndex
    return ()


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


def strip(data: Buffer, level: Level) -> Stripped | Unchanged:
    """Strip the trailing debug sections (and at level ``all`` the COFF symbol table)."""
    if not _is_pe(data):
        return Unchanged("not a PE image (MS-DOS program)", clean=True)
    try:
        return _strip(data, _parse(data), level, final=True)
    except (struct.error, IndexError, ValueError) as exc:  # belt and braces: never leak these
        raise BinaryError(f"malformed PE file ({exc})") from exc


def _strip(data: Buffer, img: _Image, level: Level, final: bool) -> Stripped | Unchanged:
    """The rewrite; without ``final`` the CheckSum is left for what it is (sizes only)."""
    if len(img.dirs) > _DIR_SECURITY and img.dirs[_DIR_SECURITY][1]:
        return Unchanged("Authenticode-signed (stripping would invalidate the signature)")

    sections = img.sections
    kept = len(sections)
    while kept and _is_debug(sections[kept - 1]):
        kept -= 1
    for s in sections[:kept]:
        if _is_debug(s):
            return Unchanged(f"debug section {s.name} is followed by non-debug sections")
    drop_symbols = level == "all" and img.nsyms > 0
    if kept == len(sections) and not drop_symbols:
        return Unchanged("nothing to strip", clean=True)
    if kept == 0:
        return Unchanged("no loadable section would remain")

    # The new file ends with the last kept section's raw data (never inside the headers).
    cut = max(img.table_end, img.size_of_headers)
    for s in sections[:kept]:
        if s.raw_size:
            if s.raw_ptr + s.raw_size > len(data):
                raise BinaryError(f"section {s.name} extends past the end of the file")
            cut = max(cut, s.raw_ptr + s.raw_size)
    if cut > len(data):
        raise BinaryError("PE headers extend past the end of the file")
    reason = _refusal(data, img, cut, kept)
    if reason is not None:
        return Unchanged(reason)

    header = bytearray(data[: img.table_end])
    # drop the removed section headers; SizeOfHeaders and the first section do not move
    first_removed = sections[kept].header if kept < len(sections) else img.table_end
    header[first_removed:] = bytes(img.table_end - first_removed)
    tail: list[Piece] = []
    symptr = nsyms = 0
    if img.strtab is not None:
        strat, strsize = img.strtab
        if level == "debug":
            symptr, nsyms = cut, img.nsyms
            if kept < len(sections) and img.nsyms:
                symbols = _prune_symbols(data, img, kept)
                nsyms = len(symbols) // _SYM_SIZE
                tail.append(symbols)
            elif img.nsyms:
                tail.append(Copy(img.symptr, _SYM_SIZE * img.nsyms))
            tail.append(Copy(strat, strsize))
        else:
            # Without symbols the string table only serves long names of kept sections
            # (e.g. ".eh_frame" on i386): write a fresh one holding just those.
            names = bytearray()
            for s in sections[:kept]:
                if s.long_name:
                    if s.name is None:
                        return Unchanged(f"section {s.index} has an unresolvable long name")
                    ref = f"/{4 + len(names)}".encode()
                    if len(ref) > 8:
                        return Unchanged("long section names too far into the string table")
                    header[s.header : s.header + 8] = ref.ljust(8, b"\0")
                    names += s.name.encode("latin-1") + b"\0"
            if names:
                symptr = cut
                tail.append(struct.pack("<I", 4 + len(names)) + bytes(names))

    characteristics = img.characteristics
    if kept < len(sections):
        characteristics |= _DEBUG_STRIPPED
    if level == "all":
        characteristics |= _LOCAL_SYMS_STRIPPED | _LINE_NUMS_STRIPPED
    size_of_image = max(_align(s.vend, img.section_align) for s in sections[:kept])
    size_of_image = max(size_of_image, _align(img.size_of_headers, img.section_align))
    if size_of_image > 0xFFFFFFFF:
        raise BinaryError("section addresses beyond 4 GiB")
    struct.pack_into("<II", header, img.coff + 8, symptr, nsyms)
    struct.pack_into("<H", header, img.coff + 2, kept)
    struct.pack_into("<H", header, img.coff + 18, characteristics)
    struct.pack_into("<I", header, img.opt + 56, size_of_image)
    struct.pack_into("<I", header, img.opt + 64, 0)

    body: list[Piece] = []
    if cut > img.table_end:
        body.append(Copy(img.table_end, cut - img.table_end))
    size = len(header) + sum(p.length if isinstance(p, Copy) else len(p) for p in body + tail)
    if size >= len(data):
        return Unchanged("stripping would not make the file smaller")
    if img.checksum and final:
        struct.pack_into("<I", header, img.opt + 64, _checksum((bytes(header), *body, *tail), data, size))
    removed = tuple(s.name or f"section {s.index}" for s in sections[kept:])
    if drop_symbols:
        removed += ("COFF symbol table",)
    return Stripped(pieces=(bytes(header), *body, *tail), size=size, removed=removed)


def arch(data: Buffer) -> str:
    """The architecture ``inspect`` reports, from the headers alone ("" for MS-DOS programs)."""
    if not _is_pe(data):
        return ""
    try:
        machine = _parse(data).machine
    except (struct.error, IndexError, ValueError) as exc:
        raise BinaryError(f"malformed PE file ({exc})") from exc
    return _MACHINES.get(machine, f"0x{machine:04x}")


def inspect(data: Buffer) -> BinaryInfo:
    """Architecture, kind, signature and what each level would remove."""
    if not _is_pe(data):
        return BinaryInfo(
            format="PE",
            arch="",
            size=len(data),
            strippable={"all": 0, "debug": 0},
            note="not a PE image (MS-DOS program)",
            kind="dos",
        )
    strippable: dict[str, int] = {}
    note: str | None = None
    levels: tuple[Level, ...] = ("all", "debug")
    try:
        img = _parse(data)
        # summing the whole output for the CheckSum is the only costly step: skip it
        results = [_strip(data, img, level, final=False) for level in levels]
    except (struct.error, IndexError, ValueError) as exc:
        raise BinaryError(f"malformed PE file ({exc})") from exc
    for level, result in zip(levels, results):
        if isinstance(result, Stripped):
            strippable[level] = len(data) - result.size
        else:
            strippable[level] = 0
            if not result.clean and note is None:
                note = result.reason
    signed = len(img.dirs) > _DIR_SECURITY and img.dirs[_DIR_SECURITY][1] != 0
    return BinaryInfo(
        format="PE",
        arch=_MACHINES.get(img.machine, f"0x{img.machine:04x}"),
        size=len(data),
        strippable=strippable,
        signature="authenticode" if signed else "none",
        note=note,
        kind="dll" if img.characteristics & _FILE_DLL else "executable",
    )
