"""Pins ``_bytecode`` through the CLI: PEP 552 headers, levels, sourceless wheels, retag, errors.

The wheels are pure, from the wheel factory; installing them with pip and uv (to show the
shipped pycs are used) is the slow part."""

from __future__ import annotations

import importlib.util
import marshal
import subprocess
import sys
from pathlib import Path

import pytest

import _wheels
from _helpers import check_wheel, install_wheel, need, run, sha256
from _wheels import members, variant
from stripwheel._cli import main

TAG = sys.implementation.cache_tag
INTERP = f"cp{sys.version_info[0]}{sys.version_info[1]}"
SOURCES = {
    "purepkg/__init__.py": '"""Package docstring."""\nfrom .core import VALUE\n',
    "purepkg/core.py": 'VALUE = "core"\n\ndef f():\n    """doc"""\n    assert VALUE\n    return VALUE\n',
    "purepkg/sub/__init__.py": "",
    "purepkg/sub/modern.py": (
        "def classify(x):\n    match x:\n        case [a, *_]:\n            return a\n        case _:\n            return None\n"
        "\ntry:\n    raise ExceptionGroup('g', [ValueError(1)])\nexcept* ValueError:\n    CAUGHT = True\n"
    ),
    "purepkg/data/table.txt": "not python\n",
    "purepkg-1.0.data/scripts/tool.py": "#!python\nprint('tool')\n",
    "purepkg-1.0.data/purelib/extra_mod.py": "EXTRA = 1\n",
}
MODULES = ["purepkg/__init__.py", "purepkg/core.py", "purepkg/sub/__init__.py", "purepkg/sub/modern.py"]


def pack(tmp: Path, sources: dict[str, str], tag: str = "py3-none-any", name: str = "purepkg") -> Path:
    """A pure wheel of ``sources`` from the wheel factory."""
    return _wheels.pack(tmp / "dist", sources, name=name, tag=tag)


@pytest.fixture
def purepkg_wheel(tmp_path: Path) -> Path:
    return pack(tmp_path, SOURCES)


def cached(module: str, level: int = 0) -> str:
    directory, _, filename = module.rpartition("/")
    opt = "" if level == 0 else f".opt-{level}"
    return f"{directory}/__pycache__/{filename[:-3]}.{TAG}{opt}.pyc"


def test_compile_checked_hash(purepkg_wheel: Path, tmp_path: Path) -> None:
    """Each module gets a checked-hash pyc whose source hash is its source's, with
    co_filename the installed path; scripts and metadata are not compiled."""
    assert main(["strip", "--bytecode", "compile", str(purepkg_wheel)]) == 0
    check_wheel(purepkg_wheel)
    files = members(purepkg_wheel)
    for module in MODULES + ["purepkg-1.0.data/purelib/extra_mod.py"]:
        pyc = files[cached(module)]
        assert pyc[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(pyc[4:8], "little") == 0b11  # hash-based, check_source
        assert pyc[8:16] == importlib.util.source_hash(files[module])
        installed = module.split("/purelib/", 1)[-1]
        assert marshal.loads(pyc[16:]).co_filename == installed
    assert not [n for n in files if "scripts/__pycache__" in n or ".dist-info/__pycache__" in n]
    names = list(files)
    assert names.index(cached("purepkg/core.py")) == names.index("purepkg/core.py") + 1


def test_levels_and_modes(purepkg_wheel: Path, tmp_path: Path) -> None:
    """optimize [0, 1, 2] gives three files; opt-2 has no docstrings; the modes set flags."""
    out = tmp_path / "out"
    assert (
        main(
            [
                "strip",
                "--bytecode",
                "compile",
                "--optimize",
                "0",
                "--optimize",
                "1",
                "--optimize",
                "2",
                "-w",
                str(out),
                str(purepkg_wheel),
            ]
        )
        == 0
    )
    files = members(out / purepkg_wheel.name)
    for level in (0, 1, 2):
        assert cached("purepkg/core.py", level) in files
    assert marshal.loads(files[cached("purepkg/__init__.py", 0)][16:]).co_consts[0] == "Package docstring."
    assert "Package docstring." not in marshal.loads(files[cached("purepkg/__init__.py", 2)][16:]).co_consts
    for mode, flags in (("unchecked-hash", 0b01), ("timestamp", 0)):
        target = tmp_path / mode
        assert (
            main(["strip", "--bytecode", "compile", "--invalidation-mode", mode, "-w", str(target), str(purepkg_wheel)])
            == 0
        )
        pyc = members(target / purepkg_wheel.name)[cached("purepkg/core.py")]
        assert int.from_bytes(pyc[4:8], "little") == flags
        check_wheel(target / purepkg_wheel.name)


def verbose_import(site: Path, module: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-v", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


@pytest.mark.slow
def test_pip_no_compile_and_uv_use_the_shipped_pycs(purepkg_wheel: Path, tmp_path: Path) -> None:
    """Installed with pip --no-compile or uv, the interpreter loads the shipped pyc (its
    source hash matches); after the source is edited it falls back to the source."""
    assert main(["strip", "--bytecode", "compile", str(purepkg_wheel)]) == 0
    shipped = members(purepkg_wheel)[cached("purepkg/core.py")]
    pip_site = tmp_path / "pip"
    run(sys.executable, "-m", "pip", "install", "-q", "--no-compile", "--no-deps", "--target", pip_site, purepkg_wheel)
    uv_site = tmp_path / "uv"
    run(need("uv"), "pip", "install", "-q", "--no-deps", "--target", uv_site, "--python", sys.executable, purepkg_wheel)
    for site in (pip_site, uv_site):
        pyc = site / "purepkg" / "__pycache__" / f"core.{TAG}.pyc"
        assert pyc.read_bytes() == shipped
        log = verbose_import(site, "purepkg.core")
        assert f"{pyc} matches {site / 'purepkg' / 'core.py'}" in log
    source = uv_site / "purepkg" / "core.py"
    source.write_text(source.read_text().replace('"core"', '"edited"'))
    log = verbose_import(uv_site, "purepkg.core")
    assert "core.pyc matches" not in log
    proc = subprocess.run(
        [sys.executable, "-c", "import purepkg; print(purepkg.VALUE)"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(uv_site)},
    )
    assert proc.stdout.strip() == "edited"


@pytest.mark.slow
def test_sourceless_retag_and_install(purepkg_wheel: Path, tmp_path: Path) -> None:
    """Sourceless: module.pyc in place of module.py, the file name and every Tag: line
    retagged, RECORD right; it installs with pip and pypa/installer and imports."""
    assert main(["strip", "--bytecode", "compile", "--sourceless", str(purepkg_wheel)]) == 0
    assert not purepkg_wheel.exists()
    (wheel,) = purepkg_wheel.parent.glob("*.whl")
    assert wheel.name == f"purepkg-1.0-{INTERP}-none-any.whl"
    check_wheel(wheel)
    files = members(wheel)
    assert "purepkg/core.pyc" in files and "purepkg/core.py" not in files
    assert "purepkg-1.0.data/scripts/tool.py" in files  # scripts stay sources
    assert [line for line in files["purepkg-1.0.dist-info/WHEEL"].decode().splitlines() if line.startswith("Tag:")] == [
        f"Tag: {INTERP}-none-any"
    ]
    for site in (install_wheel(wheel, tmp_path / "installer"), tmp_path / "pip"):
        if site.name == "pip":
            run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, wheel)
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "import purepkg, purepkg.sub.modern as m; print(purepkg.VALUE, m.classify([5]), m.CAUGHT)",
            ],
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(site)},
        )
        assert proc.stdout.strip() == "core 5 True", proc.stderr


def test_sourceless_abi3_retag(tmp_path: Path) -> None:
    """cpXY-abi3-platform becomes cpXY-cpXY-platform."""
    wheel = pack(tmp_path, {"absi/__init__.py": "X = 1\n"}, tag="cp39-abi3-linux_x86_64", name="absi")
    assert main(["strip", "--bytecode", "compile", "--sourceless", str(wheel)]) == 0
    (out,) = wheel.parent.glob("absi-*.whl")
    assert out.name == f"absi-1.0-{INTERP}-{INTERP}-linux_x86_64.whl"
    check_wheel(out)


def test_sourceless_refuses_foreign_interpreter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = pack(tmp_path, {"old/__init__.py": "X = 1\n"}, tag="py2-none-any", name="old")
    before = sha256(wheel)
    assert main(["strip", "--bytecode", "compile", "--sourceless", str(wheel)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "which this wheel's tags (py2-none-any) exclude" in err[0]
    assert sha256(wheel) == before


def test_syntax_error_names_module_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = pack(tmp_path, {"broken/__init__.py": "", "broken/bad.py": "x = 1\ndef (:\n"}, name="broken")
    before = sha256(wheel)
    assert main(["strip", "--bytecode", "compile", str(wheel)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken/bad.py: does not compile: SyntaxError" in err[0] and "(line 2)" in err[0]
    assert sha256(wheel) == before
    assert main(["strip", "--bytecode", "compile", "--exclude", "bad.py", str(wheel)]) == 0
    assert cached("broken/bad.py") not in members(wheel) and cached("broken/__init__.py") in members(wheel)


def test_compile_replaces_stale_backend_bytecode(tmp_path: Path) -> None:
    """A pyc the backend already shipped under the same name is replaced, not duplicated."""
    wheel = pack(
        tmp_path, {"stale/__init__.py": "X = 1\n", f"stale/__pycache__/__init__.{TAG}.pyc": "garbage"}, name="stale"
    )
    assert main(["strip", "--bytecode", "compile", str(wheel)]) == 0
    check_wheel(wheel)
    pyc = members(wheel)[f"stale/__pycache__/__init__.{TAG}.pyc"]
    assert pyc[:4] == importlib.util.MAGIC_NUMBER


def test_inspect_reports_bytecode(purepkg_wheel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strip", "--bytecode", "compile", str(purepkg_wheel)]) == 0
    capsys.readouterr()
    assert main(["inspect", str(purepkg_wheel)]) == 0
    assert f"bytecode: 5 .pyc ({TAG})" in capsys.readouterr().out


def test_compile_still_checks_sources_against_record(
    purepkg_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A source whose bytes disagree with RECORD is an error when compiling too."""
    core = members(purepkg_wheel)["purepkg/core.py"]
    bad = variant(
        purepkg_wheel,
        tmp_path / "bad" / purepkg_wheel.name,
        replace={"purepkg/core.py": core.replace(b'"core"', b'"evil"')},
    )
    before = sha256(bad)
    assert main(["strip", "--bytecode", "compile", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "purepkg/core.py: sha256 hash does not match RECORD" in err[0]
    assert sha256(bad) == before
