"""Debug files kept out of the wheel, in the layouts gdb, debuginfod and symbol servers read
(by build-id) or where every debugger looks with no setup (beside the binary, by path):
staged while a run goes, put in place (each by one rename) only once it has succeeded."""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import tempfile
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .. import _record
from .._durable import fsync_dir, fsync_path, remove_leftovers, start_writeback, syncfs, temp_name
from .._errors import StripwheelError

if TYPE_CHECKING:
    from ..wheel.encode import Encoded as Deflated

Layout = str  # "build-id", "debuginfod", "beside" or "wheel" (checked by the options model)

#: Layouts that place a debug file by its binary's path, not by build-id (SPEC 5a).
BY_PATH = frozenset({"beside", "wheel"})


class DebugStoreError(StripwheelError):
    """The debug directory cannot take a file; nothing of the run is put in place."""


@dataclass(frozen=True)
class DebugFile:
    """One debug file: where it goes (relative to the store), its size and CRC-32."""

    path: str
    size: int
    crc: int
    sha256: str


def beside(path: str) -> str:
    """Where gdb, lldb, libdwfl, llvm-symbolizer and perf look, with no configuration, for the
    debug file of the binary at ``path``: ``.debug/<name>.debug`` in its own directory (the
    name its ``.gnu_debuglink`` carries)."""
    directory, name = posixpath.split(path)
    return posixpath.join(directory, ".debug", f"{name}.debug")


def relative_path(layout: Layout, build_id: Optional[str], fallback: str) -> str:
    """Where a debug file goes: by build-id in the chosen layout, else ``fallback`` (which,
    for the layouts by path, is the place beside the binary)."""
    if build_id is None or layout in BY_PATH:
        return fallback
    if layout == "debuginfod":
        return f"buildid/{build_id}/debuginfo"
    return f".build-id/{build_id[:2]}/{build_id[2:]}.debug"


class DebugStore:
    """A debug directory for one run: files are written to a staging directory inside it, and
    moved into place by ``commit`` (layout ``wheel``: packed into the companion wheel, see
    ``companion``); ``discard`` leaves the directory as it was."""

    def __init__(self, root: Path, layout: Layout, dry_run: bool = False) -> None:
        self.root = root
        self.layout = layout
        self.dry_run = dry_run
        #: files are placed by their binary's path: no build-id needed, no collision rule
        self.by_path = layout in BY_PATH
        self._staging: Optional[Path] = None
        #: path -> (file, where it is staged, the binaries whose debuglinks name it)
        self._staged: dict[str, tuple[DebugFile, Optional[Path], list[str]]] = {}
        self._lock = threading.Lock()  # binaries are stripped on several threads

    def _stage_dir(self) -> Path:
        with self._lock:
            return self._make_stage_dir()

    def _make_stage_dir(self) -> Path:
        if self._staging is None:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                remove_leftovers(self.root, os.listdir(self.root))  # staging of killed runs
                staging = self.root / temp_name()
                staging.mkdir()
                self._staging = staging
            except OSError as exc:
                raise DebugStoreError(f"cannot write debug files to {self.root}: {exc.strerror or exc}") from None
        return self._staging

    def add(self, build_id: Optional[str], fallback: str, owner: str, chunks: Iterable[bytes]) -> DebugFile:
        """Stage one debug file (``owner`` names the binary, for messages). The same file again
        (two identical binaries) is fine; a different file for the same build-id, staged by
        another binary or already in place, is an error naming both."""
        relative = self._relative(build_id, fallback, owner)
        crc, size, hasher = 0, 0, hashlib.sha256()

        def summed() -> Iterator[bytes]:
            nonlocal crc, size
            for chunk in chunks:
                crc, size = zlib.crc32(chunk, crc), size + len(chunk)
                hasher.update(chunk)
                yield chunk

        staged: Optional[Path] = None
        if self.dry_run:
            for _ in summed():
                pass
        else:
            staged = self._write(summed())
        return self._register(DebugFile(relative, size, crc, hasher.hexdigest()), staged, owner)

    def add_deflated(self, build_id: Optional[str], fallback: str, owner: str, member: Deflated) -> DebugFile:
        """Stage one debug file as the companion wheel's member: a raw deflate stream, made on
        the threads that strip (reusing the input wheel's compressed blocks where it can)
        rather than in one pass at the end. Otherwise as :meth:`add`."""
        relative = self._relative(build_id, fallback, owner)
        staged = None if self.dry_run else self._write(member.chunks())
        sha256 = _record.decode_digest(member.digest).hex()
        return self._register(DebugFile(relative, member.file_size, member.crc, sha256), staged, owner)

    def _relative(self, build_id: Optional[str], fallback: str, owner: str) -> str:
        relative = relative_path(self.layout, build_id, fallback)
        normal = posixpath.normpath(relative)
        if relative.startswith("/") or normal == ".." or normal.startswith("../") or normal != relative:
            # A debug file never leaves the directory, whatever a tree's or a member's name is.
            raise DebugStoreError(f"{owner}: its debug file name {relative!r} would leave {self.root}")
        return relative

    def _write(self, chunks: Iterable[bytes]) -> Path:
        """A new file in the staging directory holding ``chunks``."""
        fd, name = tempfile.mkstemp(dir=self._stage_dir())
        staged = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                if self.layout != "wheel":
                    # Put in place as it is: its data goes to disk now, while the run goes on,
                    # rather than all of the files' at the sync before they are renamed.
                    out.flush()
                    start_writeback(out.fileno())
            os.chmod(staged, 0o644)
        except OSError as exc:
            staged.unlink(missing_ok=True)
            raise DebugStoreError(f"cannot write debug files to {self.root}: {exc.strerror or exc}") from None
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        return staged

    def _register(self, file: DebugFile, staged: Optional[Path], owner: str) -> DebugFile:
        with self._lock:
            try:
                self._check(file, owner)
            except DebugStoreError:
                if staged is not None:
                    staged.unlink(missing_ok=True)
                raise
            earlier = self._staged.get(file.path)
            if earlier is not None:
                if staged is not None:
                    staged.unlink(missing_ok=True)
                earlier[2].append(owner)
                return earlier[0]
            self._staged[file.path] = (file, staged, [owner])
        return file

    def forget(self, relative: str, owner: str) -> None:
        """``owner`` was left as it was, debug info and all: its file goes unless another
        binary's debuglink names it too."""
        with self._lock:
            entry = self._staged.get(relative)
            if entry is None or owner not in entry[2]:
                return
            entry[2].remove(owner)
            if entry[2]:
                return
            del self._staged[relative]
        if entry[1] is not None:
            entry[1].unlink(missing_ok=True)

    @property
    def files(self) -> list[DebugFile]:
        return [file for file, _, _ in self._staged.values()]

    def _check(self, file: DebugFile, owner: str) -> None:
        earlier = self._staged.get(file.path)
        if earlier is not None and earlier[0].sha256 != file.sha256:
            if self.by_path:
                raise DebugStoreError(
                    f"{self.root / file.path}: {owner} and {earlier[2][0]} would both have their debug file here"
                )
            raise DebugStoreError(
                f"{self.root / file.path}: {owner} and {earlier[2][0]} share a build-id but not their debug files"
            )
        if self.by_path:
            return  # a file from an earlier build at the binary's path is replaced, not a collision
        existing = self.root / file.path
        if earlier is None and existing.exists() and _sha256(existing) != file.sha256:
            raise DebugStoreError(f"{existing}: a different debug file for this build-id is already there ({owner})")

    def staged(self, relative: str) -> Optional[Path]:
        """Where the file for ``relative`` waits, when it still does."""
        with self._lock:
            entry = self._staged.get(relative)
        return entry[1] if entry is not None and entry[1] is not None and entry[1].exists() else None

    def staged_files(self) -> list[tuple[DebugFile, Path]]:
        """Every staged file and where it waits, in path order (the companion's members)."""
        with self._lock:
            return [(file, staged) for _, (file, staged, _) in sorted(self._staged.items()) if staged is not None]

    def _in_place(self, file: DebugFile, target: Path) -> bool:
        """Whether ``target`` already holds ``file``: by build-id, any file there does (a
        different one was refused when staged); by path, only an identical one, since a file
        from an earlier build of the binary is stale and its CRC no longer matches."""
        if not target.exists():
            return False
        return not self.by_path or _sha256(target) == file.sha256

    def commit_one(self, relative: str) -> None:
        """Put one staged file in place now (an installed tree: before its binary changes)."""
        with self._lock:
            entry = self._staged.get(relative)
        if entry is None or entry[1] is None or not entry[1].exists():
            return
        target = self.root / relative
        try:
            if not self._in_place(entry[0], target):
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(entry[1], target)
        except OSError as exc:
            raise DebugStoreError(f"cannot write debug files to {self.root}: {exc.strerror or exc}") from None

    def commit(self) -> None:
        """Put every staged file in place, synced before and after; identical files already
        there are left alone."""
        try:
            moves = []
            for relative, (file, staged, _) in sorted(self._staged.items()):
                target = self.root / relative
                if staged is None or not staged.exists() or self._in_place(file, target):
                    continue  # dry run, put in place by commit_one, or already there
                moves.append((staged, target))
            if not moves:
                return
            if not syncfs(self.root):
                for staged, _ in moves:
                    fsync_path(staged)
            for staged, target in moves:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, target)
            if not syncfs(self.root):
                for directory in {target.parent for _, target in moves}:
                    fsync_dir(directory)
        except OSError as exc:
            raise DebugStoreError(f"cannot write debug files to {self.root}: {exc.strerror or exc}") from None
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the staging directory and whatever it still holds."""
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()
