"""Benchmark ``stripwheel strip DIR`` on installed trees against the usual shell recipe.

Two trees: a venv made by uv (hardlinked from its cache) with numpy, scipy, pandas and
pyarrow, and a copy of the running Python installation (executable, libpython, stdlib,
lib-dynload). Per tree, in one run and alternating (ours, peer, ours, peer, ...), each on a
fresh ``cp -a`` copy:

* ours: ``python -m stripwheel strip --json COPY``, whose report says how long the run waited
  for its data to reach the disk (a batch of files pays one ``syncfs``; the peer never syncs);
* with ``--baseline SRC`` (the ``src`` directory of another checkout, e.g. an older commit made
  with ``git worktree add``), that version too, as "before";
* peer: ``find COPY -type f ( -name '*.so*' -o -path '*/bin/*' ) -exec strip --strip-unneeded {} +``
  (what Docker recipes and buildpacks run; strip complains about scripts and goes on).

Quoted: bytes before and after each, median wall times and their ratio, and CPU time over
wall time (above 1.0 means more than one core was busy). Then, once, on the venv itself
(not a copy, so uv's cache links are live): what each leaves broken: ``import numpy`` and a
BLAS call, uv's cache (hashed before and after), and the RECORD rows that no longer match.

Run with the project's venv python: ``python bench/trees.py [--repeat N] [--baseline SRC]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import _common
from _common import COMPILED, fresh_copy, record_mismatches, run, tool, tree_size

WORK = _common.WORK / "trees"  # --work moves it (onto a tmpfs, to take the disk out)
PACKAGES = ["numpy==2.4.6", "scipy", "pandas", "pyarrow"]
PEER = [
    "-type",
    "f",
    "(",
    "-name",
    "*.so*",
    "-o",
    "-path",
    "*/bin/*",
    ")",
    "-exec",
    "strip",
    "--strip-unneeded",
    "{}",
    "+",
]
SMOKE = (
    "import numpy, scipy.linalg, pandas, pyarrow; m = numpy.eye(50) * 2; assert (scipy.linalg.inv(m) @ m).trace() == 50"
)


@dataclass
class Timed:
    seconds: float
    cpu: float
    returncode: int
    stderr: str
    #: the seconds stripwheel's report says it waited for the disk
    synced: float = 0.0


@dataclass
class Result:
    name: str
    size_before: int = 0
    size_ours: int = 0
    size_peer: int = 0
    ours: list[Timed] = field(default_factory=list)
    peer: list[Timed] = field(default_factory=list)
    before: list[Timed] = field(default_factory=list)


def run_timed(cmd: list[str], env: dict[str, str] | None = None) -> Timed:
    """Wall time and CPU time (user + system of the child and its children) of ``cmd``; with
    ``--json`` in it, the time the report says was spent syncing."""
    proc = run(cmd, timeout=None, env=env or COMPILED)
    synced = 0.0
    if "--json" in cmd and proc.returncode == 0:
        synced = sum(r.get("sync_seconds", 0.0) for r in json.loads(proc.stdout)["trees"])
    return Timed(proc.seconds, proc.cpu, proc.returncode, proc.stderr, synced)


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for dirpath, dirnames, files in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(files):
            path = Path(dirpath, name)
            if path.is_file() and not path.is_symlink():
                digest.update(str(path.relative_to(root)).encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def make_venv(target: Path, cache: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    subprocess.run([tool("uv"), "venv", "-q", "--python", sys.executable, str(target)], check=True)
    subprocess.run(
        [tool("uv"), "pip", "install", "-q", "--python", str(target / "bin" / "python"), "--link-mode", "hardlink",
         "--cache-dir", str(cache), "--only-binary", ":all:", *PACKAGES],
        check=True,
    )  # fmt: skip
    return target


def python_copy(target: Path) -> Path:
    """The running interpreter's installation, less site-packages and the test suite."""
    base = Path(sys.base_prefix)
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    libpython = str(sysconfig.get_config_var("INSTSONAME"))
    if target.exists():
        shutil.rmtree(target)
    (target / "bin").mkdir(parents=True)
    shutil.copy2(base / "bin" / version, target / "bin" / version)
    (target / "lib").mkdir()
    shutil.copy2(base / "lib" / libpython, target / "lib" / libpython)
    skip = shutil.ignore_patterns("site-packages", "test", "idlelib", "tkinter", "turtledemo", "__pycache__")
    shutil.copytree(base / "lib" / version, target / "lib" / version, ignore=skip, symlinks=True)
    return target


def bench(name: str, source: Path, repeat: int, baseline: Path | None) -> Result:
    result = Result(name, size_before=tree_size(source))
    runs = source.parent / "runs"
    for _ in range(repeat):
        copy = fresh_copy(source, runs / f"{name}-ours")
        result.ours.append(run_timed([sys.executable, "-m", "stripwheel", "strip", "--json", str(copy)]))
        result.size_ours = tree_size(copy)
        if baseline is not None:
            copy = fresh_copy(source, runs / f"{name}-before")
            env = dict(COMPILED, PYTHONPATH=str(baseline.resolve()))
            result.before.append(run_timed([sys.executable, "-m", "stripwheel", "strip", str(copy)], env))
        copy = fresh_copy(source, runs / f"{name}-peer")
        result.peer.append(run_timed(["find", str(copy), *PEER]))
        result.size_peer = tree_size(copy)
    shutil.rmtree(runs)
    return result


def breakage(venv: Path, cache: Path, side: str) -> dict[str, str]:
    """Strip the live venv one way; what still works."""
    cache_before = tree_hash(cache)
    if side == "ours":
        subprocess.run([sys.executable, "-m", "stripwheel", "strip", str(venv)], capture_output=True, check=False)
    else:
        subprocess.run(["find", str(venv), *PEER], capture_output=True, check=False)
    smoke = subprocess.run([str(venv / "bin" / "python"), "-c", SMOKE], capture_output=True, text=True)
    last = (smoke.stderr.strip().splitlines() or ["ok"])[-1]
    return {
        "numpy/scipy/pandas/pyarrow": "works" if smoke.returncode == 0 else f"BROKEN: {last[:100]}",
        "uv cache": "unchanged" if tree_hash(cache) == cache_before else "MODIFIED",
        "RECORD rows not matching": str(record_mismatches(venv)),
    }


def median(runs: list[Timed]) -> float:
    return statistics.median(r.seconds for r in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=WORK, help="where the trees and uv's cache go")
    parser.add_argument("--baseline", type=Path, help="the src directory of another stripwheel, timed as 'before'")
    args = parser.parse_args(argv)
    work: Path = args.work
    cache = work / "uv-cache"
    if cache.exists():
        shutil.rmtree(cache)  # a cache the peer wrote through last time holds stripped files
    venv = make_venv(work / "venv", cache)
    python = python_copy(work / "python")
    results = [
        bench("venv (numpy, scipy, pandas, pyarrow)", venv, args.repeat, args.baseline),
        bench("Python installation", python, args.repeat, args.baseline),
    ]
    print(f"{args.repeat} alternated runs each; medians; {os.cpu_count()} cores; work in {work}\n")
    print(
        "| tree | MB before | MB after: stripwheel / peer | stripwheel s | of which syncing | peer s | ratio "
        "| ratio without the sync | before s | CPU/wall: stripwheel / peer |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        ours, peer = median(r.ours), median(r.peer)
        synced = statistics.median(t.synced for t in r.ours)
        before = f"{median(r.before):.2f}" if r.before else "-"
        cpu_ours = statistics.median(t.cpu / t.seconds for t in r.ours)
        cpu_peer = statistics.median(t.cpu / t.seconds for t in r.peer)
        print(
            f"| {r.name} | {r.size_before / 1e6:.1f} | {r.size_ours / 1e6:.1f} / {r.size_peer / 1e6:.1f} | "
            f"{ours:.2f} | {synced:.2f} | {peer:.2f} | {ours / peer:.2f} | {(ours - synced) / peer:.2f} | {before} | "
            f"{cpu_ours:.2f} / {cpu_peer:.2f} |"
        )
        failed = [t for t in r.ours + r.before if t.returncode != 0]
        if failed:
            print(f"  stripwheel failed: {failed[0].stderr.strip().splitlines()[-1]}")
    print("\nWhat each leaves behind on the uv venv itself (cache links live):\n")
    print("| | stripwheel | peer |")
    print("|---|---|---|")
    ours_state = breakage(venv, cache, "ours")
    venv = make_venv(work / "venv", cache)  # reinstalled from the cache stripwheel left alone
    peer_state = breakage(venv, cache, "peer")  # last: it writes stripped bytes into the cache
    shutil.rmtree(cache)
    for key in ours_state:
        print(f"| {key} | {ours_state[key]} | {peer_state[key]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
