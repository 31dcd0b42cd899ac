"""ELF debug information kept out of the stripped file: the ``objcopy --only-keep-debug`` form
of a binary's debug file, its build-id, the ``.gnu_debuglink`` that names it, and the
MiniDebugInfo (``.gnu_debugdata``) that keeps function names for backtraces."""

from __future__ import annotations

import lzma
import struct
from dataclasses import dataclass
from typing import Optional

from ._core import Buffer, Copy, Level, Piece, Refused, align_up, guarded, piece_length, suffix_shared_table
from .elf import (
    SHN_LORESERVE,
    SHT_DYNSYM,
    SHT_NOBITS,
    SHT_SYMTAB,
    _choose_removed,
    _Elf,
    _read_symbols,
    _Section,
    _Segment,
    _strippable_elf,
)

SHT_NOTE = 7
PT_LOAD = 1
PT_NOTE = 4
NT_GNU_BUILD_ID = 3
STT_FUNC = 2
STT_GNU_IFUNC = 10
STB_LOCAL = 0
#: DWARF 5 unit type of a skeleton unit, whose body lives in a ``.dwo`` file.
DW_UT_SKELETON = 4


@dataclass(frozen=True)
class DebugParts:
    """A binary's debug file, as pieces of the binary (see :class:`~._core.Stripped`)."""

    pieces: tuple[Piece, ...]
    size: int
    #: the GNU build-id in hex, or None when the binary has none
    build_id: Optional[str]
    #: the binary uses split DWARF: its skeleton units name ``.dwo`` files not in here
    split_dwarf: bool


@guarded("ELF")
def debug_file(data: Buffer, level: Level) -> Optional[DebugParts]:
    """What stripping at ``level`` removes, as a debug file in ``--only-keep-debug`` form: the
    same ELF header and section table, allocated sections as ``SHT_NOBITS`` but notes (so the
    build-id is there), the removed sections' bytes, program headers with no file bytes but
    the notes'. None when the level would remove nothing."""
    try:
        elf = _strippable_elf(data)
    except Refused:
        return None
    removed = _choose_removed(elf, level)
    if not removed:
        return None
    # The static symbol table goes along at either level, as with objcopy: at level debug the
    # binary keeps a pruned copy, and eu-unstrip matches the two.
    symbols = {s.num for s in elf.sections if s.type == SHT_SYMTAB} | {
        s.link for s in elf.sections if s.type == SHT_SYMTAB and 0 < s.link < len(elf.sections)
    }
    keep = removed | symbols | {elf.real_shstrndx}
    pieces, size = _keep_debug_layout(elf, keep, {})
    return DebugParts(tuple(pieces), size, build_id(elf), _split_dwarf(elf))


def build_id(elf: _Elf) -> Optional[str]:
    """The GNU build-id note's descriptor in hex, or None."""
    for sec in elf.sections:
        if sec.type != SHT_NOTE or not sec.file_size:
            continue
        notes = elf.read(sec)
        pos = 0
        while pos + 12 <= len(notes):
            namesz, descsz, kind = struct.unpack_from(elf.e + "3I", notes, pos)
            name_at = pos + 12
            desc_at = name_at + align_up(namesz, 4)
            if kind == NT_GNU_BUILD_ID and notes[name_at : name_at + namesz] == b"GNU\0" and descsz:
                return notes[desc_at : desc_at + descsz].hex()
            pos = desc_at + align_up(descsz, 4)
    return None


def debuglink(elf_data: Buffer, name: str, crc: int) -> bytes:
    """``.gnu_debuglink`` contents: the debug file's name, NUL, padding to 4, its CRC-32 in
    the binary's byte order."""
    order = "<" if elf_data[5] == 1 else ">"
    raw = name.encode() + b"\0"
    return raw + bytes(align_up(len(raw), 4) - len(raw)) + struct.pack(order + "I", crc)


@guarded("ELF")
def mini_debuginfo(data: Buffer) -> Optional[bytes]:
    """The xz-compressed ELF holding the function symbols ``.symtab`` has and ``.dynsym``
    lacks (the MiniDebugInfo convention read by gdb, elfutils and systemd-coredump), or None
    when there are none."""
    try:
        elf = _strippable_elf(data)
    except Refused:
        return None
    symtab = next((s for s in elf.sections if s.type == SHT_SYMTAB and s.file_size), None)
    if symtab is None or not 0 < symtab.link < len(elf.sections):
        return None
    strtab = elf.sections[symtab.link]
    exported = _dynamic_names(elf)
    strings = elf.read(strtab)
    chosen: list[tuple[bytes, bytes, bool]] = []  # (name, the entry, local)
    raw = elf.read(symtab)
    for i, (name_off, info, shndx) in enumerate(_read_symbols(elf, symtab)):
        if info & 0xF not in (STT_FUNC, STT_GNU_IFUNC) or not 0 < shndx < SHN_LORESERVE:
            continue
        name = _string(strings, name_off)
        if name and name not in exported:
            chosen.append((name, raw[i * elf.sym_size : (i + 1) * elf.sym_size], info >> 4 == STB_LOCAL))
    if not chosen:
        return None
    chosen.sort(key=lambda c: not c[2])  # locals first, as sh_info requires
    names, where = suffix_shared_table(name for name, _, _ in chosen)
    table = bytearray(elf.sym_size)  # the null symbol
    for name, entry, _local in chosen:
        table += struct.pack(elf.e + "I", where[name]) + entry[4:]  # st_name opens every entry
    locals_end = 1 + sum(local for _, _, local in chosen)
    replace = {symtab.num: (bytes(table), locals_end), strtab.num: (names, None)}
    pieces, _size = _keep_debug_layout(elf, {elf.real_shstrndx}, replace)
    image = b"".join(bytes(elf.data[p.offset : p.offset + p.length]) if isinstance(p, Copy) else p for p in pieces)
    return lzma.compress(image, format=lzma.FORMAT_XZ)


def _dynamic_names(elf: _Elf) -> set[bytes]:
    names: set[bytes] = set()
    for sec in elf.sections:
        if sec.type == SHT_DYNSYM and sec.file_size and 0 < sec.link < len(elf.sections):
            strings = elf.read(elf.sections[sec.link])
            names.update(_string(strings, n) for n, _info, shndx in _read_symbols(elf, sec) if shndx)
    return names


def _string(table: bytes, offset: int) -> bytes:
    end = table.find(b"\0", offset)
    return table[offset : end if end >= 0 else len(table)]


#: The start of the file (headers and the notes right after them) is kept in place, as objcopy
#: does, when it is no longer than this; notes further in are moved instead.
PREFIX_LIMIT = 64 << 10


def _keep_debug_layout(
    elf: _Elf, keep: set[int], replace: dict[int, tuple[bytes, Optional[int]]]
) -> tuple[list[Piece], int]:
    """The file with the same ELF header and section table, where only notes, the sections
    ``keep`` (their input bytes) and ``replace`` (new bytes, and a new ``sh_info`` or None)
    hold contents; every other section becomes ``SHT_NOBITS``.

    Like ``objcopy --only-keep-debug``, the headers and the notes that follow them stay where
    they were, so ``PT_PHDR``, the first ``PT_LOAD`` and ``PT_NOTE`` still describe real bytes;
    a note beyond that is appended and its ``PT_NOTE`` follows it.
    """
    prefix = _kept_prefix(elf)
    placed: dict[int, int] = {}  # section -> output offset
    out: list[tuple[int, Piece]] = []
    cursor = prefix
    for sec in elf.sections[1:]:
        piece: Piece
        if sec.num in replace:
            piece = replace[sec.num][0]
        elif (sec.num in keep or sec.type == SHT_NOTE) and sec.file_size:
            if sec.type == SHT_NOTE and sec.offset + sec.size <= prefix:
                placed[sec.num] = sec.offset
                continue
            piece = Copy(sec.offset, sec.size)
        else:
            continue
        cursor = align_up(cursor, sec.addralign)
        placed[sec.num] = cursor
        out.append((cursor, piece))
        cursor += piece_length(piece)
    shoff = align_up(cursor, elf.word)
    headers = b"".join(_debug_section_header(elf, sec, placed, replace, cursor) for sec in elf.sections)
    program = b"".join(_debug_segment(elf, seg, prefix, placed) for seg in elf.segments)
    header = struct.pack(elf.ehdr_fmt, *elf.header._replace(shoff=shoff))
    pieces: list[Piece] = [header]
    position = len(header)
    for offset, piece in sorted([(elf.phoff, program), *_prefix_gaps(elf, prefix), *out], key=lambda t: t[0]):
        if offset > position:
            pieces.append(bytes(offset - position))
        pieces.append(piece)
        position = offset + piece_length(piece)
    pieces.append(bytes(shoff - position) + headers)
    return pieces, shoff + len(headers)


def _kept_prefix(elf: _Elf) -> int:
    """How much of the file's start stays in place: the headers, and the notes that the first
    ``PT_LOAD`` maps right after them."""
    end = max(elf.ehdr_size, elf.phoff + elf.real_phnum * elf.phdr_size)
    first = next((seg for seg in elf.segments if seg.type == PT_LOAD and seg.offset == 0), None)
    if first is None:
        return end
    for sec in sorted(elf.sections, key=lambda s: s.offset):
        if sec.type == SHT_NOTE and sec.file_size and sec.offset + sec.size <= min(first.filesz, PREFIX_LIMIT):
            end = max(end, sec.offset + sec.size)
    return end


def _prefix_gaps(elf: _Elf, prefix: int) -> list[tuple[int, Piece]]:
    """The input bytes of the kept prefix around the ELF header and the program headers."""
    table_end = elf.phoff + elf.real_phnum * elf.phdr_size
    gaps: list[tuple[int, Piece]] = []
    if elf.real_phnum and elf.phoff > elf.ehdr_size:
        gaps.append((elf.ehdr_size, Copy(elf.ehdr_size, min(elf.phoff, prefix) - elf.ehdr_size)))
    start = table_end if elf.real_phnum else elf.ehdr_size
    if prefix > start:
        gaps.append((start, Copy(start, prefix - start)))
    return gaps


def _debug_section_header(
    elf: _Elf, sec: _Section, placed: dict[int, int], replace: dict[int, tuple[bytes, Optional[int]]], end: int
) -> bytes:
    kind, offset, size, info = sec.type, placed.get(sec.num, 0), sec.size, sec.info
    if sec.num in replace:
        contents, new_info = replace[sec.num]
        size, info = len(contents), info if new_info is None else new_info
    elif sec.num and sec.num not in placed:
        kind, offset = SHT_NOBITS, min(sec.offset, end)
    fields = (sec.name_off, kind, sec.flags, sec.addr, offset, size, sec.link, info, sec.addralign, sec.entsize)
    return struct.pack(elf.shdr_fmt, *fields)


def _debug_segment(elf: _Elf, seg: _Segment, prefix: int, placed: dict[int, int]) -> bytes:
    """A program header of the debug file: file bytes only where the kept prefix or a moved
    note holds them."""
    if seg.type == PT_NOTE:
        notes = [s for s in elf.sections if s.type == SHT_NOTE and s.offset == seg.offset and s.num in placed]
        if notes:
            return elf.pack_segment(seg, placed[notes[0].num])
    if seg.filesz and seg.offset + seg.filesz <= prefix:  # PT_PHDR, and PT_INTERP when it lies there
        return elf.pack_segment(seg, seg.offset)
    if seg.type == PT_LOAD and seg.offset == 0:
        return elf.pack_segment(seg._replace(filesz=min(seg.filesz, prefix)), 0)
    # No bytes here; the offset still honours p_offset ≡ p_vaddr (mod p_align).
    offset = seg.offset if seg.offset <= prefix else (seg.vaddr % seg.align if seg.align > 1 else 0)
    return elf.pack_segment(seg._replace(filesz=0), offset)


def _split_dwarf(elf: _Elf) -> bool:
    """True when the first compilation unit is a DWARF 5 skeleton, or DWARF 4 GNU split
    DWARF names a ``.dwo`` file: the real debug info is in files this one does not hold."""
    secs = {s.name: s for s in elf.sections}
    info: Optional[_Section] = secs.get(".debug_info")
    if info is None or not info.file_size:
        return False
    head = bytes(elf.data[info.offset : info.offset + 12])
    if len(head) >= 7:
        (length,) = struct.unpack_from(elf.e + "I", head, 0)
        at = 12 if length == 0xFFFFFFFF else 4  # 64-bit DWARF puts an 8-byte length after the escape
        if len(head) >= at + 3:
            (version,) = struct.unpack_from(elf.e + "H", head, at)
            if version == 5 and head[at + 2] == DW_UT_SKELETON:
                return True
    strings = secs.get(".debug_str")
    return ".debug_addr" in secs and strings is not None and b".dwo\0" in elf.read(strings)
