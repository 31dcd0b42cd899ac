"""The prebuilt binaries of the fast rewriter tests (tests/data/binaries, built by its make.sh),
what the real tools recorded about them (expected.json), and small readers of ELF, Mach-O and
PE written apart from ``stripwheel.binaries``: the tests compare the rewriters' output, read
with these, against the record, so that neither side checks itself.

Standard library only; nothing here imports stripwheel.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIR = Path(__file__).parent / "data" / "binaries"
RECORD: dict[str, Any] = json.loads((DIR / "expected.json").read_text())
FILES: dict[str, dict[str, Any]] = RECORD["files"]


def names(fmt: str) -> list[str]:
    """The prebuilt binaries of one format ("ELF", "Mach-O", "PE"), in record order."""
    return [name for name, info in FILES.items() if info["format"] == fmt]


def load(name: str) -> bytes:
    """The bytes of a prebuilt binary, checked against the record (a stale expected.json fails
    here rather than in a confusing comparison later)."""
    data = (DIR / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == FILES[name]["sha256"], f"{name} does not match expected.json"
    return data


def mutations(data: bytes, regions: list[tuple[int, int]], count: int, seed: int) -> Iterator[bytes]:
    """``count`` seeded copies of ``data`` with one to three bytes changed inside ``regions``
    ((offset, length) pairs): set to a random value, a bit flipped, or a 32-bit word set to an
    extreme."""
    rng = random.Random(seed)
    for _ in range(count):
        out = bytearray(data)
        for _flip in range(rng.randint(1, 3)):
            start, length = rng.choice(regions)
            pos = start + rng.randrange(max(length, 1))
            roll = rng.random()
            if roll < 0.4:
                out[pos] = rng.randrange(256)
            elif roll < 0.8:
                out[pos] ^= 1 << rng.randrange(8)
            else:
                pos -= pos % 4
                out[pos : pos + 4] = rng.choice([b"\xff\xff\xff\xff", b"\0\0\0\0", b"\0\0\0\x80", b"\x80\0\0\0"])
        yield bytes(out[: len(data)])


# --- ELF ------------------------------------------------------------------------------------------

SHT_SYMTAB, SHT_DYNSYM, SHT_NOBITS = 2, 11, 8
SHF_ALLOC = 2
PT_LOAD = 1


@dataclass(frozen=True)
class ElfSection:
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int


@dataclass(frozen=True)
class ElfSegment:
    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int
    align: int


class Elf:
    """The header, section table, program headers and symbol names of an ELF file."""

    def __init__(self, data: bytes) -> None:
        assert data[:4] == b"\x7fELF"
        self.data = data
        self.is64 = data[4] == 2
        self.e = "<" if data[5] == 1 else ">"
        e = self.e
        if self.is64:
            (self.type, self.machine, _, _, self.phoff, self.shoff, _, _, _, phnum, _, shnum, shstrndx) = (
                struct.unpack_from(e + "HHIQQQIHHHHHH", data, 16)
            )
        else:
            (self.type, self.machine, _, _, self.phoff, self.shoff, _, _, _, phnum, _, shnum, shstrndx) = (
                struct.unpack_from(e + "HHIIIIIHHHHHH", data, 16)
            )
        shdr = e + ("IIQQQQIIQQ" if self.is64 else "IIIIIIIIII")
        raw = [struct.unpack_from(shdr, data, self.shoff + i * struct.calcsize(shdr)) for i in range(shnum)]
        if shnum == 0 and self.shoff:  # extended numbering: the count lives in section 0
            first = struct.unpack_from(shdr, data, self.shoff)
            raw = [struct.unpack_from(shdr, data, self.shoff + i * struct.calcsize(shdr)) for i in range(first[5])]
        if shstrndx == 0xFFFF:
            shstrndx = raw[0][6]
        names_at = raw[shstrndx][4]
        self.sections = [
            ElfSection(self._string(names_at, r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[9]) for r in raw
        ]
        phdr = e + ("IIQQQQQQ" if self.is64 else "IIIIIIII")
        self.segments = []
        for i in range(phnum):
            f = struct.unpack_from(phdr, data, self.phoff + i * struct.calcsize(phdr))
            if self.is64:
                p_type, flags, offset, vaddr, _, filesz, memsz, align = f
            else:
                p_type, offset, vaddr, _, filesz, memsz, flags, align = f
            self.segments.append(ElfSegment(p_type, flags, offset, vaddr, filesz, memsz, align))

    def _string(self, table: int, offset: int) -> str:
        end = self.data.index(b"\0", table + offset)
        return self.data[table + offset : end].decode()

    @property
    def section_names(self) -> list[str]:
        """Every section's name but the null section's, in table order (as readelf lists them)."""
        return [s.name for s in self.sections[1:]]

    def section(self, name: str) -> ElfSection | None:
        return next((s for s in self.sections if s.name == name), None)

    def contents(self, sec: ElfSection) -> bytes:
        return b"" if sec.type == SHT_NOBITS else self.data[sec.offset : sec.offset + sec.size]

    def symbols(self, kind: int) -> list[tuple[str, int, int]]:
        """(name, st_info, st_shndx) of every entry of the symbol table of type ``kind``."""
        sec = next((s for s in self.sections if s.type == kind), None)
        if sec is None:
            return []
        strings = self.sections[sec.link].offset
        fmt = self.e + ("IBBHQQ" if self.is64 else "IIIBBH")
        size = struct.calcsize(fmt)
        out = []
        for i in range(sec.size // size):
            f = struct.unpack_from(fmt, self.data, sec.offset + i * size)
            name, info, shndx = (f[0], f[1], f[3]) if self.is64 else (f[0], f[3], f[5])
            out.append((self._string(strings, name), info, shndx))
        return out

    def symbol_names(self, kind: int) -> list[str]:
        return [name for name, _, _ in self.symbols(kind)]


# --- Mach-O ---------------------------------------------------------------------------------------

CPU_NAMES = {0x01000007: "x86_64", 0x0100000C: "arm64"}
LC_SEGMENT_64, LC_SYMTAB, LC_DYSYMTAB, LC_CODE_SIGNATURE = 0x19, 0x2, 0xB, 0x1D
N_STAB, N_TYPE, N_EXT, N_SECT = 0xE0, 0x0E, 0x01, 0x0E


def macho_slices(data: bytes) -> dict[str, bytes]:
    """The thin slices of a (32-bit) fat file by architecture, or the thin file under its own."""
    if data[:4] == b"\xca\xfe\xba\xbe":
        (count,) = struct.unpack_from(">I", data, 4)
        out = {}
        for i in range(count):
            cputype, _, offset, size, _ = struct.unpack_from(">5I", data, 8 + 20 * i)
            out[CPU_NAMES[cputype]] = data[offset : offset + size]
        return out
    (cputype,) = struct.unpack_from("<I", data, 4)
    return {CPU_NAMES[cputype]: data}


class MachO:
    """Load commands and symbol table of a little-endian 64-bit thin slice."""

    def __init__(self, data: bytes) -> None:
        assert data[:4] == b"\xcf\xfa\xed\xfe"
        self.data = data
        self.cputype, _, self.filetype, ncmds, sizeofcmds = struct.unpack_from("<5I", data, 4)
        self.commands_end = 32 + sizeofcmds
        self.commands: list[tuple[int, int, int]] = []  # (offset, cmd, cmdsize)
        pos = 32
        for _ in range(ncmds):
            cmd, size = struct.unpack_from("<2I", data, pos)
            self.commands.append((pos, cmd, size))
            pos += size

    def command(self, cmd: int) -> int | None:
        return next((pos for pos, c, _ in self.commands if c == cmd), None)

    def segments(self) -> dict[str, tuple[int, int, int, int]]:
        """(vmaddr, vmsize, fileoff, filesize) by segment name."""
        out = {}
        for pos, cmd, _ in self.commands:
            if cmd == LC_SEGMENT_64:
                name = self.data[pos + 8 : pos + 24].rstrip(b"\0").decode()
                out[name] = struct.unpack_from("<4Q", self.data, pos + 24)
        return out

    def symbols(self) -> list[tuple[str, int, int]]:
        """(name, n_type, n_desc) of every nlist_64 entry, in table order."""
        pos = self.command(LC_SYMTAB)
        if pos is None:
            return []
        symoff, nsyms, stroff, strsize = struct.unpack_from("<4I", self.data, pos + 8)
        out = []
        for i in range(nsyms):
            strx, n_type, _, n_desc, _ = struct.unpack_from("<IBBHQ", self.data, symoff + 16 * i)
            end = self.data.index(b"\0", stroff + strx)
            out.append((self.data[stroff + strx : end].decode(), n_type, n_desc))
        return out

    def exports(self) -> list[str]:
        """Defined external symbols (what ``nm -g --defined-only`` lists), sorted."""
        return sorted(
            name for name, n_type, _ in self.symbols() if not n_type & N_STAB and n_type & N_EXT and n_type & N_TYPE
        )

    def signature(self) -> tuple[int, int] | None:
        pos = self.command(LC_CODE_SIGNATURE)
        return None if pos is None else struct.unpack_from("<2I", self.data, pos + 8)


# --- PE -------------------------------------------------------------------------------------------


class Pe:
    """Headers, sections (long names resolved), exports and COFF symbol names of a PE image."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        (self.lfanew,) = struct.unpack_from("<I", data, 0x3C)
        assert data[self.lfanew : self.lfanew + 4] == b"PE\0\0"
        coff = self.lfanew + 4
        self.machine, nsec, _, self.symptr, self.nsyms, optsize, self.characteristics = struct.unpack_from(
            "<HHIIIHH", data, coff
        )
        self.opt = coff + 20
        (self.magic,) = struct.unpack_from("<H", data, self.opt)
        self.checksum_at = self.opt + 64
        (self.checksum,) = struct.unpack_from("<I", data, self.checksum_at)
        (self.size_of_image,) = struct.unpack_from("<I", data, self.opt + 56)
        dirs = self.opt + (96 if self.magic == 0x10B else 112)
        self.dirs = [struct.unpack_from("<II", data, dirs + 8 * i) for i in range(16)]
        self.table = self.opt + optsize
        self.strtab = self.symptr + 18 * self.nsyms if self.symptr else None
        #: (name, virtual size, virtual address, raw size, raw pointer, offset of the header)
        self.sections: list[tuple[str, int, int, int, int, int]] = []
        for i in range(nsec):
            at = self.table + 40 * i
            raw = data[at : at + 8].rstrip(b"\0").decode()
            if raw.startswith("/") and self.strtab is not None:
                raw = self._string(self.strtab + int(raw[1:]))
            self.sections.append((raw, *struct.unpack_from("<IIII", data, at + 8), at))

    def _string(self, at: int) -> str:
        return self.data[at : self.data.index(b"\0", at)].decode()

    @property
    def section_names(self) -> list[str]:
        return [s[0] for s in self.sections]

    def rva(self, rva: int) -> int:
        for _, vsize, va, raw_size, ptr, _ in self.sections:
            if va <= rva < va + max(vsize, raw_size):
                return ptr + rva - va
        raise ValueError(f"RVA {rva:#x} in no section")

    def exports(self) -> list[str]:
        rva, size = self.dirs[0]
        if not size:
            return []
        at = self.rva(rva)
        (count,) = struct.unpack_from("<I", self.data, at + 24)  # NumberOfNames; AddressOfNames at +32
        table = self.rva(struct.unpack_from("<I", self.data, at + 32)[0])
        return [self._string(self.rva(struct.unpack_from("<I", self.data, table + 4 * i)[0])) for i in range(count)]

    def symbols(self) -> list[str]:
        """Names of the primary COFF symbol records, in table order."""
        out = []
        i = 0
        while i < self.nsyms:
            at = self.symptr + 18 * i
            raw = self.data[at : at + 8]
            if raw[:4] == b"\0\0\0\0":
                assert self.strtab is not None
                out.append(self._string(self.strtab + struct.unpack_from("<I", raw, 4)[0]))
            else:
                out.append(raw.rstrip(b"\0").decode())
            i += 1 + self.data[at + 17]
        return out

    def naive_checksum(self) -> int:
        """The image checksum the obvious way: 16-bit words with end-around carry, plus the size."""
        data = self.data + b"\0" * (len(self.data) % 2)
        total = 0
        for i in range(0, len(data), 2):
            if self.checksum_at <= i < self.checksum_at + 4:
                continue
            total += data[i] | data[i + 1] << 8
            total = (total & 0xFFFF) + (total >> 16)
        return ((total & 0xFFFF) + (total >> 16) + len(self.data)) & 0xFFFFFFFF
