"""Debug info kept out of stripped binaries, checked with the tools that read it: gdb finds a
static function's source line through the debug directory (and not without it), eu-unstrip
puts the DWARF back, debuginfod and a plain web server serve the files, MiniDebugInfo names
functions with no debug file at all."""

from __future__ import annotations

import contextlib
import json
import lzma
import mmap
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import sysconfig
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import _wheels
from _helpers import check_elf, check_wheel, need, run
from stripwheel._cli import main
from stripwheel.binaries import DEBUG_FILE_KIND, DEBUG_FILE_REASON, elf, elf_debug

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Sample:
    """One binary of the test tree: its static function and that function's source line."""

    name: str
    function: str
    line: str
    gdb: str = "gdb"


SAMPLES = [
    Sample("ext.so", "scale", 'Line 6 of "', "gdb"),
    Sample("libhelper.so", "twice", 'Line 8 of "'),
    Sample("libhelper-patched.so", "twice", 'Line 8 of "'),
    Sample("libnobuildid.so", "twice", 'Line 8 of "'),
    Sample("tool", "answer", 'Line 4 of "'),
    Sample("libcross-ppc.so", "hidden", 'Line 2 of "', "gdb-multiarch"),
]


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The binaries, built with -O0 so that each static function stays a function: an
    extension, a library (-g3: macros make its debug info outweigh patchelf's additions), a
    patchelf'd build of it (linked with its own soname, so its build-id is its own), a library
    without build-id, a PIE executable, and a big-endian powerpc library."""
    root = tmp_path_factory.mktemp("debug-originals")
    gcc, include = need("gcc"), sysconfig.get_paths()["include"]
    run(gcc, "-g", "-O0", "-fPIC", "-shared", f"-I{include}", DATA / "demo_ext.c", "-o", root / "ext.so")
    run(gcc, "-g3", "-O0", "-fPIC", "-shared", DATA / "helper.c", "-o", root / "libhelper.so")
    run(
        gcc,
        "-g3",
        "-O0",
        "-fPIC",
        "-shared",
        "-Wl,--build-id=sha1",
        "-Wl,-soname,patched",
        DATA / "helper.c",
        "-o",
        root / "libhelper-patched.so",
    )
    run(need("patchelf"), "--set-rpath", "$ORIGIN/" + "x" * 300, root / "libhelper-patched.so")
    run(gcc, "-g", "-O0", "-fPIC", "-shared", "-Wl,--build-id=none", DATA / "helper.c", "-o", root / "libnobuildid.so")
    run(gcc, "-g", "-O0", "-fPIE", "-pie", DATA / "tool.c", "-o", root / "tool")
    run(
        need("clang"), "--target=powerpc-linux-gnu", "-g", "-O0", "-fPIC", "-shared", "-nostdlib",
        "-fuse-ld=lld", "-Wl,--build-id", DATA / "cross.c", "-o", root / "libcross-ppc.so",
    )  # fmt: skip
    return root


@pytest.fixture(scope="module")
def split(originals: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, dict[str, object]]]:
    """The binaries stripped in a tree with --split-debug and --mini-debuginfo; the report."""
    work = tmp_path_factory.mktemp("debug-split")
    tree = work / "tree"
    shutil.copytree(originals, tree)
    debug = work / "debug"
    out = subprocess.run(
        [need("stripwheel"), "strip", "--json", "--split-debug", str(debug), "--mini-debuginfo", str(tree)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    (report,) = json.loads(out.stdout)["trees"]
    binaries = {b["member"]: b for b in report["binaries"]}
    assert all(b["action"] == "stripped" for b in binaries.values()), binaries
    assert any("libnobuildid.so: no build-id; only its .gnu_debuglink finds" in w for w in report["warnings"])
    return tree, debug, binaries


def gdb(sample: Sample, binary: Path, *settings: str) -> str:
    args = [need(sample.gdb), "-nx", "-batch", *(a for s in settings for a in ("-ex", s))]
    args += ["-ex", f"file {binary}", "-ex", f"info line {sample.function}", "-ex", f"info symbol {sample.function}"]
    return subprocess.run(args, capture_output=True, text=True, env={**os.environ, "DEBUGINFOD_URLS": ""}).stdout


def section(path: Path, name: str, tmp: Path) -> bytes:
    out = tmp / f"{path.name}{name}"
    run(need("llvm-objcopy-19"), "--dump-section", f"{name}={out}", path, tmp / "scratch")  # any architecture
    return out.read_bytes()


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_gdb_finds_the_source_line_through_the_debug_directory(
    sample: Sample, split: tuple[Path, Path, dict[str, dict[str, object]]], tmp_path: Path
) -> None:
    tree, debug, binaries = split
    binary = tree / sample.name
    check_elf(binary.read_bytes(), sample.name)
    debug_file = Path(str(binaries[sample.name]["debug_file"]))
    check_elf(debug_file.read_bytes(), str(debug_file))
    if sample.name == "libnobuildid.so":
        # Only the debuglink finds it: gdb looks beside the binary (and checks the CRC).
        assert debug_file == debug / "tree" / "libnobuildid.so.debug"
        alone = tmp_path / "alone"
        alone.mkdir()
        shutil.copy(binary, alone / binary.name)
        assert sample.line not in gdb(sample, alone / binary.name)
        shutil.copy(debug_file, alone / debug_file.name)
        assert sample.line in gdb(sample, alone / binary.name)
        return
    assert debug_file.parent.parent == debug / ".build-id"
    assert sample.line in gdb(sample, binary, f"set debug-file-directory {debug}")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert sample.line not in gdb(sample, binary, f"set debug-file-directory {empty}")


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_eu_unstrip_puts_the_dwarf_back(
    sample: Sample, originals: Path, split: tuple[Path, Path, dict[str, dict[str, object]]], tmp_path: Path
) -> None:
    tree, _debug, binaries = split
    joined = tmp_path / "joined"
    run(need("eu-unstrip"), "-o", joined, tree / sample.name, str(binaries[sample.name]["debug_file"]))
    assert section(joined, ".debug_info", tmp_path) == section(originals / sample.name, ".debug_info", tmp_path)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_mini_debuginfo_names_the_static_function_without_debug_files(
    sample: Sample, split: tuple[Path, Path, dict[str, dict[str, object]]], tmp_path: Path
) -> None:
    tree, _debug, binaries = split
    assert binaries[sample.name]["mini_debuginfo"]
    alone = tmp_path / sample.name
    shutil.copy(tree / sample.name, alone)  # no debug file beside it, no debug directory
    out = gdb(sample, alone, f"set debug-file-directory {tmp_path / 'none'}")
    assert f"{sample.function} in section .text" in out, out
    payload = section(alone, ".gnu_debugdata", tmp_path)
    inner = tmp_path / "inner.elf"
    inner.write_bytes(lzma.decompress(payload))
    symbols = run(need("readelf"), "-W", "-s", inner).stdout
    assert f" {sample.function}\n" in symbols and ".symtab" in symbols


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(command: list[str], port: int, cwd: Path) -> Iterator[str]:
    """A server on 127.0.0.1:``port`` for the block: started, waited for (bounded), stopped."""
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"{command[0]} did not start listening on 127.0.0.1:{port}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def build_id(binary: Path) -> str:
    notes = run(need("readelf"), "-n", binary).stdout
    return next(line.split()[-1] for line in notes.splitlines() if "Build ID:" in line)


def test_debuginfod_serves_the_build_id_tree(
    split: tuple[Path, Path, dict[str, dict[str, object]]], tmp_path: Path
) -> None:
    """``debuginfod -F`` indexes the build-id tree; ``debuginfod-find`` gets each file back."""
    tree, debug, binaries = split
    port = free_port()
    command = [need("debuginfod"), "-F", "-p", str(port), "-d", str(tmp_path / "index.sqlite"), "-c", "1", str(debug)]
    with serving(command, port, tmp_path) as url:
        for sample in SAMPLES:
            if sample.name == "libnobuildid.so":
                continue
            wanted = Path(str(binaries[sample.name]["debug_file"])).read_bytes()
            deadline = time.monotonic() + 60  # the first scan runs in the background
            for attempt in range(1000):
                # a fresh client cache each time: a miss before the scan is over would be cached
                cache = tmp_path / f"cache-{sample.name}-{attempt}"
                env = {**os.environ, "DEBUGINFOD_URLS": url, "DEBUGINFOD_CACHE_PATH": str(cache)}
                find = [need("debuginfod-find"), "debuginfo", build_id(tree / sample.name)]
                proc = subprocess.run(find, capture_output=True, text=True, env=env)
                if proc.returncode == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert proc.returncode == 0, proc.stderr
            assert Path(proc.stdout.strip()).read_bytes() == wanted, sample.name


def test_a_static_debuginfod_layout_served_over_http(originals: Path, tmp_path: Path) -> None:
    """The debuginfod layout is a complete symbol store behind any web server: gdb, told only
    the URL, fetches the debug file and resolves the line."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(originals / "libhelper.so", tree)
    store = tmp_path / "store"
    assert main(["strip", "--split-debug", str(store), "--split-debug-layout", "debuginfod", str(tree)]) == 0
    assert (store / "buildid" / build_id(tree / "libhelper.so") / "debuginfo").is_file()
    port = free_port()
    server = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    with serving(server, port, store) as url:
        env = {**os.environ, "DEBUGINFOD_URLS": url, "DEBUGINFOD_CACHE_PATH": str(tmp_path / "cache")}
        sample = SAMPLES[1]
        args = [need("gdb"), "-nx", "-batch", "-ex", "set debuginfod enabled on"]
        args += ["-ex", f"file {tree / 'libhelper.so'}", "-ex", f"info line {sample.function}"]
        out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120).stdout
    assert sample.line in out, out


def test_through_a_wheel(demo_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A wheel's ELF members get their debug files; Mach-O and PE have none, said once; a dry
    run writes none; a second run with the same wheel finds identical files in place."""
    debug = tmp_path / "debug"
    copy = tmp_path / "again" / demo_wheel.name
    copy.parent.mkdir()
    shutil.copy(demo_wheel, copy)
    assert main(["strip", "--dry-run", "--split-debug", str(debug), "--exclude", "*patched*", str(demo_wheel)]) == 0
    assert "would go to" in capsys.readouterr().err and not debug.exists()
    args = ["strip", "--json", "--split-debug", str(debug), "--exclude", "demo.libs/libhelper_patched.so"]
    assert main([*args, str(demo_wheel)]) == 0
    first = json.loads(capsys.readouterr().out)["wheels"][0]
    files = sorted(p.relative_to(debug) for p in debug.rglob("*") if p.is_file())
    assert len(files) == 4 and all(str(f).startswith(".build-id/") for f in files)
    with zipfile.ZipFile(demo_wheel) as archive:
        stripped = archive.read("demo/_ext" + str(sysconfig.get_config_var("EXT_SUFFIX")))
    link = [b for b in first["binaries"] if b["member"].startswith("demo/_ext")][0]["debug_file"]
    assert Path(link).name.encode() in stripped  # the debuglink names the file
    assert main([*args, str(copy)]) == 0  # identical files already there: fine
    assert sorted(p.relative_to(debug) for p in debug.rglob("*") if p.is_file()) == files


def test_bad_debug_directories(demo_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A directory that cannot be made, two binaries sharing a build-id with different debug
    files, and a different file already in place are one line each; the wheel is not
    rewritten and no debug file is left behind. A read-only identical file is fine."""
    before = demo_wheel.read_bytes()
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["strip", "--split-debug", str(blocker / "debug"), str(demo_wheel)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"stripwheel: error: cannot write debug files to {blocker / 'debug'}: Not a directory"]
    assert demo_wheel.read_bytes() == before

    # libhelper_patched.so is libhelper.so after patchelf: one build-id, two different files.
    debug = tmp_path / "debug"
    assert main(["strip", "--split-debug", str(debug), str(demo_wheel)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "demo.libs/libhelper_patched.so and " in err[0] and "demo.libs/libhelper.so" in err[0]
    assert "share a build-id but not their debug files" in err[0]
    assert demo_wheel.read_bytes() == before
    assert [p for p in debug.rglob("*") if p.is_file()] == []

    copy = tmp_path / "copy" / demo_wheel.name
    copy.parent.mkdir()
    shutil.copy(demo_wheel, copy)
    args = ["strip", "--split-debug", str(debug), "--exclude", "*patched*"]
    assert main([*args, str(demo_wheel)]) == 0
    capsys.readouterr()
    files = [p for p in debug.rglob("*") if p.is_file()]
    for path in files:
        path.chmod(0o444)
    shutil.copy(copy, tmp_path / "copy2.whl")
    assert main([*args, str(copy)]) == 0  # identical, read-only files in place: fine
    capsys.readouterr()
    files[0].chmod(0o644)
    files[0].write_bytes(files[0].read_bytes() + b"\0")
    retry = tmp_path / "retry" / demo_wheel.name
    retry.parent.mkdir()
    shutil.copy(tmp_path / "copy2.whl", retry)
    before = retry.read_bytes()
    assert main([*args, str(retry)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"stripwheel: error: {files[0]}: a different debug file")
    assert retry.read_bytes() == before


def test_level_debug_keeps_the_symbol_table_and_moves_the_dwarf(originals: Path, tmp_path: Path) -> None:
    """At level debug the binary keeps .symtab; the debug file holds the DWARF, which
    eu-unstrip puts back; gdb resolves the line through it."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(originals / "libhelper.so", tree)
    debug = tmp_path / "debug"
    assert main(["strip", "--strip", "debug", "--split-debug", str(debug), str(tree)]) == 0
    sections = run(need("readelf"), "-S", "-W", tree / "libhelper.so").stdout
    assert ".symtab" in sections and ".debug_info" not in sections
    (debug_file,) = debug.rglob("*.debug")
    joined = tmp_path / "joined"
    run(need("eu-unstrip"), "-o", joined, tree / "libhelper.so", debug_file)
    assert section(joined, ".debug_info", tmp_path) == section(originals / "libhelper.so", ".debug_info", tmp_path)
    assert SAMPLES[1].line in gdb(SAMPLES[1], tree / "libhelper.so", f"set debug-file-directory {debug}")


def test_split_dwarf_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A binary built with -gsplit-dwarf keeps only skeleton units: its debug file cannot hold
    the .dwo contents, and the report says so."""
    tree = tmp_path / "tree"
    tree.mkdir()
    run(
        need("gcc"),
        "-g",
        "-gsplit-dwarf",
        "-O0",
        "-fPIC",
        "-shared",
        DATA / "helper.c",
        "-o",
        tree / "libsplit.so",
        cwd=tmp_path,
    )
    assert main(["strip", "--split-debug", str(tmp_path / "debug"), str(tree)]) == 0
    assert "libsplit.so: uses split DWARF; its .dwo/.dwp files are not in .build-id/" in capsys.readouterr().err


# -- a debug file is never stripped: as a bare file, in a tree, in a wheel, nor counted by check


@pytest.fixture(scope="module")
def debug_files(originals: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Debug files of a shared object and of a PIE executable, as ``objcopy --only-keep-debug``
    writes them and as stripwheel's own ``--split-debug`` does."""
    work = tmp_path_factory.mktemp("debug-files")
    files: dict[str, bytes] = {}
    for name in ("libhelper.so", "tool"):
        out = work / f"{name}.objcopy.debug"
        run(need("objcopy"), "--only-keep-debug", originals / name, out)
        files[f"objcopy-{name}"] = out.read_bytes()
    tree = work / "tree"
    tree.mkdir()
    for name in ("libhelper.so", "tool"):
        shutil.copy(originals / name, tree)
    proc = subprocess.run(
        [need("stripwheel"), "strip", "--json", "--split-debug", str(work / "store"), str(tree)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for binary in json.loads(proc.stdout)["trees"][0]["binaries"]:
        files[f"stripwheel-{binary['member']}"] = Path(binary["debug_file"]).read_bytes()
    assert len(files) == 4
    return files


def test_a_debug_file_is_left_alone(
    debug_files: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``stripwheel strip x.debug`` (with or without --split-debug) leaves it byte-identical,
    exits 0 and says it is a debug file; ``inspect`` says so too."""
    for name, data in debug_files.items():
        path = tmp_path / f"{name}.debug"
        path.write_bytes(data)
        store = ["--split-debug", str(tmp_path / "store")]
        for extra in ([], store, ["--mini-debuginfo", *store], ["--strip", "debug", *store]):
            assert main(["strip", "--json", *extra, str(path)]) == 0, (name, extra)
            (binary,) = json.loads(capsys.readouterr().out)["trees"][0]["binaries"]
            assert binary["action"] == "unchanged" and binary["reason"] == DEBUG_FILE_REASON, (name, binary)
            assert not binary["clean"] and binary["debug_file"] is None and not binary["mini_debuginfo"]
            assert path.read_bytes() == data, (name, extra)
        assert not (tmp_path / "store").exists()  # no debug file of a debug file
        assert main(["strip", str(path)]) == 0
        assert f"unchanged  {path.name}  ELF x86_64: {DEBUG_FILE_REASON}" in capsys.readouterr().err
        assert main(["inspect", "--json", str(path)]) == 0
        (view,) = json.loads(capsys.readouterr().out)["trees"][0]["binaries"]
        assert view["kind"] == DEBUG_FILE_KIND and view["strippable"] == {"all": 0, "debug": 0}
        assert view["note"] == DEBUG_FILE_REASON


def test_debug_files_in_a_tree_stay_across_two_split_debug_runs(
    originals: Path, debug_files: dict[str, bytes], tmp_path: Path
) -> None:
    """``strip --split-debug v/debug v`` twice: a debug file already in the tree (objcopy's),
    and a copy of the first run's own debug file put there under another name, are not
    touched; the store gets no debug file of a debug file."""
    tree = tmp_path / "v"
    (tree / "lib").mkdir(parents=True)
    shutil.copy(originals / "libhelper.so", tree / "lib")
    (tree / "lib" / "libhelper.so.dbg").write_bytes(debug_files["objcopy-libhelper.so"])
    store = tree / "debug"
    assert main(["strip", "--split-debug", str(store), str(tree)]) == 0
    (made,) = [p for p in store.rglob("*") if p.is_file()]
    shutil.copy(made, tree / "lib" / "helper-symbols.bin")
    before = {p: p.read_bytes() for p in (made, tree / "lib" / "libhelper.so.dbg", tree / "lib" / "helper-symbols.bin")}
    assert main(["strip", "--split-debug", str(store), str(tree)]) == 0
    assert {p: p.read_bytes() for p in before} == before
    assert [p for p in store.rglob("*") if p.is_file()] == [made]


def test_a_debug_file_in_a_wheel_is_kept(
    originals: Path, debug_files: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Debug file members (objcopy's of a library, stripwheel's of an executable) stay
    byte-identical while the library beside them is stripped with --split-debug, which
    writes a debug file for the library alone."""
    members = {
        "demo/libhelper.so": (originals / "libhelper.so").read_bytes(),
        "demo/libhelper.so.debug": debug_files["objcopy-libhelper.so"],
        "demo/.debug/tool.debug": debug_files["stripwheel-tool"],
    }
    wheel = _wheels.pack(tmp_path / "in", members, tag="py3-none-linux_x86_64", purelib=False)
    store = tmp_path / "store"
    assert main(["strip", "--json", "--split-debug", str(store), str(wheel)]) == 0
    report = {b["member"]: b for b in json.loads(capsys.readouterr().out)["wheels"][0]["binaries"]}
    assert report["demo/libhelper.so"]["action"] == "stripped"
    after = _wheels.members(wheel)
    for member in ("demo/libhelper.so.debug", "demo/.debug/tool.debug"):
        assert after[member] == members[member], member
        assert report[member]["action"] == "unchanged" and report[member]["reason"] == DEBUG_FILE_REASON
    assert [p.name for p in store.rglob("*") if p.is_file()] == [Path(report["demo/libhelper.so"]["debug_file"]).name]
    check_wheel(wheel)


def test_check_does_not_count_debug_files(
    originals: Path, debug_files: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``check`` (and ``check --strict``) passes on debug files, bare or in a wheel, and does
    not list them; a real binary beside them is still counted."""
    bare = tmp_path / "x.debug"
    bare.write_bytes(debug_files["objcopy-tool"])
    members = {f"demo/{name}.debug": data for name, data in debug_files.items()}
    wheel = _wheels.pack(tmp_path / "in", members, tag="py3-none-linux_x86_64", purelib=False)
    for strict in ([], ["--strict"]):
        for path in (bare, wheel):
            assert main(["check", "--json", *strict, str(path)]) == 0, (path, strict)
            document = json.loads(capsys.readouterr().out)
            assert document["passed"] and document["findings"] == [], document
    assert main(["check", str(bare)]) == 0
    assert "x.debug" not in capsys.readouterr().out
    library = tmp_path / "libhelper.so"
    shutil.copy(originals / "libhelper.so", library)
    assert main(["check", "--json", str(bare), str(library)]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert [f["member"] for f in findings] == ["libhelper.so"]


# --- MiniDebugInfo: its readers, its contents, its container ------------------------------------

#: A program whose static functions are named through MiniDebugInfo alone: by gdb (``crash``:
#: a backtrace through ``abort``), by elfutils (``eu-stack`` of the waiting process) and by
#: GCC's libbacktrace (``syminfo``: the strictest reader, one xz block of LZMA2 and nothing else).
BACKTRACE_PROGRAM = r"""
#include <backtrace.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_error(void *data, const char *msg, int errnum) { fprintf(stderr, "libbacktrace: %s\n", msg); }
static void on_symbol(void *data, uintptr_t pc, const char *name, uintptr_t value, uintptr_t size) {
    printf("syminfo: %s\n", name ? name : "(none)");
}
static void __attribute__((noinline)) wait_in_static(void) { for (;;) pause(); }
static void __attribute__((noinline)) crash_in_static(void) { abort(); }
static void __attribute__((noinline)) named_by_libbacktrace(void) {
    struct backtrace_state *state = backtrace_create_state(NULL, 0, on_error, NULL);
    backtrace_syminfo(state, (uintptr_t)&named_by_libbacktrace, on_symbol, on_error, NULL);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "crash")) crash_in_static();
    if (argc > 1 && !strcmp(argv[1], "syminfo")) { named_by_libbacktrace(); return 0; }
    wait_in_static();
    return 0;
}
"""


@pytest.fixture(scope="module", params=["-pie", "-no-pie"])
def backtrace_program(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The program above, a PIE and a fixed-address executable (libbacktrace takes another
    path for each, and only the second stumbled on MiniDebugInfo's empty DWARF headers)."""
    root = tmp_path_factory.mktemp("mini-backtrace")
    gcc = need("gcc")
    libbacktrace = run(gcc, "-print-file-name=libbacktrace.a").stdout.strip()
    if not Path(libbacktrace).is_file():
        pytest.fail("GCC's libbacktrace.a is not installed (libgcc-*-dev)")
    (root / "prog.c").write_text(BACKTRACE_PROGRAM)
    run(gcc, "-g", "-O0", request.param, root / "prog.c", libbacktrace, "-o", root / "prog")
    return root / "prog"


def mini_strip(binary: Path, out: Path, monkeypatch: pytest.MonkeyPatch, parts: str) -> bytes:
    """``binary`` stripped with --mini-debuginfo (in this process) to ``out``; its payload.
    ``parts`` "many": the names are sorted and compressed on threads in batches of 256 bytes
    even though they are few, so that each batch's offsets and the joints between batches
    (dictionary resets inside one LZMA2 block) are read."""
    if parts == "many":
        monkeypatch.setattr(elf_debug, "PARALLEL_FROM", 0)
        monkeypatch.setattr(elf_debug, "PART_SIZE", 256)
    shutil.copy(binary, out)
    assert main(["strip", "--mini-debuginfo", str(out)]) == 0
    return section(out, ".gnu_debugdata", out.parent)


def xz_list(payload: Path) -> dict[str, list[str]]:
    """``xz --robot -lvv``: its lines by first field."""
    rows: dict[str, list[str]] = {}
    for line in run(need("xz"), "--robot", "-lvv", payload).stdout.splitlines():
        fields = line.split("\t")
        rows.setdefault(fields[0], fields[1:])
    return rows


@pytest.mark.parametrize("parts", ["one", "many"])
def test_mini_debuginfo_is_read_by_gdb_elfutils_and_libbacktrace(
    backtrace_program: Path, parts: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no debug file anywhere, the stripped program still runs, and gdb (a backtrace),
    eu-stack (a live process), eu-readelf and libbacktrace name its static functions from
    ``.gnu_debugdata``; ``xz -t`` accepts the payload: one stream of one block, CRC-32."""
    prog = tmp_path / "prog"
    payload = mini_strip(backtrace_program, prog, monkeypatch, parts)
    assert b".symtab" not in run(need("readelf"), "-S", "-W", prog).stdout.encode()
    env = {**os.environ, "DEBUGINFOD_URLS": ""}
    assert run(prog, "syminfo", env=env).stdout.splitlines() == ["syminfo: named_by_libbacktrace"]
    backtrace = subprocess.run(
        [need("gdb"), "-nx", "-batch", "-ex", f"set debug-file-directory {tmp_path / 'none'}", "-ex", "run", "-ex", "bt",
         "--args", str(prog), "crash"],
        capture_output=True, text=True, env=env,
    ).stdout  # fmt: skip
    assert " in crash_in_static ()" in backtrace, backtrace
    waiting = subprocess.Popen([prog], env=env)
    try:
        deadline = time.monotonic() + 10
        while True:  # until it waits in pause(), under wait_in_static
            stack = subprocess.run([need("eu-stack"), "-p", str(waiting.pid)], capture_output=True, text=True).stdout
            if " wait_in_static" in stack or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        waiting.kill()
        waiting.wait()
    assert " wait_in_static" in stack, stack
    symbols = run(need("eu-readelf"), "--elf-section=.gnu_debugdata", "-s", prog).stdout
    for name in ("wait_in_static", "crash_in_static", "named_by_libbacktrace", "main"):
        assert f" {name}\n" in symbols, name
    (tmp_path / "payload.xz").write_bytes(payload)
    run(need("xz"), "-t", tmp_path / "payload.xz")
    streams, blocks, _size, _unpacked, _ratio, check = xz_list(tmp_path / "payload.xz")["totals"][:6]
    assert (streams, blocks) == ("1", "1") and check in ("CRC32", "CRC64")
    inner = tmp_path / "inner.elf"
    inner.write_bytes(lzma.decompress(payload))
    # .debug_* and .comment have size 0: libbacktrace reads sections by name and size, whatever their type.
    headers = [line.replace("[ ", "[").split() for line in run(need("readelf"), "-S", "-W", inner).stdout.splitlines()]
    sizes = {h[1]: int(h[5], 16) for h in headers if len(h) > 5 and h[0].startswith("[") and h[1].startswith(".")}
    assert ".debug_info" in sizes and all(sizes[n] == 0 for n in sizes if n.startswith((".debug", ".comment"))), sizes


#: A named entry of ``readelf -sW``: value, size, type, bind, (visibility, ppc64's localentry), Ndx, name.
SYMBOL_LINE = re.compile(r"^\s*\d+:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+\S+\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)$")


def readelf_symbols(text: str) -> list[tuple[str, str, str, str, str, str]]:
    """(name, value, size, type, bind, Ndx) of each named entry in ``readelf -sW`` output."""
    rows = []
    for line in text.splitlines():
        match = SYMBOL_LINE.match(line)
        if match:
            value, size, kind, bind, ndx, name = match.groups()
            rows.append((name, value, size, kind, bind, ndx))
    return rows


def defined_functions(text: str) -> set[tuple[str, str, str, str, str]]:
    return {row[:5] for row in readelf_symbols(text) if row[3] in ("FUNC", "IFUNC") and row[5] not in ("UND", "ABS")}


MINI_BINARIES = [
    "elf-x86_64.so",
    "elf-x86_64-pie",
    "elf-x86_64-patchelf.so",
    "elf-i686.so",
    "elf-ppc.so",
    "elf-ppc64.so",
]


@pytest.mark.parametrize("parts", ["one", "many"])
@pytest.mark.parametrize("name", MINI_BINARIES + [s.name for s in SAMPLES])
def test_mini_debuginfo_holds_the_functions_dynsym_lacks(
    name: str, parts: str, originals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exactly the defined functions of ``.symtab`` whose names ``.dynsym`` does not define
    (the MiniDebugInfo convention), values and sizes as they were, locals first and
    ``sh_info`` past the last of them; 32- and 64-bit, both byte orders. The oracle is
    binutils' readelf on the original, not stripwheel's code."""
    original = DATA / "binaries" / name if name in MINI_BINARIES else originals / name
    readelf = need("readelf")
    payload = mini_strip(original, tmp_path / name, monkeypatch, parts)
    inner = tmp_path / "inner.elf"
    inner.write_bytes(lzma.decompress(payload))
    symtab = run(readelf, "-W", "--syms", original).stdout.split("Symbol table '.symtab'")[1]
    # readelf appends the version to a .dynsym name (foo@GLIBC_2.2.5); the string is foo.
    dynsym = readelf_symbols(run(readelf, "-W", "--dyn-syms", original).stdout)
    exported = {row[0].split("@")[0] for row in dynsym if row[5] != "UND"}
    expected = {f for f in defined_functions(symtab) if f[0] not in exported}
    assert expected, "no function to keep: the test binary is wrong"
    got = readelf_symbols(run(readelf, "-sW", inner).stdout)
    assert defined_functions(run(readelf, "-sW", inner).stdout) == expected
    assert len(got) == len(expected)  # nothing else, each once
    binds = [row[4] for row in got]
    assert binds == sorted(binds, key=lambda b: b != "LOCAL")  # locals first
    (info,) = [line.split()[-2] for line in run(readelf, "-SW", inner).stdout.splitlines() if "] .symtab" in line]
    assert int(info) == 1 + binds.count("LOCAL")


def test_mini_debuginfo_puts_locals_first_when_the_input_does_not(originals: Path) -> None:
    """A symbol table with a global function before a local one (out of order, as no linker
    writes it) still gives a MiniDebugInfo whose locals come first, with the same symbols."""
    data = bytearray((originals / "tool").read_bytes())
    inner = lzma.decompress(elf_debug.mini_debuginfo(bytes(data)) or b"")
    section_table = {s.name: s for s in elf._strippable_elf(bytes(data)).sections}
    symtab = section_table[".symtab"]
    entries = [bytes(data[symtab.offset + i * 24 : symtab.offset + (i + 1) * 24]) for i in range(symtab.size // 24)]
    functions = [i for i, e in enumerate(entries) if e[4] & 0xF == 2 and struct.unpack_from("<H", e, 6)[0]]
    first_local = next(i for i in functions if entries[i][4] >> 4 == 0)
    last_global = max(i for i in functions if entries[i][4] >> 4 == 1)
    entries[first_local], entries[last_global] = entries[last_global], entries[first_local]
    data[symtab.offset : symtab.offset + len(entries) * 24] = b"".join(entries)
    swapped = lzma.decompress(elf_debug.mini_debuginfo(bytes(data)) or b"")

    def table(image: bytes) -> tuple[list[tuple[bytes, int]], int]:
        parsed = elf._Elf(image)
        parsed.parse_tables()
        sections = {s.name: s for s in parsed.sections}
        sym, names = sections[".symtab"], image[sections[".strtab"].offset :]
        rows = []
        for i in range(1, sym.size // 24):
            entry = image[sym.offset + i * 24 : sym.offset + (i + 1) * 24]
            name = names[struct.unpack_from("<I", entry)[0] :].split(b"\0", 1)[0]
            rows.append((name + entry[4:], entry[4] >> 4))
        return rows, sym.info

    before, info_before = table(inner)
    after, info_after = table(swapped)
    assert sorted(before) == sorted(after)
    binds = [bind for _row, bind in after]
    assert binds == sorted(binds) and info_after == info_before == 1 + binds.count(0)


@pytest.mark.parametrize("parts", ["one", "many"])
def test_mini_debuginfo_is_deterministic(
    parts: str, originals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs give the same bytes (the parts are cut by size, not by the machine)."""
    first = mini_strip(originals / "libhelper.so", tmp_path / "first.so", monkeypatch, parts)
    second = mini_strip(originals / "libhelper.so", tmp_path / "second.so", monkeypatch, parts)
    assert first == second and (tmp_path / "first.so").read_bytes() == (tmp_path / "second.so").read_bytes()


def test_crc32_combine_matches_zlib() -> None:
    rng = random.Random(7)
    for _ in range(500):
        a = rng.randbytes(rng.randrange(0, 200))
        b = rng.randbytes(rng.choice([0, 1, 3, 4, 100, rng.randrange(0, 70_000)]))
        assert elf_debug._crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_lzma2_parts_join_into_one_xz_block(tmp_path: Path) -> None:
    """Raw LZMA2 compressed apart (empty parts too) joins into one valid xz block: lzma and
    ``xz -t`` read back the concatenation."""
    rng = random.Random(3)
    pieces = [b"\x7fELF" + bytes(100), rng.randbytes(70_000), b"", b"abc" * 50_000, b"tail"]
    stream = elf_debug._xz_stream([elf_debug._lzma2([p]) for p in pieces])
    assert lzma.decompress(stream) == b"".join(pieces)
    (tmp_path / "joined.xz").write_bytes(stream)
    run(need("xz"), "-t", tmp_path / "joined.xz")
    assert xz_list(tmp_path / "joined.xz")["totals"][:2] == ["1", "1"]  # streams, blocks


def test_names_at_reads_names_across_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names at string starts, inside a string (a shared suffix), at a NUL, past the end, a
    last name without its NUL, names longer than the window; a window at a time."""
    monkeypatch.setattr(elf_debug, "NAMES_WINDOW", 8)
    table = b"\0alpha\0" + b"b" * 30 + b"\0gamma\0\0delta_epsilon\0last"
    start = 5
    data = b"x" * start + table + b"yy"
    sec = elf._Section(1, ".strtab", 0, 3, 0, 0, start, len(table), 0, 0, 1, 0)

    def spelled(offset: int) -> bytes:
        return table[offset:].split(b"\0", 1)[0] if offset < len(table) else b""

    offsets = sorted({0, 1, 3, 6, 7, 20, 38, 44, 45, 46, 52, 59, 60, 62, len(table) - 1, len(table), len(table) + 9})
    assert elf_debug._names_at(data, sec, offsets) == [spelled(o) for o in offsets]
    only_starts = [1, 7, 38, 45, 59]
    windows = list(elf_debug._names_in_windows(data, sec, only_starts))
    assert len(windows) > 1 and [n for w in windows for n in w] == [
        b"alpha",
        b"b" * 30,
        b"gamma",
        b"delta_epsilon",
        b"last",
    ]


def test_the_renamer_sorts_and_compresses_batch_by_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names come a window at a time; each batch of PART_SIZE bytes is sorted, kept names (not
    b"", not unkept) get their offsets in the new table, once each, and the batches, joined
    after one NUL, decompress to exactly the table those offsets point into."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(elf_debug, "PART_SIZE", 12)
    monkeypatch.setattr(elf_debug, "PARALLEL_FROM", 0)
    windows = [[b"zeta", b"alpha", b""], [b"exported", b"mu", b"alpha"], [b"beta"], [b"kappa", b"delta"]]
    with ThreadPoolExecutor(2) as pool:
        renamer = elf_debug._Renamer(frozenset({b"exported"}), pool)
        for window in windows:
            renamer.add(window)
        names = renamer.finish()
        parts = [part.result() for part in renamer.parts]
    assert len(parts) > 1 and names.names == []
    batches = [lzma.decompress(p.lzma2 + b"\0", format=lzma.FORMAT_RAW, filters=elf_debug._FILTERS) for p in parts]
    table = b"".join(batches)
    assert len(table) == len(names) and table[:1] == b"\0"
    for batch in batches:
        kept = batch.strip(b"\0").split(b"\0")
        assert kept == sorted(set(kept))  # sorted, each once
    spelled = [name for window in windows for name in window]
    for name, at in zip(spelled, renamer.new_at):
        if name in (b"", b"exported"):
            assert at == 0
        else:
            assert table[at:].split(b"\0", 1)[0] == name and table[at - 1] == 0
    assert table.count(b"\0alpha\0") == 2  # spelled in two batches: once in each


def test_read_of_a_mapping_gives_the_bytes_and_keeps_private_changes(tmp_path: Path) -> None:
    """Read twice (the pages dropped in between) from a read-only mapping, the same bytes; from
    a private copy-on-write mapping, its changed bytes survive (its pages are not dropped)."""
    path = tmp_path / "blob"
    path.write_bytes(bytes(range(256)) * 4096)
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        for at, length in ((0, 10), (4095, 3), (5000, 70_000), (len(mapped) - 7, 7)):
            assert elf_debug._read(mapped, at, length) == path.read_bytes()[at : at + length]
            assert elf_debug._read(mapped, at, length) == mapped[at : at + length]
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY) as private:
        private[5000:5004] = b"abcd"
        assert elf_debug._read(private, 4096, 8192)[904:908] == b"abcd"
        assert private[5000:5004] == b"abcd"
