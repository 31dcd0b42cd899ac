"""The executor: invariants that hold whatever a transform returns, and failures of the output
path reported as one line with the input untouched."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from _helpers import sha256
from stripwheel import OutputError, _bytecode, binaries
from stripwheel._cli import main
from stripwheel._config import Config
from stripwheel._process import process_wheel


def test_no_member_is_stored_larger_than_it_came(
    demo_wheel: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rewrite that is smaller raw but would deflate worse keeps the original member, and
    the report says why. (A rewriter that returns incompressible bytes stands in for the
    Mach-O string table that once lost its order and grew a wheel.)"""

    def incompressible(fmt: binaries.Format, data: binaries.Buffer, level: binaries.Level) -> binaries.Result:
        return binaries.Stripped(pieces=(os.urandom(len(data) - 1),), size=len(data) - 1)

    monkeypatch.setattr(binaries, "strip", incompressible)
    before = sha256(demo_wheel)
    assert main(["strip", "--json", str(demo_wheel)]) == 0
    out, err = capsys.readouterr()
    assert sha256(demo_wheel) == before  # nothing changed: every binary kept
    reasons = [b["reason"] for b in json.loads(out)["wheels"][0]["binaries"]]
    assert reasons and all(r.startswith("kept the original: stripped, it would be stored larger") for r in reasons)
    assert "binaries: 0 of" in err


def test_an_unwritable_output_directory_is_one_line(
    demo_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-w into a path that cannot be a directory (root may write anywhere, so a regular file
    stands in the way): one line naming the path, exit 1, the input untouched."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    before = sha256(demo_wheel)
    assert main(["strip", "-w", str(blocker / "out"), str(demo_wheel)]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith(f"stripwheel: error: cannot write {blocker / 'out'}: ")
    assert "internal error" not in err and "Traceback" not in err
    assert sha256(demo_wheel) == before


def test_output_errors_are_library_errors(demo_wheel: Path, tmp_path: Path) -> None:
    """Through the API (and so the backend and the hook) the same failure is an OutputError."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="cannot write"):
        process_wheel(demo_wheel, Config(), output_dir=blocker / "out")


def test_a_crashing_compiler_is_reported_as_its_last_line(
    demo_wheel: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """When the compiling interpreter dies, the message carries its last stderr line as text
    (it used to show a Python list repr)."""
    monkeypatch.setattr(_bytecode, "_COMPILER", "import sys; sys.exit('compiler: out of memory')")
    assert main(["strip", "--bytecode", "compile", str(demo_wheel)]) == 1
    err = capsys.readouterr().err
    assert err.strip().endswith("the bytecode compiler failed: compiler: out of memory")
    assert "['" not in err


def test_inspect_a_signed_wheel(demo_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid wheel carrying RECORD.jws and RECORD.p7s (which RECORD does not list) inspects
    cleanly (it used to end in an internal AssertionError)."""
    signed = tmp_path / "signed" / demo_wheel.name
    signed.parent.mkdir()
    with zipfile.ZipFile(demo_wheel) as src, zipfile.ZipFile(signed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("demo-1.0.dist-info/RECORD.jws", "{}")
        dst.writestr("demo-1.0.dist-info/RECORD.p7s", b"\x30\x80")
    assert main(["inspect", "--json", str(signed)]) == 0
    listing = json.loads(capsys.readouterr().out)["wheels"][0]
    assert len(listing["binaries"]) == 5
