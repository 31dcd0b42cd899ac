"""Installed trees stripped in place through the command line: the demo wheel installed by
pypa/installer (with an archive, an object file, symlinks and hardlinks added), checked with
readelf, imports, RECORD and file modes; bad input gets one line per file."""

from __future__ import annotations

import csv
import ctypes
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from _helpers import ELF_MAGIC, check_elf, demo_add, install_wheel, need, run
from stripwheel._cli import main
from stripwheel._record import encode_digest

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"


def snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every path under ``root``: a hash (or link target), its mode and its kind."""
    out: dict[str, tuple[str, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[str(path.relative_to(root))] = (os.readlink(path), st.st_mode, "link")
            elif stat.S_ISREG(st.st_mode):
                out[str(path.relative_to(root))] = (hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mode, "file")
    return out


def record_mismatches(site: Path) -> list[str]:
    """Rows of every installed RECORD under ``site`` whose file does not match its hash."""
    bad = []
    for record in site.glob("*.dist-info/RECORD"):
        for path, hash_field, size in csv.reader(record.read_text().splitlines()):
            if not hash_field:
                continue
            data = (site / path).read_bytes()
            if f"sha256={encode_digest(hashlib.sha256(data).digest())}" != hash_field or len(data) != int(size):
                bad.append(path)
    return bad


@pytest.fixture
def installed(demo_wheel_master: Path, tmp_path: Path) -> Iterator[Path]:
    """A prefix with the demo wheel installed, plus what real prefixes hold besides: a static
    archive and an object file, symlinks, a hardlink inside and one from outside the tree."""
    prefix = tmp_path / "prefix"
    site = install_wheel(demo_wheel_master, prefix)
    gcc = need("gcc")
    run(gcc, "-g", "-c", DATA / "helper.c", "-o", prefix / "helper.o")
    run(need("ar"), "rcs", prefix / "libhelper.a", prefix / "helper.o")
    os.symlink("libhelper.so", site / "demo.libs" / "libhelper.so.1")
    os.symlink(tmp_path / "elsewhere.so", prefix / "dangling.so")
    os.link(site / "demo.libs" / "libhelper.so", site / "demo.libs" / "libhelper-copy.so")
    os.link(site / "demo.libs" / "libhelper_patched.so", tmp_path / "cache-entry.so")
    yield prefix


def test_strip_a_tree_in_place(installed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every ELF file shrinks and still reads cleanly; the extension imports, the libraries
    load and the tool runs; every RECORD row matches its file; modes, symlinks and in-tree
    hardlinks are kept; the outside link keeps the original; static archives are stripped too;
    objects are named and left alone."""
    site = installed / "site"
    before = snapshot(installed)
    cache_before = (tmp_path / "cache-entry.so").read_bytes()
    assert main(["strip", str(installed)]) == 0
    err = capsys.readouterr().err
    assert "stripped 7 of 7 binaries" in err
    assert re.search(r"stripped +libhelper\.a +archive x86_64: ", err)
    assert re.search(r"stripped +helper\.o +ELF x86_64: ", err)
    assert "RECORD updated: site/demo-1.0.dist-info/RECORD" in err
    after = snapshot(installed)
    for path, (digest, mode, kind) in before.items():
        assert after[path][1:] == (mode, kind), path  # same mode, same kind
        if path.endswith("RECORD"):
            continue  # checked below, row by row
        data = (installed / path).read_bytes() if kind == "file" else b""
        if path.endswith((".a", ".o")):
            assert after[path][0] != digest, path
        elif data[:4] == ELF_MAGIC:
            assert after[path][0] != digest, path
            check_elf(data, path)
        elif kind == "link" or data[:4] != ELF_MAGIC:
            assert after[path][0] == digest, path
    assert record_mismatches(site) == []
    assert (site / "demo.libs" / "libhelper-copy.so").stat().st_ino == (
        site / "demo.libs" / "libhelper.so"
    ).stat().st_ino
    assert (tmp_path / "cache-entry.so").read_bytes() == cache_before
    assert demo_add(site) == "42"
    assert ctypes.CDLL(str(site / "demo.libs" / "libhelper_patched.so")).helper_mul(6, 7) == 42
    assert (
        subprocess.run([str(installed / "bin" / "demo-tool")], capture_output=True, text=True).stdout
        == "demo-tool ok 42\n"
    )


def test_second_run_and_dry_run_change_nothing(installed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strip", "--dry-run", str(installed)]) == 0
    assert "would strip 7 of 7 binaries" in capsys.readouterr().err
    first = snapshot(installed)
    assert main(["strip", str(installed)]) == 0
    stripped = snapshot(installed)
    assert stripped != first
    assert main(["strip", str(installed)]) == 0
    assert "stripped 0 of 7 binaries" in capsys.readouterr().err
    assert snapshot(installed) == stripped


def test_json_and_inspect(installed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """inspect lists the binaries largest-strippable first with the package that owns each,
    and totals; strip --json reports the tree."""
    assert main(["inspect", "--json", str(installed)]) == 0
    (listing,) = json.loads(capsys.readouterr().out)["trees"]
    savings = [b["strippable"]["all"] for b in listing["binaries"]]
    assert savings == sorted(savings, reverse=True)
    owners = {b["member"]: b["package"] for b in listing["binaries"]}
    assert owners["bin/demo-tool"] == "demo" and owners["helper.o"] is None
    assert listing["totals"]["all"] == sum(savings) > 0
    assert main(["inspect", str(installed)]) == 0
    assert "bin/demo-tool [demo]: ELF x86_64 PIE executable" in capsys.readouterr().out
    assert main(["strip", "--json", str(installed)]) == 0
    (report,) = json.loads(capsys.readouterr().out)["trees"]
    assert len([b for b in report["binaries"] if b["action"] == "stripped"]) == 7
    assert report["records"] == ["site/demo-1.0.dist-info/RECORD"]


def test_include_and_exclude_are_relative_to_the_directory(installed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strip", "--exclude", "site/demo.libs/", "--exclude", "bin/*", str(installed)]) == 0
    assert "stripped 4 of 4 binaries" in capsys.readouterr().err


def test_bytecode_options_are_refused(installed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(installed)
    assert main(["strip", "--bytecode", "drop", str(installed)]) == 1
    err = capsys.readouterr().err
    assert err == "stripwheel: error: bytecode: only 'keep' applies to a directory (bytecode options are for wheels)\n"
    assert snapshot(installed) == before


def test_paths_that_are_neither(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no binaries here\n")
    assert main(["strip", str(tmp_path / "empty")]) == 0
    assert "no native binaries among 1 files" in capsys.readouterr().err
    assert main(["strip", str(tmp_path / "missing")]) == 1
    assert capsys.readouterr().err == f"stripwheel: error: {tmp_path / 'missing'}: no such file or directory\n"
    (tmp_path / "notes.txt").write_text("text\n")
    assert main(["strip", str(tmp_path / "notes.txt")]) == 1
    assert (
        capsys.readouterr().err
        == f"stripwheel: error: {tmp_path / 'notes.txt'}: not a wheel, a directory or an ELF, Mach-O or PE binary\n"
    )


def test_a_read_only_filesystem(installed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every binary is reported in one line and left as it was; exit 1; no traceback."""
    mount = tmp_path / "ro"
    mount.mkdir()
    run("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mount)
    try:
        shutil.copytree(installed, mount / "prefix", symlinks=True)
        run("mount", "-o", "remount,ro", mount)
        before = snapshot(mount / "prefix")
        assert main(["strip", str(mount / "prefix")]) == 1
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("stripwheel: error: ")]
        # six: copytree does not keep the hardlink, so both library paths are binaries there
        assert len(errors) == 8 and all("Read-only file system" in line for line in errors), err
        assert "Traceback" not in err
        assert snapshot(mount / "prefix") == before
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_an_unreadable_file_is_reported_and_the_others_done(demo_wheel_master: Path) -> None:
    """Run as an unprivileged user (root reads everything): the unreadable library is one
    line, the rest of the tree is stripped, exit 1."""
    shared = Path(tempfile.mkdtemp(prefix="stripwheel-unreadable-"))
    try:
        os.chmod(shared, 0o755)
        site = install_wheel(demo_wheel_master, shared / "prefix")
        for path in [shared, *shared.rglob("*")]:
            os.chown(path, 65534, 65534, follow_symlinks=False)
        locked = site / "demo.libs" / "libhelper.so"
        os.chmod(locked, 0)
        proc = subprocess.run(
            [
                need("setpriv"),
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                need("stripwheel"),
                "strip",
                str(shared / "prefix"),
            ],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 1, proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("stripwheel: error: ")]
        assert errors == [f"stripwheel: error: {locked}: cannot read: Permission denied"]
        assert "stripped 4 of 4 binaries" in proc.stderr  # the fifth could not be looked at
    finally:
        shutil.rmtree(shared)


#: Pinned wheels with something to strip: debug info (pyyaml, pillow), symbol tables (numpy),
#: and auditwheel-grafted libraries that patchelf moved (numpy's OpenBLAS, pillow's libs).
PACKAGES = ("pyyaml==6.0.3", "numpy==2.4.6", "pillow==13.0.0")
SMOKE = (
    "import io, yaml, numpy, PIL.Image; "
    "assert yaml.__with_libyaml__ and yaml.load('a: [1, 2]', Loader=yaml.CSafeLoader) == {'a': [1, 2]}; "
    "m = numpy.arange(9.0).reshape(3, 3); assert (m @ m).sum() == 486.0; "
    "buf = io.BytesIO(); PIL.Image.new('RGB', (8, 8), 'red').save(buf, 'PNG'); "
    "assert PIL.Image.open(io.BytesIO(buf.getvalue())).getpixel((0, 0)) == (255, 0, 0); print('ok')"
)


def make_venv(installer: str, venv: Path, cache: Path) -> Path:
    """A venv with PACKAGES installed by pip or by uv (hardlinked from its cache)."""
    if installer == "pip":
        run(sys.executable, "-m", "venv", venv)
        run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--only-binary=:all:", *PACKAGES)
    else:
        uv = need("uv")
        run(uv, "venv", "-q", "--python", sys.executable, venv)
        run(
            uv, "pip", "install", "-q", "--python", venv / "bin" / "python",
            "--link-mode", "hardlink", "--cache-dir", cache, "--only-binary", ":all:", *PACKAGES,
        )  # fmt: skip
    (site,) = venv.glob("lib/python3*/site-packages")
    return site


@pytest.mark.network
@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_a_real_venv(installer: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """pip's and uv's venvs with pyyaml, numpy and pillow: stripped, they import and work,
    every RECORD row matches its file, uv's cache is byte-identical, a second run changes
    nothing, and the packages uninstall cleanly."""
    venv, cache = tmp_path / "venv", tmp_path / "uv-cache"
    site = make_venv(installer, venv, cache)
    cache_before = snapshot(cache) if installer == "uv" else {}
    if installer == "uv":
        linked = site / "yaml" / "_yaml.cpython-311-x86_64-linux-gnu.so"
        assert linked.stat().st_nlink > 1  # really hardlinked from the cache
    before = snapshot(venv)
    assert main(["strip", str(venv)]) == 0
    err = capsys.readouterr().err
    assert "RECORD updated" in err and "pyyaml-6.0.3.dist-info/RECORD" in err
    after = snapshot(venv)
    shrunk = [p for p in before if p.endswith(".so") or ".so." in p if before[p][0] != after[p][0]]
    assert any("numpy.libs/libscipy_openblas" in p for p in shrunk), shrunk
    assert any(p.endswith("_yaml.cpython-311-x86_64-linux-gnu.so") for p in shrunk)
    proc = subprocess.run([venv / "bin" / "python", "-c", SMOKE], capture_output=True, text=True)
    assert proc.stdout.strip() == "ok", proc.stderr
    assert record_mismatches(site) == []
    assert snapshot(cache) == cache_before
    assert main(["strip", str(venv)]) == 0
    assert "stripped 0 of" in capsys.readouterr().err
    assert snapshot(venv) == after
    if installer == "pip":
        run(venv / "bin" / "python", "-m", "pip", "uninstall", "-q", "-y", "pyyaml", "numpy", "pillow")
    else:
        run(need("uv"), "pip", "uninstall", "-q", "--python", venv / "bin" / "python", "pyyaml", "numpy", "pillow")
    left = [p.name for p in site.iterdir() if p.name.lower().startswith(("yaml", "numpy", "pil", "pyyaml"))]
    assert left == [], left


def test_a_python_installation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A copy of the running interpreter's installation (executable, libpython, stdlib,
    lib-dynload), stripped like the Heroku buildpack does, still runs ssl, sqlite3, ctypes,
    decimal and -m venv, with the copy's own libpython mapped; its static archive is stripped
    too."""
    base = Path(sys.base_prefix)
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    libpython = sysconfig_var("INSTSONAME")
    assert sysconfig_var("Py_ENABLE_SHARED") == "1", "the test needs a Python built with --enable-shared"
    copy = tmp_path / "python"
    (copy / "bin").mkdir(parents=True)
    shutil.copy2(base / "bin" / version, copy / "bin" / version)
    (copy / "lib").mkdir()
    shutil.copy2(base / "lib" / libpython, copy / "lib" / libpython)
    skip = shutil.ignore_patterns("site-packages", "test", "idlelib", "tkinter", "turtledemo", "__pycache__")
    shutil.copytree(base / "lib" / version, copy / "lib" / version, ignore=skip, symlinks=True)
    size_before = (copy / "lib" / libpython).stat().st_size
    archive = next((copy / "lib" / version).glob("config-*/libpython*.a"))
    archive_before = archive.read_bytes()
    assert main(["strip", str(copy)]) == 0
    err = capsys.readouterr().err
    assert re.search(rf"stripped +lib/{version}/config-[^ ]+/libpython[^ ]*\.a +archive x86_64: ", err), err
    assert archive.stat().st_size < len(archive_before) * 0.5
    assert (copy / "lib" / libpython).stat().st_size < size_before * 0.6
    env = {"LD_LIBRARY_PATH": str(copy / "lib"), "PYTHONHOME": str(copy), "PATH": os.environ["PATH"]}
    script = (
        "import ssl, sqlite3, ctypes, decimal, hashlib, zlib; "
        "assert sqlite3.connect(':memory:').execute('select 6*7').fetchone() == (42,); "
        "assert ctypes.CDLL(None).abs(-5) == 5 and decimal.Decimal('1.1') + decimal.Decimal('2.2') == decimal.Decimal('3.3'); "
        "ssl.create_default_context(); "
        "print([line.split()[-1] for line in open('/proc/self/maps') if 'libpython' in line][0])"
    )
    proc = subprocess.run([copy / "bin" / version, "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(copy / "lib" / libpython)
    venv = tmp_path / "venv"
    run(copy / "bin" / version, "-m", "venv", "--without-pip", venv, env=env)
    proc = subprocess.run(
        [venv / "bin" / "python", "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, env=env
    )
    assert proc.stdout.strip() == str(venv), proc.stderr


def sysconfig_var(name: str) -> str:
    import sysconfig

    return str(sysconfig.get_config_var(name))
