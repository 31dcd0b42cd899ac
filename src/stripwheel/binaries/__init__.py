"""Native binary rewriters: bytes in, a description of the output out. No zips, no config.

Every format module exposes the same functions:

``strip(data, level) -> Stripped | Unchanged``
    ``data`` is the whole file as a read-only buffer (``bytes`` or an ``mmap``); the result
    describes the new file as a sequence of pieces, so that large unchanged runs can be
    copied straight from the input without being held in memory twice.
``inspect(data) -> BinaryInfo``
    what ``stripwheel inspect`` shows for one binary.
``arch(data) -> str``
    the architecture alone, read from the headers (``inspect`` plans both strips to size them).
``MAGICS``
    the leading bytes that identify the format.

Malformed input raises :class:`BinaryError`; the engine then leaves the member byte-identical
and reports the reason. A rewriter never returns a half-written file.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field
from typing import Literal, Union

Level = Literal["all", "debug"]
Format = Literal["ELF", "Mach-O", "PE"]
Buffer = Union[bytes, bytearray, memoryview, mmap.mmap]


class BinaryError(Exception):
    """The binary is malformed or uses a layout the rewriter cannot handle safely."""


@dataclass(frozen=True)
class Copy:
    """A run of ``length`` input bytes starting at ``offset``."""

    offset: int
    length: int


Piece = Union[bytes, Copy]


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


def detect(head: bytes) -> Format | None:
    """The binary format of a file starting with ``head`` (at least 8 bytes), or None."""
    if head[:4] == b"\x7fELF":
        return "ELF"
    if head[:4] in (
        b"\xfe\xed\xfa\xce",
        b"\xce\xfa\xed\xfe",
        b"\xfe\xed\xfa\xcf",
        b"\xcf\xfa\xed\xfe",
    ):
        return "Mach-O"
    if head[:4] in (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"):
        # Java class files share 0xcafebabe; a fat header has a small arch count there.
        nfat = int.from_bytes(head[4:8], "big")
        return "Mach-O" if 0 < nfat < 32 else None
    if head[:2] == b"MZ":
        return "PE"
    return None


def strip(fmt: Format, data: Buffer, level: Level) -> Stripped | Unchanged:
    """Strip ``data`` of format ``fmt`` at ``level``."""
    return _module(fmt).strip(data, level)  # type: ignore[no-any-return]


def inspect(fmt: Format, data: Buffer) -> BinaryInfo:
    """Describe ``data`` of format ``fmt``."""
    return _module(fmt).inspect(data)  # type: ignore[no-any-return]


def arch(fmt: Format, data: Buffer) -> str:
    """The architecture of ``data`` of format ``fmt``."""
    return _module(fmt).arch(data)  # type: ignore[no-any-return]


def _module(fmt: Format):  # type: ignore[no-untyped-def]
    if fmt == "ELF":
        from . import elf

        return elf
    if fmt == "Mach-O":
        from . import macho

        return macho
    from . import pe

    return pe
