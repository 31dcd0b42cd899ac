"""Pins ``_inspect``: each binary with what each level would remove, bytecode state; nothing written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from _demo import PURE_PYC
from _helpers import sha256
from _wheels import variant
from stripwheel._cli import main

TAG = sys.implementation.cache_tag
SIGNATURES = {"demo-1.0.dist-info/RECORD.jws": b"{}", "demo-1.0.dist-info/RECORD.p7s": b"\x30\x80"}


def test_a_pure_wheel(pure_wheel: Path, pure_files: dict[str, bytes], capsys: pytest.CaptureFixture[str]) -> None:
    """No native binaries (the text named ``.so`` is not one), one module, its bytecode and
    the interpreter it is for; sizes as the archive says."""
    before = sha256(pure_wheel)
    assert main(["inspect", str(pure_wheel)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{pure_wheel}  [py3-none-any]"
    assert "  no native binaries" in out.splitlines()
    assert out.splitlines()[-1] == f"  python: 1 .py, bytecode: 1 .pyc ({TAG})"
    assert main(["inspect", "--json", str(pure_wheel)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["command"] == "inspect" and doc["errors"] == []
    (wheel,) = doc["wheels"]
    assert wheel["binaries"] == [] and not wheel["sourceless"]
    assert (wheel["python_files"], wheel["bytecode_files"], wheel["bytecode_tags"]) == (1, 1, [TAG])
    assert wheel["wheel_size"] == pure_wheel.stat().st_size
    assert wheel["installed_size"] > sum(map(len, pure_files.values()))  # and dist-info
    assert sha256(pure_wheel) == before


def test_a_sourceless_wheel(pure_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Bytecode beside no source is reported as sourceless."""
    sourceless = variant(
        pure_wheel,
        tmp_path / "sourceless" / pure_wheel.name,
        drop=("demo/__init__.py", PURE_PYC),
        record=lambda lines: [line for line in lines if not line.startswith(("demo/__init__.py,", "demo/__pycache__"))],
        add={"demo/__init__.pyc": b"not really bytecode"},
        fix_record=True,
    )
    assert main(["inspect", str(sourceless)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "  python: 0 .py, bytecode: sourceless"


def test_inspect_checks_the_wheel(pure_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A member that disagrees with RECORD fails inspect too: one line, exit 1."""
    bad = variant(pure_wheel, tmp_path / "bad" / pure_wheel.name, replace={"demo/__init__.py": b"VERSION = '6.6'\n"})
    assert main(["inspect", str(bad)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"stripwheel: error: {bad.name}: demo/__init__.py: sha256 hash does not match RECORD"


def test_inspect_a_signed_pure_wheel(pure_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """RECORD.jws and RECORD.p7s, which RECORD does not list, are no error."""
    signed = variant(pure_wheel, tmp_path / "signed" / pure_wheel.name, add=SIGNATURES)
    assert main(["inspect", "--json", str(signed)]) == 0
    assert json.loads(capsys.readouterr().out)["wheels"][0]["binaries"] == []


@pytest.mark.slow
def test_inspect_a_signed_wheel(demo_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid wheel carrying RECORD.jws and RECORD.p7s (which RECORD does not list) inspects
    cleanly (it used to end in an internal AssertionError)."""
    signed = variant(demo_wheel, tmp_path / "signed" / demo_wheel.name, add=SIGNATURES)
    assert main(["inspect", "--json", str(signed)]) == 0
    listing = json.loads(capsys.readouterr().out)["wheels"][0]
    assert len(listing["binaries"]) == 5
