"""Bytecode: which modules to compile, compiling them in a fresh interpreter, and the retag
that shipping bytecode without sources implies."""

from __future__ import annotations

import calendar
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.tags import Tag, sys_tags

from ._config import Config
from ._errors import StripwheelError

#: The compile step, run in a fresh interpreter: marshal output can depend on what the same
#: process compiled before, so a clean process compiling in a fixed order is reproducible.
_COMPILER = r"""
import json, py_compile, sys
job = json.load(sys.stdin)
mode = getattr(py_compile.PycInvalidationMode, job["mode"])
for item in job["items"]:
    for level, target in zip(job["levels"], item["targets"]):
        try:
            py_compile.compile(item["file"], cfile=target, dfile=item["dfile"], doraise=True,
                               optimize=level, invalidation_mode=mode)
        except py_compile.PyCompileError as err:
            exc = err.exc_value
            where = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
            text = getattr(exc, "msg", None) or str(exc)
            json.dump({"member": item["member"], "error": f"{err.exc_type_name}: {text}{where}"}, sys.stdout)
            sys.exit(3)
"""

_MODES = {
    "checked-hash": "CHECKED_HASH",
    "unchecked-hash": "UNCHECKED_HASH",
    "timestamp": "TIMESTAMP",
}


def installed_path(name: str, dist_info: str, data_dir: str) -> str | None:
    """Where a member lands relative to site-packages, or None when not in purelib/platlib."""
    top = name.split("/", 1)[0]
    if top == dist_info:
        return None
    if top == data_dir:
        _, scheme, rest = (name.split("/", 2) + ["", ""])[:3]
        return rest if scheme in ("purelib", "platlib") and rest else None
    return name


def is_bytecode(name: str) -> bool:
    return name.endswith((".pyc", ".pyo")) or "/__pycache__/" in f"/{name}"


def cache_names(source: str, levels: Iterable[int], tag: str) -> list[str]:
    """``pkg/__pycache__/mod.<cache tag>[.opt-N].pyc`` for each level (PEP 3147, PEP 488)."""
    directory, _, filename = source.rpartition("/")
    stem = filename[: -len(".py")]
    prefix = f"{directory}/__pycache__/" if directory else "__pycache__/"
    return [f"{prefix}{stem}.{tag}{'' if level == 0 else f'.opt-{level}'}.pyc" for level in levels]


@dataclass(frozen=True)
class Source:
    """One module to compile: its member name, where it installs, its bytes and zip time."""

    member: str
    installed: str
    data: bytes
    date_time: tuple[int, int, int, int, int, int]


def compile_sources(sources: list[Source], config: Config, label: str) -> dict[str, list[bytes]]:
    """Compiled bytecode per source member, one entry per optimisation level (or the one
    sourceless level). ``co_filename`` is the path as installed relative to site-packages."""
    if not sources:
        return {}
    levels = list(config.optimize)
    with tempfile.TemporaryDirectory(prefix="stripwheel-pyc-") as tmp:
        items: list[dict[str, Any]] = []
        for index, source in enumerate(sorted(sources, key=lambda s: s.member)):
            path = Path(tmp, f"{index}.py")
            path.write_bytes(source.data)
            # Timestamp pycs record the source's mtime: take it from the wheel, not the clock.
            stamp = calendar.timegm((*source.date_time, 0, 0, 0))
            os.utime(path, (stamp, stamp))
            targets = [str(Path(tmp, f"{index}.{level}.pyc")) for level in levels]
            items.append({"member": source.member, "file": str(path), "dfile": source.installed, "targets": targets})
        job = {"mode": _MODES[config.invalidation_mode], "levels": levels, "items": items}
        proc = subprocess.run(
            [sys.executable, "-I", "-c", _COMPILER],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {"PYTHONHASHSEED": "0"},
        )
        if proc.returncode == 3:
            failure = json.loads(proc.stdout)
            from ._errors import WheelError

            raise WheelError(label, f"does not compile: {failure['error']}", failure["member"])
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            raise StripwheelError(f"{label}: the bytecode compiler failed: {last}")
        return {item["member"]: [Path(t).read_bytes() for t in item["targets"]] for item in items}


# --- tags


def running_interpreter() -> tuple[str, str]:
    """The interpreter and ABI tags of this Python, e.g. ``("cp311", "cp311")``."""
    interpreter = abi = ""
    for tag in sys_tags():
        if not interpreter and tag.interpreter[:2] in ("cp", "pp") and tag.interpreter[2:].isdigit():
            interpreter = tag.interpreter
        if not abi and tag.abi not in ("abi3", "none"):
            abi = tag.abi
        if interpreter and abi:
            break
    if not interpreter:
        interpreter = f"py{sys.version_info[0]}{sys.version_info[1]}"
    return interpreter, abi or "none"


def admits_others(tags: Iterable[Tag]) -> bool:
    """True when the wheel's tags admit interpreters other than the running one."""
    interpreter, _ = running_interpreter()
    return any(tag.interpreter != interpreter for tag in tags)


def sourceless_tags(tags: Iterable[Tag], label: str) -> list[Tag]:
    """The tags of a wheel that ships only this interpreter's bytecode.

    ``py3-none-any`` becomes ``cp311-none-any``; ``cp311-abi3-plat`` becomes
    ``cp311-cp311-plat``. A wheel none of whose tags admits this interpreter is refused.
    """
    interpreter, abi = running_interpreter()
    supported = list(sys_tags())
    interpreters = {t.interpreter for t in supported}
    abis = {t.abi for t in supported}
    compatible = [t for t in tags if t.interpreter in interpreters and t.abi in abis]
    if not compatible:
        shown = ", ".join(sorted(str(t) for t in tags))
        raise StripwheelError(
            f"{label}: sourceless bytecode is compiled by the running {interpreter}, which this wheel's tags ({shown}) exclude"
        )
    new = {Tag(interpreter, "none" if t.abi == "none" else abi, t.platform) for t in compatible}
    return sorted(new, key=str)


def retagged_name(filename: str, tags: list[Tag]) -> str:
    """The wheel file name with its compressed tag set replaced."""
    parts = filename[: -len(".whl")].split("-")
    head = parts[:-3]
    fields = [sorted({getattr(t, f) for t in tags}) for f in ("interpreter", "abi", "platform")]
    return "-".join(head + [".".join(values) for values in fields]) + ".whl"


def retagged_wheel_metadata(text: str, tags: list[Tag]) -> str:
    """WHEEL with its ``Tag:`` lines replaced (at the place of the first one)."""
    lines = text.splitlines()
    out: list[str] = []
    placed = False
    for line in lines:
        if line.startswith("Tag:"):
            if not placed:
                out.extend(f"Tag: {tag}" for tag in tags)
                placed = True
            continue
        out.append(line)
    if not placed:
        out.extend(f"Tag: {tag}" for tag in tags)
    return "\n".join(out) + "\n"
