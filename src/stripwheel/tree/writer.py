"""Files of an installed tree replaced in place: each written to a temporary file beside it and
renamed over it, keeping mode, owner and extended attributes, hardlinks inside the tree kept
together; and the RECORD rows of the files changed brought up to date."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import _record, binaries
from .._blob import Blob
from .walk import Identity, TreeFile, record_target


class FileError(Exception):
    """One file could not be replaced; it is left as it was."""


@dataclass(frozen=True)
class Written:
    """A replaced file's new RECORD values (``digest`` is "" when no RECORD lists it) and the
    size it had before, which tells a RECORD row that was already stale."""

    digest: str
    size: int
    old_size: int


def replace(root: Path, file: TreeFile, blob: Blob, result: binaries.Stripped, digest: bool) -> Written:
    """Write ``result`` (pieces of the mapped file ``blob``) beside the file and rename it over
    every path of the file in the tree; hash it when ``digest`` (a RECORD lists it). Raises
    :class:`FileError`, leaving the file as it was."""
    path = root / file.path
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".stripwheel")
    except OSError as exc:
        raise FileError(f"{path}: cannot write beside it: {exc.strerror or exc}") from None
    temp = Path(name)
    hasher = hashlib.sha256() if digest else None
    try:
        with os.fdopen(fd, "wb", buffering=0) as out:
            for chunk in blob.views(result):
                if hasher is not None:
                    hasher.update(chunk)  # releases the GIL, as the write does: both cores work
                out.write(chunk)
        _keep_metadata(path, temp)
        _unchanged(path, file.identity)
        os.replace(temp, path)
    except FileError:
        temp.unlink(missing_ok=True)
        raise
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise FileError(f"{path}: cannot replace: {exc.strerror or exc}") from None
    for alias in file.aliases:
        _relink(path, root / alias, file.identity)
    new = _record.encode_digest(hasher.digest()) if hasher is not None else ""
    return Written(new, result.size, file.size)


def _keep_metadata(original: Path, temp: Path) -> None:
    """Mode, owner and extended attributes of ``original`` onto ``temp``, or FileError."""
    st = os.stat(original, follow_symlinks=False)
    os.chmod(temp, stat.S_IMODE(st.st_mode))
    mine = os.stat(temp)
    if (mine.st_uid, mine.st_gid) != (st.st_uid, st.st_gid):
        try:
            os.chown(temp, st.st_uid, st.st_gid)
        except OSError as exc:
            raise FileError(f"{original}: cannot keep its owner: {exc.strerror or exc}") from None
    if hasattr(os, "listxattr"):  # Linux
        try:
            names = os.listxattr(original, follow_symlinks=False)
        except OSError:
            names = []  # a filesystem without extended attributes
        for attr in names:
            try:
                os.setxattr(temp, attr, os.getxattr(original, attr, follow_symlinks=False))
            except OSError as exc:
                raise FileError(f"{original}: cannot keep extended attribute {attr}: {exc.strerror or exc}") from None


def _unchanged(path: Path, identity: Identity) -> None:
    try:
        now = Identity.of(os.stat(path, follow_symlinks=False))
    except OSError as exc:
        raise FileError(f"{path}: vanished while it was processed: {exc.strerror or exc}") from None
    if now != identity:
        raise FileError(f"{path}: changed while it was processed; left as it is")


def _relink(target: Path, alias: Path, identity: Identity) -> None:
    """Make ``alias`` (hardlinked to the old file) a hardlink of the new one, by rename."""
    _unchanged(alias, identity)
    temp = alias.with_name(f".{alias.name}.stripwheel-link")
    try:
        os.link(target, temp)
        os.replace(temp, alias)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise FileError(f"{alias}: cannot relink to the stripped {target.name}: {exc.strerror or exc}") from None


# --- RECORD of installed distributions


def update_record(root: Path, record: str, changed: dict[str, Written]) -> tuple[bool, list[str]]:
    """Bring the rows of the changed files (paths relative to ``root``) in one installed
    RECORD (its path relative to ``root``) up to date; every other line stays as it was, stale
    or malformed. Returns whether it was rewritten, and warnings."""
    path = root / record
    warnings: list[str] = []
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return False, [f"{path}: cannot read, left as it is ({exc})"]
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    touched = False
    for number, line in enumerate(lines, start=1):
        fields = next(csv.reader([line.rstrip("\r\n")]), [])
        if len(fields) != 3:
            if fields:
                warnings.append(f"{path}: line {number} is malformed; left as it is")
            out.append(line)
            continue
        written = changed.get(record_target(root, record, fields[0]))
        if written is None:
            out.append(line)
            continue
        if fields[2] and fields[2] != str(written.old_size):
            warnings.append(f"{path}: the row of {fields[0]} was already stale; it now says what the file holds")
        row = io.StringIO()
        csv.writer(row, lineterminator="").writerow([fields[0], f"sha256={written.digest}", written.size])
        out.append(row.getvalue() + line[len(line.rstrip("\r\n")) :])
        touched = True
    if touched:
        _rewrite(path, "".join(out).encode("utf-8"))
    return touched, warnings


def _rewrite(path: Path, data: bytes) -> None:
    st = os.stat(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".stripwheel")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(name, stat.S_IMODE(st.st_mode))
        os.replace(name, path)
    except OSError as exc:
        Path(name).unlink(missing_ok=True)
        raise FileError(f"{path}: cannot update: {exc.strerror or exc}") from None
