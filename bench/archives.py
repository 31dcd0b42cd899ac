"""Benchmark static archives: ``stripwheel strip`` of the largest ``libpythonX.Y.a`` against GNU
``strip`` at both levels, and of a whole CPython prefix (one with a static archive) against the
usual ``find … -exec strip --strip-unneeded {} +`` recipe.

Per case, in one run and alternating (ours, peer, ours, peer, ...), each on a fresh copy:

* the archive: ``python -m stripwheel strip --strip debug -o OUT LIB`` against
  ``strip -g -o OUT LIB``, and ``--strip all`` against ``strip --strip-unneeded``; the
  rewriter's own time in-process (no interpreter start) is quoted beside them;
* the prefix (pyenv's CPython 3.9 when there is one, else the oldest with an archive):
  ``python -m stripwheel strip COPY`` against
  ``find COPY -type f ( -name '*.so*' -o -name '*.a' -o -path '*/bin/*' ) -exec strip --strip-unneeded {} +``.

Quoted: bytes after, median wall times and their ratio. Then what each leaves working in the
prefix: the interpreter (``ssl``, ``sqlite3``, ``ctypes``, ``decimal``), an embedding program
built with ``pythonX.Y-config --embed`` against the stripped static archive, and the RECORD
rows of the prefix's installed packages.

Run with the project's venv python: ``python bench/archives.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _common
from _common import COMPILED, fresh_copy, record_mismatches, run, tree_size

WORK = _common.WORK / "archives"
PEER = ["-type", "f", "(", "-name", "*.so*", "-o", "-name", "*.a", "-o", "-path", "*/bin/*", ")"]
PEER += ["-exec", "strip", "--strip-unneeded", "{}", "+"]
SMOKE = "import ssl, sqlite3, ctypes, decimal; assert decimal.Decimal('1.1') + decimal.Decimal('2.2') == decimal.Decimal('3.3')"
EMBED = (
    "#include <Python.h>\n"
    'int main(void) { Py_Initialize(); int rc = PyRun_SimpleString("import math, _struct; '
    'print(math.factorial(10))"); Py_Finalize(); return rc; }\n'
)


def timed(cmd: list[str]) -> float:
    """Wall seconds of ``cmd`` (``CalledProcessError`` when it fails)."""
    proc = run(cmd, timeout=None, env=COMPILED)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout, proc.stderr)
    return proc.seconds


def pyenv_prefixes() -> list[Path]:
    """pyenv's CPython prefixes that hold a static libpython, oldest first."""
    root = Path(subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip())
    found = []
    for prefix in sorted((root / "versions").iterdir(), key=lambda p: [int(x) for x in re.findall(r"\d+", p.name)]):
        if list(prefix.glob("lib/python3.*/config-*/libpython3*.a")):
            found.append(prefix)
    return found


def archive_of(prefix: Path) -> Path:
    return next(prefix.glob("lib/python3.*/config-*/libpython3*.a"))


def bench_archive(lib: Path, repeat: int) -> list[str]:
    from stripwheel import binaries  # the rewriter alone, for its share of the time

    rows = []
    data = lib.read_bytes()
    for level, flag in (("debug", "-g"), ("all", "--strip-unneeded")):
        ours, peer, inproc = [], [], []
        out_ours, out_peer = WORK / f"ours-{level}.a", WORK / f"peer-{level}.a"
        for _ in range(repeat):
            ours.append(
                timed([sys.executable, "-m", "stripwheel", "strip", "--strip", level, "-o", str(out_ours), str(lib)])
            )
            peer.append(timed(["strip", flag, "-o", str(out_peer), str(lib)]))
            start = time.perf_counter()
            binaries.strip("archive", data, level)  # type: ignore[arg-type]
            inproc.append(time.perf_counter() - start)
        o, p = statistics.median(ours), statistics.median(peer)
        rows.append(
            f"| {lib.name} `{level}` vs `strip {flag}` | {len(data) / 1e6:.1f} | {out_ours.stat().st_size / 1e6:.2f} / "
            f"{out_peer.stat().st_size / 1e6:.2f} | {o:.2f} | {statistics.median(inproc):.2f} | {p:.2f} | {o / p:.2f} |"
        )
    return rows


def what_works(copy: Path, version: str) -> dict[str, str]:
    env = dict(os.environ, LD_LIBRARY_PATH=str(copy / "lib"), PYTHONHOME=str(copy))
    smoke = subprocess.run(
        [str(copy / "bin" / f"python{version}"), "-c", SMOKE], capture_output=True, text=True, env=env
    )
    embed = "not built"
    source = WORK / "embed.c"
    source.write_text(EMBED)
    config = copy / "bin" / f"python{version}-config"
    flags = subprocess.run([str(config), "--cflags", "--ldflags", "--embed"], capture_output=True, text=True, env=env)
    if flags.returncode == 0:
        program = WORK / "embed"
        libdir = archive_of(copy).parent
        # -L to the config directory first: the static archive, not the shared library; -E
        # exports its symbols to the extension modules the program imports (as python does)
        build = subprocess.run(
            ["gcc", str(source), "-o", str(program), "-Wl,-E", f"-L{libdir}", *flags.stdout.split()],
            capture_output=True,
            text=True,
        )
        if build.returncode == 0:
            run = subprocess.run([str(program)], capture_output=True, text=True, env=env)
            embed = "runs" if run.stdout.strip() == "3628800" else f"BROKEN: {run.stderr.strip()[-80:]}"
        else:
            embed = f"BROKEN (link): {build.stderr.strip().splitlines()[-1][:80]}"
    return {
        "interpreter (ssl, sqlite3, ctypes, decimal)": "works"
        if smoke.returncode == 0
        else f"BROKEN: {smoke.stderr.strip()[-80:]}",
        "embedding program on the static archive": embed,
        "RECORD rows not matching": str(record_mismatches(copy)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    prefixes = pyenv_prefixes()
    if not prefixes:
        print("no pyenv CPython with a static libpython here")
        return 1
    largest = max((archive_of(p) for p in prefixes), key=lambda a: a.stat().st_size)
    print(f"{args.repeat} alternated runs each; medians; {os.cpu_count()} cores\n")
    print("| archive | MB before | MB after: stripwheel / GNU | stripwheel s | of which the rewriter | GNU s | ratio |")
    print("|---|---|---|---|---|---|---|")
    for row in bench_archive(largest, args.repeat):
        print(row)

    prefix = next((p for p in prefixes if p.name.startswith("3.9.")), prefixes[0])
    version = ".".join(prefix.name.split(".")[:2])
    ours, peer = [], []
    size_ours = size_peer = 0
    for _ in range(args.repeat):
        copy = fresh_copy(prefix, WORK / "ours")
        ours.append(timed([sys.executable, "-m", "stripwheel", "strip", str(copy)]))
        size_ours = tree_size(copy)
        copy = fresh_copy(prefix, WORK / "peer")
        peer.append(run(["find", str(copy), *PEER], timeout=None).seconds)
        size_peer = tree_size(copy)
    o, p = statistics.median(ours), statistics.median(peer)
    print(f"\nCPython {prefix.name} prefix, {tree_size(prefix) / 1e6:.1f} MB:\n")
    print("| | MB after | s | ratio |")
    print("|---|---|---|---|")
    print(
        f"| stripwheel | {size_ours / 1e6:.1f} ({size_ours / size_peer - 1:+.1%} of the peer's) | {o:.2f} | {o / p:.2f} |"
    )
    print(f"| find -exec strip --strip-unneeded | {size_peer / 1e6:.1f} | {p:.2f} | 1.00 |")
    print("\nWhat each leaves working:\n")
    print("| | unstripped | stripwheel | peer |")
    print("|---|---|---|---|")
    state_before = what_works(fresh_copy(prefix, WORK / "before"), version)
    state_ours = what_works(WORK / "ours", version)
    state_peer = what_works(WORK / "peer", version)
    for key in state_ours:
        print(f"| {key} | {state_before[key]} | {state_ours[key]} | {state_peer[key]} |")
    shutil.rmtree(WORK)
    return 0


if __name__ == "__main__":
    sys.exit(main())
