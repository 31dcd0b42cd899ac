"""What stripwheel adds to a build: ``sample_projects/setuptools-cext`` built by ``uv build``
through ``stripwheel.backend``, N times; the engine's own time from the summary line it prints
during the build (``time: … s``), and the whole build's wall time, as medians.

    python bench/overhead.py [--repeat N]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import _common
from _common import REPO, run, tool

WORK = _common.WORK / "overhead"
SAMPLE = REPO / "sample_projects" / "setuptools-cext"
ENGINE_TIME = re.compile(r"^\s*time: ([0-9.]+) s$", re.MULTILINE)


def uv() -> str:
    """uv beside this interpreter (the ``uv`` package), else on PATH."""
    return tool("uv", missing="uv is not installed (pip install uv)")


def wheelhouse() -> Path:
    """stripwheel's own wheel, built from this checkout, for ``--find-links``."""
    house = WORK / "wheelhouse"
    shutil.rmtree(house, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(house), str(REPO)], check=True)
    return house


def build_once(house: Path) -> tuple[float, float]:
    """(engine seconds, whole build seconds) of one isolated build from a fresh copy."""
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        source = Path(tmp) / "setuptools-cext"
        shutil.copytree(SAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
        proc = run(
            [
                uv(),
                "build",
                "--wheel",
                "--find-links",
                str(house),
                "--python",
                sys.executable,
                "--out-dir",
                str(Path(tmp) / "out"),
                str(source),
            ],
            timeout=None,
        )
        wall = proc.seconds
        if proc.returncode != 0:
            raise SystemExit(f"build failed:\n{proc.stderr[-3000:]}")
        found = ENGINE_TIME.findall(proc.stderr)
        if len(found) != 1:
            raise SystemExit(f"expected one summary time line, found {found}:\n{proc.stderr[-3000:]}")
        return float(found[0]), wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5, metavar="N")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    house = wheelhouse()
    engine, wall = [], []
    for i in range(max(1, args.repeat)):
        e, w = build_once(house)
        engine.append(e)
        wall.append(w)
        print(f"  build {i + 1}: engine {e:.3f} s, whole build {w:.2f} s", file=sys.stderr)
    median_engine, median_wall = statistics.median(engine), statistics.median(wall)
    print("| sample | builds | engine s (median) | whole build s (median) | engine share | target |")
    print("|---|---|---|---|---|---|")
    verdict = "met" if median_engine < 0.3 else "NOT met"
    print(
        f"| setuptools-cext via uv build | {len(engine)} | {median_engine:.3f} | {median_wall:.2f} |"
        f" {median_engine / median_wall:.1%} | < 0.3 s: {verdict} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
