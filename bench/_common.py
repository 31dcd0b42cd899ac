"""What the bench scripts share; not a script itself.

* paths: ``BENCH``, ``REPO``, ``CORPUS`` (``bench/_corpus/``) and ``WORK`` (``bench/_work/``);
* child processes: :func:`run` (wall time, and peak RSS and CPU time from ``os.wait4``),
  :func:`tool` / :func:`which` (a program next to the interpreter, else on ``PATH``) and
  ``COMPILED``, the environment of timed stripwheel children;
* scratch: :func:`fresh_dir`, and :func:`fresh_copy` (``cp -a``, then ``sync``);
* figures: :func:`median`, :func:`secs`, :func:`tree_size`;
* independent checks (stdlib, none of stripwheel's code): :func:`record_problems` (a wheel's
  RECORD) and :func:`record_mismatches` (the RECORDs of an installed prefix);
* the Linux wheel corpus (``PINS``, :func:`fetch`), ELF by magic (:func:`elf_type`) and the GNU
  strip flag a packager picks (:func:`strip_flag`);
* our side of the wheel benches: :func:`run_ours` (``stripwheel strip -w OUT WHEEL --json``),
  :class:`Run`, :func:`keep` and :func:`environment`.

Every script imports this module and no script imports another script (``run.py`` hands
``--platform macos|windows`` to ``foreign.py``, which imports only this). Standard library at
import time; :func:`fetch` needs ``packaging``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
#: Downloaded wheels, and scratch space: both git-ignored.
CORPUS = BENCH / "_corpus"
WORK = BENCH / "_work"
RUN_TIMEOUT = 1800.0

#: The environment of timed stripwheel children. An installed stripwheel has its modules
#: compiled; a machine that sets PYTHONDONTWRITEBYTECODE would otherwise charge every run
#: ~0.1 s of compiling.
COMPILED = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


# --- processes


@dataclass
class Proc:
    """A finished child process."""

    returncode: int
    seconds: float
    peak_rss: int
    stdout: str
    stderr: str
    #: user + system seconds of the child and the children it waited for
    cpu: float = 0.0
    #: killed after ``timeout`` seconds
    timed_out: bool = False

    def tail(self) -> str:
        """The last line of output, for one-line error reports."""
        lines = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return lines[-1] if lines else f"exit status {self.returncode}"


def run(
    cmd: list[str],
    cwd: Path | None = None,
    timeout: float | None = RUN_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> Proc:
    """Run ``cmd`` (stdin empty, output captured; ``env`` None: this process's environment);
    measure wall time, and peak RSS and CPU time of the process tree (``wait4`` rusage). Killed
    after ``timeout`` seconds unless ``timeout`` is None."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill) if timeout is not None else None
        if timer is not None:
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            if timer is not None:
                timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Proc(
            returncode=proc.returncode,
            seconds=seconds,
            peak_rss=usage.ru_maxrss * 1024,  # kilobytes on Linux
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            cpu=usage.ru_utime + usage.ru_stime,
            timed_out=killed.is_set(),
        )


def which(name: str) -> str | None:
    """``name`` next to the running interpreter, else on ``PATH``, else None."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name)


def tool(name: str, missing: str | None = None) -> str:
    """:func:`which`, or exit with ``missing`` (default: where it was looked for)."""
    found = which(name)
    if found is None:
        raise SystemExit(missing or f"{name} not found next to {sys.executable} nor on PATH")
    return found


# --- scratch


def fresh_dir(parent: Path, prefix: str) -> Path:
    """A new empty directory under ``parent``."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def fresh_copy(source: Path, target: Path) -> Path:
    """``cp -a source target`` (``target`` replaced), then ``sync``: an installed tree has long
    been on disk, so neither side of a comparison pays for the copy's writeback."""
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)
    os.sync()
    return target


# --- figures


def median(values: Iterable[float]) -> float | None:
    """The median of ``values``, or None when there are none."""
    got = list(values)
    return statistics.median(got) if got else None


def secs(n: float | None) -> str:
    """Seconds with two decimals, or 'fail'."""
    return "fail" if n is None else f"{n:.2f}"


def tree_size(root: Path) -> int:
    """Bytes of the regular files under ``root``, each inode counted once."""
    seen: set[int] = set()
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if st.st_ino not in seen and not os.path.islink(os.path.join(dirpath, name)):
                seen.add(st.st_ino)
                total += st.st_size
    return total


# --- independent checks


def record_problems(wheel: Path) -> list[str]:
    """Check RECORD against every member's sha256 and size (stdlib only; independent oracle)."""
    problems = []
    with zipfile.ZipFile(wheel) as zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        record = next((n for n in names if re.fullmatch(r"[^/]+\.dist-info/RECORD", n)), None)
        if record is None:
            return ["no RECORD"]
        rows: dict[str, list[str]] = {}
        for row in csv.reader(io.StringIO(zf.read(record).decode("utf-8"))):
            if row:
                if row[0] in rows:
                    problems.append(f"duplicate RECORD row {row[0]}")
                rows[row[0]] = row
        for name in names:
            if name == record or name.endswith((".dist-info/RECORD.jws", ".dist-info/RECORD.p7s")):
                continue
            row = rows.pop(name, [])
            if len(row) != 3 or not row[1].startswith("sha256="):
                problems.append(f"{name}: no usable RECORD row")
                continue
            digest, size = hashlib.sha256(), 0
            with zf.open(name) as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
            encoded = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
            if row[1] != f"sha256={encoded}" or row[2] != str(size):
                problems.append(f"{name}: RECORD hash/size mismatch")
        rows.pop(record, [])
        problems.extend(f"RECORD names missing member {n}" for n in rows)
    return problems


def record_mismatches(root: Path) -> int:
    """Rows of the RECORDs installed under ``root`` (a venv or a prefix) whose file no longer
    matches its hash or size."""
    bad = 0
    for record in root.glob("lib/python3*/site-packages/*.dist-info/RECORD"):
        site = record.parent.parent
        with open(record, newline="") as f:
            for row in csv.reader(f):
                if len(row) != 3 or not row[1].startswith("sha256="):
                    continue
                data = (site / row[0]).read_bytes()
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                bad += row[1] != f"sha256={digest}" or len(data) != int(row[2])
    return bad


# --- the Linux wheel corpus

#: Pinned corpus; a pin that cannot be fetched falls back to the current version.
PINS = {
    "pyyaml": "6.0.3",
    "pillow": "13.0.0",
    "cryptography": "50.0.2",
    "numpy": "2.4.6",
    "lxml": "6.1.3",
    "ruff": "0.17.5",
    "torch": "2.13.0",
}
LARGE = {"torch"}
PLATFORM_ARGS = [
    "--no-deps", "--only-binary=:all:", "--python-version", "3.11",
    "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
    "--platform", "manylinux2014_x86_64",
]  # fmt: skip


def find_wheel(name: str) -> Path | None:
    """The corpus wheel of ``name``: the pinned version if present, else the newest."""
    from packaging.utils import canonicalize_name, parse_wheel_filename  # only the wheel benches need it

    found = []
    for path in CORPUS.glob("*.whl"):
        dist, version, _, _ = parse_wheel_filename(path.name)
        if dist == canonicalize_name(name):
            found.append((version.public == PINS[name], version, path))
    return max(found)[2] if found else None


def fetch(names: list[str]) -> dict[str, Path]:
    """Download the missing wheels of ``names`` into the corpus; pinned first, then current."""
    from packaging.utils import parse_wheel_filename

    CORPUS.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", *PLATFORM_ARGS, "-d", str(CORPUS)]
    missing = [n for n in names if find_wheel(n) is None]
    if missing:
        print(f"fetching {' '.join(missing)} into {CORPUS}", file=sys.stderr)
        if run(pip + [f"{n}=={PINS[n]}" for n in missing], BENCH).returncode != 0:
            for name in missing:  # one at a time, so one bad pin does not block the others
                if run(pip + [f"{name}=={PINS[name]}"], BENCH).returncode == 0:
                    continue
                if name in LARGE:  # unpinned torch would be a multi-GB CUDA download
                    print(f"  could not fetch {name}=={PINS[name]}", file=sys.stderr)
                    continue
                print(
                    f"  {name}=={PINS[name]} unavailable; taking the current version",
                    file=sys.stderr,
                )
                got = run(pip + [name], BENCH)
                if got.returncode != 0:
                    print(f"  could not fetch {name}: {got.tail()}", file=sys.stderr)
    wheels = {n: w for n in names if (w := find_wheel(n)) is not None}
    for name, wheel in wheels.items():
        print(f"corpus: {name} {parse_wheel_filename(wheel.name)[1]} ({wheel.name})", file=sys.stderr)
    return wheels


# --- ELF, by magic (independent of stripwheel's parsers)

ELF_MAGIC = b"\x7fELF"
ET_REL, ET_EXEC, ET_DYN = 1, 2, 3


def elf_type(path: Path) -> int | None:
    """``e_type`` of an ELF file, or None when ``path`` is not ELF."""
    with path.open("rb") as f:
        head = f.read(18)
    if len(head) < 18 or not head.startswith(ELF_MAGIC):
        return None
    return int.from_bytes(head[16:18], "little" if head[5] == 1 else "big")


def strip_flag(path: Path, e_type: int) -> str:
    """The peer's choice: shared objects (and relocatables) lose unneeded symbols, executables all."""
    if e_type == ET_REL or ".so" in path.name:
        return "--strip-unneeded"
    if e_type == ET_DYN:
        dynamic = subprocess.run(["readelf", "-d", "-W", str(path)], capture_output=True, text=True, check=False)
        if "(SONAME)" in dynamic.stdout:
            return "--strip-unneeded"
    return "--strip-all"


# --- our side of the wheel benches


@dataclass
class Run:
    """One timed run of one side: wall seconds, peak RSS (bytes), and what went wrong."""

    seconds: float
    peak_rss: int
    ok: bool
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    steps: dict[str, float] = field(default_factory=dict)


def run_ours(wheel: Path, work: Path) -> tuple[Run, Path | None, dict[str, object] | None]:
    """``stripwheel strip -w OUT WHEEL --json``; returns the run, the output wheel, its report."""
    cmd = [which("stripwheel") or "stripwheel"]
    out = work / "out"
    # cwd is the empty work dir: stripwheel reads ./pyproject.toml for defaults.
    proc = run(cmd + ["strip", "-w", str(out), str(wheel), "--json"], work)
    outputs = list(out.glob("*.whl"))
    error = None
    report: dict[str, object] | None = None
    if proc.returncode != 0:
        error = f"exit {proc.returncode}: {proc.tail()}"
    elif len(outputs) != 1:
        error = f"expected one output wheel, found {len(outputs)}"
    else:
        try:
            report = json.loads(proc.stdout)
        except ValueError as exc:
            error = f"--json output is not JSON: {exc}"
    if error is not None:
        return Run(proc.seconds, proc.peak_rss, False, error), None, None
    return Run(proc.seconds, proc.peak_rss, True), outputs[0], report


def keep(output: Path, base: Path, side: str) -> Path:
    """Move an output wheel out of its run directory, to ``base/side/``."""
    kept = base / side / output.name
    kept.parent.mkdir()
    return output.rename(kept)


def environment() -> dict[str, str]:
    """What the numbers of the wheel benches depend on."""
    strip = subprocess.run(["strip", "--version"], capture_output=True, text=True, check=False).stdout.splitlines()
    return {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": str(os.cpu_count()),
        "gnu_strip": strip[0] if strip else "?",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }
