"""What keeping debuggability costs on torch: ``--mini-debuginfo`` (time, peak RSS and
``.gnu_debugdata`` sizes) and the companion debug wheel (time), this checkout against another
(the "before"), side by side in one run.

Per repetition, alternated, each run a child process in a fresh directory under
``bench/_work/mini-debuginfo/``, for each source tree (``--base`` first when given):

* plain: ``python -m stripwheel strip -w OUT WHEEL --json``;
* split+mini: the same with ``--split-debug DIR --mini-debuginfo``;
* mini: the same with ``--mini-debuginfo`` alone;
* wheel: the same with ``--split-debug DIR --split-debug-layout wheel`` (the companion);
* split+xz, this checkout only: the floor of split+mini, the same run in which picking the
  names costs nothing: every MiniDebugInfo image is made before the repetitions and the run
  only compresses it (``_xz_floor.py``). Its time is the bound for split+mini; its peak RSS
  is not comparable (it holds each image whole).

The children run with ``PYTHONPATH`` set to the tree's ``src``. Printed: every run, then per
tree and variant the median wall time, its ratio to the same tree's plain median (with the
range of the per-repetition ratios: the machine is shared, compare ratios), the largest peak
RSS (``wait4``, the child alone) and its ratio to plain's, whether the output wheels of all
repetitions are byte-identical; split+mini's median against its floor's; then the
MiniDebugInfo bytes of every binary (the report's ``mini_debuginfo``) for both trees,
largest first, and their total.

    python bench/mini_debuginfo.py [--repeat N] [--base /tmp/mdi-base/src] [--wheel WHEEL]

The default wheel is torch 2.13.0, fetched once with ``pip download --no-deps`` into
``bench/_work/mini-debuginfo/``. For the "before", check the commit out beside this one
(``git worktree add /tmp/mdi-base HEAD``) and pass its ``src``.
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
from pathlib import Path

import _common as core

HERE = Path(__file__).resolve().parent
SCRATCH = core.WORK / "mini-debuginfo"
TORCH = "torch==2.13.0"
VARIANTS = ("plain", "split+mini", "mini", "wheel", "split+xz")
#: Targets of the change measured here, against the same tree's plain strip.
TIME_TARGET = 1.3
RSS_TARGET = 2.0
WHEEL_TARGET = 1.2


def torch_wheel() -> Path:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    found = sorted(SCRATCH.glob("torch-*.whl"))
    if not found:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", TORCH, "-d", str(SCRATCH)]
        if subprocess.run(pip).returncode != 0:
            raise SystemExit(f"could not fetch {TORCH}; pass --wheel")
        found = sorted(SCRATCH.glob("torch-*.whl"))
    return found[-1]


def options(variant: str, work: Path) -> list[str]:
    if variant in ("split+mini", "split+xz"):
        return ["--split-debug", str(work / "debug"), "--mini-debuginfo"]
    if variant == "wheel":
        return ["--split-debug", str(work / "debug"), "--split-debug-layout", "wheel"]
    return ["--mini-debuginfo"] if variant == "mini" else []


def strip(src: Path, wheel: Path, variant: str, images: Path) -> tuple[core.Proc, dict[str, int], str]:
    """One run; its process figures, the MiniDebugInfo bytes per binary, the output's hash."""
    work = core.fresh_dir(SCRATCH, f"{variant.replace('+', '-')}-")
    try:
        out = work / "out"
        program = ["-m", "stripwheel"] if variant != "split+xz" else [str(HERE / "_xz_floor.py"), "run", str(images)]
        cmd = [sys.executable, *program, "strip", "-w", str(out), *options(variant, work), "--json"]
        proc = core.run([*cmd, str(wheel)], work, env={**os.environ, "PYTHONPATH": str(src)})
        if proc.returncode != 0:
            raise SystemExit(f"{src}: {variant} failed: {proc.tail()}")
        report = json.loads(proc.stdout)["wheels"][0]
        mini = {b["member"]: b.get("mini_debuginfo", 0) for b in report["binaries"]}
        (result,) = out.glob("*.whl")
        hasher = hashlib.sha256()
        with result.open("rb") as f:
            while chunk := f.read(1 << 24):
                hasher.update(chunk)
        digest = hasher.hexdigest()
        return proc, mini, digest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def variants(tree: str) -> tuple[str, ...]:
    return VARIANTS if tree == "after" else VARIANTS[:-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--base", type=Path, help="the src directory of the 'before' checkout")
    parser.add_argument("--wheel", type=Path)
    parser.add_argument("--json", type=Path, help="save every raw number")
    args = parser.parse_args(argv)
    wheel = args.wheel or torch_wheel()
    trees = {"before": args.base.resolve()} if args.base else {}
    trees["after"] = (HERE.parent / "src").resolve()
    print(f"{wheel.name}, {args.repeat} alternated repetitions; trees: {trees}\n")
    with wheel.open("rb") as f:  # warm the page cache, a chunk at a time: a child inherits
        while f.read(1 << 24):  # the parent's peak RSS (ru_maxrss), so never hold the wheel
            pass
    images = SCRATCH / "images"
    shutil.rmtree(images, ignore_errors=True)
    made = core.run(
        [sys.executable, str(HERE / "_xz_floor.py"), "images", str(wheel), str(images)],
        SCRATCH,
        env={**os.environ, "PYTHONPATH": str(trees["after"])},
    )
    if made.returncode != 0:
        raise SystemExit(f"the MiniDebugInfo images could not be made: {made.tail()}")
    seconds: dict[tuple[str, str], list[float]] = {}
    rss: dict[tuple[str, str], list[int]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    digests: dict[tuple[str, str], set[str]] = {}
    sizes: dict[str, dict[str, int]] = {}
    for rep in range(args.repeat):
        for tree, src in trees.items():
            for variant in variants(tree):
                proc, mini, digest = strip(src, wheel, variant, images)
                key = (tree, variant)
                seconds.setdefault(key, []).append(proc.seconds)
                rss.setdefault(key, []).append(proc.peak_rss)
                cpu.setdefault(key, []).append(proc.cpu)
                digests.setdefault(key, set()).add(digest)
                if variant == "mini":
                    sizes[tree] = mini
                print(f"  run {rep + 1}: {tree:6} {variant:10} {proc.seconds:6.2f} s  {proc.peak_rss / 2**20:5.0f} MiB")
    print(
        "\n| tree | variant | median s | / plain (per repetition) | CPU s | peak RSS MiB | / plain | outputs | target |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    failed = False
    for tree in trees:
        plain_s = statistics.median(seconds[(tree, "plain")])
        plain_rss = max(rss[(tree, "plain")])
        for variant in variants(tree):
            key = (tree, variant)
            median = statistics.median(seconds[key])
            per = [s / p for s, p in zip(seconds[key], seconds[(tree, "plain")])]
            peak = max(rss[key])
            same = "identical" if len(digests[key]) == 1 else f"{len(digests[key])} different"
            failed |= len(digests[key]) != 1
            target = ""
            if variant == "split+mini":
                met = median / plain_s <= TIME_TARGET and peak / plain_rss <= RSS_TARGET
                target = f"≤ {TIME_TARGET}× time, ≤ {RSS_TARGET}× RSS: {'met' if met else '**not met**'}"
            elif variant == "wheel":
                met = median / plain_s <= WHEEL_TARGET
                target = f"≤ {WHEEL_TARGET}× time: {'met' if met else '**not met**'}"
            elif variant == "split+xz":
                met = median / plain_s <= TIME_TARGET
                target = f"floor of split+mini: {'under' if met else '**over**'} {TIME_TARGET}×"
            print(
                f"| {tree} | {variant} | {median:.2f} | {median / plain_s:.2f}× ({min(per):.2f}–{max(per):.2f}) | "
                f"{statistics.median(cpu[key]):.1f} | "
                f"{peak / 2**20:.0f} | {peak / plain_rss:.2f}× | {same} | {target} |"
            )
    floor = statistics.median(seconds[("after", "split+xz")])
    print(f"\nsplit+mini / its floor (split+xz): {statistics.median(seconds[('after', 'split+mini')]) / floor:.2f}×")
    names = sorted(
        {m for tree in sizes.values() for m, n in tree.items() if n}, key=lambda m: -sizes["after"].get(m, 0)
    )
    print("\n| binary | " + " | ".join(f"MiniDebugInfo {t} B" for t in trees) + " | after / before |")
    print("|---|" + "---|" * len(trees) + "---|")
    shown = names[:8]
    for member in shown:
        cells = [f"{sizes[t].get(member, 0):,}" for t in trees]
        ratio = (
            sizes["after"].get(member, 0) / sizes["before"][member]
            if "before" in sizes and sizes["before"].get(member)
            else None
        )
        print(f"| {member} | " + " | ".join(cells) + f" | {'' if ratio is None else f'{ratio:.3f}'} |")
    totals = {t: sum(sizes[t].values()) for t in trees}
    rest = {t: totals[t] - sum(sizes[t].get(m, 0) for m in shown) for t in trees}
    print(f"| {len(names) - len(shown)} others | " + " | ".join(f"{rest[t]:,}" for t in trees) + " | |")
    overall = f"{totals['after'] / totals['before']:.3f}" if "before" in totals and totals["before"] else ""
    print("| **total** | " + " | ".join(f"**{totals[t]:,}**" for t in trees) + f" | {overall} |")
    if args.json:
        raw = {
            "wheel": str(wheel),
            "runs": {
                f"{t} {v}": {"seconds": seconds[(t, v)], "cpu": cpu[(t, v)], "peak_rss": rss[(t, v)]}
                for t, v in seconds
            },
            "mini_debuginfo": sizes,
        }
        args.json.write_text(json.dumps(raw, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
