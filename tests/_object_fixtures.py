"""Relocatable objects for the ET_REL rewriter tests, compiled at test time, and the oracles that
read them with binutils, elfutils and LLVM (never with stripwheel's own parser)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from _elf_fixtures import run, tool

# -- sources: each program is a library TU, a user TU and what it prints ----------------------------

C_LIB = r"""
#include <stdio.h>
static int counter;
static const char *names[] = {"zero", "one", "two"};
int lib_value = 35;
__thread int tls_total;
static int helper(int x) { return x * 2 + counter; }
/* Identical bodies: only address significance keeps lld --icf=safe from folding them. */
static int same_a(int x) { return x * 7 + 1; }
static int same_b(int x) { return x * 7 + 1; }
int (*lib_table[3])(int) = {helper, same_a, same_b};
int lib_add(int a, int b) { counter++; tls_total += a; return a + b; }
const char *lib_name(int i) { return names[i % 3]; }
int lib_distinct(void) { return lib_table[1] != lib_table[2]; }
"""

C_MAIN = r"""
#include <stdio.h>
extern int lib_value;
extern int (*lib_table[3])(int);
int lib_add(int, int);
const char *lib_name(int);
int lib_distinct(void);
int main(void) {
    int sum = lib_add(lib_value, 7);
    printf("%d %s %d %d %d\n", sum, lib_name(4), lib_table[0](5), lib_table[1](5), lib_distinct());
    return 0;
}
"""
C_OUTPUT = "42 one 11 36 1"

CXX_HEADER = r"""
#include <stdexcept>
#include <vector>
template <typename T> struct Box { T v; T twice() const { return v + v; } };
struct Point { int x, y; };
template <typename T> T total(const std::vector<Box<T>> &xs) {
    T t{};
    for (const auto &b : xs) t += b.twice();
    if (t < 0) throw std::runtime_error("negative");
    return t;
}
int one();
long two();
"""
CXX_ONE = (
    '#include "tmpl.h"\nint one() { std::vector<Box<int>> v{{1}, {2}, {3}}; Point p{1, 2}; return total(v) + p.x; }\n'
)
CXX_TWO = (
    '#include "tmpl.h"\n'
    "long two() { std::vector<Box<long>> v{{4}}; std::vector<Box<int>> w{{5}}; return total(v) + total(w); }\n"
)
CXX_MAIN = '#include <cstdio>\n#include "tmpl.h"\nint main() { std::printf("%d %ld\\n", one(), two()); }\n'
CXX_OUTPUT = "13 18"

# No headers and no libc: cross targets have no sysroot here.
CROSS_LIB = r"""
static int counter;
static const char *names[] = {"a", "b"};
int api_value = 7;
static int helper(int x) { return x * 3 + counter; }
static int same_a(int x) { return x * 7 + 1; }
static int same_b(int x) { return x * 7 + 1; }
int (*api_table[2])(int) = {same_a, same_b};
int api_add(int a, int b) { counter++; return a + b + api_value + helper(a) + names[b & 1][0]; }
long api_count(void) { return counter; }
"""
CROSS_USER = r"""
int api_add(int, int);
long api_count(void);
extern int (*api_table[2])(int);
int user(int x) { return api_add(x, 2) + (int)api_count() + api_table[x & 1](x); }
"""

#: clang target -> what the objects are for: aarch64 and riscv64 little-endian ELF64,
#: big-endian ppc64 (ELFv1), and two ELF32 targets (ARM mapping symbols, i386 REL relocations).
CROSS = ("aarch64-linux-gnu", "riscv64-linux-gnu", "powerpc64-linux-gnu", "armv7-linux-gnueabihf", "i686-linux-gnu")


@dataclass(frozen=True)
class Program:
    """Objects that link into a program printing ``output`` (``link``: the driver)."""

    name: str
    objects: tuple[Path, ...]
    link: tuple[str, ...]
    output: str
    #: GNU strip is the reference (gcc output); else llvm-strip
    gnu: bool


def build_programs(root: Path) -> list[Program]:
    """gcc and clang C at -O0/-O2 with -g/-g3, C++ with templates, COMDAT groups and type units."""
    src = root / "src"
    src.mkdir()
    for name, text in {
        "lib.c": C_LIB,
        "main.c": C_MAIN,
        "tmpl.h": CXX_HEADER,
        "one.cc": CXX_ONE,
        "two.cc": CXX_TWO,
        "main.cc": CXX_MAIN,
    }.items():
        (src / name).write_text(text)
    c_flavours = {
        "gcc-O0-g": (tool("gcc"), "-O0", "-g"),
        "gcc-O2-g3": (tool("gcc"), "-O2", "-g3"),
        "clang-O0-g": (tool("clang"), "-O0", "-g"),
        "clang-O2-g3": (tool("clang"), "-O2", "-g3", "-ffunction-sections"),
    }
    cxx = "-ffunction-sections", "-fdebug-types-section"
    cxx_flavours = {
        "g++-O0-dwarf4": (tool("g++"), "-O0", "-g", "-gdwarf-4", *cxx),
        "g++-O2-g3": (tool("g++"), "-O2", "-g3", *cxx),
        "clang++-O1-g": (tool("clang++"), "-O1", "-g", *cxx),
    }
    programs: list[Program] = []
    for name, (cc, *flags) in c_flavours.items():
        objs = _compile(cc, flags, src, root / name, ("lib.c", "main.c"))
        link = (cc, "-fuse-ld=lld", "-Wl,--icf=safe") if "clang" in name else (cc,)
        programs.append(Program(name, objs, link, C_OUTPUT, gnu=name.startswith("gcc")))
    for name, (cc, *flags) in cxx_flavours.items():
        objs = _compile(cc, flags, src, root / name, ("one.cc", "two.cc", "main.cc"))
        programs.append(Program(name, objs, (cc,), CXX_OUTPUT, gnu=name.startswith("g++")))
    return programs


def _compile(cc: str, flags: list[str], src: Path, out: Path, sources: tuple[str, ...]) -> tuple[Path, ...]:
    out.mkdir()
    objs = []
    for source in sources:
        obj = out / (Path(source).stem + ".o")
        run(cc, *flags, "-c", src / source, "-o", obj)
        objs.append(obj)
    return tuple(objs)


def build_cross(root: Path) -> dict[str, tuple[Path, Path]]:
    """Per clang target: the library object and the user object (-O1 -g, PIC)."""
    clang = tool("clang-19")
    (root / "lib.c").write_text(CROSS_LIB)
    (root / "user.c").write_text(CROSS_USER)
    out: dict[str, tuple[Path, Path]] = {}
    for target in CROSS:
        objs = []
        for source in ("lib.c", "user.c"):
            obj = root / f"{target}-{Path(source).stem}.o"
            run(
                clang, f"--target={target}", "-g", "-O1", "-fPIC", "-ffunction-sections", "-c", root / source, "-o", obj
            )
            objs.append(obj)
        out[target] = (objs[0], objs[1])
    return out


#: COMDAT groups that mix code and debug sections, one signed by a global symbol, one by a local
#: one; ``use`` returns 7 + 42.
MIXED_GROUPS = r"""
.section .text.shared,"axG",@progbits,shared_fn,comdat
.globl shared_fn
.type shared_fn,@function
shared_fn:
    movl $7, %eax
    ret
.section .debug_shared,"G",@progbits,shared_fn,comdat
.quad shared_fn
.section .rodata.local,"aG",@progbits,local_sig,comdat
local_data:
.long 42
.section .debug_local,"G",@progbits,local_sig,comdat
.quad local_data
.text
.globl use
.type use,@function
use:
    subq $8, %rsp
    call shared_fn@PLT
    addl local_data(%rip), %eax
    addq $8, %rsp
    ret
.section .note.GNU-stack,"",@progbits
"""
MIXED_MAIN = '#include <stdio.h>\nint use(void);\nint main(void) { printf("%d\\n", use()); return 0; }\n'


def many_sections_source(plain: int, debug: int) -> str:
    """Assembly with ``plain`` non-allocated sections and ``debug`` debug-named ones; a global
    symbol in the last plain section, referenced from ``.data`` (an ``SHN_XINDEX`` symbol and a
    relocation naming it when ``plain`` is large)."""
    parts = [f'.section .sw.{i},"",@progbits\n.byte 1\n' for i in range(plain)]
    parts.append(".globl sw_last\nsw_last:\n.byte 2\n")
    parts += [f'.section .debug_sw.{i},"",@progbits\n.byte 3\n' for i in range(debug)]
    parts.append(".data\n.quad sw_last\n")
    parts.append('.section .note.GNU-stack,"",@progbits\n')
    return "".join(parts)


# -- oracles --------------------------------------------------------------------------------------------

DEBUGISH = (".debug", ".zdebug", ".rela.debug", ".rel.debug", ".rela.zdebug", ".rel.zdebug", ".stab", ".rel.stab")


def debugish(name: str) -> bool:
    """A section ``strip -g`` removes (or a relocation section of one), judged by name."""
    return name.startswith(DEBUGISH)


def section_names(path: Path) -> list[str]:
    """Section names by index, from ``readelf -SW``."""
    names: list[str] = []
    for line in run(tool("readelf"), "-SW", path).stdout.splitlines():
        m = re.match(r"\s*\[\s*(\d+)\](.*)", line)
        if m:
            fields = m.group(2).split()
            names.append("" if int(m.group(1)) == 0 else fields[0])
    return names


_SYMBOL = re.compile(r"\s*(\d+):\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)(?:\s+\[[^\]]*\])?\s+(\S+)(?:\s+(.*))?$")


@dataclass(frozen=True)
class Symbol:
    name: str
    type: str
    bind: str
    #: the defining section's name, or readelf's UND/ABS/COM
    section: str
    value: str


def symbols(path: Path) -> list[Symbol]:
    """``.symtab`` by index, from ``readelf -sW`` (section numbers turned into names)."""
    names = section_names(path)
    out: list[Symbol] = []
    for line in run(tool("readelf"), "-sW", path).stdout.splitlines():
        m = _SYMBOL.match(line)
        if not m or m.group(1) != str(len(out)):
            continue
        ndx = m.group(7)
        section = names[int(ndx)] if ndx.isdigit() else ndx
        out.append(Symbol(m.group(8) or "", m.group(4), m.group(5), section, m.group(2)))
    return out


def relocations(path: Path) -> list[tuple[str, list[tuple[object, ...]]]]:
    """Every relocation section as (name, entries); an entry is (offset, type, readelf's rest of
    the line: symbol value, name and addend, and the symbol's name, type, binding and section)."""
    syms = symbols(path)
    out: list[tuple[str, list[tuple[object, ...]]]] = []
    for line in run(tool("readelf"), "-rW", path).stdout.splitlines():
        head = re.match(r"Relocation section '([^']*)'", line)
        if head:
            out.append((head.group(1), []))
            continue
        fields = line.split(None, 3)
        if len(fields) < 3 or not out or not re.fullmatch(r"[0-9a-f]+", fields[0]):
            continue
        info = int(fields[1], 16)
        index = info >> 32 if len(fields[1]) == 16 else info >> 8
        sym = syms[index]
        out[-1][1].append((fields[0], fields[2], fields[3] if len(fields) > 3 else "", sym))
    return out


def groups(path: Path) -> list[tuple[bool, str, list[str]]]:
    """Every section group as (COMDAT flag, signature, member names), from ``readelf -gW``."""
    out: list[tuple[bool, str, list[str]]] = []
    for line in run(tool("readelf"), "-gW", path).stdout.splitlines():
        head = re.match(r"(COMDAT )?group section \[\s*\d+\] `[^']*' \[([^\]]*)\]", line)
        if head:
            out.append((bool(head.group(1)), head.group(2), []))
            continue
        member = re.match(r"\s*\[\s*\d+\]\s+(\S+)", line)
        if member and out:
            out[-1][2].append(member.group(1))
    return out


def section_table(path: Path) -> list[tuple[object, ...]]:
    """Every section but the groups and symbol tables (whose ``sh_info`` is a symbol count or
    index) as (name, type, flags, size, entry size, alignment, the linked section's name, and
    ``sh_info``: a section name where it is an index), from llvm-readobj's JSON."""
    import json

    out = run(tool("llvm-readobj-19"), "--elf-output-style=JSON", "-S", path).stdout
    sections = [entry["Section"] for entry in json.loads(out)[0]["Sections"]]
    names = [s["Name"]["Name"] for s in sections]
    rows: list[tuple[object, ...]] = []
    for s in sections[1:]:
        kind = s["Type"]["Name"]
        if kind in ("SHT_GROUP", "SHT_SYMTAB", "SHT_SYMTAB_SHNDX"):
            continue
        flags = s["Flags"]["Value"]
        info = names[s["Info"]] if kind in ("SHT_REL", "SHT_RELA") or flags & 0x40 else s["Info"]
        link = names[s["Link"]] if s["Link"] else None
        size = s["Size"] if kind not in ("SHT_STRTAB", "SHT_LLVM_ADDRSIG") else None  # rewritten
        rows.append((names[s["Index"]], kind, flags, size, s["EntrySize"], s["AddressAlignment"], link, info))
    return rows


def addrsig(path: Path) -> list[str]:
    """The names ``.llvm_addrsig`` lists, from llvm-readobj."""
    text = run(tool("llvm-readobj-19"), "--addrsig", path).stdout
    return re.findall(r"Sym: (\S+) \(\d+\)", text)


def elflint_complaints(path: Path) -> int:
    """How many problems ``eu-elflint --gnu-ld`` reports (it exits non-zero when there are any)."""
    import subprocess

    proc = subprocess.run([tool("eu-elflint"), "--gnu-ld", str(path)], capture_output=True, text=True)
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip() and line != "No errors"]
    return len(lines)


def loaded_image(path: Path) -> bytes:
    """The bytes a loader maps (``llvm-objcopy -O binary``)."""
    out = path.with_name(path.name + ".bin")
    run(tool("llvm-objcopy-19"), "-O", "binary", path, out)
    return out.read_bytes()
