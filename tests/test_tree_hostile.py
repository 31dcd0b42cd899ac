"""The in-place path under hostile conditions, black-box through the command line (a real
``python -m stripwheel`` process each time, so that kills and signals are real): a full disk,
SIGKILL and SIGINT at random moments, concurrent runs, immutable files and directories, set-id
bits, owners and extended attributes, FIFOs, names with newlines or 240+ bytes, RECORD files
that cannot be rewritten, debug directories that fill up or lie inside the tree, a binary
truncated while it is read, and the syncs that make a replaced binary durable (strace).

Every binary is compiled here with gcc ``-g``; venvs are made by pip and by uv (hardlinked from
a uv cache inside the test's directory) from small wheels packed here; RECORD is checked with
hashlib and csv, never with stripwheel's code. Mounting a tmpfs and ``chattr`` need root: those
tests skip when not root (CI runs as root)."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
from packaging.tags import interpreter_name, interpreter_version

import _wheels
from _helpers import need, run

pytestmark = pytest.mark.slow

SUFFIX = str(sysconfig.get_config_var("EXT_SUFFIX"))
INCLUDE = sysconfig.get_paths()["include"]
PY_TAG = f"{interpreter_name()}{interpreter_version()}"
WHEEL_TAG = f"{PY_TAG}-{PY_TAG}-{sysconfig.get_platform().replace('-', '_').replace('.', '_')}"
PAGE = os.sysconf("SC_PAGE_SIZE")
STRIPWHEEL = (sys.executable, "-m", "stripwheel")
#: An error line: ``stripwheel: error: ...`` (``python -m stripwheel: error: ...`` when run with -m).
ERROR = re.compile(r"^(?:python -m )?stripwheel: error: ")

#: A ctypes library: ``sw_mul(6, 7) == 42``. SW_VAR names a global (distinct build-ids per
#: tag), SW_PAD sizes .rodata and SW_DATA sizes .data (the last bytes the loader maps).
LIB_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef SW_PAD
#define SW_PAD 1
#endif
#ifndef SW_DATA
#define SW_DATA 1
#endif
const unsigned char sw_pad[SW_PAD] = {1};
unsigned char sw_data[SW_DATA] = {1};
int SW_VAR = 35;
static int twice(int x) { return 2 * x; }
int sw_mul(int a, int b) { return twice(a * b) / 2 + SW_VAR * 0 + sw_pad[0] + sw_data[0] - 2; }
"""

#: A Python extension module named SW_NAME: ``add(40, 2) == 42``; SW_PAD sizes .rodata.
EXT_SOURCE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define SW_CAT2(a, b) a##b
#define SW_CAT(a, b) SW_CAT2(a, b)
#define SW_STR2(a) #a
#define SW_STR(a) SW_STR2(a)
#ifndef SW_PAD
#define SW_PAD 1
#endif
const unsigned char SW_CAT(sw_pad_, SW_NAME)[SW_PAD] = {1};
static long calls;
static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b))
        return NULL;
    calls++;
    return PyLong_FromLong(a + b + SW_CAT(sw_pad_, SW_NAME)[0] - 1);
}
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "Add."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, SW_STR(SW_NAME), NULL, -1, methods};
PyMODINIT_FUNC SW_CAT(PyInit_, SW_NAME)(void) { return PyModule_Create(&module); }
"""

EXE_SOURCE = r"""
#include <stdio.h>
static int answer(void) { return 42; }
int main(void) { printf("ok %d\n", answer()); return 0; }
"""


# --- running stripwheel and looking at what it did


def sw(*args: str | Path, cwd: Optional[Path] = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m stripwheel ARGS`` to completion (a test failure if it hangs)."""
    argv = [*STRIPWHEEL, *map(str, args)]
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, errors="replace", cwd=cwd, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(argv)} did not return within {timeout} s")


def start(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*STRIPWHEEL, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{proc.args!r} did not return within {timeout} s")


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ERROR.match(line)]


def summary(stderr: str) -> tuple[int, int]:
    """(stripped, binaries) of a tree or file run's summary line."""
    match = re.search(r": (?:would strip|stripped) (\d+) of (\d+) binaries", stderr)
    assert match is not None, stderr
    return int(match.group(1)), int(match.group(2))


def digest(data: bytes) -> str:
    return _wheels.digest(data)


def record_problems(root: Path) -> list[str]:
    """Every row of every installed RECORD under ``root`` (the RECORD itself may be a symlink)
    whose file is missing or does not match its hash and size; rows without a hash skipped."""
    problems = []
    for dirpath, _dirnames, filenames in os.walk(root):
        if not dirpath.endswith(".dist-info") or "RECORD" not in filenames:
            continue
        record = Path(dirpath) / "RECORD"
        site = record.parent.parent
        with open(record, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
        for row in rows:
            if not row:
                continue
            if len(row) != 3:
                problems.append(f"{record}: malformed row {row!r}")
                continue
            name, hash_field, size = row
            if not hash_field:
                continue
            path = Path(name) if os.path.isabs(name) else site / name
            try:
                data = path.read_bytes()
            except OSError as exc:
                problems.append(f"{record}: {name!r}: {exc}")
                continue
            if digest(data) != hash_field or str(len(data)) != size:
                problems.append(f"{record}: {name!r} does not match its row")
    return problems


def assert_left_for_their_record(proc: subprocess.CompletedProcess[str], before: dict[Path, bytes]) -> None:
    """The run failed (exit 1, no traceback), left each file of ``before`` byte-identical since
    its RECORD cannot be rewritten, and said so in one error line per file."""
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path} was stripped though its RECORD cannot be rewritten"
    lines = errors(proc.stderr)
    for path in before:
        assert len([line for line in lines if path.name in line]) == 1, proc.stderr


def temporaries(root: Path) -> set[str]:
    """Paths under ``root`` named like a temporary file: 'stripwheel' in the name, or '.tmp'."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            if "stripwheel" in name or name.endswith(".tmp"):
                found.add(os.path.join(dirpath, name))
    return found


def snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every file and symlink under ``root``: its hash (or link target), mode and inode."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[path] = (os.readlink(path), st.st_mode, st.st_ino)
            elif stat.S_ISREG(st.st_mode):
                out[path] = (sha256_file(Path(path)), st.st_mode, st.st_ino)
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def section(path: Path, name: str) -> Optional[bytes]:
    """One section's contents (objcopy), None when the binary has none."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "section"
        proc = subprocess.run(
            [need("objcopy"), f"--dump-section={name}={out}", str(path), str(Path(scratch) / "copy")],
            capture_output=True,
            check=False,
        )
        return out.read_bytes() if proc.returncode == 0 and out.exists() else None


def has_debug_info(path: Path) -> bool:
    proc = run(need("readelf"), "-S", "-W", path)
    return ".debug_info" in proc.stdout


def loads(*libs: Path) -> None:
    """Each library loads with ctypes in a fresh interpreter, and ``sw_mul(6, 7) == 42``."""
    script = "import ctypes, sys\nfor p in sys.argv[1:]:\n    assert ctypes.CDLL(p).sw_mul(6, 7) == 42, p\nprint('ok')"
    proc = subprocess.run(
        [sys.executable, "-c", script, *map(str, libs)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.stdout.strip() == "ok", proc.stderr


def dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# --- building binaries, wheels and venvs


def compile_all(commands: list[list[str]]) -> None:
    """Run the compiler commands, a few at a time; fail with the first one's output."""
    with ThreadPoolExecutor(4) as pool:
        procs = list(
            pool.map(lambda c: subprocess.run(c, capture_output=True, text=True, timeout=300, check=False), commands)
        )
    for cmd, proc in zip(commands, procs):
        if proc.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed:\n{proc.stderr}")


class Native:
    """Binaries compiled with gcc -g on demand, once per module (each name once)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.gcc = need("gcc")
        (root / "lib.c").write_text(LIB_SOURCE)
        (root / "ext.c").write_text(EXT_SOURCE)
        (root / "exe.c").write_text(EXE_SOURCE)

    def lib_command(
        self, tag: str, *, g: str = "-g3", pad: int = 1, data: int = 1, flags: Iterable[str] = ()
    ) -> tuple[Path, list[str]]:
        out = self.root / f"lib{tag}.so"
        defines = [f"-DSW_VAR=sw_var_{re.sub(r'[^A-Za-z0-9_]', '_', tag)}", f"-DSW_PAD={pad}", f"-DSW_DATA={data}"]
        return out, [self.gcc, g, "-O1", "-fPIC", "-shared", *defines, *flags, str(self.root / "lib.c"), "-o", str(out)]

    def lib(self, tag: str, *, g: str = "-g3", pad: int = 1, data: int = 1, flags: Iterable[str] = ()) -> Path:
        """``lib<tag>.so``: a ctypes library with its own build-id (one per tag)."""
        out, cmd = self.lib_command(tag, g=g, pad=pad, data=data, flags=flags)
        if not out.exists():
            compile_all([cmd])
        return out

    def ext_command(self, name: str, *, g: str = "-g", pad: int = 1) -> tuple[Path, list[str]]:
        out = self.root / f"{name}{SUFFIX}"
        flags = [f"-I{INCLUDE}", f"-DSW_NAME={name}", f"-DSW_PAD={pad}"]
        return out, [self.gcc, g, "-O1", "-fPIC", "-shared", *flags, str(self.root / "ext.c"), "-o", str(out)]

    def exe(self) -> Path:
        out = self.root / "tool"
        if not out.exists():
            compile_all([[self.gcc, "-g", "-O1", str(self.root / "exe.c"), "-o", str(out)]])
        return out


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Native:
    return Native(tmp_path_factory.mktemp("native"))


def put(source: Path, dest: Path, mode: int = 0o755) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    os.chmod(dest, mode)
    return dest


def write_record(site: Path, dist: str, names: Iterable[str]) -> Path:
    """An installed ``<dist>-1.0.dist-info`` under ``site`` (METADATA, INSTALLER) whose RECORD,
    written with csv as pip does, lists ``names`` (relative to ``site``) with their hashes."""
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "INSTALLER").write_text("pip\n")
    rows: list[list[str]] = []
    for name in [*names, f"{info.name}/METADATA", f"{info.name}/INSTALLER"]:
        data = (site / name).read_bytes()
        rows.append([name, digest(data), str(len(data))])
    rows.append([f"{info.name}/RECORD", "", ""])
    record = info / "RECORD"
    with open(record, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return record


#: The distributions of the venvs that get killed: eight extension modules each and one
#: library of 16 MiB (.rodata) in ``<pkg>.libs/``, all built with -g.
PACKAGES = ("pkga", "pkgb", "pkgc", "pkgd")
MODULES = [f"_m{i}" for i in range(8)]
BIG = 16 << 20


@dataclass
class Venvs:
    """Wheels of PACKAGES, a pip-made venv to copy, and a warm uv cache."""

    wheels: list[Path]
    pip_master: Path
    uv_cache: Path

    def pip(self, dest: Path) -> Path:
        """A fresh copy of the pip-made venv."""
        shutil.copytree(self.pip_master, dest, symlinks=True)
        return dest

    def uv(self, dest: Path) -> Path:
        """A fresh venv made by uv, its files hardlinked from the cache."""
        uv = need("uv")
        run(uv, "venv", "-q", "--python", sys.executable, dest)
        run(
            uv, "pip", "install", "-q", "--python", dest / "bin" / "python", "--link-mode", "hardlink",
            "--cache-dir", self.uv_cache, "--no-index", "--offline", *self.wheels,
        )  # fmt: skip
        return dest

    def make(self, installer: str, dest: Path) -> Path:
        return self.pip(dest) if installer == "pip" else self.uv(dest)


@pytest.fixture(scope="module")
def venvs(native: Native, tmp_path_factory: pytest.TempPathFactory) -> Venvs:
    commands = [native.ext_command(m)[1] for m in MODULES]
    bigs = [native.lib_command(f"big{k}", g="-g", pad=BIG) for k in range(len(PACKAGES))]
    compile_all(commands + [cmd for _, cmd in bigs])
    house = tmp_path_factory.mktemp("wheels")
    wheels = []
    for (big, _), pkg in zip(bigs, PACKAGES):
        files: dict[str, _wheels.Data] = {f"{pkg}/__init__.py": ""}
        for m in MODULES:
            files[f"{pkg}/{m}{SUFFIX}"] = native.ext_command(m)[0].read_bytes()
        files[f"{pkg}.libs/{big.name}"] = big.read_bytes()
        modes = {name: 0o755 for name in files if name.endswith(".so")}
        wheels.append(_wheels.pack(house, files, name=pkg, tag=WHEEL_TAG, purelib=False, modes=modes))
    master = tmp_path_factory.mktemp("pip-venv") / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", master)
    run(
        sys.executable, "-m", "pip", "--python", master / "bin" / "python", "install", "-q",
        "--no-index", "--no-deps", "--no-cache-dir", *wheels,
    )  # fmt: skip
    made = Venvs(wheels, master, tmp_path_factory.mktemp("uv-cache"))
    warm = made.uv(tmp_path_factory.mktemp("uv-warm") / "venv")
    (linked,) = warm.glob(f"lib/python3*/site-packages/pkga/_m0{SUFFIX}")
    assert linked.stat().st_nlink > 1, "uv did not hardlink from its cache"
    return made


def site_of(venv: Path) -> Path:
    (site,) = venv.glob("lib/python3*/site-packages")
    return site


def check_venv(venv: Path) -> None:
    """Every extension imports and works and every library loads, in the venv's interpreter."""
    modules = [f"{pkg}.{m}" for pkg in PACKAGES for m in MODULES]
    libs = [str(p) for p in sorted(site_of(venv).glob("*.libs/*.so"))]
    script = (
        "import ctypes, importlib, sys\n"
        "mods, libs = sys.argv[1].split(','), sys.argv[2].split(',')\n"
        "for m in mods:\n    assert importlib.import_module(m).add(40, 2) == 42, m\n"
        "for p in libs:\n    assert ctypes.CDLL(p).sw_mul(6, 7) == 42, p\n"
        "print('ok', len(mods), len(libs))"
    )
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script, ",".join(modules), ",".join(libs)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.stdout.strip() == f"ok {len(modules)} {len(PACKAGES)}", proc.stderr


def seconds(*args: str | Path) -> float:
    began = time.monotonic()
    proc = sw(*args)
    assert proc.returncode == 0, proc.stderr
    return time.monotonic() - began


# --- mounts and immutable files, always undone


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str, str], Path]]:
    """Mount a small tmpfs under the test's directory (unmounted at teardown)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mounted: list[Path] = []

    def mount(name: str, size: str) -> Path:
        where = tmp_path / name
        where.mkdir()
        run(need("mount"), "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", where)
        mounted.append(where)
        return where

    try:
        yield mount
    finally:
        for where in reversed(mounted):
            if subprocess.run(["umount", str(where)], capture_output=True, check=False).returncode != 0:
                subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


@pytest.fixture
def immutable() -> Iterator[Callable[[Path], None]]:
    """``chattr +i`` a path (undone at teardown, so the test's directory can be removed)."""
    if os.geteuid() != 0:
        pytest.skip("chattr +i needs root (CI runs as root)")
    chattr = need("chattr")
    flagged: list[Path] = []

    def flag(path: Path) -> None:
        run(chattr, "+i", path)
        flagged.append(path)

    try:
        yield flag
    finally:
        for path in reversed(flagged):
            subprocess.run([chattr, "-i", str(path)], capture_output=True, check=False)


def fill(mount: Path, leave: int) -> Path:
    """Fill the filesystem at ``mount`` until ``leave`` bytes (a multiple of the page) are free."""
    st = os.statvfs(mount)
    free = st.f_bavail * st.f_frsize
    assert free > leave, (free, leave)
    filler = mount / "filler"
    with open(filler, "wb") as f:
        f.write(b"\xa5" * (free - leave))
    st = os.statvfs(mount)
    assert st.f_bavail * st.f_frsize <= leave
    return filler


# --- 1. a full disk


@pytest.fixture(scope="module")
def tail_heavy(native: Native) -> tuple[Path, int]:
    """A -g library whose stripped size S leaves less than its last write beyond the last page
    boundary (S % PAGE is small): a disk one page short fills up during that last write.
    Returns the library and S."""
    probe = native.lib("probe", pad=512 << 10, data=8)
    out = probe.parent / "probe-stripped.so"
    proc = sw("strip", probe, "-o", out)
    assert proc.returncode == 0, proc.stderr
    size = out.stat().st_size
    data = 8 + (700 - size % PAGE) % PAGE
    lib = native.lib("tail", pad=512 << 10, data=data)
    out = lib.parent / "tail-stripped.so"
    proc = sw("strip", lib, "-o", out)
    assert proc.returncode == 0, proc.stderr
    return lib, out.stat().st_size


@pytest.mark.parametrize("given", ["file", "directory"])
@pytest.mark.parametrize("short", ["by part of the last write", "by half"])
def test_a_full_disk_leaves_the_binary_as_it_was(
    given: str, short: str, tail_heavy: tuple[Path, int], tmpfs: Callable[[str, str], Path]
) -> None:
    """No room for the stripped copy: exit 1, one line naming the binary, the binary
    byte-identical, nothing left beside it; with room again a rerun strips it and it loads."""
    lib, stripped = tail_heavy
    disk = tmpfs("disk", "3m")
    binary = put(lib, disk / "x.so")
    before = binary.read_bytes()
    pages = (stripped - 1) // PAGE if short == "by part of the last write" else stripped // 2 // PAGE
    filler = fill(disk, pages * PAGE)
    listing = sorted(os.listdir(disk))
    target = binary if given == "file" else disk
    proc = sw("strip", target)
    assert binary.read_bytes() == before, f"the binary was changed on a full disk\n{proc.stderr}"
    assert sorted(os.listdir(disk)) == listing, "something was left beside the binary"
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = errors(proc.stderr)
    assert len(lines) == 1 and str(binary) in lines[0], proc.stderr
    filler.unlink()
    proc = sw("strip", target)
    assert proc.returncode == 0, proc.stderr
    assert binary.stat().st_size == stripped
    loads(binary)


# --- 2. SIGKILL and SIGINT at random moments


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_killed_and_interrupted_runs_then_a_rerun_leave_the_venv_whole(
    installer: str, venvs: Venvs, tmp_path: Path
) -> None:
    """SIGKILL (5 rounds) and SIGINT (3 rounds) at random moments of ``strip VENV``: SIGINT
    exits 130 or 1 (or 0 when the run was over) without a traceback; a rerun exits 0, every RECORD row matches its file,
    every extension imports, no temporary file is left, and uv's cache is untouched."""
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    (tmp_path / "empty").mkdir()
    startup = seconds("strip", tmp_path / "empty")
    whole = venvs.make(installer, tmp_path / "timing")
    duration = seconds("strip", whole)
    assert record_problems(whole) == []
    shutil.rmtree(whole)
    low = 0.7 * startup
    rounds = [(signal.SIGKILL, i, 5) for i in range(5)] + [(signal.SIGINT, i, 3) for i in range(3)]
    for number, (sig, i, n) in enumerate(rounds):
        delay = low + (duration - low) * (i + rng.random()) / n
        where = f"round {number} ({sig.name} after {delay:.3f} s of a {duration:.3f} s run; seed {seed})"
        venv = venvs.make(installer, tmp_path / f"venv{number}")
        cache_before = snapshot(venvs.uv_cache) if installer == "uv" else {}
        proc = start("strip", venv)
        try:
            time.sleep(delay)
            proc.send_signal(sig)
        finally:
            _, err = finish(proc)
        if sig == signal.SIGINT:
            # 130, or ended by the SIGINT itself (what a shell also shows as 130): during Python's
            # own start or shutdown the default disposition applies
            assert proc.returncode in (0, 1, 130, -signal.SIGINT), f"{where}: exit {proc.returncode}\n{err}"
            assert "Traceback" not in err, f"{where}\n{err}"
        rerun = sw("strip", venv)
        assert rerun.returncode == 0, f"{where}: the rerun failed\n{rerun.stderr}"
        assert record_problems(venv) == [], where
        check_venv(venv)
        assert temporaries(venv) == set(), where
        if installer == "uv":
            assert snapshot(venvs.uv_cache) == cache_before, f"{where}: uv's cache changed"
        shutil.rmtree(venv)


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_an_installed_file_run_bare_keeps_its_record_row_true(installer: str, venvs: Venvs, tmp_path: Path) -> None:
    """``strip SITE/pkga/_m0.so`` and ``strip SITE/pkga.libs/big0.so``, one file each, not the
    tree: the rows naming them in pkga's RECORD (in the site directory above) get the new hash
    and size, and nothing else of any RECORD changes; ``--dry-run`` and ``-o`` change no RECORD;
    a file that no RECORD lists is stripped with none touched; uv's cache keeps its bytes."""
    venv = venvs.make(installer, tmp_path / "venv")
    site = site_of(venv)
    cache_before = snapshot(venvs.uv_cache) if installer == "uv" else {}
    stray = site / "pkga" / f"stray{SUFFIX}"
    shutil.copyfile(site / "pkgb" / f"_m1{SUFFIX}", stray)  # a copy: its own inode, in no RECORD
    records = {p: p.read_bytes() for p in site.glob("*.dist-info/RECORD")}
    ext, (lib,) = site / "pkga" / f"_m0{SUFFIX}", list(site.glob("pkga.libs/*.so"))
    for args in (("--dry-run", ext), (ext, "-o", tmp_path / "out.so"), (stray,)):
        proc = sw("strip", *args)
        assert proc.returncode == 0, proc.stderr
        assert "RECORD updated" not in proc.stderr, proc.stderr
    assert {p: p.read_bytes() for p in records} == records
    sizes = {ext: ext.stat().st_size, lib: lib.stat().st_size}
    for path in (ext, lib):
        proc = sw("strip", path)
        assert proc.returncode == 0, proc.stderr
        assert f"RECORD updated: {site / 'pkga-1.0.dist-info' / 'RECORD'}" in proc.stderr, proc.stderr
        assert path.stat().st_size < sizes[path]
    assert record_problems(venv) == []
    record = site / "pkga-1.0.dist-info" / "RECORD"
    assert [p for p in records if p.read_bytes() != records[p]] == [record]
    old, new = records[record].decode().splitlines(), record.read_text().splitlines()
    moved = {f"pkga/_m0{SUFFIX}", f"pkga.libs/{lib.name}"}
    assert [line for line in old if line.split(",")[0] not in moved] == [
        line for line in new if line.split(",")[0] not in moved
    ]
    check_venv(venv)
    if installer == "uv":
        assert snapshot(venvs.uv_cache) == cache_before, "uv's cache changed"


def test_a_script_run_bare_keeps_its_record_row_true(native: Native, tmp_path: Path) -> None:
    """A binary a wheel installs as a script (``.data/scripts``: ``venv/bin/tool``) is listed by
    the RECORD in site-packages with a path that climbs (``../../../bin/tool``): ``strip
    venv/bin/tool`` brings that row up to date too, and the tool still runs."""
    tool = native.exe()
    files: dict[str, _wheels.Data] = {"tooling/__init__.py": "", "tooling-1.0.data/scripts/tool": tool.read_bytes()}
    modes = {"tooling-1.0.data/scripts/tool": 0o755}
    wheel = _wheels.pack(tmp_path / "dist", files, name="tooling", tag=WHEEL_TAG, purelib=False, modes=modes)
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-index", wheel)
    installed = venv / "bin" / "tool"
    size = installed.stat().st_size
    proc = sw("strip", installed)
    assert proc.returncode == 0, proc.stderr
    assert "RECORD updated" in proc.stderr and installed.stat().st_size < size, proc.stderr
    assert record_problems(venv) == []
    assert run(installed).returncode == 0


# --- 14. concurrent runs


def test_two_concurrent_runs_leave_every_record_row_true(venvs: Venvs, tmp_path: Path) -> None:
    """Two ``strip VENV`` at once on the same venv (5 fresh copies; the second started 0 to
    0.3 s after the first): no traceback, and afterwards every RECORD row matches its file,
    the extensions import, nothing is left."""
    for number, stagger in enumerate((0.0, 0.0, 0.05, 0.15, 0.3)):
        venv = venvs.pip(tmp_path / f"venv{number}")
        first = start("strip", venv)
        time.sleep(stagger)
        second = start("strip", venv)
        outcomes = [(p, finish(p)[1]) for p in (first, second)]
        for proc, err in outcomes:
            assert proc.returncode in (0, 1), f"round {number}: exit {proc.returncode}\n{err}"
            assert "Traceback" not in err, err
        assert record_problems(venv) == [], f"round {number}"
        check_venv(venv)
        assert temporaries(venv) == set(), f"round {number}"
        shutil.rmtree(venv)


# --- 3. one bad file does not abort the tree


def test_a_hardlinked_pair_with_names_of_250_bytes(native: Native, tmp_path: Path) -> None:
    """Two hardlinked binaries whose names are 250 bytes long are stripped like any other
    (a temporary name beside them still fits), still hardlinked, RECORD true."""
    site = tmp_path / "tree" / "site"
    long_a = "a" * 247 + ".so"
    long_b = "b" * 247 + ".so"
    first = put(native.lib("long"), site / "pkg" / long_a)
    os.link(first, site / "pkg" / long_b)
    other = put(native.lib("other"), site / "pkg" / "other.so")
    write_record(site, "pkg", [f"pkg/{long_a}", f"pkg/{long_b}", "pkg/other.so"])
    before = first.stat().st_size
    proc = sw("strip", tmp_path / "tree")
    assert proc.returncode == 0, proc.stderr
    assert first.stat().st_size < before and not has_debug_info(first)
    assert first.stat().st_ino == (site / "pkg" / long_b).stat().st_ino, "the pair is no longer hardlinked"
    assert not has_debug_info(other)
    assert record_problems(tmp_path / "tree") == []
    assert temporaries(tmp_path / "tree") == set()
    loads(first, other)


@pytest.mark.parametrize("flagged", ["dist-info directory", "RECORD"])
def test_a_record_that_cannot_be_replaced(
    flagged: str, native: Native, tmp_path: Path, immutable: Callable[[Path], None]
) -> None:
    """An immutable .dist-info directory (or RECORD): the binaries its RECORD lists are left
    byte-identical with one error line each; another distribution's are stripped; exit 1 and
    the summary is still printed."""
    root = tmp_path / "tree"
    site = root / "site"
    bad = [put(native.lib(f"bad{i}"), site / "bad" / f"bad{i}.so") for i in range(2)]
    good = [put(native.lib(f"good{i}"), site / "good" / f"good{i}.so") for i in range(2)]
    bad_record = write_record(site, "bad", [f"bad/{p.name}" for p in bad])
    write_record(site, "good", [f"good/{p.name}" for p in good])
    before = {p: p.read_bytes() for p in bad}
    immutable(bad_record.parent if flagged == "dist-info directory" else bad_record)
    proc = sw("strip", root)
    assert_left_for_their_record(proc, before)
    for path in good:
        assert not has_debug_info(path), path
    assert f"stripwheel: {root}: stripped 2 of " in proc.stderr
    assert record_problems(root) == []
    assert temporaries(root) == set()


def test_two_binaries_sharing_a_build_id(native: Native, tmp_path: Path) -> None:
    """``--split-debug``: two different binaries with one build-id; the one whose debug file
    collides gets one error line and stays as it was, the others are stripped, RECORD true,
    exit 1; a rerun fails for that one only, the same way."""
    fixed = ["-Wl,--build-id=0x5717ee1b0123456789abcdef0123456789abcdef"]
    one = native.lib("same0", flags=["-O0", *fixed])
    two = native.lib("same1", flags=["-O2", *fixed])
    assert one.read_bytes() != two.read_bytes()
    root = tmp_path / "tree"
    site = root / "site"
    pair = [put(one, site / "pkg" / "same0.so"), put(two, site / "pkg" / "same1.so")]
    others = [put(native.lib(f"free{i}"), site / "pkg" / f"free{i}.so") for i in range(3)]
    write_record(site, "pkg", [f"pkg/{p.name}" for p in pair + others])
    originals = {p: p.read_bytes() for p in pair}
    debug = tmp_path / "debug"
    proc = sw("strip", "--split-debug", debug, root)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    unchanged = [p for p in pair if p.read_bytes() == originals[p]]
    assert len(unchanged) == 1, f"one of the pair must be left as it was\n{proc.stderr}"
    (kept,) = unchanged
    (done,) = [p for p in pair if p is not kept]
    (line,) = errors(proc.stderr)
    assert kept.name in line, line
    assert not has_debug_info(done)
    for path in others:
        assert not has_debug_info(path), path
    assert record_problems(root) == []
    after = snapshot(root)
    proc = sw("strip", "--split-debug", debug, root)
    assert proc.returncode == 1, proc.stderr
    (again,) = errors(proc.stderr)
    assert kept.name in again, again
    assert snapshot(root) == after
    assert record_problems(root) == []
    assert temporaries(root) == set() and temporaries(debug) == set()


def test_a_full_debug_directory(native: Native, tmp_path: Path, tmpfs: Callable[[str, str], Path]) -> None:
    """``--split-debug DBG`` with DBG on a tiny tmpfs: a binary whose debug file could not be
    written stays byte-identical with an error line; the others are stripped and the debug
    file their debuglink names is whole (its CRC matches); RECORD true; exit 1."""
    debug = tmpfs("debug", "100k")
    root = tmp_path / "tree"
    site = root / "site"
    libs = [put(native.lib(f"dbg{i}"), site / "pkg" / f"dbg{i}.so") for i in range(6)]
    write_record(site, "pkg", [f"pkg/{p.name}" for p in libs])
    originals = {p: p.read_bytes() for p in libs}
    proc = sw("strip", "--split-debug", debug, root)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = errors(proc.stderr)
    assert lines, proc.stderr
    debug_files = {p.name: p for p in debug.rglob("*") if p.is_file()}
    for lib in libs:
        if lib.read_bytes() == originals[lib]:
            continue
        assert not [line for line in lines if lib.name in line], proc.stderr
        link = section(lib, ".gnu_debuglink")
        assert link is not None, f"{lib} was stripped without a debuglink"
        name = link[: link.index(b"\0")].decode()
        crc = int.from_bytes(link[-4:], "little")
        assert name in debug_files, f"{lib} was stripped but its debug file {name} is not in {debug}"
        assert zlib.crc32(debug_files[name].read_bytes()) == crc, f"{name} is not whole"
    assert record_problems(root) == []
    left = [p for p in libs if p.read_bytes() == originals[p]]
    assert left and len(lines) == len(left), f"one error line per binary left as it was\n{proc.stderr}"
    assert temporaries(root) == set() and temporaries(debug) == set()


# --- 4. hardlinks


def test_a_hardlink_that_cannot_follow_leaves_the_group_as_it_was(
    native: Native, tmp_path: Path, immutable: Callable[[Path], None]
) -> None:
    """A hardlinked pair whose second path lies in an immutable directory: both paths stay
    byte-identical and hardlinked, RECORD true, exit 1; another binary is stripped."""
    root = tmp_path / "tree"
    site = root / "site"
    first = put(native.lib("linked"), site / "pkg" / "a.so")
    (site / "pkg" / "sub").mkdir()
    alias = site / "pkg" / "sub" / "alias.so"
    os.link(first, alias)
    other = put(native.lib("alone"), site / "pkg" / "other.so")
    write_record(site, "pkg", ["pkg/a.so", "pkg/sub/alias.so", "pkg/other.so"])
    before = first.read_bytes()
    immutable(alias.parent)
    proc = sw("strip", root)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert errors(proc.stderr), proc.stderr
    assert first.read_bytes() == before and alias.read_bytes() == before
    assert first.stat().st_ino == alias.stat().st_ino, "the pair is no longer hardlinked"
    assert not has_debug_info(other)
    assert record_problems(root) == []
    assert temporaries(root) == set()


# --- 5. and 6. debug directories


def test_a_debug_directory_inside_the_tree_is_never_walked(native: Native, tmp_path: Path) -> None:
    """``strip --split-debug v/debug v`` twice: the second run counts only the tree's own
    binaries and leaves every debug file byte-identical."""
    tree = tmp_path / "v"
    libs = [put(native.lib(f"inside{i}"), tree / "pkg" / f"inside{i}.so") for i in range(3)]
    proc = sw("strip", "--split-debug", "v/debug", "v", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert summary(proc.stderr) == (3, 3)
    debug_files = snapshot(tree / "debug")
    assert len([p for p in debug_files if p.endswith(".debug")]) == 3, debug_files
    proc = sw("strip", "--split-debug", "v/debug", "v", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert summary(proc.stderr) == (0, len(libs)), proc.stderr
    assert snapshot(tree / "debug") == debug_files


@pytest.mark.parametrize("given", [".", "sub/.."])
def test_a_debug_file_without_build_id_stays_in_the_debug_directory(given: str, native: Native, tmp_path: Path) -> None:
    """``cd d; strip --split-debug dbg .`` (or ``sub/..``) with a binary without build-id:
    its debug file goes under d/dbg, nothing is written anywhere else (not at /)."""
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    name = f"swtest-{uuid.uuid4().hex}.so"
    binary = put(native.lib("noid", flags=["-Wl,--build-id=none"]), d / name)
    before = snapshot(d)
    strays = [Path("/") / f"{name}.debug", tmp_path / f"{name}.debug", d / f"{name}.debug"]
    try:
        proc = sw("strip", "--split-debug", "dbg", given, cwd=d)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        assert [p for p in strays if p.exists()] == []
        after = snapshot(d)
        new = [p for p in after if p not in before]
        outside = [p for p in new if not Path(p).is_relative_to(d / "dbg")]
        assert outside == [], outside
        written = [p for p in new if Path(p).is_file() and not Path(p).is_symlink()]
        assert written, "no debug file under d/dbg"
        assert not has_debug_info(binary)
        link = section(binary, ".gnu_debuglink")
        assert link is not None and any(Path(p).name == link[: link.index(b"\0")].decode() for p in written)
    finally:
        for stray in strays:
            with contextlib.suppress(OSError):
                stray.unlink()


# --- 7. set-id bits, owner, extended attributes


def test_set_id_bits_owner_and_xattrs_are_kept(native: Native, tmp_path: Path) -> None:
    """A tree owned by uid/gid 1234, binaries with modes 4755 and 2755 and a ``user.x``
    attribute, RECORD with one too: after strip (as root) every mode, owner and attribute is
    as it was, on the binaries and on RECORD."""
    if os.geteuid() != 0:
        pytest.skip("changing owners needs root (CI runs as root)")
    root = tmp_path / "tree"
    site = root / "site"
    setuid = put(native.exe(), site / "pkg" / "setuid-tool")
    setgid = put(native.lib("setgid"), site / "pkg" / "setgid.so")
    tagged = put(native.lib("tagged"), site / "pkg" / "tagged.so")
    record = write_record(site, "pkg", ["pkg/setuid-tool", "pkg/setgid.so", "pkg/tagged.so"])
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            os.chown(entry, 1234, 1234, follow_symlinks=False)
    os.chmod(setuid, 0o4755)
    os.chmod(setgid, 0o2755)
    os.setxattr(tagged, "user.x", b"binary")
    os.setxattr(record, "user.x", b"record")

    def meta(path: Path) -> tuple[int, int, int, dict[str, bytes]]:
        st = os.stat(path)
        attrs = {a: os.getxattr(path, a) for a in os.listxattr(path) if a.startswith("user.")}
        return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, attrs

    before = {p: meta(p) for p in (setuid, setgid, tagged, record)}
    proc = sw("strip", root)
    assert proc.returncode == 0, proc.stderr
    assert summary(proc.stderr) == (3, 3)
    after = {p: meta(p) for p in before}
    assert after == before
    assert record_problems(root) == []
    assert subprocess.run([str(setuid)], capture_output=True, text=True, check=False).stdout == "ok 42\n"


# --- 8. a binary truncated while it is read


@pytest.fixture(scope="module")
def huge(native: Native) -> Path:
    """A -g library of 48 MiB (.rodata), its section headers at the end."""
    return native.lib("huge", g="-g", pad=48 << 20)


@pytest.mark.parametrize("given", ["file", "tree", "tree, held open for writing"])
def test_a_binary_truncated_during_the_strip(given: str, huge: Path, tmp_path: Path) -> None:
    """Another process truncates the binary to 4 KiB at moments spread over the run (a bare
    file; a tree whose RECORD lists it; the same with the file held open for writing, so that
    no read lease can be had and the run reads a private copy instead): stripwheel never dies
    of a signal, prints no traceback and leaves no temporary file."""
    work = tmp_path / "work"
    root = work if given.startswith("tree") else None

    def fresh() -> Path:
        shutil.rmtree(work, ignore_errors=True)
        binary = put(huge, work / "site" / "pkg" / "huge.so")
        if root is not None:
            write_record(work / "site", "pkg", ["pkg/huge.so"])
        return binary

    (tmp_path / "empty").mkdir()
    startup = seconds("strip", tmp_path / "empty")
    binary = fresh()
    duration = seconds("strip", root or binary)
    attempts = 8
    for i in range(attempts):
        binary = fresh()
        delay = 0.7 * startup + (duration - 0.7 * startup) * (i + 0.5) / attempts
        writer = os.open(binary, os.O_WRONLY) if given.endswith("writing") else -1
        proc = start("strip", root or binary)
        try:
            time.sleep(delay)
            os.truncate(binary, 4096)
        finally:
            _, err = finish(proc)
            if writer >= 0:
                os.close(writer)
        where = f"truncated after {delay:.3f} s of a {duration:.3f} s run"
        assert proc.returncode >= 0, f"{where}: killed by signal {-proc.returncode}\n{err}"
        assert proc.returncode in (0, 1), f"{where}: exit {proc.returncode}\n{err}"
        assert "Traceback" not in err, f"{where}\n{err}"
        assert temporaries(work) == set(), where


# --- 9. -o OUT is always written


def test_output_is_always_written(native: Native, tmp_path: Path) -> None:
    """``strip IN -o OUT`` over a stale OUT: an already stripped binary and a refused one
    (a GCC LTO object) are copied to OUT as they are."""
    clean = tmp_path / "clean.so"
    run(need("strip"), "--strip-all", "-o", clean, native.lib("clean"))
    obj = tmp_path / "refused.o"
    run(need("gcc"), "-g", "-flto", "-c", native.root / "lib.c", "-o", obj)
    for given, out in ((clean, tmp_path / "out.so"), (obj, tmp_path / "out.o")):
        out.write_bytes(b"stale output of an earlier run\n")
        proc = sw("strip", given, "-o", out)
        assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
        assert out.read_bytes() == given.read_bytes(), f"{out} is not {given}\n{proc.stderr}"
        if given == clean:
            assert proc.returncode == 0, proc.stderr


# --- 10. FIFOs


def test_a_fifo_never_blocks(native: Native, tmp_path: Path) -> None:
    """``strip``, ``inspect`` and ``check`` of a FIFO named p.so return at once: exit 1, one
    error line; a FIFO inside a tree is passed over and the tree is stripped."""
    fifo = tmp_path / "p.so"
    os.mkfifo(fifo)
    for command in ("strip", "inspect", "check"):
        proc = sw(command, fifo, timeout=10)
        assert proc.returncode == 1, f"{command}: {proc.stderr}"
        lines = errors(proc.stderr)
        assert len(lines) == 1 and str(fifo) in lines[0], f"{command}: {proc.stderr}"
        assert "Traceback" not in proc.stderr
    tree = tmp_path / "tree"
    lib = put(native.lib("besidefifo"), tree / "pkg" / "lib.so")
    os.mkfifo(tree / "pkg" / "q.so")
    for command in ("inspect", "check"):
        proc = sw(command, tree, timeout=30)
        assert "Traceback" not in proc.stderr and proc.returncode in (0, 1), proc.stderr
    proc = sw("strip", tree, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert not has_debug_info(lib)
    assert stat.S_ISFIFO(os.lstat(tree / "pkg" / "q.so").st_mode)


# --- 13. temporary files of killed runs


def test_leftovers_of_killed_runs_are_removed(native: Native, tmp_path: Path) -> None:
    """Temporary files of a dead run (``.stripwheel-<deadpid>-<hex>.tmp``, and the legacy
    ``.<NAME>.<8 chars>.stripwheel``) go; a live run's, ``.hidden.tmp`` and
    ``notes.stripwheel`` stay; a dead run's file beside a wheel goes when it is stripped."""
    root = tmp_path / "tree"
    site = root / "site"
    lib = put(native.lib("left"), site / "pkg" / "lib.so")
    write_record(site, "pkg", ["pkg/lib.so"])
    pid = dead_pid()
    half = lib.read_bytes()[: len(lib.read_bytes()) // 2]
    gone = [
        site / "pkg" / f".stripwheel-{pid}-0badc0de.tmp",
        site / f".stripwheel-{pid}-12345678.tmp",
        site / "pkg" / ".lib.so.Ab3_x9Zq.stripwheel",
        site / "pkg-1.0.dist-info" / ".RECORD.k2J8aQ1z.stripwheel",
    ]
    stay = [
        site / "pkg" / ".hidden.tmp",
        site / "pkg" / "notes.stripwheel",
        site / "pkg" / f".stripwheel-{os.getpid()}-a1b2c3d4.tmp",  # a run that is still going
    ]
    for path in gone:
        path.write_bytes(half)
    for path in stay:
        path.write_bytes(b"not a leftover\n")
    proc = sw("strip", root)
    assert proc.returncode == 0, proc.stderr
    assert [p for p in gone if p.exists()] == []
    for path in stay:
        assert path.read_bytes() == b"not a leftover\n", path
    assert not has_debug_info(lib)
    assert record_problems(root) == []

    wheels = tmp_path / "wheels"
    files: dict[str, _wheels.Data] = {"pkgw/__init__.py": "", "pkgw/lib.so": native.lib("inwheel").read_bytes()}
    wheel = _wheels.pack(wheels, files, name="pkgw", tag=WHEEL_TAG, purelib=False)
    leftover = wheels / f".stripwheel-{dead_pid()}-feedf00d.tmp"
    leftover.write_bytes(wheel.read_bytes()[:1000])
    hidden = wheels / ".hidden.tmp"
    hidden.write_bytes(b"mine\n")
    proc = sw("strip", wheel)
    assert proc.returncode == 0, proc.stderr
    assert not leftover.exists()
    assert hidden.read_bytes() == b"mine\n"


# --- 15. names with a newline or a form feed


def test_names_with_a_newline_or_a_form_feed(native: Native, tmp_path: Path) -> None:
    """A pip-made venv whose RECORD lists binaries named with ``\\n`` and ``\\x0c`` (rows added
    with csv): ``check`` and ``strip`` agree on each (both process it or both skip it), and
    after strip every RECORD row is true."""
    house = tmp_path / "wheels"
    files: dict[str, _wheels.Data] = {"pkgn/__init__.py": "", "pkgn/plain.so": native.lib("plain").read_bytes()}
    wheel = _wheels.pack(house, files, name="pkgn", tag=WHEEL_TAG, purelib=False, modes={"pkgn/plain.so": 0o755})
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    run(
        sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
        "--no-index", "--no-deps", "--no-cache-dir", wheel,
    )  # fmt: skip
    site = site_of(venv)
    odd = ["pkgn/new\nline.so", "pkgn/form\x0cfeed.so"]
    for i, name in enumerate(odd):
        put(native.lib(f"odd{i}"), site / name)
    (record,) = site.glob("pkgn-1.0.dist-info/RECORD")
    with open(record, "a", newline="", encoding="utf-8") as f:
        for name in odd:
            data = (site / name).read_bytes()
            csv.writer(f).writerow([name, digest(data), str(len(data))])
    assert record_problems(venv) == []
    relative = {name: str((site / name).relative_to(venv)) for name in odd}
    proc = sw("check", "--json", venv)
    checked = {f["member"] for f in json.loads(proc.stdout)["findings"]}
    proc = sw("strip", "--json", venv)
    assert proc.returncode == 0, proc.stderr
    (report,) = json.loads(proc.stdout)["trees"]
    stripped = {b["member"] for b in report["binaries"]}
    for name, rel in relative.items():
        assert (rel in checked) == (rel in stripped), f"check and strip disagree on {name!r}"
    assert "pkgn/plain.so" in "\n".join(stripped)
    assert record_problems(venv) == []


# --- 16. RECORD files that cannot be rewritten, rows through symlinks


@pytest.mark.parametrize("kind", ["symlink", "bom"])
def test_a_record_that_cannot_be_rewritten(kind: str, native: Native, tmp_path: Path) -> None:
    """RECORD a symlink to a file elsewhere, or RECORD starting with a UTF-8 BOM: the
    binaries it lists are left byte-identical, one error line each, exit 1; the other
    distribution's are stripped."""
    root = tmp_path / "tree"
    site = root / "site"
    bad = [put(native.lib(f"rec{i}"), site / "bad" / f"rec{i}.so") for i in range(2)]
    good = put(native.lib("recgood"), site / "good" / "good.so")
    record = write_record(site, "bad", [f"bad/{p.name}" for p in bad])
    write_record(site, "good", ["good/good.so"])
    elsewhere = tmp_path / "elsewhere" / "RECORD"
    if kind == "symlink":
        elsewhere.parent.mkdir()
        record.rename(elsewhere)
        record.symlink_to(elsewhere)
    else:
        record.write_bytes(b"\xef\xbb\xbf" + record.read_bytes())
    record_before = record.read_bytes()
    before = {p: p.read_bytes() for p in bad}
    proc = sw("strip", root)
    assert_left_for_their_record(proc, before)
    assert not has_debug_info(good)
    assert record.read_bytes() == record_before
    if kind == "symlink":
        assert record.is_symlink() and os.readlink(record) == str(elsewhere)
    assert record_problems(root) == []


def test_a_record_row_through_a_symlinked_directory(native: Native, tmp_path: Path) -> None:
    """A RECORD row naming a binary through ``lib64 -> lib``: after strip that row is true
    (the binary stripped and the row updated, or the binary left as it was)."""
    root = tmp_path / "venv"
    site = root / "lib" / "python3" / "site-packages"
    via = put(native.lib("via"), site / "pkgl" / "via.so")
    plain = put(native.lib("direct"), site / "pkgl" / "direct.so")
    (root / "lib64").symlink_to("lib")
    write_record(site, "pkgl", ["../../../lib64/python3/site-packages/pkgl/via.so", "pkgl/direct.so"])
    proc = sw("strip", root)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    assert not has_debug_info(plain)
    assert record_problems(root) == [], proc.stderr
    assert via.exists()


# --- 17. a symlink given, and a run whose only binary fails


def test_a_symlink_given_strips_its_target(native: Native, tmp_path: Path) -> None:
    """``strip link.so`` (a symlink to a binary in another directory): exit 0, the target is
    stripped and loads, the link still points where it did."""
    target = put(native.lib("target"), tmp_path / "real" / "lib.so")
    (tmp_path / "links").mkdir()
    link = tmp_path / "links" / "link.so"
    link.symlink_to("../real/lib.so")
    proc = sw("strip", link)
    assert proc.returncode == 0, proc.stderr
    assert "changed while it was processed" not in proc.stderr
    assert link.is_symlink() and os.readlink(link) == "../real/lib.so"
    assert not has_debug_info(target)
    assert temporaries(tmp_path) == set()
    loads(target)


def test_the_summary_when_the_only_binary_fails(
    native: Native, tmp_path: Path, immutable: Callable[[Path], None]
) -> None:
    """A tree whose one binary cannot be replaced: one error line, exit 1, and the summary
    counts that binary (never 'stripped 0 of 0', never 'no native binaries')."""
    tree = tmp_path / "tree"
    lib = put(native.lib("only"), tree / "pkg" / "only.so")
    immutable(lib.parent)
    proc = sw("strip", tree)
    assert proc.returncode == 1, proc.stderr
    assert len(errors(proc.stderr)) == 1, proc.stderr
    assert f"stripwheel: {tree}: " in proc.stderr, "no summary line"
    assert "0 of 0" not in proc.stderr and "no native binaries" not in proc.stderr, proc.stderr


# --- 18. the data is on disk before the rename, the rename after


@dataclass
class Call:
    start: int  # line of the call (or of its "unfinished" half)
    end: int  # line where it returned
    pid: str
    name: str
    args: str
    result: str


def parse_strace(log: str) -> list[Call]:
    """Calls of ``strace -f -y`` output, unfinished/resumed halves joined."""
    calls: list[Call] = []
    pending: dict[tuple[str, str], tuple[int, str]] = {}
    for number, line in enumerate(log.splitlines()):
        match = re.match(r"^(\d+)\s+(.*)$", line)
        if match is None:
            continue
        pid, rest = match.groups()
        resumed = re.match(r"^<\.\.\. (\w+) resumed>(.*)\)\s+=\s+(\S+)", rest)
        if resumed is not None:
            name = resumed.group(1)
            began, args = pending.pop((pid, name), (number, ""))
            calls.append(Call(began, number, pid, name, args + resumed.group(2), resumed.group(3)))
            continue
        unfinished = re.match(r"^(\w+)\((.*) <unfinished \.\.\.>$", rest)
        if unfinished is not None:
            pending[(pid, unfinished.group(1))] = (number, unfinished.group(2))
            continue
        done = re.match(r"^(\w+)\((.*)\)\s+=\s+(\S+)", rest)
        if done is not None:
            calls.append(Call(number, number, pid, done.group(1), done.group(2), done.group(3)))
    return calls


def fd_path(call: Call) -> Optional[str]:
    match = re.match(r"^\d+<(.*?)>", call.args)
    return match.group(1) if match else None


def rename_paths(call: Call, cwd: Path) -> tuple[str, str]:
    """(source, destination) of a rename, renameat or renameat2."""
    where = r'(?:AT_FDCWD|\d+<(?P<d{0}>[^>]*)>), "(?P<p{0}>(?:[^"\\]|\\.)*)"'
    if call.name == "rename":
        match = re.match(r'^"(?P<p1>(?:[^"\\]|\\.)*)", "(?P<p2>(?:[^"\\]|\\.)*)"', call.args)
    else:
        match = re.match(f"^{where.format(1)}, {where.format(2)}", call.args)
    assert match is not None, call
    paths = []
    for i in ("1", "2"):
        path = match.group(f"p{i}")
        base = match.groupdict().get(f"d{i}") or str(cwd)
        paths.append(os.path.normpath(os.path.join(base, path)))
    return paths[0], paths[1]


def test_each_replaced_binary_is_synced_before_its_rename(native: Native, tmp_path: Path) -> None:
    """strace: for every rename of a temporary file onto a binary, an fsync/fdatasync of that
    file (or a syncfs/sync) comes after its last write and before the rename; after the last
    rename, a directory is fsynced (or syncfs/sync)."""
    root = tmp_path / "tree"
    site = root / "site"
    libs = [put(native.lib(f"sync{i}"), site / "pkg" / f"sync{i}.so") for i in range(4)]
    write_record(site, "pkg", [f"pkg/{p.name}" for p in libs])
    log = tmp_path / "strace.log"
    calls = "write,pwrite64,writev,pwritev,pwritev2,fsync,fdatasync,syncfs,sync,rename,renameat,renameat2"
    proc = subprocess.run(
        [
            need("strace"),
            "-f",
            "-y",
            "-qq",
            "-s",
            "16",
            "-e",
            f"trace={calls}",
            "-o",
            str(log),
            *STRIPWHEEL,
            "strip",
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    events = parse_strace(log.read_text(errors="replace"))
    renames = [(c, *rename_paths(c, tmp_path)) for c in events if c.name.startswith("rename") and c.result == "0"]
    binaries = {str(p) for p in libs}
    onto = [(c, src, dst) for c, src, dst in renames if dst in binaries]
    assert {dst for _, _, dst in onto} == binaries, "every binary is replaced by a rename"
    syncs = ("fsync", "fdatasync")
    for rename, src, dst in onto:
        writes = [c for c in events if c.name.startswith(("write", "pwrite")) and fd_path(c) == src]
        assert writes, f"no write to {src} before it became {dst}"
        last = max(c.end for c in writes)
        synced = [
            c
            for c in events
            if ((c.name in syncs and fd_path(c) == src) or c.name in ("syncfs", "sync")) and last < c.end < rename.start
        ]
        assert synced, f"{src} was renamed onto {dst} without a sync after its last write"
    last_rename = max(c.end for c, _, _ in renames)
    after = [
        c
        for c in events
        if c.start > last_rename
        and (c.name in ("syncfs", "sync") or (c.name in syncs and os.path.isdir(fd_path(c) or "/nonexistent")))
    ]
    assert after, "no directory fsync (or syncfs) after the last rename"
