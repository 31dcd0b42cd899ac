"""The prebuilt binaries of the fast rewriter tests (tests/data/binaries): every file is in the
record, matches it and is small; the slow layer rebuilds them all with make.sh and the CI
toolchains, and checks that the fresh record says what the committed one says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _helpers import need
from _prebuilt import DIR, FILES, RECORD, load

SOURCES = ("elf_lib.c", "elf_tool.c", "macho_lib.c", "macho_tool.c", "pe_lib.c", "libSystem.tbd")
#: what make.sh calls, directly or through record.py (the CI toolchains of .ci/run)
TOOLS = (
    "gcc",
    "patchelf",
    "clang-19",
    "ld.lld-19",
    "ld64.lld-19",
    "llvm-lipo-19",
    "llvm-strip-19",
    "llvm-nm-19",
    "llvm-objdump-19",
    "llvm-readobj-19",
    "readelf",
    "x86_64-w64-mingw32-gcc",
    "i686-w64-mingw32-gcc",
    "x86_64-w64-mingw32-strip",
    "i686-w64-mingw32-strip",
)
#: what the record says about each binary that does not depend on the exact tool versions
STABLE = ("format", "sections", "dynsym", "archs", "filetypes", "exports", "type", "machine", "class", "data")


def test_every_binary_is_recorded_and_small() -> None:
    on_disk = {p.name for p in DIR.iterdir() if p.suffix not in (".c", ".sh", ".py", ".json", ".tbd")}
    assert on_disk == set(FILES)
    for name in FILES:
        assert len(load(name)) == FILES[name]["size"] <= 40 << 10
    assert sum(p.stat().st_size for p in DIR.iterdir()) < 210 << 10
    script = (DIR / "make.sh").read_text()
    for source in SOURCES:
        assert (DIR / source).is_file() and source in script
    for name in FILES:
        assert name in script
    assert set(RECORD["tools"]) >= {"gcc", "clang-19", "ld64.lld-19", "x86_64-w64-mingw32-gcc"}


@pytest.mark.slow
def test_make_rebuilds_what_the_record_describes(tmp_path: Path) -> None:
    """make.sh runs with the CI toolchains and builds every recorded binary; the fresh record
    agrees on everything that does not depend on the tool versions, and with the same versions
    the builds are byte-identical (they are reproducible)."""
    for tool in TOOLS:
        need(tool)
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(["sh", str(DIR / "make.sh"), str(tmp_path)], check=True, capture_output=True, env=env)
    fresh = json.loads((tmp_path / "expected.json").read_text())
    assert set(fresh["files"]) == set(FILES)
    for name, info in FILES.items():
        for key in STABLE:
            assert fresh["files"][name].get(key) == info.get(key), (name, key)
        assert (tmp_path / name).stat().st_size == fresh["files"][name]["size"]
    if fresh["tools"] == RECORD["tools"]:
        assert {n: i["sha256"] for n, i in fresh["files"].items()} == {n: i["sha256"] for n, i in FILES.items()}
