"""Record what the real tools say about the prebuilt binaries, in expected.json (run by make.sh).

    python3 record.py DIRECTORY BINARY...

For each binary: its size and hash, what binutils/LLVM read in it (sections, dynamic symbols,
exports, symbols, file type, build-id), and, for each strip level, what the reference strip
tool leaves (its size, sections and symbols): ``llvm-strip-19 --strip-all-gnu`` and
``--strip-debug`` for ELF, ``llvm-strip-19 -x`` and ``-S`` for Mach-O, and MinGW's
``strip`` and ``strip --strip-debug`` for PE. The fast tests compare stripwheel's output
with these, read by their own small parsers: nothing here comes from stripwheel.
Standard library only; no stripwheel import.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

LLVM = "19"
#: the tools whose versions the record names (the first line of ``--version``)
TOOLS = [
    "gcc",
    "clang-19",
    "ld.lld-19",
    "ld64.lld-19",
    "llvm-strip-19",
    "patchelf",
    "readelf",
    "x86_64-w64-mingw32-gcc",
    "i686-w64-mingw32-gcc",
]


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def version(tool: str) -> str:
    """The first line of ``--version`` that names a version."""
    lines = run(tool, "--version").splitlines()
    return next((line.strip() for line in lines if re.search(r"\d+\.\d+", line)), lines[0].strip())


# --- ELF: GNU readelf --------------------------------------------------------------------------


def readelf_sections(path: Path) -> list[str]:
    names = []
    for line in run("readelf", "-W", "-S", str(path)).splitlines():
        match = re.match(r"\s*\[\s*(\d+)\]\s+(\S*)", line)
        if match and int(match.group(1)):
            names.append(match.group(2))
    return names


def readelf_symbols(path: Path, option: str) -> dict[str, list[str]]:
    """Symbol names by table (``.symtab``, ``.dynsym``), in table order; the version readelf
    appends to a dynamic symbol's name is dropped (a ``.symtab`` name may hold a real ``@``)."""
    tables: dict[str, list[str]] = {}
    current = None
    dynamic = False
    for line in run("readelf", "-W", option, str(path)).splitlines():
        title = re.match(r"Symbol table '([^']+)'", line)
        if title:
            current = tables.setdefault(title.group(1), [])
            dynamic = title.group(1) == ".dynsym"
            continue
        fields = line.split()
        if current is not None and len(fields) >= 7 and re.fullmatch(r"\d+:", fields[0]):
            name = fields[7] if len(fields) > 7 else ""
            current.append(name.split("@")[0] if dynamic else name)
    return tables


def readelf_header(path: Path) -> dict[str, str]:
    fields = {}
    for line in run("readelf", "-W", "-h", str(path)).splitlines():
        key, _, value = line.strip().partition(":")
        fields[key] = value.strip()
    return fields


def readelf_build_id(path: Path) -> str | None:
    match = re.search(r"Build ID: ([0-9a-f]+)", run("readelf", "-W", "-n", str(path)))
    return match.group(1) if match else None


def record_elf(path: Path, tmp: Path) -> dict[str, object]:
    header = readelf_header(path)
    symbols = readelf_symbols(path, "--syms")
    info: dict[str, object] = {
        "format": "ELF",
        "class": header["Class"],
        "data": header["Data"],
        "type": header["Type"],
        "machine": header["Machine"],
        "build_id": readelf_build_id(path),
        "sections": readelf_sections(path),
        "dynsym": symbols.get(".dynsym", []),
        "symtab": symbols.get(".symtab", []),
    }
    reference = {}
    for level, flag in (("all", "--strip-all-gnu"), ("debug", "--strip-debug")):
        out = tmp / f"{path.name}.{level}"
        run(f"llvm-strip-{LLVM}", flag, str(path), "-o", str(out))
        reference[level] = {
            "tool": f"llvm-strip-{LLVM} {flag}",
            "size": out.stat().st_size,
            "sections": readelf_sections(out),
            "symtab": readelf_symbols(out, "--syms").get(".symtab", []),
        }
    info["reference"] = reference
    return info


# --- Mach-O: llvm-objdump, llvm-nm ------------------------------------------------------------


def macho_headers(path: Path) -> list[tuple[str, str]]:
    """(cputype, filetype) of each slice, in file-header order."""
    out = run(f"llvm-objdump-{LLVM}", "--macho", "--private-header", "--arch=all", str(path))
    return [(m.group(1), m.group(2)) for m in re.finditer(r"MH_MAGIC\S*\s+(\S+)\s+\S+\s+\S+\s+(\S+)", out)]


def nm_names(path: Path, arch: str, *options: str) -> list[str]:
    out = run(f"llvm-nm-{LLVM}", "--format=just-symbols", f"--arch={arch}", *options, str(path))
    return [line for line in out.splitlines() if line]


def record_macho(path: Path, tmp: Path) -> dict[str, object]:
    headers = macho_headers(path)
    archs = [cputype.lower() for cputype, _ in headers]
    info: dict[str, object] = {
        "format": "Mach-O",
        "archs": archs,
        "filetypes": [filetype for _, filetype in headers],
        "exports": {arch: nm_names(path, arch, "--extern-only", "--defined-only") for arch in archs},
    }
    reference = {}
    for level, flag in (("all", "-x"), ("debug", "-S")):
        out = tmp / f"{path.name}.{level}"
        run(f"llvm-strip-{LLVM}", flag, str(path), "-o", str(out))
        reference[level] = {
            "tool": f"llvm-strip-{LLVM} {flag}",
            "size": out.stat().st_size,
            # every symbol-table entry, in table order (no STABS entry is left to name)
            "symbols": {arch: nm_names(out, arch, "--debug-syms", "--no-sort") for arch in archs},
        }
    info["reference"] = reference
    return info


# --- PE: llvm-readobj, llvm-nm, MinGW strip ----------------------------------------------------


def coff_sections(path: Path) -> list[str]:
    out = run(f"llvm-readobj-{LLVM}", "--sections", str(path))
    return re.findall(r"^\s+Name: (\S+) \(", out, re.M)


def coff_symbols(path: Path) -> list[str]:
    """Primary COFF symbol records, in table order."""
    out = run(f"llvm-nm-{LLVM}", "--format=just-symbols", "--debug-syms", "--no-sort", str(path))
    return [line for line in out.splitlines() if line]


def record_pe(path: Path, tmp: Path) -> dict[str, object]:
    headers = run(f"llvm-readobj-{LLVM}", "--file-headers", str(path))
    machine = re.search(r"Machine: (\S+)", headers)
    magic = re.search(r"Magic: (0x[0-9A-F]+)", headers)
    prefix = "x86_64" if "IMAGE_FILE_MACHINE_AMD64" in headers else "i686"
    exports = run(f"llvm-readobj-{LLVM}", "--coff-exports", str(path))
    info: dict[str, object] = {
        "format": "PE",
        "machine": machine.group(1) if machine else None,
        "magic": magic.group(1) if magic else None,
        "dll": "IMAGE_FILE_DLL " in headers,
        "sections": coff_sections(path),
        "exports": re.findall(r"^\s+Name: (\S+)$", exports, re.M),
    }
    reference = {}
    for level, flags in (("all", []), ("debug", ["--strip-debug"])):
        out = tmp / f"{path.name}.{level}"
        run(f"{prefix}-w64-mingw32-strip", *flags, str(path), "-o", str(out))
        reference[level] = {
            "tool": " ".join([f"{prefix}-w64-mingw32-strip", *flags]),
            "size": out.stat().st_size,
            "sections": coff_sections(out),
            "symbols": coff_symbols(out) if level == "debug" else [],
        }
    info["reference"] = reference
    return info


def main(directory: str, names: list[str]) -> None:
    where = Path(directory)
    files: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        for name in names:
            path = where / name
            data = path.read_bytes()
            if data[:4] == b"\x7fELF":
                info = record_elf(path, tmp)
            elif data[:2] == b"MZ":
                info = record_pe(path, tmp)
            else:
                info = record_macho(path, tmp)
            files[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), **info}
    record = {
        "about": "written by make.sh (record.py): what the real tools say about each binary",
        "tools": {tool: version(tool) for tool in TOOLS},
        "files": files,
    }
    (where / "expected.json").write_text(dump(record) + "\n")


def dump(value: object, indent: str = "") -> str:
    """JSON with one key per line and every list of strings on one line (a short, diffable file)."""
    if isinstance(value, dict) and value:
        inner = indent + " "
        items = [f"{inner}{json.dumps(key)}: {dump(item, inner)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    return json.dumps(value)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
