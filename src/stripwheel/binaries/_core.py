"""What the three rewriters share: the result types, the malformed-input guard, the refusal,
alignment, string tables, and the inspect-by-level loop with one meaning of "already stripped"."""

from __future__ import annotations

import functools
import mmap
import struct
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar, Union

if TYPE_CHECKING:  # typing.ParamSpec is Python 3.10+; the annotations below are never evaluated
    from typing_extensions import ParamSpec

    _P = ParamSpec("_P")

Level = Literal["all", "debug"]
LEVELS: tuple[Level, ...] = ("all", "debug")
Format = Literal["ELF", "Mach-O", "PE", "archive"]
Buffer = Union[bytes, bytearray, memoryview, mmap.mmap]

#: The kind ``inspect`` gives a separate debug file (``objcopy --only-keep-debug`` form, a
#: Mach-O dSYM companion), and why ``strip`` leaves one alone: stripping it would destroy what
#: it exists to keep.
DEBUG_FILE_KIND = "debug file"
DEBUG_FILE_REASON = "debug file: left alone (it holds the debug info of another binary)"


class BinaryError(Exception):
    """The binary is malformed or uses a layout the rewriter cannot handle safely."""


class Refused(Exception):
    """The file is valid but will not be rewritten; it becomes :class:`Unchanged`.

    ``clean`` means there was simply nothing to strip (already stripped), as opposed to a
    refusal that the report shows as a reason.
    """

    def __init__(self, reason: str, clean: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.clean = clean


#: Low-level failures a parser meets on malformed input. Every rewriter turns exactly these
#: into :class:`BinaryError`, so no truncated or hostile file becomes an internal error.
MALFORMED: tuple[type[Exception], ...] = (struct.error, IndexError, ValueError, OverflowError, KeyError)


@dataclass(frozen=True)
class Copy:
    """A run of ``length`` input bytes starting at ``offset``."""

    offset: int
    length: int


Piece = Union[bytes, Copy]


def piece_length(piece: Copy | Sized) -> int:
    """The bytes a piece stands for (new bytes, or any other sized piece a layout holds)."""
    return piece.length if isinstance(piece, Copy) else len(piece)


@dataclass(frozen=True)
class Stripped:
    """The rewritten file: the concatenation of ``pieces``; ``removed`` names what went."""

    pieces: tuple[Piece, ...]
    size: int
    removed: tuple[str, ...] = ()

    def materialize(self, data: Buffer) -> bytes:
        """The whole output as bytes (for small files and tests)."""
        out = bytearray()
        for piece in self.pieces:
            if isinstance(piece, Copy):
                out += data[piece.offset : piece.offset + piece.length]
            else:
                out += piece
        return bytes(out)


@dataclass(frozen=True)
class Unchanged:
    """The file is left byte-identical; ``reason`` says why, for the report."""

    reason: str
    #: True when there was simply nothing to strip (already stripped), as opposed to a refusal.
    clean: bool = False

    @classmethod
    def of(cls, refused: Refused) -> Unchanged:
        return cls(refused.reason, refused.clean)


Result = Union[Stripped, Unchanged]


@dataclass(frozen=True)
class BinaryInfo:
    """What one binary (or one slice of a fat Mach-O file) looks like."""

    format: Format
    arch: str
    size: int
    #: bytes the file would lose at each level (0 when already stripped or refused)
    strippable: dict[str, int] = field(default_factory=dict)
    #: Mach-O: "none", "linker-signed", "ad hoc", "certificate"; PE: "none", "authenticode"
    signature: str = "none"
    #: why it would be left alone, if it would
    note: str | None = None
    #: per-slice details of a fat Mach-O file
    slices: tuple[BinaryInfo, ...] = ()
    kind: str = ""


_T = TypeVar("_T")


def guarded(label: str) -> Callable[[Callable[_P, _T]], Callable[_P, _T]]:
    """Decorate a public rewriter function: :data:`MALFORMED` becomes one
    ``BinaryError("malformed <label> file (…)")``. (A :class:`Refused` is the rewriter's own
    to turn into :class:`Unchanged`.)"""

    def decorate(fn: Callable[_P, _T]) -> Callable[_P, _T]:
        @functools.wraps(fn)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            try:
                return fn(*args, **kwargs)
            except MALFORMED as exc:
                raise BinaryError(f"malformed {label} file ({type(exc).__name__}: {exc})") from None

        return wrapper

    return decorate


def align_up(value: int, alignment: int) -> int:
    """``value`` rounded up to a multiple of ``alignment`` (0 or 1: unchanged)."""
    return value if alignment <= 1 else (value + alignment - 1) // alignment * alignment


def suffix_shared_table(strings: Iterable[bytes], prefix: bytes = b"\0") -> tuple[bytes, dict[bytes, int]]:
    """A fresh string table holding ``strings`` after ``prefix``; a string that ends another
    shares its bytes (``.strtab`` inside ``.shstrtab``), as linkers do. The empty string maps
    to the prefix's last NUL."""
    table = bytearray(prefix)
    where: dict[bytes, int] = {b"": len(prefix) - 1}
    longer = b""
    # Sorted by reversed spelling, a suffix comes right after the strings that end with it.
    for name in sorted(set(strings) - {b""}, key=lambda n: n[::-1], reverse=True):
        if longer.endswith(name):
            where[name] = where[longer] + len(longer) - len(name)
            continue
        where[name] = len(table)
        table += name + b"\0"
        longer = name
    return bytes(table), where


def pruned_table(table: bytes, used: Iterable[int], keep_prefix: int = 1) -> tuple[bytes, dict[int, int]]:
    """``table`` with only the strings some offset in ``used`` points into, in their original
    order (a table laid out by the linker deflates better than a re-sorted one), and the new
    offset of every used offset. Offsets into the middle of a string (suffix sharing) keep
    pointing at the same characters. The first ``keep_prefix`` bytes stay as they are."""
    ends: dict[int, int] = {}  # end (offset of the NUL) -> lowest used start in that string
    for offset in used:
        if offset < keep_prefix:
            continue
        if offset >= len(table):
            raise BinaryError(f"string offset {offset} outside a table of {len(table)} bytes")
        end = table.find(b"\0", offset)
        if end < 0:
            end = len(table)  # an unterminated last string: it keeps its missing NUL
        ends[end] = min(offset, ends.get(end, offset))
    out = bytearray(table[:keep_prefix])
    moved: dict[int, int] = {}
    for end in sorted(ends):
        start = ends[end]
        moved[start] = len(out)
        out += table[start : end + 1]
    remap = {o: o for o in used if o < keep_prefix}
    for offset in used:
        if offset >= keep_prefix:
            end = table.find(b"\0", offset)
            end = len(table) if end < 0 else end
            start = ends[end]
            remap[offset] = moved[start] + offset - start
    return bytes(out), remap


def strippable_by_level(plan: Callable[[Level], Result], size: int) -> tuple[dict[str, int], str | None]:
    """What ``inspect`` shows: the bytes each level would remove (0 when already stripped or
    refused), and the first refusal reason (never the "nothing to strip" of a clean file)."""
    strippable: dict[str, int] = {}
    note: str | None = None
    for level in LEVELS:
        result = plan(level)
        if isinstance(result, Stripped):
            strippable[level] = size - result.size
        else:
            strippable[level] = 0
            if not result.clean and note is None:
                note = result.reason
    return strippable, note
