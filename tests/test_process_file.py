"""Bare binaries of any architecture, stripped from this host: in place by rename (mode kept)
or to -o OUT (the input untouched), sized against llvm-strip, read back by llvm tools and the
signature oracle; bad input is one line each."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from _codesign_oracle import verify_signature
from _elf_fixtures import build_cross
from _helpers import need, run
from _macho_fixtures import build_all
from stripwheel._cli import main

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"
ELF_TARGETS = ["aarch64-linux-gnu", "powerpc-linux-gnu", "riscv64-linux-gnu"]


@pytest.fixture(scope="module")
def cross(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_cross(tmp_path_factory.mktemp("bare-elf"))


@pytest.fixture(scope="module")
def macho(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_all(tmp_path_factory.mktemp("bare-macho"))


@pytest.fixture(scope="module")
def dll(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bare-pe") / "helper.dll"
    run(need("x86_64-w64-mingw32-gcc"), "-g", "-O1", "-shared", DATA / "helper.c", "-o", out)
    return out


@pytest.mark.parametrize("target", ELF_TARGETS)
def test_foreign_elf_in_place_and_to_output(
    target: str, cross: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """aarch64, big-endian ppc32 and riscv64: within 8 bytes of llvm-strip --strip-unneeded,
    readable by llvm-readelf; in place keeps the mode and replaces by rename; -o leaves the
    input as it was."""
    original = cross[target]
    work = tmp_path / original.name
    shutil.copy(original, work)
    os.chmod(work, 0o750)
    inode = work.stat().st_ino
    output = tmp_path / "out" / "stripped.so"
    assert main(["strip", str(work), "-o", str(output)]) == 0
    assert work.read_bytes() == original.read_bytes()
    assert main(["strip", str(work)]) == 0
    assert "stripped 1 of 1 binaries" in capsys.readouterr().err
    assert work.read_bytes() == output.read_bytes()
    assert work.stat().st_mode & 0o777 == 0o750 and work.stat().st_ino != inode
    llvm = tmp_path / "llvm.so"
    run(need("llvm-strip-19"), "--strip-unneeded", "-o", llvm, original)
    assert abs(work.stat().st_size - llvm.stat().st_size) <= 8
    readelf = run(need("llvm-readelf-19"), "-h", "-S", "-l", "--dyn-syms", work)
    assert "warning" not in readelf.stderr.lower()
    assert main(["check", str(work)]) == 0


@pytest.mark.parametrize("name", ["arm64_bundle.so", "x86_64_bundle.so", "universal2.so"])
def test_macho_in_place(name: str, macho: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Mach-O file (thin or universal2) keeps llvm-strip -x's symbols; a signed slice's
    signature still verifies, an unsigned one stays unsigned."""
    work = tmp_path / name
    shutil.copy(macho[name], work)
    assert main(["strip", str(work)]) == 0
    capsys.readouterr()
    llvm = tmp_path / "llvm"
    run(need("llvm-strip-19"), "-x", "-o", llvm, macho[name])
    nm = [need("llvm-nm-19"), "-m", "--arch=all"]
    assert run(*nm, work).stdout.replace(str(work), "X") == run(*nm, llvm).stdout.replace(str(llvm), "X")
    assert verify_signature(work.read_bytes()) == verify_signature(macho[name].read_bytes())  # signed stays valid
    assert abs(work.stat().st_size - llvm.stat().st_size) <= 64  # the same symbols; the signature's padding may differ
    assert main(["inspect", "--json", str(work)]) == 0
    (listing,) = json.loads(capsys.readouterr().out)["trees"]
    assert listing["binaries"][0]["format"] == "Mach-O" and listing["binaries"][0]["strippable"]["all"] == 0


def test_pe_in_place(dll: Path, tmp_path: Path) -> None:
    """A MinGW DLL loses its DWARF and COFF symbols, close to llvm-strip's size; objdump still
    reads its exports."""
    work = tmp_path / dll.name
    shutil.copy(dll, work)
    assert main(["strip", str(work)]) == 0
    llvm = tmp_path / "llvm.dll"
    run(need("llvm-strip-19"), "--strip-all", "-o", llvm, dll)
    # llvm-strip also trims the last section's file alignment padding (here 512 bytes)
    assert llvm.stat().st_size <= work.stat().st_size <= llvm.stat().st_size + 1024 < dll.stat().st_size
    dump = run(need("x86_64-w64-mingw32-objdump"), "-p", work).stdout
    assert "helper_mul" in dump
    assert ".debug_info" not in run(need("x86_64-w64-mingw32-objdump"), "-h", work).stdout


def test_bad_input(cross: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A text file, a truncated binary and -o with two inputs: one line each, nothing changed."""
    text = tmp_path / "notes.txt"
    text.write_text("not a binary, though long enough to look at its first bytes\n" * 2)
    truncated = tmp_path / "truncated.so"
    truncated.write_bytes(cross["aarch64-linux-gnu"].read_bytes()[:200])
    before = truncated.read_bytes()
    assert main(["strip", str(text), str(truncated)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"stripwheel: error: {text}: not a wheel, a directory or an ELF, Mach-O or PE binary"
    assert err[1].startswith(f"stripwheel: error: {truncated}: cannot strip: ") and len(err) == 2
    assert truncated.read_bytes() == before
    assert main(["strip", "-o", str(tmp_path / "x"), str(text), str(truncated)]) == 2
    assert capsys.readouterr().err == "stripwheel: error: -o/--output takes one input, not 2\n"


def test_split_debug_for_a_bare_file(cross: dict[str, Path], tmp_path: Path) -> None:
    work = tmp_path / "lib.so"
    shutil.copy(cross["riscv64-linux-gnu"], work)
    assert main(["strip", "--split-debug", str(tmp_path / "debug"), str(work)]) == 0
    (debug_file,) = (tmp_path / "debug" / ".build-id").glob("*/*.debug")
    assert debug_file.name.encode() in work.read_bytes()  # the debuglink names it
