"""An installed tree as input: every regular file under a directory, found without following a
symlink, with hardlinked paths grouped and each file's identity kept to notice changes; a bare
file is a tree of one. Temporary files of killed runs are found here, never taken for input."""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .._durable import looks_temporary
from .._errors import StripwheelError

#: Open flags for reading a tree's file: never through a symlink, and never blocking on a FIFO
#: that took a regular file's place since the walk.
READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class Identity:
    """What must not change between reading a file and replacing it."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Identity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


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
    def paths(self) -> tuple[str, ...]:
        return (self.path, *self.aliases)


class TreeSource:
    """Walks a directory: regular files only, symlinks never followed (so never out of the
    tree, and never in a loop), in a stable order; ``skip`` directories (a debug directory
    inside the tree) are not entered."""

    def __init__(self, root: Path, skip: Optional[Path] = None, single: Optional[str] = None) -> None:
        self.root = root
        self.label = str(root)
        #: the one file of a bare-file run (a tree of one)
        self.single = single
        if single is None and not root.is_dir():
            raise StripwheelError(f"{root}: not a wheel file or a directory")
        self._skip: Optional[tuple[int, int]] = None
        if skip is not None:
            try:
                st = os.stat(skip)
                self._skip = (st.st_dev, st.st_ino)
            except OSError:
                pass  # not there yet: then it is not in the tree either
        #: one line per directory or file that could not be looked at
        self.errors: list[str] = []
        #: (directory relative to the root, name) of every entry named like a temporary file
        self.temporary: list[tuple[str, str]] = []
        #: every symlink (never followed; a RECORD that is one cannot be rewritten)
        self.links: list[str] = []

    @classmethod
    def file(cls, path: Path) -> TreeSource:
        """A bare file as a tree of one: its directory is the root."""
        return cls(path.parent, single=path.name)

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
        if self.single is not None:
            yield from self._one(self.single)
            return
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
                if looks_temporary(entry.name):
                    self.temporary.append((relative, entry.name))
                elif stat.S_ISDIR(st.st_mode):
                    if (st.st_dev, st.st_ino) != self._skip:
                        subdirs.append(path)
                elif stat.S_ISREG(st.st_mode):
                    yield path, st
                elif stat.S_ISLNK(st.st_mode):
                    self.links.append(path)
                # symlinks, sockets, devices, FIFOs: never followed, never read
            stack.extend(reversed(subdirs))

    def _one(self, name: str) -> Iterator[tuple[str, os.stat_result]]:
        path = self.root / name
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError as exc:
            raise StripwheelError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if not stat.S_ISREG(st.st_mode):
            raise StripwheelError(f"{path}: not a regular file (only files, directories and wheels are taken)")
        yield name, st

    def path(self, relative: str) -> Path:
        return self.root / relative

    def head(self, file: TreeFile, size: int) -> bytes:
        """The file's first bytes; one that cannot be read is noted in ``errors`` (b"")."""
        path = os.path.join(self.root, file.path)
        try:
            fd = os.open(path, READ_FLAGS)  # plain syscalls: a Python installation has thousands of files
            try:
                return os.read(fd, size)
            finally:
                os.close(fd)
        except BlockingIOError:
            return b""  # a FIFO took the file's place since the walk: no binary
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
