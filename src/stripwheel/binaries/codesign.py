"""Embedded Mach-O code signatures: read them and build ad hoc ones.

A signature is a big-endian SuperBlob (``0xfade0cc0``) at ``LC_CODE_SIGNATURE``'s ``dataoff``;
its CodeDirectory holds one hash per 4 KiB page of the slice below ``codeLimit`` (the signature's
own offset). Any byte change below that offset, the header included, invalidates it, so every
rewritten slice that was signed is signed again here, ad hoc (no certificate).

What an ad hoc re-signature keeps from the old signature:

- the identifier, the flags (``CS_ADHOC``, and ``CS_LINKER_SIGNED`` for a linker signature), the
  exec-segment flags, the platform byte and the padding the old one put after the identifier
  (so re-signing an untouched linker-signed slice reproduces it byte for byte);
- every special-slot blob (requirements, entitlements, DER entitlements, ...) and the empty CMS
  wrapper that ``codesign -s -`` writes: they are copied verbatim and their special-slot hashes
  recomputed, which is exactly what ``codesign -s -`` would produce again. Special slots that name
  files outside the binary (Info.plist, resources) keep their old hashes when those were SHA-256.

What it drops: alternate CodeDirectories (SHA-1 primary plus SHA-256 alternate, written for
deployment targets before macOS 10.11.4). The new signature has one SHA-256 CodeDirectory,
version ``0x20400``, which every macOS that runs arm64 or a Python 3.9+ build accepts.
A slice signed with a certificate (non-empty CMS blob) is never re-signed: doing so would
silently replace a Developer ID with an ad hoc signature.

Verifying signatures is left to the test suite (``tests/_codesign_oracle.py``), written apart
from this module so that it does not agree with its mistakes.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from typing import Callable, NamedTuple, Union

from ._core import BinaryError

EMBEDDED_SIGNATURE = 0xFADE0CC0
CODE_DIRECTORY = 0xFADE0C02
REQUIREMENTS = 0xFADE0C01
BLOB_WRAPPER = 0xFADE0B01

SLOT_CODE_DIRECTORY = 0
SLOT_ALTERNATE_FIRST = 0x1000
SLOT_ALTERNATE_LAST = 0x1004
SLOT_SIGNATURE = 0x10000

FLAG_ADHOC = 0x2
FLAG_LINKER_SIGNED = 0x20000
EXECSEG_MAIN_BINARY = 0x1

HASH_SHA256 = 2

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
CD_VERSION = 0x20400
#: CodeDirectory header size at version 0x20400 (through execSegFlags)
CD_HEADER_SIZE = 88

#: a CMS wrapper this short holds no signature (what ``codesign -s -`` writes)
_EMPTY_CMS_LENGTH = 8

Readable = Union[bytes, bytearray, memoryview]
#: ``read(offset, length)`` returns bytes of the slice being signed
Reader = Callable[[int, int], Readable]


class CodeDirectoryHeader(NamedTuple):
    """The fixed start of a CodeDirectory blob, field by field as :data:`CD_HEADER` reads it."""

    magic: int
    length: int
    version: int
    flags: int
    hash_offset: int
    ident_offset: int
    n_special: int
    n_code: int
    code_limit: int
    hash_size: int
    hash_type: int
    platform: int
    page_shift: int


#: magic through pageSize, big-endian: the header of every CodeDirectory version
CD_HEADER = struct.Struct(">9I4B")
#: the header and spare2: the smallest CodeDirectory there is
CD_MIN_SIZE = CD_HEADER.size + 4


class ExecSegment(NamedTuple):
    """execSegBase, execSegLimit and execSegFlags (CodeDirectory version 0x20400 and later)."""

    base: int
    limit: int
    flags: int


#: where the exec-segment fields are, and how they read
CD_EXEC_SEGMENT_OFFSET = 64
CD_EXEC_SEGMENT = struct.Struct(">3Q")


@dataclass(frozen=True)
class CodeDirectory:
    """The fields of a CodeDirectory blob that re-signing needs."""

    header: CodeDirectoryHeader
    #: None before version 0x20400
    exec_segment: ExecSegment | None
    identifier: bytes
    raw: bytes

    def slot_hash(self, slot: int) -> bytes:
        """Hash stored for code slot ``slot`` (>= 0) or special slot ``-slot`` (< 0)."""
        start = self.header.hash_offset + slot * self.header.hash_size
        return self.raw[start : start + self.header.hash_size]


@dataclass(frozen=True)
class SuperBlob:
    """A parsed embedded signature: ``(slot type, raw blob bytes)`` in index order."""

    length: int
    blobs: tuple[tuple[int, bytes], ...]
    #: bytes between the blob index and the first blob (lld aligns the first blob to 8)
    lead: int

    def get(self, slot: int) -> bytes | None:
        for kind, raw in self.blobs:
            if kind == slot:
                return raw
        return None

    @property
    def code_directory(self) -> CodeDirectory:
        raw = self.get(SLOT_CODE_DIRECTORY)
        if raw is None:
            raise BinaryError("code signature without a CodeDirectory")
        return parse_code_directory(raw)


def parse_superblob(buf: Readable) -> SuperBlob:
    """Parse an embedded signature; raise :class:`BinaryError` if it is malformed."""
    buf = bytes(buf)
    if len(buf) < 12:
        raise BinaryError("code signature truncated")
    magic, length, count = struct.unpack_from(">3I", buf)
    if magic != EMBEDDED_SIGNATURE:
        raise BinaryError(f"code signature has magic {magic:#x}, not an embedded signature")
    if length > len(buf) or 12 + 8 * count > length:
        raise BinaryError("code signature length exceeds its LC_CODE_SIGNATURE size")
    blobs = []
    first = length
    for i in range(count):
        kind, offset = struct.unpack_from(">2I", buf, 12 + 8 * i)
        if offset + 8 > length:
            raise BinaryError("code signature blob outside the signature")
        blob_length = struct.unpack_from(">I", buf, offset + 4)[0]
        if blob_length < 8 or offset + blob_length > length:
            raise BinaryError("code signature blob outside the signature")
        blobs.append((kind, buf[offset : offset + blob_length]))
        first = min(first, offset)
    return SuperBlob(length, tuple(blobs), max(first - 12 - 8 * count, 0) if count else 0)


def parse_code_directory(raw: bytes) -> CodeDirectory:
    if len(raw) < CD_MIN_SIZE:
        raise BinaryError("CodeDirectory truncated")
    header = CodeDirectoryHeader._make(CD_HEADER.unpack_from(raw))
    if header.magic != CODE_DIRECTORY or header.length != len(raw):
        raise BinaryError("malformed CodeDirectory")
    exec_segment = None
    if header.version >= 0x20400:
        if header.length < CD_HEADER_SIZE:
            raise BinaryError("CodeDirectory truncated")
        exec_segment = ExecSegment._make(CD_EXEC_SEGMENT.unpack_from(raw, CD_EXEC_SEGMENT_OFFSET))
    end = raw.find(b"\0", header.ident_offset)
    if header.ident_offset >= header.length or end < 0:
        raise BinaryError("CodeDirectory identifier out of bounds")
    slots_start = header.hash_offset - header.n_special * header.hash_size
    if slots_start < 0 or header.hash_offset + header.n_code * header.hash_size > header.length:
        raise BinaryError("CodeDirectory hash slots out of bounds")
    return CodeDirectory(header, exec_segment, raw[header.ident_offset : end], raw)


def kind(sig: SuperBlob) -> str:
    """``"certificate"``, ``"linker-signed"`` or ``"ad hoc"``."""
    cms = sig.get(SLOT_SIGNATURE)
    if cms is not None and len(cms) > _EMPTY_CMS_LENGTH:
        return "certificate"
    flags = sig.code_directory.header.flags
    if flags & FLAG_LINKER_SIGNED:
        return "linker-signed"
    if flags & FLAG_ADHOC:
        return "ad hoc"
    # Not ad hoc yet without a CMS signature: it needs a certificate to be valid; never
    # replace it with an ad hoc one.
    return "certificate"


def _align8(n: int) -> int:
    # ld64 reserves the SuperBlob length rounded up to 8 (the offset itself is 16-aligned).
    return (n + 7) & ~7


@dataclass(frozen=True)
class _Plan:
    """Sizes and offsets of an ad hoc signature, known before any page is hashed."""

    extra: tuple[tuple[int, bytes], ...]
    n_special: int
    ident_space: int
    n_code: int
    cd_length: int
    lead: int
    superblob_length: int
    size: int


def _plan(old: SuperBlob, code_limit: int) -> _Plan:
    cd = old.code_directory
    extra = tuple(
        sorted(
            (slot, raw)
            for slot, raw in old.blobs
            if slot != SLOT_CODE_DIRECTORY
            and not SLOT_ALTERNATE_FIRST <= slot <= SLOT_ALTERNATE_LAST
            and (slot < SLOT_ALTERNATE_FIRST or slot == SLOT_SIGNATURE)
        )
    )
    header = cd.header
    n_special = max([header.n_special] + [slot for slot, _ in extra if slot < SLOT_ALTERNATE_FIRST])
    # Keep the old room for the identifier: ld64 packs it, lld pads it to 16 bytes.
    old_space = header.hash_offset - header.ident_offset - header.n_special * header.hash_size
    ident_space = max(len(cd.identifier) + 1, old_space)
    n_code = math.ceil(code_limit / PAGE_SIZE)
    cd_length = CD_HEADER_SIZE + ident_space + (n_special + n_code) * 32
    lead = old.lead
    length = 12 + 8 * (1 + len(extra)) + lead + cd_length + sum(len(raw) for _, raw in extra)
    return _Plan(extra, n_special, ident_space, n_code, cd_length, lead, length, _align8(length))


def adhoc_size(old: SuperBlob, code_limit: int) -> int:
    """Bytes the ad hoc re-signature of a slice signed with ``old`` will take."""
    return _plan(old, code_limit).size


def adhoc_signature(
    old: SuperBlob,
    read: Reader,
    code_limit: int,
    exec_seg_base: int,
    exec_seg_limit: int,
    main_binary: bool,
) -> bytes:
    """Build the ad hoc signature (``adhoc_size`` bytes) for pages ``read`` below ``code_limit``.

    ``exec_seg_base``/``exec_seg_limit`` (the ``__TEXT`` file range) are used only when the old
    CodeDirectory predates the exec-segment fields.

    ``read`` must already return the final bytes, load commands included: the first page
    holds the header, which changes when ``__LINKEDIT`` does.
    """
    if kind(old) == "certificate":
        raise BinaryError("refusing to replace a certificate signature with an ad hoc one")
    if code_limit >= 1 << 32:
        raise BinaryError("slice too large for a 32-bit codeLimit")
    cd = old.code_directory
    plan = _plan(old, code_limit)
    # __TEXT is never rewritten, so the old exec-segment fields stay true (Apple's newer linker
    # sets the limit to the end of the code, not of the segment: recomputing would differ).
    if cd.exec_segment is not None and cd.exec_segment.limit:
        exec_seg_base, exec_seg_limit, exec_flags = cd.exec_segment
    else:
        exec_flags = EXECSEG_MAIN_BINARY if main_binary else 0

    special = bytearray(plan.n_special * 32)
    for slot in range(1, plan.n_special + 1):
        blob = old.get(slot)
        if blob is not None:
            digest = hashlib.sha256(blob).digest()
        elif slot <= cd.header.n_special and cd.header.hash_type == HASH_SHA256:
            # A file outside the binary (Info.plist, CodeResources): unchanged by stripping.
            digest = cd.slot_hash(-slot)
        else:
            continue
        special[(plan.n_special - slot) * 32 : (plan.n_special - slot + 1) * 32] = digest
    code = bytearray()
    for page in range(plan.n_code):
        start = page * PAGE_SIZE
        code += hashlib.sha256(read(start, min(PAGE_SIZE, code_limit - start))).digest()

    hash_offset = CD_HEADER_SIZE + plan.ident_space + plan.n_special * 32
    header = struct.pack(
        ">9I4BIIIIQ3Q",
        CODE_DIRECTORY,
        plan.cd_length,
        CD_VERSION,
        cd.header.flags,
        hash_offset,
        CD_HEADER_SIZE,
        plan.n_special,
        plan.n_code,
        code_limit,
        32,
        HASH_SHA256,
        cd.header.platform,
        PAGE_SHIFT,
        0,
        0,
        0,
        0,
        0,
        exec_seg_base,
        exec_seg_limit,
        exec_flags,
    )
    ident = cd.identifier.ljust(plan.ident_space, b"\0")
    directory = header + ident + bytes(special) + bytes(code)
    if len(directory) != plan.cd_length:  # the plan sized the whole signature before hashing
        raise BinaryError(f"CodeDirectory is {len(directory)} bytes, planned {plan.cd_length}")

    blobs = [(SLOT_CODE_DIRECTORY, directory), *plan.extra]
    out = bytearray(struct.pack(">3I", EMBEDDED_SIGNATURE, plan.superblob_length, len(blobs)))
    offset = 12 + 8 * len(blobs) + plan.lead
    for slot, raw in blobs:
        out += struct.pack(">2I", slot, offset)
        offset += len(raw)
    out += bytes(plan.lead)
    for _, raw in blobs:
        out += raw
    out += bytes(plan.size - len(out))
    return bytes(out)
