"""Shared test helpers: the independent oracles every written wheel goes through."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import cast

import pytest
from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile
from installer.utils import get_launcher_kind

from stripwheel._blob import Blob
from stripwheel.binaries import Copy, Stripped

ELF_MAGIC = b"\x7fELF"


#: Markers that allow a test to run external tools (compilers, frontends, wine, other Pythons).
EXTERNAL_MARKERS = ("slow", "network")
#: The test being run, set by conftest around each test's setup, call and teardown.
current_item: pytest.Item | None = None


def external(what: str) -> None:
    """Fail the running test unless it is marked ``slow`` or ``network``: the fast layer
    (``-m "not slow and not network"``) must call no compiler, frontend or other interpreter."""
    item = current_item
    if item is not None and not any(item.get_closest_marker(m) for m in EXTERNAL_MARKERS):
        pytest.fail(
            f"{item.nodeid} uses {what!r} but is not marked slow or network: mark it"
            " (pytestmark = pytest.mark.slow), or keep it in the fast layer without external tools",
            pytrace=False,
        )


def need(tool: str) -> str:
    """The path of a tool the tests require; a missing tool fails the test (CI installs it).
    Only tests marked ``slow`` or ``network`` may ask (see ``external``)."""
    external(tool)
    beside = Path(sys.executable).parent / tool  # console scripts of the test venv
    path = str(beside) if beside.exists() else shutil.which(tool)
    if path is None:
        pytest.fail(f"required tool {tool!r} is not installed (see .ci/run)")
    return path


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its output when it fails."""
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return cast("subprocess.CompletedProcess[str]", proc)


def check_wheel(path: Path, skip: frozenset[str] = frozenset()) -> None:
    """The oracle: pypa/installer validates RECORD against every member's hash and size;
    the dist-info directory comes last with RECORD as its last member; readelf reads every
    ELF member (but those in ``skip``, broken on purpose) without complaint."""
    with WheelFile.open(path) as source:
        source.validate_record(validate_contents=True)
        dist_info = source.dist_info_dir
    with zipfile.ZipFile(path) as archive:
        names = [i.filename for i in archive.infolist()]
        assert archive.testzip() is None
        assert names[-1] == f"{dist_info}/RECORD"
        in_dist = [n.startswith(dist_info + "/") for n in names]
        assert in_dist == sorted(in_dist), "the .dist-info directory must come last"
        for info in archive.infolist():
            data = archive.read(info)
            if data[:4] == ELF_MAGIC and info.filename not in skip:
                check_elf(data, info.filename)


def readelf(data: bytes, *options: str) -> subprocess.CompletedProcess[bytes]:
    """readelf on bytes (it wants an ordinary file)."""
    with tempfile.NamedTemporaryFile(suffix=".elf") as f:
        f.write(data)
        f.flush()
        return subprocess.run([need("readelf"), "-W", *options, f.name], capture_output=True)


def check_elf(data: bytes, label: str) -> None:
    """readelf parses headers, sections, segments, dynamic section and dynamic symbols silently."""
    proc = readelf(data, "-h", "-S", "-l", "-d", "--dyn-syms", "-n")
    assert proc.returncode == 0, (label, proc.stderr)
    assert b"Warning" not in proc.stderr and b"Error" not in proc.stderr, (label, proc.stderr)


def section_names(data: bytes) -> list[str]:
    """Section names as readelf lists them."""
    proc = readelf(data, "-S")
    names = []
    for line in proc.stdout.decode().splitlines():
        line = line.strip()
        if line.startswith("[") and "]" in line:
            rest = line.split("]", 1)[1].split()
            if rest and rest[0] != "Name":
                names.append(rest[0])
    return names


def dynsyms(data: bytes) -> str:
    lines = readelf(data, "--dyn-syms").stdout.decode().splitlines()
    return "\n".join(line for line in lines if not line.startswith("File:"))


def install_wheel(wheel: Path, prefix: Path) -> Path:
    """Install with pypa/installer into ``prefix``; returns the site-packages directory."""
    site = prefix / "site"
    scheme = {
        "purelib": site,
        "platlib": site,
        "headers": prefix / "include",
        "scripts": prefix / "bin",
        "data": prefix / "data",
    }
    destination = SchemeDictionaryDestination(
        {k: str(v) for k, v in scheme.items()},
        interpreter=sys.executable,
        script_kind=get_launcher_kind(),
    )
    with WheelFile.open(wheel) as source, warnings.catch_warnings():
        # pypa/installer skips __pycache__/ members with this warning, by design.
        warnings.filterwarnings("ignore", "Skip installing .*__pycache__", RuntimeWarning)
        install(source, destination, {"INSTALLER": b"stripwheel-tests"})
    return site


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_fails(wheel: Path, capsys: pytest.CaptureFixture[str], *fragments: str, argv: tuple[str, ...] = ()) -> None:
    """``stripwheel strip`` exits 1 with exactly one line naming the wheel and the fragments;
    the input is unchanged and nothing is left beside it."""
    from stripwheel._cli import main

    before = sha256(wheel)
    listing = sorted(p.name for p in wheel.parent.iterdir())
    assert main(["strip", *argv, str(wheel)]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"stripwheel: error: {wheel.name}: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in captured.err
    assert sha256(wheel) == before
    assert sorted(p.name for p in wheel.parent.iterdir()) == listing


def demo_add(site: Path) -> str:
    """What ``demo.add(40, 2)`` prints when the demo package is imported from ``site``."""
    proc = subprocess.run(
        [sys.executable, "-c", "import demo; print(demo.add(40, 2))"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site)},
    )
    return proc.stdout.strip() or proc.stderr


def check_pieces(result: Stripped, size: int) -> None:
    """The pieces describe exactly ``result.size`` bytes and copy only from the input."""
    total = 0
    for piece in result.pieces:
        if isinstance(piece, Copy):
            assert piece.length > 0 and piece.offset >= 0 and piece.offset + piece.length <= size
            total += piece.length
        else:
            assert isinstance(piece, bytes) and piece
            total += len(piece)
    assert total == result.size


def snapshot(path: Path, size: int) -> Blob:
    """A private copy of the file's first ``size`` bytes, as a tree run reads a file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return Blob.snapshot(fd, size)
    finally:
        os.close(fd)
