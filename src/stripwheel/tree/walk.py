"""An installed tree as input: every regular file under a directory, found without following a
symlink, with hardlinked paths grouped and each file's identity kept to notice changes."""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import StripwheelError


@dataclass(frozen=True)
class Identity:
    """What must not change between reading a file and replacing it."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Identity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class TreeFile:
    """One regular file (or several paths hardlinked together) under the root."""

    #: the path relative to the root, with ``/`` separators; the first of its hardlinks
    path: str
    identity: Identity
    #: links to the same inode anywhere (``st_nlink``)
    links: int
    #: the other paths in the tree that are the same file
    aliases: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.identity.size

    @property
    def is_dir(self) -> bool:
        return False


class TreeSource:
    """Walks a directory: regular files only, symlinks never followed (so never out of the
    tree, and never in a loop), in a stable order."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)
        if not root.is_dir():
            raise StripwheelError(f"{root}: not a wheel file or a directory")
        #: one line per directory that could not be listed
        self.errors: list[str] = []

    def files(self) -> list[TreeFile]:
        """Every regular file, hardlinks to one inode folded into the first path found."""
        by_inode: dict[tuple[int, int], TreeFile] = {}
        found: list[TreeFile] = []
        for relative, st in sorted(self._walk(), key=lambda item: item[0].split("/")):
            identity = Identity.of(st)
            if st.st_nlink > 1:
                key = (identity.device, identity.inode)
                if key in by_inode:
                    by_inode[key].aliases.append(relative)
                    continue
                by_inode[key] = TreeFile(relative, identity, st.st_nlink)
                found.append(by_inode[key])
            else:
                found.append(TreeFile(relative, identity, 1))
        return found

    def _walk(self) -> Iterator[tuple[str, os.stat_result]]:
        stack = [""]
        while stack:
            relative = stack.pop()
            where = os.path.join(self.root, relative) if relative else str(self.root)
            try:
                with os.scandir(where) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
            except OSError as exc:
                self.errors.append(f"{where}: cannot list: {exc.strerror or exc}")
                continue
            subdirs = []
            for entry in entries:
                path = f"{relative}/{entry.name}" if relative else entry.name
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    self.errors.append(f"{entry.path}: cannot read: {exc.strerror or exc}")
                    continue
                if stat.S_ISDIR(st.st_mode):
                    subdirs.append(path)
                elif stat.S_ISREG(st.st_mode):
                    yield path, st
                # symlinks, sockets, devices, FIFOs: never followed, never read
            stack.extend(reversed(subdirs))

    def path(self, relative: str) -> Path:
        return self.root / relative

    def head(self, file: TreeFile, size: int) -> bytes:
        """The file's first bytes; one that cannot be read is noted in ``errors`` (b"")."""
        path = os.path.join(self.root, file.path)
        try:
            fd = os.open(path, os.O_RDONLY)  # plain syscalls: a Python installation has thousands of files
            try:
                return os.read(fd, size)
            finally:
                os.close(fd)
        except OSError as exc:
            self.errors.append(f"{path}: cannot read: {exc.strerror or exc}")
            return b""


def record_target(root: Path, record: str, row_path: str) -> str:
    """The file an installed RECORD row names, relative to ``root`` with ``/`` separators.

    Installed RECORD paths are relative to the directory holding the ``.dist-info`` (the site
    directory) and may climb out of it (``../../../bin/tool``) or be absolute.
    """
    if os.path.isabs(row_path):
        return os.path.relpath(row_path, root.absolute()).replace(os.sep, "/")
    site = record.rsplit("/", 2)[0] if record.count("/") >= 2 else ""
    joined = f"{site}/{row_path}" if site else row_path
    if "./" in joined or "//" in joined or joined.endswith("/."):  # the rare row to normalise
        joined = posixpath.normpath(joined)
    return joined
