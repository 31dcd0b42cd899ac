"""Benchmark ``stripwheel strip --bytecode compile`` on sympy: cold first import and install time.

In one run, alternating the variants inside each of N repetitions (fresh venv and fresh process
per measurement, created with ``uv venv --python <this interpreter>``):

* import: ``import sympy`` timed with ``-X importtime`` (sympy's cumulative time) and wall clock,
  right after ``uv pip install --no-deps`` into a read-only site-packages with
  ``PYTHONDONTWRITEBYTECODE=1``: the plain wheel (no pycs: compiled in memory), the
  stripwheel-compiled wheel (shipped checked-hash pycs), the sourceless wheel (``mod.pyc`` in
  place of ``mod.py``), and the plain wheel with warm caches (pycs written by a first writable
  import) as the baseline;
* install: ``uv pip install --no-deps`` of the plain, compiled and sourceless wheels, and the peer
  ``uv pip install --compile-bytecode`` of the plain wheel, with a cold uv cache (``--no-cache``)
  and with a pre-warmed one, the same state for every variant;
* compile: wall time of ``stripwheel strip --bytecode compile -w OUT``; wheel and installed sizes
  and file counts of the three wheels (what an install has to write).

Run with the project's venv python: ``python bench/bytecode.py [--repeat N] [--json FILE]``.
Standard library only; needs ``uv`` and ``stripwheel`` next to the interpreter or on ``PATH``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import _common
from _common import BENCH, Proc, fresh_dir, median, tool

CORPUS = _common.CORPUS / "bytecode"
#: Scratch venvs, the uv cache and the children's TMPDIR; ``--work`` moves it (e.g. onto a tmpfs).
WORK = _common.WORK / "bytecode"

#: Pinned corpus: sympy (about 1,500 modules, pure Python) and its import-time dependency.
PINS = {"sympy": "1.14.0", "mpmath": "1.4.1"}
IMPORT_TARGET = 1.15  # compiled first import / warm import: the goal set for this bench
INSTALL_TARGET = 1.2  # compiled install / plain install
#: The wheels measured, beside the peer (plain wheel + ``--compile-bytecode``).
VARIANTS = ("plain", "compiled", "sourceless")
RUN_TIMEOUT = 1800.0
#: Inherited variables that would change what is measured; every child runs without them.
SCRUBBED = ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "PYTHONOPTIMIZE", "PYTHONHOME",
            "PYTHONPATH", "PYTHONSTARTUP", "UV_CACHE_DIR", "UV_NO_CACHE", "UV_COMPILE_BYTECODE",
            "UV_LINK_MODE", "UV_PYTHON", "VIRTUAL_ENV")  # fmt: skip

#: Run inside the compiled venv once: every sympy module must come from its shipped pyc, and that
#: pyc must be checked-hash (flags 3) with the hash of the installed source.
USES_SHIPPED = """
import importlib.util, sys, sympy
bad = []
for name, mod in list(sys.modules.items()):
    src, pyc = getattr(mod, "__file__", None), getattr(mod, "__cached__", None)
    if not (name == "sympy" or name.startswith("sympy.")) or not src or not src.endswith(".py"):
        continue
    try:
        head = open(pyc, "rb").read(16)
        data = open(src, "rb").read()
    except (OSError, TypeError):
        bad.append(name + ": no pyc")
        continue
    if int.from_bytes(head[4:8], "little") != 3 or head[8:16] != importlib.util.source_hash(data):
        bad.append(name + ": not a matching checked-hash pyc")
print(len([n for n in sys.modules if n == "sympy" or n.startswith("sympy.")]), len(bad))
print("\\n".join(bad[:5]))
"""

#: Run inside the sourceless venv once: every sympy module must be loaded from a ``.pyc`` file.
USES_SOURCELESS = """
import sys, sympy
mods = [m for n, m in list(sys.modules.items()) if n == "sympy" or n.startswith("sympy.")]
files = [getattr(m, "__file__", None) or "" for m in mods]
print(len(mods), sum(not f.endswith(".pyc") for f in files))
"""


# --- processes


def child_env(**extra: str) -> dict[str, str]:
    """The environment of every child: scrubbed, temp files under the work dir, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env["TMPDIR"] = str(WORK / "tmp")  # uv --no-cache unpacks here: same filesystem as the venvs
    env.update(extra)
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> Proc:
    """Run ``cmd`` and time it; raise on failure when ``check``, and on a timeout."""
    got = _common.run(cmd, cwd, timeout=RUN_TIMEOUT, env=env or child_env())
    if got.timed_out:
        raise subprocess.TimeoutExpired(cmd, RUN_TIMEOUT, got.stdout, got.stderr)
    if check and got.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} {' '.join(cmd[1:3])}…: {got.tail()}")
    return got


# --- results


@dataclass
class Sample:
    """One timed measurement: wall seconds, and sympy's ``-X importtime`` cumulative seconds."""

    wall: float
    importtime: float | None = None


@dataclass
class Results:
    """Every raw number of the run."""

    repeat: int
    wheels: dict[str, str] = field(default_factory=dict)
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    compile_seconds: list[float] = field(default_factory=list)
    compile_identical: bool | None = None
    sizes: dict[str, int] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, key: str, sample: Sample) -> None:
        """Record one sample under ``key``."""
        self.samples.setdefault(key, []).append(sample)

    def spread(self, key: str, base: str, importtime: bool = False) -> str:
        """Range of the per-repetition ratios ``key / base`` (the noise), e.g. "0.90–1.34"."""
        pairs = zip(self.samples.get(key, []), self.samples.get(base, []))
        got = [(a.importtime, b.importtime) if importtime else (a.wall, b.wall) for a, b in pairs]
        ratios = [a / b for a, b in got if a is not None and b]
        if key == base or not ratios:
            return "–"
        return f"{min(ratios):.2f}–{max(ratios):.2f}"

    def median(self, key: str, importtime: bool = False) -> float | None:
        """Median of ``key`` (wall seconds, or importtime seconds)."""
        got = [s.importtime if importtime else s.wall for s in self.samples.get(key, [])]
        return median(v for v in got if v is not None)


# --- corpus and the compiled wheel


def find(name: str) -> Path | None:
    """The pinned wheel of ``name`` in the corpus."""
    found = sorted(CORPUS.glob(f"{name}-{PINS[name]}-*.whl"))
    return found[0] if found else None


def fetch() -> dict[str, Path]:
    """Download the pinned wheels that are missing (``pip download --no-deps``)."""
    CORPUS.mkdir(parents=True, exist_ok=True)
    missing = [f"{n}=={v}" for n, v in PINS.items() if find(n) is None]
    if missing:
        print(f"fetching {' '.join(missing)} into {CORPUS}", file=sys.stderr)
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        run(pip + ["-d", str(CORPUS), *missing], BENCH, env=dict(os.environ))
    wheels = {n: find(n) for n in PINS}
    lost = [n for n, w in wheels.items() if w is None]
    if lost:
        raise SystemExit(f"could not fetch {', '.join(lost)}")
    return {n: w for n, w in wheels.items() if w is not None}


def compile_once(wheel: Path, exclude: list[str], flags: list[str], keep: str | None) -> tuple[Proc, str, Path | None]:
    """One ``stripwheel strip --bytecode compile [flags] -w OUT``: the run, the output's sha256,
    and the output moved into ``WORK/keep`` when ``keep`` is given."""
    work = fresh_dir(WORK, "compile-")
    # cwd is an empty dir: stripwheel reads ./pyproject.toml for defaults.
    cmd = [tool("stripwheel"), "strip", "--bytecode", "compile", *flags, "-w", "out", str(wheel)]
    cmd += [arg for glob in exclude for arg in ("--exclude", glob)]
    proc = run(cmd, work)
    (output,) = (work / "out").glob("*.whl")
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    kept = None
    if keep is not None:
        (WORK / keep).mkdir()
        kept = output.rename(WORK / keep / output.name)
    shutil.rmtree(work)
    return proc, digest, kept


def sourceless_wheel(wheel: Path, exclude: list[str]) -> Path:
    """The ``--sourceless`` wheel (retagged to this Python), made once."""
    kept = compile_once(wheel, exclude, ["--sourceless"], "sourceless")[2]
    assert kept is not None
    return kept


def compile_wheel(wheel: Path, res: Results, exclude: list[str]) -> Path:
    """Time ``stripwheel strip --bytecode compile -w OUT`` ``repeat`` times; keep the first output."""
    kept: Path | None = None
    digests = set()
    for i in range(res.repeat):
        proc, digest, output = compile_once(wheel, exclude, [], "compiled" if kept is None else None)
        kept = kept or output
        digests.add(digest)
        res.compile_seconds.append(proc.seconds)
        print(f"  compile run {i + 1}/{res.repeat}: {proc.seconds:6.2f} s", file=sys.stderr)
    res.compile_identical = len(digests) == 1
    assert kept is not None
    return kept


def wheel_sizes(wheel: Path) -> tuple[int, int, int]:
    """Compressed size, installed (uncompressed) size and member count of ``wheel``."""
    with zipfile.ZipFile(wheel) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
    return wheel.stat().st_size, sum(i.file_size for i in infos), len(infos)


# --- venvs


def site_packages(venv: Path) -> Path:
    """The venv's purelib (the venv runs this interpreter's version)."""
    return venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"


def new_venv(name: str) -> Path:
    """A fresh venv of the running interpreter under the work dir (not timed)."""
    venv = fresh_dir(WORK, f"{name}-") / "venv"
    cmd = [tool("uv"), "venv", "-q", "--no-config", "--no-project", "--python", sys.executable]
    run(cmd + [str(venv)], WORK)
    return venv


def install(venv: Path, wheels: list[Path], cache: str, compile_bytecode: bool = False) -> float:
    """``uv pip install --no-deps`` into ``venv``; ``cache`` is "cold" (--no-cache) or a cache dir."""
    cmd = [tool("uv"), "pip", "install", "-q", "--no-config", "--no-deps",
           "--python", str(venv / "bin" / "python")]  # fmt: skip
    cmd += ["--no-cache"] if cache == "cold" else ["--cache-dir", cache]
    cmd += ["--compile-bytecode"] if compile_bytecode else []
    return run(cmd + [str(w) for w in wheels], WORK).seconds


def set_writable(root: Path, writable: bool) -> None:
    """``chmod -R u+w`` or ``chmod -R a-w`` on ``root`` (directories included)."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(mode | 0o200 if writable else mode & ~0o222)


def remove(venv: Path) -> None:
    """Delete a venv's temporary directory, read-only or not."""
    if site_packages(venv).exists():
        set_writable(site_packages(venv), True)
    shutil.rmtree(venv.parent, ignore_errors=True)


def pycs(root: Path) -> dict[str, tuple[int, int]]:
    """Every ``.pyc`` under ``root``: relative path -> (size, mtime_ns)."""
    found = {}
    for path in root.rglob("*.pyc"):
        stat = path.stat()
        found[path.relative_to(root).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def time_import(venv: Path, write: bool = False) -> Sample:
    """``python -X importtime -c "import sympy"`` in a fresh process; wall and sympy's cumulative."""
    env = child_env() if write else child_env(PYTHONDONTWRITEBYTECODE="1")
    cmd = [str(venv / "bin" / "python"), "-X", "importtime", "-c", "import sympy"]
    proc = run(cmd, WORK, env=env)
    cumulative = None
    for line in proc.stderr.splitlines():  # "import time: self [us] | cumulative | name"
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[2].strip() == "sympy":
            cumulative = int(parts[1]) / 1e6
    return Sample(proc.seconds, cumulative)


# --- the measurements


def import_round(i: int, sympy: dict[str, Path], mpmath: Path, cache: str, res: Results) -> None:
    """One repetition of the import measurements: plain (cold, then warm), compiled, sourceless."""
    for variant, wheel in sympy.items():
        venv = new_venv(f"import-{variant}-{i}")
        try:
            site = site_packages(venv)
            install(venv, [wheel, mpmath], cache)
            # mpmath is precompiled in every venv, so only sympy differs between the variants.
            run([str(venv / "bin" / "python"), "-m", "compileall", "-q", str(site / "mpmath")], WORK)
            set_writable(site, False)
            before = pycs(site / "sympy")
            first = time_import(venv)
            res.add(f"import {variant} first", first)
            after = pycs(site / "sympy")
            line = f"first {first.importtime or 0:5.2f} s ({first.wall:5.2f} s wall)"
            if before != after:
                res.errors.append(f"{variant} run {i + 1}: the first import changed the pycs")
            if variant == "plain":
                if before:
                    res.errors.append(f"plain run {i + 1}: the plain wheel shipped pycs")
                set_writable(site, True)  # warm the caches: a first import that may write pycs
                time_import(venv, write=True)
                written = len(pycs(site / "sympy"))
                set_writable(site, False)
                res.checks["pycs written by the warming import"] = str(written)
                warm = time_import(venv)
                res.add("import plain warm", warm)
                line += f", warm {warm.importtime or 0:5.2f} s ({warm.wall:5.2f} s wall)"
            elif variant == "sourceless":
                if i == 0:
                    proc = run([str(venv / "bin" / "python"), "-c", USES_SOURCELESS], WORK)
                    loaded, from_source = proc.stdout.split()
                    res.checks["sympy modules loaded / not from a sourceless pyc"] = f"{loaded} / {from_source}"
                    if from_source != "0":
                        res.errors.append("sourceless: some sympy modules were loaded from source")
            else:
                second = time_import(venv)
                res.add("import compiled second", second)
                line += f", second {second.importtime or 0:5.2f} s ({second.wall:5.2f} s wall)"
                if i == 0:
                    proc = run([str(venv / "bin" / "python"), "-c", USES_SHIPPED], WORK)
                    counts, *bad = proc.stdout.splitlines()
                    loaded, mismatched = counts.split()
                    res.checks["sympy modules loaded / not from a shipped checked-hash pyc"] = (
                        f"{loaded} / {mismatched}"
                    )
                    if mismatched != "0":
                        res.errors.append(f"compiled: not every module uses its pyc: {bad}")
            print(f"  import run {i + 1}/{res.repeat} {variant}: {line}", file=sys.stderr)
        finally:
            remove(venv)


def install_round(i: int, sympy: dict[str, Path], caches: list[str], res: Results) -> None:
    """One repetition of the install measurements, for each cache state."""
    variants = [(name, wheel, False) for name, wheel in sympy.items()]
    variants.append(("peer", sympy["plain"], True))
    for cache in caches:
        label = "cold" if cache == "cold" else "warm"
        for variant, wheel, compile_bytecode in variants:
            venv = new_venv(f"install-{variant}-{i}")
            try:
                seconds = install(venv, [wheel], cache, compile_bytecode)
            finally:
                remove(venv)
            res.add(f"install {label} {variant}", Sample(seconds))
            print(
                f"  install run {i + 1}/{res.repeat} {label} cache {variant}: {seconds:6.2f} s",
                file=sys.stderr,
            )


# --- report


def ratio(a: float | None, b: float | None) -> str:
    """``a / b`` with two decimals, or a dash."""
    return "–" if a is None or not b else f"{a / b:.2f}×"


def secs(n: float | None) -> str:
    """Seconds with two decimals, or a dash."""
    return "–" if n is None else f"{n:.2f}"


def verdict(value: float | None, base: float | None, target: float) -> str:
    """The target cell: "≤ target: met" or "NOT met"."""
    if value is None or not base:
        return f"≤ {target}×: –"
    return f"≤ {target}×: {'met' if value / base <= target else '**NOT met**'}"


def table(res: Results) -> str:
    """The markdown summary: medians, ratios against the named base, targets."""
    head = ("measurement", "median s (importtime)", "median s (wall)", "ratio", "vs", "target")
    rows: list[tuple[str, ...]] = []
    warm_i, warm_w = res.median("import plain warm", True), res.median("import plain warm")
    for key, text in (
        ("import plain warm", "import sympy, plain wheel, warm caches (pycs written by a first import)"),
        ("import plain first", "import sympy, plain wheel, first import after install (no pycs)"),
        ("import compiled first", "import sympy, compiled wheel, first import after install"),
        ("import compiled second", "import sympy, compiled wheel, second import"),
        ("import sourceless first", "import sympy, sourceless wheel, first import after install"),
    ):  # fmt: skip
        imp, wall = res.median(key, True), res.median(key)
        target = verdict(imp, warm_i, IMPORT_TARGET) if key.endswith(" first") and "plain" not in key else ""
        spread = res.spread(key, "import plain warm", True)
        rows.append((text, secs(imp), secs(wall),
                     f"{ratio(imp, warm_i)} ({ratio(wall, warm_w)} wall; per run {spread})",
                     "warm caches", target))  # fmt: skip
    first_p, first_c = res.median("import plain first", True), res.median("import compiled first", True)
    rows.append(("import sympy, compiled first / plain first", "", "", ratio(first_c, first_p),
                 "plain first import", "< 1×: " + ("met" if first_c and first_p and first_c < first_p else "**NOT met**")))  # fmt: skip
    for label, what in (("cold", "no uv cache (`--no-cache`)"), ("warm", "pre-warmed uv cache")):
        base = res.median(f"install {label} plain")
        if base is None:
            continue
        for variant, text in (
            ("plain", "`uv pip install --no-deps` plain wheel"),
            ("compiled", "`uv pip install --no-deps` compiled wheel"),
            ("sourceless", "`uv pip install --no-deps` sourceless wheel"),
            ("peer", "`uv pip install --no-deps --compile-bytecode` plain wheel (peer)"),
        ):
            got = res.median(f"install {label} {variant}")
            target = verdict(got, base, INSTALL_TARGET) if variant in VARIANTS[1:] else ""
            spread = res.spread(f"install {label} {variant}", f"install {label} plain")
            rows.append((f"{text}, {what}", "", secs(got), f"{ratio(got, base)} (per run {spread})",
                         "plain install", target))  # fmt: skip
        peer = res.median(f"install {label} peer")
        rows.append((f"compiled wheel install / peer, {what}", "", "",
                     ratio(res.median(f"install {label} compiled"), peer), "peer", ""))  # fmt: skip
    compile_s = median(res.compile_seconds)
    same = {True: "byte-identical over runs", False: "**outputs differ between runs**", None: ""}
    rows.append(("`stripwheel strip --bytecode compile` sympy", "", secs(compile_s), "", "",
                 same[res.compile_identical]))  # fmt: skip
    s = res.sizes
    for variant in VARIANTS[1:] if s else ():
        # What an install has to write: uv's install time follows the file count and the bytes.
        for what, key, scale, digits in (("wheel MB", "wheel", 1e6, 1), ("installed MB", "installed", 1e6, 1),
                                         ("installed files", "files", 1, 0)):  # fmt: skip
            a, b = s[f"{key}_plain"] / scale, s[f"{key}_{variant}"] / scale
            rows.append((f"{what}, plain → {variant}", "", f"{a:.{digits}f} → {b:.{digits}f}", ratio(b, a),
                         "plain wheel", ""))  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def environment() -> dict[str, str]:
    """What the numbers depend on."""
    uv = run([tool("uv"), "--version"], WORK).stdout.strip()
    return {
        "python": sys.version.split()[0],
        "uv": uv,
        "machine": platform.machine(),
        "cpus": str(os.cpu_count()),
        "root": str(os.geteuid() == 0),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, fetch sympy, compile it, alternate the measurements, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5, metavar="N", help="alternated runs per variant (default: 5)")
    parser.add_argument(
        "--cache",
        choices=("cold", "warm", "both"),
        default="both",
        help="uv cache state for the install times (default: both)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="save the raw numbers as JSON")
    parser.add_argument(
        "--work",
        type=Path,
        metavar="DIR",
        help="put the venvs, uv cache and TMPDIR in DIR/stripwheel-bytecode, e.g. on a tmpfs "
        "(default: bench/_work/bytecode); emptied first",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="passed to stripwheel: modules not to compile (e.g. '**/tests/**'; repeatable)",
    )
    args = parser.parse_args(argv)
    res = Results(repeat=max(1, args.repeat))
    if args.work is not None:
        global WORK  # noqa: PLW0603 - one scratch root for every helper of this script
        WORK = args.work.resolve() / "stripwheel-bytecode"

    wheels = fetch()
    res.wheels = {n: w.name for n, w in wheels.items()}
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "tmp").mkdir(parents=True)
    print(f"compiling {wheels['sympy'].name}, {res.repeat} runs", file=sys.stderr)
    if args.exclude:
        print(f"not compiling: {', '.join(args.exclude)}", file=sys.stderr)
    sympy = {"plain": wheels["sympy"], "compiled": compile_wheel(wheels["sympy"], res, args.exclude),
             "sourceless": sourceless_wheel(wheels["sympy"], args.exclude)}  # fmt: skip
    for side, wheel in sympy.items():
        res.sizes[f"wheel_{side}"], res.sizes[f"installed_{side}"], res.sizes[f"files_{side}"] = wheel_sizes(wheel)

    # One cache directory, pre-warmed with every wheel before any timed run: the import rounds
    # install from it, and so do the "warm" install variants.
    cache = str(WORK / "uv-cache")
    scratch = new_venv("prewarm")
    install(scratch, [wheels["sympy"], wheels["mpmath"]], cache)
    remove(scratch)
    for wheel in (sympy["compiled"], sympy["sourceless"]):
        scratch = new_venv("prewarm")
        install(scratch, [wheel], cache)
        remove(scratch)
    caches = {"cold": ["cold"], "warm": [cache], "both": ["cold", cache]}[args.cache]

    for i in range(res.repeat):
        try:
            import_round(i, sympy, wheels["mpmath"], cache, res)
            install_round(i, sympy, caches, res)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
            res.errors.append(f"run {i + 1}: {type(exc).__name__}: {exc}")
            print(f"  run {i + 1} failed: {exc}", file=sys.stderr)

    print(table(res))
    notes = [f"- check: {k}: {v}" for k, v in res.checks.items()]
    notes += [f"- error: {e}" for e in res.errors]
    if notes:
        print("\n" + "\n".join(notes))
    if args.json:
        document = {"environment": environment(), "argv": sys.argv[1:], **asdict(res)}
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    shutil.rmtree(WORK / "tmp", ignore_errors=True)
    return 1 if res.errors else 0


if __name__ == "__main__":
    sys.exit(main())
