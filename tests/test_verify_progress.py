"""The LIEF second opinion refuses a rewrite whose interface differs; the progress line
shows only on a terminal and only once a wheel takes more than a moment."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from stripwheel import _cli, _verify, binaries
from test_strip import EXT


def member(wheel: Path, name: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(name)


def test_verify_finds_a_different_interface(demo_wheel_master: Path) -> None:
    """Offered another library as the 'stripped' extension, the verifier names what differs;
    offered the real strip, it agrees."""
    ext = member(demo_wheel_master, EXT)
    other = member(demo_wheel_master, "demo.libs/libhelper.so")
    assert _verify.compare("ELF", [ext], [other]).difference == "different dynamic symbols"
    right = binaries.strip("ELF", ext, "all")
    assert isinstance(right, binaries.Stripped)
    assert _verify.compare("ELF", [ext], [right.materialize(ext)]) == _verify.Verdict()


def test_verify_gives_no_verdict_on_what_lief_cannot_read() -> None:
    """A file LIEF cannot read at all is not counted as verified (it used to be)."""
    dos = b"MZ" + bytes(126)  # an MS-DOS stub with no PE header: LIEF returns nothing for it
    verdict = _verify.compare("PE", [dos], [dos[:64]])
    assert verdict.difference is None
    assert verdict.unverified == "LIEF cannot read the original either"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_and_after_a_moment(monkeypatch: pytest.MonkeyPatch) -> None:
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
