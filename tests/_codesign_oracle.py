"""An independent check of embedded Mach-O code signatures, for the tests and the bench.

It is written apart from ``stripwheel.binaries.codesign`` and ``stripwheel.binaries.macho`` and
imports neither: an oracle that reused the parser or the signer it checks would agree with
their mistakes. Standard library only, so the bench can import it too.

What "valid" means here is what the kernel checks for an ad hoc signature: every CodeDirectory
(the primary one and any alternates) has the right page hashes for every page below its
``codeLimit``, which must be where the signature starts; special-slot hashes match the blobs
stored in the signature; the exec-segment fields lie in ``__TEXT`` and say "main binary"
exactly for executables; and the signature is 16-aligned and ends both ``__LINKEDIT`` and the
file.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

# <mach-o/loader.h>, <mach-o/fat.h>
_THIN_LITTLE = (b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")  # 32-bit, 64-bit
_THIN_BIG = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf")
_FAT = b"\xca\xfe\xba\xbe"
_FAT_64 = b"\xca\xfe\xba\xbf"
_MH_EXECUTE = 2
_LC_SEGMENT = 0x1
_LC_SEGMENT_64 = 0x19
_LC_CODE_SIGNATURE = 0x1D

# Apple's code-signing blob formats (all big-endian)
_SUPERBLOB = 0xFADE0CC0
_CODE_DIRECTORY = 0xFADE0C02
_SLOT_CODE_DIRECTORY = 0
_SLOT_ALTERNATES = range(0x1000, 0x1005)
_SLOT_CMS = 0x10000
_CS_ADHOC = 0x2
_CS_LINKER_SIGNED = 0x20000
_EXECSEG_MAIN_BINARY = 0x1
_EXECSEG_VERSION = 0x20400  # CodeDirectories from this version on carry exec-segment fields
#: hashType -> (hashlib name, stored hash length); type 3 is SHA-256 cut to 20 bytes
_HASH_TYPES = {1: ("sha1", 20), 2: ("sha256", 32), 3: ("sha256", 20), 4: ("sha384", 48)}


@dataclass(frozen=True)
class Layout:
    """What the load commands of one thin slice say about its signature."""

    filetype: int
    signature: tuple[int, int] | None  # (dataoff, datasize) of LC_CODE_SIGNATURE
    text: tuple[int, int] | None  # (fileoff, filesize) of __TEXT
    linkedit: tuple[int, int] | None


@dataclass(frozen=True)
class CodeDirectory:
    slot: int
    version: int
    flags: int
    hash_offset: int
    n_special: int
    n_code: int
    code_limit: int
    hash_size: int
    hash_type: int
    page_shift: int
    exec_segment: tuple[int, int, int] | None  # base, limit, flags
    raw: bytes

    def stored_hash(self, slot: int) -> bytes:
        """Code slot ``slot`` (>= 0), or special slot ``-slot`` (< 0)."""
        at = self.hash_offset + slot * self.hash_size
        return self.raw[at : at + self.hash_size]


def thin_slices(data: bytes) -> list[bytes]:
    """The thin slices of a fat file, or the file itself."""
    if data[:4] not in (_FAT, _FAT_64):
        return [data]
    wide = data[:4] == _FAT_64
    (count,) = struct.unpack_from(">I", data, 4)
    out = []
    for i in range(count):
        if wide:
            _, _, offset, size, _, _ = struct.unpack_from(">2I2Q2I", data, 8 + 32 * i)
        else:
            _, _, offset, size, _ = struct.unpack_from(">5I", data, 8 + 20 * i)
        out.append(data[offset : offset + size])
    return out


def layout(data: bytes) -> Layout:
    """Read the load commands of a thin slice of either byte order."""
    magic = data[:4]
    if magic not in _THIN_LITTLE + _THIN_BIG:
        raise ValueError("not a thin Mach-O slice")
    e = "<" if magic in _THIN_LITTLE else ">"
    wide = magic in (_THIN_LITTLE[1], _THIN_BIG[1])
    filetype, ncmds, sizeofcmds = struct.unpack_from(e + "3I", data, 12)
    pos = 32 if wide else 28
    end = pos + sizeofcmds
    signature = text = linkedit = None
    for _ in range(ncmds):
        cmd, size = struct.unpack_from(e + "2I", data, pos)
        if size < 8 or pos + size > end:
            raise ValueError(f"load command at {pos:#x} has a bad size")
        if cmd == _LC_CODE_SIGNATURE:
            signature = struct.unpack_from(e + "2I", data, pos + 8)
        elif cmd in (_LC_SEGMENT, _LC_SEGMENT_64):
            name = data[pos + 8 : pos + 24].rstrip(b"\0")
            span = struct.unpack_from(e + ("2Q" if cmd == _LC_SEGMENT_64 else "2I"), data, pos + (40 if wide else 32))
            if name == b"__TEXT":
                text = span
            elif name == b"__LINKEDIT":
                linkedit = span
        pos += size
    return Layout(filetype, signature, text, linkedit)


def blobs(signature: bytes) -> dict[int, bytes]:
    """The blobs of an embedded-signature SuperBlob, by slot."""
    magic, length, count = struct.unpack_from(">3I", signature)
    if magic != _SUPERBLOB:
        raise ValueError(f"signature magic {magic:#x}")
    out = {}
    for i in range(count):
        slot, offset = struct.unpack_from(">2I", signature, 12 + 8 * i)
        (size,) = struct.unpack_from(">I", signature, offset + 4)
        if offset + size > length:
            raise ValueError(f"blob in slot {slot:#x} runs past the signature")
        out[slot] = signature[offset : offset + size]
    return out


def code_directory(slot: int, raw: bytes) -> CodeDirectory:
    magic, _, version, flags, hash_offset, _, n_special, n_code, code_limit = struct.unpack_from(">9I", raw)
    if magic != _CODE_DIRECTORY:
        raise ValueError(f"slot {slot:#x} holds magic {magic:#x}, not a CodeDirectory")
    hash_size, hash_type, _, page_shift = raw[36:40]
    exec_segment = struct.unpack_from(">3Q", raw, 64) if version >= _EXECSEG_VERSION else None
    return CodeDirectory(
        slot,
        version,
        flags,
        hash_offset,
        n_special,
        n_code,
        code_limit,
        hash_size,
        hash_type,
        page_shift,
        exec_segment,
        raw,
    )


def code_directories(data: bytes) -> list[CodeDirectory]:
    """Every CodeDirectory of a signed thin slice, the primary one first."""
    lay = layout(data)
    if lay.signature is None:
        return []
    dataoff, datasize = lay.signature
    found = blobs(data[dataoff : dataoff + datasize])
    slots = [s for s in (_SLOT_CODE_DIRECTORY, *_SLOT_ALTERNATES) if s in found]
    return [code_directory(s, found[s]) for s in slots]


def signature_kind(data: bytes) -> str:
    """``"none"``, ``"linker-signed"``, ``"ad hoc"`` or ``"certificate"`` for a thin slice."""
    lay = layout(data)
    if lay.signature is None:
        return "none"
    dataoff, datasize = lay.signature
    found = blobs(data[dataoff : dataoff + datasize])
    if len(found.get(_SLOT_CMS, b"")) > 8:  # codesign -s - writes an empty 8-byte wrapper
        return "certificate"
    flags = code_directory(_SLOT_CODE_DIRECTORY, found[_SLOT_CODE_DIRECTORY]).flags
    if flags & _CS_LINKER_SIGNED:
        return "linker-signed"
    # without the ad hoc flag and without a CMS signature it is waiting for a certificate
    return "ad hoc" if flags & _CS_ADHOC else "certificate"


def verify_signature(data: bytes) -> list[str]:
    """Problems with the signature of a thin slice, or of each slice of a fat file; empty
    means valid. An unsigned slice has the one problem ``"no code signature"``."""
    if data[:4] in (_FAT, _FAT_64):
        return [f"slice {i}: {p}" for i, piece in enumerate(thin_slices(data)) for p in verify_signature(piece)]
    try:
        return _verify_thin(data)
    except (struct.error, ValueError, IndexError, KeyError) as exc:
        return [f"unreadable: {type(exc).__name__}: {exc}"]


def _verify_thin(data: bytes) -> list[str]:
    lay = layout(data)
    if lay.signature is None:
        return ["no code signature"]
    dataoff, datasize = lay.signature
    problems = []
    if dataoff % 16:
        problems.append(f"signature offset {dataoff:#x} is not 16-aligned")
    if dataoff + datasize != len(data):
        problems.append("signature does not end the file")
    if lay.linkedit is None or sum(lay.linkedit) != dataoff + datasize:
        problems.append("signature does not end __LINKEDIT")
    if dataoff + datasize > len(data):
        return [*problems, "signature extends past the end of the file"]
    found = blobs(data[dataoff : dataoff + datasize])
    directories = code_directories(data)
    if not directories or directories[0].slot != _SLOT_CODE_DIRECTORY:
        problems.append("no primary CodeDirectory")
    for cd in directories:
        name = "CodeDirectory" if cd.slot == _SLOT_CODE_DIRECTORY else f"CodeDirectory {cd.slot:#x}"
        problems += [f"{name}: {p}" for p in _verify_directory(cd, data, dataoff, found, lay)]
    return problems


def _verify_directory(cd: CodeDirectory, data: bytes, dataoff: int, found: dict[int, bytes], lay: Layout) -> list[str]:
    if cd.hash_type not in _HASH_TYPES:
        return [f"unknown hash type {cd.hash_type}"]
    algorithm, size = _HASH_TYPES[cd.hash_type]
    if cd.hash_size != size:
        return [f"hash size {cd.hash_size} does not match hash type {cd.hash_type}"]

    def digest(chunk: bytes) -> bytes:
        return hashlib.new(algorithm, chunk).digest()[:size]

    problems = []
    if cd.code_limit != dataoff:
        problems.append(f"codeLimit {cd.code_limit:#x} is not the signature offset {dataoff:#x}")
    page = 1 << cd.page_shift if cd.page_shift else max(cd.code_limit, 1)  # 0: one page for all
    pages = -(-cd.code_limit // page)
    if cd.n_code != pages:
        problems.append(f"{cd.n_code} code slots for codeLimit {cd.code_limit:#x}")
    bad = [
        i
        for i in range(min(cd.n_code, pages))
        if digest(data[i * page : min((i + 1) * page, cd.code_limit)]) != cd.stored_hash(i)
    ]
    if bad:
        problems.append(f"{len(bad)} of {cd.n_code} page hashes wrong (first: page {bad[0]})")
    for slot, blob in found.items():
        if 0 < slot < _SLOT_ALTERNATES[0]:
            if slot > cd.n_special:
                problems.append(f"blob in slot {slot} not covered by a special slot")
            elif digest(blob) != cd.stored_hash(-slot):
                problems.append(f"special slot {slot} hash wrong")
    if cd.exec_segment is not None and lay.text is not None:
        base, limit, flags = cd.exec_segment
        if base != lay.text[0] or not 0 < limit <= lay.text[1]:
            problems.append("exec segment fields do not lie in __TEXT")
        if bool(flags & _EXECSEG_MAIN_BINARY) != (lay.filetype == _MH_EXECUTE):
            problems.append("exec segment main-binary flag does not match the file type")
    return problems
