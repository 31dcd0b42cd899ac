"""The release gate: sizes parsed, budgets honoured, exit 0 or 1 (2 for usage), one table on
stderr, JSON on stdout; refused binaries listed, failing only with --strict."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from _helpers import need, run
from stripwheel._check import parse_size
from stripwheel._cli import main


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("4096", 4096), ("64k", 65536), ("64K", 65536), ("1M", 1 << 20), ("1MiB", 1 << 20), ("1.5G", 3 << 29)],
)
def test_sizes(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "k", "12q", "-1", "1 TB"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(text)


def test_a_bad_size_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--max-strippable", "lots", "x.whl"]) == 2
    assert "argument --max-strippable: 'lots' is not a size" in capsys.readouterr().err


def test_a_pure_wheel_and_an_empty_directory_pass(
    pure_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["check", "--json", str(pure_wheel), str(tmp_path / "empty")]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["passed"] is True and document["findings"] == [] and document["errors"] == []
    assert err.strip().endswith("passed: 0 binaries, 0 B strippable at level all, 0 over 0 B")


def test_wheel_size_budget(pure_wheel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    size = pure_wheel.stat().st_size
    assert main(["check", "--max-wheel-size", str(size), str(pure_wheel)]) == 0
    capsys.readouterr()
    assert main(["check", "--json", "--max-wheel-size", str(size - 1), str(pure_wheel)]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["oversized"] == [{"wheel": str(pure_wheel), "size": size}]
    assert f"wheel file  {pure_wheel}: over --max-wheel-size" in err


def test_paths_that_are_not_there_or_not_binaries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("text\n")
    assert main(["check", str(tmp_path / "notes.txt"), str(tmp_path / "missing")]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert errors == [
        f"stripwheel: error: {tmp_path / 'notes.txt'}: not a wheel, a directory or an ELF, Mach-O or PE binary",
        f"stripwheel: error: {tmp_path / 'missing'}: no such file or directory",
    ]


@pytest.mark.slow
def test_unstripped_fails_stripped_passes(demo_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo wheel as built fails the gate, worst binary first; a budget above its worst
    binary passes; the stripped wheel passes at 0; level debug checks debug info only."""
    assert main(["check", "--json", str(demo_wheel)]) == 1
    out, err = capsys.readouterr()
    findings = json.loads(out)["findings"]
    assert len(findings) == 5 and all(f["over"] for f in findings)
    worst = max(findings, key=lambda f: f["strippable"])
    table = [line for line in err.splitlines() if "strippable  " in line]
    assert worst["member"] in table[0] and table[0].lstrip().startswith("FAIL")
    budget = str(worst["strippable"])
    assert main(["check", "--max-strippable", budget, str(demo_wheel)]) == 0
    assert main(["check", "--max-strippable", str(worst["strippable"] - 1), str(demo_wheel)]) == 1
    capsys.readouterr()
    assert main(["strip", str(demo_wheel)]) == 0
    capsys.readouterr()
    assert main(["check", "--json", str(demo_wheel)]) == 0
    assert [f["strippable"] for f in json.loads(capsys.readouterr().out)["findings"]] == [0] * 5
    assert main(["check", "--strip", "debug", str(demo_wheel)]) == 0


@pytest.mark.slow
def test_refused_binaries_fail_only_when_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An object file and a static archive in a tree are listed as refused; --strict fails."""
    tree = tmp_path / "tree"
    tree.mkdir()
    data = Path(__file__).parent / "data"
    run(need("gcc"), "-g", "-c", data / "helper.c", "-o", tree / "helper.o")
    run(need("ar"), "rcs", tree / "libhelper.a", tree / "helper.o")
    assert main(["check", "--json", str(tree)]) == 0
    findings = {f["member"]: f for f in json.loads(capsys.readouterr().out)["findings"]}
    assert findings["helper.o"]["refused"] == "relocatable object: its symbols are needed for linking"
    assert findings["libhelper.a"]["refused"] == "static archive: left alone (its objects need their symbols)"
    assert main(["check", "--strict", str(tree)]) == 1
    assert "FAIL    refused             " in capsys.readouterr().err
    shutil.rmtree(tree)
