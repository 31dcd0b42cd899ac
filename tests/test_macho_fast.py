"""The Mach-O rewriter (macho.py) and its ad hoc signer (codesign.py) on the prebuilt binaries of
tests/data/binaries (make.sh): an arm64 bundle linker-signed by lld, an unsigned x86_64 bundle with
imports, a universal2 file of both kinds of slice, a linker-signed executable. Each is stripped at
both levels and read back with the independent reader of ``_prebuilt``, against what
``llvm-strip -x``/``-S`` left and ``llvm-nm`` read when they were built (expected.json); every
signature is checked by ``_codesign_oracle``; then signatures of other shapes spliced in, layouts
the rewriter must refuse, and hundreds of malformed mutations. No compiler, no external tool."""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import struct
import zlib

import pytest

from _codesign_oracle import code_directories, signature_kind, verify_signature
from _codesign_oracle import code_directory as oracle_directory
from _macho_fixtures import splice_signature
from _prebuilt import (
    DIR,
    FILES,
    LC_CODE_SIGNATURE,
    LC_DYSYMTAB,
    LC_SEGMENT_64,
    LC_SYMTAB,
    MachO,
    load,
    macho_slices,
    mutations,
    names,
)
from stripwheel import binaries
from stripwheel.binaries import (
    DEBUG_FILE_KIND,
    DEBUG_FILE_REASON,
    BinaryError,
    Copy,
    Level,
    Stripped,
    Unchanged,
    codesign,
    macho,
)

LEVELS: tuple[Level, ...] = ("all", "debug")
MACHO = names("Mach-O")
#: stripwheel's output sizes (a change is a change of layout: compare with the reference sizes
#: in expected.json first)
SIZES = {
    "macho-arm64.so": {"all": 16816, "debug": 16848},
    "macho-x86_64.so": {"all": 16616, "debug": 16672},
    "macho-universal2.so": {"all": 33200, "debug": 33232},
    "macho-x86_64-exe": {"all": 8592, "debug": 8592},
}
X86, ARM, EXE = "macho-x86_64.so", "macho-arm64.so", "macho-x86_64-exe"
KINDS = {"BUNDLE": "bundle", "EXECUTE": "executable"}
#: cputype and slice alignment (a page) of each architecture, in the universal2 file's order
FAT_ARCHS = [(0x01000007, 12), (0x0100000C, 14)]
LC_FUNCTION_STARTS, LC_SOURCE_VERSION, LC_BUILD_VERSION, LC_SYMSEG, LC_UUID = 0x26, 0x2A, 0x32, 0x3, 0x1B


def stripped(data: bytes, level: Level) -> bytes:
    result = macho.strip(data, level)
    assert isinstance(result, Stripped), result
    out = result.materialize(data)
    assert len(out) == result.size
    return out


def fat(slices: list[bytes], wide: bool = False, align: int = 14) -> bytes:
    """A fat file of thin little-endian slices, each at a multiple of ``2**align``."""
    entry = 32 if wide else 20
    header = bytearray(struct.pack(">4sI", b"\xca\xfe\xba\xbf" if wide else b"\xca\xfe\xba\xbe", len(slices)))
    body = bytearray()
    offset = 8 + entry * len(slices)
    for piece in slices:
        cputype, subtype = struct.unpack_from("<2I", piece, 4)
        start = -(-offset // (1 << align)) * (1 << align)
        body += bytes(start - offset) + piece
        if wide:
            header += struct.pack(">2I2Q2I", cputype, subtype, start, len(piece), align, 0)
        else:
            header += struct.pack(">5I", cputype, subtype, start, len(piece), align)
        offset = start + len(piece)
    return bytes(header + body)


# --- stripping, against the record ----------------------------------------------------------------


def test_the_record_covers_every_shape() -> None:
    assert set(SIZES) == set(MACHO)
    kinds = {signature_kind(s) for n in MACHO for s in macho_slices(load(n)).values()}
    assert kinds == {"none", "linker-signed"}
    assert {t for n in MACHO for t in FILES[n]["filetypes"]} == set(KINDS)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", MACHO)
def test_strip_matches_the_reference(name: str, level: Level) -> None:
    """llvm-strip's symbols, the exports kept, every signature valid again, the image before
    __LINKEDIT byte for byte, and within a few bytes of llvm-strip's size."""
    data, record = load(name), FILES[name]
    reference = record["reference"][level]
    out = stripped(data, level)
    assert len(out) == SIZES[name][level]
    assert abs(len(out) - reference["size"]) <= 64  # llvm-strip names itself in the signature
    before, after = macho_slices(data), macho_slices(out)
    assert list(after) == record["archs"]
    for arch, piece in after.items():
        old, new = MachO(before[arch]), MachO(piece)
        assert [name for name, _, _ in new.symbols()] == reference["symbols"][arch]
        assert new.exports() == sorted(record["exports"][arch])
        assert [c for _, c, _ in new.commands] == [c for _, c, _ in old.commands]
        segments, linkedit = new.segments(), new.segments()["__LINKEDIT"]
        assert {k: v for k, v in segments.items() if k != "__LINKEDIT"} == {
            k: v for k, v in old.segments().items() if k != "__LINKEDIT"
        }
        assert linkedit[2] + linkedit[3] == len(piece) and linkedit[1] >= linkedit[3]
        assert piece[new.commands_end : linkedit[2]] == before[arch][old.commands_end : linkedit[2]]
        kind = signature_kind(before[arch])
        assert signature_kind(piece) == kind
        if kind == "none":
            assert verify_signature(piece) == ["no code signature"]
        else:
            assert verify_signature(piece) == []
            assert [(cd.hash_type, cd.page_shift) for cd in code_directories(piece)] == [(2, 12)]


@pytest.mark.parametrize("name", MACHO)
def test_second_strip_is_clean_and_the_output_deterministic(name: str) -> None:
    data = load(name)
    for level in LEVELS:
        out = stripped(data, level)
        again = macho.strip(out, level)
        assert isinstance(again, Unchanged) and again.clean, again
        assert macho.strip(data, level) == macho.strip(data, level)
        assert binaries.strip("Mach-O", data, level) == macho.strip(data, level)
    assert macho.inspect(stripped(data, "all")).strippable == {"all": 0, "debug": 0}


def test_what_goes() -> None:
    result = macho.strip(load("macho-universal2.so"), "all")
    assert isinstance(result, Stripped)
    assert result.removed == ("2 local symbols", "16 debug-map entries")
    result = macho.strip(load("macho-x86_64-exe"), "debug")
    assert isinstance(result, Stripped) and result.removed == ("5 debug-map entries",)
    assert any(isinstance(p, Copy) and p.length > 4000 for p in result.pieces)  # __TEXT is copied


@pytest.mark.parametrize("name", MACHO)
def test_inspect(name: str) -> None:
    data, record = load(name), FILES[name]
    info = macho.inspect(data)
    slices = macho_slices(data)
    kinds = [KINDS[t] for t in record["filetypes"]]
    signatures = [signature_kind(s) for s in slices.values()]
    assert (info.format, info.size, info.note) == ("Mach-O", len(data), None)
    assert info.strippable == {level: len(data) - SIZES[name][level] for level in LEVELS}
    if len(slices) == 1:
        assert (info.arch, info.kind, info.signature, info.slices) == (record["archs"][0], kinds[0], signatures[0], ())
    else:
        assert info.arch == f"universal2 ({', '.join(record['archs'])})"
        assert [(s.arch, s.kind, s.signature) for s in info.slices] == list(zip(record["archs"], kinds, signatures))
        assert info.signature == ", ".join(signatures) and info.kind == "bundle"
        assert all(s.strippable["all"] > 0 for s in info.slices)
    assert binaries.detect(data[: binaries.HEAD]) == "Mach-O"
    assert binaries.inspect("Mach-O", data) == info
    assert binaries.arch("Mach-O", data) == macho.arch(data) == info.arch
    assert not binaries.is_debug_file("Mach-O", data)


def test_fat_slices_are_stripped_as_the_thin_files_are() -> None:
    universal, arm64 = load("macho-universal2.so"), load("macho-arm64.so")
    assert macho_slices(universal)["arm64"] == arm64
    for level in LEVELS:
        out = stripped(universal, level)
        assert macho_slices(out)["arm64"] == stripped(arm64, level)
        count = struct.unpack_from(">I", out, 4)[0]
        entries = [struct.unpack_from(">5I", out, 8 + 20 * i) for i in range(count)]
        assert [(e[0], e[4]) for e in entries] == FAT_ARCHS
        assert all(offset % (1 << align) == 0 for _, _, offset, _, align in entries)
        first, second = sorted(entries, key=lambda e: e[2])
        assert out[first[2] + first[3] : second[2]] == bytes(second[2] - first[2] - first[3])


def test_buffers_of_every_kind() -> None:
    path = DIR / "macho-universal2.so"
    data = load(path.name)
    expected = stripped(data, "all")
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        for buf in (bytearray(data), memoryview(data), mapped):
            result = macho.strip(buf, "all")
            assert isinstance(result, Stripped) and result.materialize(buf) == expected
            assert macho.inspect(buf) == macho.inspect(data)


def test_resign_without_stripping() -> None:
    """An untouched linker-signed file re-signs to itself; an unsigned one stays as it is."""
    for name in MACHO:
        data = load(name)
        assert macho.resign(data) == data
    spliced = splice_signature(load("macho-arm64.so"), b"")
    resigned = macho.resign(spliced)
    assert verify_signature(resigned) == [] and signature_kind(resigned) == "ad hoc"


# --- signatures of other shapes ---------------------------------------------------------------------


def _directory(
    version: int,
    flags: int,
    ident: bytes,
    specials: list[bytes],
    code: list[bytes],
    limit: int,
    text: int,
    main: bool = False,
) -> bytes:
    """A CodeDirectory of ``version`` with the header fields that version has."""
    size = len(code[0]) if code else 32
    fields = 88 if version >= 0x20400 else 64 if version >= 0x20300 else 52 if version >= 0x20200 else 48
    hash_offset = fields + len(ident) + len(specials) * size
    length = hash_offset + len(code) * size
    hash_type = 2 if size == 32 else 1
    head = struct.pack(">9I4BI", 0xFADE0C02, length, version, flags, hash_offset, fields, len(specials), len(code),
                       limit, size, hash_type, 0, 12, 0)  # fmt: skip
    head += bytes(fields - len(head))
    if version >= 0x20400:
        head = head[:64] + struct.pack(">3Q", 0, text, 1 if main else 0)
    return head + ident + b"".join(reversed(specials)) + b"".join(code)


def resigned(
    data: bytes,
    version: int = 0x20400,
    flags: int = codesign.FLAG_ADHOC,
    blobs: tuple[tuple[int, bytes], ...] = (),
    outside: dict[int, bytes] | None = None,
    sha1_primary: bool = False,
    alternate: bool = False,
) -> bytes:
    """The signed 64-bit thin slice ``data`` with another valid signature: a CodeDirectory of
    ``version``, special-slot ``blobs``, hashes of files ``outside`` the binary (slot -> hash),
    a SHA-1 primary directory or a SHA-1 alternate one, all sizes kept consistent."""
    image = MachO(data)
    at = image.command(LC_CODE_SIGNATURE)
    assert at is not None
    dataoff = struct.unpack_from("<I", data, at + 8)[0]
    text, main = image.segments()["__TEXT"][3], image.filetype == 2
    ident = b"fast.identifier\0"
    slots = {slot: hashlib.sha256(raw).digest() for slot, raw in blobs}
    slots.update(outside or {})
    n_special = max(slots, default=0)

    def directory(algorithm: str, head: bytes) -> bytes:
        def digest(raw: bytes) -> bytes:
            return hashlib.new(algorithm, raw).digest()

        width = len(digest(b""))
        specials = [
            digest(dict(blobs)[s]) if s in dict(blobs) else (outside or {}).get(s, bytes(width))[:width]
            for s in range(1, n_special + 1)
        ]
        code = [digest(head[i : min(i + 4096, dataoff)]) for i in range(0, dataoff, 4096)]
        return _directory(version, flags, ident, specials, code, dataoff, text, main)

    sizes = 0
    for _round in range(2):  # the header holds the signature size, which the page hashes cover
        head = bytearray(data[:dataoff])
        struct.pack_into("<I", head, at + 12, sizes)
        linkedit = next(
            pos for pos, cmd, _ in image.commands if cmd == LC_SEGMENT_64 and data[pos + 8 : pos + 18] == b"__LINKEDIT"
        )
        fileoff = struct.unpack_from("<Q", head, linkedit + 40)[0]
        struct.pack_into("<Q", head, linkedit + 48, dataoff + sizes - fileoff)
        struct.pack_into("<Q", head, linkedit + 32, -(-(dataoff + sizes - fileoff) // 0x4000) * 0x4000)
        primary = directory("sha1" if sha1_primary else "sha256", bytes(head))
        entries = [(0, primary), *blobs]
        if alternate:
            entries.append((0x1000, directory("sha1", bytes(head))))
        length = 12 + 8 * len(entries) + sum(len(raw) for _, raw in entries)
        sizes = length + -length % 16
    sig = bytearray(struct.pack(">3I", 0xFADE0CC0, length, len(entries)))
    offset = 12 + 8 * len(entries)
    for slot, raw in entries:
        sig += struct.pack(">2I", slot, offset)
        offset += len(raw)
    for _, raw in entries:
        sig += raw
    return bytes(head) + bytes(sig) + bytes(sizes - len(sig))


def signature_of(data: bytes) -> codesign.SuperBlob:
    """The parsed signature of a signed thin slice."""
    where = MachO(data).signature()
    assert where is not None
    return codesign.parse_superblob(data[where[0] : where[0] + where[1]])


REQUIREMENTS = struct.pack(">3I", 0xFADE0C01, 12, 0)
ENTITLEMENTS = struct.pack(">2I", 0xFADE7171, 20) + b"<plist/>\0\0\0\0"
EMPTY_CMS = struct.pack(">2I", 0xFADE0B01, 8)


@pytest.mark.parametrize(
    "shape",
    [
        dict(),
        dict(version=0x20100),  # before the exec-segment fields: they are computed
        dict(version=0x20300, blobs=((2, REQUIREMENTS), (5, ENTITLEMENTS), (0x10000, EMPTY_CMS))),
        dict(outside={1: b"\x11" * 32, 3: b"\x33" * 32}, blobs=((2, REQUIREMENTS),)),
        dict(alternate=True, blobs=((2, REQUIREMENTS),)),
        dict(sha1_primary=True, alternate=False, outside={3: b"\x33" * 32}),
        dict(flags=codesign.FLAG_ADHOC | codesign.FLAG_LINKER_SIGNED),
    ],
    ids=["plain", "v20100", "blobs", "outside", "alternate", "sha1", "linker"],
)
@pytest.mark.parametrize("name", ["macho-arm64.so", "macho-x86_64-exe"])
def test_ad_hoc_signatures_of_every_shape_are_rebuilt(name: str, shape: dict[str, object]) -> None:
    data = resigned(load(name), **shape)  # type: ignore[arg-type]
    assert verify_signature(data) == []
    expected_kind = "linker-signed" if "flags" in shape else "ad hoc"
    assert macho.inspect(data).signature == signature_kind(data) == expected_kind
    for level in LEVELS:
        out = stripped(data, level)
        assert verify_signature(out) == [], shape
        assert signature_kind(out) == expected_kind
        directories = code_directories(out)
        assert [(cd.slot, cd.hash_type, cd.version) for cd in directories] == [(0, 2, 0x20400)]  # no alternate
        new, old = signature_of(out), signature_of(data)
        assert [slot for slot, _ in new.blobs] == [0] + sorted(
            slot for slot, _ in old.blobs if slot and not 0x1000 <= slot <= 0x1004
        )
        assert new.code_directory.identifier == b"fast.identifier"
        for slot, digest in dict(shape.get("outside", {})).items():  # type: ignore[call-overload]
            kept = new.code_directory.slot_hash(-slot)
            assert kept == (bytes(32) if shape.get("sha1_primary") else digest)
        exec_flags = directories[0].exec_segment
        assert exec_flags is not None and exec_flags[2] == (1 if name.endswith("exe") else 0)


def test_certificate_signatures_are_never_replaced() -> None:
    data = load("macho-arm64.so")
    for signed in (splice_signature(data, b"\x30\x82" + bytes(300)), splice_signature(data, b"", flags=0)):
        result = macho.strip(signed, "all")
        assert isinstance(result, Unchanged) and not result.clean and "certificate" in result.reason
        info = macho.inspect(signed)
        assert info.signature == signature_kind(signed) == "certificate"
        assert info.note is not None and info.strippable == {"all": 0, "debug": 0}
        assert macho.resign(signed) == signed


def test_fat_file_keeps_a_certificate_slice_and_strips_the_other() -> None:
    certified = splice_signature(load(EXE), b"\x30\x82" + bytes(300))
    arm64 = load("macho-arm64.so")
    data = fat([certified, arm64])
    result = macho.strip(data, "all")
    assert isinstance(result, Stripped)
    assert any("x86_64 slice kept" in r and "certificate" in r for r in result.removed)
    out = macho_slices(result.materialize(data))
    assert out["x86_64"] == certified and out["arm64"] == stripped(arm64, "all")
    assert verify_signature(out["arm64"]) == []
    info = macho.inspect(data)
    assert info.note is not None and info.note.startswith("x86_64:") and info.strippable["all"] > 0
    both = fat([certified, splice_signature(arm64, b"\x30\x82" + bytes(300))])
    refused = macho.strip(both, "debug")
    assert isinstance(refused, Unchanged) and "x86_64: signed with a certificate" in refused.reason


# --- codesign helpers, table by table ---------------------------------------------------------------


def _superblob(entries: list[tuple[int, bytes]], length: int | None = None) -> bytes:
    body = bytearray()
    offset = 12 + 8 * len(entries)
    index = bytearray()
    for slot, raw in entries:
        index += struct.pack(">2I", slot, offset)
        offset += len(raw)
        body += raw
    total = 12 + len(index) + len(body)
    return struct.pack(">3I", 0xFADE0CC0, total if length is None else length, len(entries)) + index + body


CD = _directory(0x20400, codesign.FLAG_ADHOC, b"id\0", [bytes(32)], [bytes(32)], 4096, 4096)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\xfa\xde\x0c\xc0", "truncated"),
        (struct.pack(">3I", 0xFADE0C02, 12, 0), "not an embedded signature"),
        (struct.pack(">3I", 0xFADE0CC0, 100, 0), "exceeds"),
        (struct.pack(">3I", 0xFADE0CC0, 12, 5), "exceeds"),
        (struct.pack(">5I", 0xFADE0CC0, 20, 1, 0, 16), "outside the signature"),
        (struct.pack(">7I", 0xFADE0CC0, 28, 1, 0, 20, 0, 4), "outside the signature"),
        (struct.pack(">7I", 0xFADE0CC0, 28, 1, 0, 20, 0, 99), "outside the signature"),
    ],
)
def test_parse_superblob_refuses(blob: bytes, message: str) -> None:
    with pytest.raises(BinaryError, match=message):
        codesign.parse_superblob(blob)


def test_parse_superblob() -> None:
    parsed = codesign.parse_superblob(_superblob([(0, CD), (2, REQUIREMENTS)]))
    assert [slot for slot, _ in parsed.blobs] == [0, 2] and parsed.lead == 0
    assert parsed.get(2) == REQUIREMENTS and parsed.get(7) is None
    assert parsed.code_directory.identifier == b"id" and parsed.code_directory.raw == CD
    padded = codesign.parse_superblob(
        struct.pack(">5I", 0xFADE0CC0, 32, 1, 2, 24) + bytes(4) + struct.pack(">2I", 1, 8)
    )
    assert padded.lead == 4
    assert codesign.parse_superblob(struct.pack(">3I", 0xFADE0CC0, 12, 0)).blobs == ()
    with pytest.raises(BinaryError, match="without a CodeDirectory"):
        _ = codesign.parse_superblob(_superblob([(2, REQUIREMENTS)])).code_directory


def _cd_with(**changes: int) -> bytes:
    fields = ["magic", "length", "version", "flags", "hash_offset", "ident_offset", "n_special", "n_code", "limit"]
    values = list(struct.unpack_from(">9I", CD))
    for key, value in changes.items():
        values[fields.index(key)] = value
    return struct.pack(">9I", *values) + CD[36:]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (CD[:40], "truncated"),
        (_cd_with(magic=0xFADE0C01), "malformed CodeDirectory"),
        (_cd_with(length=len(CD) + 1), "malformed CodeDirectory"),
        (_cd_with()[:60] + b"", "truncated|malformed"),
        (_cd_with(ident_offset=len(CD)), "identifier out of bounds"),
        (_cd_with(n_special=40), "hash slots out of bounds"),
        (_cd_with(n_code=40), "hash slots out of bounds"),
    ],
)
def test_parse_code_directory_refuses(raw: bytes, message: str) -> None:
    with pytest.raises(BinaryError, match=message):
        codesign.parse_code_directory(raw)


def test_parse_code_directory_of_a_short_version() -> None:
    short = _directory(0x20400, 0, b"id\0", [], [bytes(32)], 10, 10)
    with pytest.raises(BinaryError, match="truncated"):  # claims the exec-segment fields, lacks them
        codesign.parse_code_directory(struct.pack(">I", 0xFADE0C02) + struct.pack(">I", 60) + short[8:60])
    raw = _directory(0x20100, 0, b"id\0", [], [bytes(32)], 10, 10)
    old = codesign.parse_code_directory(raw)
    assert (old.identifier, old.raw, old.slot_hash(0)) == (b"id", raw, bytes(32))


@pytest.mark.parametrize(
    ("flags", "cms", "kind"),
    [
        (codesign.FLAG_ADHOC, None, "ad hoc"),
        (codesign.FLAG_ADHOC, EMPTY_CMS, "ad hoc"),
        (codesign.FLAG_ADHOC | codesign.FLAG_LINKER_SIGNED, None, "linker-signed"),
        (0, None, "certificate"),
        (codesign.FLAG_ADHOC, struct.pack(">2I", 0xFADE0B01, 12) + b"CMS!", "certificate"),
    ],
)
def test_signature_kind(flags: int, cms: bytes | None, kind: str) -> None:
    entries = [(0, _directory(0x20400, flags, b"id\0", [], [bytes(32)], 10, 10))]
    if cms is not None:
        entries.append((0x10000, cms))
    assert codesign.kind(codesign.parse_superblob(_superblob(entries))) == kind


def test_adhoc_signature_limits() -> None:
    old = codesign.parse_superblob(_superblob([(0, CD)]))
    page = bytes(4096)
    signature = codesign.adhoc_signature(old, lambda at, n: page[:n], 5000, 0, 4096, False)
    assert len(signature) == codesign.adhoc_size(old, 5000) and len(signature) % 8 == 0
    directory = codesign.parse_superblob(signature).code_directory
    assert directory.identifier == b"id"
    assert directory.slot_hash(1) == hashlib.sha256(bytes(5000 - 4096)).digest()
    seen = oracle_directory(0, directory.raw)  # read apart from the module under test
    assert (seen.n_code, seen.code_limit, seen.exec_segment) == (2, 5000, (0, 4096, 0))
    with pytest.raises(BinaryError, match="32-bit codeLimit"):
        codesign.adhoc_signature(old, lambda at, n: b"", 1 << 32, 0, 0, False)
    certified = codesign.parse_superblob(
        _superblob([(0, CD), (0x10000, struct.pack(">2I", 0xFADE0B01, 16) + bytes(8))])
    )
    with pytest.raises(BinaryError, match="certificate"):
        codesign.adhoc_signature(certified, lambda at, n: b"", 10, 0, 10, False)


# --- layouts the rewriter leaves alone, and malformed files -----------------------------------------


def patched(data: bytes, at: int, fmt: str, *values: int | bytes) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, at, *values)
    return bytes(out)


def command_at(data: bytes, cmd: int) -> int:
    pos = MachO(data).command(cmd)
    assert pos is not None
    return pos


def segment_at(data: bytes, name: bytes) -> int:
    return next(
        pos
        for pos, cmd, _ in MachO(data).commands
        if cmd == LC_SEGMENT_64 and data[pos + 8 : pos + 24].rstrip(b"\0") == name
    )


def refusal(data: bytes) -> Unchanged:
    result = macho.strip(data, "all")
    assert isinstance(result, Unchanged), result
    return result


def symseg(data: bytes, offset: int) -> bytes:
    """``data`` with its LC_UUID turned into an LC_SYMSEG naming 8 bytes at ``offset``."""
    return patched(data, command_at(data, LC_UUID), "<4I", LC_SYMSEG, 24, offset, 8)


@pytest.mark.parametrize(
    ("name", "mutate", "reason", "clean"),
    [
        (X86, lambda d: d + b"payload", "data after __LINKEDIT", False),
        (X86, lambda d: patched(d, 12, "<I", 1), "object file (MH_OBJECT)", False),
        (X86, lambda d: patched(d, command_at(d, LC_BUILD_VERSION), "<I", 0x7E), "unknown load command 0x7e", False),
        (X86, lambda d: patched(d, segment_at(d, b"__LINKEDIT") + 8, "<8s", b"__OTHER"), "no __LINKEDIT", True),
        (X86, lambda d: patched(d, command_at(d, LC_SYMTAB), "<I", LC_SOURCE_VERSION), "no symbol table", True),
        (X86, lambda d: patched(d, command_at(d, LC_DYSYMTAB) + 8 + 4 * 7, "<I", 1), "table of contents", False),
        (X86, lambda d: patched(d, segment_at(d, b"__TEXT") + 72 + 60, "<I", 2), "relocation entries", False),
        (
            X86,
            lambda d: patched(d, command_at(d, LC_FUNCTION_STARTS) + 8, "<I", 16),
            "function starts lies outside",
            False,
        ),
        (
            X86,
            lambda d: patched(
                d,
                command_at(d, LC_FUNCTION_STARTS) + 8,
                "<I",
                struct.unpack_from("<I", d, command_at(d, LC_SYMTAB) + 8)[0],
            ),
            "overlaps",
            False,
        ),
        (X86, lambda d: symseg(d, 16384), "symbol segment lies in __LINKEDIT", False),
        (
            X86,
            lambda d: patched(d, segment_at(d, b"__LINKEDIT") + 40, "<2Q", 100, len(d) - 100),
            "overlaps the load commands",
            False,
        ),
        (X86, lambda d: patched(d, segment_at(d, b"__TEXT") + 48, "<Q", 16500), "lies after __LINKEDIT", False),
    ],
    ids=[
        "tail",
        "object",
        "unknown",
        "no-linkedit",
        "no-symtab",
        "toc",
        "relocs",
        "outside",
        "overlap",
        "symseg",
        "commands",
        "after",
    ],  # fmt: skip
)
def test_refused_layouts(name: str, mutate: object, reason: str, clean: bool) -> None:
    data = mutate(load(name))  # type: ignore[operator]
    result = refusal(data)
    assert reason in result.reason and result.clean == clean
    info = macho.inspect(data)
    assert info.strippable == {"all": 0, "debug": 0}
    assert (info.note is None) == clean


def test_a_dsym_companion_is_a_debug_file() -> None:
    """A dSYM companion (``MH_DSYM``), thin or with every slice one, is a debug file: never
    stripped, inspected as one. A fat file mixing one with an image slice is malformed, and so
    is a dSYM whose load commands are (real ``dsymutil`` output: test_macho.py)."""
    x86, arm = (patched(load(name), 12, "<I", 0xA) for name in (X86, ARM))
    for data, label in ((x86, "x86_64"), (fat([x86, arm]), "universal2 (x86_64, arm64)")):
        assert macho.is_debug_file(data) and binaries.is_debug_file("Mach-O", data)
        for level in LEVELS:
            assert macho.strip(data, level) == Unchanged(DEBUG_FILE_REASON)
        assert macho.resign(data) == data
        info = binaries.inspect("Mach-O", data)
        assert (info.arch, info.kind, info.note) == (label, DEBUG_FILE_KIND, DEBUG_FILE_REASON)
        assert info.strippable == {"all": 0, "debug": 0} and info.slices == ()
    mixed = fat([x86, load(ARM)])
    assert not macho.is_debug_file(mixed) and not binaries.is_debug_file("Mach-O", mixed)
    for level in LEVELS:
        with pytest.raises(BinaryError, match="^universal file mixes dSYM companion slices with image slices$"):
            macho.strip(mixed, level)
    with pytest.raises(BinaryError, match="mixes dSYM"):
        macho.inspect(mixed)
    truncated = patched(x86, 20, "<I", 1 << 20)  # sizeofcmds
    assert not macho.is_debug_file(truncated) and not macho.is_debug_file(x86[:7])
    with pytest.raises(BinaryError, match="load commands truncated"):
        macho.strip(truncated, "all")


def test_a_symbol_segment_before_linkedit_is_fine() -> None:
    data = load(X86)
    assert isinstance(macho.strip(symseg(data, 64), "all"), Stripped)
    note = patched(data, command_at(data, LC_UUID), "<I", 0x31)  # 24 bytes: an LC_NOTE needs 40
    with pytest.raises(BinaryError, match="LC_NOTE truncated"):
        macho.strip(note, "all")


def test_a_signature_outside_linkedit() -> None:
    data = load(ARM)
    moved = patched(data, command_at(data, LC_CODE_SIGNATURE) + 8, "<I", 16)
    result = refusal(moved)
    assert result.reason == "code signature outside __LINKEDIT" and not result.clean
    with pytest.raises(BinaryError, match="magic"):  # inspect reads the signature where it is said to be
        macho.inspect(moved)
    past = patched(data, command_at(data, LC_CODE_SIGNATURE) + 8, "<I", len(data))
    with pytest.raises(BinaryError, match="outside the file"):
        macho.inspect(past)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: patched(d, segment_at(d, b"__LINKEDIT") + 48, "<Q", 1 << 20), "past the end"),
        (lambda d: patched(d, 20, "<I", 1 << 20), "load commands truncated"),
        (lambda d: patched(d, 16, "<I", 400), "load commands truncated|bad size"),
        (lambda d: patched(d, 36, "<I", 2), "bad size"),
        (lambda d: patched(d, command_at(d, LC_DYSYMTAB) + 8, "<2I", 0, 1000), "range out of bounds"),
        (
            lambda d: patched(d, struct.unpack_from("<I", d, command_at(d, LC_DYSYMTAB) + 8 + 48)[0], "<I", 999),
            "out of range",
        ),
        (lambda d: d[:30], "truncated"),
        (lambda d: d[:7], "too short"),
    ],
    ids=["linkedit", "sizeofcmds", "ncmds", "cmdsize", "dysymtab", "indirect", "header", "short"],
)
def test_malformed(mutate: object, message: str) -> None:
    data = mutate(load(X86))  # type: ignore[operator]
    with pytest.raises(BinaryError, match=message):
        macho.strip(data, "all")
    with pytest.raises(BinaryError):
        macho.inspect(data)


def with_external_relocations(data: bytes, names: list[str]) -> bytes:
    """An unsigned 64-bit slice with an external-relocation table naming ``names`` appended as
    the last __LINKEDIT blob (lld never writes one; old and ``-r``-style images do)."""
    image = MachO(data)
    symbols = [n for n, t, _ in image.symbols()]
    kinds = [t for _, t, _ in image.symbols()]
    index = {n: i for i, n in reversed(list(enumerate(symbols))) if not kinds[i] & 0xE0}
    table = b"".join(struct.pack("<iI", 0x1000 + 8 * k, index[n] | 1 << 27 | 3 << 25) for k, n in enumerate(names))
    out = bytearray(data)
    dysymtab, linkedit = command_at(data, LC_DYSYMTAB), segment_at(data, b"__LINKEDIT")
    struct.pack_into("<2I", out, dysymtab + 8 + 14 * 4, len(out), len(names))
    filesize = struct.unpack_from("<Q", out, linkedit + 48)[0] + len(table)
    struct.pack_into(
        "<2Q", out, linkedit + 32, -(-filesize // 0x1000) * 0x1000, struct.unpack_from("<Q", out, linkedit + 40)[0]
    )
    struct.pack_into("<Q", out, linkedit + 48, filesize)
    return bytes(out) + table


def test_external_relocations_keep_their_symbols() -> None:
    wanted = ["_printf", "_helper", "_global_value"]
    data = with_external_relocations(load(X86), wanted)
    out = stripped(data, "all")
    image = MachO(out)
    extreloff, nextrel = struct.unpack_from("<2I", out, command_at(out, LC_DYSYMTAB) + 8 + 14 * 4)
    symbols = [n for n, _, _ in image.symbols()]
    named = [symbols[struct.unpack_from("<iI", out, extreloff + 8 * k)[1] & 0xFFFFFF] for k in range(nextrel)]
    assert named == wanted
    assert "_helper" in symbols  # a local that a relocation needs stays
    assert macho.inspect(data).strippable["all"] > 0


def test_fat_headers() -> None:
    x86, arm = load(EXE), load(ARM)
    wide = fat([x86, arm], wide=True)
    result = macho.strip(wide, "all")
    assert isinstance(result, Stripped)
    out = result.materialize(wide)
    assert out[:4] == b"\xca\xfe\xba\xbf"
    _, _, offset, size, _, _ = struct.unpack_from(">2I2Q2I", out, 8 + 32)
    assert out[offset : offset + size] == stripped(arm, "all")
    assert macho.arch(wide) == "universal2 (x86_64, arm64)"
    assert macho.arch(fat([arm])) == "universal (arm64)"
    assert macho.strip(fat([arm]) + b"tail", "all") == Unchanged("data after the last slice of the fat file")
    # the x86_64 slice shrinks, but the arm64 one starts at the same 16 KiB boundary
    padded = fat([load(X86), stripped(arm, "all")])
    assert macho.strip(padded, "all") == Unchanged("stripped output would not be smaller")
    assert macho.resign(padded) == padded
    done = fat([stripped(x86, "all"), stripped(arm, "all")])
    assert macho.strip(done, "all") == Unchanged("nothing to strip", clean=True)
    good = fat([x86, arm])
    entry = 8  # the first fat_arch: cputype, cpusubtype, offset, size, align
    for broken, message in (
        (good[:6], "too short"),
        (patched(good, 4, ">I", 0), "truncated or corrupt"),
        (patched(good, 4, ">I", 70), "truncated or corrupt"),
        (patched(good, entry + 8, ">I", 4), "outside the file"),
        (patched(good, entry + 12, ">I", len(good)), "outside the file"),
        (patched(good, entry + 16, ">I", 25), "outside the file"),
        (patched(good, entry + 20 + 8, ">I", struct.unpack_from(">I", good, entry + 8)[0]), "overlap"),
    ):
        with pytest.raises(BinaryError, match=message):
            macho.strip(broken, "all")
        with pytest.raises(BinaryError):
            macho.inspect(broken)


def test_magics_and_architecture_names() -> None:
    assert not macho.claims(b"\xca\xfe\xba\xbe\x00\x00\x00\x34")  # a Java class file, version 52
    assert binaries.detect(b"\xca\xfe\xba\xbe\x00\x00\x00\x34") is None
    assert macho.claims(b"\xca\xfe\xba\xbe\x00\x00\x00\x02") and macho.claims(b"\xcf\xfa\xed\xfe\x07\x00\x00\x01")
    arm = load(ARM)
    assert macho.arch(patched(arm, 8, "<I", 2)) == "arm64e"
    x86 = load(X86)
    assert macho.arch(patched(x86, 8, "<I", 8)) == "x86_64h"
    assert macho.arch(patched(x86, 4, "<I", 0x01000099)) == "cpu 0x1000099"
    assert macho.inspect(patched(x86, 12, "<I", 0x77)).kind == "type 0x77"
    with pytest.raises(BinaryError, match="not a thin Mach-O"):
        macho._Slice(memoryview(b"\0" * 64))


def test_big_endian_and_32_bit_headers_are_read() -> None:
    """No prebuilt slice is big-endian or 32-bit (lld links neither): their headers alone."""
    for magic, arch in ((b"\xfe\xed\xfa\xce", 18), (b"\xce\xfa\xed\xfe", 7), (b"\xfe\xed\xfa\xcf", 0x01000012)):
        order = ">" if magic[0] == 0xFE else "<"
        header = magic + struct.pack(order + "7I", arch, 0, 2, 0, 0, 0, 0)
        assert macho.arch(header) in ("ppc", "i386", "ppc64")
        assert macho.strip(header, "all") == Unchanged("no __LINKEDIT segment", clean=True)


def _regions(data: bytes) -> list[tuple[int, int]]:
    out = []
    for piece in macho_slices(data).values():
        base = data.index(piece[:64]) if len(macho_slices(data)) > 1 else 0
        image = MachO(piece)
        out.append((base, image.commands_end))
        symoff, nsyms, stroff, strsize = struct.unpack_from("<4I", piece, command_at(piece, LC_SYMTAB) + 8)
        out += [(base + symoff, 16 * nsyms), (base + stroff, strsize)]
        signature = image.signature()
        if signature:
            out.append((base + signature[0], 200))
    if len(macho_slices(data)) > 1:
        out.append((0, 48))
    return out


@pytest.mark.parametrize("name", MACHO)
def test_mutation_fuzz(name: str) -> None:
    """Seeded byte changes in the fat header, the load commands, the symbol and string tables
    and the signature: BinaryError or a valid result, never another exception."""
    data = load(name)
    count = 0
    for mutated in mutations(data, _regions(data), 90, seed=zlib.crc32(name.encode())):
        for level in LEVELS:
            try:
                result = macho.strip(mutated, level)
            except BinaryError:
                continue
            if isinstance(result, Stripped):
                out = result.materialize(mutated)
                assert len(out) == result.size
        with contextlib.suppress(BinaryError):
            macho.inspect(mutated)
        with contextlib.suppress(BinaryError):
            macho.resign(mutated)
        count += 1
    assert count == 90


@pytest.mark.parametrize("name", [ARM, "macho-universal2.so"])
def test_truncations(name: str) -> None:
    data = load(name)
    for cut in [*range(0, 1200, 37), *range(1200, len(data), 1013)]:
        with pytest.raises(BinaryError):
            macho.strip(data[:cut], "all")
        with pytest.raises(BinaryError):
            macho.inspect(data[:cut])
