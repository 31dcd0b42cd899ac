"""The installed RECORDs of a tree, or of the environment a file run bare belongs to: read once,
which file each row names (through symlinks too), which RECORDs cannot be rewritten (their
files are then not stripped), and the rows of changed files brought up to date under a lock,
durably, the RECORD keeping its owner, mode and extended attributes; every other line stays as
it was, byte for byte."""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .._durable import AtomicFile
from .._errors import OutputError
from .walk import READ_FLAGS, TreeFile, record_target
from .writer import FileError, unreplaceable


@dataclass(frozen=True)
class Change:
    """New RECORD values for one path; ``old_size`` is the size the run found (None when the
    row is only brought in line with a file this run did not change)."""

    digest: str
    size: int
    old_size: Optional[int]


@dataclass
class Installed:
    """One ``*.dist-info/RECORD``."""

    path: str
    #: the distribution's name, from the directory
    name: str
    #: why it cannot be rewritten, when it cannot
    problem: Optional[str] = None
    #: file path (relative to the root) -> (size, hash) of each row naming it
    rows: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def is_record(path: str) -> bool:
    parts = path.split("/")
    return len(parts) >= 2 and parts[-1] == "RECORD" and parts[-2].endswith(".dist-info")


def split_records(text: str) -> Iterator[tuple[str, list[str]]]:
    """Each CSV record of ``text`` with its raw text (line end included) and its fields.

    Lines end at ``\\n`` only: ``str.splitlines`` would also break a name at ``\\x0c``,
    ``\\x1c`` or ``\\x85``, and a quoted name may hold a newline of its own. Raises
    ``csv.Error`` when the text is not CSV."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    consumed = 0

    def feed() -> Iterator[str]:
        nonlocal consumed
        for line in lines:
            consumed += 1
            yield line

    start = 0
    for fields in csv.reader(feed()):
        yield "".join(lines[start:consumed]), fields
        start = consumed


class Records:
    """Every installed RECORD of a tree, parsed once."""

    def __init__(self, root: Path, files: list[TreeFile], links: list[str], others: Sequence[str] = ()) -> None:
        """``others``: RECORDs to read besides those among ``files`` and ``links``."""
        self.root = root
        self._paths = {p for f in files for p in f.paths}
        self.records: list[Installed] = []
        for relative in sorted([p for p in self._paths if is_record(p)] + [p for p in links if is_record(p)]):
            self.records.append(self._read(relative, relative in links))
        for relative in others:
            self.records.append(self._read(relative, os.path.islink(root / relative)))
        #: file path -> the RECORDs listing it
        self._listing: dict[str, list[Installed]] = {}
        for record in self.records:
            for path in record.rows:
                self._listing.setdefault(path, []).append(record)

    def _read(self, relative: str, link: bool) -> Installed:
        name = relative.rsplit("/", 2)[-2][: -len(".dist-info")].rsplit("-", 1)[0]
        record = Installed(relative, name)
        path = self.root / relative
        try:
            text = _read_text(path)
        except (OSError, UnicodeDecodeError) as exc:
            record.problem = f"cannot be read ({exc})"
            return record
        if link:
            record.problem = "is a symlink"
        elif text.startswith("\ufeff"):
            record.problem = "starts with a byte-order mark"
            text = text[1:]  # still read, to know which files it lists
        try:
            for _, fields in split_records(text):
                if len(fields) == 3:
                    target = self._target(relative, fields[0])
                    if target is not None:
                        record.rows.setdefault(target, []).append((fields[2], fields[1]))
        except csv.Error as exc:
            record.problem = record.problem or f"is not valid CSV ({exc})"
        if record.problem is None:
            record.problem = unreplaceable(path)
        return record

    def _target(self, record: str, row_path: str) -> Optional[str]:
        """The walked file a row names: directly, or through symlinks inside the tree."""
        target = record_target(self.root, record, row_path)
        if target in self._paths:
            return target
        full = self.root / target
        if not os.path.lexists(full):
            return None
        real = os.path.relpath(os.path.realpath(full), os.path.realpath(self.root)).replace(os.sep, "/")
        return real if real in self._paths else None

    def owner(self, path: str) -> Optional[str]:
        listing = self._listing.get(path)
        return listing[0].name if listing else None

    def listed(self, file: TreeFile) -> bool:
        return any(p in self._listing for p in file.paths)

    def blocked(self, file: TreeFile) -> Optional[str]:
        """Why the rows of ``file`` cannot be rewritten, when they cannot."""
        for path in file.paths:
            for record in self._listing.get(path, ()):
                if record.problem is not None:
                    return (
                        f"{self.root / record.path}: {record.problem}"
                        if not record.problem.startswith(str(self.root))
                        else record.problem
                    )
        return None

    def stale(self, file: TreeFile) -> bool:
        """Whether a row names ``file`` with a size other than the file's."""
        return any(
            digest and size != str(file.size)
            for path in file.paths
            for size, digest in (row for record in self._listing.get(path, ()) for row in record.rows[path])
        )

    def update(self, changes: dict[str, Change]) -> tuple[list[str], list[str], list[str]]:
        """Bring the rows naming the ``changes`` paths up to date; returns the RECORDs
        rewritten, one error line per RECORD that could not be, and warnings."""
        touched: list[str] = []
        errors: list[str] = []
        warnings: list[str] = []
        for record in self.records:
            if record.problem is not None or not any(path in changes for path in record.rows):
                continue
            try:
                if self._rewrite(record, changes, warnings):
                    touched.append(record.path)
            except FileError as exc:
                errors.append(str(exc))
        return touched, errors, warnings

    def _rewrite(self, record: Installed, changes: dict[str, Change], warnings: list[str]) -> bool:
        path = self.root / record.path
        with _locked(path.parent):  # another run may be updating this RECORD too
            try:
                text = _read_text(path)
                parts = list(split_records(text))
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                raise FileError(f"{path}: cannot update: {exc}") from None
            out: list[str] = []
            touched = False
            stale: list[str] = []
            for raw, fields in parts:
                target = self._target(record.path, fields[0]) if len(fields) == 3 else None
                change = changes.get(target) if target is not None else None
                if change is None or (fields[1] == f"sha256={change.digest}" and fields[2] == str(change.size)):
                    out.append(raw)
                    continue
                if change.old_size is None or (fields[2] and fields[2] != str(change.old_size)):
                    stale.append(repr(fields[0]))
                out.append(_row(fields[0], change) + raw[len(raw.rstrip("\r\n")) :])
                touched = True
            if touched:
                _replace(path, "".join(out).encode("utf-8"))
        if stale:  # left by an earlier run that was killed, or a file changed by hand
            named = ", ".join(stale[:3]) + (f" and {len(stale) - 3} more" if len(stale) > 3 else "")
            rows = "the row of" if len(stale) == 1 else f"{len(stale)} rows, of"
            warnings.append(f"{path}: {rows} {named}, did not match the files; they now say what the files hold")
        return touched


class BareRecords:
    """The RECORD rows of one installed file run bare (``stripwheel strip
    venv/lib/python3.12/site-packages/pkg/_ext.so``): those of the RECORDs in the site directory
    above it, the nearest directory holding ``*.dist-info``. Answers as :class:`Records` does
    for the run, a tree of one rooted at the file's own directory."""

    def __init__(self, records: Records, file: TreeFile) -> None:
        self._records = records
        self._file = file

    @classmethod
    def find(cls, path: Path, file: TreeFile) -> Optional[BareRecords]:
        """Those of the file at ``path`` (absolute; ``file`` as the run walked it), or None
        when no RECORD lists it. A script (``<env>/bin/tool``, a wheel's ``.data/scripts``) is
        listed by the site directories of its environment, ``<env>/lib*/python*/site-packages``,
        with a path that climbs (``../../../bin/tool``)."""
        listed = ((site, _dist_infos(site)) for site in path.parents)
        nearest = next(((site, infos) for site, infos in listed if infos), None)
        sites = [] if nearest is None else [nearest]
        if path.parent.name == "bin":
            sites += [
                (site, _dist_infos(site)) for site in sorted(path.parent.parent.glob("lib*/python*/site-packages"))
            ]
        for site, infos in sites:
            relative = os.path.relpath(path, site).replace(os.sep, "/")
            there = TreeFile(relative, file.identity, file.links)
            records = Records(site, [there], [], [f"{info}/RECORD" for info in infos])
            if records.listed(there):
                return cls(records, there)
        return None

    def listed(self, file: TreeFile) -> bool:
        return self._records.listed(self._file)

    def blocked(self, file: TreeFile) -> Optional[str]:
        return self._records.blocked(self._file)

    def stale(self, file: TreeFile) -> bool:
        return self._records.stale(self._file)

    def update(self, changes: dict[str, Change]) -> tuple[list[str], list[str], list[str]]:
        """As :meth:`Records.update`; the RECORDs rewritten are named by their full paths."""
        if not changes:
            return [], [], []
        change = next(iter(changes.values()))  # the file, by its one name in the run
        touched, errors, warnings = self._records.update({self._file.path: change})
        return [str(self._records.root / t) for t in touched], errors, warnings


def _dist_infos(directory: Path) -> list[str]:
    try:
        return sorted(name for name in os.listdir(directory) if name.endswith(".dist-info"))
    except OSError:
        return []


def _row(name: str, change: Change) -> str:
    buffer = io.StringIO()
    # The default terminator makes csv quote a name holding \r or \n; it is cut off again.
    csv.writer(buffer).writerow([name, f"sha256={change.digest}", change.size])
    return buffer.getvalue()[: -len("\r\n")]


def _read_text(path: Path) -> str:
    fd = os.open(path, READ_FLAGS & ~getattr(os, "O_NOFOLLOW", 0))
    with open(fd, "rb", closefd=True) as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        return f.read().decode("utf-8")


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _replace(path: Path, data: bytes) -> None:
    """RECORD rewritten by rename, keeping its owner, mode and extended attributes: data synced
    first, the directory after."""
    try:
        out = AtomicFile(path, None, like=path)
    except OutputError as exc:
        raise FileError(f"{path}: cannot update: {exc.reason}") from None
    try:
        out.write(data)
        out.commit()
    except OutputError as exc:
        out.discard()
        raise FileError(f"{path}: cannot update: {exc.reason}") from None
