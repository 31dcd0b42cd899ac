"""ELF rewriter: strip debug sections and the static symbol table by compaction.

The loaded image (every ``PT_LOAD`` and whatever lies inside it) is kept byte for byte; only
non-allocated sections are dropped. Kept non-allocated sections, a rebuilt ``.shstrtab`` and the
section header table are appended after the image. Segments that sit *after* removed data (as
patchelf leaves them) are moved down, as rigid clusters, to the lowest file offset that keeps
them congruent to their virtual address.

The output is described as pieces: unchanged input runs are :class:`Copy` pieces, new headers
and patched tables are small ``bytes`` pieces, so a 400 MB library is planned without reading
more than its headers and symbol-table indices.
"""

from __future__ import annotations

import math
import struct
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import Callable, NamedTuple, TypeVar

from ._core import BinaryError, BinaryInfo, Buffer, Copy, Format, Level, Piece, Stripped, Unchanged

FORMAT: Format = "ELF"
MAGICS = (b"\x7fELF",)


def claims(head: bytes) -> bool:
    """Every file starting with the ELF magic is ELF."""
    return True


# e_type
ET_REL, ET_EXEC, ET_DYN, ET_CORE = 1, 2, 3, 4
# sh_type
SHT_NULL = 0
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_RELA = 4
SHT_HASH = 5
SHT_NOBITS = 8
SHT_REL = 9
SHT_DYNSYM = 11
SHT_GROUP = 17
SHT_SYMTAB_SHNDX = 18
SHT_GNU_HASH = 0x6FFFFFF6
SHT_GNU_VERSYM = 0x6FFFFFFF
# sh_flags
SHF_ALLOC = 0x2
SHF_INFO_LINK = 0x40
# p_type
PT_LOAD = 1
PT_DYNAMIC = 2
PT_INTERP = 3
# special section indices
SHN_LORESERVE = 0xFF00
SHN_XINDEX = 0xFFFF
PN_XNUM = 0xFFFF
# dynamic tags
DT_NULL = 0
DT_SONAME = 14
DT_FLAGS_1 = 0x6FFFFFFB
DF_1_PIE = 0x08000000

#: A short run of NUL bytes after the last section is tolerated (patchelf leaves one).
MAX_NUL_TAIL = 16

_DEBUG_PREFIXES = (".debug", ".zdebug", ".gnu.debuglto_", ".stab", ".gnu.linkonce.wi.")
_DEBUG_NAMES = (".line", ".gdb_index")

# Section types whose sh_link is meaningless once the linked section is gone.
_NEEDS_LINK = frozenset(
    (
        SHT_REL,
        SHT_RELA,
        SHT_SYMTAB_SHNDX,
        SHT_GROUP,
        SHT_HASH,
        SHT_GNU_HASH,
        SHT_SYMTAB,
        SHT_DYNSYM,
        SHT_GNU_VERSYM,
    )
)

_MACHINES: dict[int, Callable[[bool, bool], str]] = {
    3: lambda is64, le: "i386",
    62: lambda is64, le: "x86_64" if is64 else "x32",
    183: lambda is64, le: "aarch64" if le else "aarch64_be",
    40: lambda is64, le: "arm" if le else "armeb",
    22: lambda is64, le: "s390x" if is64 else "s390",
    20: lambda is64, le: "ppc" if not le else "ppcle",
    21: lambda is64, le: "ppc64le" if le else "ppc64",
    243: lambda is64, le: "riscv64" if is64 else "riscv32",
    8: lambda is64, le: ("mips64" if is64 else "mips") + ("el" if le else ""),
    258: lambda is64, le: "loongarch64" if is64 else "loongarch32",
    2: lambda is64, le: "sparc",
    43: lambda is64, le: "sparc64",
    50: lambda is64, le: "ia64",
    0: lambda is64, le: "none",
}


class _Refuse(Exception):
    """Internal: the file is valid but cannot be stripped safely; becomes ``Unchanged``."""


class _Section(NamedTuple):
    num: int
    name: str
    name_off: int
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    addralign: int
    entsize: int

    @property
    def file_size(self) -> int:
        return 0 if self.type == SHT_NOBITS else self.size

    @property
    def alloc(self) -> bool:
        return bool(self.flags & SHF_ALLOC)


class _Segment(NamedTuple):
    type: int
    flags: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int
    align: int


class _Elf:
    """The parsed headers of one ELF file (tables only, never section contents)."""

    def __init__(self, data: Buffer) -> None:
        self.data = data
        self.size = len(data)
        if self.size < 16 or bytes(data[:4]) != b"\x7fELF":
            raise BinaryError("not an ELF file")
        ei_class, ei_data = data[4], data[5]
        if ei_class not in (1, 2):
            raise BinaryError(f"bad ELF class {ei_class}")
        if ei_data not in (1, 2):
            raise BinaryError(f"bad ELF data encoding {ei_data}")
        self.is64 = ei_class == 2
        self.le = ei_data == 1
        e = "<" if self.le else ">"
        self.e = e
        if self.is64:
            self.ehdr_fmt = e + "16sHHIQQQIHHHHHH"
            self.shdr_fmt = e + "IIQQQQIIQQ"
            self.phdr_fmt = e + "IIQQQQQQ"
            self.sym_size = 24
            self.sym_shndx_at = 6  # st_name, st_info, st_other, then st_shndx
            self.word = 8
        else:
            self.ehdr_fmt = e + "16sHHIIIIIHHHHHH"
            self.shdr_fmt = e + "IIIIIIIIII"
            self.phdr_fmt = e + "IIIIIIII"
            self.sym_size = 16
            self.sym_shndx_at = 14
            self.word = 4
        self.ehdr_size = struct.calcsize(self.ehdr_fmt)
        self.shdr_size = struct.calcsize(self.shdr_fmt)
        self.phdr_size = struct.calcsize(self.phdr_fmt)
        if self.size < self.ehdr_size:
            raise BinaryError("truncated ELF header")
        (
            _ident,
            self.e_type,
            self.e_machine,
            _version,
            _entry,
            self.phoff,
            self.shoff,
            _flags,
            self.ehsize,
            self.phentsize,
            self.phnum,
            self.shentsize,
            self.shnum,
            self.shstrndx,
        ) = struct.unpack_from(self.ehdr_fmt, data, 0)
        self.sections: list[_Section] = []
        self.segments: list[_Segment] = []
        self.sec0: tuple[int, ...] = ()

    # -- tables -------------------------------------------------------------------------------

    def parse_tables(self) -> None:
        """Read the section and program header tables (with extended numbering)."""
        data, size = self.data, self.size
        shnum, phnum, shstrndx = self.shnum, self.phnum, self.shstrndx
        if self.shoff:
            if self.shentsize != self.shdr_size:
                raise BinaryError(f"bad e_shentsize {self.shentsize}")
            if self.shoff + self.shdr_size > size:
                raise BinaryError("section header table past end of file")
            self.sec0 = struct.unpack_from(self.shdr_fmt, data, self.shoff)
            # Extended numbering lives in section 0: sh_size, sh_link, sh_info.
            if shnum == 0:
                shnum = self.sec0[5]
            if shstrndx == SHN_XINDEX:
                shstrndx = self.sec0[6]
            if phnum == PN_XNUM:
                phnum = self.sec0[7]
            if self.shoff + shnum * self.shdr_size > size:
                raise BinaryError("section header table past end of file")
        else:
            shnum = 0
        if phnum and self.phentsize != self.phdr_size:
            raise BinaryError(f"bad e_phentsize {self.phentsize}")
        if phnum and self.phoff + phnum * self.phdr_size > size:
            raise BinaryError("program header table past end of file")
        self.real_shnum, self.real_phnum, self.real_shstrndx = shnum, phnum, shstrndx

        for i in range(phnum):
            f = struct.unpack_from(self.phdr_fmt, data, self.phoff + i * self.phdr_size)
            if self.is64:
                seg = _Segment(*f)
            else:
                p_type, off, vaddr, paddr, filesz, memsz, flags, align = f
                seg = _Segment(p_type, flags, off, vaddr, paddr, filesz, memsz, align)
            if seg.filesz and seg.offset + seg.filesz > size:
                raise BinaryError(f"segment {i} past end of file")
            self.segments.append(seg)

        if not shnum:
            return
        if shstrndx >= shnum:
            raise BinaryError(f"bad e_shstrndx {shstrndx}")
        raw = [struct.unpack_from(self.shdr_fmt, data, self.shoff + i * self.shdr_size) for i in range(shnum)]
        str_off, str_size = raw[shstrndx][4], raw[shstrndx][5]
        if raw[shstrndx][1] == SHT_NOBITS or str_off + str_size > size:
            raise BinaryError("section name table past end of file")
        names = _StringReader(data, str_off, str_size)
        for i, f in enumerate(raw):
            sec = _Section(i, names.get(f[0]) if i else "", *f)
            if sec.file_size and sec.offset + sec.size > size:
                raise BinaryError(f"section {sec.name or i} past end of file")
            self.sections.append(sec)

    # -- helpers ------------------------------------------------------------------------------

    def dynamic(self) -> list[tuple[int, int]]:
        """The ``PT_DYNAMIC`` entries up to ``DT_NULL`` (empty when there are none)."""
        fmt = self.e + ("qQ" if self.is64 else "iI")
        step = struct.calcsize(fmt)
        out: list[tuple[int, int]] = []
        for seg in self.segments:
            if seg.type != PT_DYNAMIC:
                continue
            for pos in range(seg.offset, seg.offset + seg.filesz - step + 1, step):
                tag, val = struct.unpack_from(fmt, self.data, pos)
                if tag == DT_NULL:
                    break
                out.append((tag, val))
            break
        return out

    def kind(self) -> str:
        if self.e_type == ET_EXEC:
            return "executable"
        if self.e_type == ET_REL:
            return "relocatable"
        if self.e_type == ET_CORE:
            return "core"
        if self.e_type != ET_DYN:
            return f"type {self.e_type}"
        try:
            dyn = dict(self.dynamic())
        except (struct.error, IndexError, ValueError):
            dyn = {}
        if dyn.get(DT_FLAGS_1, 0) & DF_1_PIE:
            return "PIE executable"
        has_interp = any(seg.type == PT_INTERP for seg in self.segments)
        if has_interp and DT_SONAME not in dyn:
            return "PIE executable"
        return "shared object"

    def arch(self) -> str:
        name = _MACHINES.get(self.e_machine)
        return name(self.is64, self.le) if name else f"machine {self.e_machine}"


class _StringReader:
    """Reads NUL-terminated names from a string table without loading all of it."""

    def __init__(self, data: Buffer, offset: int, size: int) -> None:
        self.data, self.offset, self.size = data, offset, size

    def get(self, pos: int) -> str:
        if pos >= self.size:
            raise BinaryError(f"section name offset {pos} out of range")
        start = self.offset + pos
        end = self.offset + self.size
        chunk = b""
        step = 64
        while True:
            stop = min(end, start + len(chunk) + step)
            chunk += bytes(self.data[start + len(chunk) : stop])
            nul = chunk.find(b"\0")
            if nul >= 0:
                return chunk[:nul].decode("utf-8", "replace")
            if stop >= end:
                return chunk.decode("utf-8", "replace")
            step *= 4


class _Block:
    """A run of input bytes that moves as one rigid unit (segments sharing file bytes)."""

    __slots__ = ("end", "mod", "new", "pinned", "start")

    def __init__(self, start: int, end: int, mod: int, pinned: bool) -> None:
        self.start, self.end, self.mod, self.pinned = start, end, mod, pinned
        self.new = start

    @property
    def delta(self) -> int:
        return self.start - self.new


def _is_debug(name: str) -> bool:
    return name.startswith(_DEBUG_PREFIXES) or name in _DEBUG_NAMES


def _align_up(value: int, align: int) -> int:
    return value if align <= 1 else (value + align - 1) // align * align


def _merge(intervals: list[tuple[int, int, int, bool]]) -> list[_Block]:
    """Union intervals that share bytes into blocks (moduli combine by lcm)."""
    blocks: list[_Block] = []
    for start, end, mod, pinned in sorted(intervals):
        if end <= start:
            continue
        if blocks and start < blocks[-1].end:
            b = blocks[-1]
            b.end = max(b.end, end)
            b.mod = math.lcm(b.mod, mod)
            b.pinned = b.pinned or pinned
        else:
            blocks.append(_Block(start, end, mod, pinned))
    return blocks


class _Layout:
    """Finds the block holding an input offset, and where that offset goes."""

    def __init__(self, blocks: list[_Block]) -> None:
        self.blocks = blocks
        self.starts = [b.start for b in blocks]

    def containing(self, offset: int, length: int) -> _Block | None:
        """The block holding ``[offset, offset + length)`` entirely (an empty range may
        sit at a block's end), or None."""
        i = bisect_right(self.starts, offset) - 1
        if i < 0:
            return None
        b = self.blocks[i]
        end = offset + length
        return b if (end <= b.end if length else offset <= b.end) else None

    def overlapping(self, offset: int, length: int) -> bool:
        i = bisect_right(self.starts, offset + length - 1) - 1
        return i >= 0 and self.blocks[i].end > offset

    def shift(self, offset: int, align: int = 1) -> int:
        """New position of ``offset``; one past a block snaps to that block's new end."""
        i = bisect_right(self.starts, offset) - 1
        if i < 0:
            return offset
        b = self.blocks[i]
        delta = b.delta if offset <= b.end else offset - (b.new + (b.end - b.start))
        if align > 1:
            # An empty PT_LOAD must still keep p_offset ≡ p_vaddr (mod p_align).
            delta -= delta % align
        return offset - delta


def _remap_symbols(
    elf: _Elf,
    sym: _Section,
    shndx: _Section | None,
    newidx: Sequence[int],
    drop: bool,
) -> tuple[bytes, bytes | None, int, int] | None:
    """Rewrite a symbol table's ``st_shndx`` values for the new section numbering.

    Returns None when nothing changes, else (table, extended-index table or None, dropped
    local symbols, dropped symbols). With ``drop``, symbols defined in a removed section go;
    otherwise such a symbol is a refusal (dynamic symbols cannot be removed).
    """
    data, ssz, at = elf.data, elf.sym_size, elf.sym_shndx_at
    count = sym.size // ssz
    if not count:
        return None
    fmt = elf.e + f"{at}xH{ssz - at - 2}x"
    with memoryview(data) as whole, whole[sym.offset : sym.offset + count * ssz] as view:
        values = [v for (v,) in struct.iter_unpack(fmt, view)]
    nsec = len(newidx)
    distinct = set(values)
    if SHN_XINDEX not in distinct and all(not 0 < v < min(nsec, SHN_LORESERVE) or newidx[v] == v for v in distinct):
        return None  # the common case: symbols only name sections that keep their index

    xvals: list[int] = []
    if shndx is not None and shndx.type != SHT_NOBITS:
        xvals = list(struct.unpack_from(f"{elf.e}{min(count, shndx.size // 4)}I", data, shndx.offset))
    buf = bytearray(data[sym.offset : sym.offset + sym.size])
    xbuf = bytearray(data[shndx.offset : shndx.offset + shndx.size]) if xvals and shndx else None
    pack_h = struct.Struct(elf.e + "H")
    pack_i = struct.Struct(elf.e + "I")
    keep: list[int] = []
    dropped_locals = 0
    changed = False
    for i, v in enumerate(values):
        if v == SHN_XINDEX:
            x = xvals[i] if i < len(xvals) else 0
            nx = newidx[x] if 0 < x < nsec else x
            if nx == -1:
                if not drop:
                    raise _Refuse(f"a symbol of {sym.name} is defined in a removed section")
                dropped_locals += i < sym.info
                continue
            if nx != x and xbuf is not None:
                pack_i.pack_into(xbuf, 4 * i, nx)
                changed = True
        elif 0 < v < min(nsec, SHN_LORESERVE):
            nv = newidx[v]
            if nv == -1:
                if not drop:
                    raise _Refuse(f"a symbol of {sym.name} is defined in a removed section")
                dropped_locals += i < sym.info
                continue
            if nv != v:
                pack_h.pack_into(buf, i * ssz + at, nv)
                changed = True
        keep.append(i)
    dropped = count - len(keep)
    if not changed and not dropped:
        return None
    if dropped:
        table = b"".join(bytes(buf[i * ssz : (i + 1) * ssz]) for i in keep)
        xtable = b"".join(bytes(xbuf[4 * i : 4 * i + 4]) for i in keep) if xbuf else None
    else:
        table, xtable = bytes(buf), (bytes(xbuf) if xbuf is not None else None)
    return table, xtable, dropped_locals, dropped


_T = TypeVar("_T")


def _guard(fn: Callable[[], _T]) -> _T:
    """Turn low-level parsing failures into :class:`BinaryError`."""
    try:
        return fn()
    except BinaryError:
        raise
    except (struct.error, IndexError, ValueError, OverflowError, KeyError) as exc:
        raise BinaryError(f"malformed ELF file ({type(exc).__name__}: {exc})") from None


def strip(data: Buffer, level: Level) -> Stripped | Unchanged:
    """Strip ``data`` (a whole ELF file) at ``level`` ("all" or "debug")."""
    if level not in ("all", "debug"):
        raise ValueError(f"bad strip level {level!r}")
    try:
        return _guard(lambda: _strip(data, level))
    except _Refuse as exc:
        return Unchanged(str(exc))


def arch(data: Buffer) -> str:
    """The architecture ``inspect`` reports, from the ELF header alone."""
    return _guard(lambda: _Elf(data)).arch()


def inspect(data: Buffer) -> BinaryInfo:
    """Describe one ELF file; ``strippable`` is what each level would save."""
    elf = _guard(lambda: _Elf(data))
    _guard(elf.parse_tables)
    strippable: dict[str, int] = {}
    note: str | None = None
    levels: tuple[Level, ...] = ("all", "debug")
    for level in levels:
        result = strip(data, level)
        if isinstance(result, Stripped):
            strippable[level] = elf.size - result.size
        else:
            strippable[level] = 0
            if level == "all":
                note = result.reason
    return BinaryInfo(
        format="ELF",
        arch=elf.arch(),
        size=elf.size,
        strippable=strippable,
        note=note,
        kind=elf.kind(),
    )


def _strip(data: Buffer, level: Level) -> Stripped | Unchanged:
    elf = _Elf(data)
    if elf.e_type == ET_REL:
        return Unchanged("relocatable object: its symbols are needed for linking")
    if elf.e_type == ET_CORE:
        return Unchanged("core dump")
    if elf.e_type not in (ET_EXEC, ET_DYN):
        return Unchanged(f"unsupported ELF type {elf.e_type}")
    elf.parse_tables()
    secs = elf.sections
    if not secs:
        return Unchanged("no section headers", clean=True)
    shstrndx = elf.real_shstrndx

    removed = _choose_removed(elf, level)
    if not removed:
        what = "no debug sections" if level == "debug" else "already stripped"
        return Unchanged(what, clean=True)

    # Everything the file is known to contain; more than that is a payload we must not lose.
    known_end = max(
        [
            elf.ehdr_size,
            elf.shoff + elf.real_shnum * elf.shdr_size,
            elf.phoff + elf.real_phnum * elf.phdr_size,
        ]
        + [s.offset + s.file_size for s in secs]
        + [p.offset + p.filesz for p in elf.segments]
    )
    if elf.size > known_end:
        tail = elf.size - known_end
        if tail > MAX_NUL_TAIL or any(bytes(data[known_end:]).strip(b"\0")):
            raise _Refuse(f"{tail} bytes of data appended after the last section")

    # -- the rigid blocks of the image ----------------------------------------------------------
    intervals: list[tuple[int, int, int, bool]] = [(0, max(elf.ehdr_size, elf.ehsize), 1, True)]
    if elf.real_phnum:
        # The program header table moves only with the segment that holds it.
        intervals.append((elf.phoff, elf.phoff + elf.real_phnum * elf.phdr_size, elf.word, False))
    for seg in elf.segments:
        if seg.filesz:
            # PT_LOAD offsets must stay congruent to p_vaddr mod p_align; so must any
            # other segment that does not sit inside a load segment.
            intervals.append((seg.offset, seg.offset + seg.filesz, max(seg.align, 1), False))
    for s in secs:
        if s.alloc and s.file_size:
            intervals.append((s.offset, s.offset + s.size, max(s.addralign, 1), False))
    blocks = _merge(intervals)
    layout = _Layout(blocks)
    # A kept non-allocated section straddling a block's edge joins the block.
    while True:
        extra = [
            (s.offset, s.offset + s.size, 1, False)
            for s in secs
            if s.num
            and s.num not in removed
            and not s.alloc
            and s.file_size
            and layout.overlapping(s.offset, s.size)
            and layout.containing(s.offset, s.size) is None
        ]
        if not extra:
            break
        intervals += extra
        blocks = _merge(intervals)
        layout = _Layout(blocks)

    # Everything outside the blocks leaves its place: removed sections, kept non-allocated
    # sections (appended later) and the old section header table.
    appended = [
        s
        for s in secs
        if s.num and s.num not in removed and not s.alloc and layout.containing(s.offset, s.file_size) is None
    ]
    holes = [s.offset for s in secs if s.num and s.file_size and layout.containing(s.offset, s.size) is None]
    if layout.containing(elf.shoff, elf.real_shnum * elf.shdr_size) is None:
        holes.append(elf.shoff)
    first_hole = min(holes, default=elf.size)
    cursor = 0
    for b in blocks:
        if b.pinned or b.start < first_hole:
            b.new = b.start
        else:
            # Lowest offset at or after the cursor that keeps the block's congruence.
            b.new = cursor + (b.start - cursor) % b.mod
        cursor = b.new + (b.end - b.start)

    if any(seg.type == PT_INTERP for seg in elf.segments) and elf.real_phnum:
        # Older kernels compute AT_PHDR from e_phoff and the first PT_LOAD: an executable's
        # program header table must not move relative to it.
        ph = layout.containing(elf.phoff, elf.real_phnum * elf.phdr_size)
        if ph is not None and ph.delta:
            raise _Refuse("program headers of an executable would move")

    # -- new section numbering -------------------------------------------------------------------
    newidx: list[int] = []
    n = 0
    for s in secs:
        if s.num in removed:
            newidx.append(-1)
        else:
            newidx.append(n)
            n += 1
    new_shnum = n

    # -- symbol tables ---------------------------------------------------------------------------
    patches: list[tuple[int, bytes]] = []  # (input offset inside a block, replacement)
    contents: dict[int, bytes] = {}  # section index -> new contents (appended sections)
    new_sizes: dict[int, int] = {}
    new_info: dict[int, int] = {}
    shndx_of = {s.link: s for s in secs if s.type == SHT_SYMTAB_SHNDX and s.num not in removed}
    if newidx != list(range(len(secs))):
        for s in secs:
            if s.num in removed or s.type not in (SHT_DYNSYM, SHT_SYMTAB):
                continue
            if s.type == SHT_NOBITS or not s.size:
                continue
            xs = shndx_of.get(s.num)
            res = _remap_symbols(elf, s, xs, newidx, drop=s.type == SHT_SYMTAB)
            if res is None:
                continue
            table, xtable, dropped_locals, dropped = res
            if dropped:
                if any(
                    t.link == s.num and t.num not in removed and t.type != SHT_SYMTAB_SHNDX and t.type != SHT_STRTAB
                    for t in secs
                ):
                    raise _Refuse(f"sections refer to symbols of {s.name} by index")
                if layout.containing(s.offset, s.size) is not None:
                    raise _Refuse(f"{s.name} lies inside a loaded segment")
                new_sizes[s.num] = len(table)
                new_info[s.num] = s.info - dropped_locals
            _place(contents, patches, layout, s, table)
            if xtable is not None and xs is not None:
                if len(xtable) != xs.size:
                    new_sizes[xs.num] = len(xtable)
                _place(contents, patches, layout, xs, xtable)

    # -- .shstrtab --------------------------------------------------------------------------------
    shstr = secs[shstrndx]
    rebuild_names = (
        not shstr.alloc
        and any(s.num == shstrndx for s in appended)
        and not any(t.link == shstrndx and t.num not in removed for t in secs if t.num)
    )
    name_offs: dict[int, int] = {}
    if rebuild_names:
        kept_names = {s.num: s.name.encode("utf-8", "surrogateescape") for s in secs if s.num not in removed}
        names, where = _string_table(kept_names.values())
        name_offs = {i: where[n] for i, n in kept_names.items()}
        contents[shstrndx] = names
        new_sizes[shstrndx] = len(names)

    # -- place the appended sections, then the section header table ---------------------------
    new_offset: dict[int, int] = {}
    for s in sorted(appended, key=lambda t: (t.offset, t.num)):
        size = new_sizes.get(s.num, s.file_size)
        cursor = _align_up(cursor, s.addralign)
        new_offset[s.num] = cursor
        cursor += size if s.type != SHT_NOBITS else 0
    new_shoff = _align_up(cursor, elf.word)
    new_size = new_shoff + new_shnum * elf.shdr_size
    if new_size >= elf.size:
        raise _Refuse("stripping would not make the file smaller")

    for s in secs:
        if s.num not in new_offset and s.num not in removed:
            new_offset[s.num] = layout.shift(s.offset) if s.num else 0

    # -- program headers ---------------------------------------------------------------------------
    new_phoff = layout.shift(elf.phoff) if elf.real_phnum else elf.phoff
    ph_table = bytearray()
    ph_changed = new_phoff != elf.phoff
    for seg in elf.segments:
        if seg.filesz:
            blk = layout.containing(seg.offset, seg.filesz)
            assert blk is not None
            off = seg.offset - blk.delta
        else:
            off = layout.shift(seg.offset, max(seg.align, 1) if seg.type == PT_LOAD else 1)
        ph_changed = ph_changed or off != seg.offset
        if elf.is64:
            ph_table += struct.pack(
                elf.phdr_fmt,
                seg.type,
                seg.flags,
                off,
                seg.vaddr,
                seg.paddr,
                seg.filesz,
                seg.memsz,
                seg.align,
            )
        else:
            ph_table += struct.pack(
                elf.phdr_fmt,
                seg.type,
                off,
                seg.vaddr,
                seg.paddr,
                seg.filesz,
                seg.memsz,
                seg.flags,
                seg.align,
            )
    if ph_changed:
        patches.append((elf.phoff, bytes(ph_table)))

    # -- section headers ---------------------------------------------------------------------------
    new_shstrndx = newidx[shstrndx]
    sh_table = bytearray()
    for s in secs:
        if s.num in removed:
            continue
        link, info, size = s.link, s.info, new_sizes.get(s.num, s.size)
        if s.num == 0:
            # Extended numbering: the real counts live in section 0 when they overflow.
            size = new_shnum if new_shnum >= SHN_LORESERVE else (0 if elf.shnum == 0 else s.size)
            link = new_shstrndx if new_shstrndx >= SHN_LORESERVE else (0 if elf.shstrndx == SHN_XINDEX else s.link)
        else:
            if 0 < link < len(newidx):
                link = max(newidx[link], 0)
            if (s.type in (SHT_REL, SHT_RELA) or s.flags & SHF_INFO_LINK) and 0 < info < len(newidx):
                info = max(newidx[info], 0)
            info = new_info.get(s.num, info)
        name = name_offs.get(s.num, s.name_off)
        sh_table += struct.pack(
            elf.shdr_fmt,
            name,
            s.type,
            s.flags,
            s.addr,
            new_offset[s.num],
            size,
            link,
            info,
            s.addralign,
            s.entsize,
        )

    # -- ELF header --------------------------------------------------------------------------------
    header = bytearray(data[: elf.ehdr_size])
    fields = struct.unpack_from(elf.ehdr_fmt, header, 0)
    e_shnum = 0 if new_shnum >= SHN_LORESERVE else new_shnum
    e_shstrndx = SHN_XINDEX if new_shstrndx >= SHN_LORESERVE else new_shstrndx
    struct.pack_into(
        elf.ehdr_fmt,
        header,
        0,
        *fields[:5],
        new_phoff,
        new_shoff,
        *fields[7:12],
        e_shnum,
        e_shstrndx,
    )
    patches.append((0, bytes(header)))

    pieces = _assemble(blocks, patches, appended, new_offset, contents, bytes(sh_table), new_shoff)
    total = sum(p.length if isinstance(p, Copy) else len(p) for p in pieces)
    if total != new_size:  # pragma: no cover - an internal inconsistency, never a valid output
        raise BinaryError(f"internal layout error ({total} != {new_size})")
    return Stripped(tuple(pieces), new_size, removed=tuple(secs[i].name for i in sorted(removed)))


def _string_table(strings: Iterable[bytes]) -> tuple[bytes, dict[bytes, int]]:
    """A string table holding ``strings``; a name that ends another shares its bytes
    (``.strtab`` inside ``.shstrtab``), as linkers do."""
    table = bytearray(b"\0")
    where: dict[bytes, int] = {b"": 0}
    longer = b""
    # Sorted by reversed spelling, a suffix comes right after the names that end with it.
    for name in sorted(set(strings) - {b""}, key=lambda n: n[::-1], reverse=True):
        if longer.endswith(name):
            where[name] = where[longer] + len(longer) - len(name)
            continue
        where[name] = len(table)
        table += name + b"\0"
        longer = name
    return bytes(table), where


def _choose_removed(elf: _Elf, level: Level) -> set[int]:
    """Indices of the sections the level removes, closed under dependent sections."""
    secs = elf.sections
    shstrndx = elf.real_shstrndx
    removed: set[int] = set()
    strtabs: set[int] = set()
    for s in secs[1:]:
        if s.alloc or s.num == shstrndx:
            continue
        if _is_debug(s.name):
            removed.add(s.num)
        elif level == "all" and s.type == SHT_SYMTAB:
            removed.add(s.num)
            if 0 < s.link < len(secs):
                strtabs.add(s.link)
    if not removed:
        return removed
    changed = True
    while changed:
        changed = False
        for s in secs[1:]:
            if s.num in removed or s.alloc or s.num == shstrndx:
                continue
            relocs = s.type in (SHT_REL, SHT_RELA) or s.flags & SHF_INFO_LINK
            if (relocs and s.info in removed) or (s.type in _NEEDS_LINK and s.link in removed):
                removed.add(s.num)
                changed = True
        for t in sorted(strtabs - removed):
            st = secs[t]
            if st.alloc or t == shstrndx or st.type != SHT_STRTAB:
                continue
            if not any(s.link == t and s.num not in removed for s in secs[1:]):
                removed.add(t)
                changed = True
    return removed


def _place(
    contents: dict[int, bytes],
    patches: list[tuple[int, bytes]],
    layout: _Layout,
    sec: _Section,
    table: bytes,
) -> None:
    """New contents for a section: a patch if it sits in the image, else its appended bytes."""
    if layout.containing(sec.offset, sec.size) is not None:
        patches.append((sec.offset, table))
    else:
        contents[sec.num] = table


def _assemble(
    blocks: list[_Block],
    patches: list[tuple[int, bytes]],
    appended: list[_Section],
    new_offset: dict[int, int],
    contents: dict[int, bytes],
    sh_table: bytes,
    new_shoff: int,
) -> list[Piece]:
    """The output as pieces: blocks (with patches), appended sections, section headers."""
    # (output offset, input offset it stands for or -1, length, replacement bytes or None)
    items: list[tuple[int, int, int, bytes | None]] = []
    patches = sorted(patches)
    for p, q in zip(patches, patches[1:]):
        if p[0] + len(p[1]) > q[0]:
            raise BinaryError("overlapping ELF tables")
    for blk in blocks:
        pos = blk.start
        for off, repl in patches:
            if off < blk.start or off >= blk.end:
                continue
            if off + len(repl) > blk.end:
                raise BinaryError("an ELF table crosses a segment boundary")
            if off > pos:
                items.append((pos - blk.delta, pos, off - pos, None))
            items.append((off - blk.delta, off, len(repl), repl))
            pos = off + len(repl)
        if blk.end > pos:
            items.append((pos - blk.delta, pos, blk.end - pos, None))
    for s in appended:
        if s.type == SHT_NOBITS:
            continue
        if s.num in contents:
            items.append((new_offset[s.num], -1, len(contents[s.num]), contents[s.num]))
        elif s.size:
            items.append((new_offset[s.num], s.offset, s.size, None))
    items.append((new_shoff, -1, len(sh_table), sh_table))
    items.sort(key=lambda t: t[0])

    pieces: list[Piece] = []

    def add(piece: Piece) -> None:
        last = pieces[-1] if pieces else None
        if isinstance(piece, Copy):
            if isinstance(last, Copy) and last.offset + last.length == piece.offset:
                pieces[-1] = Copy(last.offset, last.length + piece.length)
                return
        elif isinstance(last, bytes) and len(last) + len(piece) <= 1 << 16:
            pieces[-1] = last + piece
            return
        pieces.append(piece)

    pos = 0
    src_end = 0  # input offset matching ``pos``, or -1 once the output has shifted
    for out_off, src, length, new in items:
        if out_off < pos:
            raise BinaryError("overlapping ELF contents")
        if out_off > pos:
            # Padding: where nothing moved, copy the original gap so the output stays a
            # byte-identical prefix of the input (the engine then reuses its compressed form).
            add(Copy(pos, out_off - pos) if src_end == pos and src == out_off else bytes(out_off - pos))
        if length:
            add(Copy(src, length) if new is None else new)
        pos = out_off + length
        src_end = src + length if src >= 0 else -1
    return pieces
