"""PE rewriter, checked on real MinGW and lld-link images built at test time.

Every tool is required: a missing one fails the test (CI installs them), it never skips.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from stripwheel.binaries import BinaryError, Copy, Level, Stripped, Unchanged, detect, pe

LEVELS: tuple[Level, ...] = ("all", "debug")

LIB_C = """
__declspec(dllexport) int stripwheel_add(int a, int b) { return a * 100 + b; }
__declspec(dllexport) int stripwheel_counter = 7;
"""

DRIVER_C = """
#include <stdio.h>
#include <windows.h>
typedef int (*add_fn)(int, int);
int main(void) {
    HMODULE lib = LoadLibraryA("sample.dll");
    if (!lib) { printf("LoadLibrary failed\\n"); return 2; }
    add_fn add = (add_fn)GetProcAddress(lib, "stripwheel_add");
    if (!add) { printf("GetProcAddress failed\\n"); return 3; }
    printf("stripwheel result %d\\n", add(4, 2));
    return 0;
}
"""

HELLO_C = """
#include <stdio.h>
static int helper(int x) { return x * 3; }
int main(void) { printf("hello from stripwheel %d\\n", helper(14)); return 0; }
"""

# lld-link without a C runtime: an MSVC-style image, optionally with DWARF kept in the image
MSVC_C = """
__declspec(dllexport) int stripwheel_add(int a, int b) { return a * 100 + b; }
int _DllMainCRTStartup(void *h, unsigned reason, void *reserved) { return 1; }
"""


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"required tool {name!r} not found on PATH")
    return path


def wine() -> str:
    for name in ("wine64", "wine"):
        path = shutil.which(name)
        if path:
            return path
    # Debian's wine64 package installs the loader outside PATH unless "wine" is installed too
    if os.access("/usr/lib/wine/wine64", os.X_OK):
        return "/usr/lib/wine/wine64"
    pytest.fail("wine64 (or wine) not found")


def run(*cmd: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, check=True, timeout=300)


@dataclass(frozen=True)
class Fixture:
    path: Path
    #: output size of the toolchain's own strip at each level (None: not compared)
    reference: dict[str, int | None]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Fixture]:
    d = tmp_path_factory.mktemp("pe")
    (d / "lib.c").write_text(LIB_C)
    (d / "drv.c").write_text(DRIVER_C)
    (d / "hello.c").write_text(HELLO_C)
    (d / "msvc.c").write_text(MSVC_C)
    gcc64, gcc32 = tool("x86_64-w64-mingw32-gcc"), tool("i686-w64-mingw32-gcc")
    run(gcc64, "-g", "-O1", "-shared", "-o", "sample.dll", "lib.c", cwd=d)
    run(gcc64, "-g", "-Wl,--build-id", "-o", "drv.exe", "drv.c", cwd=d)
    run(gcc64, "-g", "-o", "hello.exe", "hello.c", cwd=d)
    run(gcc64, "-s", "-o", "hello_s.exe", "hello.c", cwd=d)
    run(gcc32, "-g", "-shared", "-o", "sample32.dll", "lib.c", cwd=d)
    run(gcc32, "-g", "-o", "hello32.exe", "hello.c", cwd=d)
    run(tool("clang-19"), "--target=x86_64-pc-windows-msvc", "-g", "-gdwarf", "-O1", "-c",
        "msvc.c", "-o", "msvc.obj", cwd=d)  # fmt: skip
    link = (tool("lld-link-19"), "/dll", "/nodefaultlib", "/entry:_DllMainCRTStartup")
    run(*link, "/out:msvc.dll", "msvc.obj", cwd=d)
    run(*link, "/debug:dwarf", "/out:msvc_dwarf.dll", "msvc.obj", cwd=d)

    def reference(name: str, strip_tool: str) -> dict[str, int | None]:
        sizes: dict[str, int | None] = {}
        for level, flags in (("all", ()), ("debug", ("--strip-debug",))):
            out = d / f"{name}.gnu-{level}"
            run(tool(strip_tool), *flags, "-o", out, d / name)
            sizes[level] = out.stat().st_size
        return sizes

    fixtures = {
        name: Fixture(d / name, reference(name, "x86_64-w64-mingw32-strip"))
        for name in ("sample.dll", "drv.exe", "hello.exe")
    }
    for name in ("sample32.dll", "hello32.exe"):
        fixtures[name] = Fixture(d / name, reference(name, "i686-w64-mingw32-strip"))
    # GNU strip also shrinks the header area, which dominates in a 4 KiB file: no size reference
    fixtures["msvc_dwarf.dll"] = Fixture(d / "msvc_dwarf.dll", {"all": None, "debug": None})
    fixtures["hello_s.exe"] = Fixture(d / "hello_s.exe", {})
    fixtures["msvc.dll"] = Fixture(d / "msvc.dll", {})
    return fixtures


DEBUG_BUILDS = [
    "sample.dll",
    "drv.exe",
    "hello.exe",
    "sample32.dll",
    "hello32.exe",
    "msvc_dwarf.dll",
]


def stripped(path: Path, level: Level) -> tuple[bytes, Stripped]:
    data = path.read_bytes()
    result = pe.strip(data, level)
    assert isinstance(result, Stripped), result
    out = result.materialize(data)
    assert len(out) == result.size
    return out, result


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o755)
    return path


# --- independent readers used as oracles ------------------------------------------------------


@dataclass(frozen=True)
class Headers:
    nsections: int
    symptr: int
    nsyms: int
    characteristics: int
    size_of_image: int
    checksum: int
    checksum_at: int
    sections: list[tuple[str, int, int, int, int]]  # raw name, vsize, va, raw size, raw ptr


def headers(data: bytes) -> Headers:
    (lfanew,) = struct.unpack_from("<I", data, 0x3C)
    _, nsec, _, symptr, nsyms, optsize, chars = struct.unpack_from("<HHIIIHH", data, lfanew + 4)
    opt = lfanew + 24
    (size_of_image,) = struct.unpack_from("<I", data, opt + 56)
    (checksum,) = struct.unpack_from("<I", data, opt + 64)
    sections = []
    for i in range(nsec):
        at = opt + optsize + 40 * i
        name = data[at : at + 8].rstrip(b"\0").decode()
        sections.append((name, *struct.unpack_from("<IIII", data, at + 8)))
    return Headers(nsec, symptr, nsyms, chars, size_of_image, checksum, opt + 64, sections)


def naive_checksum(data: bytes) -> int:
    """The PE checksum the slow, obvious way (word by word, end-around carry)."""
    at = headers(data).checksum_at
    padded = data + b"\0" * (len(data) % 2)
    total = 0
    for i in range(0, len(padded), 2):
        if at <= i < at + 4:
            continue
        total += padded[i] | padded[i + 1] << 8
        total = (total & 0xFFFF) + (total >> 16)
    return ((total & 0xFFFF) + (total >> 16) + len(data)) & 0xFFFFFFFF


def readobj(path: Path, *flags: str) -> str:
    proc = run(tool("llvm-readobj-19"), *flags, path)
    assert proc.stderr == "", proc.stderr
    assert "warning" not in proc.stdout.lower()
    return proc.stdout.replace(str(path), "FILE")


def objdump_p(path: Path) -> str:
    proc = run(tool("x86_64-w64-mingw32-objdump"), "-p", path)
    assert proc.stderr == "", proc.stderr
    return proc.stdout


def objdump_section(text: str, start: str) -> str:
    """One block of ``objdump -p`` output, from the line starting with ``start`` to a blank line
    followed by another heading."""
    m = re.search(
        rf"^{re.escape(start)}.*?(?=\n\n(?:There is|The |PE File)|\Z)",
        text,
        re.MULTILINE | re.DOTALL,
    )
    assert m, f"{start!r} missing"
    return m.group(0)


def lief_interface(data: bytes) -> tuple[object, object]:
    import lief

    binary = lief.PE.parse(list(data))
    assert binary is not None
    table = binary.get_export()
    exports = sorted((e.name, e.address) for e in table.entries) if table else []
    imports = sorted(
        (imp.name, sorted(entry.name or str(entry.ordinal) for entry in imp.entries)) for imp in binary.imports
    )
    return exports, imports


# --- tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", DEBUG_BUILDS)
def test_strip_size_vs_mingw_strip(built: dict[str, Fixture], name: str, level: Level) -> None:
    fx = built[name]
    data = fx.path.read_bytes()
    out, result = stripped(fx.path, level)
    assert len(out) < len(data)
    assert any(n.startswith(".debug_") for n in result.removed)
    assert ("COFF symbol table" in result.removed) == (level == "all")
    ref = fx.reference[level]
    if ref is not None:
        assert len(out) <= ref * 1.05, (len(out), ref)
    # the image body is copied, not held twice: only the headers (and the symbol table at
    # level debug) are new bytes
    new_bytes = sum(len(p) for p in result.pieces if not isinstance(p, Copy))
    assert new_bytes <= 4096 + (len(data) - result.size if level == "debug" else 0)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", DEBUG_BUILDS)
def test_headers_after_strip(built: dict[str, Fixture], name: str, level: Level, tmp_path: Path) -> None:
    data = built[name].path.read_bytes()
    out, _ = stripped(built[name].path, level)
    before, after = headers(data), headers(out)
    assert after.nsections == len(after.sections) < before.nsections
    # the kept sections are untouched and their bytes are the same
    for old, new in zip(before.sections, after.sections):
        assert old[1:] == new[1:]
        assert data[old[4] : old[4] + old[3]] == out[new[4] : new[4] + new[3]]
    last_end = max(va + vsize for _, vsize, va, _, _ in after.sections)
    assert after.size_of_image == (last_end + 0xFFF) // 0x1000 * 0x1000  # SectionAlignment
    assert after.size_of_image < before.size_of_image
    assert after.characteristics & 0x200
    if level == "all":
        assert after.characteristics & 0xC == 0xC
        assert after.nsyms == 0
    else:
        assert after.nsyms > 0 and after.symptr > 0
        assert after.characteristics & 0x8 == before.characteristics & 0x8
    # MinGW ld writes a checksum; lld-link leaves it 0, and 0 stays 0
    if before.checksum:
        assert before.checksum == naive_checksum(data)
        assert after.checksum == naive_checksum(out)
    else:
        assert after.checksum == 0


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", DEBUG_BUILDS)
def test_output_parses_and_interface_unchanged(
    built: dict[str, Fixture], name: str, level: Level, tmp_path: Path
) -> None:
    src = built[name].path
    out, _ = stripped(src, level)
    dst = write(tmp_path / name, out)
    readobj(dst, "--file-headers", "--sections", "--symbols", "--coff-debug-directory")
    for flag in ("--coff-exports", "--coff-imports"):
        assert readobj(dst, flag) == readobj(src, flag)
    before, after = objdump_p(src), objdump_p(dst)
    for heading in ("There is an export table", "There is an import table", "The Data Directory"):
        if heading in before:
            assert objdump_section(after, heading) == objdump_section(before, heading)
    # the build-id (CodeView debug directory entry) survives
    if "CodeView" in before:
        assert objdump_section(after, "There is a debug directory") == objdump_section(
            before, "There is a debug directory"
        )
    exports, imports = lief_interface(src.read_bytes())
    assert lief_interface(out) == (exports, imports)
    assert exports or imports  # the oracle saw something to compare


@pytest.mark.parametrize("name", ["sample32.dll", "hello32.exe"])
def test_pe32_long_section_names_survive(built: dict[str, Fixture], name: str, tmp_path: Path) -> None:
    # i686 MinGW images keep ".eh_frame", a name only reachable through the string table
    before = run(tool("i686-w64-mingw32-objdump"), "-h", built[name].path).stdout
    assert ".eh_frame" in before
    for level in LEVELS:
        out, _ = stripped(built[name].path, level)
        dst = write(tmp_path / f"{level}-{name}", out)
        proc = run(tool("i686-w64-mingw32-objdump"), "-h", dst)
        assert proc.stderr == ""
        assert ".eh_frame" in proc.stdout and ".debug_" not in proc.stdout
        assert "Name: .eh_frame" in readobj(dst, "--sections")


def test_level_debug_keeps_every_non_debug_symbol(built: dict[str, Fixture], tmp_path: Path) -> None:
    nm = tool("x86_64-w64-mingw32-nm")
    src = built["hello.exe"].path
    out, _ = stripped(src, "debug")
    dst = write(tmp_path / "hello.exe", out)
    original = run(nm, src).stdout.splitlines()
    assert any(" N .debug_" in line for line in original)
    assert run(nm, dst).stdout.splitlines() == [line for line in original if " N " not in line]
    # like GNU strip --strip-debug: .file symbols (source file names) go, no symbol refers to
    # a section that is gone
    dump = run(tool("x86_64-w64-mingw32-objdump"), "-t", dst).stdout
    assert "(scl 103)" not in dump
    nsections = headers(out).nsections
    sections = [int(n) for n in re.findall(r"^\[\s*\d+\]\(sec\s+(-?\d+)\)", dump, re.MULTILINE)]
    assert len(sections) == headers(out).nsyms - dump.count("\nAUX")
    assert max(sections) <= nsections
    dst_all = write(tmp_path / "hello-all.exe", stripped(src, "all")[0])
    proc = subprocess.run([nm, str(dst_all)], check=False, capture_output=True, text=True, timeout=60)
    assert "no symbols" in proc.stderr and proc.stdout == ""


@pytest.fixture(scope="module")
def wine_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    prefix = tmp_path_factory.mktemp("wine") / "prefix"
    return {**os.environ, "WINEDEBUG": "-all", "WINEPREFIX": str(prefix)}


def run_wine(env: dict[str, str], exe: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [wine(), exe.name],
        check=False,
        cwd=exe.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("level", LEVELS)
def test_stripped_dll_and_exe_run_under_wine(
    built: dict[str, Fixture], wine_env: dict[str, str], level: Level, tmp_path: Path
) -> None:
    for name in ("sample.dll", "drv.exe", "hello.exe"):
        write(tmp_path / name, stripped(built[name].path, level)[0])
    proc = run_wine(wine_env, tmp_path / "drv.exe")
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "stripwheel result 402" in proc.stdout
    proc = run_wine(wine_env, tmp_path / "hello.exe")
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "hello from stripwheel 42" in proc.stdout


@pytest.mark.parametrize("name", ["hello_s.exe", "msvc.dll"])
def test_already_stripped_is_left_alone(built: dict[str, Fixture], name: str) -> None:
    data = built[name].path.read_bytes()
    for level in LEVELS:
        result = pe.strip(data, level)
        assert result == Unchanged("nothing to strip", clean=True)
    info = pe.inspect(data)
    assert info.strippable == {"all": 0, "debug": 0} and info.note is None


def test_stripping_twice_is_a_no_op(built: dict[str, Fixture]) -> None:
    for name in DEBUG_BUILDS:
        out, _ = stripped(built[name].path, "all")
        assert pe.strip(out, "all") == Unchanged("nothing to strip", clean=True)
        out, _ = stripped(built[name].path, "debug")
        assert pe.strip(out, "debug") == Unchanged("nothing to strip", clean=True)
        again, _ = stripped_bytes(out, "all")
        assert len(again) < len(out)


def stripped_bytes(data: bytes, level: Level) -> tuple[bytes, Stripped]:
    result = pe.strip(data, level)
    assert isinstance(result, Stripped), result
    return result.materialize(data), result


def test_inspect(built: dict[str, Fixture]) -> None:
    dll = pe.inspect(built["sample.dll"].path.read_bytes())
    assert (dll.format, dll.arch, dll.kind, dll.signature) == ("PE", "x86_64", "dll", "none")
    assert dll.strippable["all"] > dll.strippable["debug"] > 0
    exe = pe.inspect(built["hello32.exe"].path.read_bytes())
    assert (exe.arch, exe.kind) == ("i386", "executable")
    data = built["hello.exe"].path.read_bytes()
    for level in LEVELS:
        assert pe.inspect(data).strippable[level] == len(data) - len(stripped(built["hello.exe"].path, level)[0])
    assert detect(data[:8]) == "PE" and data[:2] in pe.MAGICS


def test_authenticode_signed_is_refused(built: dict[str, Fixture], tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    run(tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
        "-out", cert, "-days", "2", "-subj", "/CN=stripwheel test")  # fmt: skip
    signed = tmp_path / "signed.dll"
    run(tool("osslsigncode"), "sign", "-certs", cert, "-key", key,
        "-in", built["sample.dll"].path, "-out", signed)  # fmt: skip
    data = signed.read_bytes()
    for level in LEVELS:
        result = pe.strip(data, level)
        assert isinstance(result, Unchanged) and not result.clean
        assert "Authenticode" in result.reason
    info = pe.inspect(data)
    assert info.signature == "authenticode" and info.note and info.strippable["all"] == 0


def test_non_trailing_debug_section_is_refused(built: dict[str, Fixture], tmp_path: Path) -> None:
    src = built["sample.dll"].path
    (lfanew,) = struct.unpack_from("<I", src.read_bytes(), 0x3C)
    (image_base,) = struct.unpack_from("<Q", src.read_bytes(), lfanew + 24 + 24)
    last = headers(src.read_bytes()).sections[-1]
    vma = image_base + (last[2] + last[1] + 0xFFF) // 0x1000 * 0x1000
    extra = tmp_path / "extra.bin"
    extra.write_bytes(b"payload" * 50)
    dst = tmp_path / "nontrailing.dll"
    run(tool("x86_64-w64-mingw32-objcopy"), "--add-section", f".extra={extra}",
        "--set-section-flags", ".extra=contents,alloc,load,readonly,data",
        "--change-section-address", f".extra={vma:#x}", src, dst)  # fmt: skip
    data = dst.read_bytes()
    assert headers(data).sections[-1][0] == ".extra"
    for level in LEVELS:
        result = pe.strip(data, level)
        assert isinstance(result, Unchanged) and not result.clean
        assert "followed by non-debug" in result.reason


def test_overlay_is_refused_but_zero_padding_is_not(built: dict[str, Fixture]) -> None:
    data = built["sample.dll"].path.read_bytes()
    for level in LEVELS:
        result = pe.strip(data + b"PK\x05\x06" + bytes(18), level)
        assert isinstance(result, Unchanged) and "overlay" in result.reason
        assert isinstance(pe.strip(data + bytes(3), level), Stripped)


def test_data_directory_into_removed_section_is_refused(built: dict[str, Fixture]) -> None:
    data = bytearray(built["sample.dll"].path.read_bytes())
    first_debug = next(s for s in headers(bytes(data)).sections if s[0].startswith("/"))
    (lfanew,) = struct.unpack_from("<I", data, 0x3C)
    # data directory 13 (delay imports) of a PE32+ header, unused by MinGW
    struct.pack_into("<II", data, lfanew + 24 + 112 + 8 * 13, first_debug[2] + 16, 32)
    for level in LEVELS:
        result = pe.strip(bytes(data), level)
        assert isinstance(result, Unchanged) and "data directory 13" in result.reason


def test_dos_program_is_not_ours() -> None:
    dos = b"MZ" + bytes(0x3A) + struct.pack("<I", 0x40) + b"\xb4\x4c\xcd\x21" + bytes(60)
    assert pe.strip(dos, "all") == Unchanged("not a PE image (MS-DOS program)", clean=True)
    assert pe.inspect(dos).strippable == {"all": 0, "debug": 0}
    assert pe.strip(b"MZ", "all") == Unchanged("not a PE image (MS-DOS program)", clean=True)


def test_truncated_file_raises(built: dict[str, Fixture]) -> None:
    data = built["hello.exe"].path.read_bytes()
    h = headers(data)
    (lfanew,) = struct.unpack_from("<I", data, 0x3C)
    cuts = [lfanew + 10, lfanew + 30, lfanew + 24 + 200, h.sections[-1][4] + 100, h.symptr + 50,
            len(data) - 10]  # fmt: skip
    for cut in cuts:
        for level in LEVELS:
            with pytest.raises(BinaryError):
                pe.strip(data[:cut], level)
        with pytest.raises(BinaryError):
            pe.inspect(data[:cut])


def test_corrupted_headers_never_leak_other_exceptions(built: dict[str, Fixture]) -> None:
    rng = random.Random(5)
    for name in ("sample.dll", "hello32.exe"):
        data = built[name].path.read_bytes()
        (lfanew,) = struct.unpack_from("<I", data, 0x3C)
        h = headers(data)
        end = lfanew + 24 + 240 + 40 * h.nsections
        for _ in range(400):
            mutated = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(lfanew, end)
                mutated[at] = rng.randrange(256)
            if rng.random() < 0.3:  # also break the symbol table
                at = rng.randrange(h.symptr, len(data))
                mutated[at : at + 4] = rng.randbytes(4)
            for level in LEVELS:
                try:
                    result = pe.strip(bytes(mutated), level)
                except BinaryError:
                    continue
                if isinstance(result, Stripped):
                    assert len(result.materialize(bytes(mutated))) == result.size < len(data)
            with contextlib.suppress(BinaryError):
                pe.inspect(bytes(mutated))


def test_works_on_memoryview_and_mmap(built: dict[str, Fixture]) -> None:
    import mmap

    path = built["sample.dll"].path
    expected, _ = stripped(path, "all")
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        for buf in (m, memoryview(path.read_bytes())):
            result = pe.strip(buf, "all")
            assert isinstance(result, Stripped)
            assert result.materialize(buf) == expected


@pytest.mark.parametrize("error", [OverflowError, KeyError, struct.error, IndexError, ValueError])
def test_every_low_level_parse_failure_becomes_binary_error(
    built: dict[str, Fixture], monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    """Like the ELF and Mach-O rewriters, every failure a parser meets on malformed input (the
    core's MALFORMED set) must come out as BinaryError, never as an internal error.

    Fuzzing the headers and symbol table of the MinGW fixtures found no byte pattern that
    reaches OverflowError or KeyError today, so the PE reader is made to raise each of them
    while it reads the COFF file header of a real MinGW DLL."""
    data = built["sample.dll"].path.read_bytes()
    (lfanew,) = struct.unpack_from("<I", data, 0x3C)
    coff = lfanew + 4
    read = pe._unpack

    def failing(fmt: str, buf: bytes, offset: int) -> tuple[int, ...]:
        if offset == coff:
            raise error("a field too large for the parser")
        return read(fmt, buf, offset)

    monkeypatch.setattr(pe, "_unpack", failing)
    for level in LEVELS:
        with pytest.raises(BinaryError, match="malformed PE file"):
            pe.strip(data, level)
    with pytest.raises(BinaryError, match="malformed PE file"):
        pe.inspect(data)
    with pytest.raises(BinaryError, match="malformed PE file"):
        pe.arch(data)
