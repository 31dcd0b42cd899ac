"""RECORD rows (PEP 376 / PEP 427): parse, check, hash, render."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from dataclasses import dataclass

#: Hash algorithms a wheel RECORD may use (the wheel spec forbids md5 and sha1).
ALLOWED_HASHES = frozenset({"sha224", "sha256", "sha384", "sha512", "sha3_256", "sha3_512", "blake2b", "blake2s"})

#: Members of the RECORD family that RECORD does not list: signatures of RECORD itself.
SIGNATURES = ("RECORD.jws", "RECORD.p7s")

#: Characters that str.splitlines() treats as line breaks: installers split RECORD that way,
#: so a member name containing one cannot be carried by RECORD.
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


@dataclass(frozen=True)
class Row:
    """One RECORD row; ``algorithm``/``digest``/``size`` are None for RECORD's own row."""

    path: str
    algorithm: str | None
    digest: str | None
    size: int | None


def encode_digest(raw: bytes) -> str:
    """urlsafe base64 without ``=`` padding, as RECORD wants."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_digest(text: str) -> bytes:
    """The raw digest of a RECORD hash value (:func:`encode_digest` undone)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def digest(data: bytes) -> str:
    """The ``sha256=`` value of ``data`` as RECORD writes it (without the prefix)."""
    return encode_digest(hashlib.sha256(data).digest())


def parse(text: str) -> tuple[list[Row], list[str]]:
    """Rows of a RECORD and the problems found (each naming the row)."""
    rows: list[Row] = []
    problems: list[str] = []
    for number, fields in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if not fields:
            continue
        if len(fields) != 3:
            problems.append(f"RECORD line {number}: expected 3 fields, found {len(fields)}")
            continue
        path, hash_field, size_field = fields
        if not hash_field and not size_field:
            rows.append(Row(path, None, None, None))
            continue
        algorithm, sep, digest = hash_field.partition("=")
        if not sep or algorithm not in ALLOWED_HASHES or not digest:
            problems.append(f"RECORD row {path!r}: bad hash {hash_field!r}")
            continue
        try:
            size = int(size_field)
            if size < 0 or not size_field.isdigit():
                raise ValueError
        except ValueError:
            problems.append(f"RECORD row {path!r}: bad size {size_field!r}")
            continue
        rows.append(Row(path, algorithm, digest, size))
    return rows, problems


def render(rows: list[Row]) -> bytes:
    """RECORD text: CSV with ``\\n`` line ends, quoting only where needed."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        if row.algorithm is None:
            writer.writerow([row.path, "", ""])
        else:
            writer.writerow([row.path, f"{row.algorithm}={row.digest}", row.size])
    return out.getvalue().encode("utf-8")
