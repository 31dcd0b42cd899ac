"""Files of an installed tree replaced in place, in two steps so a batch pays one sync: ``prepare``
writes the new bytes to a temporary file beside each path (mode, owner, set-id bits and
extended attributes kept; every write checked), and ``commit``, once the data is on disk,
renames them over the old paths, hardlinks inside the tree kept together."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .. import _record, binaries
from .._blob import Blob
from .._durable import copy_metadata, start_writeback, temp_name, write_all
from .walk import Identity, TreeFile

#: Linux ``FS_IOC_GETFLAGS`` and the flags that make a file or directory impossible to replace.
_GETFLAGS = 0x80086601
_IMMUTABLE, _APPEND_ONLY = 0x10, 0x20


class FileError(Exception):
    """One file could not be replaced; it is left as it was."""


@dataclass
class Prepared:
    """A file's new contents on disk beside it, waiting for its rename."""

    file: TreeFile
    #: (path relative to the root, the temporary file beside it), the first path first
    temps: list[tuple[str, Path]]
    #: RECORD values of the new contents ("" when no RECORD lists the file)
    digest: str
    size: int


def prepare(root: Path, file: TreeFile, blob: Blob, result: binaries.Stripped, digest: bool) -> Prepared:
    """Write ``result`` (pieces of ``blob``) beside the file, and a hardlink of it beside each
    of its other paths; hash it when ``digest`` (a RECORD lists it). Raises
    :class:`FileError`, leaving nothing behind."""
    path = root / file.path
    temp = path.parent / temp_name()
    prepared = Prepared(file, [(file.path, temp)], "", result.size)
    hasher = hashlib.sha256() if digest else None
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise FileError(f"{path}: cannot write beside it: {exc.strerror or exc}") from None
    try:
        try:
            for chunk in blob.views(result):
                if hasher is not None:
                    hasher.update(chunk)  # releases the GIL, as the write does: both cores work
                write_all(fd, chunk)
            start_writeback(fd)
            _keep_metadata(path, fd)
        finally:
            os.close(fd)
        for alias in file.aliases:
            link = (root / alias).parent / temp_name()
            os.link(temp, link)
            prepared.temps.append((alias, link))
    except FileError:
        discard(prepared)
        raise
    except OSError as exc:
        discard(prepared)
        raise FileError(f"{path}: cannot write its stripped copy: {exc.strerror or exc}") from None
    if hasher is not None:
        prepared.digest = _record.encode_digest(hasher.digest())
    return prepared


def commit(root: Path, prepared: Prepared) -> list[str]:
    """Rename the temporary files over the paths (each still the file that was read); returns
    the paths that now hold the new contents. Raises :class:`FileError` when none was
    replaced; a hardlink that could not follow is reported in the error, but the paths
    replaced are returned by ``replaced`` on the exception."""
    try:
        for relative, _ in prepared.temps:
            _check_identity(root / relative, prepared.file.identity)
    except FileError:
        discard(prepared)
        raise
    done: list[str] = []
    for relative, temp in prepared.temps:
        try:
            os.replace(temp, root / relative)
        except OSError as exc:
            discard(prepared)
            error = PartlyReplaced(f"{root / relative}: cannot replace: {exc.strerror or exc}")
            error.replaced = done
            raise error from None
        done.append(relative)
    return done


class PartlyReplaced(FileError):
    """Some paths of a hardlinked file were replaced, then one could not be."""

    replaced: list[str]


def discard(prepared: Prepared) -> None:
    """Remove whatever temporary files of ``prepared`` are still there."""
    for _, temp in prepared.temps:
        with contextlib.suppress(OSError):
            temp.unlink()


def _keep_metadata(original: Path, fd: int) -> None:
    """``original``'s owner, mode and extended attributes onto the open file ``fd``, or FileError."""
    try:
        copy_metadata(original, fd)
    except OSError as exc:
        raise FileError(f"{original}: {exc.strerror or exc}") from None


def _check_identity(path: Path, identity: Identity) -> None:
    try:
        now = Identity.of(os.stat(path, follow_symlinks=False))
    except OSError as exc:
        raise FileError(f"{path}: vanished while it was processed: {exc.strerror or exc}") from None
    if now != identity:
        raise FileError(f"{path}: changed while it was processed; left as it is")


def unreplaceable(path: Path) -> Optional[str]:
    """Why a file (or the files of a directory) cannot be replaced by rename, when that can be
    told without trying: immutable or append-only (``chattr``), or a directory we may not
    write to."""
    for where in (path, path.parent):
        try:
            fd = os.open(where, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue
        try:
            flags = struct.unpack_from("i", fcntl.ioctl(fd, _GETFLAGS, b"\0" * 8))[0]
        except OSError:
            flags = 0  # a filesystem without these flags
        finally:
            os.close(fd)
        if flags & (_IMMUTABLE | _APPEND_ONLY):
            return f"{where} is immutable or append-only"
    if not os.access(path.parent, os.W_OK):
        try:
            read_only = bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
        except OSError:
            read_only = False
        return f"{path.parent}: {os.strerror(errno.EROFS if read_only else errno.EACCES)}"
    return None
