"""The release gate: sizes parsed, budgets honoured, exit 0 or 1 (2 for usage), one table on
stderr, JSON on stdout; refused binaries listed, failing only with --strict."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from _helpers import need, run
from stripwheel._check import parse_size
from stripwheel._cli import main

#: The largest size taken: 2**63-1 bytes.
LARGEST = "9223372036854775807"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("4096", 4096),
        ("64k", 65536),
        ("64K", 65536),
        ("64KiB", 65536),
        ("1M", 1 << 20),
        ("1MB", 1 << 20),
        ("1MiB", 1 << 20),
        ("1.5M", 1572864),
        ("1.5G", 3 << 29),
        ("0.5k", 512),
        (" 2 g ", 2 << 30),
        (LARGEST, (1 << 63) - 1),  # exact: a float would round it up to 2**63
        ("8589934591.9990234375G", (1 << 63) - (1 << 20)),  # 2**63 - 2**30 + (2**30 - 2**20)
        ("0" * 5000 + "1k", 1024),  # more digits than int() takes from a string
    ],
)
def test_sizes(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "k", "12q", "-1", "1 TB"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "it is empty"),
        ("  ", "it is empty"),
        ("-1", "it is negative"),
        ("-64k", "it is negative"),
        ("1.5", "not a whole number of bytes"),
        ("0.3k", "not a whole number of bytes"),
        ("1." + "0" * 40 + "1G", "not a whole number of bytes"),
        ("9223372036854775808", f"more than {LARGEST} bytes"),
        ("8589934592G", f"more than {LARGEST} bytes"),  # 2**63
        ("9" * 400, f"more than {LARGEST} bytes"),
        ("1" + "0" * 5000, f"more than {LARGEST} bytes"),
    ],
)
def test_sizes_are_whole_bytes_within_range(text: str, why: str) -> None:
    """Parsed exactly: a fraction of a byte, a negative or a huge size is refused, saying why."""
    with pytest.raises(ValueError, match="is not a size") as info:
        parse_size(text)
    message = str(info.value)
    assert why in message and "\n" not in message
    assert message.startswith(repr(text) if len(text) <= 40 else repr(text[:20] + "..."))


def test_a_bad_size_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--max-strippable", "lots", "x.whl"]) == 2
    assert "argument --max-strippable: 'lots' is not a size" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--max-strippable", "--max-wheel-size"])
@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("1.5", "'1.5' is not a size: not a whole number of bytes"),
        ("9" * 400, f"'{'9' * 20}...' (400 characters) is not a size: more than {LARGEST} bytes"),
        ("-1", "'-1' is not a size: it is negative"),
        ("", "'' is not a size: it is empty"),
    ],
    ids=["fraction", "huge", "negative", "empty"],
)
def test_sizes_out_of_range_are_usage_errors(
    option: str, value: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 with one error line naming the value, never a traceback."""
    assert main(["check", f"{option}={value}", "x.whl"]) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "error:" in line] == [
        f"stripwheel check: error: argument {option}: {why}"
    ]
    assert "Traceback" not in err


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


def test_an_error_fails_the_verdict(pure_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 1 on an error, and the verdict line and the JSON say so too, with the count."""
    missing = tmp_path / "missing"
    assert main(["check", "--json", str(pure_wheel), str(missing)]) == 1
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["passed"] is False
    assert document["errors"] == [{"path": str(missing), "error": f"{missing}: no such file or directory"}]
    assert err.splitlines()[-1] == (
        "stripwheel check: FAILED: 1 error, 0 binaries, 0 B strippable at level all, 0 over 0 B"
    )


#: A static archive: a binary to ``inspect_tree`` that needs no compiler (malformed, nothing to strip).
ARCHIVE = b"!<arch>\n" + b"\0" * 120
NOBODY = 65534


@contextmanager
def as_nobody() -> Iterator[None]:
    """Run the block as an unprivileged user when root (root reads a mode-000 file all the same);
    only the effective ids change, so root comes back afterwards."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def locked_tree() -> Iterator[Path]:
    """A tree of static archives where one file and one directory may not be read. It lives
    outside pytest's directories: only their owner may enter those."""
    shared = Path(tempfile.mkdtemp(prefix="stripwheel-check-"))
    tree = shared / "tree"
    (tree / "locked").mkdir(parents=True)
    (tree / "zlast").mkdir()
    for name in ("libfirst.a", "libsecret.a", "locked/libhidden.a", "zlast/liblast.a"):
        (tree / name).write_bytes(ARCHIVE)
        os.chmod(tree / name, 0o644)
    for directory in (shared, tree, tree / "zlast"):
        os.chmod(directory, 0o755)
    os.chmod(tree / "libsecret.a", 0)
    os.chmod(tree / "locked", 0)
    try:
        yield tree
    finally:
        os.chmod(tree / "locked", 0o755)
        shutil.rmtree(shared)


def test_a_tree_with_unreadable_parts(locked_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every binary that could be read is gathered and judged; each part that could not is its
    own error line and JSON entry; the verdict counts them; exit 1."""
    with as_nobody():
        status = main(["check", "--json", str(locked_tree)])
    out, err = capsys.readouterr()
    assert status == 1, err
    expected = sorted(
        [
            f"{locked_tree / 'libsecret.a'}: cannot read: Permission denied",
            f"{locked_tree / 'locked'}: cannot list: Permission denied",
        ]
    )
    assert sorted(line for line in err.splitlines() if "error:" in line) == [
        f"stripwheel: error: {line}" for line in expected
    ]
    document = json.loads(out)
    assert document["passed"] is False
    assert sorted(document["errors"], key=lambda e: e["error"]) == [
        {"path": str(locked_tree), "error": line} for line in expected
    ]
    assert sorted(f["member"] for f in document["findings"]) == ["libfirst.a", "zlast/liblast.a"]
    assert err.splitlines()[-1] == (
        "stripwheel check: FAILED: 2 errors, 2 binaries, 0 B strippable at level all, 0 over 0 B"
    )


def test_a_path_that_cannot_be_looked_at(locked_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path in a directory that may not be searched is one error line, never a traceback;
    the other paths are still checked."""
    hidden = locked_tree / "locked" / "libhidden.a"
    with as_nobody():
        status = main(["check", str(hidden), str(locked_tree / "zlast")])
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert [line for line in err.splitlines() if "error:" in line] == [
        f"stripwheel: error: {hidden}: cannot read: Permission denied"
    ]
    assert err.splitlines()[-1] == (
        "stripwheel check: FAILED: 1 error, 1 binary, 0 B strippable at level all, 0 over 0 B"
    )


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
    """An LTO object and a thin static archive in a tree are listed as refused; --strict fails."""
    tree = tmp_path / "tree"
    tree.mkdir()
    data = Path(__file__).parent / "data"
    run(need("gcc"), "-g", "-flto", "-c", data / "helper.c", "-o", tree / "helper.o")
    run(need("ar"), "rcsT", tree / "libhelper.a", tree / "helper.o")
    assert main(["check", "--json", str(tree)]) == 0
    findings = {f["member"]: f for f in json.loads(capsys.readouterr().out)["findings"]}
    assert "LTO" in (findings["helper.o"]["refused"] or "")
    assert findings["libhelper.a"]["refused"] == "thin archive: left alone (its members live elsewhere)"
    assert main(["check", "--strict", str(tree)]) == 1
    assert "FAIL    refused             " in capsys.readouterr().err
    shutil.rmtree(tree)
