"""Transforms of member contents: strip a binary (and have LIEF check it when asked), compile
the wheel's modules, decide the tags of sourceless bytecode. No archive is written here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from . import binaries
from ._blob import Blob
from ._config import Config
from ._report import BinaryReport
from .debug.split import Kept, Target, debug_fields, strip_keeping_debug
from .debug.store import DebugStore


@dataclass(frozen=True)
class Stripping:
    """What stripping one binary gave."""

    result: binaries.Result
    arch: str
    #: LIEF read both files and found the same dynamic interface (``verify``)
    verified: bool = False
    #: why LIEF could not give a verdict, when it could not
    unverified: Optional[str] = None
    #: the debug file and MiniDebugInfo kept (``split-debug``, ``mini-debuginfo``)
    kept: Kept = field(default_factory=Kept)
    #: what the rewriter found malformed, when it did (the binary is left as it is)
    malformed: Optional[str] = None

    def warnings(self, name: str) -> list[str]:
        """What the report should warn about for the binary ``name``."""
        unverified = [f"{name}: not verified: {self.unverified}"] if self.unverified else []
        return self.kept.warnings + unverified


def strip_binary(fmt: binaries.Format, blob: Blob, config: Config, debug: Optional[Target] = None) -> Stripping:
    """Strip at the configured level, keeping debug information where asked; a malformed
    binary is left as it is, with the reason."""
    level: binaries.Level = "debug" if config.strip == "debug" else "all"
    if binaries.is_debug_file(fmt, blob.buf):
        # Before the split-debug path: a debug file must never get a debug file of its own.
        return Stripping(binaries.Unchanged(binaries.DEBUG_FILE_REASON), _arch(fmt, blob))
    kept = Kept()
    try:
        if fmt == "ELF" and (debug is not None or config.mini_debuginfo):
            result, kept = strip_keeping_debug(blob, level, debug, config.mini_debuginfo)
        else:
            result = binaries.strip(fmt, blob.buf, level)
    except binaries.BinaryError as exc:
        return Stripping(binaries.Unchanged(f"left as is: {exc}"), _arch(fmt, blob), malformed=str(exc))
    arch = _arch(fmt, blob)
    if not isinstance(result, binaries.Stripped) or not config.verify:
        return Stripping(result, arch, kept=kept)
    if fmt == "archive":  # LIEF reads linked binaries and objects, not ar archives
        return Stripping(result, arch, unverified="LIEF does not read static archives", kept=kept)
    from . import _verify  # LIEF is optional and slow to import

    verdict = _verify.compare(fmt, blob.read(0, blob.size), blob.pieces(result))
    if verdict.difference is not None:
        if kept.file is not None and debug is not None:
            debug.store.forget(kept.file.path, debug.owner)
        kept_original = binaries.Unchanged(f"kept the original: verification found {verdict.difference}")
        return Stripping(kept_original, arch)
    return Stripping(result, arch, verdict.unverified is None, verdict.unverified, kept)


def _arch(fmt: binaries.Format, blob: Blob) -> str:
    try:
        return binaries.arch(fmt, blob.buf)
    except binaries.BinaryError:
        return ""


def require(config: Config) -> None:
    """What every run checks before it reads anything: LIEF is there when ``verify`` asks for it."""
    if config.verify:
        from . import _verify

        _verify.require()


def file_report(
    name: str, fmt: binaries.Format, size: int, done: Stripping, store: Optional[DebugStore]
) -> BinaryReport:
    """The report row of one file stripped on disk (a tree's or a bare one): no stored sizes."""
    result = done.result
    if isinstance(result, binaries.Unchanged):
        return BinaryReport.unchanged(
            name, format=fmt, arch=done.arch, reason=result.reason, size=size, clean=result.clean
        )
    return BinaryReport.stripped(
        name,
        format=fmt,
        arch=done.arch,
        size_before=size,
        size_after=result.size,
        removed=result.removed,
        verified=done.verified,
        debug=debug_fields(store, done.kept),
    )
