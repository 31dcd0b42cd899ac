"""Mach-O (thin and fat): ``strip -x`` (level ``all``) and ``strip -S`` (level ``debug``).

Linked Mach-O images carry no DWARF; what can go is in the symbol table: STABS debug-map
entries (``N_STAB``) and, at level ``all``, local (non-``N_EXT``) symbols. All of it lives in
``__LINKEDIT``, the last segment, so a slice is rewritten as: the untouched bytes before
``__LINKEDIT``, patched load commands, and a re-laid ``__LINKEDIT`` holding the same blobs in
the same order (with the symbol and string tables rebuilt), ending with a fresh ad hoc code
signature when the slice was signed (see :mod:`.codesign`).

Symbols are selected by index, never by name: a STABS entry and an exported symbol share a name.
A symbol stays if the indirect-symbol table or an external relocation uses it, or if it is
``REFERENCED_DYNAMICALLY``. Anything this module does not understand in ``__LINKEDIT`` (unknown
load commands, overlapping blobs, bytes after it, old prebinding tables) makes it refuse the
slice rather than guess.

Fat files: every slice is handled on its own; a slice that is refused (a certificate signature,
an unsupported layout) is kept byte-identical while the others are stripped: each slice's
signature covers only that slice's bytes, so the file stays valid. The fat header keeps the
architecture order and each slice's alignment; gaps are zero-filled.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from . import codesign
from ._core import BinaryError, BinaryInfo, Buffer, Copy, Format, Level, Piece, Stripped, Unchanged, pruned_table

FORMAT: Format = "Mach-O"

MAGICS = (
    b"\xfe\xed\xfa\xce",  # 32-bit, big-endian
    b"\xce\xfa\xed\xfe",  # 32-bit, little-endian
    b"\xfe\xed\xfa\xcf",  # 64-bit, big-endian
    b"\xcf\xfa\xed\xfe",  # 64-bit, little-endian
    b"\xca\xfe\xba\xbe",  # fat
    b"\xca\xfe\xba\xbf",  # fat with 64-bit offsets
)
_FAT_MAGICS = MAGICS[4:]


def claims(head: bytes) -> bool:
    """Java class files share the fat magic ``0xcafebabe``: a fat header has a small
    architecture count where a class file has its version."""
    if head[:4] not in _FAT_MAGICS:
        return True
    return 0 < int.from_bytes(head[4:8], "big") < 32


_MH_OBJECT = 0x1
_MH_EXECUTE = 0x2
_FILE_KINDS = {
    0x1: "object",
    0x2: "executable",
    0x3: "fixed VM library",
    0x4: "core",
    0x5: "preload",
    0x6: "dylib",
    0x7: "dylinker",
    0x8: "bundle",
    0x9: "dylib stub",
    0xA: "dSYM companion",
    0xB: "kext bundle",
    0xC: "fileset",
}
#: file types whose symbol table may be stripped like a linked image
_STRIPPABLE_KINDS = {0x2, 0x6, 0x7, 0x8, 0xB}

_LC_SEGMENT = 0x1
_LC_SYMTAB = 0x2
_LC_SYMSEG = 0x3
_LC_DYSYMTAB = 0xB
_LC_TWOLEVEL_HINTS = 0x16
_LC_SEGMENT_64 = 0x19
_LC_CODE_SIGNATURE = 0x1D
_LC_DYLD_INFO = 0x22
_LC_DYLD_INFO_ONLY = 0x80000022
_LC_NOTE = 0x31
#: ``linkedit_data_command``s: one (dataoff, datasize) blob each
_LINKEDIT_DATA = {
    0x1D: "code signature",
    0x1E: "segment split info",
    0x26: "function starts",
    0x29: "data in code",
    0x2B: "code signing DRs",
    0x2E: "linker optimization hints",
    0x80000033: "exports trie",
    0x80000034: "chained fixups",
    0x36: "atom info",
    0x37: "function variants",
    0x38: "function variant fixups",
}
#: known load commands that hold no file offset into ``__LINKEDIT``
_INERT = {
    0x4,
    0x5,
    0x6,
    0x7,
    0x8,
    0x9,
    0xA,
    0xC,
    0xD,
    0xE,
    0xF,
    0x10,
    0x11,
    0x12,
    0x13,
    0x14,
    0x15,
    0x17,
    0x80000018,
    0x1A,
    0x1B,
    0x8000001C,
    0x8000001F,
    0x20,
    0x21,
    0x80000023,
    0x24,
    0x25,
    0x27,
    0x80000028,
    0x2A,
    0x2C,
    0x2D,
    0x2F,
    0x30,
    0x32,
    0x39,
}
_DYLD_INFO_PARTS = ("rebase info", "bind info", "weak bind info", "lazy bind info", "export info")

_N_STAB = 0xE0
_N_TYPE = 0x0E
_N_EXT = 0x01
_N_INDR = 0x0A
_REFERENCED_DYNAMICALLY = 0x0010
_INDIRECT_SYMBOL_LOCAL = 0x80000000
_INDIRECT_SYMBOL_ABS = 0x40000000
_R_SCATTERED = 0x80000000

_CPU_NAMES = {
    7: "i386",
    0x01000007: "x86_64",
    12: "arm",
    0x0100000C: "arm64",
    0x0200000C: "arm64_32",
    18: "ppc",
    0x01000012: "ppc64",
}


class _Refused(Exception):
    """The slice is valid but will not be rewritten; ``clean`` means nothing to strip."""

    def __init__(self, reason: str, clean: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.clean = clean


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


@dataclass
class _Blob:
    """One ``__LINKEDIT`` region and the load-command fields holding its offset."""

    name: str
    offset: int
    size: int
    fields: list[int] = field(default_factory=list)
    content: bytes | None = None  # replacement bytes; None keeps the original ones
    new_offset: int = 0


@dataclass
class _Segment:
    name: bytes
    pos: int  # offset of the load command in the slice
    is64: bool
    fileoff: int
    filesize: int
    vmsize: int


class _Slice:
    """A parsed thin Mach-O image (``view`` is the slice alone)."""

    def __init__(self, view: memoryview) -> None:
        self.view = view
        self.size = len(view)
        if self.size < 28:
            raise BinaryError("Mach-O header truncated")
        magic = bytes(view[:4])
        if magic not in MAGICS[:4]:
            raise BinaryError("not a thin Mach-O image")
        self.e = "<" if magic[0] in (0xCE, 0xCF) else ">"
        self.is64 = magic in (b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe")
        self.ptr = 8 if self.is64 else 4
        (self.cputype, self.cpusubtype, self.filetype, self.ncmds, self.sizeofcmds, self.flags) = struct.unpack_from(
            self.e + "iI4I", view, 4
        )
        self.cputype &= 0xFFFFFFFF
        self.header_size = 32 if self.is64 else 28
        self.commands_end = self.header_size + self.sizeofcmds
        if self.commands_end > self.size:
            raise BinaryError("load commands truncated")
        self.commands: list[tuple[int, int, int]] = []  # (pos, cmd, cmdsize)
        pos = self.header_size
        for _ in range(self.ncmds):
            if pos + 8 > self.commands_end:
                raise BinaryError("load commands truncated")
            cmd, cmdsize = self.u32s(pos, 2)
            if cmdsize < 8 or pos + cmdsize > self.commands_end:
                raise BinaryError(f"load command {cmd:#x} has a bad size")
            self.commands.append((pos, cmd, cmdsize))
            pos += cmdsize
        self.segments = [
            self._segment(pos, cmd) for pos, cmd, _ in self.commands if cmd in (_LC_SEGMENT, _LC_SEGMENT_64)
        ]

    def u32s(self, pos: int, count: int) -> tuple[int, ...]:
        if pos + 4 * count > self.size:
            raise BinaryError("Mach-O structure truncated")
        return struct.unpack_from(f"{self.e}{count}I", self.view, pos)

    def _segment(self, pos: int, cmd: int) -> _Segment:
        name = bytes(self.view[pos + 8 : pos + 24]).rstrip(b"\0")
        if cmd == _LC_SEGMENT_64:
            _, vmsize, fileoff, filesize = struct.unpack_from(self.e + "4Q", self.view, pos + 24)
            return _Segment(name, pos, True, fileoff, filesize, vmsize)
        _, vmsize, fileoff, filesize = struct.unpack_from(self.e + "4I", self.view, pos + 24)
        return _Segment(name, pos, False, fileoff, filesize, vmsize)

    def segment(self, name: bytes) -> _Segment | None:
        for seg in self.segments:
            if seg.name == name:
                return seg
        return None

    @property
    def arch(self) -> str:
        name = _CPU_NAMES.get(self.cputype, f"cpu {self.cputype:#x}")
        if name == "arm64" and self.cpusubtype & 0xFF == 2:
            return "arm64e"
        if name == "x86_64" and self.cpusubtype & 0xFF == 8:
            return "x86_64h"
        return name

    @property
    def kind(self) -> str:
        return _FILE_KINDS.get(self.filetype, f"type {self.filetype:#x}")

    def signature_kind(self) -> str:
        return codesign.signature_kind(self.view)


@dataclass
class _SliceOutput:
    """A rewritten slice: ``head`` (header + load commands), the untouched middle, ``tail``."""

    head: bytes
    middle: tuple[int, int]  # (offset, length) in the slice
    tail: bytes
    size: int
    locals_removed: int
    stabs_removed: int

    def pieces(self, base: int) -> list[Piece]:
        out: list[Piece] = [self.head]
        if self.middle[1]:
            out.append(Copy(base + self.middle[0], self.middle[1]))
        out.append(self.tail)
        return out


class _Composite:
    """Reads the new slice for hashing without materialising it."""

    def __init__(self, parts: list[tuple[int, memoryview]]) -> None:
        self.parts = parts  # (start offset, bytes) in ascending, contiguous order

    def read(self, offset: int, length: int) -> bytes | memoryview:
        chunks = []
        end = offset + length
        for start, buf in self.parts:
            stop = start + len(buf)
            if stop <= offset or start >= end:
                continue
            chunks.append(buf[max(offset, start) - start : min(end, stop) - start])
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)


def _rewrite_slice(img: _Slice, level: Level | None) -> _SliceOutput:
    """Strip one slice (``level`` None: keep every symbol, only re-lay and re-sign)."""
    if img.filetype == _MH_OBJECT:
        raise _Refused("object file (MH_OBJECT): symbols are needed for linking")
    if img.filetype not in _STRIPPABLE_KINDS:
        raise _Refused(f"unsupported Mach-O file type: {img.kind}")
    view, e = img.view, img.e
    linkedit = img.segment(b"__LINKEDIT")
    if linkedit is None:
        raise _Refused("no __LINKEDIT segment", clean=True)
    le_start, le_end = linkedit.fileoff, linkedit.fileoff + linkedit.filesize
    if le_end > img.size:
        raise BinaryError("__LINKEDIT extends past the end of the file")
    if le_end != img.size:
        raise _Refused("data after __LINKEDIT")
    if le_start < img.commands_end:
        raise _Refused("__LINKEDIT overlaps the load commands")
    for seg in img.segments:
        if seg is not linkedit and seg.filesize and seg.fileoff + seg.filesize > le_start:
            raise _Refused(f"segment {seg.name.decode(errors='replace')} lies after __LINKEDIT")

    blobs: dict[tuple[int, int], _Blob] = {}
    outside: list[str] = []

    def add(name: str, field_pos: int, offset: int, size: int) -> _Blob | None:
        if size == 0 and (offset == 0 or not le_start <= offset <= le_end):
            return None  # nothing there: leave the field alone
        if not (le_start <= offset and offset + size <= le_end):
            outside.append(name)
            return None
        blob = blobs.setdefault((offset, size), _Blob(name, offset, size))
        blob.fields.append(field_pos)
        return blob

    symtab = dysymtab = signature = None
    symtab_blob = strtab_blob = indirect_blob = extrel_blob = None
    for pos, cmd, cmdsize in img.commands:
        if cmd == _LC_SYMTAB:
            symtab = pos
            symoff, nsyms, stroff, strsize = img.u32s(pos + 8, 4)
            nlist = 16 if img.is64 else 12
            symtab_blob = add("symbol table", pos + 8, symoff, nsyms * nlist)
            strtab_blob = add("string table", pos + 16, stroff, strsize)
        elif cmd == _LC_DYSYMTAB:
            dysymtab = pos
            fields = img.u32s(pos + 8, 18)
            if fields[7] or fields[9] or fields[11]:
                raise _Refused("old dylib table of contents / module table present")
            indirect_blob = add("indirect symbols", pos + 8 + 12 * 4, fields[12], fields[13] * 4)
            extrel_blob = add("external relocations", pos + 8 + 14 * 4, fields[14], fields[15] * 8)
            add("local relocations", pos + 8 + 16 * 4, fields[16], fields[17] * 8)
        elif cmd in (_LC_DYLD_INFO, _LC_DYLD_INFO_ONLY):
            values = img.u32s(pos + 8, 10)
            for i, name in enumerate(_DYLD_INFO_PARTS):
                add(name, pos + 8 + 8 * i, values[2 * i], values[2 * i + 1])
        elif cmd in _LINKEDIT_DATA:
            dataoff, datasize = img.u32s(pos + 8, 2)
            blob = add(_LINKEDIT_DATA[cmd], pos + 8, dataoff, datasize)
            if cmd == _LC_CODE_SIGNATURE:
                if blob is None:
                    raise _Refused("code signature outside __LINKEDIT")
                signature = (pos, blob)
        elif cmd == _LC_TWOLEVEL_HINTS:
            offset, count = img.u32s(pos + 8, 2)
            add("two-level hints", pos + 8, offset, count * 4)
        elif cmd in (_LC_SEGMENT, _LC_SEGMENT_64):
            _check_sections(img, pos, cmd)
        elif cmd in (_LC_NOTE, _LC_SYMSEG):
            if cmd == _LC_NOTE:
                if cmdsize < 40:
                    raise BinaryError("LC_NOTE truncated")
                offset, size = struct.unpack_from(e + "2Q", view, pos + 24)
            else:
                offset, size = img.u32s(pos + 8, 2)
            if size and offset + size > le_start:
                raise _Refused("a note or symbol segment lies in __LINKEDIT")
        elif cmd not in _INERT:
            raise _Refused(f"unknown load command {cmd:#x}")
    if outside:
        raise _Refused(f"{outside[0]} lies outside __LINKEDIT")
    if symtab is None or symtab_blob is None or strtab_blob is None:
        raise _Refused("no symbol table", clean=True)

    order = sorted(blobs.values(), key=lambda b: (b.offset, b.size))
    last_end = le_start
    for blob in order:
        if blob.size and blob.offset < last_end:
            raise _Refused(f"{blob.name} overlaps another __LINKEDIT blob")
        last_end = max(last_end, blob.offset + blob.size)
    sig_blob = signature[1] if signature else None
    old_sig = None
    if sig_blob is not None:
        if [b for b in order if b.size][-1] is not sig_blob:
            raise _Refused("code signature is not the last __LINKEDIT blob")
        old_sig = codesign.parse_superblob(view[sig_blob.offset : sig_blob.offset + sig_blob.size])
        if codesign.kind(old_sig) == "certificate":
            raise _Refused("signed with a certificate (re-signing ad hoc would drop it)")

    head = bytearray(view[: img.commands_end])
    locals_removed, stabs_removed = _rewrite_symbols(
        img, head, level, symtab, dysymtab, symtab_blob, strtab_blob, indirect_blob, extrel_blob
    )
    if level is not None and not locals_removed and not stabs_removed:
        raise _Refused("nothing to strip", clean=True)

    # Re-lay __LINKEDIT in the original order. Each blob keeps the alignment its offset had
    # (capped at the pointer size: ld64 pads blobs to it); the signature is 16-aligned.
    cursor = le_start
    for blob in order:
        if blob is sig_blob:
            continue
        if blob.size:
            low = blob.offset & -blob.offset
            cursor = _align(cursor, min(low, img.ptr))
        blob.new_offset = cursor
        cursor += len(blob.content) if blob.content is not None else blob.size
    if sig_blob is not None and old_sig is not None:
        sig_blob.new_offset = _align(cursor, 16)
        sig_size = codesign.adhoc_size(old_sig, sig_blob.new_offset)
        struct.pack_into(e + "I", head, sig_blob.fields[0] + 4, sig_size)
        cursor = sig_blob.new_offset + sig_size
    new_size = cursor

    for blob in order:
        for pos in blob.fields:
            struct.pack_into(e + "I", head, pos, blob.new_offset)
    _patch_segment(head, img, linkedit, new_size - le_start)

    tail = bytearray(new_size - le_start)
    for blob in order:
        if blob is sig_blob:
            continue
        start = blob.new_offset - le_start
        data = blob.content if blob.content is not None else view[blob.offset : blob.offset + blob.size]
        tail[start : start + len(data)] = data
    if sig_blob is not None and old_sig is not None:
        text = img.segment(b"__TEXT")
        if text is None:
            raise BinaryError("signed image without a __TEXT segment")
        middle = view[img.commands_end : le_start]
        reader = _Composite(
            [
                (0, memoryview(head)),
                (img.commands_end, middle),
                (le_start, memoryview(tail)[: sig_blob.new_offset - le_start]),
            ]
        )
        sig = codesign.adhoc_signature(
            old_sig,
            reader.read,
            sig_blob.new_offset,
            text.fileoff,
            text.filesize,
            img.filetype == _MH_EXECUTE,
        )
        start = sig_blob.new_offset - le_start
        tail[start : start + len(sig)] = sig
    return _SliceOutput(
        bytes(head),
        (img.commands_end, le_start - img.commands_end),
        bytes(tail),
        new_size,
        locals_removed,
        stabs_removed,
    )


def _check_sections(img: _Slice, pos: int, cmd: int) -> None:
    """Section relocations (object-file style) would point at symbol indices: refuse them."""
    wide = cmd == _LC_SEGMENT_64
    (nsects,) = img.u32s(pos + (64 if wide else 48), 1)
    first = pos + (72 if wide else 56)
    size = 80 if wide else 68
    for i in range(nsects):
        sect = first + i * size
        reloff_pos = sect + (56 if wide else 48)
        _, nreloc = img.u32s(reloff_pos, 2)
        if nreloc:
            raise _Refused("sections carry relocation entries")


def _patch_segment(head: bytearray, img: _Slice, seg: _Segment, filesize: int) -> None:
    """New ``__LINKEDIT`` filesize; vmsize follows it the way the linker rounded it."""
    if seg.vmsize == seg.filesize:
        vmsize = filesize
    else:
        vmsize = seg.vmsize
        for page in (0x4000, 0x1000):
            if seg.vmsize == _align(seg.filesize, page):
                vmsize = _align(filesize, page)
                break
    if seg.is64:
        struct.pack_into(img.e + "Q", head, seg.pos + 32, vmsize)
        struct.pack_into(img.e + "Q", head, seg.pos + 48, filesize)
    else:
        struct.pack_into(img.e + "I", head, seg.pos + 28, vmsize)
        struct.pack_into(img.e + "I", head, seg.pos + 36, filesize)


def _rewrite_symbols(
    img: _Slice,
    head: bytearray,
    level: Level | None,
    symtab: int,
    dysymtab: int | None,
    symtab_blob: _Blob,
    strtab_blob: _Blob,
    indirect_blob: _Blob | None,
    extrel_blob: _Blob | None,
) -> tuple[int, int]:
    """Select the symbols to keep, rebuild the tables, patch counts; return what went."""
    view, e = img.view, img.e
    nlist_fmt = e + ("IBBHQ" if img.is64 else "IBBHI")
    symoff, nsyms, stroff, strsize = img.u32s(symtab + 8, 4)
    nlist = 16 if img.is64 else 12
    symbols = list(struct.iter_unpack(nlist_fmt, view[symoff : symoff + nsyms * nlist]))

    referenced: set[int] = set()
    indirect: tuple[int, ...] = ()
    if indirect_blob is not None:
        indirect = struct.unpack_from(f"{e}{indirect_blob.size // 4}I", view, indirect_blob.offset)
        referenced.update(i for i in indirect if not i & (_INDIRECT_SYMBOL_LOCAL | _INDIRECT_SYMBOL_ABS))
    relocs: list[tuple[int, int]] = []
    if extrel_blob is not None:
        relocs = list(struct.iter_unpack(e + "iI", view[extrel_blob.offset : extrel_blob.offset + extrel_blob.size]))
        for address, word in relocs:
            symbol = _reloc_symbol(img, address, word)
            if symbol is not None:
                referenced.add(symbol)
    if referenced and max(referenced) >= nsyms:
        raise BinaryError("symbol index out of range in indirect symbols or relocations")

    keep: list[bool] = []
    locals_removed = stabs_removed = 0
    for index, (_, n_type, _, n_desc, _) in enumerate(symbols):
        stab = bool(n_type & _N_STAB)
        if level is None or index in referenced:
            kept = True
        elif stab:
            kept = False  # the debug map (N_OSO/N_FUN/...): n_desc means something else here
        else:
            kept = bool(level == "debug" or n_type & _N_EXT or n_desc & _REFERENCED_DYNAMICALLY)
        keep.append(kept)
        if not kept:
            if stab:
                stabs_removed += 1
            else:
                locals_removed += 1
    if level is None or not (locals_removed or stabs_removed):
        return 0, 0  # tables stay byte-identical

    new_index: list[int] = []
    count = 0
    for kept in keep:
        new_index.append(count if kept else -1)
        count += kept

    strtab = bytes(view[stroff : stroff + strsize])
    kept_symbols = [sym for sym, kept in zip(symbols, keep) if kept]
    used: list[int] = []
    for n_strx, n_type, _, _, n_value in kept_symbols:
        used.append(n_strx)
        if n_type & (_N_STAB | _N_TYPE) == _N_INDR:
            used.append(n_value)  # an indirect symbol's value names the symbol it stands for
    # Keep the linker's string order, only dropping unused strings: a re-sorted table deflates
    # worse, enough to make a wheel grow when few symbols go.
    prefix = 2 if strtab.startswith(b" \0") else 1
    table, moved = pruned_table(strtab, used, prefix)
    table += bytes(_align(len(table), img.ptr) - len(table))

    out = bytearray()
    for n_strx, n_type, n_sect, n_desc, n_value in kept_symbols:
        if n_type & (_N_STAB | _N_TYPE) == _N_INDR:
            n_value = moved[n_value]
        out += struct.pack(nlist_fmt, moved[n_strx], n_type, n_sect, n_desc, n_value)
    symtab_blob.content = bytes(out)
    strtab_blob.content = table
    struct.pack_into(e + "I", head, symtab + 12, count)
    struct.pack_into(e + "I", head, symtab + 20, len(table))

    if indirect_blob is not None:
        indirect_blob.content = struct.pack(
            f"{e}{len(indirect)}I",
            *(i if i & (_INDIRECT_SYMBOL_LOCAL | _INDIRECT_SYMBOL_ABS) else new_index[i] for i in indirect),
        )
    if extrel_blob is not None:
        extrel_blob.content = b"".join(
            struct.pack(e + "iI", address, _remap_reloc(img, address, word, new_index)) for address, word in relocs
        )
    if dysymtab is not None:
        before = [0]
        for kept in keep:
            before.append(before[-1] + kept)
        ranges = img.u32s(dysymtab + 8, 6)
        for k in range(3):
            start, length = ranges[2 * k], ranges[2 * k + 1]
            if start + length > nsyms:
                raise BinaryError("dysymtab symbol range out of bounds")
            struct.pack_into(
                e + "2I",
                head,
                dysymtab + 8 + 8 * k,
                before[start],
                before[start + length] - before[start],
            )
    return locals_removed, stabs_removed


def _reloc_symbol(img: _Slice, address: int, word: int) -> int | None:
    """Symbol index of an external relocation entry, or None when it names no symbol."""
    if not img.is64 and address & _R_SCATTERED:
        return None
    if img.e == "<":
        return word & 0xFFFFFF if word >> 27 & 1 else None
    return word >> 8 if word >> 4 & 1 else None


def _remap_reloc(img: _Slice, address: int, word: int, new_index: list[int]) -> int:
    symbol = _reloc_symbol(img, address, word)
    if symbol is None:
        return word
    if img.e == "<":
        return (word & ~0xFFFFFF) | new_index[symbol]
    return (word & 0xFF) | new_index[symbol] << 8


# --- fat files --------------------------------------------------------------------------------


@dataclass
class _FatArch:
    cputype: int
    cpusubtype: int
    offset: int
    size: int
    align: int
    reserved: int


def _fat_arches(view: memoryview) -> tuple[bool, list[_FatArch]]:
    if len(view) < 8:
        raise BinaryError("fat header truncated")
    wide = view[3] == 0xBF
    (count,) = struct.unpack_from(">I", view, 4)
    entry = 32 if wide else 20
    if not 0 < count < 64 or 8 + count * entry > len(view):
        raise BinaryError("fat header truncated or corrupt")
    arches = []
    for i in range(count):
        if wide:
            ct, cs, offset, size, align, reserved = struct.unpack_from(">2I2Q2I", view, 8 + entry * i)
        else:
            ct, cs, offset, size, align = struct.unpack_from(">5I", view, 8 + entry * i)
            reserved = 0
        if offset < 8 + count * entry or offset + size > len(view) or align > 20:
            raise BinaryError("fat slice outside the file")
        arches.append(_FatArch(ct, cs, offset, size, align, reserved))
    by_offset = sorted(arches, key=lambda a: a.offset)
    for a, b in zip(by_offset, by_offset[1:]):
        if a.offset + a.size > b.offset:
            raise BinaryError("fat slices overlap")
    return wide, arches


def _strip_fat(view: memoryview, level: Level | None) -> Stripped | Unchanged:
    wide, arches = _fat_arches(view)
    end = max(a.offset + a.size for a in arches)
    if end != len(view):
        return Unchanged("data after the last slice of the fat file")
    outcomes: list[_SliceOutput | _Refused] = []
    names = []
    for arch in arches:
        img = _Slice(view[arch.offset : arch.offset + arch.size])
        names.append(img.arch)
        try:
            outcomes.append(_rewrite_slice(img, level))
        except _Refused as refused:
            outcomes.append(refused)
    done = [o for o in outcomes if isinstance(o, _SliceOutput)]
    if not done:
        refusals = [(n, o) for n, o in zip(names, outcomes) if isinstance(o, _Refused)]
        if all(o.clean for _, o in refusals):
            return Unchanged(refusals[0][1].reason, clean=True)
        return Unchanged("; ".join(f"{n}: {o.reason}" for n, o in refusals if not o.clean))

    entry = 32 if wide else 20
    cursor = 8 + entry * len(arches)
    placed: dict[int, int] = {}
    pieces: list[Piece] = []
    body: list[Piece] = []
    for index in sorted(range(len(arches)), key=lambda i: arches[i].offset):
        arch, outcome = arches[index], outcomes[index]
        offset = _align(cursor, 1 << arch.align)
        if offset > cursor:
            body.append(bytes(offset - cursor))
        placed[index] = offset
        if isinstance(outcome, _SliceOutput):
            body.extend(outcome.pieces(arch.offset))
            cursor = offset + outcome.size
        else:
            body.append(Copy(arch.offset, arch.size))
            cursor = offset + arch.size
    header = bytearray(view[:4]) + struct.pack(">I", len(arches))
    for index, arch in enumerate(arches):
        outcome = outcomes[index]
        size = outcome.size if isinstance(outcome, _SliceOutput) else arch.size
        if wide:
            header += struct.pack(
                ">2I2Q2I",
                arch.cputype,
                arch.cpusubtype,
                placed[index],
                size,
                arch.align,
                arch.reserved,
            )
        else:
            if placed[index] + size >= 1 << 32:
                raise BinaryError("fat file too large for 32-bit offsets")
            header += struct.pack(">5I", arch.cputype, arch.cpusubtype, placed[index], size, arch.align)
    pieces.append(bytes(header))
    pieces.extend(body)
    if level is not None and cursor >= len(view):
        return Unchanged("stripped output would not be smaller")
    removed = _removed(sum(o.locals_removed for o in done), sum(o.stabs_removed for o in done))
    kept = tuple(
        f"{n} slice kept: {o.reason}" for n, o in zip(names, outcomes) if isinstance(o, _Refused) and not o.clean
    )
    return Stripped(pieces=tuple(pieces), size=cursor, removed=removed + kept)


def _removed(locals_removed: int, stabs_removed: int) -> tuple[str, ...]:
    out = []
    if locals_removed:
        out.append(f"{locals_removed} local symbols")
    if stabs_removed:
        out.append(f"{stabs_removed} debug-map entries")
    return tuple(out)


# --- public interface -------------------------------------------------------------------------


_MALFORMED = (struct.error, IndexError, ValueError, OverflowError, KeyError)


def _view(data: Buffer) -> memoryview:
    view = memoryview(data).cast("B")
    if len(view) < 8:
        raise BinaryError("file too short for Mach-O")
    return view


def _strip(data: Buffer, level: Level | None) -> Stripped | Unchanged:
    view = _view(data)
    if bytes(view[:4]) in _FAT_MAGICS:
        return _strip_fat(view, level)
    img = _Slice(view)
    try:
        out = _rewrite_slice(img, level)
    except _Refused as refused:
        return Unchanged(refused.reason, clean=refused.clean)
    if level is not None and out.size >= img.size:
        return Unchanged("stripped output would not be smaller")
    return Stripped(
        pieces=tuple(out.pieces(0)),
        size=out.size,
        removed=_removed(out.locals_removed, out.stabs_removed),
    )


def strip(data: Buffer, level: Level) -> Stripped | Unchanged:
    """Strip a thin or fat Mach-O file: ``all`` = ``strip -x``, ``debug`` = ``strip -S``."""
    try:
        return _strip(data, level)
    except _MALFORMED as exc:
        raise BinaryError(f"malformed Mach-O file ({type(exc).__name__}: {exc})") from exc


def resign(data: Buffer) -> bytes:
    """Re-sign every signed slice ad hoc without stripping anything (checks and tests).

    For an untouched linker-signed file the result is byte-identical to the input.
    """
    try:
        result = _strip(data, None)
    except _MALFORMED as exc:
        raise BinaryError(f"malformed Mach-O file ({type(exc).__name__}: {exc})") from exc
    if isinstance(result, Unchanged):
        return bytes(data)
    return result.materialize(data)


def _slice_info(img: _Slice) -> BinaryInfo:
    strippable: dict[str, int] = {}
    note = None
    for level in ("all", "debug"):
        try:
            out = _rewrite_slice(img, level)
            strippable[level] = max(img.size - out.size, 0)
        except _Refused as refused:
            strippable[level] = 0
            if not refused.clean:
                note = refused.reason
    return BinaryInfo(
        format="Mach-O",
        arch=img.arch,
        size=img.size,
        strippable=strippable,
        signature=img.signature_kind(),
        note=note,
        kind=img.kind,
    )


def _inspect(data: Buffer) -> BinaryInfo:
    view = _view(data)
    if bytes(view[:4]) not in _FAT_MAGICS:
        return _slice_info(_Slice(view))
    _, arches = _fat_arches(view)
    slices = tuple(_slice_info(_Slice(view[a.offset : a.offset + a.size])) for a in arches)
    archs = [s.arch for s in slices]
    strippable = {}
    for level in ("all", "debug"):
        result = _strip_fat(view, level)
        strippable[level] = len(view) - result.size if isinstance(result, Stripped) else 0
    kinds = list(dict.fromkeys(s.signature for s in slices))
    notes = [f"{s.arch}: {s.note}" for s in slices if s.note]
    file_kinds = list(dict.fromkeys(s.kind for s in slices))
    return BinaryInfo(
        format="Mach-O",
        arch=_fat_label(archs),
        size=len(view),
        strippable=strippable,
        signature=", ".join(kinds),
        note="; ".join(notes) or None,
        slices=slices,
        kind=", ".join(file_kinds),
    )


def _fat_label(archs: list[str]) -> str:
    label = "universal2" if sorted(archs) == ["arm64", "x86_64"] else "universal"
    return f"{label} ({', '.join(archs)})"


def arch(data: Buffer) -> str:
    """The architecture label of ``inspect``, without planning any strip."""
    try:
        view = _view(data)
        if bytes(view[:4]) not in _FAT_MAGICS:
            return _Slice(view).arch
        _, arches = _fat_arches(view)
        return _fat_label([_Slice(view[a.offset : a.offset + a.size]).arch for a in arches])
    except _MALFORMED as exc:
        raise BinaryError(f"malformed Mach-O file ({type(exc).__name__}: {exc})") from exc


def inspect(data: Buffer) -> BinaryInfo:
    """Format, architectures, file kind, signature kind and strippable bytes per level."""
    try:
        return _inspect(data)
    except _MALFORMED as exc:
        raise BinaryError(f"malformed Mach-O file ({type(exc).__name__}: {exc})") from exc
