"""Pins stripwheel on Python 3.9, the oldest it supports: CLI, wrapper backend and hook (slow).

stripwheel is installed into every isolated build, so a project building for 3.9 runs it on 3.9.
Everything here runs in a 3.9 interpreter, in a venv of its own."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from _frontend_fixtures import copy_sample, frontend_env
from _helpers import ELF_MAGIC, check_wheel, run, section_names

OLDEST = "3.9"


def oldest_python() -> str:
    """A working CPython 3.9: pyenv's (the CI machines have one), else one on PATH (a pyenv
    shim there may name a version that is not selected, so each candidate is tried)."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = [*sorted(glob.glob(f"{root}/versions/{OLDEST}.*/bin/python{OLDEST}")), shutil.which(f"python{OLDEST}")]
    for candidate in filter(None, found):
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    pytest.fail(f"no working Python {OLDEST} under {root}/versions or on PATH")


@pytest.fixture(scope="module")
def venv39(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """A 3.9 venv with stripwheel installed from its own wheel (dependencies from the index)."""
    root = tmp_path_factory.mktemp("py39") / "venv"
    run(oldest_python(), "-m", "venv", root)
    python = root / "bin" / "python"
    version = run(python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])").stdout.strip()
    assert version == OLDEST
    run(python, "-m", "pip", "install", "-q", "--find-links", wheelhouse, "stripwheel")
    return root


def magic(python: Path) -> bytes:
    code = "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"
    return bytes.fromhex(run(python, "-c", code).stdout)


@pytest.mark.slow
def test_cli_strips_compiles_and_inspects(venv39: Path, demo_wheel: Path, tmp_path: Path) -> None:
    """The whole engine path on 3.9: ELF stripping, deflate reuse, RECORD, and bytecode compiled
    by (and for) the 3.9 interpreter."""
    python = venv39 / "bin" / "python"
    out = tmp_path / "out"
    proc = subprocess.run(
        [venv39 / "bin" / "stripwheel", "strip", "--bytecode", "compile", "-w", out, "--json", demo_wheel],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    (report,) = json.loads(proc.stdout)["wheels"]
    (wheel,) = out.glob("*.whl")
    check_wheel(wheel)
    assert [b["action"] for b in report["binaries"]] == ["stripped"] * len(report["binaries"])
    assert report["bytecode_added"] == ["demo/__pycache__/__init__.cpython-39.pyc"]
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(report["bytecode_added"][0])[:4] == magic(python)
        for name in archive.namelist():
            data = archive.read(name)
            if data[:4] == ELF_MAGIC:
                assert ".symtab" not in section_names(data), name
    inspected = run(python, "-m", "stripwheel", "inspect", "--json", wheel, cwd=tmp_path)
    views = json.loads(inspected.stdout)["wheels"][0]["binaries"]
    assert [v["strippable"]["all"] for v in views] == [0] * len(views)


@pytest.mark.slow
@pytest.mark.parametrize(("sample", "module", "check"), [
    ("setuptools-cext", "cext_demo", "cext_demo.add(2, 3) == 5"),
    ("hatch-binary", "hatch_binary", "hatch_binary.triple(4) == 12"),
])  # fmt: skip
def test_built_by_pip_on_39(
    venv39: Path, wheelhouse: Path, tmp_path: Path, sample: str, module: str, check: str
) -> None:
    """pip on 3.9 builds the sample in an isolated 3.9 environment through the wrapper backend
    (setuptools) or the hook (hatchling); the stripped wheel installs and runs on 3.9."""
    python = venv39 / "bin" / "python"
    source = copy_sample(sample, tmp_path)
    out = tmp_path / "out"
    proc = subprocess.run(
        [python, "-m", "pip", "wheel", "-v", "--no-deps", "-w", out, source],
        capture_output=True,
        text=True,
        env=frontend_env(wheelhouse),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    (wheel,) = out.glob("*.whl")
    check_wheel(wheel)
    with zipfile.ZipFile(wheel) as archive:
        elves = [n for n in archive.namelist() if archive.read(n)[:4] == ELF_MAGIC]
        assert elves
        for name in elves:
            sections = section_names(archive.read(name))
            assert ".symtab" not in sections and ".dynsym" in sections, (name, sections)
    run(python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", wheel)  # refuses a wheel not for 3.9
    assert run(python, "-c", f"import {module}; print({check})", cwd=tmp_path).stdout.strip() == "True"
