"""``stripwheel strip`` against the floor of its job, side by side in one run.

Any tool that checks a wheel's RECORD must at least inflate and hash every member. The
*floor* does only that: ``zipfile`` + ``hashlib`` on ``--threads`` threads (default 2), the
largest members first (the best schedule), each digest compared with RECORD. The other side
is ``python -m stripwheel strip -w OUT WHEEL``. Both run as child processes, alternated
(floor, stripwheel, floor, ...), each repetition on a fresh copy of the wheel. Printed:
every run, the medians, the ratio of the medians (stripwheel / floor), the peak RSS of
stripwheel (``wait4``), whether the outputs are byte-identical, and a stdlib check of the
output's RECORD.

    python bench/floor.py [--wheel WHEEL] [--repeat N] [--threads N]

Default wheel: torch (the pin in ``_common.py``) in ``bench/_corpus/``, fetched with pip when
missing. The children inherit the environment: ``PYTHONPATH=src`` measures this checkout.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _common as core

#: stripwheel's peak RSS budget.
RSS_BUDGET = 1 << 30
TARGET_RATIO = 2.0


def floor(wheel: Path, threads: int) -> int:
    """Inflate and SHA-256 every member, compare with RECORD; the number of mismatches."""
    local = threading.local()

    def digest(info: zipfile.ZipInfo) -> tuple[str, str]:
        archive = getattr(local, "archive", None)
        if archive is None:  # one handle per thread: a shared ZipFile serialises the reads
            archive = local.archive = zipfile.ZipFile(wheel)
        hasher = hashlib.sha256()
        with archive.open(info) as member:  # zipfile checks the CRC at the end
            while chunk := member.read(1 << 20):
                hasher.update(chunk)
        return info.filename, "sha256=" + base64.urlsafe_b64encode(hasher.digest()).rstrip(b"=").decode()

    with zipfile.ZipFile(wheel) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        record = next(i for i in infos if i.filename.endswith(".dist-info/RECORD") and i.filename.count("/") == 1)
        rows = {r[0]: r[1] for r in csv.reader(io.StringIO(archive.read(record).decode())) if len(r) >= 2}
    infos.sort(key=lambda i: i.file_size, reverse=True)
    with ThreadPoolExecutor(threads) as pool:
        got = dict(pool.map(digest, [i for i in infos if i is not record]))
    # members RECORD does not hash (its own row, signature files) are inflated all the same
    return sum(1 for name, value in got.items() if rows.get(name) and rows[name] != value)


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            hasher.update(chunk)
    return hasher.hexdigest()


def default_wheel() -> Path:
    wheel = core.fetch(["torch"]).get("torch")
    if wheel is None:
        raise SystemExit("could not fetch the torch wheel; pass --wheel")
    return wheel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--wheel", type=Path, help="the wheel (default: torch in bench/_corpus, fetched if missing)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N", help="alternated runs per side (default: 3)")
    parser.add_argument("--threads", type=int, default=2, metavar="N", help="threads of the floor (default: 2)")
    parser.add_argument("--floor-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor_child is not None:  # one floor run, in the child process being timed
        return 1 if floor(args.floor_child, args.threads) else 0

    wheel = (args.wheel or default_wheel()).resolve()
    base = core.WORK / "floor"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    # The children run in their own directories: a relative PYTHONPATH (PYTHONPATH=src) must
    # mean the same there, or they would import another stripwheel.
    paths = os.environ.get("PYTHONPATH", "")
    if paths:
        os.environ["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in paths.split(os.pathsep) if p)
    where = subprocess.run(
        [sys.executable, "-c", "import stripwheel; print(stripwheel.__file__)"],
        capture_output=True,
        text=True,
        cwd=base,
    ).stdout.strip()
    with zipfile.ZipFile(wheel) as archive:
        count = len(archive.infolist())
    print(f"wheel: {wheel.name} ({wheel.stat().st_size / 1e6:.1f} MB, {count} members)")
    print(f"stripwheel: {where or '?'}")
    floor_s: list[float] = []
    ours_s: list[float] = []
    peaks: list[int] = []
    outputs: list[str] = []
    failed = False
    for i in range(max(1, args.repeat)):
        work = core.fresh_dir(base, f"{i}-")
        copy = work / wheel.name
        shutil.copyfile(wheel, copy)  # a fresh copy each repetition, read once by each side
        got = core.run([sys.executable, __file__, "--floor-child", str(copy), "--threads", str(args.threads)], work)
        if got.returncode != 0:
            print(f"floor failed: {got.tail()}")
            failed = True
        floor_s.append(got.seconds)
        # cwd is the empty work dir: stripwheel reads ./pyproject.toml for defaults.
        ours = core.run([sys.executable, "-m", "stripwheel", "strip", "-w", str(work / "out"), str(copy)], work)
        if ours.returncode != 0:
            print(f"stripwheel failed: {ours.tail()}")
            failed = True
        ours_s.append(ours.seconds)
        peaks.append(ours.peak_rss)
        produced = list((work / "out").glob("*.whl"))
        if len(produced) == 1:
            outputs.append(sha256_file(produced[0]))
            if i == 0:
                problems = core.record_problems(produced[0])
                print(f"RECORD of the output: {'ok' if not problems else '; '.join(problems[:5])}")
                failed = failed or bool(problems)
        copy.unlink()
        print(
            f"run {i + 1}: floor {got.seconds:.2f} s, stripwheel {ours.seconds:.2f} s "
            f"(peak RSS {ours.peak_rss / 2**20:.0f} MiB), ratio {ours.seconds / got.seconds:.2f}x"
        )
        if i:
            shutil.rmtree(work / "out", ignore_errors=True)  # the first output stays for a look
    if failed:
        print("a run failed: no figures")
        return 1
    median_floor, median_ours = statistics.median(floor_s), statistics.median(ours_s)
    ratio = median_ours / median_floor
    ratios = [o / f for o, f in zip(ours_s, floor_s)]
    print(f"floor (zipfile + hashlib, {args.threads} threads), median of {len(floor_s)}: {median_floor:.2f} s")
    print(f"stripwheel strip -w OUT, median of {len(ours_s)}: {median_ours:.2f} s")
    print(
        f"ratio stripwheel / floor: {ratio:.2f}x (per run {min(ratios):.2f}-{max(ratios):.2f}; "
        f"target <= {TARGET_RATIO}x: {'met' if ratio <= TARGET_RATIO else 'NOT met'})"
    )
    peak = max(peaks)
    print(
        f"peak RSS of stripwheel: {peak / 2**20:.0f} MiB (target <= 1 GiB: {'met' if peak <= RSS_BUDGET else 'NOT met'})"
    )
    if len(outputs) < 2:
        print("determinism: not checked (needs --repeat 2 or more)")
    elif len(set(outputs)) == 1:
        print(f"determinism: {len(outputs)} outputs byte-identical (sha256 {outputs[0][:16]}...)")
    else:
        print(f"determinism: outputs DIFFER ({len(set(outputs))} distinct of {len(outputs)})")
        failed = True
    if len(outputs) != len(ours_s):
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    started = time.perf_counter()
    status = main()
    if "--floor-child" not in sys.argv:
        print(f"bench time: {time.perf_counter() - started:.0f} s")
    sys.exit(status)
