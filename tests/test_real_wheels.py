"""Real wheels from PyPI (macOS arm64, x86_64, universal2; win_amd64; manylinux), through the CLI.

The wheels are pinned and downloaded once by ``pip download`` into a cache directory
(``$STRIPWHEEL_TEST_CACHE``, default ``tests/.cache/wheels``); a cached wheel is never fetched
again. Tests skip, with pip's own line as the reason, only when the network is unreachable;
every other download failure fails.

Mach-O members are checked against the originals and against ``llvm-strip-19 -x`` with llvm
tools, the test suite's own signature verifier (``_codesign_oracle``) and LIEF.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name, parse_wheel_filename

from _codesign_oracle import signature_kind, verify_signature
from _helpers import ELF_MAGIC, check_wheel, need, run
from _macho_fixtures import LIPO, NM, OBJDUMP, STRIP
from stripwheel._cli import main

pytestmark = pytest.mark.network

CACHE = Path(os.environ.get("STRIPWHEEL_TEST_CACHE", Path(__file__).parent / ".cache" / "wheels"))

#: Lines of pip output that mean "no network" rather than "no such wheel".
OFFLINE = re.compile(
    r"NameResolutionError|Failed to resolve|Temporary failure in name resolution|"
    r"Network is unreachable|NewConnectionError|Failed to establish a new connection|"
    r"ConnectTimeoutError|Connection refused|ProxyError|No route to host",
    re.IGNORECASE,
)

MH_MAGICS = (b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")  # 32/64-bit little-endian thin
FAT_MAGICS = (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf")  # FAT_MAGIC, FAT_MAGIC_64 (big-endian)
CPU_NAMES = {0x01000007: "x86_64", 0x0100000C: "arm64", 7: "i386", 0x0200000C: "arm64_32"}


@dataclass(frozen=True)
class Pin:
    """One wheel: project, version, ``pip download --platform`` value, platform-tag glob."""

    name: str
    version: str
    platform: str
    tag: str


PINS = {
    "pyyaml-arm64": Pin("pyyaml", "6.0.3", "macosx_11_0_arm64", "macosx_*_arm64"),
    # pillow's extensions and .dylibs carry codesign-style ad hoc signatures (delocate)
    "pillow-arm64": Pin("pillow", "13.0.0", "macosx_11_0_arm64", "macosx_*_arm64"),
    "pyyaml-x86_64": Pin("pyyaml", "6.0.3", "macosx_10_13_x86_64", "macosx_*_x86_64"),
    # 48.0.1 is the last cryptography release with a universal2 wheel (50.0.2 has none)
    "cryptography-universal2": Pin("cryptography", "48.0.1", "macosx_10_9_universal2", "macosx_*_universal2"),
    "numpy-win": Pin("numpy", "2.4.6", "win_amd64", "win_amd64"),
    "pyyaml-win": Pin("pyyaml", "6.0.3", "win_amd64", "win_amd64"),
    "pyyaml-linux": Pin("pyyaml", "6.0.3", "manylinux_2_17_x86_64", "manylinux*_x86_64"),
    # a Rust extension (lld output): no debug sections, but STT_FILE symbols and a .strtab
    # without tail merging, which is all that strip --strip-debug removes from it
    "tokenizers-linux": Pin("tokenizers", "0.23.3", "manylinux_2_17_x86_64", "manylinux*_x86_64"),
}
MACOS = ["pyyaml-arm64", "pillow-arm64", "pyyaml-x86_64", "cryptography-universal2"]
WINDOWS = ["numpy-win", "pyyaml-win"]


# --- download --------------------------------------------------------------------------------


def cached(pin: Pin) -> Path | None:
    """The cached wheel of ``pin``, if any."""
    if not CACHE.is_dir():
        return None
    for path in sorted(CACHE.glob("*.whl")):
        name, version, _, tags = parse_wheel_filename(path.name)
        if (
            name == canonicalize_name(pin.name)
            and str(version) == pin.version
            and any(fnmatch.fnmatch(t.platform, pin.tag) for t in tags)
        ):
            return path
    return None


def download(pin: Pin) -> Path:
    """Fetch ``pin`` into the cache; skip when the network is unreachable, fail otherwise."""
    if (hit := cached(pin)) is not None:
        return hit
    CACHE.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--python-version", "3.11", "--platform", pin.platform, "--retries", "2",
        "--timeout", "30", "-d", str(CACHE), f"{pin.name}=={pin.version}",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        offline = [line.strip() for line in output.splitlines() if OFFLINE.search(line)]
        if offline:
            pytest.skip(f"network unreachable: {offline[-1][:300]}")
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{output}")
    hit = cached(pin)
    if hit is None:
        pytest.fail(f"pip fetched no {pin.tag} wheel of {pin.name} {pin.version}:\n{output}")
    return hit


@pytest.fixture(scope="session")
def real_wheel() -> Callable[[str], Path]:
    """Download-on-first-use access to the pinned wheels, by key of ``PINS``."""
    fetched: dict[str, Path] = {}
    failed: dict[str, BaseException] = {}  # a skip or failure is not retried by every test

    def get(key: str) -> Path:
        if key in failed:
            raise failed[key]
        if key not in fetched:
            try:
                fetched[key] = download(PINS[key])
            except (pytest.skip.Exception, pytest.fail.Exception) as exc:
                failed[key] = exc
                raise
        return fetched[key]

    return get


# --- CLI in-process --------------------------------------------------------------------------


def cli_json(*argv: str) -> dict[str, Any]:
    """``stripwheel ARGV --json`` in-process; returns its document (exit status must be 0)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()) as err:
        status = main([*argv, "--json"])
    assert status == 0, (argv, err.getvalue())
    document: dict[str, Any] = json.loads(out.getvalue())
    assert document["errors"] == []
    return document


@dataclass
class Stripped:
    """One wheel stripped by the CLI: input, output and the ``--json`` report of that wheel."""

    source: Path
    output: Path
    report: dict[str, Any]


def strip_wheel(wheel: Path, out: Path) -> Stripped:
    """``stripwheel strip -w OUT WHEEL --json``, run from an empty directory (no pyproject)."""
    with pytest.MonkeyPatch.context() as mp:
        out.mkdir(parents=True)
        mp.chdir(out)
        document = cli_json("strip", "-w", str(out / "dist"), str(wheel))
    (report,) = document["wheels"]
    output = Path(report["output"])
    assert output.parent == out / "dist" and output.is_file()
    return Stripped(wheel, output, report)


# --- Mach-O helpers --------------------------------------------------------------------------


def is_macho(head: bytes) -> bool:
    """Mach-O by magic; ``cafebabe`` is also a Java class, told apart by its small slice count."""
    if head[:4] in MH_MAGICS:
        return True
    return head[:4] in FAT_MAGICS and len(head) >= 8 and 0 < struct.unpack(">I", head[4:8])[0] < 20


def thin_slices(data: bytes) -> list[tuple[str, bytes]]:
    """(architecture, bytes) of every slice; a thin file is one slice."""
    if data[:4] in MH_MAGICS:
        return [(CPU_NAMES.get(struct.unpack_from("<I", data, 4)[0], "?"), data)]
    wide = data[:4] == FAT_MAGICS[1]
    count = struct.unpack_from(">I", data, 4)[0]
    result = []
    for i in range(count):
        if wide:
            cpu, _, off, size, _, _ = struct.unpack_from(">2I2Q2I", data, 8 + 32 * i)
        else:
            cpu, _, off, size, _ = struct.unpack_from(">5I", data, 8 + 20 * i)
        result.append((CPU_NAMES.get(cpu, "?"), data[off : off + size]))
    return result


def members(wheel: Path, accept: Callable[[bytes], bool]) -> dict[str, bytes]:
    """Every member whose first bytes ``accept``, by name."""
    with zipfile.ZipFile(wheel) as zf:
        found = {}
        for info in zf.infolist():
            if info.is_dir():
                continue
            with zf.open(info) as f:
                head = f.read(8)
            if accept(head):
                found[info.filename] = zf.read(info)
        return found


def tool_text(tool: str, path: Path, *args: str) -> str:
    """A tool's stdout and stderr with the file's path replaced by ``FILE``."""
    proc = run(need(tool), *args, path)
    return (proc.stdout + proc.stderr).replace(str(path), "FILE")


@dataclass
class MachOCase:
    """A stripped macOS wheel, its Mach-O members before/after, and llvm-strip's outputs."""

    result: Stripped
    before: dict[str, bytes]
    after: dict[str, bytes]
    entries: dict[str, dict[str, Any]]
    files: dict[str, tuple[Path, Path, Path]]  # member -> (original, ours, llvm-strip -x)


@pytest.fixture(scope="module", params=MACOS)
def macos(
    request: pytest.FixtureRequest,
    real_wheel: Callable[[str], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> MachOCase:
    """One macOS wheel stripped through the CLI, its members written out for the llvm tools."""
    wheel = real_wheel(request.param)
    tmp = tmp_path_factory.mktemp(request.param)
    result = strip_wheel(wheel, tmp / "run")
    before, after = members(wheel, is_macho), members(result.output, is_macho)
    assert before, f"no Mach-O member in {wheel.name}"
    entries = {b["member"]: b for b in result.report["binaries"]}
    files = {}
    for i, (name, data) in enumerate(sorted(before.items())):
        base = Path(name).name
        orig, ours, llvm = (tmp / side / str(i) / base for side in ("orig", "ours", "llvm"))
        for path in (orig, ours, llvm):
            path.parent.mkdir(parents=True)
        orig.write_bytes(data)
        ours.write_bytes(after[name])
        run(need(STRIP), "-x", orig, "-o", llvm)
        files[name] = (orig, ours, llvm)
    return MachOCase(result, before, after, entries, files)


# --- macOS ----------------------------------------------------------------------------------


def test_macos_every_member_shrinks_or_says_why(macos: MachOCase) -> None:
    assert macos.result.report["changed"]
    assert set(macos.after) == set(macos.before)
    for name, data in macos.before.items():
        entry = macos.entries.get(name)
        assert entry is not None and entry["format"] == "Mach-O", (name, entry)
        out = macos.after[name]
        assert (entry["size_before"], entry["size_after"]) == (len(data), len(out)), name
        if entry["action"] == "stripped":
            assert len(out) < len(data), name
        else:
            assert entry["action"] == "unchanged" and entry["reason"], (name, entry)
            assert out == data, name
    assert any(e["action"] == "stripped" for e in macos.entries.values())


def test_macos_signed_slices_stay_signed_and_valid(macos: MachOCase) -> None:
    for name, data in macos.before.items():
        old, new = thin_slices(data), thin_slices(macos.after[name])
        assert [arch for arch, _ in new] == [arch for arch, _ in old], name
        signed_before = {arch for arch, piece in old if signature_kind(piece) != "none"}
        signed_after = {arch for arch, piece in new if signature_kind(piece) != "none"}
        assert signed_after == signed_before, name
        for arch, piece in new:
            if arch not in signed_before:
                continue
            # every CodeDirectory, any hash type and page size (codesign writes 16 KiB pages)
            assert verify_signature(piece) == [], (name, arch)
        if len(signed_before) == len(old):  # the whole-file verifier, thin or fat
            assert verify_signature(macos.after[name]) == [], name


def test_macos_dyld_interface_unchanged(macos: MachOCase) -> None:
    for name, (orig, ours, _) in macos.files.items():
        defined = ["-m", "--defined-only", "--extern-only", "--arch=all"]
        assert tool_text(NM, ours, *defined) == tool_text(NM, orig, *defined), name
        trie = ["--macho", "--exports-trie", "--arch=all"]
        assert tool_text(OBJDUMP, ours, *trie) == tool_text(OBJDUMP, orig, *trie), name
        assert tool_text(LIPO, ours, "-archs") == tool_text(LIPO, orig, "-archs"), name
        if orig.read_bytes()[:4] in FAT_MAGICS:
            assert tool_text(LIPO, ours, "-info") == tool_text(LIPO, orig, "-info"), name
        headers = tool_text(OBJDUMP, ours, "--macho", "--private-headers", "--arch=all")
        assert not re.search(r"warning|error", headers, re.IGNORECASE), (name, headers[-500:])


def test_macos_matches_llvm_strip_x(macos: MachOCase) -> None:
    """Same symbol table as ``llvm-strip -x``; size within 0.5 % (llvm-strip re-signs with the
    output's file name as identifier, so the signature blobs differ by a few bytes)."""
    for name, (_, ours, theirs) in macos.files.items():
        listing = ["-ap", "--arch=all"]
        assert tool_text(NM, ours, *listing) == tool_text(NM, theirs, *listing), name
        size_ours, size_theirs = ours.stat().st_size, theirs.stat().st_size
        assert abs(size_ours - size_theirs) <= size_theirs * 0.005, (name, size_ours, size_theirs)


def test_macos_lief_reads_the_same_interface(macos: MachOCase) -> None:
    import lief  # a test dependency: missing means a broken environment

    def interface(path: Path) -> list[tuple[object, ...]]:
        fat = lief.MachO.parse(str(path))
        assert fat is not None, path
        return [
            (
                str(binary.header.cpu_type),
                sorted(s.name for s in binary.exported_symbols),
                [lib.name for lib in binary.libraries],
                binary.has_code_signature,
            )
            for binary in fat
        ]

    for name, (orig, ours, _) in macos.files.items():
        assert interface(ours) == interface(orig), name


def test_macos_wheel_passes_the_record_oracle(macos: MachOCase) -> None:
    check_wheel(macos.result.output)


def test_inspect_lists_universal2_slices(real_wheel: Callable[[str], Path], tmp_path: Path) -> None:
    wheel = real_wheel("cryptography-universal2")
    (report,) = cli_json("inspect", str(wheel))["wheels"]
    (binary,) = [b for b in report["binaries"] if b["member"].endswith("_rust.abi3.so")]
    assert binary["format"] == "Mach-O"
    assert binary["arch"] == "universal2 (x86_64, arm64)"
    slices = {s["arch"]: s for s in binary["slices"]}
    assert list(slices) == ["x86_64", "arm64"]
    assert slices["x86_64"]["signature"] == "none"
    assert slices["arm64"]["signature"] == "linker-signed"
    assert all(s["strippable"]["all"] > 0 for s in slices.values())
    # the whole file's figure also counts the slices' alignment padding: it is what strip saves
    assert binary["strippable"]["all"] >= sum(s["strippable"]["all"] for s in slices.values())
    stripped = strip_wheel(wheel, tmp_path / "run").report["binaries"]
    (entry,) = [b for b in stripped if b["member"] == binary["member"]]
    assert binary["size"] == entry["size_before"]
    assert binary["strippable"]["all"] == entry["size_before"] - entry["size_after"]


# --- Windows --------------------------------------------------------------------------------


def is_pe(head: bytes) -> bool:
    """An ``MZ`` image (the PE signature is checked on the whole file below)."""
    return head[:2] == b"MZ"


def pe_members(wheel: Path) -> dict[str, bytes]:
    """Members that are PE images: ``MZ``, then ``PE\\0\\0`` at ``e_lfanew``."""
    found = {}
    for name, data in members(wheel, is_pe).items():
        lfanew = struct.unpack_from("<I", data, 0x3C)[0] if len(data) >= 0x40 else len(data)
        if data[lfanew : lfanew + 4] == b"PE\0\0":
            found[name] = data
    return found


@pytest.mark.parametrize("key", WINDOWS)
def test_windows_wheel_is_left_byte_identical(key: str, real_wheel: Callable[[str], Path], tmp_path: Path) -> None:
    wheel = real_wheel(key)
    result = strip_wheel(wheel, tmp_path / "run")
    assert not result.report["changed"]
    assert result.output.read_bytes() == wheel.read_bytes()
    pes = pe_members(wheel)
    assert pes, f"no PE member in {wheel.name}"
    entries = {b["member"]: b for b in result.report["binaries"] if b["format"] != "archive"}
    assert set(entries) == set(pes)
    assert pe_members(result.output) == pes
    # MSVC import and static libraries (.lib) are ar archives of COFF members: left alone
    archives = [b for b in result.report["binaries"] if b["format"] == "archive"]
    assert all(b["action"] == "unchanged" and b["member"].endswith(".lib") for b in archives), archives
    for name, entry in entries.items():
        assert (entry["format"], entry["action"]) == ("PE", "unchanged"), entry
        assert entry["size_after"] == entry["size_before"] == len(pes[name])
        if "msvcp140" in name:  # numpy ships Microsoft's signed C++ runtime
            assert "Authenticode" in entry["reason"], entry
        else:  # MSVC builds: nothing to strip
            assert entry["reason"] == "nothing to strip", entry
    if key == "numpy-win":
        assert any("msvcp140" in n for n in entries), "numpy no longer ships msvcp140"


def test_windows_in_place_does_not_rewrite(real_wheel: Callable[[str], Path], tmp_path: Path) -> None:
    copy = tmp_path / real_wheel("pyyaml-win").name
    shutil.copyfile(real_wheel("pyyaml-win"), copy)
    before = copy.stat()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        (report,) = cli_json("strip", str(copy))["wheels"]
    after = copy.stat()
    assert not report["changed"]
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(p.name for p in tmp_path.iterdir()) == [copy.name]


# --- manylinux ------------------------------------------------------------------------------


def python311() -> str:
    """An interpreter that can import the cp311 wheel."""
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if found is None:
        pytest.fail("a Python 3.11 interpreter is needed to import the cp311 wheel")
    return found


def test_manylinux_pyyaml_stripped_installs_and_runs(real_wheel: Callable[[str], Path], tmp_path: Path) -> None:
    wheel = real_wheel("pyyaml-linux")
    result = strip_wheel(wheel, tmp_path / "run")
    assert result.report["changed"]
    check_wheel(result.output)  # RECORD oracle, readelf on every ELF member
    before = members(wheel, lambda head: head[:4] == ELF_MAGIC)
    after = members(result.output, lambda head: head[:4] == ELF_MAGIC)
    assert before and set(after) == set(before)
    for name, data in before.items():
        assert len(after[name]) < len(data), name
    target = tmp_path / "site"
    run(
        sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--no-index",
        "--target", target, "--python-version", "3.11", "--only-binary=:all:", result.output,
    )  # fmt: skip
    code = "import yaml; assert yaml.load('a: 1', Loader=yaml.CSafeLoader) == {'a': 1}"
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run([python311(), "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_manylinux_debug_level_matches_llvm_strip_debug(real_wheel: Callable[[str], Path], tmp_path: Path) -> None:
    """Level debug on a Rust extension: within 1 % + 4 KiB of ``llvm-strip --strip-debug``,
    every ``STT_FILE`` symbol gone, and readelf has nothing to say about the result."""
    from stripwheel.binaries import Stripped, elf

    (name, data), *others = members(real_wheel("tokenizers-linux"), lambda head: head[:4] == ELF_MAGIC).items()
    assert not others and name.endswith(".abi3.so")
    original, ours, llvm = tmp_path / "original.so", tmp_path / "ours.so", tmp_path / "llvm.so"
    original.write_bytes(data)
    result = elf.strip(data, "debug")
    assert isinstance(result, Stripped)
    ours.write_bytes(result.materialize(data))
    run(need("llvm-strip-19"), "--strip-debug", "-o", llvm, original)
    target = llvm.stat().st_size
    assert abs(result.size - target) <= target // 100 + 4096, (result.size, target)
    assert " FILE " in tool_text("readelf", original, "-sW")
    assert " FILE " not in tool_text("readelf", ours, "-sW")
    assert run(need("readelf"), "-W", "-a", ours).stderr == ""  # readelf warns on stderr


@pytest.mark.parametrize("key", [*MACOS, *WINDOWS, "pyyaml-linux"])
def test_arch_matches_inspect(real_wheel: Callable[[str], Path], key: str) -> None:
    """The engine reports ``binaries.arch`` (headers only); it must say what ``inspect`` says."""
    from stripwheel import binaries

    found = members(real_wheel(key), lambda head: binaries.detect(head) is not None)
    assert found
    for name, data in found.items():
        fmt = binaries.detect(data[:8])
        assert fmt is not None
        assert binaries.arch(fmt, data) == binaries.inspect(fmt, data).arch, name
