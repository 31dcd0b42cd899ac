"""Real Mach-O test binaries, built on Linux with clang/lld, plus independent reading helpers.

No SDK is needed: the C sources declare the libc functions they call, and a small text stub
(``libSystem.tbd``) stands in for ``/usr/lib/libSystem.B.dylib``. The helpers here are written
separately from ``stripwheel.binaries`` on purpose, so the tests do not check the library
against itself; signatures are verified by ``_codesign_oracle``.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

CLANG = "clang-19"
DSYMUTIL = "dsymutil-19"
LD = "ld64.lld-19"
LIPO = "llvm-lipo-19"
NM = "llvm-nm-19"
OBJDUMP = "llvm-objdump-19"
STRIP = "llvm-strip-19"

LIBRARY_C = r"""
typedef unsigned long size_t;
int printf(const char *, ...);
void *malloc(size_t);
void free(void *);

static int counter;
static int helper(int x) { return x * 2 + counter; }
int global_value = 42;
int weak_value __attribute__((weak)) = 7;
const char *greet(const char *name) { printf("hi %s\n", name); return name; }
int compute(int a) { void *p = malloc(16); free(p); counter++; return helper(a); }
static void *table[] = { (void *)greet, (void *)compute, &global_value };
void *PyInit_m(void) { return table[counter & 1]; }
"""

EXECUTABLE_C = r"""
int printf(const char *, ...);
static int twice(int x) { return 2 * x; }
int main(void) { printf("%d\n", twice(21)); return 0; }
"""

LIBSYSTEM_TBD = """--- !tapi-tbd
tbd-version: 4
targets: [ x86_64-macos, arm64-macos ]
install-name: '/usr/lib/libSystem.B.dylib'
current-version: 1311
exports:
  - targets: [ x86_64-macos, arm64-macos ]
    symbols: [ _printf, _malloc, _free, dyld_stub_binder ]
...
"""


def tool(name: str) -> str:
    """Path of a required tool; a missing tool fails the test (CI installs them)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is required for the Mach-O tests (Debian: clang-19 lld-19 llvm-19)")
    return path


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    argv = [tool(str(args[0])), *map(str, args[1:])]
    done = subprocess.run(argv, check=False, capture_output=True, text=True)
    if done.returncode:
        raise AssertionError(f"{' '.join(argv)} failed:\n{done.stderr}")
    return done


def build_all(root: Path) -> dict[str, Path]:
    """Build every fixture into ``root``; return them by name."""
    (root / "m.c").write_text(LIBRARY_C)
    (root / "e.c").write_text(EXECUTABLE_C)
    tbd = root / "libSystem.tbd"
    tbd.write_text(LIBSYSTEM_TBD)
    out: dict[str, Path] = {}

    def compile_(target: str, source: str, obj: str, pic: bool = True) -> Path:
        flags = ["-g", "-O0", "-nostdinc"] + (["-fPIC"] if pic else [])
        run(CLANG, "-target", target, *flags, "-c", root / source, "-o", root / obj)
        return root / obj

    def link(name: str, arch: str, version: str, *args: str | Path) -> None:
        platform = "watchos" if arch == "arm64_32" else "macos"
        run(
            LD,
            "-arch",
            arch,
            "-platform_version",
            platform,
            version,
            version,
            *args,
            "-o",
            root / name,
        )
        out[name] = root / name

    arm64 = compile_("arm64-apple-macos11", "m.c", "arm64.o")
    x86 = compile_("x86_64-apple-macos11", "m.c", "x86_64.o")
    arm64_13 = compile_("arm64-apple-macos13", "m.c", "arm64_13.o")
    arm64_32 = compile_("arm64_32-apple-watchos7", "m.c", "arm64_32.o")
    exe = compile_("arm64-apple-macos11", "e.c", "e.o", pic=False)
    out["object"] = arm64

    link("arm64_bundle.so", "arm64", "11.0", "-bundle", arm64, tbd)  # linker-signed
    link(
        "arm64_dylib.dylib",
        "arm64",
        "11.0",
        "-dylib",
        "-undefined",
        "dynamic_lookup",
        "-install_name",
        "@rpath/libm.dylib",
        arm64,
    )
    link("x86_64_bundle.so", "x86_64", "11.0", "-bundle", x86, tbd)  # unsigned
    link("x86_64_signed.so", "x86_64", "11.0", "-bundle", "-adhoc_codesign", x86, tbd)
    link("arm64_chained.so", "arm64", "13.0", "-bundle", "-fixup_chains", arm64_13, tbd)
    link("arm64_executable", "arm64", "11.0", exe, tbd)
    link(
        "arm64_32.dylib",
        "arm64_32",
        "7.0",
        "-dylib",
        "-undefined",
        "dynamic_lookup",
        "-adhoc_codesign",
        arm64_32,
    )
    run(
        LIPO,
        "-create",
        out["x86_64_bundle.so"],
        out["arm64_bundle.so"],
        "-output",
        root / "universal2.so",
    )
    out["universal2.so"] = root / "universal2.so"
    return out


def dsym(binary: Path, dest: Path) -> Path:
    """``dsymutil``'s ``<name>.dSYM`` bundle of ``binary``, made in ``dest``: it links the DWARF
    of the objects the binary's debug map names (still where ``build_all`` compiled them)."""
    bundle = dest / f"{binary.name}.dSYM"
    run(DSYMUTIL, binary, "-o", bundle)
    return bundle


def dsym_dwarf(bundle: Path) -> Path:
    """The Mach-O file of a ``<name>.dSYM`` bundle: ``Contents/Resources/DWARF/<name>``."""
    return bundle / "Contents" / "Resources" / "DWARF" / bundle.name.removesuffix(".dSYM")


# --- independent reading helpers -----------------------------------------------------------


def load_commands(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, cmd, cmdsize) of each load command of a little-endian thin slice."""
    is64 = data[:4] == b"\xcf\xfa\xed\xfe"
    assert is64 or data[:4] == b"\xce\xfa\xed\xfe"
    ncmds = struct.unpack_from("<I", data, 16)[0]
    pos = 32 if is64 else 28
    out = []
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<2I", data, pos)
        out.append((pos, cmd, size))
        pos += size
    return out


def fat_slices(data: bytes) -> list[tuple[int, int, int, int]]:
    """(cputype, offset, size, align) of each slice of a 32-bit fat file."""
    assert data[:4] == b"\xca\xfe\xba\xbe"
    count = struct.unpack_from(">I", data, 4)[0]
    return [
        (ct, off, size, align)
        for ct, _, off, size, align in (struct.unpack_from(">5I", data, 8 + 20 * i) for i in range(count))
    ]


def splice_signature(data: bytes, cms_payload: bytes, flags: int = 0x2) -> bytes:
    """Replace a 64-bit slice's signature by a ``codesign``-style one (CodeDirectory with two
    special slots, empty requirements, CMS wrapper holding ``cms_payload``), keeping every size
    consistent: ``LC_CODE_SIGNATURE``, ``__LINKEDIT`` and the file length."""
    commands = load_commands(data)
    sig_cmd = next(pos for pos, cmd, _ in commands if cmd == 0x1D)
    linkedit = next(pos for pos, cmd, _ in commands if cmd == 0x19 and data[pos + 8 : pos + 18] == b"__LINKEDIT")
    dataoff = struct.unpack_from("<I", data, sig_cmd + 8)[0]
    ident = b"fixture.identifier\0"
    requirements = struct.pack(">3I", 0xFADE0C01, 12, 0)
    cms = struct.pack(">2I", 0xFADE0B01, 8 + len(cms_payload)) + cms_payload
    n_code = -(-dataoff // 4096)
    cd_len = 88 + len(ident) + (2 + n_code) * 32
    size = 12 + 3 * 8 + cd_len + len(requirements) + len(cms)
    size += -size % 8

    head = bytearray(data[:dataoff])
    struct.pack_into("<I", head, sig_cmd + 12, size)
    filesize = dataoff + size - struct.unpack_from("<Q", head, linkedit + 40)[0]
    struct.pack_into("<Q", head, linkedit + 48, filesize)
    struct.pack_into("<Q", head, linkedit + 32, -(-filesize // 0x4000) * 0x4000)
    text = next(pos for pos, cmd, _ in commands if cmd == 0x19 and data[pos + 8 : pos + 14] == b"__TEXT")
    text_size = struct.unpack_from("<Q", head, text + 48)[0]
    code = b"".join(hashlib.sha256(bytes(head[i : min(i + 4096, dataoff)])).digest() for i in range(0, dataoff, 4096))
    # special slots are stored from the highest down: slot 2 (requirements), then slot 1
    special = hashlib.sha256(requirements).digest() + bytes(32)
    cd = (
        struct.pack(
            ">9I4BIIIIQ3Q",
            0xFADE0C02,
            cd_len,
            0x20400,
            flags,
            88 + len(ident) + 64,
            88,
            2,
            n_code,
            dataoff,
            32,
            2,
            0,
            12,
            0,
            0,
            0,
            0,
            0,
            0,
            text_size,
            0,
        )
        + ident
        + special
        + code
    )
    blobs = [(0, cd), (2, requirements), (0x10000, cms)]
    length = 12 + 24 + cd_len + len(requirements) + len(cms)
    sig = bytearray(struct.pack(">3I", 0xFADE0CC0, length, 3))
    offset = 12 + 24
    for slot, raw in blobs:
        sig += struct.pack(">2I", slot, offset)
        offset += len(raw)
    for _, raw in blobs:
        sig += raw
    sig += bytes(size - len(sig))
    return bytes(head) + bytes(sig)
