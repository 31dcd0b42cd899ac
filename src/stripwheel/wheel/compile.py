"""Bytecode for a wheel: its modules compiled together, and the tags sourceless bytecode gives it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

from packaging.tags import Tag

from .. import _bytecode
from .._config import Config
from .._plan import Step
from .source import WheelSource


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
