"""Pins ``_verify`` (LIEF): what it needs, no verdict on the unreadable, a different interface refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _demo import EXT
from _helpers import check_wheel, sha256
from _wheels import read
from stripwheel import _verify, binaries
from stripwheel._cli import main


def test_lief_requirement_is_the_verify_extra() -> None:
    """What the backend and the hook ask for is what ``pip install 'stripwheel[verify]'`` installs."""
    from stripwheel._config import read_pyproject
    from stripwheel._verify import REQUIREMENT

    pyproject = read_pyproject(Path(__file__).parent.parent / "pyproject.toml")
    assert pyproject["project"]["optional-dependencies"]["verify"] == [REQUIREMENT]


def test_verify_without_lief_is_an_error(pure_wheel: Path) -> None:
    """verify without LIEF installed fails before anything is written."""
    original = sha256(pure_wheel)
    code = (
        "import sys; sys.modules['lief'] = None; from stripwheel._cli import main; "
        f"sys.exit(main(['strip', '--verify', {str(pure_wheel)!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "stripwheel: error: verify = true needs LIEF, which is not installed: pip install 'stripwheel[verify]'"
    ]
    assert sha256(pure_wheel) == original


def test_verify_gives_no_verdict_on_what_lief_cannot_read() -> None:
    """A file LIEF cannot read at all is not counted as verified (it used to be)."""
    dos = b"MZ" + bytes(126)  # an MS-DOS stub with no PE header: LIEF returns nothing for it
    verdict = _verify.compare("PE", [dos], [dos[:64]])
    assert verdict.difference is None
    assert verdict.unverified == "LIEF cannot read the original either"


# --- with real binaries


@pytest.mark.slow
def test_verify_finds_a_different_interface(demo_wheel_master: Path) -> None:
    """Offered another library as the 'stripped' extension, the verifier names what differs;
    offered the real strip, it agrees."""
    ext = read(demo_wheel_master, EXT)
    other = read(demo_wheel_master, "demo.libs/libhelper.so")
    assert _verify.compare("ELF", [ext], [other]).difference == "different dynamic symbols"
    right = binaries.strip("ELF", ext, "all")
    assert isinstance(right, binaries.Stripped)
    assert _verify.compare("ELF", [ext], [right.materialize(ext)]) == _verify.Verdict()


@pytest.mark.slow
def test_verify_with_lief(demo_wheel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--verify re-reads every rewritten binary with LIEF; real strips pass it."""
    assert main(["strip", "--verify", "--json", str(demo_wheel)]) == 0
    out, err = capsys.readouterr()
    assert "binaries: 5 of 5 stripped" in err and err.count("; 5 verified with LIEF") == 1
    assert [b["verified"] for b in json.loads(out)["wheels"][0]["binaries"]] == [True] * 5
    check_wheel(demo_wheel)


@pytest.mark.slow
def test_without_verify_nothing_claims_verification(demo_wheel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strip", "--json", str(demo_wheel)]) == 0
    out, err = capsys.readouterr()
    assert "verified" not in err
    assert [b["verified"] for b in json.loads(out)["wheels"][0]["binaries"]] == [False] * 5
