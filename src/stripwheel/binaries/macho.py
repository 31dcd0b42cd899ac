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

A dSYM companion (``MH_DSYM``: what ``dsymutil`` writes to
``foo.dSYM/Contents/Resources/DWARF/foo``, thin or with one slice for each of the binary's) is
a separate debug file, the Mach-O form of ELF's ``--only-keep-debug`` one: ``strip`` leaves it
alone and ``inspect`` gives it the kind :data:`.DEBUG_FILE_KIND`. A fat file mixing dSYM and
image slices is malformed.

The constant names are those of ``<mach-o/loader.h>``, ``<mach-o/nlist.h>`` and
``<mach-o/fat.h>``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from . import codesign
from ._core import (
    DEBUG_FILE_KIND,
    DEBUG_FILE_REASON,
    LEVELS,
    MALFORMED,
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
    pruned_table,
    strippable_by_level,
)

FORMAT: Format = "Mach-O"

_MH_MAGIC_BE = b"\xfe\xed\xfa\xce"
_MH_MAGIC_LE = b"\xce\xfa\xed\xfe"
_MH_MAGIC_64_BE = b"\xfe\xed\xfa\xcf"
_MH_MAGIC_64_LE = b"\xcf\xfa\xed\xfe"
_FAT_MAGIC = b"\xca\xfe\xba\xbe"
_FAT_MAGIC_64 = b"\xca\xfe\xba\xbf"  # 64-bit slice offsets and sizes
_THIN_MAGICS = (_MH_MAGIC_BE, _MH_MAGIC_LE, _MH_MAGIC_64_BE, _MH_MAGIC_64_LE)
_FAT_MAGICS = (_FAT_MAGIC, _FAT_MAGIC_64)
MAGICS = _THIN_MAGICS + _FAT_MAGICS

#: What a malformed file raises while it is only being looked at (``is_debug_file``).
_UNREADABLE: tuple[type[Exception], ...] = (BinaryError, *MALFORMED)

#: A Java class file has its version where a fat header has its slice count (45 and up).
_CLASS_FILE_VERSION_MIN = 32


def claims(head: bytes) -> bool:
    """Java class files share the fat magic ``0xcafebabe``: a fat header has a small
    architecture count where a class file has its version."""
    if head[:4] not in _FAT_MAGICS:
        return True
    return 0 < int.from_bytes(head[4:8], "big") < _CLASS_FILE_VERSION_MIN


# --- file types ----------------------------------------------------------------------------------

_MH_OBJECT = 0x1
_MH_EXECUTE = 0x2
_MH_FVMLIB = 0x3
_MH_CORE = 0x4
_MH_PRELOAD = 0x5
_MH_DYLIB = 0x6
_MH_DYLINKER = 0x7
_MH_BUNDLE = 0x8
_MH_DYLIB_STUB = 0x9
_MH_DSYM = 0xA
_MH_KEXT_BUNDLE = 0xB
_MH_FILESET = 0xC
_FILE_KINDS = {
    _MH_OBJECT: "object",
    _MH_EXECUTE: "executable",
    _MH_FVMLIB: "fixed VM library",
    _MH_CORE: "core",
    _MH_PRELOAD: "preload",
    _MH_DYLIB: "dylib",
    _MH_DYLINKER: "dylinker",
    _MH_BUNDLE: "bundle",
    _MH_DYLIB_STUB: "dylib stub",
    _MH_DSYM: "dSYM companion",
    _MH_KEXT_BUNDLE: "kext bundle",
    _MH_FILESET: "fileset",
}
#: file types whose symbol table may be stripped like a linked image
_STRIPPABLE_KINDS = {_MH_EXECUTE, _MH_DYLIB, _MH_DYLINKER, _MH_BUNDLE, _MH_KEXT_BUNDLE}

# --- CPU types -----------------------------------------------------------------------------------

_CPU_ARCH_ABI64 = 0x01000000
_CPU_ARCH_ABI64_32 = 0x02000000
_CPU_TYPE_X86 = 7
_CPU_TYPE_ARM = 12
_CPU_TYPE_POWERPC = 18
#: the capability bits of a CPU subtype (arm64e's pointer-authentication ABI version, ...)
_CPU_SUBTYPE_MASK = 0xFF000000
_CPU_SUBTYPE_ARM64E = 2
_CPU_SUBTYPE_X86_64_H = 8
_CPU_NAMES = {
    _CPU_TYPE_X86: "i386",
    _CPU_TYPE_X86 | _CPU_ARCH_ABI64: "x86_64",
    _CPU_TYPE_ARM: "arm",
    _CPU_TYPE_ARM | _CPU_ARCH_ABI64: "arm64",
    _CPU_TYPE_ARM | _CPU_ARCH_ABI64_32: "arm64_32",
    _CPU_TYPE_POWERPC: "ppc",
    _CPU_TYPE_POWERPC | _CPU_ARCH_ABI64: "ppc64",
}

# --- load commands -------------------------------------------------------------------------------

#: set on commands an old dyld must refuse to load the image without
_LC_REQ_DYLD = 0x80000000
_LC_SEGMENT = 0x1
_LC_SYMTAB = 0x2
_LC_SYMSEG = 0x3
_LC_THREAD = 0x4
_LC_UNIXTHREAD = 0x5
_LC_LOADFVMLIB = 0x6
_LC_IDFVMLIB = 0x7
_LC_IDENT = 0x8
_LC_FVMFILE = 0x9
_LC_PREPAGE = 0xA
_LC_DYSYMTAB = 0xB
_LC_LOAD_DYLIB = 0xC
_LC_ID_DYLIB = 0xD
_LC_LOAD_DYLINKER = 0xE
_LC_ID_DYLINKER = 0xF
_LC_PREBOUND_DYLIB = 0x10
_LC_ROUTINES = 0x11
_LC_SUB_FRAMEWORK = 0x12
_LC_SUB_UMBRELLA = 0x13
_LC_SUB_CLIENT = 0x14
_LC_SUB_LIBRARY = 0x15
_LC_TWOLEVEL_HINTS = 0x16
_LC_PREBIND_CKSUM = 0x17
_LC_LOAD_WEAK_DYLIB = 0x18 | _LC_REQ_DYLD
_LC_SEGMENT_64 = 0x19
_LC_ROUTINES_64 = 0x1A
_LC_UUID = 0x1B
_LC_RPATH = 0x1C | _LC_REQ_DYLD
_LC_CODE_SIGNATURE = 0x1D
_LC_SEGMENT_SPLIT_INFO = 0x1E
_LC_REEXPORT_DYLIB = 0x1F | _LC_REQ_DYLD
_LC_LAZY_LOAD_DYLIB = 0x20
_LC_ENCRYPTION_INFO = 0x21
_LC_DYLD_INFO = 0x22
_LC_DYLD_INFO_ONLY = 0x22 | _LC_REQ_DYLD
_LC_LOAD_UPWARD_DYLIB = 0x23 | _LC_REQ_DYLD
_LC_VERSION_MIN_MACOSX = 0x24
_LC_VERSION_MIN_IPHONEOS = 0x25
_LC_FUNCTION_STARTS = 0x26
_LC_DYLD_ENVIRONMENT = 0x27
_LC_MAIN = 0x28 | _LC_REQ_DYLD
_LC_DATA_IN_CODE = 0x29
_LC_SOURCE_VERSION = 0x2A
_LC_DYLIB_CODE_SIGN_DRS = 0x2B
_LC_ENCRYPTION_INFO_64 = 0x2C
_LC_LINKER_OPTION = 0x2D
_LC_LINKER_OPTIMIZATION_HINT = 0x2E
_LC_VERSION_MIN_TVOS = 0x2F
_LC_VERSION_MIN_WATCHOS = 0x30
_LC_NOTE = 0x31
_LC_BUILD_VERSION = 0x32
_LC_DYLD_EXPORTS_TRIE = 0x33 | _LC_REQ_DYLD
_LC_DYLD_CHAINED_FIXUPS = 0x34 | _LC_REQ_DYLD
_LC_ATOM_INFO = 0x36
_LC_FUNCTION_VARIANTS = 0x37
_LC_FUNCTION_VARIANT_FIXUPS = 0x38
_LC_TARGET_TRIPLE = 0x39

#: ``linkedit_data_command``s: one (dataoff, datasize) blob each
_LINKEDIT_DATA = {
    _LC_CODE_SIGNATURE: "code signature",
    _LC_SEGMENT_SPLIT_INFO: "segment split info",
    _LC_FUNCTION_STARTS: "function starts",
    _LC_DATA_IN_CODE: "data in code",
    _LC_DYLIB_CODE_SIGN_DRS: "code signing DRs",
    _LC_LINKER_OPTIMIZATION_HINT: "linker optimization hints",
    _LC_DYLD_EXPORTS_TRIE: "exports trie",
    _LC_DYLD_CHAINED_FIXUPS: "chained fixups",
    _LC_ATOM_INFO: "atom info",
    _LC_FUNCTION_VARIANTS: "function variants",
    _LC_FUNCTION_VARIANT_FIXUPS: "function variant fixups",
}
#: known load commands that hold no file offset into ``__LINKEDIT`` (the encryption-info ones
#: point into ``__TEXT``, which is never rewritten)
_INERT = frozenset(
    {
        _LC_THREAD,
        _LC_UNIXTHREAD,
        _LC_LOADFVMLIB,
        _LC_IDFVMLIB,
        _LC_IDENT,
        _LC_FVMFILE,
        _LC_PREPAGE,
        _LC_LOAD_DYLIB,
        _LC_ID_DYLIB,
        _LC_LOAD_DYLINKER,
        _LC_ID_DYLINKER,
        _LC_PREBOUND_DYLIB,
        _LC_ROUTINES,
        _LC_SUB_FRAMEWORK,
        _LC_SUB_UMBRELLA,
        _LC_SUB_CLIENT,
        _LC_SUB_LIBRARY,
        _LC_PREBIND_CKSUM,
        _LC_LOAD_WEAK_DYLIB,
        _LC_ROUTINES_64,
        _LC_UUID,
        _LC_RPATH,
        _LC_REEXPORT_DYLIB,
        _LC_LAZY_LOAD_DYLIB,
        _LC_ENCRYPTION_INFO,
        _LC_LOAD_UPWARD_DYLIB,
        _LC_VERSION_MIN_MACOSX,
        _LC_VERSION_MIN_IPHONEOS,
        _LC_DYLD_ENVIRONMENT,
        _LC_MAIN,
        _LC_SOURCE_VERSION,
        _LC_ENCRYPTION_INFO_64,
        _LC_LINKER_OPTION,
        _LC_VERSION_MIN_TVOS,
        _LC_VERSION_MIN_WATCHOS,
        _LC_BUILD_VERSION,
        _LC_TARGET_TRIPLE,
    }
)

#: every command starts with ``cmd`` and ``cmdsize``; its own fields follow
_LC_FIELDS = 8
# symtab_command: symoff, nsyms, stroff, strsize
_SYMTAB_SYMOFF = _LC_FIELDS
_SYMTAB_NSYMS = _LC_FIELDS + 4
_SYMTAB_STROFF = _LC_FIELDS + 8
_SYMTAB_STRSIZE = _LC_FIELDS + 12
# dysymtab_command: 18 words, by index
_DYSYMTAB_WORDS = 18
_DY_ILOCALSYM = 0  # then nlocalsym, iextdefsym, nextdefsym, iundefsym, nundefsym
_DY_SYMBOL_RANGES = 3  # (first index, count) pairs: locals, defined externals, undefined
_DY_NTOC = 7
_DY_NMODTAB = 9
_DY_NEXTREFSYMS = 11
_DY_INDIRECTSYMOFF = 12
_DY_NINDIRECTSYMS = 13
_DY_EXTRELOFF = 14
_DY_NEXTREL = 15
_DY_LOCRELOFF = 16
_DY_NLOCREL = 17
#: dyld_info_command: an (offset, size) pair for each of these, in this order
_DYLD_INFO_PARTS = ("rebase info", "bind info", "weak bind info", "lazy bind info", "export info")
#: note_command: data_owner[16], then 64-bit offset and size
_NOTE_OFFSET = _LC_FIELDS + 16
_NOTE_SIZE = _NOTE_OFFSET + 16

_INDIRECT_ENTRY_SIZE = 4
_TWOLEVEL_HINT_SIZE = 4
_RELOCATION_SIZE = 8


@dataclass(frozen=True)
class _SegmentFormat:
    """Where ``segment_command`` and ``segment_command_64`` keep the fields used here."""

    word: str  # struct code of an address or size
    vmsize: int
    fileoff: int
    filesize: int
    nsects: int
    sections: int  # offset of the first section header
    section_size: int
    section_nreloc: int  # offset of ``nreloc`` in a section header


_SEGMENT_NAME = _LC_FIELDS  # char segname[16]
_SEGMENT_NAME_SIZE = 16
_SEGMENT_32 = _SegmentFormat(
    "I", vmsize=28, fileoff=32, filesize=36, nsects=48, sections=56, section_size=68, section_nreloc=52
)
_SEGMENT_64 = _SegmentFormat(
    "Q", vmsize=32, fileoff=40, filesize=48, nsects=64, sections=72, section_size=80, section_nreloc=60
)

# --- symbols and relocations ---------------------------------------------------------------------

_N_STAB = 0xE0
_N_TYPE = 0x0E
_N_EXT = 0x01
_N_INDR = 0x0A
_REFERENCED_DYNAMICALLY = 0x0010
_INDIRECT_SYMBOL_LOCAL = 0x80000000
_INDIRECT_SYMBOL_ABS = 0x40000000
_R_SCATTERED = 0x80000000
#: relocation_info's second word: r_symbolnum:24, r_pcrel:1, r_length:2, r_extern:1, r_type:4,
#: allocated from the low bits on little-endian targets and from the high bits on big-endian
_R_SYMBOLNUM_MASK = 0xFFFFFF
_R_EXTERN_BIT_LE = 27
_R_EXTERN_BIT_BE = 4
_R_SYMBOLNUM_SHIFT_BE = 8


class _Nlist(NamedTuple):
    """One ``nlist``/``nlist_64`` entry."""

    strx: int
    type: int
    sect: int
    desc: int
    value: int

    @property
    def is_indirect(self) -> bool:
        """An ``N_INDR`` symbol: its value is the string offset of the symbol it stands for."""
        return self.type & (_N_STAB | _N_TYPE) == _N_INDR


# --- fat files -------------------------------------------------------------------------------------

_FAT_HEADER_SIZE = 8
_FAT_ARCH_SIZE = 20
_FAT_ARCH_64_SIZE = 32
#: more slices than this is a corrupt header, not a real file
_FAT_MAX_ARCHES = 64
#: a slice aligned to more than 2**20 bytes is a corrupt header
_FAT_MAX_ALIGN_SHIFT = 20

#: ld64 pads ``__LINKEDIT``'s vmsize to these page sizes (arm64, then x86_64)
_PAGE_SIZES = (0x4000, 0x1000)
#: the code signature's offset is 16-aligned
_SIGNATURE_ALIGN = 16


@dataclass
class _Blob:
    """One ``__LINKEDIT`` region and the load-command fields holding its offset."""

    name: str
    offset: int
    size: int
    fields: list[int] = field(default_factory=list)
    content: bytes | None = None  # replacement bytes; None keeps the original ones
    new_offset: int = 0

    @property
    def new_size(self) -> int:
        return len(self.content) if self.content is not None else self.size


@dataclass
class _Segment:
    name: bytes
    pos: int  # offset of the load command in the slice
    fmt: _SegmentFormat
    fileoff: int
    filesize: int
    vmsize: int


class _Command(NamedTuple):
    pos: int  # offset of the load command in the slice
    cmd: int
    size: int


class _Slice:
    """A parsed thin Mach-O image (``view`` is the slice alone)."""

    def __init__(self, view: memoryview) -> None:
        self.view = view
        self.size = len(view)
        magic = bytes(view[:4])
        if magic not in _THIN_MAGICS:
            raise BinaryError("not a thin Mach-O image")
        self.e = "<" if magic in (_MH_MAGIC_LE, _MH_MAGIC_64_LE) else ">"
        self.is64 = magic in (_MH_MAGIC_64_BE, _MH_MAGIC_64_LE)
        self.ptr = 8 if self.is64 else 4
        self.header_size = 32 if self.is64 else 28  # mach_header_64 adds a reserved word
        if self.size < self.header_size:
            raise BinaryError("Mach-O header truncated")
        header = struct.unpack_from(self.e + "6I", view, 4)
        self.cputype, self.cpusubtype, self.filetype, ncmds, sizeofcmds, _ = header
        self.commands_end = self.header_size + sizeofcmds
        if self.commands_end > self.size:
            raise BinaryError("load commands truncated")
        self.commands = self._commands(ncmds)
        self.segments = [self._segment(c) for c in self.commands if c.cmd in (_LC_SEGMENT, _LC_SEGMENT_64)]

    def _commands(self, ncmds: int) -> list[_Command]:
        commands = []
        pos = self.header_size
        for _ in range(ncmds):
            if pos + _LC_FIELDS > self.commands_end:
                raise BinaryError("load commands truncated")
            cmd, cmdsize = self.u32s(pos, 2)
            if cmdsize < _LC_FIELDS or pos + cmdsize > self.commands_end:
                raise BinaryError(f"load command {cmd:#x} has a bad size")
            commands.append(_Command(pos, cmd, cmdsize))
            pos += cmdsize
        return commands

    def u32s(self, pos: int, count: int) -> tuple[int, ...]:
        if pos + 4 * count > self.size:
            raise BinaryError("Mach-O structure truncated")
        return struct.unpack_from(f"{self.e}{count}I", self.view, pos)

    def _segment(self, command: _Command) -> _Segment:
        pos = command.pos
        fmt = _SEGMENT_64 if command.cmd == _LC_SEGMENT_64 else _SEGMENT_32
        name = bytes(self.view[pos + _SEGMENT_NAME : pos + _SEGMENT_NAME + _SEGMENT_NAME_SIZE]).rstrip(b"\0")
        (vmsize,) = struct.unpack_from(self.e + fmt.word, self.view, pos + fmt.vmsize)
        fileoff, filesize = struct.unpack_from(self.e + 2 * fmt.word, self.view, pos + fmt.fileoff)
        return _Segment(name, pos, fmt, fileoff, filesize, vmsize)

    def segment(self, name: bytes) -> _Segment | None:
        for seg in self.segments:
            if seg.name == name:
                return seg
        return None

    @property
    def arch(self) -> str:
        name = _CPU_NAMES.get(self.cputype, f"cpu {self.cputype:#x}")
        subtype = self.cpusubtype & ~_CPU_SUBTYPE_MASK
        if name == "arm64" and subtype == _CPU_SUBTYPE_ARM64E:
            return "arm64e"
        if name == "x86_64" and subtype == _CPU_SUBTYPE_X86_64_H:
            return "x86_64h"
        return name

    @property
    def kind(self) -> str:
        return _FILE_KINDS.get(self.filetype, f"type {self.filetype:#x}")

    def signature_kind(self) -> str:
        for command in self.commands:
            if command.cmd == _LC_CODE_SIGNATURE:
                dataoff, datasize = self.u32s(command.pos + _LC_FIELDS, 2)
                if dataoff + datasize > self.size:
                    raise BinaryError("code signature outside the file")
                return codesign.kind(codesign.parse_superblob(self.view[dataoff : dataoff + datasize]))
        return "none"


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


# --- one slice: validate, collect, select, rebuild, re-lay, patch, re-sign -----------------------


def _rewrite_slice(img: _Slice, level: Level | None) -> _SliceOutput:
    """Strip one slice (``level`` None: keep every symbol, only re-lay and re-sign)."""
    linkedit = _validate_layout(img)
    blobs = _collect(img, linkedit)
    order, old_signature = _check_blobs(img, blobs)
    head = bytearray(img.view[: img.commands_end])
    locals_removed, stabs_removed = _rewrite_symbols(img, blobs, head, level)
    if level is not None and not locals_removed and not stabs_removed:
        raise Refused("nothing to strip", clean=True)
    new_size = _relay(img, blobs, order, old_signature, head)
    tail = _fill_linkedit(img, blobs, order, new_size)
    if old_signature is not None:
        _resign(img, blobs, old_signature, head, tail)
    return _SliceOutput(
        bytes(head),
        (img.commands_end, linkedit.fileoff - img.commands_end),
        bytes(tail),
        new_size,
        locals_removed,
        stabs_removed,
    )


def _validate_layout(img: _Slice) -> _Segment:
    """The ``__LINKEDIT`` segment, once the slice is known to be a linked image that ends with it."""
    if img.filetype == _MH_OBJECT:
        raise Refused("object file (MH_OBJECT): symbols are needed for linking")
    if img.filetype not in _STRIPPABLE_KINDS:
        raise Refused(f"unsupported Mach-O file type: {img.kind}")
    linkedit = img.segment(b"__LINKEDIT")
    if linkedit is None:
        raise Refused("no __LINKEDIT segment", clean=True)
    start, end = linkedit.fileoff, linkedit.fileoff + linkedit.filesize
    if end > img.size:
        raise BinaryError("__LINKEDIT extends past the end of the file")
    if end != img.size:
        raise Refused("data after __LINKEDIT")
    if start < img.commands_end:
        raise Refused("__LINKEDIT overlaps the load commands")
    for seg in img.segments:
        if seg is not linkedit and seg.filesize and seg.fileoff + seg.filesize > start:
            raise Refused(f"segment {seg.name.decode(errors='replace')} lies after __LINKEDIT")
    return linkedit


@dataclass
class _Linkedit:
    """The ``__LINKEDIT`` blobs the load commands name, and those the symbol rewrite touches."""

    segment: _Segment
    blobs: dict[tuple[int, int], _Blob] = field(default_factory=dict)
    outside: list[str] = field(default_factory=list)  # blobs found outside the segment
    symtab: int | None = None  # position of LC_SYMTAB
    dysymtab: int | None = None  # position of LC_DYSYMTAB
    symbols: _Blob | None = None
    strings: _Blob | None = None
    indirect: _Blob | None = None
    extrel: _Blob | None = None
    signature: _Blob | None = None

    @property
    def start(self) -> int:
        return self.segment.fileoff

    @property
    def end(self) -> int:
        return self.segment.fileoff + self.segment.filesize

    def add(self, name: str, field_pos: int, offset: int, size: int) -> _Blob | None:
        """Note the blob at ``offset`` whose offset field is at ``field_pos`` in the commands."""
        if size == 0 and (offset == 0 or not self.start <= offset <= self.end):
            return None  # nothing there: leave the field alone
        if not (self.start <= offset and offset + size <= self.end):
            self.outside.append(name)
            return None
        blob = self.blobs.setdefault((offset, size), _Blob(name, offset, size))
        blob.fields.append(field_pos)
        return blob


def _collect(img: _Slice, linkedit: _Segment) -> _Linkedit:
    """Every blob a load command places in ``__LINKEDIT``; refuse what cannot be followed."""
    found = _Linkedit(linkedit)
    for command in img.commands:
        collector = _COLLECTORS.get(command.cmd)
        if collector is not None:
            collector(img, found, command)
        elif command.cmd in _LINKEDIT_DATA:
            _collect_linkedit_data(img, found, command)
        elif command.cmd not in _INERT:
            raise Refused(f"unknown load command {command.cmd:#x}")
    if found.outside:
        raise Refused(f"{found.outside[0]} lies outside __LINKEDIT")
    if found.symtab is None or found.symbols is None or found.strings is None:
        raise Refused("no symbol table", clean=True)
    return found


def _collect_symtab(img: _Slice, found: _Linkedit, command: _Command) -> None:
    found.symtab = command.pos
    symoff, nsyms, stroff, strsize = img.u32s(command.pos + _SYMTAB_SYMOFF, 4)
    nlist_size = 16 if img.is64 else 12
    found.symbols = found.add("symbol table", command.pos + _SYMTAB_SYMOFF, symoff, nsyms * nlist_size)
    found.strings = found.add("string table", command.pos + _SYMTAB_STROFF, stroff, strsize)


def _collect_dysymtab(img: _Slice, found: _Linkedit, command: _Command) -> None:
    found.dysymtab = command.pos
    words = img.u32s(command.pos + _LC_FIELDS, _DYSYMTAB_WORDS)
    if words[_DY_NTOC] or words[_DY_NMODTAB] or words[_DY_NEXTREFSYMS]:
        raise Refused("old dylib table of contents / module table present")

    def add(name: str, offset_word: int, entry_size: int) -> _Blob | None:
        field_pos = command.pos + _LC_FIELDS + 4 * offset_word
        return found.add(name, field_pos, words[offset_word], words[offset_word + 1] * entry_size)

    found.indirect = add("indirect symbols", _DY_INDIRECTSYMOFF, _INDIRECT_ENTRY_SIZE)
    found.extrel = add("external relocations", _DY_EXTRELOFF, _RELOCATION_SIZE)
    add("local relocations", _DY_LOCRELOFF, _RELOCATION_SIZE)


def _collect_dyld_info(img: _Slice, found: _Linkedit, command: _Command) -> None:
    values = img.u32s(command.pos + _LC_FIELDS, 2 * len(_DYLD_INFO_PARTS))
    for i, name in enumerate(_DYLD_INFO_PARTS):
        found.add(name, command.pos + _LC_FIELDS + 8 * i, values[2 * i], values[2 * i + 1])


def _collect_linkedit_data(img: _Slice, found: _Linkedit, command: _Command) -> None:
    dataoff, datasize = img.u32s(command.pos + _LC_FIELDS, 2)
    blob = found.add(_LINKEDIT_DATA[command.cmd], command.pos + _LC_FIELDS, dataoff, datasize)
    if command.cmd == _LC_CODE_SIGNATURE:
        if blob is None:
            raise Refused("code signature outside __LINKEDIT")
        found.signature = blob


def _collect_twolevel_hints(img: _Slice, found: _Linkedit, command: _Command) -> None:
    offset, count = img.u32s(command.pos + _LC_FIELDS, 2)
    found.add("two-level hints", command.pos + _LC_FIELDS, offset, count * _TWOLEVEL_HINT_SIZE)


def _check_sections(img: _Slice, found: _Linkedit, command: _Command) -> None:
    """Section relocations (object-file style) would point at symbol indices: refuse them."""
    fmt = _SEGMENT_64 if command.cmd == _LC_SEGMENT_64 else _SEGMENT_32
    (nsects,) = img.u32s(command.pos + fmt.nsects, 1)
    for i in range(nsects):
        (nreloc,) = img.u32s(command.pos + fmt.sections + i * fmt.section_size + fmt.section_nreloc, 1)
        if nreloc:
            raise Refused("sections carry relocation entries")


def _check_outside_linkedit(img: _Slice, found: _Linkedit, command: _Command) -> None:
    """A note or symbol segment may point anywhere; only one before ``__LINKEDIT`` stays valid."""
    if command.cmd == _LC_NOTE:
        if command.size < _NOTE_SIZE:
            raise BinaryError("LC_NOTE truncated")
        offset, size = struct.unpack_from(img.e + "2Q", img.view, command.pos + _NOTE_OFFSET)
    else:
        offset, size = img.u32s(command.pos + _LC_FIELDS, 2)
    if size and offset + size > found.start:
        raise Refused("a note or symbol segment lies in __LINKEDIT")


_COLLECTORS: dict[int, Callable[[_Slice, _Linkedit, _Command], None]] = {
    _LC_SYMTAB: _collect_symtab,
    _LC_DYSYMTAB: _collect_dysymtab,
    _LC_DYLD_INFO: _collect_dyld_info,
    _LC_DYLD_INFO_ONLY: _collect_dyld_info,
    _LC_TWOLEVEL_HINTS: _collect_twolevel_hints,
    _LC_SEGMENT: _check_sections,
    _LC_SEGMENT_64: _check_sections,
    _LC_NOTE: _check_outside_linkedit,
    _LC_SYMSEG: _check_outside_linkedit,
}


def _check_blobs(img: _Slice, found: _Linkedit) -> tuple[list[_Blob], codesign.SuperBlob | None]:
    """The blobs in file order, and the old signature; refuse overlaps and certificate signatures."""
    order = sorted(found.blobs.values(), key=lambda b: (b.offset, b.size))
    last_end = found.start
    for blob in order:
        if blob.size and blob.offset < last_end:
            raise Refused(f"{blob.name} overlaps another __LINKEDIT blob")
        last_end = max(last_end, blob.offset + blob.size)
    sig = found.signature
    if sig is None:
        return order, None
    if [b for b in order if b.size][-1] is not sig:
        raise Refused("code signature is not the last __LINKEDIT blob")
    old = codesign.parse_superblob(img.view[sig.offset : sig.offset + sig.size])
    if codesign.kind(old) == "certificate":
        raise Refused("signed with a certificate (re-signing ad hoc would drop it)")
    return order, old


# --- symbols -------------------------------------------------------------------------------------


@dataclass
class _Selection:
    """Which symbols stay, by index, and what went."""

    keep: list[bool]
    locals_removed: int = 0
    stabs_removed: int = 0

    def new_index(self) -> list[int]:
        """The new index of every kept symbol (-1 for a removed one)."""
        out: list[int] = []
        count = 0
        for kept in self.keep:
            out.append(count if kept else -1)
            count += kept
        return out


def _rewrite_symbols(img: _Slice, found: _Linkedit, head: bytearray, level: Level | None) -> tuple[int, int]:
    """Select the symbols to keep, rebuild the tables, patch counts; return what went."""
    symbols = _read_symbols(img, found)
    indirect = _read_indirect(img, found.indirect)
    relocs = _read_relocs(img, found.extrel)
    referenced = {i for i in indirect if not i & (_INDIRECT_SYMBOL_LOCAL | _INDIRECT_SYMBOL_ABS)}
    referenced.update(s for s in (_reloc_symbol(img, address, word) for address, word in relocs) if s is not None)
    if referenced and max(referenced) >= len(symbols):
        raise BinaryError("symbol index out of range in indirect symbols or relocations")
    selection = _select(symbols, referenced, level)
    if level is None or not (selection.locals_removed or selection.stabs_removed):
        return 0, 0  # tables stay byte-identical

    kept = [sym for sym, keep in zip(symbols, selection.keep) if keep]
    _rebuild_tables(img, found, head, kept)
    new_index = selection.new_index()
    if found.indirect is not None:
        found.indirect.content = struct.pack(
            f"{img.e}{len(indirect)}I",
            *(i if i & (_INDIRECT_SYMBOL_LOCAL | _INDIRECT_SYMBOL_ABS) else new_index[i] for i in indirect),
        )
    if found.extrel is not None:
        found.extrel.content = b"".join(
            struct.pack(img.e + "iI", address, _remap_reloc(img, address, word, new_index)) for address, word in relocs
        )
    if found.dysymtab is not None:
        _patch_dysymtab(img, head, found.dysymtab, selection.keep)
    return selection.locals_removed, selection.stabs_removed


def _nlist_format(img: _Slice) -> str:
    return img.e + ("IBBHQ" if img.is64 else "IBBHI")


def _read_symbols(img: _Slice, found: _Linkedit) -> list[_Nlist]:
    if found.symbols is None:
        raise BinaryError("no symbol table")
    start, size = found.symbols.offset, found.symbols.size
    return [_Nlist(*entry) for entry in struct.iter_unpack(_nlist_format(img), img.view[start : start + size])]


def _read_indirect(img: _Slice, blob: _Blob | None) -> tuple[int, ...]:
    if blob is None:
        return ()
    return struct.unpack_from(f"{img.e}{blob.size // _INDIRECT_ENTRY_SIZE}I", img.view, blob.offset)


def _read_relocs(img: _Slice, blob: _Blob | None) -> list[tuple[int, int]]:
    if blob is None:
        return []
    return list(struct.iter_unpack(img.e + "iI", img.view[blob.offset : blob.offset + blob.size]))


def _select(symbols: list[_Nlist], referenced: set[int], level: Level | None) -> _Selection:
    """``strip -x`` keeps external and dynamically referenced symbols; both levels drop STABS."""
    selection = _Selection([])
    for index, sym in enumerate(symbols):
        stab = bool(sym.type & _N_STAB)
        if level is None or index in referenced:
            kept = True
        elif stab:
            kept = False  # the debug map (N_OSO/N_FUN/...): n_desc means something else here
        else:
            kept = bool(level == "debug" or sym.type & _N_EXT or sym.desc & _REFERENCED_DYNAMICALLY)
        selection.keep.append(kept)
        if not kept and stab:
            selection.stabs_removed += 1
        elif not kept:
            selection.locals_removed += 1
    return selection


def _rebuild_tables(img: _Slice, found: _Linkedit, head: bytearray, kept: list[_Nlist]) -> None:
    """New symbol and string tables holding ``kept``; ``LC_SYMTAB`` gets their sizes."""
    if found.symtab is None or found.symbols is None or found.strings is None:
        raise BinaryError("no symbol table")
    strings = bytes(img.view[found.strings.offset : found.strings.offset + found.strings.size])
    used: list[int] = []
    for sym in kept:
        used.append(sym.strx)
        if sym.is_indirect:
            used.append(sym.value)
    # Keep the linker's string order, only dropping unused strings: a re-sorted table deflates
    # worse, enough to make a wheel grow when few symbols go. ld64 starts the table with " \0".
    prefix = 2 if strings.startswith(b" \0") else 1
    table, moved = pruned_table(strings, used, prefix)
    table += bytes(align_up(len(table), img.ptr) - len(table))  # linkers pad it to a pointer
    fmt = _nlist_format(img)
    entries = (
        sym._replace(strx=moved[sym.strx], value=moved[sym.value] if sym.is_indirect else sym.value) for sym in kept
    )
    found.symbols.content = b"".join(struct.pack(fmt, *entry) for entry in entries)
    found.strings.content = table
    struct.pack_into(img.e + "I", head, found.symtab + _SYMTAB_NSYMS, len(kept))
    struct.pack_into(img.e + "I", head, found.symtab + _SYMTAB_STRSIZE, len(table))


def _patch_dysymtab(img: _Slice, head: bytearray, dysymtab: int, keep: list[bool]) -> None:
    """The local, defined-external and undefined ranges, counted in kept symbols."""
    before = [0]  # kept symbols before each index
    for kept in keep:
        before.append(before[-1] + kept)
    first = dysymtab + _LC_FIELDS + 4 * _DY_ILOCALSYM
    ranges = img.u32s(first, 2 * _DY_SYMBOL_RANGES)
    for k in range(_DY_SYMBOL_RANGES):
        start, length = ranges[2 * k], ranges[2 * k + 1]
        if start + length > len(keep):
            raise BinaryError("dysymtab symbol range out of bounds")
        new = (before[start], before[start + length] - before[start])
        struct.pack_into(img.e + "2I", head, first + 8 * k, *new)


def _reloc_symbol(img: _Slice, address: int, word: int) -> int | None:
    """Symbol index of an external relocation entry, or None when it names no symbol."""
    if not img.is64 and address & _R_SCATTERED:
        return None
    if img.e == "<":
        return word & _R_SYMBOLNUM_MASK if word >> _R_EXTERN_BIT_LE & 1 else None
    return word >> _R_SYMBOLNUM_SHIFT_BE if word >> _R_EXTERN_BIT_BE & 1 else None


def _remap_reloc(img: _Slice, address: int, word: int, new_index: list[int]) -> int:
    symbol = _reloc_symbol(img, address, word)
    if symbol is None:
        return word
    if img.e == "<":
        return (word & ~_R_SYMBOLNUM_MASK) | new_index[symbol]
    return (word & ~(_R_SYMBOLNUM_MASK << _R_SYMBOLNUM_SHIFT_BE)) | new_index[symbol] << _R_SYMBOLNUM_SHIFT_BE


# --- re-lay __LINKEDIT, patch the load commands, re-sign ------------------------------------------


def _relay(
    img: _Slice, found: _Linkedit, order: list[_Blob], old_signature: codesign.SuperBlob | None, head: bytearray
) -> int:
    """Give every blob its new offset, patch the fields holding them; return the new slice size."""
    # The original order; each blob keeps the alignment its offset had (capped at the pointer
    # size: ld64 pads blobs to it); the signature is 16-aligned and sized for its new offset.
    cursor = found.start
    for blob in order:
        if blob is found.signature:
            continue
        if blob.size:
            lowest_bit = blob.offset & -blob.offset
            cursor = align_up(cursor, min(lowest_bit, img.ptr))
        blob.new_offset = cursor
        cursor += blob.new_size
    if found.signature is not None and old_signature is not None:
        sig = found.signature
        sig.new_offset = align_up(cursor, _SIGNATURE_ALIGN)
        sig_size = codesign.adhoc_size(old_signature, sig.new_offset)
        struct.pack_into(img.e + "I", head, sig.fields[0] + 4, sig_size)  # datasize follows dataoff
        cursor = sig.new_offset + sig_size
    for blob in order:
        for pos in blob.fields:
            struct.pack_into(img.e + "I", head, pos, blob.new_offset)
    _patch_segment(head, img, found.segment, cursor - found.start)
    return cursor


def _patch_segment(head: bytearray, img: _Slice, seg: _Segment, filesize: int) -> None:
    """New ``__LINKEDIT`` filesize; vmsize follows it the way the linker rounded it."""
    vmsize = filesize if seg.vmsize == seg.filesize else seg.vmsize
    if seg.vmsize != seg.filesize:
        for page in _PAGE_SIZES:
            if seg.vmsize == align_up(seg.filesize, page):
                vmsize = align_up(filesize, page)
                break
    struct.pack_into(img.e + seg.fmt.word, head, seg.pos + seg.fmt.vmsize, vmsize)
    struct.pack_into(img.e + seg.fmt.word, head, seg.pos + seg.fmt.filesize, filesize)


def _fill_linkedit(img: _Slice, found: _Linkedit, order: list[_Blob], new_size: int) -> bytearray:
    """The new ``__LINKEDIT``: every blob at its new offset, zero padding, room for the signature."""
    tail = bytearray(new_size - found.start)
    for blob in order:
        if blob is found.signature:
            continue
        start = blob.new_offset - found.start
        data = blob.content if blob.content is not None else img.view[blob.offset : blob.offset + blob.size]
        tail[start : start + len(data)] = data
    return tail


def _resign(img: _Slice, found: _Linkedit, old: codesign.SuperBlob, head: bytearray, tail: bytearray) -> None:
    """Write the ad hoc signature of the new slice (``head``, the untouched middle, ``tail``)."""
    sig = found.signature
    text = img.segment(b"__TEXT")
    if sig is None:
        raise BinaryError("no code signature to replace")
    if text is None:
        raise BinaryError("signed image without a __TEXT segment")
    reader = _Composite(
        [
            (0, memoryview(head)),
            (img.commands_end, img.view[img.commands_end : found.start]),
            (found.start, memoryview(tail)[: sig.new_offset - found.start]),
        ]
    )
    signature = codesign.adhoc_signature(
        old, reader.read, sig.new_offset, text.fileoff, text.filesize, img.filetype == _MH_EXECUTE
    )
    start = sig.new_offset - found.start
    tail[start : start + len(signature)] = signature


# --- fat files --------------------------------------------------------------------------------


@dataclass
class _FatArch:
    cputype: int
    cpusubtype: int
    offset: int
    size: int
    align: int
    reserved: int


def _fat_entry_size(wide: bool) -> int:
    return _FAT_ARCH_64_SIZE if wide else _FAT_ARCH_SIZE


def _fat_arches(view: memoryview) -> tuple[bool, list[_FatArch]]:
    if len(view) < _FAT_HEADER_SIZE:
        raise BinaryError("fat header truncated")
    wide = bytes(view[:4]) == _FAT_MAGIC_64
    (count,) = struct.unpack_from(">I", view, 4)
    entry = _fat_entry_size(wide)
    header_end = _FAT_HEADER_SIZE + count * entry
    if not 0 < count < _FAT_MAX_ARCHES or header_end > len(view):
        raise BinaryError("fat header truncated or corrupt")
    arches = []
    for i in range(count):
        at = _FAT_HEADER_SIZE + entry * i
        if wide:
            arch = _FatArch(*struct.unpack_from(">2I2Q2I", view, at))
        else:
            cputype, cpusubtype, offset, size, align = struct.unpack_from(">5I", view, at)
            arch = _FatArch(cputype, cpusubtype, offset, size, align, reserved=0)
        if arch.offset < header_end or arch.offset + arch.size > len(view) or arch.align > _FAT_MAX_ALIGN_SHIFT:
            raise BinaryError("fat slice outside the file")
        arches.append(arch)
    by_offset = sorted(arches, key=lambda a: a.offset)
    for a, b in zip(by_offset, by_offset[1:]):
        if a.offset + a.size > b.offset:
            raise BinaryError("fat slices overlap")
    return wide, arches


def _fat_slice(view: memoryview, arch: _FatArch) -> _Slice:
    return _Slice(view[arch.offset : arch.offset + arch.size])


def _strip_fat(view: memoryview, level: Level | None) -> Result:
    wide, arches = _fat_arches(view)
    if max(a.offset + a.size for a in arches) != len(view):
        return Unchanged("data after the last slice of the fat file")
    names: list[str] = []
    outcomes: list[_SliceOutput | Refused] = []
    for arch in arches:
        img = _fat_slice(view, arch)
        names.append(img.arch)
        try:
            outcomes.append(_rewrite_slice(img, level))
        except Refused as refused:
            outcomes.append(refused)
    refusals = [(n, o) for n, o in zip(names, outcomes) if isinstance(o, Refused)]
    done = [o for o in outcomes if isinstance(o, _SliceOutput)]
    if not done:
        if all(o.clean for _, o in refusals):
            return Unchanged.of(refusals[0][1])
        return Unchanged("; ".join(f"{n}: {o.reason}" for n, o in refusals if not o.clean))

    pieces, size = _fat_layout(view, wide, arches, outcomes)
    if level is not None and size >= len(view):
        return Unchanged("stripped output would not be smaller")
    removed = _removed(sum(o.locals_removed for o in done), sum(o.stabs_removed for o in done))
    kept = tuple(f"{n} slice kept: {o.reason}" for n, o in refusals if not o.clean)
    return Stripped(pieces=tuple(pieces), size=size, removed=removed + kept)


def _fat_layout(
    view: memoryview, wide: bool, arches: list[_FatArch], outcomes: list[_SliceOutput | Refused]
) -> tuple[list[Piece], int]:
    """The new fat file: the slices in their old file order, each at its alignment, after a
    header that lists them in their old architecture order."""
    cursor = _FAT_HEADER_SIZE + _fat_entry_size(wide) * len(arches)
    placed: dict[int, tuple[int, int]] = {}  # arch index -> (new offset, new size)
    body: list[Piece] = []
    for index in sorted(range(len(arches)), key=lambda i: arches[i].offset):
        arch, outcome = arches[index], outcomes[index]
        offset = align_up(cursor, 1 << arch.align)
        if offset > cursor:
            body.append(bytes(offset - cursor))
        if isinstance(outcome, _SliceOutput):
            body.extend(outcome.pieces(arch.offset))
            cursor = offset + outcome.size
        else:
            body.append(Copy(arch.offset, arch.size))
            cursor = offset + arch.size
        placed[index] = (offset, cursor - offset)
    header = bytearray(view[:4]) + struct.pack(">I", len(arches))
    for index, arch in enumerate(arches):
        offset, size = placed[index]
        if wide:
            header += struct.pack(">2I2Q2I", arch.cputype, arch.cpusubtype, offset, size, arch.align, arch.reserved)
        elif offset + size >= 1 << 32:
            raise BinaryError("fat file too large for 32-bit offsets")
        else:
            header += struct.pack(">5I", arch.cputype, arch.cpusubtype, offset, size, arch.align)
    return [bytes(header), *body], cursor


def _removed(locals_removed: int, stabs_removed: int) -> tuple[str, ...]:
    out = []
    if locals_removed:
        out.append(f"{locals_removed} local symbols")
    if stabs_removed:
        out.append(f"{stabs_removed} debug-map entries")
    return tuple(out)


# --- public interface -------------------------------------------------------------------------


def _view(data: Buffer) -> memoryview:
    view = memoryview(data).cast("B")
    if len(view) < _FAT_HEADER_SIZE:
        raise BinaryError("file too short for Mach-O")
    return view


def _is_fat(view: memoryview) -> bool:
    return bytes(view[:4]) in _FAT_MAGICS


def _strip_thin(img: _Slice, level: Level | None) -> Result:
    try:
        out = _rewrite_slice(img, level)
    except Refused as refused:
        return Unchanged.of(refused)
    if level is not None and out.size >= img.size:
        return Unchanged("stripped output would not be smaller")
    removed = _removed(out.locals_removed, out.stabs_removed)
    return Stripped(pieces=tuple(out.pieces(0)), size=out.size, removed=removed)


def _strip(data: Buffer, level: Level | None) -> Result:
    view = _view(data)
    if _is_debug_file(view):
        return Unchanged(DEBUG_FILE_REASON)
    return _strip_fat(view, level) if _is_fat(view) else _strip_thin(_Slice(view), level)


@guarded("Mach-O")
def strip(data: Buffer, level: Level) -> Result:
    """Strip a thin or fat Mach-O file: ``all`` = ``strip -x``, ``debug`` = ``strip -S``."""
    return _strip(data, level)


@guarded("Mach-O")
def resign(data: Buffer) -> bytes:
    """Re-sign every signed slice ad hoc without stripping anything (checks and tests).

    For an untouched linker-signed file the result is byte-identical to the input.
    """
    result = _strip(data, None)
    if isinstance(result, Unchanged):
        return bytes(data)
    return result.materialize(data)


def is_debug_file(data: Buffer) -> bool:
    """True for a dSYM companion (thin, or fat with every slice one), judged from the headers
    and load commands alone; False for anything else, malformed files included."""
    try:
        return _is_debug_file(_view(data))
    except _UNREADABLE:
        return False


def _is_debug_file(view: memoryview) -> bool:
    """Whether the file is a dSYM companion; BinaryError for a fat file mixing dSYM and image
    slices."""
    images = [_fat_slice(view, a) for a in _fat_arches(view)[1]] if _is_fat(view) else [_Slice(view)]
    dsyms: int = sum(img.filetype == _MH_DSYM for img in images)
    if 0 < dsyms < len(images):
        # Only a mistake makes one (``dsymutil`` gives every architecture a dSYM slice; ``lipo``
        # joins whatever it is given): neither a debug file to keep nor an image to strip.
        raise BinaryError("universal file mixes dSYM companion slices with image slices")
    return dsyms > 0


def _slice_info(img: _Slice) -> BinaryInfo:
    strippable, note = strippable_by_level(lambda level: _strip_thin(img, level), img.size)
    return BinaryInfo(
        format=FORMAT,
        arch=img.arch,
        size=img.size,
        strippable=strippable,
        signature=img.signature_kind(),
        note=note,
        kind=img.kind,
    )


def _fat_label(archs: Iterable[str]) -> str:
    archs = list(archs)
    label = "universal2" if sorted(archs) == ["arm64", "x86_64"] else "universal"
    return f"{label} ({', '.join(archs)})"


@guarded("Mach-O")
def arch(data: Buffer) -> str:
    """The architecture label of ``inspect``, without planning any strip."""
    view = _view(data)
    if not _is_fat(view):
        return _Slice(view).arch
    _, arches = _fat_arches(view)
    return _fat_label(_fat_slice(view, a).arch for a in arches)


@guarded("Mach-O")
def inspect(data: Buffer) -> BinaryInfo:
    """Format, architectures, file kind, signature kind and strippable bytes per level."""
    view = _view(data)
    if _is_debug_file(view):
        no_savings: dict[str, int] = dict.fromkeys(LEVELS, 0)
        return BinaryInfo(FORMAT, arch(data), len(view), no_savings, note=DEBUG_FILE_REASON, kind=DEBUG_FILE_KIND)
    if not _is_fat(view):
        return _slice_info(_Slice(view))
    _, arches = _fat_arches(view)
    slices = tuple(_slice_info(_fat_slice(view, a)) for a in arches)
    strippable, fat_note = strippable_by_level(lambda level: _strip_fat(view, level), len(view))
    notes = [f"{s.arch}: {s.note}" for s in slices if s.note]
    return BinaryInfo(
        format=FORMAT,
        arch=_fat_label(s.arch for s in slices),
        size=len(view),
        strippable=strippable,
        signature=", ".join(dict.fromkeys(s.signature for s in slices)),
        note="; ".join(notes) or fat_note,
        slices=slices,
        kind=", ".join(dict.fromkeys(s.kind for s in slices)),
    )
