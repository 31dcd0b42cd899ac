"""Pins ``_report``: the strip summary and inspect listing as text, the versioned JSON, sizes."""

from __future__ import annotations

import json

import pytest

from stripwheel._report import (
    JSON_VERSION,
    BinaryReport,
    BinaryView,
    InspectReport,
    SliceView,
    TreeInspectReport,
    WheelReport,
    render_inspect,
    render_strip,
    size,
    to_json,
)


def stripped(member: str, verified: bool = False) -> BinaryReport:
    return BinaryReport.stripped(
        member,
        format="ELF",
        arch="x86_64",
        size_before=20_000,
        size_after=5_000,
        compressed_before=8_000,
        compressed_after=2_000,
        removed=[".symtab"],
        verified=verified,
    )


def kept(member: str, reason: str) -> BinaryReport:
    return BinaryReport.unchanged(member, format="Mach-O", arch="arm64", reason=reason, size=300, compressed=200)


def fat_view(note: str | None) -> BinaryView:
    """A universal2 Mach-O bundle with one slice listed (its ``note``)."""
    return BinaryView(
        member="demo/_ext.so",
        format="Mach-O",
        arch="universal2",
        kind="bundle",
        size=2_000,
        compressed_size=900,
        strippable={"all": 700, "debug": 400},
        signature="linker-signed",
        note=None,
        slices=[SliceView(arch="arm64", signature="linker-signed", strippable={"all": 350, "debug": 200}, note=note)],
    )


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (9_999, "9,999 B"),
        (10_000, "10.0 kB"),
        (999_949, "999.9 kB"),
        (1_000_000, "1.00 MB"),
        (-12_345, "-12.3 kB"),
    ],
)
def test_size(n: int, text: str) -> None:
    assert size(n) == text


def test_strip_summary() -> None:
    """A title, one aligned line per binary, the totals (with the LIEF count only when some
    were verified), bytecode, sizes, time and warnings."""
    report = WheelReport(
        wheel="dist/demo-1.0-cp311-cp311-linux_x86_64.whl",
        output="out/demo-1.0-cp311-cp311-linux_x86_64.whl",
        dry_run=False,
        changed=True,
        binaries=[stripped("demo/_ext.so", verified=True), kept("demo/libmac.dylib", "already stripped")],
        bytecode_added=["demo/__pycache__/x.pyc"],
        warnings=["removed demo-1.0.dist-info/RECORD.jws: it signs the old RECORD"],
        wheel_size_before=50_000,
        wheel_size_after=40_000,
        installed_size_before=100_000,
        installed_size_after=85_000,
        seconds=0.25,
    )
    assert render_strip(report).splitlines() == [
        "stripwheel: dist/demo-1.0-cp311-cp311-linux_x86_64.whl: rewrote -> out/demo-1.0-cp311-cp311-linux_x86_64.whl",
        "  stripped   demo/_ext.so       ELF x86_64: 20.0 kB -> 5,000 B (-75.0%)",
        "  unchanged  demo/libmac.dylib  Mach-O arm64: already stripped",
        "  binaries: 1 of 2 stripped, 20.0 kB -> 5,000 B (-75.0%); 1 verified with LIEF",
        "  bytecode: 1 added, 0 removed",
        "  installed size: 100.0 kB -> 85.0 kB (-15.0%)",
        "  wheel size: 50.0 kB -> 40.0 kB (-20.0%)",
        "  time: 0.25 s",
        "  warning: removed demo-1.0.dist-info/RECORD.jws: it signs the old RECORD",
    ]


@pytest.mark.parametrize(
    ("output", "dry_run", "changed", "title"),
    [
        (None, True, True, "would rewrite"),  # a dry run has no output
        ("out.whl", False, True, "rewrote -> out.whl"),
        ("out.whl", False, False, "unchanged"),
    ],
)
def test_strip_title(output: str | None, dry_run: bool, changed: bool, title: str) -> None:
    """Nothing about binaries when there are none; the output named only when written."""
    report = WheelReport(wheel="in.whl", output=output, dry_run=dry_run, changed=changed)
    lines = render_strip(report).splitlines()
    assert lines[0] == f"stripwheel: in.whl: {title}"
    assert not [line for line in lines if "binaries" in line or "bytecode" in line]
    assert lines[1] == "  installed size: 0 B -> 0 B"


def test_inspect_listing() -> None:
    """Signatures are shown for Mach-O (and for anything signed), slices each on a line."""
    report = InspectReport(
        wheel="demo.whl",
        tags=["cp311-cp311-macosx_11_0_universal2"],
        wheel_size=1_000,
        installed_size=3_000,
        binaries=[
            fat_view(note=None),
            BinaryView(
                member="demo/x.so",
                format="ELF",
                arch="x86_64",
                kind="shared",
                size=500,
                compressed_size=200,
                strippable={"all": 0, "debug": 0},
                signature="none",
                note="stripped",
            ),
        ],
        python_files=2,
        bytecode_files=0,
    )
    assert render_inspect(report).splitlines() == [
        "demo.whl  [cp311-cp311-macosx_11_0_universal2]",
        "  wheel size 1,000 B, installed size 3,000 B",
        (
            "  demo/_ext.so: Mach-O universal2 bundle, 2,000 B; strippable: all 700 B, debug 400 B;"
            " signature: linker-signed"
        ),
        "    slice arm64: signature linker-signed; strippable: all 350 B, debug 200 B",
        "  demo/x.so: ELF x86_64 shared, 500 B; strippable: all 0 B, debug 0 B (stripped)",
        "  python: 2 .py, bytecode: 0 .pyc",
    ]
    empty = InspectReport("pure.whl", ["py3-none-any"], 10, 20, sourceless=True, bytecode_files=3)
    assert render_inspect(empty).splitlines()[2:] == ["  no native binaries", "  python: 0 .py, bytecode: sourceless"]


def test_json_document() -> None:
    """Versioned, every field of every report, and the failures beside them."""
    report = WheelReport(wheel="in.whl", output=None, dry_run=True, binaries=[stripped("a.so")])
    doc = json.loads(to_json("strip", [report], [{"wheel": "bad.whl", "error": "bad.whl: broken"}]))
    assert doc["stripwheel"] == JSON_VERSION == 1
    assert doc["command"] == "strip"
    assert doc["errors"] == [{"wheel": "bad.whl", "error": "bad.whl: broken"}]
    (wheel,) = doc["wheels"]
    assert set(wheel) == set(WheelReport.__dataclass_fields__)
    # the same keys in the same order as JSON version 1 has them
    assert list(wheel["binaries"][0].items()) == list(
        {
            "member": "a.so",
            "format": "ELF",
            "arch": "x86_64",
            "action": "stripped",
            "reason": None,
            "size_before": 20_000,
            "size_after": 5_000,
            "compressed_before": 8_000,
            "compressed_after": 2_000,
            "removed": [".symtab"],
            "verified": False,
            "clean": False,
            "debug_file": None,
            "debug_file_size": None,
            "mini_debuginfo": 0,
        }.items()
    )


def test_json_inspect_document() -> None:
    """An inspected binary and its slices: the keys of JSON version 1, in its order; a tree's
    listing carries its totals."""
    view = BinaryView.malformed("x.so", format="ELF", size=500, compressed_size=200, reason="truncated")
    listing = InspectReport("demo.whl", ["py3-none-any"], 10, 20, binaries=[fat_view(note="odd"), view])
    tree = TreeInspectReport("/venv", files=3, binaries=[view])
    doc = json.loads(to_json("inspect", [listing, tree], []))
    (wheel,) = doc["wheels"]
    assert list(wheel["binaries"][0]) == [
        "member",
        "format",
        "arch",
        "kind",
        "size",
        "compressed_size",
        "strippable",
        "signature",
        "note",
        "slices",
        "package",
    ]
    assert list(wheel["binaries"][0]["slices"][0].items()) == [
        ("arch", "arm64"),
        ("signature", "linker-signed"),
        ("strippable", {"all": 350, "debug": 200}),
        ("note", "odd"),
    ]
    assert wheel["binaries"][1]["note"] == "malformed: truncated"
    assert wheel["binaries"][1]["strippable"] == {"all": 0, "debug": 0}
    (listed,) = doc["trees"]
    assert list(listed) == ["path", "files", "binaries", "errors", "totals"]
    assert listed["totals"] == {"all": 0, "debug": 0}
