"""The plan decides each member's step from its name, size and first bytes and the options
alone: table-driven, no compiler, no zip."""

from __future__ import annotations

from typing import Any

import pytest

from stripwheel._config import Config
from stripwheel._plan import Entry, Step, Wheel, plan, plan_tree

ELF = b"\x7fELF\x02\x01\x01\x00"
MACHO = b"\xcf\xfa\xed\xfe\x0c\x00\x00\x01"
FAT = b"\xca\xfe\xba\xbe\x00\x00\x00\x02"
JAVA = b"\xca\xfe\xba\xbe\x00\x00\x00\x34"  # a class file: same magic, version 52 where nfat would be
PE = b"MZ\x90\x00\x03\x00\x00\x00"
TEXT = b"# text!\n"

DIST = "demo-1.0.dist-info"
WHEEL = Wheel(DIST, f"{DIST}/RECORD", data_dir="demo-1.0.data", cache_tag="cpython-311")
BIG = 4096


def steps(entries: list[Entry], wheel: Wheel = WHEEL, **options: Any) -> dict[str, Step]:
    config = Config.from_options({k.replace("_", "-"): v for k, v in options.items()})
    return {s.name: s for s in plan(entries, config, wheel).steps}


@pytest.mark.parametrize(
    ("name", "size", "head", "options", "action", "detail"),
    [
        ("pkg/_ext.so", BIG, ELF, {}, "strip", "ELF"),
        ("pkg/_ext.so", BIG, MACHO, {}, "strip", "Mach-O"),
        ("pkg/lib.dylib", BIG, FAT, {}, "strip", "Mach-O"),
        ("pkg/A.class", BIG, JAVA, {}, "copy", None),
        ("pkg/x.dll", BIG, PE, {}, "strip", "PE"),
        ("pkg/not-really.so", BIG, TEXT, {}, "copy", None),  # found by content, not by name
        ("pkg/data.bin", BIG, ELF, {}, "strip", "ELF"),  # and binaries anywhere
        ("pkg/tiny.so", 63, ELF, {}, "copy", None),  # too small to be a binary
        ("pkg/_ext.so", BIG, ELF, {"strip": "none"}, "copy", None),
        ("pkg/_ext.so", BIG, ELF, {"strip": "debug"}, "strip", "ELF"),
        ("pkg/_ext.so", BIG, ELF, {"exclude": ["*.so"]}, "copy", None),
        ("pkg/_ext.so", BIG, ELF, {"include": ["other/**"]}, "copy", None),
        ("pkg/__pycache__/m.cpython-311.pyc", 100, TEXT, {}, "copy", None),
        ("pkg/__pycache__/m.cpython-311.pyc", 100, TEXT, {"bytecode": "drop"}, "drop", "bytecode"),
        ("pkg/m.pyc", 100, TEXT, {"bytecode": "drop"}, "drop", "bytecode"),
        ("pkg/__pycache__/", 0, b"", {"bytecode": "drop"}, "drop", "directory"),
        ("pkg/__pycache__/m.cpython-311.pyc", 100, TEXT, {"bytecode": "drop", "exclude": ["pkg/**"]}, "copy", None),
        (f"{DIST}/RECORD.jws", 100, TEXT, {}, "drop", "signature"),
        (f"{DIST}/RECORD.p7s", 100, TEXT, {}, "drop", "signature"),
        ("pkg/RECORD.jws", 100, TEXT, {}, "copy", None),  # only RECORD's own signatures
        (f"{DIST}/WHEEL", 100, TEXT, {}, "copy", None),
    ],
)
def test_step_of_one_member(
    name: str, size: int, head: bytes, options: dict[str, Any], action: str, detail: str | None
) -> None:
    step = steps([Entry(name, size, head)], **options)[name]
    assert step.action == action
    assert (step.format if action == "strip" else step.why) == detail


def test_record_is_the_writers_and_dist_info_comes_last() -> None:
    entries = [
        Entry(f"{DIST}/METADATA", 10),
        Entry(f"{DIST}/RECORD", 10),
        Entry("pkg/__init__.py", 10),
        Entry(f"{DIST}/WHEEL", 10),
        Entry("demo-1.0.data/scripts/tool", 10),
    ]
    order = [s.name for s in plan(entries, Config(), WHEEL).steps]
    assert order == ["pkg/__init__.py", "demo-1.0.data/scripts/tool", f"{DIST}/METADATA", f"{DIST}/WHEEL"]


def test_compile_adds_cache_files_after_each_source_and_supersedes_old_ones() -> None:
    entries = [
        Entry("pkg/__init__.py", 10),
        Entry("pkg/__pycache__/__init__.cpython-311.pyc", 10),
        Entry("pkg/__pycache__/__init__.cpython-311.opt-1.pyc", 10),
        Entry("pkg/other.txt", 10),
        Entry("demo-1.0.data/purelib/extra.py", 10),
        Entry("demo-1.0.data/scripts/script.py", 10),  # not importable: not compiled
        Entry(f"{DIST}/entry.py", 10),
    ]
    found = steps(entries, bytecode="compile", optimize=[0, 2])
    init = found["pkg/__init__.py"]
    assert (init.action, init.installed, init.keep_source) == ("compile", "pkg/__init__.py", True)
    assert init.adds == (
        "pkg/__pycache__/__init__.cpython-311.pyc",
        "pkg/__pycache__/__init__.cpython-311.opt-2.pyc",
    )
    assert found["pkg/__pycache__/__init__.cpython-311.pyc"].why == "superseded"
    assert found["pkg/__pycache__/__init__.cpython-311.opt-1.pyc"].action == "copy"  # not produced: kept
    assert found["demo-1.0.data/purelib/extra.py"].installed == "extra.py"
    assert found["demo-1.0.data/scripts/script.py"].action == "copy"
    assert found[f"{DIST}/entry.py"].action == "copy"


def test_sourceless_replaces_the_source_and_retags() -> None:
    wheel = Wheel(DIST, f"{DIST}/RECORD", cache_tag="cpython-311", retag=True)
    found = steps([Entry("pkg/mod.py", 10), Entry(f"{DIST}/WHEEL", 10)], wheel, bytecode="compile", sourceless=True)
    assert found["pkg/mod.py"].adds == ("pkg/mod.pyc",)
    assert not found["pkg/mod.py"].keep_source
    assert found[f"{DIST}/WHEEL"].action == "retag"


def test_compile_honours_include_and_exclude() -> None:
    found = steps([Entry("pkg/a.py", 10), Entry("pkg/tests/t.py", 10)], bytecode="compile", exclude=["**/tests/**"])
    assert found["pkg/a.py"].action == "compile"
    assert found["pkg/tests/t.py"].action == "copy"


def test_static_archives_are_stripped_in_trees_and_wheels() -> None:
    """A ``.a`` file is a binary like the others, in an installed tree and in a wheel."""
    archive = Entry("lib/libpython3.11.a", BIG, b"!<arch>\n")
    (tree_step,) = plan_tree([archive, Entry("lib/", 0)], Config()).steps
    assert tree_step == Step("lib/libpython3.11.a", "strip", format="archive")
    assert steps([archive])["lib/libpython3.11.a"] == Step("lib/libpython3.11.a", "strip", format="archive")
    assert plan_tree([Entry("bin/python", BIG, ELF)], Config(strip="none")).steps[0].action == "copy"
