"""ELF debug information kept out of the stripped file: the ``objcopy --only-keep-debug`` form
of a binary's debug file, its build-id, the ``.gnu_debuglink`` that names it, and the
MiniDebugInfo (``.gnu_debugdata``) that keeps function names for backtraces."""

from __future__ import annotations

import bisect
import lzma
import mmap
import operator
import struct
import sys
import zlib
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import accumulate, compress, repeat
from typing import Optional

from ._core import BinaryError, Buffer, Copy, Level, Piece, Refused, align_up, guarded, piece_length
from .elf import (
    SHT_DYNSYM,
    SHT_NOBITS,
    SHT_SYMTAB,
    _choose_removed,
    _Elf,
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
    layout, size = _keep_debug_layout(elf, keep, {})
    pieces = tuple(p for p in layout if not isinstance(p, _Names))  # all of them: nothing is replaced
    return DebugParts(pieces, size, build_id(elf), _split_dwarf(elf))


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


#: xz preset of ``.gnu_debugdata``. The symbol image is mostly C++ names (libtorch_cpu: 55 of
#: 63 MB); sorted, they compress to within 3 % of what preset 6 got in their old order, in a
#: fifteenth of the time (bench/README.md, "MiniDebugInfo").
MINI_PRESET = 0
_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": MINI_PRESET}]
#: The stream header (check: CRC-32) and the block header (no sizes, one LZMA2 filter) that
#: liblzma writes for these filters, taken from a stream it made.
_SAMPLE = lzma.compress(b"\0", format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, filters=_FILTERS)
_STREAM_HEADER = _SAMPLE[:12]
_BLOCK_HEADER = _SAMPLE[12 : 12 + (_SAMPLE[12] + 1) * 4]
#: Kept names are sorted, and compressed on other threads, in batches of about this many
#: bytes, one after another as the input's string table is read: the names are never all in
#: memory at once (libtorch_cpu's MiniDebugInfo grows the process by 68 MiB, not 125), and
#: the last batch is compressed a moment after the table has been read rather than all of
#: them then. Sorted in batches of 4 MB rather than as a whole, libtorch_cpu's 55 MB of
#: names compress 16 % worse (2.19 MB, not 1.89 MB). Batches are cut by size: the output
#: does not depend on the machine.
PART_SIZE = 4 << 20
#: Names of fewer bytes than this are compressed with the rest of the image, in one stream.
PARALLEL_FROM = 1 << 20
#: Batches of names being compressed at once, each on a thread of its own, at most: the next
#: batch is read and sorted meanwhile, then waits for the oldest (two would cost 8 MiB more).
IN_FLIGHT = 1
#: Bytes of the string table read at once while its names are picked out. A window that
#: stays in a core's cache while it is split and its names picked: 4 MiB cost libtorch_cpu
#: about 50 ms more CPU.
NAMES_WINDOW = 1 << 20
#: Input bytes handed to the compressor at once.
CHUNK = 64 << 10
#: Names joined for the compressor at once (C++ names: about 100 kB).
_JOINED = 512


class _Names:
    """A string table in the making: a NUL, then every name and its NUL, in ``names``' order.
    When its names went to the compressor in batches, just its size (``names`` is empty)."""

    def __init__(self, names: list[bytes], size: Optional[int] = None) -> None:
        self.names = names
        self.size = 1 + sum(map(len, names)) + len(names) if size is None else size

    def __len__(self) -> int:
        return self.size

    def chunks(self) -> Iterator[bytes]:
        yield b"\0"
        for at in range(0, len(self.names), _JOINED):
            yield b"\0".join(self.names[at : at + _JOINED]) + b"\0"


@guarded("ELF")
def mini_debuginfo(data: Buffer) -> Optional[bytes]:
    """The xz-compressed ELF holding the function symbols ``.symtab`` has and ``.dynsym``
    lacks (the MiniDebugInfo convention read by gdb, elfutils, so systemd-coredump, and
    libbacktrace), or None when there are none.

    That ELF has the binary's section table. Its notes keep their bytes; its other sections
    are ``SHT_NOBITS`` (of size 0 when not allocated) but a ``.symtab`` of those symbols
    (locals first, each group in the input's order) and a ``.strtab`` of their names,
    sorted (in batches of ``PART_SIZE`` bytes when there are many): neighbouring C++ names
    share long prefixes, which the compressor finds cheaply. The input's string table is read
    a window at a time, never held whole; a large one's batches are compressed on other
    threads while it is read. The xz stream is one block, as libbacktrace requires (see
    :func:`_xz_stream`)."""
    try:
        elf = _strippable_elf(data)
    except Refused:
        return None
    symtab = next((s for s in elf.sections if s.type == SHT_SYMTAB and s.file_size), None)
    if symtab is None or not 0 < symtab.link < len(elf.sections):
        return None
    indices, name_offsets, local = _function_symbols(elf, _entries(elf, symtab))
    # Each distinct st_name, ascending (the order the input's table is read in), and the rank
    # of each symbol's among them. Found by sorting and bisecting rather than with dicts,
    # whose 350,000 entries (libtorch_cpu) would be the peak of the process's memory.
    ordered = sorted(name_offsets)  # nearly sorted already: linkers write names in symbol order
    distinct = list(compress(ordered, map(operator.ne, ordered, [-1, *ordered[:-1]])))
    del ordered
    ranks = array("I", map(bisect.bisect_left, repeat(distinct), name_offsets))
    offsets = array("I", distinct)
    del distinct, name_offsets
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        renamer = _Renamer(frozenset(_dynamic_names(elf)), pool)
        for spelled in _names_in_windows(elf.data, elf.sections[symtab.link], offsets):
            renamer.add(spelled)
        del offsets
        names = renamer.finish()
        if len(names) == 1:
            return None  # no name to keep
        columns = _Columns(indices, ranks, local, renamer.new_at)
        del indices, ranks, renamer.new_at  # _image lets go of each when done
        return _image(elf, symtab, columns, names, renamer.parts or None)


class _Renamer:
    """The new string table, made a batch of names at a time as the input's is read: each
    batch's kept names (not b"", not in ``unkept``) sorted, each once, and given their offsets
    in the new table; a batch of ``PART_SIZE`` bytes goes to ``pool`` to be compressed."""

    def __init__(self, unkept: frozenset[bytes], pool: ThreadPoolExecutor) -> None:
        self.unkept = unkept | {b""}
        self.pool = pool
        #: the new offset of every name given to ``add``, in order (0: not kept)
        self.new_at = array("I")
        #: the batches compressed or being compressed, in order
        self.parts: list[Future[_Part]] = []
        self.size = 1  # the leading NUL
        self._batch: list[bytes] = []
        self._batch_size = 0
        self._sorted: list[bytes] = []  # kept names renamed but not compressed yet

    def add(self, spelled: list[bytes]) -> None:
        self._batch += spelled
        self._batch_size += sum(map(len, spelled)) + len(spelled)
        if self._batch_size >= PART_SIZE:
            self._rename()
            self._compress()

    def finish(self) -> _Names:
        """The new table: as its names when they are few and no batch was compressed (they go
        in one stream with the rest of the image), else as its size once the last batch is on
        its way."""
        self._rename()
        if not self.parts and self.size < PARALLEL_FROM:
            return _Names(self._sorted)
        self._compress()
        return _Names([], self.size)

    def _rename(self) -> None:
        spelled, self._batch, self._batch_size = self._batch, [], 0
        kept = sorted(set(spelled) - self.unkept)
        offsets = list(accumulate(map((1).__add__, map(len, kept)), initial=self.size))
        where = dict(zip(kept, offsets))  # the last offset is past the batch: the table's new size
        self.new_at.extend(map(where.get, spelled, repeat(0)))
        self.size = offsets[-1]
        self._sorted += kept

    def _compress(self) -> None:
        if not self._sorted:
            return
        joined = (b"" if self.parts else b"\0") + b"\0".join(self._sorted) + b"\0"
        self._sorted = []
        if len(self.parts) >= IN_FLIGHT:
            self.parts[-IN_FLIGHT].result()  # bounded memory: few joined batches at once
        self.parts.append(self.pool.submit(_lzma2, [joined]))


@dataclass
class _Columns:
    """The function symbols of :func:`_function_symbols`, with the rank of their ``st_name``
    among the distinct ones; and where the name of each rank goes in the new string table
    (0: not kept)."""

    indices: array[int]
    ranks: array[int]
    local: bytes
    new_at: array[int]


def _image(
    elf: _Elf,
    symtab: _Section,
    columns: _Columns,
    names: _Names,
    parts: list[Future[_Part]] | None,
) -> bytes:
    """The MiniDebugInfo of the functions in ``columns``, named in ``names`` (the ones kept),
    compressed; ``parts``: ``names`` being compressed already, batch by batch."""
    st_names = array("I", map(columns.new_at.__getitem__, columns.ranks))
    columns.ranks = columns.new_at = array("I")
    chosen = bytes(map(bool, st_names))
    indices = array("I", compress(columns.indices, chosen))
    st_names = array("I", compress(st_names, chosen))
    local = bytes(compress(columns.local, chosen))
    first_global = local.find(0)
    if first_global >= 0 and local.find(1, first_global) >= 0:  # locals come first, as sh_info requires
        others = local.translate(_NOT)
        indices = array("I", compress(indices, local)) + array("I", compress(indices, others))
        st_names = array("I", compress(st_names, local)) + array("I", compress(st_names, others))
    # Read again rather than kept: while the names fill memory, the entries are not there too.
    table = _gather(_entries(elf, symtab), elf.sym_size, indices)
    if elf.le != (sys.byteorder == "little"):
        st_names.byteswap()
    with memoryview(table) as view, view.cast("I") as words:
        step = elf.sym_size // 4
        words[step::step] = st_names  # st_name opens every entry
    contents: dict[int, tuple[bytes | _Names, Optional[int]]] = {
        symtab.num: (bytes(table), 1 + local.count(1)),
        symtab.link: (names, None),
    }
    del table, st_names, indices
    # .debug_info and the like get size 0, not their old size: libbacktrace reads sections by
    # name and size, whatever their type, and gives up on the garbage DWARF it finds there.
    pieces, _size = _keep_debug_layout(elf, {elf.real_shstrndx}, contents, empty_unallocated=True)
    return _xz(elf.data, pieces, parts)


def _entries(elf: _Elf, symtab: _Section) -> bytes:
    return _read(elf.data, symtab.offset, symtab.size - symtab.size % elf.sym_size)


def _read(data: Buffer, at: int, length: int) -> bytes:
    """A copy of ``length`` bytes of ``data`` from ``at``. Of a read-only mapping (a blob's),
    the pages read are then dropped (they stay in the page cache): a 400 MB library's symbol
    tables would otherwise count as resident memory of ours until it is unmapped. A writable
    mapping may be private, whose dropped pages would lose their changes: left as it is."""
    chunk = bytes(data[at : at + length])
    if isinstance(data, mmap.mmap) and chunk and hasattr(mmap, "MADV_DONTNEED"):
        with memoryview(data) as view:
            readonly = view.readonly
        if readonly:
            first = at - at % mmap.PAGESIZE
            data.madvise(mmap.MADV_DONTNEED, first, at + len(chunk) - first)
    return chunk


#: Tables of :func:`bytes.translate`: a column of ``st_info`` or ``st_shndx`` bytes becomes
#: a column of 1s and 0s, which :func:`itertools.compress` and big integers select with.
_FUNCTION = bytes(int(b & 0xF in (STT_FUNC, STT_GNU_IFUNC)) for b in range(256))
_LOCAL = bytes(int(b >> 4 == STB_LOCAL) for b in range(256))
_NONZERO = bytes(int(b != 0) for b in range(256))
_NOT_FF = bytes(int(b != 0xFF) for b in range(256))
_NOT = bytes(int(not b) for b in range(256))


def _function_symbols(elf: _Elf, symbols: bytes) -> tuple[array[int], array[int], bytes]:
    """The functions (``STT_FUNC``, ``STT_GNU_IFUNC``) among ``symbols`` (a symbol table's
    entries) that are named and defined in a section, as three columns: their index, their
    ``st_name`` and whether they are local (1 or 0). Column at a time, no loop per symbol."""
    names, info, low, high = _columns(elf, symbols)
    section = _defined(low, high) & int.from_bytes(high.translate(_NOT_FF), "big")  # not SHN_LORESERVE and above
    wanted = section & int.from_bytes(info.translate(_FUNCTION), "big") & int.from_bytes(bytes(map(bool, names)), "big")
    chosen = wanted.to_bytes(len(info), "big")
    return (
        array("I", compress(range(len(info)), chosen)),
        array("I", compress(names, chosen)),
        bytes(compress(info.translate(_LOCAL), chosen)),
    )


def _defined(low: bytes, high: bytes) -> int:
    """The symbols whose ``st_shndx`` (its ``low`` and ``high`` bytes, a column each) is not
    ``SHN_UNDEF``: a bit each, the first symbol's the highest."""
    return int.from_bytes(low.translate(_NONZERO), "big") | int.from_bytes(high.translate(_NONZERO), "big")


def _columns(elf: _Elf, symbols: bytes) -> tuple[array[int], bytes, bytes, bytes]:
    """Of every entry of ``symbols``: ``st_name``, ``st_info``, and the low and the high byte
    of ``st_shndx``."""
    size, at = elf.sym_size, elf.sym_shndx_at
    names = array("I")
    with memoryview(symbols) as raw, raw.cast("I") as words:
        names.frombytes(words[:: size // 4].tobytes())
    if elf.le != (sys.byteorder == "little"):
        names.byteswap()
    low, high = (symbols[at::size], symbols[at + 1 :: size]) if elf.le else (symbols[at + 1 :: size], symbols[at::size])
    return names, symbols[at - 2 :: size], low, high


def _gather(symbols: bytes, size: int, picked: array[int]) -> bytearray:
    """A null entry, then the entries ``picked`` of ``symbols``, copied a run of consecutive
    ones at a time (functions come in runs, about nine long in libtorch_cpu)."""
    table = bytearray(size)
    if not picked:
        return table
    first = last = picked[0]
    for i in picked[1:]:
        if i != last + 1:
            table += symbols[first * size : (last + 1) * size]
            first = i
        last = i
    table += symbols[first * size : (last + 1) * size]
    return table


def _names_at(data: Buffer, strtab: _Section, offsets: Sequence[int]) -> list[bytes]:
    """The NUL-terminated string at each of the ascending ``offsets`` of ``strtab`` (past its
    end: b"")."""
    return [name for found in _names_in_windows(data, strtab, offsets) for name in found]


def _names_in_windows(data: Buffer, strtab: _Section, offsets: Sequence[int]) -> Iterator[list[bytes]]:
    """The NUL-terminated string at each of the ascending ``offsets`` of ``strtab`` (past its
    end: b""), a window of the table at a time: the lists, joined, match ``offsets``."""
    size, i = strtab.file_size, 0
    while i < len(offsets) and offsets[i] < size:
        start = offsets[i]
        window, cut = b"", -1
        while cut < 0 and start + len(window) < size:
            # A name longer than the window grows it; the table's last name may lack its NUL.
            at = start + len(window)
            window += _read(data, strtab.offset + at, min(max(NAMES_WINDOW, len(window)), size - at))
            cut = window.rfind(b"\0")
        if cut < 0:
            cut = len(window)
        strings = window[:cut].split(b"\0")
        j = bisect.bisect_right(offsets, start + cut, i)  # an offset at the window's last NUL: b""
        wanted = offsets[i:j]
        # The usual case, at C speed: every offset wanted is where a string starts.
        starts = accumulate(map((1).__add__, map(len, strings[:-1])), initial=start)
        found = list(compress(strings, bytes(map(set(wanted).__contains__, starts))))
        yield found if len(found) == len(wanted) else _inside(strings, start, wanted)
        i = j
    if i < len(offsets):
        yield [b""] * (len(offsets) - i)


def _inside(strings: list[bytes], start: int, wanted: Sequence[int]) -> list[bytes]:
    """The string at each of ``wanted`` (ascending), where ``strings`` follow each other from
    ``start``, each with its NUL; an offset may point inside one, or at the last NUL."""
    starts = list(accumulate(map((1).__add__, map(len, strings[:-1])), initial=start))
    by_start = dict(zip(starts, strings))
    found: list[bytes] = []
    for off in wanted:
        name = by_start.get(off)
        if name is None:
            k = bisect.bisect_right(starts, off) - 1
            name = strings[k][off - starts[k] :]
        found.append(name)
    return found


def _xz(data: Buffer, pieces: list[Piece | _Names], strtab: list[Future[_Part]] | None) -> bytes:
    """The concatenation of ``pieces`` as an xz stream. ``strtab``: the parts of the string
    table (the :class:`_Names` piece), being compressed on other threads."""
    if strtab is None:
        return _xz_stream([_lzma2(_chunks(data, pieces))])
    at = next(n for n, p in enumerate(pieces) if isinstance(p, _Names))
    before = _lzma2(_chunks(data, pieces[:at]))
    after = _lzma2(_chunks(data, pieces[at + 1 :]))
    return _xz_stream([before, *(part.result() for part in strtab), after])


def _chunks(data: Buffer, pieces: list[Piece | _Names]) -> Iterator[bytes]:
    for piece in pieces:
        if isinstance(piece, Copy):
            for at in range(piece.offset, piece.offset + piece.length, CHUNK):
                yield bytes(data[at : min(at + CHUNK, piece.offset + piece.length)])
        elif isinstance(piece, _Names):
            yield from piece.chunks()
        else:
            yield piece


@dataclass(frozen=True)
class _Part:
    """Raw LZMA2 chunks (no end marker) of some bytes, their length and CRC-32."""

    lzma2: bytes
    size: int
    crc: int


def _lzma2(chunks: Iterable[bytes]) -> _Part:
    encoder = lzma.LZMACompressor(format=lzma.FORMAT_RAW, filters=_FILTERS)
    out, size, crc = [], 0, 0
    for chunk in chunks:
        out.append(encoder.compress(chunk))
        size += len(chunk)
        crc = zlib.crc32(chunk, crc)
    out.append(encoder.flush())
    raw = b"".join(out)
    if raw[-1:] != b"\0":
        raise BinaryError("LZMA2 stream without its end marker")  # liblzma always writes one
    return _Part(raw[:-1], size, crc)


def _xz_stream(parts: list[_Part]) -> bytes:
    """One xz stream of one block holding ``parts`` in order: each starts with a dictionary
    reset, so LZMA2 data compressed apart joins into one valid block. Check: CRC-32.

    Not several blocks: libbacktrace (GCC's, behind C++23 ``std::stacktrace``) reads a
    MiniDebugInfo of one block and nothing else. Not several streams either: gdb reads the
    index of the last one only, elfutils decodes the first one only."""
    data = b"".join(p.lzma2 for p in parts) + b"\0"  # the LZMA2 end marker
    size, crc = parts[0].size, parts[0].crc
    for part in parts[1:]:
        crc = _crc32_combine(crc, part.crc, part.size)
        size += part.size
    unpadded = len(_BLOCK_HEADER) + len(data) + 4
    block = _BLOCK_HEADER + data + bytes(-(len(_BLOCK_HEADER) + len(data)) % 4) + struct.pack("<I", crc)
    index = b"\0" + _varint(1) + _varint(unpadded) + _varint(size)
    index += bytes(-len(index) % 4)
    index += struct.pack("<I", zlib.crc32(index))
    flags = _STREAM_HEADER[6:8]
    footer = struct.pack("<I", len(index) // 4 - 1) + flags
    return _STREAM_HEADER + block + index + struct.pack("<I", zlib.crc32(footer)) + footer + b"YZ"


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A + B from those of A and B and B's length (zlib's ``crc32_combine``):
    A's CRC times x^(8 * length2) modulo the CRC polynomial, plus B's."""
    factor, square, n = 1 << 31, 1 << 23, length2  # x^0; x^8, one byte of zeros
    while n:
        if n & 1:
            factor = _multiply(square, factor)
        square = _multiply(square, square)
        n >>= 1
    return _multiply(factor, crc1) ^ crc2


def _multiply(a: int, b: int) -> int:
    """a × b modulo the CRC-32 polynomial, in zlib's reflected bit order."""
    product, bit = 0, 1 << 31
    while a:
        if a & bit:
            product ^= b
            a ^= bit
        bit >>= 1
        b = (b >> 1) ^ 0xEDB88320 if b & 1 else b >> 1
    return product


def _dynamic_names(elf: _Elf) -> set[bytes]:
    """The names of the symbols ``.dynsym`` defines (any ``st_shndx`` but ``SHN_UNDEF``)."""
    names: set[bytes] = set()
    for sec in elf.sections:
        if sec.type == SHT_DYNSYM and sec.file_size and 0 < sec.link < len(elf.sections):
            entries = _read(elf.data, sec.offset, sec.size - sec.size % elf.sym_size)
            offsets, _info, low, high = _columns(elf, entries)
            defined = _defined(low, high)
            chosen = sorted(set(compress(offsets, defined.to_bytes(len(low), "big"))))
            names.update(_names_at(elf.data, elf.sections[sec.link], chosen))
    return names


#: The start of the file (headers and the notes right after them) is kept in place, as objcopy
#: does, when it is no longer than this; notes further in are moved instead.
PREFIX_LIMIT = 64 << 10


def _keep_debug_layout(
    elf: _Elf,
    keep: set[int],
    replace: Mapping[int, tuple[bytes | _Names, Optional[int]]],
    empty_unallocated: bool = False,
) -> tuple[list[Piece | _Names], int]:
    """The file with the same ELF header and section table, where only notes, the sections
    ``keep`` (their input bytes) and ``replace`` (new bytes, and a new ``sh_info`` or None)
    hold contents; every other section becomes ``SHT_NOBITS``, of size 0 when it is not
    allocated and ``empty_unallocated``.

    Like ``objcopy --only-keep-debug``, the headers and the notes that follow them stay where
    they were, so ``PT_PHDR``, the first ``PT_LOAD`` and ``PT_NOTE`` still describe real bytes;
    a note beyond that is appended and its ``PT_NOTE`` follows it.
    """
    prefix = _kept_prefix(elf)
    placed: dict[int, int] = {}  # section -> output offset
    out: list[tuple[int, Piece | _Names]] = []
    cursor = prefix
    for sec in elf.sections[1:]:
        piece: Piece | _Names
        if sec.num in replace:
            piece = replace[sec.num][0]
        elif (sec.num in keep or sec.type == SHT_NOTE) and sec.file_size:
            if sec.type == SHT_NOTE and sec.offset + sec.size <= prefix:
                placed[sec.num] = sec.offset
                continue
            piece = Copy(sec.offset, sec.size)
        else:
            continue
        aligned = align_up(cursor, sec.addralign)
        if aligned - cursor > elf.size:
            # A debug file is never larger than its binary: padding beyond that is a corrupt
            # sh_addralign (2**51 would ask for petabytes of zeros), not a layout to honour.
            raise BinaryError(f"section {sec.num} claims an alignment of {sec.addralign:#x}")
        cursor = aligned
        placed[sec.num] = cursor
        out.append((cursor, piece))
        cursor += piece_length(piece)
    shoff = align_up(cursor, elf.word)
    headers = b"".join(
        _debug_section_header(elf, sec, placed, replace, cursor, empty_unallocated) for sec in elf.sections
    )
    program = b"".join(_debug_segment(elf, seg, prefix, placed) for seg in elf.segments)
    header = struct.pack(elf.ehdr_fmt, *elf.header._replace(shoff=shoff))
    pieces: list[Piece | _Names] = [header]
    position = len(header)
    placed_pieces: list[tuple[int, Piece | _Names]] = [(elf.phoff, program), *_prefix_gaps(elf, prefix)]
    for offset, piece in sorted(placed_pieces + out, key=lambda t: t[0]):
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
    elf: _Elf,
    sec: _Section,
    placed: dict[int, int],
    replace: Mapping[int, tuple[bytes | _Names, Optional[int]]],
    end: int,
    empty_unallocated: bool,
) -> bytes:
    kind, offset, size, info = sec.type, placed.get(sec.num, 0), sec.size, sec.info
    if sec.num in replace:
        contents, new_info = replace[sec.num]
        size, info = len(contents), info if new_info is None else new_info
    elif sec.num and sec.num not in placed:
        kind, offset = SHT_NOBITS, min(sec.offset, end)
        if empty_unallocated and not sec.alloc:
            size = 0
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
