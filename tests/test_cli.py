"""Pins ``_cli``: exit codes, one line per error, ``--json``, progress, ``python -m`` and the script."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

from _demo import BINARIES, PURE_PYC
from _wheels import variant
from stripwheel import _cli
from stripwheel._cli import main
from stripwheel._errors import DEBUG_ENV, ConfigError, WheelError, error_lines

SCRIPT = Path(sys.executable).parent / "stripwheel"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["strip"],
        ["frobnicate", "x.whl"],
        ["strip", "--strip", "most", "x.whl"],
        ["strip", "--optimize", "3", "x.whl"],
    ],
    ids=["nothing", "no-wheel", "unknown-command", "bad-level", "bad-optimize"],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage: stripwheel" in err and "Traceback" not in err


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "strip" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("stripwheel ")


def test_pyproject_errors_are_one_line_each_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``[tool.stripwheel]`` of ./pyproject.toml is read by ``strip``: every problem is named,
    one line each, before any wheel is touched."""
    (tmp_path / "pyproject.toml").write_text('[tool.stripwheel]\nstrip = "yes"\nstrp = "all"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["strip", "missing-1.0-py3-none-any.whl"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "stripwheel: error: tool.stripwheel.strip: 'yes' is not one of 'all', 'debug', 'none'",
        "stripwheel: error: tool.stripwheel: unknown key 'strp' (did you mean 'strip'?)",
    ]


def test_one_failing_wheel_of_two(pure_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each wheel is done on its own: a bad one is one error line (and one entry of
    ``errors`` in the JSON), the good one is still processed, and the exit status is 1."""
    bad = variant(pure_wheel, tmp_path / "bad" / pure_wheel.name, replace={"demo/__init__.py": b"x = 1\n"})
    assert main(["strip", "--json", "--bytecode", "drop", str(bad), str(pure_wheel)]) == 1
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["stripwheel"] == 1 and doc["command"] == "strip"
    assert [e["wheel"] for e in doc["errors"]] == [str(bad)]
    assert doc["errors"][0]["error"].startswith(f"{bad.name}: demo/__init__.py: size ")
    (report,) = doc["wheels"]
    assert report["wheel"] == str(pure_wheel) and report["changed"]
    assert report["bytecode_removed"] == [PURE_PYC]
    errors = [line for line in err.splitlines() if line.startswith("stripwheel: error:")]
    assert errors == [f"stripwheel: error: {doc['errors'][0]['error']}"]


def test_an_internal_error_is_one_line_unless_debugging(
    pure_wheel: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug (an exception that is not a StripwheelError) is one ``internal error`` line and
    exit status 1; with STRIPWHEEL_DEBUG set it is raised instead, traceback and all."""

    def broken(path: Path) -> NoReturn:
        raise KeyError("oops")

    monkeypatch.setattr("stripwheel.wheel.inspect.inspect_wheel", broken)
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    assert main(["inspect", str(pure_wheel)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"stripwheel: error: {pure_wheel.name}: internal error: KeyError('oops')"
    ]
    monkeypatch.setenv(DEBUG_ENV, "1")
    with pytest.raises(KeyError, match="oops"):
        main(["inspect", str(pure_wheel)])


def test_error_lines_are_the_boundaries_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the CLI, the wrapper backend and the hatch hook print: a line per configuration
    problem, a StripwheelError's message, one ``internal error`` line for anything else."""
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    assert error_lines(ConfigError(["strip: bad", "strp: unknown"]), "prog") == [
        "prog: error: strip: bad",
        "prog: error: strp: unknown",
    ]
    assert error_lines(WheelError("x.whl", "corrupt", "pkg/a.so")) == ["stripwheel: error: x.whl: pkg/a.so: corrupt"]
    assert error_lines(ValueError("v"), where="x.whl") == ["stripwheel: error: x.whl: internal error: ValueError('v')"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_and_after_a_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock is a stand-in: no test waits for real time to pass."""
    assert _cli._progress(io.StringIO(), "x.whl") is None
    clock = [100.0]
    monkeypatch.setattr("stripwheel._cli.time.monotonic", lambda: clock[0])
    stream = Terminal()
    show = _cli._progress(stream, "x.whl")
    assert show is not None
    show(10, 100)
    assert stream.getvalue() == ""  # not yet a moment
    clock[0] += 1.5
    show(50, 100)
    assert stream.getvalue() == "\rstripwheel: x.whl: 50%\x1b[K"


def test_module_and_console_script_on_a_pure_wheel(pure_wheel: Path) -> None:
    """``python -m stripwheel`` and the ``stripwheel`` script give the same listing."""
    by_module = subprocess.run(
        [sys.executable, "-m", "stripwheel", "inspect", str(pure_wheel)], capture_output=True, text=True
    )
    assert by_module.returncode == 0, by_module.stderr
    by_script = subprocess.run([str(SCRIPT), "inspect", str(pure_wheel)], capture_output=True, text=True)
    assert by_script.returncode == 0, by_script.stderr
    assert by_module.stdout == by_script.stdout
    assert "no native binaries" in by_module.stdout


def test_module_exit_status_and_error_line(tmp_path: Path) -> None:
    """The status ``main`` returns is the process's, with the one error line on stderr, under
    the name it was called by."""
    missing = tmp_path / "demo-1.0-py3-none-any.whl"
    proc = subprocess.run([sys.executable, "-m", "stripwheel", "strip", str(missing)], capture_output=True, text=True)
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line == f"python -m stripwheel: error: {missing}: no such file or directory"


# --- with real binaries


@pytest.mark.slow
def test_json_report(demo_wheel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json gives sizes per binary and in total, installed and compressed."""
    assert main(["strip", "--json", str(demo_wheel)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["stripwheel"] == 1 and doc["command"] == "strip" and doc["errors"] == []
    (wheel,) = doc["wheels"]
    assert wheel["installed_size_after"] < wheel["installed_size_before"]
    assert wheel["wheel_size_after"] == Path(demo_wheel).stat().st_size
    for b in wheel["binaries"]:
        assert b["format"] == "ELF" and b["size_after"] < b["size_before"]
        assert b["compressed_after"] < b["compressed_before"]
        assert b["arch"] in ("x86_64", "aarch64")


@pytest.mark.slow
def test_module_and_console_script(demo_wheel: Path) -> None:
    """``python -m stripwheel`` and the ``stripwheel`` script are the same command."""
    proc = subprocess.run(
        [sys.executable, "-m", "stripwheel", "inspect", "--json", str(demo_wheel)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    views = {b["member"]: b for b in doc["wheels"][0]["binaries"]}
    assert set(views) == set(BINARIES)
    assert all(v["strippable"]["all"] > v["strippable"]["debug"] > 0 for v in views.values())
    proc = subprocess.run([str(SCRIPT), "inspect", str(demo_wheel)], capture_output=True, text=True)
    assert proc.returncode == 0 and "libhelper_patched.so: ELF x86_64" in proc.stdout
    assert "python: 1 .py, bytecode: 1 .pyc" in proc.stdout
