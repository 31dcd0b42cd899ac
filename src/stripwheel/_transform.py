"""Transforms of member contents: strip a binary (and have LIEF check it when asked), compile
the wheel's modules, decide the tags of sourceless bytecode. No archive is written here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Optional

from packaging.tags import Tag

from . import _bytecode, binaries
from ._config import Config
from ._encode import Blob
from ._plan import Step
from ._source import WheelSource
from ._split_debug import Kept, Target, strip_keeping_debug


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


def sourceless_tags(tags: Iterable[Tag], config: Config, label: str) -> tuple[Optional[list[Tag]], list[str]]:
    """The wheel's new tags when sourceless bytecode changes them (else None), and warnings."""
    if config.bytecode != "compile":
        return None, []
    tags = list(tags)
    if config.sourceless:
        new = _bytecode.sourceless_tags(tags, label)
        return (new if set(new) != set(tags) else None), []
    if _bytecode.admits_others(tags):
        interpreter, _ = _bytecode.running_interpreter()
        warning = (
            f"bytecode compiled for {interpreter} only: the wheel's tags admit other "
            "interpreters, which will compile the sources themselves"
        )
        return None, [warning]
    return None, []


def compile_modules(source: WheelSource, steps: list[Step], config: Config) -> dict[str, list[bytes]]:
    """The bytecode of every ``compile`` step, compiled together in one fresh interpreter.

    This reads (and so checks against RECORD) each source member: the writer later copies
    those members raw without reading them again.
    """
    members = {m.name: m for m in source.members}
    sources = []
    for step in steps:
        member = members[step.name]
        with source.open(member) as stream:
            data = stream.read()
        sources.append(_bytecode.Source(step.name, step.installed, data, member.info.date_time))
    return _bytecode.compile_sources(sources, config, source.label)
