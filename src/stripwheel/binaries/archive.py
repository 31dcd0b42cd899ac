"""Static archive (``ar``) rewriter: every ELF object member goes through the ELF rewriter, the
symbol index is rebuilt for the new member offsets, and everything else is kept byte for byte.

An archive is a magic (``!<arch>\\n``) and members, each a 60-byte header (name, date, uid,
gid, mode, size, the terminator ``\\`\\n``) and its data, padded with ``\\n`` to an even length.
Special members: the symbol index (GNU ``/`` with 32-bit big-endian offsets, ``/SYM64/`` with
64-bit ones; BSD ``__.SYMDEF`` and ``__.SYMDEF_64``, little-endian ``ranlib`` entries), the
GNU long-name table ``//`` that ``/123`` names point into, and BSD ``#1/len`` names stored at
the start of the member's data. Every index entry holds the header offset of the member that
defines the symbol; stripping only changes member sizes, so the index keeps its symbols, its
order and its size, and only its offsets move.

Left alone, byte-identical: members that are not ELF (LLVM bitcode, Go objects, text, anything
unknown), Rust metadata (``lib.rmeta``), LTO objects (their code is in the LTO sections) and
objects using split DWARF (their skeleton units tie them to ``.dwo`` files). Member dates,
modes, uid and gid are kept, which GNU ``strip`` zeroes; the index keeps the entries of
bitcode members, which GNU ``strip`` drops (lld then cannot find them). A thin archive
(``!<thin>\\n``) only names files that live elsewhere: it is left alone.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from . import elf, elf_object
from ._core import (
    LEVELS,
    MALFORMED,
    BinaryError,
    BinaryInfo,
    Buffer,
    Copy,
    Format,
    Level,
    Piece,
    Result,
    Stripped,
    Unchanged,
    guarded,
    strippable_by_level,
)
from .elf_debug import _split_dwarf

FORMAT: Format = "archive"
ARCHIVE_MAGIC = b"!<arch>\n"
THIN_MAGIC = b"!<thin>\n"
MAGICS = (ARCHIVE_MAGIC, THIN_MAGIC)
KIND = "static archive"
THIN_REASON = "thin archive: left alone (its members live elsewhere)"

HEADER = 60
FMAG = b"`\n"
#: Header fields: name [0:16], date [16:28], uid [28:34], gid [34:40], mode [40:48], size [48:58].
SIZE_FIELD = slice(48, 58)
#: BSD: the name is stored at the start of the data, its length after this prefix.
BSD_NAME = b"#1/"

_BITCODE = (b"BC\xc0\xde", b"\xde\xc0\x17\x0b")  # raw bitcode, and the bitcode wrapper
_MACHO = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")
_LTO_PREFIXES = (".gnu.lto_", ".gnu.lto.", ".llvm.lto")
_DEBUG_PREFIXES = (".debug", ".zdebug", ".rela.debug", ".rel.debug")
#: What reading a member's ELF headers raises when they are broken.
_UNREADABLE: tuple[type[Exception], ...] = (BinaryError, *MALFORMED)

#: The index formats: (struct format of one integer, BSD layout).
_INDEXES: dict[str, tuple[str, bool]] = {
    "/": (">I", False),
    "/SYM64/": (">Q", False),
    "__.SYMDEF": ("<I", True),
    "__.SYMDEF SORTED": ("<I", True),
    "__.SYMDEF_64": ("<Q", True),
    "__.SYMDEF_64 SORTED": ("<Q", True),
}


def claims(head: bytes) -> bool:
    """Every file starting with an ``ar`` magic is an archive."""
    return True


# -- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Member:
    """One member: where its header is, its name, and where its data lies."""

    at: int
    name: str
    #: the data proper (after a BSD name); the header's size field also counts the BSD name
    start: int
    end: int
    #: where the next member's header is: after the pad byte (a last member may lack it)
    stop: int
    #: "" for an ordinary member; "index", "names" (``//``) or "opaque" (a table not rebuilt)
    role: str = ""

    @property
    def name_size(self) -> int:
        """Bytes of a BSD name stored before the data."""
        return self.start - self.at - HEADER


@dataclass
class _Index:
    """One symbol index: where each of its offsets is stored and the member header each names."""

    member: _Member
    word: str
    #: (file offset of the stored value, the member header offset it holds)
    slots: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class _Archive:
    members: list[_Member]
    indexes: list[_Index]
    #: special members whose offsets this rewriter cannot rebuild (a Windows second linker member)
    opaque: list[str]


def _decimal(raw: bytes, what: str, at: int) -> int:
    text = raw.strip(b" ")
    if not text or not text.isdigit():
        raise BinaryError(f"bad {what} {raw!r} in the member header at {at}")
    return int(text)


def _members(data: Buffer) -> Iterator[tuple[int, bytes, int, int]]:
    """(header offset, header, data start, data end) of each member, headers checked."""
    size = len(data)
    pos = len(ARCHIVE_MAGIC)
    while pos < size:
        if size - pos < HEADER:
            raise BinaryError(f"truncated member header at {pos}")
        header = bytes(data[pos : pos + HEADER])
        if header[58:60] != FMAG:
            raise BinaryError(f"bad member header terminator at {pos}")
        length = _decimal(header[SIZE_FIELD], "size", pos)
        end = pos + HEADER + length
        if end > size:
            raise BinaryError(f"member at {pos} runs past the end of the archive")
        yield pos, header, pos + HEADER, end
        pos = end + (length & 1)


def _parse(data: Buffer) -> _Archive:
    if bytes(data[: len(ARCHIVE_MAGIC)]) != ARCHIVE_MAGIC:
        raise BinaryError("not an ar archive")
    members: list[_Member] = []
    long_names = b""
    for at, header, start, end in _members(data):
        raw = header[:16].rstrip(b" ")
        if raw.startswith(BSD_NAME):
            length = _decimal(raw[len(BSD_NAME) :], "BSD name length", at)
            if start + length > end:
                raise BinaryError(f"BSD name of the member at {at} runs past its data")
            name = bytes(data[start : start + length]).rstrip(b"\0").decode("utf-8", "replace")
            start += length
        elif raw[:1] == b"/" and raw[1:].isdigit():
            name = _long_name(long_names, int(raw[1:]), at)
        else:
            name = raw.decode("utf-8", "replace")
        role = _role(raw, name, first=not members)
        if role == "names":
            long_names = bytes(data[start:end])
        elif not role and name.endswith("/"):
            name = name[:-1]  # GNU ends short names with a slash
        stop = min(end + ((end - at) & 1), len(data))
        members.append(_Member(at, name, start, end, stop, role))
    heads = {m.at for m in members if not m.role}
    indexes = [_index(data, m, heads) for m in members if m.role == "index"]
    return _Archive(members, indexes, [m.name for m in members if m.role == "opaque"])


def _role(raw: bytes, name: str, first: bool) -> str:
    """A special member's role: only the first member can be the index we rebuild."""
    if name in _INDEXES and (raw.startswith(BSD_NAME) or raw == name.encode()):
        return "index" if first else "opaque"
    if raw == b"//":
        return "names"
    if raw[:1] == b"/" and not raw[1:].isdigit():
        # A second ``/`` (a Windows second linker member), ``/<ECSYMBOLS>/``: offsets we do not know.
        return "opaque"
    return ""


def _long_name(table: bytes, offset: int, at: int) -> str:
    if offset >= len(table):
        raise BinaryError(f"long name of the member at {at} is outside the name table")
    end = table.find(b"\n", offset)
    name = table[offset : end if end >= 0 else len(table)]
    return name[:-1].decode("utf-8", "replace") if name.endswith(b"/") else name.decode("utf-8", "replace")


def _index(data: Buffer, member: _Member, heads: set[int]) -> _Index:
    """Where ``member``'s offsets are stored; each must be the header of an ordinary member."""
    word, bsd = _INDEXES[member.name]
    index = _Index(member, word)
    width = struct.calcsize(word)
    start, end = member.start, member.end
    if bsd:
        # ranlib: the entries' byte count, entries of (name offset, member offset), the strings.
        entries = struct.unpack_from(word, data, start)[0]
        if entries % (2 * width) or start + width + entries > end:
            raise BinaryError(f"bad BSD symbol index size {entries}")
        places = range(start + 2 * width, start + width + entries, 2 * width)
    else:
        count = struct.unpack_from(word, data, start)[0]
        if start + width + count * width > end:
            raise BinaryError(f"symbol index of {count} entries runs past its member")
        places = range(start + width, start + width + count * width, width)
    for place in places:
        offset = struct.unpack_from(word, data, place)[0]
        if offset not in heads:
            raise BinaryError(f"symbol index entry at {place} points at {offset}, not at a member")
        index.slots.append((place, offset))
    return index


# -- members --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Done:
    """What became of one ordinary member: its new data (None: kept as it is)."""

    member: _Member
    pieces: tuple[Piece, ...] | None = None
    size: int = 0
    removed: tuple[str, ...] = ()
    #: why it was left alone, for the note ("" when it was stripped or had nothing to strip)
    left: str = ""


def _strip_member(data: Buffer, member: _Member, level: Level) -> _Done:
    # A view, not a copy: only the member's headers and tables are read (its code is copied
    # from the archive as it is).
    with memoryview(data) as whole, whole[member.start : member.end] as content:
        kind, obj = _foreign_kind(member.name, content)
        if kind:
            return _Done(member, left=kind)
        try:
            if obj is not None and obj.e_type == elf.ET_REL:
                # What elf.strip does with an object, without parsing it again.
                result = elf_object.strip(content, level, parsed=obj)
            else:
                result = elf.strip(content, level)
        except BinaryError as exc:
            return _Done(member, left=f"malformed ELF ({exc})")
    if isinstance(result, Unchanged):
        return _Done(member, left="" if result.clean else f"refused ({result.reason})")
    # The ELF rewriter's copies are of the member: moved to where the member lies in the archive.
    pieces = tuple(Copy(member.start + p.offset, p.length) if isinstance(p, Copy) else p for p in result.pieces)
    return _Done(member, pieces, result.size, result.removed)


def _foreign_kind(name: str, content: Buffer) -> tuple[str, elf._Elf | None]:
    """What a member that must be kept as it is is ("" for an ELF object to strip), and the
    member's parsed headers when it is ELF."""
    if name == "lib.rmeta":
        return "Rust metadata", None
    head = bytes(content[:16])
    if head.startswith(_BITCODE):
        return "LLVM bitcode", None
    if head.startswith(b"go object "):
        return "Go object", None
    if head.startswith(_MACHO):
        return "Mach-O object", None
    if not head.startswith(b"\x7fELF"):
        return "not an object", None
    try:
        obj = elf._Elf(content)
        obj.parse_tables()
    except _UNREADABLE as exc:
        return f"malformed ELF ({exc})", None
    if obj.e_type != elf.ET_REL:
        return "", obj  # a linked file in an archive: the ELF rewriter knows what to do with it
    # The names between NULs (no name holds one): each test is one search of them all.
    names = "\0" + "\0".join(s.name for s in obj.sections) + "\0"
    if any(f"\0{prefix}" in names for prefix in _LTO_PREFIXES):
        return "LTO object", obj
    if "\0.rmeta\0" in names:
        return "Rust metadata", obj
    try:
        return ("split-DWARF object" if _split_dwarf(obj) else ""), obj
    except MALFORMED as exc:
        return f"malformed ELF ({exc})", obj


# -- writing --------------------------------------------------------------------------------------


@dataclass
class _Rewrite:
    """The result of one level over all members, and what the note says about them."""

    result: Result
    left: Counter[str]


def _rewrite(data: Buffer, level: Level) -> _Rewrite:
    if bytes(data[: len(THIN_MAGIC)]) == THIN_MAGIC:
        return _Rewrite(Unchanged(THIN_REASON), Counter())
    archive = _parse(data)
    # One member after the other: the rewriters are pure Python, a thread pool over members
    # measured no faster (the GIL), nor did forked workers (one per core, on 2 cores: no clear
    # win for libpython3.13.a, and forking a process that runs threads risks deadlocks), and the
    # tree and wheel executors already keep both cores busy.
    done = [_strip_member(data, m, level) for m in archive.members if not m.role]
    left = Counter(d.left for d in done if d.left)
    changed = [d for d in done if d.pieces is not None]
    if not changed:
        return _Rewrite(_nothing_done(done, left), left)
    if archive.opaque:
        reason = f"its {', '.join(archive.opaque)} table cannot be rebuilt for the new offsets"
        return _Rewrite(Unchanged(reason), left)
    return _Rewrite(_assemble(data, archive, {d.member.at: d for d in done}), left)


def _nothing_done(done: list[_Done], left: Counter[str]) -> Unchanged:
    """Clean when some member had nothing left to strip and no member was refused."""
    refused = any(kind.startswith(("refused", "malformed")) for kind in left)
    if done and not refused and len(done) > sum(left.values()):
        return Unchanged("already stripped", clean=True)
    if not done:
        return Unchanged("no members", clean=True)
    return Unchanged(_left_note(left))


def _left_note(left: Counter[str]) -> str:
    return "members left alone: " + ", ".join(f"{n} {kind}" for kind, n in left.items())


def _assemble(data: Buffer, archive: _Archive, done: dict[int, _Done]) -> Stripped:
    moved: dict[int, int] = {}
    cursor = len(ARCHIVE_MAGIC)
    for m in archive.members:
        moved[m.at] = cursor
        one = done.get(m.at)
        size = _new_size(m, one)
        cursor += m.stop - m.at if one is None or one.pieces is None else HEADER + size + (size & 1)
    indexes = {ix.member.at: ix for ix in archive.indexes}
    pieces: list[Piece] = [Copy(0, len(ARCHIVE_MAGIC))]
    for m in archive.members:
        one = done.get(m.at)
        if m.at in indexes:
            _add(pieces, Copy(m.at, HEADER))
            _add(pieces, _patched_index(data, indexes[m.at], moved))
            _add(pieces, Copy(m.end, m.stop - m.end))
        elif one is None or one.pieces is None:
            _add(pieces, Copy(m.at, m.stop - m.at))
        else:
            size = _new_size(m, one)
            header = bytes(data[m.at : m.at + HEADER])
            _add(pieces, header[: SIZE_FIELD.start] + b"%-10d" % size + header[SIZE_FIELD.stop :])
            _add(pieces, Copy(m.at + HEADER, m.name_size))
            for piece in one.pieces:
                _add(pieces, piece)
            _add(pieces, b"\n" * (size & 1))
    return Stripped(tuple(pieces), cursor, removed=_removed(done.values()))


def _new_size(member: _Member, done: _Done | None) -> int:
    """The member's size field in the output (a BSD name counts)."""
    if done is None or done.pieces is None:
        return member.end - member.at - HEADER
    return member.name_size + done.size


def _patched_index(data: Buffer, index: _Index, moved: dict[int, int]) -> bytes:
    table = bytearray(data[index.member.at + HEADER : index.member.end])
    base = index.member.at + HEADER
    for place, offset in index.slots:
        struct.pack_into(index.word, table, place - base, moved[offset])
    return bytes(table)


def _add(pieces: list[Piece], piece: Piece) -> None:
    """Append ``piece``, merging a copy that continues the previous one; empty ones vanish."""
    if not (piece.length if isinstance(piece, Copy) else len(piece)):
        return
    last = pieces[-1] if pieces else None
    if isinstance(piece, Copy) and isinstance(last, Copy) and last.offset + last.length == piece.offset:
        pieces[-1] = Copy(last.offset, last.length + piece.length)
    else:
        pieces.append(piece)


def _removed(done: Iterable[_Done]) -> tuple[str, ...]:
    """What went, counted over the members: debug sections as one ``.debug_*`` entry."""
    counts: Counter[str] = Counter()
    for one in done:
        names = {".debug_*" if n.startswith(_DEBUG_PREFIXES) else n for n in one.removed}
        counts.update(names)
    return tuple(f"{name} of {n} member{'s' if n > 1 else ''}" for name, n in counts.items())


# -- public functions -----------------------------------------------------------------------------


def strip(data: Buffer, level: Level) -> Result:
    """Strip every ELF object of the archive ``data`` at ``level``; Unchanged when none changed."""
    if level not in LEVELS:
        raise ValueError(f"bad strip level {level!r}")  # a caller's mistake, not a malformed file
    return _strip_guarded(data, level)


@guarded("archive")
def _strip_guarded(data: Buffer, level: Level) -> Result:
    return _rewrite(data, level).result


@guarded("archive")
def inspect(data: Buffer) -> BinaryInfo:
    """The bytes each level would save, and which members would be left alone, by kind."""
    if bytes(data[: len(THIN_MAGIC)]) == THIN_MAGIC:
        return BinaryInfo(FORMAT, "", len(data), dict.fromkeys(LEVELS, 0), note=THIN_REASON, kind="thin archive")
    runs: dict[Level, _Rewrite] = {}

    def plan(level: Level) -> Result:
        runs[level] = _rewrite(data, level)
        return runs[level].result

    strippable, note = strippable_by_level(plan, len(data))
    left = runs["debug"].left
    clean = all(isinstance(r.result, Unchanged) and r.result.clean for r in runs.values())
    if note is None and left and not clean:
        note = _left_note(left)  # an already stripped archive has no note: ``check`` would count it refused
    return BinaryInfo(FORMAT, arch(data), len(data), strippable, note=note, kind=KIND)


@guarded("archive")
def arch(data: Buffer) -> str:
    """The architecture of the first readable ELF member ("" when there is none)."""
    if bytes(data[: len(THIN_MAGIC)]) == THIN_MAGIC:
        return ""
    for member in _parse(data).members:
        if not member.role and bytes(data[member.start : member.start + 4]) == b"\x7fELF":
            try:
                return elf.arch(bytes(data[member.start : member.end]))
            except BinaryError:
                continue
    return ""
