"""The plan: what happens to each member, decided from its name, size and first bytes and the
options alone (no I/O), in the order the members are written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Optional

from . import _bytecode, _record, binaries
from ._config import Config, Selector

#: Files shorter than this cannot be a binary worth stripping (an ELF header alone is 52 bytes).
MIN_BINARY = 64

Action = Literal["copy", "drop", "strip", "retag", "compile"]
#: Why a member is dropped; the report and the warnings follow from it.
DropReason = Literal["bytecode", "superseded", "signature", "directory"]


@dataclass(frozen=True)
class Entry:
    """What the plan knows of one input member."""

    name: str
    size: int
    #: the member's first bytes (``binaries.HEAD`` of them), or b"" when not looked at
    head: bytes = b""

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


@dataclass(frozen=True)
class Wheel:
    """What the plan knows of the wheel as a whole."""

    dist_info: str
    record: str
    #: the ``<name>-<version>.data`` directory, or "" when there is none
    data_dir: str = ""
    #: ``sys.implementation.cache_tag`` of the interpreter that compiles
    cache_tag: str = ""
    #: sourceless bytecode changes the wheel's tags, so ``WHEEL`` is rewritten
    retag: bool = False


@dataclass(frozen=True)
class Step:
    """One member's fate."""

    name: str
    action: Action
    why: Optional[DropReason] = None
    #: ``strip``: the binary format its first bytes show
    format: Optional[binaries.Format] = None
    #: ``compile``: where the module lands relative to site-packages (the pyc's ``co_filename``)
    installed: str = ""
    #: ``compile``: the members written right after this one, in order
    adds: tuple[str, ...] = ()
    #: ``compile``: whether the source itself is written (not with ``sourceless``)
    keep_source: bool = True


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]

    @property
    def compiled(self) -> list[Step]:
        return [s for s in self.steps if s.action == "compile"]


def plan(entries: Sequence[Entry], config: Config, wheel: Wheel) -> Plan:
    """A step for every member but RECORD (the writer's), payload first, ``.dist-info`` last."""
    selected = Selector.from_config(config)
    compiling = {
        e.name: installed
        for e in entries
        if config.bytecode == "compile" and e.name.endswith(".py") and selected(e.name)
        for installed in [_bytecode.installed_path(e.name, wheel.dist_info, wheel.data_dir)]
        if installed is not None
    }
    steps: list[Step] = []
    superseded: set[str] = set()
    for name, installed in compiling.items():
        adds = _compiled_names(name, config, wheel.cache_tag)
        superseded.update(adds)
        steps.append(Step(name, "compile", installed=installed, adds=adds, keep_source=not config.sourceless))
    by_name = {s.name: s for s in steps}
    ordered = [by_name.get(e.name) or _step(e, config, wheel, selected, superseded) for e in entries]
    ordered = [s for s in ordered if s.name != wheel.record]
    prefix = wheel.dist_info + "/"
    return Plan(
        tuple(s for s in ordered if not s.name.startswith(prefix))
        + tuple(s for s in ordered if s.name.startswith(prefix))
    )


def _compiled_names(source: str, config: Config, cache_tag: str) -> tuple[str, ...]:
    if config.sourceless:
        return (source[: -len(".py")] + ".pyc",)
    return tuple(_bytecode.cache_names(source, config.optimize, cache_tag))


def _step(entry: Entry, config: Config, wheel: Wheel, selected: Selector, superseded: set[str]) -> Step:
    name = entry.name
    if entry.is_dir:
        if config.bytecode == "drop" and name.endswith("__pycache__/") and selected(name):
            return Step(name, "drop", why="directory")
        return Step(name, "copy")
    if name.startswith(wheel.dist_info + "/") and name.rsplit("/", 1)[1] in _record.SIGNATURES:
        return Step(name, "drop", why="signature")
    if config.bytecode == "drop" and _bytecode.is_bytecode(name) and selected(name):
        return Step(name, "drop", why="bytecode")
    if name in superseded:
        return Step(name, "drop", why="superseded")
    if wheel.retag and name == f"{wheel.dist_info}/WHEEL":
        return Step(name, "retag")
    return _binary_step(entry, config, selected)


def plan_tree(entries: Sequence[Entry], config: Config) -> Plan:
    """The steps for the files of an installed tree: binaries (static archives among them)
    are stripped in place, everything else left (bytecode options are the wheels' alone)."""
    selected = Selector.from_config(config)
    return Plan(tuple(_binary_step(e, config, selected) for e in entries if not e.is_dir))


def _binary_step(entry: Entry, config: Config, selected: Selector) -> Step:
    if config.strip == "none" or entry.size < MIN_BINARY or not selected(entry.name):
        return Step(entry.name, "copy")
    fmt = binaries.detect(entry.head)
    if fmt is not None:
        return Step(entry.name, "strip", format=fmt)
    return Step(entry.name, "copy")
