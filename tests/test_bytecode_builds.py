"""Pins bytecode through the backend and the hook in real builds: the same pycs either way.

The wrapper backend (config settings) and the hatchling hook (its table) build
sample_projects/pure-python; the pycs are the same whichever way in made them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from _frontend_fixtures import Builds, make_venv, uv_bin
from _helpers import check_wheel, run
from stripwheel._cli import main

pytestmark = pytest.mark.slow

TAG = sys.implementation.cache_tag
INTERP = f"cp{sys.version_info[0]}{sys.version_info[1]}"
MODULES = ["pure_demo/__init__.py", "pure_demo/modern.py", "pure_demo/sub/__init__.py", "pure_demo/sub/helpers.py"]
SAMPLE = Path(__file__).resolve().parent.parent / "sample_projects" / "pure-python" / "pyproject.toml"
CHECK = (
    "import pure_demo, pure_demo.modern as m; "
    "print(pure_demo.message(), pure_demo.shout('hi'), m.first([7, 8]), m.caught())"
)


def cached(module: str) -> str:
    directory, _, filename = module.rpartition("/")
    return f"{directory}/__pycache__/{filename[:-3]}.{TAG}.pyc"


def pycs(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n.endswith(".pyc")}


def hook_pyproject(table: str) -> tuple[str, str]:
    """An edit turning the sample into a hatchling project using the stripwheel hook."""
    text = SAMPLE.read_text()
    new = text.replace('build-backend = "stripwheel.backend"', 'build-backend = "hatchling.build"')
    return text, new + f"\n[tool.hatch.build.targets.wheel.hooks.stripwheel]\n{table}\n"


def run_installed(wheel: Path, venv: Path) -> str:
    python = make_venv(venv)
    run(uv_bin(), "pip", "install", "-q", "--python", python, wheel)
    proc = subprocess.run([str(python), "-c", CHECK], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_compile_through_the_backend(builds: Builds) -> None:
    """-C stripwheel.bytecode=compile adds a checked-hash pyc for every module."""
    wheel = builds.build("pure-python", "uv", "stripwheel.bytecode=compile").ok()
    check_wheel(wheel)
    files = pycs(wheel)
    assert sorted(files) == sorted(cached(m) for m in MODULES)
    assert all(
        int.from_bytes(p[4:8], "little") == 0b11 and p[:4] == importlib.util.MAGIC_NUMBER for p in files.values()
    )


def test_sourceless_through_the_backend(builds: Builds, tmp_path: Path) -> None:
    """The wrapper returns the retagged name; the wheel installs and runs without sources."""
    built = builds.build("pure-python", "pip", "stripwheel.bytecode=compile", "stripwheel.sourceless=true")
    wheel = built.ok()
    assert wheel.name == f"pure_demo-1.0-{INTERP}-none-any.whl"
    check_wheel(wheel)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        tags = [
            line
            for line in archive.read("pure_demo-1.0.dist-info/WHEEL").decode().splitlines()
            if line.startswith("Tag:")
        ]
    assert tags == [f"Tag: {INTERP}-none-any"]
    assert not [n for n in names if n.endswith(".py")]
    assert run_installed(wheel, tmp_path / "venv") == "hello from a data file HI! 7 True"


def test_sourceless_through_the_hook(builds: Builds, tmp_path: Path) -> None:
    """The hook decides the tag in initialize: hatchling itself names the wheel for this
    interpreter, and the engine has nothing to rename."""
    edit = hook_pyproject('bytecode = "compile"\nsourceless = true')
    wheel = builds.build("pure-python", "uv", edit=edit).ok()
    assert wheel.name == f"pure_demo-1.0-{INTERP}-none-any.whl"
    check_wheel(wheel)
    assert "pure_demo/modern.pyc" in pycs(wheel)
    assert run_installed(wheel, tmp_path / "venv") == "hello from a data file HI! 7 True"


def test_same_pycs_from_every_way_in(builds: Builds, tmp_path: Path) -> None:
    """Backend, hook and CLI compile byte-identical bytecode for the same sources."""
    from_backend = pycs(builds.build("pure-python", "uv", "stripwheel.bytecode=compile").ok())
    from_hook = pycs(builds.build("pure-python", "uv", edit=hook_pyproject('bytecode = "compile"')).ok())
    plain = builds.build("pure-python", "uv").ok()
    assert pycs(plain) == {}
    assert main(["strip", "--bytecode", "compile", "-w", str(tmp_path), str(plain)]) == 0
    from_cli = pycs(tmp_path / plain.name)
    assert from_backend == from_hook == from_cli
    assert len(from_cli) == len(MODULES)
