"""Debug information kept while stripping an ELF binary: its debug file staged in the store,
and the sections the stripped binary gets in return (``.gnu_debuglink``, ``.gnu_debugdata``)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .. import binaries
from .._blob import Blob
from .._config import Config
from .._report import BinaryReport, DebugFields
from ..binaries import elf, elf_debug
from .store import DebugFile, DebugStore

if TYPE_CHECKING:
    from ..wheel.encode import Encoded as Deflated

#: Binaries at least this large get their MiniDebugInfo made while their debug file is written.
OVERLAP_FROM = 8 << 20


@dataclass(frozen=True)
class Target:
    """Where one binary's debug file goes: the store, the name used when the binary has no
    build-id (``<wheel or tree>/<member>.debug``), and the binary's name for messages;
    ``deflate``: how the companion wheel's member is made of it (layout ``wheel``)."""

    store: DebugStore
    fallback: str
    owner: str
    deflate: Optional[Callable[[elf_debug.DebugParts], Deflated]] = None


@dataclass
class Kept:
    """What was kept of one binary's debug information."""

    file: Optional[DebugFile] = None
    #: bytes of the ``.gnu_debugdata`` section
    mini: int = 0
    warnings: list[str] = field(default_factory=list)


def strip_keeping_debug(
    blob: Blob, level: binaries.Level, target: Optional[Target], mini: bool
) -> tuple[binaries.Result, Kept]:
    """Strip an ELF binary at ``level``; before, write what the level removes to a debug file
    (when ``target``) and keep the function names (when ``mini``)."""
    kept = Kept()
    add: list[elf.Added] = []
    mini = mini and level == "all"
    with ThreadPoolExecutor(1) as pool:
        # A large binary's MiniDebugInfo is made while its debug file is written (hashing and
        # I/O, which leave the interpreter free): 0.1 to 0.2 s less on torch's libtorch_cpu.
        early = (
            pool.submit(elf_debug.mini_debuginfo, blob.buf) if mini and target and blob.size >= OVERLAP_FROM else None
        )
        if target is not None:
            parts = elf_debug.debug_file(blob.buf, level)
            if parts is not None:
                if target.deflate is not None:
                    member = target.deflate(parts)
                    try:
                        kept.file = target.store.add_deflated(parts.build_id, target.fallback, target.owner, member)
                    finally:
                        member.close()
                else:
                    chunks = blob.pieces_of(parts.pieces)
                    kept.file = target.store.add(parts.build_id, target.fallback, target.owner, chunks)
                name = posixpath.basename(kept.file.path)
                add.append((".gnu_debuglink", elf_debug.debuglink(blob.buf, name, kept.file.crc), 4))
                if parts.build_id is None and not target.store.by_path:
                    # Placed by path (beside its binary), a debug file is found through the
                    # debuglink by design: only the build-id layouts miss a build-id.
                    kept.warnings.append(f"{target.owner}: no build-id; only its .gnu_debuglink finds {kept.file.path}")
                if parts.split_dwarf:
                    kept.warnings.append(
                        f"{target.owner}: uses split DWARF; its .dwo/.dwp files are not in {kept.file.path}"
                    )
        if mini:
            debugdata = early.result() if early is not None else elf_debug.mini_debuginfo(blob.buf)
            if debugdata is not None:
                add.append((".gnu_debugdata", debugdata, 1))
                kept.mini = len(debugdata)
    result = elf.strip(blob.buf, level, add=tuple(add))
    if not isinstance(result, binaries.Stripped):
        if kept.file is not None and target is not None:
            target.store.forget(kept.file.path, target.owner)  # the binary keeps its debug info itself
        return result, Kept()
    return result, kept


def debug_store(config: Config, dry_run: bool) -> Optional[DebugStore]:
    """The run's debug directory, when ``split-debug`` names one."""
    if config.split_debug is None or config.strip == "none":
        return None
    return DebugStore(Path(config.split_debug), config.split_debug_layout, dry_run)


def debug_fields(store: Optional[DebugStore], kept: Kept) -> DebugFields:
    """The report's fields for one binary's kept debug information."""
    if store is None or kept.file is None:
        return DebugFields(mini_debuginfo=kept.mini)
    # Layout ``wheel``: a member of the companion wheel (the report's ``debug_wheel``).
    path = kept.file.path if store.layout == "wheel" else str(store.root / kept.file.path)
    return DebugFields(path, kept.file.size, kept.mini)


def split_debug_notes(store: Optional[DebugStore], binaries_done: Sequence[BinaryReport]) -> list[str]:
    """Where the debug files went, and which binaries cannot have one."""
    if store is None:
        return []
    notes = []
    files = {b.debug_file: b.debug_file_size or 0 for b in binaries_done if b.debug_file}
    if files:
        verb = "would go" if store.dry_run else "went"
        where = "into the debug wheel" if store.layout == "wheel" else f"to {store.root}"
        notes.append(f"split-debug: {len(files)} debug files ({sum(files.values()):,} B) {verb} {where}")
    others = sorted({b.format for b in binaries_done if b.format in ("Mach-O", "PE") and b.action == "stripped"})
    if others:
        notes.append(
            "split-debug: no debug files for "
            + " and ".join(others)
            + " (Mach-O images carry no DWARF; PE debug files are out of scope)"
        )
    # A debugger looks for the debug file of the linked program, never of a static archive or
    # an object file; a stripped ELF file without a debug file is one of those (ET_REL).
    archives = sum(1 for b in binaries_done if b.format == "archive" and b.action == "stripped")
    objects = sum(1 for b in binaries_done if b.format == "ELF" and b.action == "stripped" and not b.debug_file)
    if archives or objects:
        verb = "would be" if store.dry_run else "was"
        what = " and ".join(
            text
            for count, text in ((archives, f"{archives} static archives"), (objects, f"{objects} object files"))
            if count
        )
        notes.append(f"split-debug: the debug info of {what} {verb} dropped (a debugger finds it nowhere)")
    return notes
