"""Benchmark ``stripwheel strip`` against the peer pipeline on real wheels from PyPI.

Per wheel, in one run and alternating (ours, peer, ours, peer, ...), each in a fresh temporary
directory under ``bench/_work/``:

* ours: ``stripwheel strip -w OUT WHEEL --json`` (RECORD verification is always on);
* peer: ``python -m wheel unpack`` -> GNU ``strip`` on every ELF file (found by magic bytes)
  -> ``python -m wheel pack``.

Wall time and the peak RSS of each process (``os.wait4``; the peer's peak is the maximum over
its steps) are recorded; medians and the ratio ours/peer are quoted. Then, outside the timed
runs: a size bound per stripped ELF member computed from ``readelf -S -W`` (independent of
stripwheel's code), a stdlib check of the output's RECORD, and a smoke test that installs the
output wheel into a fresh venv and exercises its native code.

Run with the project's venv python: ``python bench/run.py [--quick] [--wheels NAME ...]``.
Standard library and ``packaging`` only.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import foreign
from _common import (
    ELF_MAGIC,
    LARGE,
    PINS,
    WORK,
    Proc,
    Run,
    elf_type,
    environment,
    fetch,
    fresh_dir,
    keep,
    median,
    record_problems,
    run,
    run_ours,
    secs,
    strip_flag,
)
from packaging.utils import parse_wheel_filename

#: Smoke test per wheel: argv run from the smoke venv's bin/ directory (argv[0] is looked up there).
SMOKE: dict[str, list[str]] = {
    "pyyaml": ["python", "-c", "import yaml; assert yaml.load('a: 1', Loader=yaml.CSafeLoader) == {'a': 1}"],
    "pillow": ["python", "-c", (
        "import io; from PIL import Image, ImageFont, features, _imaging\n"
        "im = Image.new('RGB', (8, 8)).resize((4, 4))\n"
        "ImageFont.load_default(size=12).getbbox('x')\n"
        "for fmt in ('JPEG', 'PNG', 'WEBP', 'TIFF'): im.save(io.BytesIO(), fmt)\n"
        "missing = [f for f in ('freetype2', 'jpg', 'zlib', 'webp', 'libtiff') if not features.check(f)]\n"
        "assert not missing, missing"
    )],
    "cryptography": ["python", "-c", (
        "from cryptography.fernet import Fernet\n"
        "f = Fernet(Fernet.generate_key()); assert f.decrypt(f.encrypt(b'x')) == b'x'"
    )],
    "numpy": ["python", "-c", (
        "import numpy as np\n"
        "assert np.allclose(np.linalg.inv(np.eye(3)), np.eye(3))\n"
        "a = np.random.default_rng(0).random((200, 200)); assert np.isfinite(np.dot(a, a)).all()"
    )],
    "lxml": ["python", "-c", "import lxml.etree as e; assert e.tostring(e.fromstring('<a><b/></a>')) == b'<a><b/></a>'"],
    "ruff": ["ruff", "--version"],
    "torch": ["python", "-c", (
        "import torch\n"
        "assert float(torch.ones(3) @ torch.ones(3)) == 3.0\n"
        "assert torch.nn.Linear(4, 2)(torch.ones(4)).shape == (2,)"
    )],
}  # fmt: skip
#: Runtime dependencies installed (from the index) before the smoke test.
SMOKE_DEPS = {
    "cryptography": ["cffi"],
    "torch": ["typing_extensions", "sympy", "networkx", "jinja2", "fsspec", "filelock"],
}

#: Non-allocated sections that level "all" removes, by name.
DEBUG_NAME = re.compile(r"^(\.debug|\.zdebug|\.gnu\.debuglto_|\.stab)|^(\.line|\.gdb_index)$")
SECTION_LINE = re.compile(r"^\s*\[\s*(\d+)\]\s+(.*)$")


# --- results


@dataclass
class Member:
    """One ELF member: original size, the bound's ``expected`` size, ours and GNU's output sizes."""

    name: str
    original: int
    expected: int | None
    ours: int | None
    gnu: int | None
    error: str | None = None

    @property
    def excess(self) -> int | None:
        """Bytes above the allowed bound (positive: a violation)."""
        if self.expected is None or self.ours is None:
            return None
        return self.ours - (self.expected + 4096 + self.original // 100)


@dataclass
class WheelResult:
    """Everything measured on one wheel."""

    name: str
    version: str
    wheel: str
    wheel_before: int
    wheel_ours: int | None = None
    wheel_peer: int | None = None
    ours: list[Run] = field(default_factory=list)
    peer: list[Run] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    record_ok: bool | None = None
    smoke: str = "skipped"
    smoke_peer: str | None = None
    errors: list[str] = field(default_factory=list)
    stripwheel_report: dict[str, object] | None = None

    def median(self, side: str) -> float | None:
        """Median wall time of the successful runs of ``side``."""
        return median(r.seconds for r in getattr(self, side) if r.ok)

    def peak(self, side: str) -> int | None:
        """Highest peak RSS over the successful runs of ``side``."""
        peaks = [r.peak_rss for r in getattr(self, side) if r.ok]
        return max(peaks) if peaks else None

    def violations(self) -> list[Member]:
        """Members above the size bound, worst first."""
        bad = [m for m in self.members if (m.excess or 0) > 0]
        return sorted(bad, key=lambda m: -(m.excess or 0))


# --- the peer


def run_peer(wheel: Path, work: Path) -> tuple[Run, dict[str, int], Path | None]:
    """``wheel unpack`` -> GNU strip on every ELF -> ``wheel pack``.

    Returns the run, the stripped size of each ELF member, and the packed wheel.
    """
    start = time.perf_counter()
    peak = 0
    warnings: list[str] = []
    sizes: dict[str, int] = {}

    steps: dict[str, float] = {}

    def failed(step: str, proc: Proc) -> tuple[Run, dict[str, int], Path | None]:
        error = f"{step}: exit {proc.returncode}: {proc.tail()}"
        return Run(time.perf_counter() - start, peak, False, error, warnings, steps), sizes, None

    unpack = run([sys.executable, "-m", "wheel", "unpack", "-d", str(work / "unpacked"), str(wheel)], work)
    peak, steps["unpack"] = unpack.peak_rss, unpack.seconds
    if unpack.returncode != 0:
        return failed("wheel unpack", unpack)
    stripping = time.perf_counter()
    (tree,) = (work / "unpacked").iterdir()
    for path in sorted(tree.rglob("*")):
        if path.is_symlink() or not path.is_file() or (e_type := elf_type(path)) is None:
            continue
        strip = run(["strip", strip_flag(path, e_type), str(path)], work)
        peak = max(peak, strip.peak_rss)
        member = path.relative_to(tree).as_posix()
        if strip.returncode != 0:
            warnings.append(f"strip {member}: {strip.tail()}")
        sizes[member] = path.stat().st_size
    steps["strip"] = time.perf_counter() - stripping
    (work / "dist").mkdir()
    pack = run([sys.executable, "-m", "wheel", "pack", "-d", str(work / "dist"), str(tree)], work)
    peak, steps["pack"] = max(peak, pack.peak_rss), pack.seconds
    if pack.returncode != 0:
        return failed("wheel pack", pack)
    seconds = time.perf_counter() - start
    (packed,) = (work / "dist").glob("*.whl")
    return Run(seconds, peak, True, None, warnings, steps), sizes, packed


# --- checks outside the timed runs


def readelf_sections(path: Path) -> list[tuple[int, str, str, int, str, int, int]]:
    """``readelf -S -W``: (index, name, type, size, flags, link, info) of every section but 0."""
    proc = subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True, check=True)
    sections = []
    for line in proc.stdout.splitlines():
        match = SECTION_LINE.match(line)
        if not match or int(match[1]) == 0:
            continue
        # Name Type Address Off Size ES [Flg] Lk Inf Al: the flags column may be empty.
        name, kind, _, _, size, _, *rest = match[2].split()
        flags = rest[0] if len(rest) == 4 else ""
        link, info = int(rest[-3]), int(rest[-2])
        sections.append((int(match[1]), name, kind, int(size, 16), flags, link, info))
    return sections


def expected_size(path: Path) -> int:
    """Original size minus the sections level ``all`` removes (by name here, not with stripwheel's code)."""
    sections = readelf_sections(path)
    by_index = {s[0]: s for s in sections}
    removed = {i for i, name, kind, _, flags, _, _ in sections
               if kind in ("SYMTAB", "SYMTAB_SHNDX") or ("A" not in flags and DEBUG_NAME.search(name))}  # fmt: skip
    changed = True
    while changed:  # REL/RELA (or SHF_INFO_LINK) sections follow the section they apply to
        changed = False
        for i, _, kind, _, flags, _, info in sections:
            if i not in removed and (kind in ("REL", "RELA") or "I" in flags) and info in removed:
                removed.add(i)
                changed = True
    for _, _, kind, _, _, link, _ in sections:  # the symtab's string table, unless still linked
        strtab = by_index.get(link)
        if kind != "SYMTAB" or not strtab or strtab[2] != "STRTAB" or "A" in strtab[4]:
            continue
        if all(s[5] != link for s in sections if s[0] not in removed):
            removed.add(link)
    freed = sum(by_index[i][3] for i in removed if by_index[i][2] != "NOBITS")
    return path.stat().st_size - freed


def elf_members(wheel: Path) -> list[zipfile.ZipInfo]:
    """Members of ``wheel`` that start with the ELF magic."""
    with zipfile.ZipFile(wheel) as zf:
        found = []
        for info in zf.infolist():
            if not info.is_dir() and info.file_size >= 64:
                with zf.open(info) as f:
                    if f.read(4) == ELF_MAGIC:
                        found.append(info)
        return found


def check_sizes(wheel: Path, ours: Path | None, gnu: dict[str, int], work: Path) -> list[Member]:
    """Per ELF member: original, bound's expected size, our output size, GNU strip's size."""
    ours_sizes: dict[str, int] = {}
    if ours is not None:
        with zipfile.ZipFile(ours) as zf:
            ours_sizes = {i.filename: i.file_size for i in zf.infolist()}
    members = []
    with zipfile.ZipFile(wheel) as zf:
        for info in elf_members(wheel):
            target = work / "member.elf"
            with zf.open(info) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            member = Member(
                info.filename,
                info.file_size,
                None,
                ours_sizes.get(info.filename),
                gnu.get(info.filename),
            )
            try:
                member.expected = expected_size(target)
            except (subprocess.CalledProcessError, ValueError, IndexError) as exc:
                member.error = f"readelf: {exc}"
            if ours is not None and member.ours is None:
                member.error = "missing from stripwheel's output"
            members.append(member)
    (work / "member.elf").unlink(missing_ok=True)
    return members


def smoke_python() -> str | None:
    """A Python 3.11 interpreter for the smoke venvs (the corpus is cp311)."""
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    return shutil.which("python3.11")


def smoke(name: str, wheel: Path, original: Path, work: Path) -> str:
    """Install ``wheel`` into a fresh venv and run its smoke statement; on failure, try the original."""
    python = smoke_python()
    if python is None:
        return "skipped (no Python 3.11)"
    venv = work / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    made = run([python, "-m", "venv", "--without-pip", str(venv)], work)
    if made.returncode != 0:
        return f"FAIL: venv: {made.tail()}"
    pip = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(venv / "bin" / "python"),
        "install",
        "-q",
        "--no-compile",
    ]
    if SMOKE_DEPS.get(name):
        deps = run(pip + SMOKE_DEPS[name], work)
        if deps.returncode != 0:
            return f"FAIL: installing dependencies: {deps.tail()}"

    def attempt(candidate: Path) -> str | None:
        installed = run(pip + ["--no-deps", "--force-reinstall", str(candidate)], work)
        if installed.returncode != 0:
            return f"pip install: {installed.tail()}"
        argv = SMOKE[name]
        proc = run([str(venv / "bin" / argv[0]), *argv[1:]], work, timeout=600)
        return None if proc.returncode == 0 else proc.tail()

    error = attempt(wheel)
    if error is None:
        return "pass"
    baseline = "original passes" if attempt(original) is None else "original fails too"
    return f"FAIL ({baseline}): {error}"


# --- driver


def bench_wheel(name: str, wheel: Path, repeat: int, do_smoke: bool, smoke_peer: bool) -> WheelResult:
    """Alternate ours and peer ``repeat`` times, then check sizes, RECORD and the smoke tests."""
    wheel = wheel.resolve()  # the runs change directory
    version = str(parse_wheel_filename(wheel.name)[1])
    result = WheelResult(name, version, wheel.name, wheel.stat().st_size)
    base = WORK / name
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    with wheel.open("rb") as f:  # warm the page cache so the first timed run is not penalised
        while f.read(1 << 24):
            pass
    kept: Path | None = None
    kept_peer: Path | None = None
    gnu_sizes: dict[str, int] = {}
    for i in range(repeat):
        for side in ("ours", "peer"):
            work = fresh_dir(base, f"{side}-{i}-")
            try:
                if side == "ours":
                    got, output, report = run_ours(wheel, work)
                    if output is not None and kept is None:
                        kept = keep(output, base, "ours")
                        result.wheel_ours = kept.stat().st_size
                        result.stripwheel_report = report
                    result.ours.append(got)
                else:
                    got, sizes, packed = run_peer(wheel, work)
                    if packed is not None and kept_peer is None:
                        kept_peer, gnu_sizes = keep(packed, base, "peer"), sizes
                        result.wheel_peer = kept_peer.stat().st_size
                    result.peer.append(got)
            except Exception as exc:  # noqa: BLE001 - a failing step goes into the table
                got = Run(0.0, 0, False, f"{type(exc).__name__}: {exc}")
                getattr(result, side).append(got)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            status = f"{got.seconds:6.2f} s {got.peak_rss / 1e6:6.0f} MB" if got.ok else "FAILED"
            status += "".join(f", {k} {v:.2f} s" for k, v in got.steps.items())
            status += f": {got.error}" if got.error else ""
            print(f"  {name} run {i + 1}/{repeat} {side}: {status}", file=sys.stderr)
    for side in ("ours", "peer"):
        errors = {r.error for r in getattr(result, side) if r.error}
        warnings = {w for r in getattr(result, side) for w in r.warnings}
        result.errors += [f"{side}: {e}" for e in sorted(errors)] + [f"{side} warning: {w}" for w in sorted(warnings)]

    steps: list[tuple[str, Callable[[], None]]] = [
        (
            "size check",
            lambda: setattr(result, "members", check_sizes(wheel, kept, gnu_sizes, base)),
        ),
    ]
    if kept is not None:
        steps.append(("RECORD check", lambda: check_record(result, kept)))
        if do_smoke:
            steps.append(("smoke", lambda: setattr(result, "smoke", smoke(name, kept, wheel, base))))
    elif do_smoke:
        result.smoke = "FAIL: no output wheel"
    if smoke_peer and kept_peer is not None:
        steps.append(
            (
                "smoke peer",
                lambda: setattr(result, "smoke_peer", smoke(name, kept_peer, wheel, base)),
            )
        )
    for step, action in steps:
        print(f"  {name}: {step}", file=sys.stderr)
        try:
            action()
        except Exception as exc:  # noqa: BLE001
            result.errors.append(f"{step}: {type(exc).__name__}: {exc}")
            if step.startswith("smoke"):
                setattr(result, step.replace(" ", "_"), f"FAIL: {type(exc).__name__}")
    result.errors += [f"{m.name}: {m.error}" for m in result.members if m.error]
    return result


def check_record(result: WheelResult, wheel: Path) -> None:
    """Record the RECORD check's outcome on ``result``."""
    problems = record_problems(wheel)
    result.record_ok = not problems
    result.errors += [f"RECORD: {p}" for p in problems[:10]]


# --- report


def mb(n: float | None) -> str:
    """Decimal megabytes with one decimal, or a dash."""
    return "–" if n is None else f"{n / 1e6:.1f}"


def table(results: list[WheelResult]) -> str:
    """The markdown summary: one row per wheel."""
    peer_smoked = any(r.smoke_peer is not None for r in results)
    head = ("wheel", "ELF files", "ELF MB before → ours / GNU", "wheel MB before → ours / peer",
            "ours s (median)", "peer s (median)", "ratio", "peak RSS MB ours / peer (max)",
            "size-bound violations", "RECORD", "smoke ours" + (" / peer" if peer_smoked else ""))  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        ours_t, peer_t = r.median("ours"), r.median("peer")
        ratio = f"{ours_t / peer_t:.3f}" if ours_t is not None and peer_t else "–"
        checked = [m for m in r.members if m.excess is not None]
        before = sum(m.original for m in r.members)
        ours_elf = sum(m.ours for m in r.members if m.ours is not None) if r.wheel_ours else None
        gnu_elf = sum(m.gnu for m in r.members if m.gnu is not None) if r.wheel_peer else None
        record = "–" if r.record_ok is None else "ok" if r.record_ok else "BAD"
        smoked = r.smoke.split(":")[0] + (f" / {(r.smoke_peer or '–').split(':')[0]}" if peer_smoked else "")
        runs = f"{sum(x.ok for x in r.ours)}/{len(r.ours)}, {sum(x.ok for x in r.peer)}/{len(r.peer)} runs"
        row = (f"{r.name} {r.version}", str(len(r.members)), f"{mb(before)} → {mb(ours_elf)} / {mb(gnu_elf)}",
               f"{mb(r.wheel_before)} → {mb(r.wheel_ours)} / {mb(r.wheel_peer)}",
               secs(ours_t), secs(peer_t), f"{ratio} ({runs})",
               f"{mb(r.peak('ours'))} / {mb(r.peak('peer'))}",
               f"{len(r.violations())} of {len(checked)}", record, smoked)  # fmt: skip
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def details(results: list[WheelResult]) -> str:
    """Worst size-bound offenders and every error, below the table."""
    lines = []
    for r in results:
        for m in r.violations()[:5]:
            gnu = "–" if m.gnu is None else f"{m.gnu:,}"
            lines.append(
                f"- {r.name}: `{m.name}` {m.original:,} → ours {m.ours:,} B; bound {m.expected:,}"
                f" + 4096 + 1 % (over by {m.excess:,} B); GNU strip {gnu} B"
            )
        if len(r.violations()) > 5:
            lines.append(f"- {r.name}: … {len(r.violations()) - 5} more violations in the JSON")
        if r.smoke not in ("pass", "skipped"):
            lines.append(f"- {r.name}: smoke {r.smoke}")
        if r.smoke_peer not in (None, "pass"):
            lines.append(f"- {r.name}: smoke of the peer's wheel (GNU strip; not a stripwheel failure) {r.smoke_peer}")
        lines += [f"- {r.name}: {e}" for e in r.errors]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, fetch the corpus, benchmark each wheel, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--wheels",
        nargs="+",
        metavar="NAME",
        choices=sorted(PINS),
        help="wheels to run (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="small wheels only (no torch)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N", help="alternated runs per side (default: 3)")
    parser.add_argument("--torch-repeat", type=int, metavar="N", help="runs per side for torch (default: --repeat)")
    parser.add_argument("--skip-smoke", action="store_true", help="do not install and smoke-test the outputs")
    parser.add_argument("--smoke-peer", action="store_true", help="smoke-test the peer's wheels too")
    parser.add_argument("--json", type=Path, metavar="FILE", help="save the raw numbers as JSON")
    parser.add_argument(
        "--platform",
        choices=("linux", "macos", "windows"),
        default="linux",
        help="linux (default): manylinux wheels vs GNU strip; macos / windows: the macOS"
        " (arm64, x86_64, universal2) or win_amd64 wheels vs llvm-strip -x / MinGW strip",
    )
    args = parser.parse_args(argv)
    if args.platform != "linux":  # macOS and Windows figures: bench/foreign.py
        return foreign.main(args)
    if shutil.which("strip") is None or shutil.which("readelf") is None:
        parser.error("GNU binutils (strip, readelf) must be on PATH")

    names = [n for n in (args.wheels or PINS) if not (args.quick and n in LARGE)]
    wheels = fetch(names)
    results = []
    for name in names:
        if name not in wheels:
            results.append(WheelResult(name, "?", "", 0, errors=["could not fetch the wheel"]))
            continue
        repeat = args.torch_repeat if name in LARGE and args.torch_repeat else args.repeat
        print(f"{name}: {wheels[name].name}, {repeat} alternated runs per side", file=sys.stderr)
        results.append(bench_wheel(name, wheels[name], max(1, repeat), not args.skip_smoke, args.smoke_peer))

    print(table(results))
    if notes := details(results):
        print("\n" + notes)
    if args.json:
        entries = []
        for r in results:
            summary = {"median_ours_s": r.median("ours"), "median_peer_s": r.median("peer"),
                       "peak_rss_ours": r.peak("ours"), "peak_rss_peer": r.peak("peer"),
                       "violations": [m.name for m in r.violations()]}  # fmt: skip
            entries.append({**asdict(r), "summary": summary})
        document = {"environment": environment(), "argv": sys.argv[1:], "wheels": entries}
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    failed = any(r.errors or r.violations() or r.smoke.startswith("FAIL") for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
