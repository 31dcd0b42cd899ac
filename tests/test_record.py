"""Pins ``_record``: parse/render round trip (odd names), the problems parse names, the digest."""

from __future__ import annotations

import base64
import hashlib

import pytest

from _wheels import ODD_NAME, record_line
from stripwheel._record import ALLOWED_HASHES, LINE_BREAKS, Row, digest, parse, render

NAMES = [
    "demo/__init__.py",
    ODD_NAME,
    "demo/with space.txt",
    'demo/"quoted".txt',
    "demo/comma,first.txt",
    "demo/\u00e9t\u00e9/\u65e5\u672c.txt",
    'demo/trailing-quote"',
]


def test_round_trip_of_names_that_need_quoting() -> None:
    rows = [Row(name, "sha256", digest(name.encode()), len(name)) for name in NAMES]
    rows.append(Row("demo-1.0.dist-info/RECORD", None, None, None))
    text = render(rows).decode("utf-8")
    assert text.endswith("\n") and "\r" not in text
    parsed, problems = parse(text)
    assert problems == [] and parsed == rows


def test_render_agrees_with_the_test_factory() -> None:
    """stripwheel's RECORD and the one the tests' wheel factory writes (with csv and hashlib
    of their own) are the same text, line for line."""
    rows = [Row(name, "sha256", digest(name.encode()), len(name.encode())) for name in NAMES]
    rows.append(Row("demo-1.0.dist-info/RECORD", None, None, None))
    ours = render(rows).decode("utf-8").splitlines()
    theirs = [record_line(name, name.encode()) for name in NAMES] + [record_line("demo-1.0.dist-info/RECORD", None)]
    assert ours == theirs


def test_digest_is_urlsafe_base64_without_padding() -> None:
    data = bytes(range(256)) * 3
    expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
    assert digest(data) == expected and "=" not in digest(data)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("a.py,sha256=x", "RECORD line 1: expected 3 fields, found 2"),
        ("a.py,sha256=x,1,extra", "RECORD line 1: expected 3 fields, found 4"),
        ("a.py,md5=x,1", "RECORD row 'a.py': bad hash 'md5=x'"),
        ("a.py,sha1=x,1", "RECORD row 'a.py': bad hash 'sha1=x'"),
        ("a.py,sha256,1", "RECORD row 'a.py': bad hash 'sha256'"),
        ("a.py,sha256=,1", "RECORD row 'a.py': bad hash 'sha256='"),
        ("a.py,sha256=x,-1", "RECORD row 'a.py': bad size '-1'"),
        ("a.py,sha256=x,+1", "RECORD row 'a.py': bad size '+1'"),
        ("a.py,sha256=x,1.0", "RECORD row 'a.py': bad size '1.0'"),
        ("a.py,sha256=x,", "RECORD row 'a.py': bad size ''"),
    ],
)
def test_problems_name_the_row(line: str, problem: str) -> None:
    rows, problems = parse(f"{line}\n")
    assert rows == [] and problems == [problem]


def test_blank_lines_are_skipped_and_every_problem_is_collected() -> None:
    rows, problems = parse("a.py,sha256=x,1\n\nb.py,md5=y,2\nc.py,sha512=z,3\nd.py,sha256=w\n")
    assert [r.path for r in rows] == ["a.py", "c.py"]
    assert problems == ["RECORD row 'b.py': bad hash 'md5=y'", "RECORD line 5: expected 3 fields, found 2"]


def test_allowed_hashes_exclude_md5_and_sha1() -> None:
    assert "sha256" in ALLOWED_HASHES and not {"md5", "sha1"} & ALLOWED_HASHES
    assert all(hashlib.new(name) for name in ALLOWED_HASHES)  # every one hashlib can compute


def test_line_breaks_are_what_splitlines_splits_on() -> None:
    """A name with any of these cannot be carried by RECORD: installers split it by lines."""
    assert {c for c in map(chr, range(0x3000)) if len(f"a{c}b".splitlines()) > 1} == set(LINE_BREAKS)
