"""End-to-end strip of a real wheel through the command line: what changes, what must not."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from _helpers import check_wheel, dynsyms, install_wheel, section_names, sha256
from conftest import ODD_NAME
from stripwheel._cli import main

SUFFIX = __import__("sysconfig").get_config_var("EXT_SUFFIX")
EXT = f"demo/_ext{SUFFIX}"
BINARIES = [
    EXT,
    "demo.libs/libhelper.so",
    "demo.libs/libhelper_patched.so",
    "demo-1.0.data/scripts/demo-tool",
    "demo/data/libcross-aarch64.so",
]


def members(path: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as archive:
        return {i.filename: i for i in archive.infolist()}


def read(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def raw_member(path: Path, info: zipfile.ZipInfo) -> bytes:
    """The stored (compressed) bytes of a member."""
    with open(path, "rb") as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
        f.seek(info.header_offset + 30 + name_len + extra_len)
        return f.read(info.compress_size)


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
    proc = subprocess.run(
        [sys.executable, "-c", "import demo; print(demo.add(40, 2))"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site)},
    )
    assert proc.stdout.strip() == "42", proc.stderr
    for lib in ("libhelper.so", "libhelper_patched.so"):
        assert ctypes.CDLL(str(site / "demo.libs" / lib)).helper_mul(6, 7) == 42
    tool = tmp_path / "prefix" / "bin" / "demo-tool"
    assert subprocess.run([str(tool)], capture_output=True, text=True).stdout == "demo-tool ok 42\n"


def test_strip_debug_keeps_symtab(demo_wheel: Path, demo_wheel_master: Path) -> None:
    """Level debug drops only the debug sections: the static symbol table stays."""
    assert main(["strip", "--strip", "debug", str(demo_wheel)]) == 0
    check_wheel(demo_wheel)
    for name in BINARIES:
        sections = section_names(read(demo_wheel, name))
        assert ".symtab" in sections and not [s for s in sections if s.startswith(".debug")], name
        assert len(read(demo_wheel, name)) < len(read(demo_wheel_master, name))


def test_unchanged_members_keep_bytes_and_zipinfo(demo_wheel: Path, demo_wheel_master: Path) -> None:
    """Every member that is not rewritten keeps its stored bytes, time, permissions, and its
    RECORD row; the odd name round-trips through RECORD's CSV."""
    assert main(["strip", str(demo_wheel)]) == 0
    before, after = members(demo_wheel_master), members(demo_wheel)
    assert set(before) == set(after)
    record = "demo-1.0.dist-info/RECORD"
    rows_before = {r.split(",")[0]: r for r in read(demo_wheel_master, record).decode().splitlines()}
    rows_after = {r.split(",")[0]: r for r in read(demo_wheel, record).decode().splitlines()}
    for name, info in before.items():
        new = after[name]
        assert (new.date_time, new.external_attr) == (info.date_time, info.external_attr), name
        if name in BINARIES or name == record:
            continue
        assert new.compress_type == info.compress_type and new.CRC == info.CRC, name
        assert raw_member(demo_wheel, new) == raw_member(demo_wheel_master, info), name
        if not name.startswith("demo/data/a,b"):
            assert rows_after[name] == rows_before[name], name
    assert read(demo_wheel, ODD_NAME) == b"odd name\n"
    payload = [n for n in after if not n.startswith("demo-1.0.dist-info/")]
    assert payload == [n for n in before if not n.startswith("demo-1.0.dist-info/")]


def test_deterministic(demo_wheel: Path, tmp_path: Path) -> None:
    """The same input and options give a byte-identical wheel, whatever SOURCE_DATE_EPOCH says
    about members that are not new."""
    out1, out2 = tmp_path / "one", tmp_path / "two"
    assert main(["strip", "-w", str(out1), str(demo_wheel)]) == 0
    assert main(["strip", "-w", str(out2), str(demo_wheel)]) == 0
    assert sha256(out1 / demo_wheel.name) == sha256(out2 / demo_wheel.name)


def test_second_strip_is_byte_identical(demo_wheel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Stripping a stripped wheel changes nothing: the file is left exactly as it is."""
    assert main(["strip", str(demo_wheel)]) == 0
    first = sha256(demo_wheel)
    mtime = demo_wheel.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["strip", str(demo_wheel)]) == 0
    assert sha256(demo_wheel) == first and demo_wheel.stat().st_mtime_ns == mtime
    assert ": unchanged" in capsys.readouterr().err


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


def test_include_exclude(demo_wheel: Path, demo_wheel_master: Path) -> None:
    """Excluded members stay byte-identical; include narrows the candidates."""
    assert main(["strip", "--exclude", "*.libs/**", "--exclude", "demo-tool", str(demo_wheel)]) == 0
    for name in BINARIES:
        same = read(demo_wheel, name) == read(demo_wheel_master, name)
        assert same == (name.startswith("demo.libs/") or name.endswith("demo-tool")), name
    check_wheel(demo_wheel)


def test_strip_none_and_bytecode_drop(demo_wheel: Path, demo_wheel_master: Path) -> None:
    """strip none leaves binaries alone; bytecode drop removes __pycache__ and its rows."""
    assert main(["strip", "--strip", "none", "--bytecode", "drop", str(demo_wheel)]) == 0
    check_wheel(demo_wheel)
    names = members(demo_wheel)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    for name in BINARIES:
        assert read(demo_wheel, name) == read(demo_wheel_master, name)


def test_signatures_removed_with_warning(demo_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """RECORD.jws and RECORD.p7s sign the old RECORD: both go, with a warning."""
    signed = tmp_path / "signed" / demo_wheel.name
    signed.parent.mkdir()
    with zipfile.ZipFile(demo_wheel) as src, zipfile.ZipFile(signed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("demo-1.0.dist-info/RECORD.jws", "{}")
        dst.writestr("demo-1.0.dist-info/RECORD.p7s", b"\x30\x80")
    assert main(["strip", str(signed)]) == 0
    names = members(signed)
    assert "demo-1.0.dist-info/RECORD.jws" not in names and "demo-1.0.dist-info/RECORD.p7s" not in names
    err = capsys.readouterr().err
    assert "warning: removed demo-1.0.dist-info/RECORD.jws" in err and "RECORD.p7s" in err
    check_wheel(signed)


def test_verify_with_lief(demo_wheel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--verify re-reads every rewritten binary with LIEF; real strips pass it."""
    assert main(["strip", "--verify", "--json", str(demo_wheel)]) == 0
    out, err = capsys.readouterr()
    assert "binaries: 5 of 5 stripped" in err and err.count("; 5 verified with LIEF") == 1
    assert [b["verified"] for b in json.loads(out)["wheels"][0]["binaries"]] == [True] * 5
    check_wheel(demo_wheel)


def test_without_verify_nothing_claims_verification(demo_wheel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strip", "--json", str(demo_wheel)]) == 0
    out, err = capsys.readouterr()
    assert "verified" not in err
    assert [b["verified"] for b in json.loads(out)["wheels"][0]["binaries"]] == [False] * 5


def test_lief_requirement_is_the_verify_extra() -> None:
    """What the backend and the hook ask for is what ``pip install 'stripwheel[verify]'`` installs."""
    from stripwheel._config import read_pyproject
    from stripwheel._verify import REQUIREMENT

    pyproject = read_pyproject(Path(__file__).parent.parent / "pyproject.toml")
    assert pyproject["project"]["optional-dependencies"]["verify"] == [REQUIREMENT]


def test_verify_without_lief_is_an_error(demo_wheel: Path) -> None:
    """verify without LIEF installed fails before anything is written."""
    original = sha256(demo_wheel)
    code = (
        "import sys; sys.modules['lief'] = None; from stripwheel._cli import main; "
        f"sys.exit(main(['strip', '--verify', {str(demo_wheel)!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "stripwheel: error: verify = true needs LIEF, which is not installed: pip install 'stripwheel[verify]'"
    ]
    assert sha256(demo_wheel) == original


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
    script = Path(sys.executable).parent / "stripwheel"
    proc = subprocess.run([str(script), "inspect", str(demo_wheel)], capture_output=True, text=True)
    assert proc.returncode == 0 and "libhelper_patched.so: ELF x86_64" in proc.stdout
    assert "python: 1 .py, bytecode: 1 .pyc" in proc.stdout
