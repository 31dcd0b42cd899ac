"""Benchmark ``--split-debug`` and ``--mini-debuginfo`` on real wheels from PyPI.

Per wheel, in one run and alternating, each in a fresh directory under ``bench/_work/``:

* plain: ``stripwheel strip -w OUT WHEEL``;
* split: the same with ``--split-debug DIR``;
* peer: binutils' per-file recipe on the unpacked wheel, repacked like bench/run.py's peer:
  ``objcopy --only-keep-debug`` then ``strip`` then ``objcopy --add-gnu-debuglink`` for every
  ELF file.

Quoted: median wall times, split/plain and split/peer, the size of the debug tree, and, from
one more ``--mini-debuginfo`` run, the bytes ``.gnu_debugdata`` adds against the bytes of the
static symbol table (``.symtab`` + ``.strtab``) it stands in for.

Run with the project's venv python: ``python bench/split_debug.py [--repeat N] [--wheels NAME ...]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from _common import WORK, elf_type, fetch, fresh_dir, run, strip_flag

WHEELS = ["pyyaml", "pillow", "numpy", "torch"]


def stripwheel(*args: str) -> list[str]:
    found = Path(sys.executable).with_name("stripwheel")
    return [str(found) if found.exists() else "stripwheel", "strip", *args]


def ours(wheel: Path, work: Path, *options: str) -> float:
    proc = run(stripwheel("-w", str(work / "out"), *options, str(wheel)), work)
    if proc.returncode != 0:
        raise SystemExit(f"stripwheel failed on {wheel.name}: {proc.tail()}")
    return proc.seconds


def peer(wheel: Path, work: Path) -> float:
    """Unpack, split every ELF file with binutils, repack."""
    start = time.perf_counter()
    run([sys.executable, "-m", "wheel", "unpack", "-d", str(work / "unpacked"), str(wheel)], work)
    (tree,) = (work / "unpacked").iterdir()
    debug = work / "debug"
    debug.mkdir()
    for path in sorted(tree.rglob("*")):
        if path.is_symlink() or not path.is_file() or (e_type := elf_type(path)) is None:
            continue
        kept = debug / (path.name + ".debug")
        run(["objcopy", "--only-keep-debug", str(path), str(kept)], work)
        run(["strip", strip_flag(path, e_type), str(path)], work)
        run(["objcopy", f"--add-gnu-debuglink={kept}", str(path)], work)
    (work / "dist").mkdir()
    run([sys.executable, "-m", "wheel", "pack", "-d", str(work / "dist"), str(tree)], work)
    return time.perf_counter() - start


def symtab_bytes(wheel: Path) -> int:
    """``.symtab`` + ``.strtab`` bytes of every ELF member (readelf, not stripwheel)."""
    total = 0
    with zipfile.ZipFile(wheel) as archive, tempfile.TemporaryDirectory() as tmp:
        for info in archive.infolist():
            with archive.open(info) as f:
                if f.read(4) != b"\x7fELF":
                    continue
            path = Path(archive.extract(info, tmp))
            out = subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True).stdout
            for line in out.splitlines():
                fields = line.replace("[ ", "[").split()
                if len(fields) > 5 and fields[1] in (".symtab", ".strtab"):
                    total += int(fields[5], 16)
            path.unlink()
    return total


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--wheels", nargs="+", default=WHEELS)
    args = parser.parse_args(argv)
    wheels = fetch(args.wheels)
    print(f"{args.repeat} alternated runs each; medians\n")
    print(
        "| wheel | plain s | split s | split / plain | peer s | split / peer | debug tree MB | MiniDebugInfo KB / symtab KB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, wheel in wheels.items():
        times: dict[str, list[float]] = {"plain": [], "split": [], "peer": []}
        debug_size = 0
        for _ in range(args.repeat):
            work = fresh_dir(WORK, f"{name}-plain-")
            times["plain"].append(ours(wheel, work))
            shutil.rmtree(work)
            work = fresh_dir(WORK, f"{name}-split-")
            times["split"].append(ours(wheel, work, "--split-debug", str(work / "debug")))
            debug_size = tree_bytes(work / "debug")
            shutil.rmtree(work)
            work = fresh_dir(WORK, f"{name}-peer-")
            times["peer"].append(peer(wheel, work))
            shutil.rmtree(work)
        work = fresh_dir(WORK, f"{name}-mini-")
        proc = run(stripwheel("-w", str(work / "out"), "--mini-debuginfo", "--json", str(wheel)), work)
        mini = sum(b.get("mini_debuginfo", 0) for b in json.loads(proc.stdout)["wheels"][0]["binaries"])
        shutil.rmtree(work)
        plain, split, other = (statistics.median(times[k]) for k in ("plain", "split", "peer"))
        print(
            f"| {name} | {plain:.2f} | {split:.2f} | {split / plain:.2f} | {other:.2f} | {split / other:.2f} | "
            f"{debug_size / 1e6:.1f} | {mini / 1e3:.0f} / {symtab_bytes(wheel) / 1e3:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
