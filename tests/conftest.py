"""Session fixtures (the pure demo wheel, the compiled one) and the suite's rules (slow, network, CI).

Only tests marked ``slow`` or ``network`` may use external tools (``_helpers.need``); with
``CI=true`` a skipped ``network`` test is a failure."""

from __future__ import annotations

import os
import py_compile
import shutil
import sys
import sysconfig
from collections.abc import Generator
from pathlib import Path

import pluggy
import pytest
from packaging.tags import interpreter_name, interpreter_version

import _helpers
import _wheels
from _demo import PURE_INIT, PURE_PYC, PURE_SCRIPT
from _frontend_fixtures import builds, wheelhouse
from _helpers import need, run
from _wheels import ODD_NAME

__all__ = ["ODD_NAME", "builds", "wheelhouse"]  # session fixtures of the frontend tests, shared by all modules

DATA = Path(__file__).parent / "data"

#: The format modules' compiling fixtures: a test that uses one is ``slow``; their other tests
#: (hand-made headers, mutations) stay in the unit layer.
COMPILING_FIXTURES = {
    "test_elf.py": {"native", "cross"},
    "test_encode.py": {"big_wheel", "symbols_wheel"},
    "test_macho.py": {"fixtures", "dsyms"},
    "test_pe.py": {"built", "wine_env"},
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        compiling = COMPILING_FIXTURES.get(item.path.name, set())
        if compiling & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    """Note the running test for ``_helpers.external`` around its setup (session fixtures
    included: an autouse fixture would come after them), call and teardown."""
    _helpers.current_item = item
    try:
        yield
    finally:
        _helpers.current_item = None


def in_ci() -> bool:
    """CI services set ``CI=true``."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """In CI a skipped ``network`` test fails, with the skip's reason: CI cannot go green
    without the real-wheel tests."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and item.get_closest_marker("network") and in_ci():
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"a network test may not skip in CI (CI=true): {reason}"


# --- the fast layer's wheel: pure Python, built by the factory


def _tag() -> str:
    return f"{interpreter_name()}{interpreter_version()}"


@pytest.fixture(scope="session")
def pure_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The pure demo wheel's members: a package with its checked-hash bytecode, a text file
    named like a library, a script, and a file whose name needs CSV quoting."""
    tmp = tmp_path_factory.mktemp("pure-pyc")
    source = tmp / "__init__.py"
    source.write_text(PURE_INIT)
    pyc = tmp / "__init__.pyc"
    py_compile.compile(
        str(source),
        cfile=str(pyc),
        dfile="demo/__init__.py",
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
    )
    return {
        "demo/__init__.py": PURE_INIT.encode(),
        PURE_PYC: pyc.read_bytes(),
        "demo/data/not-really.so": b"this is text with a binary-looking name\n" * 4,
        ODD_NAME: b"odd name\n",
        PURE_SCRIPT: b"#!python\nprint('demo-tool ok')\n",
    }


@pytest.fixture(scope="session")
def pure_wheel_master(pure_files: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``demo-1.0-py3-none-any.whl``, packed by the factory (never modified by tests)."""
    wheel = _wheels.pack(tmp_path_factory.mktemp("pure-wheel"), pure_files, modes={PURE_SCRIPT: 0o755})
    os.chmod(wheel, 0o444)
    return wheel


@pytest.fixture
def pure_wheel(pure_wheel_master: Path, tmp_path: Path) -> Path:
    """A fresh, writable copy of the pure demo wheel in the test's own directory."""
    return _wheels.copy(pure_wheel_master, tmp_path / "in")


# --- the slow layer's wheel: real binaries, compiled now


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
    wheel = _wheels.wheel_pack(demo_tree, tmp_path_factory.mktemp("demo-wheel"))
    os.chmod(wheel, 0o444)
    return wheel


@pytest.fixture
def demo_wheel(demo_wheel_master: Path, tmp_path: Path) -> Path:
    """A fresh, writable copy of the demo wheel in the test's own directory."""
    return _wheels.copy(demo_wheel_master, tmp_path / "in")
