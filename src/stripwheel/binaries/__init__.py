"""Native binary rewriters: bytes in, a description of the output out. No zips, no config.

Every format module (:mod:`.elf`, :mod:`.macho`, :mod:`.pe`, and :mod:`.archive` for static
archives, whose ELF objects it strips with :mod:`.elf`) is a :class:`Rewriter`:

``FORMAT`` and ``MAGICS``
    the format's name and the leading bytes that identify it (``claims`` settles magics
    shared with other file kinds, such as Java class files and fat Mach-O).
``strip(data, level) -> Stripped | Unchanged``
    ``data`` is the whole file as a read-only buffer (``bytes`` or an ``mmap``); the result
    describes the new file as a sequence of pieces, so that large unchanged runs can be
    copied straight from the input without being held in memory twice.
``inspect(data) -> BinaryInfo``
    what ``stripwheel inspect`` shows for one binary.
``arch(data) -> str``
    the architecture alone, read from the headers.

A separate debug file (:func:`is_debug_file`: ELF ``--only-keep-debug`` output, a Mach-O dSYM
companion) is never stripped: its rewriter's ``strip`` leaves it :class:`Unchanged` with
:data:`DEBUG_FILE_REASON`, and its ``inspect`` gives it the kind :data:`DEBUG_FILE_KIND`.

Malformed input raises :class:`BinaryError`; the engine then leaves the member byte-identical
and reports the reason. A rewriter never returns a half-written file.
"""

from __future__ import annotations

from typing import Protocol

from . import archive, elf, macho, pe
from ._core import (
    DEBUG_FILE_KIND,
    DEBUG_FILE_REASON,
    LEVELS,
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
    piece_length,
)

__all__ = [
    "DEBUG_FILE_KIND",
    "DEBUG_FILE_REASON",
    "LEVELS",
    "BinaryError",
    "BinaryInfo",
    "Buffer",
    "Copy",
    "Format",
    "Level",
    "Piece",
    "Result",
    "Rewriter",
    "Stripped",
    "Unchanged",
    "arch",
    "detect",
    "inspect",
    "is_debug_file",
    "piece_length",
    "strip",
]


class Rewriter(Protocol):
    """What each format module provides."""

    FORMAT: Format
    MAGICS: tuple[bytes, ...]

    def claims(self, head: bytes) -> bool: ...
    def strip(self, data: Buffer, level: Level) -> Result: ...
    def inspect(self, data: Buffer) -> BinaryInfo: ...
    def arch(self, data: Buffer) -> str: ...


REWRITERS: dict[Format, Rewriter] = {module.FORMAT: module for module in (elf, macho, pe, archive)}

#: Bytes of a file's head that ``detect`` needs.
HEAD = 8


def detect(head: bytes) -> Format | None:
    """The binary format of a file starting with ``head`` (at least :data:`HEAD` bytes), or None."""
    for fmt, module in REWRITERS.items():
        if head.startswith(module.MAGICS) and module.claims(head):
            return fmt
    return None


def strip(fmt: Format, data: Buffer, level: Level) -> Result:
    """Strip ``data`` of format ``fmt`` at ``level``."""
    return REWRITERS[fmt].strip(data, level)


def inspect(fmt: Format, data: Buffer) -> BinaryInfo:
    """Describe ``data`` of format ``fmt``."""
    return REWRITERS[fmt].inspect(data)


def is_debug_file(fmt: Format, data: Buffer) -> bool:
    """Whether ``data`` is a separate debug file: an ELF one in ``--only-keep-debug`` form, or a
    Mach-O dSYM companion (PE keeps its debug info in PDB files, which are not binaries)."""
    if fmt == "ELF":
        return elf.is_debug_file(data)
    return fmt == "Mach-O" and macho.is_debug_file(data)


def arch(fmt: Format, data: Buffer) -> str:
    """The architecture of ``data`` of format ``fmt``."""
    return REWRITERS[fmt].arch(data)
