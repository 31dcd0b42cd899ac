"""What the rewriters share (binaries/_core.py) and the package's dispatch (binaries/__init__.py):
result types, the malformed-input guard, alignment, string tables, inspect by level."""

from __future__ import annotations

import struct

import pytest

from _prebuilt import load
from stripwheel import binaries
from stripwheel.binaries import _core
from stripwheel.binaries._core import (
    BinaryError,
    Copy,
    Level,
    Refused,
    Result,
    Stripped,
    Unchanged,
    align_up,
    guarded,
    piece_length,
    pruned_table,
    strippable_by_level,
    suffix_shared_table,
)


@pytest.mark.parametrize(
    ("value", "alignment", "expected"),
    [(0, 8, 0), (1, 8, 8), (8, 8, 8), (9, 8, 16), (5, 0, 5), (5, 1, 5), (4095, 4096, 4096), (17, 3, 18)],
)
def test_align_up(value: int, alignment: int, expected: int) -> None:
    assert align_up(value, alignment) == expected


def _read(table: bytes, offset: int) -> bytes:
    return table[offset : table.index(b"\0", offset)]


@pytest.mark.parametrize(
    ("strings", "prefix", "expected"),
    [
        ([], b"\0", b"\0"),
        ([b""], b"\0", b"\0"),
        ([b"abc"], b"\0", b"\0abc\0"),
        ([b"text", b".text", b".rela.text"], b"\0", b"\0.rela.text\0"),  # every one a suffix of the first
        ([b"b", b"a", b"b"], b"\0", b"\0b\0a\0"),  # duplicates once; sorted by reversed spelling
        ([b"x", b"yx", b"zz"], b" \0", b" \0zz\0yx\0"),
    ],
)
def test_suffix_shared_table(strings: list[bytes], prefix: bytes, expected: bytes) -> None:
    table, where = suffix_shared_table(strings, prefix)
    assert table == expected
    assert where[b""] == len(prefix) - 1
    for name in strings:
        assert _read(table, where[name]) == name


@pytest.mark.parametrize(
    ("table", "used", "keep", "expected", "remap"),
    [
        (b"\0abc\0def\0ghi\0", [5], 1, b"\0def\0", {5: 1}),
        (b"\0abc\0def\0ghi\0", [9, 1], 1, b"\0abc\0ghi\0", {9: 5, 1: 1}),  # the original order stays
        (b"\0abc\0def\0", [2, 1], 1, b"\0abc\0", {2: 2, 1: 1}),  # a suffix keeps its characters
        (b"\0abc\0def\0", [6], 1, b"\0ef\0", {6: 1}),  # only the used tail of a string
        (b"\0abc\0def\0", [0, 5], 1, b"\0def\0", {0: 0, 5: 1}),  # the prefix is never moved
        (b" \0abc\0def\0", [6], 2, b" \0def\0", {6: 2}),  # ld64's " \0" prefix
        (b"\0abc\0tail", [5], 1, b"\0tail", {5: 1}),  # an unterminated last string
        (b"\0abc\0", [], 1, b"\0", {}),
    ],
)
def test_pruned_table(table: bytes, used: list[int], keep: int, expected: bytes, remap: dict[int, int]) -> None:
    out, moved = pruned_table(table, used, keep)
    assert (out, moved) == (expected, remap)
    for old, new in moved.items():
        if old >= keep:
            assert out[new:].split(b"\0")[0] == table[old:].split(b"\0")[0]


def test_pruned_table_refuses_offsets_past_its_end() -> None:
    with pytest.raises(BinaryError, match="outside a table of 5 bytes"):
        pruned_table(b"\0abc\0", [5])


def _plan(results: dict[str, Result]) -> object:
    return lambda level: results[level]


STRIPPED = Stripped((b"x" * 10,), 10)


@pytest.mark.parametrize(
    ("results", "strippable", "note"),
    [
        ({"all": STRIPPED, "debug": STRIPPED}, {"all": 90, "debug": 90}, None),
        ({"all": STRIPPED, "debug": Unchanged("nothing", clean=True)}, {"all": 90, "debug": 0}, None),
        ({"all": Unchanged("refused A"), "debug": Unchanged("refused B")}, {"all": 0, "debug": 0}, "refused A"),
        ({"all": Unchanged("clean", True), "debug": Unchanged("refused B")}, {"all": 0, "debug": 0}, "refused B"),
    ],
)
def test_strippable_by_level(results: dict[str, Result], strippable: dict[str, int], note: str | None) -> None:
    assert strippable_by_level(_plan(results), 100) == (strippable, note)  # type: ignore[arg-type]


def test_results_and_pieces() -> None:
    data = b"0123456789"
    result = Stripped((Copy(2, 3), b"ab", Copy(0, 1)), 6, removed=(".debug_info",))
    assert result.materialize(data) == b"234ab0"
    assert result.materialize(memoryview(data)) == b"234ab0"
    assert [piece_length(p) for p in result.pieces] == [3, 2, 1]
    refused = Refused("already stripped", clean=True)
    assert Unchanged.of(refused) == Unchanged("already stripped", clean=True)
    assert Unchanged.of(Refused("odd")) == Unchanged("odd", clean=False)
    assert refused.reason == str(refused) == "already stripped"


@pytest.mark.parametrize("error", _core.MALFORMED)
def test_guarded_turns_low_level_errors_into_binary_errors(error: type[Exception]) -> None:
    @guarded("Test")
    def parse(data: bytes) -> int:
        raise error("boom")

    with pytest.raises(BinaryError, match=rf"malformed Test file \({error.__name__}: .*boom"):
        parse(b"")


def test_guarded_leaves_other_outcomes_alone() -> None:
    @guarded("Test")
    def parse(data: bytes, level: Level = "all") -> int:
        if data == b"refuse":
            raise Refused("no")
        if data == b"bug":
            raise RuntimeError("a bug is not a malformed file")
        return int(struct.unpack_from("<I", data)[0])

    assert parse(b"\x01\0\0\0") == 1
    assert parse.__name__ == "parse"
    with pytest.raises(Refused):
        parse(b"refuse")
    with pytest.raises(RuntimeError):
        parse(b"bug")
    with pytest.raises(BinaryError, match="struct.error|error"):
        parse(b"\x01")


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\x7fELF\x02\x01\x01\x00", "ELF"),
        (b"\xcf\xfa\xed\xfe\x0c\x00\x00\x01", "Mach-O"),
        (b"\xfe\xed\xfa\xce\x00\x00\x00\x12", "Mach-O"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x02", "Mach-O"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x41", None),  # a Java class file
        (b"MZ\x90\x00\x03\x00\x00\x00", "PE"),
        (b"!<arch>\n", "archive"),
        (b"PK\x03\x04\x14\x00\x00\x00", None),
        (b"#!/bin/s", None),
    ],
)
def test_detect(head: bytes, fmt: str | None) -> None:
    assert binaries.detect(head) == fmt


def test_dispatch() -> None:
    elf_data, macho_data, pe_data = load("elf-ppc.so"), load("macho-arm64.so"), load("pe-i686.dll")
    for fmt, data, arch in (("ELF", elf_data, "ppc"), ("Mach-O", macho_data, "arm64"), ("PE", pe_data, "i386")):
        assert binaries.arch(fmt, data) == arch  # type: ignore[arg-type]
        assert binaries.inspect(fmt, data).arch == arch  # type: ignore[arg-type]
        assert isinstance(binaries.strip(fmt, data, "all"), Stripped)  # type: ignore[arg-type]
        assert not binaries.is_debug_file(fmt, data)  # type: ignore[arg-type]
    assert set(binaries.REWRITERS) == {"ELF", "Mach-O", "PE", "archive"}
    assert binaries.LEVELS == ("all", "debug")
