"""Session fixtures: real binaries compiled at test time, packed into a real wheel."""

from __future__ import annotations

import os
import py_compile
import shutil
import sys
import sysconfig
from pathlib import Path

import pytest
from packaging.tags import interpreter_name, interpreter_version

from _frontend_fixtures import builds, wheelhouse
from _helpers import need, run

__all__ = ["builds", "wheelhouse"]  # session fixtures of the frontend tests, shared by all modules

DATA = Path(__file__).parent / "data"
#: A name with a comma, quotes and non-ASCII: RECORD's CSV must round-trip it.
ODD_NAME = 'demo/data/a,b "c" \u00fc.txt'


def _tag() -> str:
    return f"{interpreter_name()}{interpreter_version()}"


@pytest.fixture(scope="session")
def demo_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unpacked wheel tree: a C extension, a ctypes library and a patchelf'ed copy of it
    in ``demo.libs/``, a PIE executable in ``.data/scripts``, an aarch64 library as package
    data, a fake ``.so`` that is text, bytecode, and a file whose name needs CSV quoting."""
    gcc = need("gcc")
    root = tmp_path_factory.mktemp("demo") / "demo-1.0"
    pkg = root / "demo"
    libs = root / "demo.libs"
    scripts = root / "demo-1.0.data" / "scripts"
    for d in (pkg / "data", pkg / "__pycache__", libs, scripts, root / "demo-1.0.dist-info"):
        d.mkdir(parents=True)
    include = sysconfig.get_paths()["include"]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    run(gcc, "-g", "-O1", "-fPIC", "-shared", f"-I{include}", DATA / "demo_ext.c", "-o", pkg / f"_ext{suffix}")
    run(gcc, "-g3", "-O1", "-fPIC", "-shared", DATA / "helper.c", "-o", libs / "libhelper.so")
    shutil.copy(libs / "libhelper.so", libs / "libhelper_patched.so")
    # Two calls: patchelf 0.14 corrupts RUNPATH when both edits come in one.
    run(need("patchelf"), "--set-rpath", "$ORIGIN/" + "x" * 300, libs / "libhelper_patched.so")
    run(need("patchelf"), "--add-needed", "libz.so.1", libs / "libhelper_patched.so")
    run(gcc, "-g", "-O1", "-fPIE", "-pie", DATA / "tool.c", "-o", scripts / "demo-tool")
    run(
        need("clang"),
        "--target=aarch64-linux-gnu",
        "-g",
        "-O1",
        "-fPIC",
        "-shared",
        "-nostdlib",
        "-fuse-ld=lld",
        DATA / "cross.c",
        "-o",
        pkg / "data" / "libcross-aarch64.so",
    )
    (pkg / "__init__.py").write_text("from ._ext import add\n\nVERSION = '1.0'\n")
    py_compile.compile(
        str(pkg / "__init__.py"),
        cfile=str(pkg / "__pycache__" / f"__init__.{sys.implementation.cache_tag}.pyc"),
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
    )
    (pkg / "data" / "not-really.so").write_text("this is text with a binary-looking name\n" * 4)
    (root / ODD_NAME).write_text("odd name\n")
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    (root / "demo-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
    (root / "demo-1.0.dist-info" / "WHEEL").write_text(
        f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: false\nTag: {_tag()}-{_tag()}-{platform}\n"
    )
    return root


@pytest.fixture(scope="session")
def demo_wheel_master(demo_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo tree packed by pypa/wheel's ``wheel pack`` (never modified by tests)."""
    dest = tmp_path_factory.mktemp("demo-wheel")
    run(sys.executable, "-m", "wheel", "pack", "--dest-dir", dest, demo_tree)
    (wheel,) = dest.glob("*.whl")
    os.chmod(wheel, 0o444)
    return wheel


@pytest.fixture
def demo_wheel(demo_wheel_master: Path, tmp_path: Path) -> Path:
    """A fresh, writable copy of the demo wheel in the test's own directory."""
    target = tmp_path / "in" / demo_wheel_master.name
    target.parent.mkdir()
    shutil.copyfile(demo_wheel_master, target)
    return target
