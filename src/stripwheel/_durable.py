"""Files made visible only whole and on disk: every write checked, the data synced before the
rename that makes it visible, the directory synced after; temporary names a later run can
recognise and remove when the run that made them was killed."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import functools
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, NamedTuple, Optional, Union

from ._errors import OutputError

CHUNK = 1 << 20

#: ``.stripwheel-<pid>-<hex>.tmp``: short (a 250-byte file name still leaves room), and the pid
#: tells a leftover of a dead run from the file of a run still going.
_OURS = re.compile(r"\.stripwheel-(?P<pid>\d+)-[0-9a-f]{8}\.tmp")
#: Names of earlier versions, which carried no pid: a tree file's temporary file and hardlink,
#: a wheel's temporary file, a debug directory's staging directory.
_LEGACY = re.compile(
    r"\..+\.[A-Za-z0-9_]{8}\.stripwheel|\..+\.stripwheel-link|\..+\.whl\.[A-Za-z0-9_]{8}\.tmp"
    r"|\.stripwheel-staging-[A-Za-z0-9_]{8}"
)

Buffer = Union[bytes, bytearray, memoryview]


def temp_name() -> str:
    """A fresh temporary name for this process."""
    return f".stripwheel-{os.getpid()}-{secrets.token_hex(4)}.tmp"


def looks_temporary(name: str) -> bool:
    """Whether ``name`` has the shape of a stripwheel temporary name (this run's or another's)."""
    return _OURS.fullmatch(name) is not None or _LEGACY.fullmatch(name) is not None


def is_leftover(name: str) -> bool:
    """Whether ``name`` is a temporary file or directory of a stripwheel run that is gone.

    Legacy names carry no pid: they are taken as leftovers, which is right wherever the caller
    holds the lock that keeps other runs out (a tree) and harmless elsewhere (nothing but an
    earlier stripwheel names files that way)."""
    match = _OURS.fullmatch(name)
    if match is None:
        return _LEGACY.fullmatch(name) is not None
    pid = int(match.group("pid"))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, another user's
    return False


def remove_leftovers(directory: Path, names: Iterable[str]) -> list[str]:
    """Remove the leftovers among ``names`` (entries of ``directory``); returns what went."""
    removed = []
    for name in names:
        if not is_leftover(name):
            continue
        path = directory / name
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue  # not ours to fight over: it stays, as it was
        removed.append(str(path))
    return removed


def write_all(fd: int, data: Buffer) -> None:
    """Write every byte of ``data`` or raise: ``os.write`` may write less than it is given
    (a full disk, a signal), and a short count must never pass for success."""
    view = memoryview(data).cast("B")
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def copy_metadata(original: Path, fd: int) -> None:
    """Owner, then mode (a change of owner clears set-id bits), then extended attributes of
    ``original`` onto the open file ``fd``: a file replaced by rename stays what it was for
    everything but its bytes. Raises OSError naming what could not be kept."""
    st = os.stat(original, follow_symlinks=False)
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) != (st.st_uid, st.st_gid):
        try:
            os.fchown(fd, st.st_uid, st.st_gid)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot keep its owner: {exc.strerror}") from None
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    if not hasattr(os, "listxattr"):  # not Linux
        return
    try:
        names = os.listxattr(original, follow_symlinks=False)
    except OSError:
        return  # a filesystem without extended attributes
    for attr in names:
        try:
            os.setxattr(fd, attr, os.getxattr(original, attr, follow_symlinks=False))
        except OSError as exc:
            raise OSError(exc.errno, f"cannot keep extended attribute {attr}: {exc.strerror}") from None


def fsync_dir(directory: Path) -> None:
    """Make the renames in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF):  # filesystems that cannot sync a directory
            raise
    finally:
        os.close(fd)


#: ``sync_file_range`` flag: start writing the dirty pages out, do not wait.
_SYNC_FILE_RANGE_WRITE = 2


class _Libc(NamedTuple):
    """The C library's calls that have no ``os`` function; None where it has no such call."""

    syncfs: Any
    sync_file_range: Any


@functools.cache
def _libc() -> _Libc:
    """Looked up once, and complete before any thread sees it (pool threads start writeback)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return _Libc(None, None)
    syncfs = getattr(libc, "syncfs", None)
    if syncfs is not None:
        syncfs.argtypes = [ctypes.c_int]
        syncfs.restype = ctypes.c_int
    sync_file_range = getattr(libc, "sync_file_range", None)
    if sync_file_range is not None:
        sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
        sync_file_range.restype = ctypes.c_int
    return _Libc(syncfs, sync_file_range)


def start_writeback(fd: int) -> None:
    """Have the kernel start writing ``fd``'s data to disk now, without waiting (Linux
    ``sync_file_range``): the sync that later makes a batch durable then finds it mostly done,
    instead of starting all of it at once. Nothing happens where there is no such call."""
    sync_file_range = _libc().sync_file_range
    if sync_file_range is not None:
        sync_file_range(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)  # a hint: its failure changes nothing


def syncfs(directory: Path) -> bool:
    """Flush the whole filesystem holding ``directory`` with one call (Linux ``syncfs``): the
    cost of a batch of files is paid once, not per file. False where there is no syncfs."""
    call = _libc().syncfs
    if call is None:
        return False
    fd = os.open(directory, os.O_RDONLY)
    try:
        if call(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(directory))
    finally:
        os.close(fd)
    return True


def fsync_path(path: Path) -> None:
    """Sync one closed file's data (the fallback without syncfs)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicFile:
    """A temporary file beside ``target`` that becomes ``target`` by one rename, or vanishes.

    ``commit`` syncs the data before the rename and the directory after, so after a crash the
    target is either the old file or the whole new one. Every ``OSError`` on the way becomes
    one :class:`OutputError` naming the path.
    """

    def __init__(self, target: Path, mode: Optional[int], like: Optional[Path] = None) -> None:
        """``mode`` for the new file; ``like``: a file whose owner, mode and extended
        attributes it takes instead (the file it replaces)."""
        self.target = target
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            remove_leftovers(target.parent, os.listdir(target.parent))
            self.path = target.parent / temp_name()
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            raise OutputError(target.parent, exc) from None
        # A buffered writer retries short writes itself and raises on a real error.
        self.file: IO[bytes] = os.fdopen(fd, "wb")
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        try:
            if like is not None:
                copy_metadata(like, self.file.fileno())
            else:
                os.chmod(self.path, mode & 0o7777)
        except OSError as exc:
            self.discard()
            raise OutputError(like or self.path, exc) from None

    def write(self, data: bytes, /) -> int:
        try:
            return self.file.write(data)
        except OSError as exc:
            raise OutputError(self.target, exc) from None

    def copy_from(self, source: Path) -> None:
        """Fill the file with ``source``'s bytes (the input unchanged, for ``-w DIR``)."""
        with open(source, "rb") as src:
            while chunk := src.read(CHUNK):
                self.write(chunk)

    def commit(self) -> None:
        """Flush, sync, close, rename over the target, sync the directory."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.path, self.target)
            fsync_dir(self.target.parent)
        except OSError as exc:
            self.discard()
            raise OutputError(self.target, exc) from None

    def discard(self) -> None:
        """Close and remove the temporary file (nothing happens to the target)."""
        with contextlib.suppress(OSError):  # the file is going anyway
            self.file.close()
        with contextlib.suppress(OSError):
            self.path.unlink()
