"""Pins ``_process`` (the executor): strips end to end, its invariants, output errors as one line.

End to end: levels, include and exclude, dry-run, ``-w``, determinism, a second strip, odd
binaries left alone, signatures removed. Invariants hold whatever a transform returns; failures
of the output path leave the input untouched."""

from __future__ import annotations

import ctypes
import json
import os
import struct
import subprocess
import threading
import zipfile
from pathlib import Path
from typing import Any, cast

import pytest

from _demo import BINARIES, EXT
from _helpers import check_wheel, demo_add, dynsyms, install_wheel, need, run, section_names, sha256
from _wheels import infos, pack, read, variant
from stripwheel import OutputError, _bytecode, binaries
from stripwheel._cli import main
from stripwheel._config import Config
from stripwheel.wheel.executor import process_wheel

SIGNATURES = {"demo-1.0.dist-info/RECORD.jws": b"{}", "demo-1.0.dist-info/RECORD.p7s": b"\x30\x80"}


# --- the fast layer: the pure demo wheel


def test_signatures_removed_with_warning(pure_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """RECORD.jws and RECORD.p7s sign the old RECORD: both go, with a warning."""
    signed = variant(pure_wheel, tmp_path / "signed" / pure_wheel.name, add=SIGNATURES)
    assert main(["strip", str(signed)]) == 0
    names = infos(signed)
    assert "demo-1.0.dist-info/RECORD.jws" not in names and "demo-1.0.dist-info/RECORD.p7s" not in names
    err = capsys.readouterr().err
    assert "warning: removed demo-1.0.dist-info/RECORD.jws" in err and "RECORD.p7s" in err
    check_wheel(signed)


def test_a_wheel_without_binaries_is_left_alone(pure_wheel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing to strip: the file is not rewritten (same bytes, same mtime) and the summary
    says so; the text named ``.so`` is not reported as a binary."""
    before, mtime = sha256(pure_wheel), pure_wheel.stat().st_mtime_ns
    assert main(["strip", str(pure_wheel)]) == 0
    assert sha256(pure_wheel) == before and pure_wheel.stat().st_mtime_ns == mtime
    err = capsys.readouterr().err
    assert ": unchanged" in err and "not-really.so" not in err and "binaries:" not in err


def test_an_unwritable_output_directory_is_one_line(
    pure_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-w into a path that cannot be a directory (root may write anywhere, so a regular file
    stands in the way): one line naming the path, exit 1, the input untouched."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    before = sha256(pure_wheel)
    assert main(["strip", "-w", str(blocker / "out"), str(pure_wheel)]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith(f"stripwheel: error: cannot write {blocker / 'out'}: ")
    assert "internal error" not in err and "Traceback" not in err
    assert sha256(pure_wheel) == before


def test_output_errors_are_library_errors(pure_wheel: Path, tmp_path: Path) -> None:
    """Through the API (and so the backend and the hook) the same failure is an OutputError."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="cannot write"):
        process_wheel(pure_wheel, Config(), output_dir=blocker / "out")


def test_a_crashing_compiler_is_reported_as_its_last_line(
    pure_wheel: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """When the compiling interpreter dies, the message carries its last stderr line as text
    (it used to show a Python list repr)."""
    monkeypatch.setattr(_bytecode, "_COMPILER", "import sys; sys.exit('compiler: out of memory')")
    assert main(["strip", "--bytecode", "compile", str(pure_wheel)]) == 1
    err = capsys.readouterr().err
    assert err.strip().endswith("the bytecode compiler failed: compiler: out of memory")
    assert "['" not in err


# --- the slow layer: real binaries


@pytest.mark.slow
def test_strip_all_in_place(
    demo_wheel: Path, demo_wheel_master: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Level all drops debug sections and .symtab from every ELF, keeps .dynsym and the
    build-id, and the result installs, imports, loads and runs."""
    assert main(["strip", str(demo_wheel)]) == 0
    check_wheel(demo_wheel)
    err = capsys.readouterr().err
    assert "binaries: 5 of 5 stripped" in err
    assert "not-really.so" not in err  # text named .so: not a binary, not reported
    for name in BINARIES:
        before, after = read(demo_wheel_master, name), read(demo_wheel, name)
        assert len(after) < len(before), name
        sections = section_names(after)
        assert not [s for s in sections if s.startswith(".debug")], (name, sections)
        assert ".symtab" not in sections and ".strtab" not in sections, name
        assert dynsyms(after) == dynsyms(before), name
        if name != "demo/data/libcross-aarch64.so":
            assert ".note.gnu.build-id" in sections, name

    site = install_wheel(demo_wheel, tmp_path / "prefix")
    assert demo_add(site) == "42"
    for lib in ("libhelper.so", "libhelper_patched.so"):
        assert ctypes.CDLL(str(site / "demo.libs" / lib)).helper_mul(6, 7) == 42
    tool = tmp_path / "prefix" / "bin" / "demo-tool"
    assert subprocess.run([str(tool)], capture_output=True, text=True).stdout == "demo-tool ok 42\n"


@pytest.mark.slow
def test_strip_debug_keeps_symtab(demo_wheel: Path, demo_wheel_master: Path) -> None:
    """Level debug drops only the debug sections: the static symbol table stays."""
    assert main(["strip", "--strip", "debug", str(demo_wheel)]) == 0
    check_wheel(demo_wheel)
    for name in BINARIES:
        sections = section_names(read(demo_wheel, name))
        assert ".symtab" in sections and not [s for s in sections if s.startswith(".debug")], name
        assert len(read(demo_wheel, name)) < len(read(demo_wheel_master, name))


@pytest.mark.slow
def test_deterministic(demo_wheel: Path, tmp_path: Path) -> None:
    """The same input and options give a byte-identical wheel, whatever SOURCE_DATE_EPOCH says
    about members that are not new."""
    out1, out2 = tmp_path / "one", tmp_path / "two"
    assert main(["strip", "-w", str(out1), str(demo_wheel)]) == 0
    assert main(["strip", "-w", str(out2), str(demo_wheel)]) == 0
    assert sha256(out1 / demo_wheel.name) == sha256(out2 / demo_wheel.name)


@pytest.mark.slow
def test_second_strip_is_byte_identical(demo_wheel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Stripping a stripped wheel changes nothing: the file is left exactly as it is."""
    assert main(["strip", str(demo_wheel)]) == 0
    first = sha256(demo_wheel)
    mtime = demo_wheel.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["strip", str(demo_wheel)]) == 0
    assert sha256(demo_wheel) == first and demo_wheel.stat().st_mtime_ns == mtime
    assert ": unchanged" in capsys.readouterr().err


@pytest.mark.slow
def test_wheel_dir_and_dry_run(demo_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-w writes a new file and leaves the input alone; --dry-run writes nothing anywhere."""
    original = sha256(demo_wheel)
    assert main(["strip", "--dry-run", "--json", str(demo_wheel)]) == 0
    assert sha256(demo_wheel) == original
    assert sorted(p.name for p in demo_wheel.parent.iterdir()) == [demo_wheel.name]
    report = json.loads(capsys.readouterr().out)
    (wheel,) = report["wheels"]
    assert wheel["dry_run"] and wheel["changed"] and wheel["output"] is None
    assert wheel["wheel_size_after"] < wheel["wheel_size_before"]
    assert {b["member"] for b in wheel["binaries"] if b["action"] == "stripped"} == set(BINARIES)

    out = tmp_path / "out"
    assert main(["strip", "-w", str(out), str(demo_wheel)]) == 0
    assert sha256(demo_wheel) == original
    check_wheel(out / demo_wheel.name)
    assert (out / demo_wheel.name).stat().st_size == wheel["wheel_size_after"]


@pytest.mark.slow
def test_include_exclude(demo_wheel: Path, demo_wheel_master: Path) -> None:
    """Excluded members stay byte-identical; include narrows the candidates."""
    assert main(["strip", "--exclude", "*.libs/**", "--exclude", "demo-tool", str(demo_wheel)]) == 0
    for name in BINARIES:
        same = read(demo_wheel, name) == read(demo_wheel_master, name)
        assert same == (name.startswith("demo.libs/") or name.endswith("demo-tool")), name
    check_wheel(demo_wheel)


@pytest.mark.slow
def test_strip_none_and_bytecode_drop(demo_wheel: Path, demo_wheel_master: Path) -> None:
    """strip none leaves binaries alone; bytecode drop removes __pycache__ and its rows."""
    assert main(["strip", "--strip", "none", "--bytecode", "drop", str(demo_wheel)]) == 0
    check_wheel(demo_wheel)
    names = infos(demo_wheel)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    for name in BINARIES:
        assert read(demo_wheel, name) == read(demo_wheel_master, name)


@pytest.mark.slow
def test_odd_binaries_are_left_alone(demo_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A truncated ELF and one whose section headers lie past EOF are reported and kept
    byte-identical; the rest of the wheel is still stripped and valid."""
    ext = read(demo_wheel, EXT)
    truncated = ext[:1000]
    past_eof = bytearray(ext)
    struct.pack_into("<Q", past_eof, 0x28, len(ext) + 4096)  # e_shoff of ELF64
    out = variant(
        demo_wheel,
        tmp_path / "odd" / demo_wheel.name,
        add={"demo/truncated.so": truncated, "demo/shoff.so": bytes(past_eof)},
        fix_record=True,
    )
    assert main(["strip", str(out)]) == 0
    err = capsys.readouterr().err
    check_wheel(out, skip=frozenset({"demo/truncated.so", "demo/shoff.so"}))
    assert read(out, "demo/truncated.so") == truncated
    assert read(out, "demo/shoff.so") == bytes(past_eof)
    assert len(read(out, EXT)) < len(ext)
    lines = {line.split()[1]: line for line in err.splitlines() if line.startswith("  unchanged")}
    assert "left as is" in lines["demo/truncated.so"] and "left as is" in lines["demo/shoff.so"]


@pytest.mark.slow
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


@pytest.mark.slow
def test_large_members_deflated_in_chunks_do_not_wait_on_each_other(tmp_path: Path) -> None:
    """Stored members cannot reuse compressed blocks, so a stripped member's new bytes are
    deflated in chunks on other threads while its own task waits for them. With at least as
    many such members as workers, the chunks once queued behind the members waiting for them
    and the run hung for ever; it must finish, and the members be stripped."""
    source = tmp_path / "big.c"
    # 6 MB of .rodata: more than one deflate chunk (4 MiB) once stripped
    source.write_text("const unsigned char big[6 << 20] = {1};\nint main(void) { return big[7]; }\n")
    program = tmp_path / "big"
    run(need("gcc"), "-g", "-o", program, source)
    data = program.read_bytes()
    files = {f"demo/bin{i}": data for i in range(5)}  # more than WORKERS (at most 4)
    wheel = pack(tmp_path / "in", files, tag="py3-none-linux_x86_64", purelib=False, compression=zipfile.ZIP_STORED)
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(process_wheel(wheel, Config())), daemon=True)
    worker.start()
    worker.join(120)
    assert done, "the strip did not finish in 120 s: its deflate chunks wait behind the members waiting for them"
    (report,) = done
    assert [b.action for b in report.binaries] == ["stripped"] * 5
    check_wheel(wheel)


class _FakeRun:
    """Stands in for ``_Run`` in ``_ordered``: members of given sizes; carrying out a step
    records it and fails for the names in ``failing``; ``hold`` is not done until ``until``
    has been carried out (on the writer's thread, ahead of its turn)."""

    def __init__(self, sizes: dict[str, int], failing: set[str], hold: str = "", until: str = "") -> None:
        from types import SimpleNamespace

        self.members = {
            name: SimpleNamespace(info=SimpleNamespace(file_size=size, compress_size=size // 4))
            for name, size in sizes.items()
        }
        self.failing = failing
        self.hold, self.until = hold, until
        self.released = threading.Event()
        self.started: list[str] = []
        self.closed: list[str] = []

    def prepare(self, step: Any) -> Any:
        from stripwheel.wheel.executor import Outcome

        self.started.append(step.name)
        if step.name == self.hold:
            assert self.released.wait(60), f"{self.until} was not carried out ahead"
        if step.name == self.until:
            self.released.set()
        if step.name in self.failing:
            raise ValueError(step.name)
        outcome = Outcome(step, cast(Any, self.members[step.name]))
        outcome.close = lambda: self.closed.append(step.name)  # type: ignore[method-assign]
        return outcome


def _collect(run: _FakeRun, steps: list[Any], into: list[str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from stripwheel.wheel.executor import _ordered

    with ThreadPoolExecutor(2) as pool:
        for outcome in _ordered(pool, cast(Any, run), steps):
            into.append(outcome.step.name)


def test_ordered_keeps_the_order_and_starts_the_largest_first() -> None:
    from stripwheel._plan import Step

    sizes = {f"small{i}": 100 for i in range(50)} | {"big": 64 << 20, "mid": 2 << 20, "strip": 100 << 10}
    order = [*(f"small{i}" for i in range(30)), "mid", "strip", "big", *(f"small{i}" for i in range(30, 50))]
    steps = [Step(name, "strip" if name == "strip" else "copy") for name in order]
    run = _FakeRun(sizes, set())
    names: list[str] = []
    _collect(run, steps, names)
    assert names == order
    assert run.started[0] == "big"
    assert sorted(run.closed) == sorted(order)


def test_ordered_raises_an_error_in_its_members_turn() -> None:
    """While the writer waits for a member on the pool it carries out the small steps behind
    it; one of them that failed raises only in its turn, after every earlier outcome, and
    what was done ahead is closed."""
    from stripwheel._plan import Step

    sizes = {f"small{i}": 100 for i in range(50)} | {"big": 64 << 20}
    order = ["big", *(f"small{i}" for i in range(50))]
    steps = [Step(name, "copy") for name in order]
    run = _FakeRun(sizes, {"small40"}, hold="big", until="small49")
    seen: list[str] = []
    with pytest.raises(ValueError, match="small40"):
        _collect(run, steps, seen)
    assert seen == order[: order.index("small40")]
    assert "small49" in run.started
    assert set(run.closed) == set(run.started) - {"small40"}


def test_an_sbom_survives(pure_wheel: Path, tmp_path: Path) -> None:
    """auditwheel's SBOM under .dist-info/sboms/ is carried over byte for byte, its row too."""
    sbom = b'{"bomFormat": "CycloneDX", "specVersion": "1.4", "components": []}\n'
    name = "demo-1.0.dist-info/sboms/auditwheel.cdx.json"
    wheel = variant(pure_wheel, tmp_path / "sbom" / pure_wheel.name, add={name: sbom}, fix_record=True)
    assert main(["strip", "--bytecode", "drop", str(wheel)]) == 0
    assert read(wheel, name) == sbom
    assert any(
        line.startswith(f"{name},sha256=") for line in read(wheel, "demo-1.0.dist-info/RECORD").decode().splitlines()
    )
