"""Files made visible only whole and on disk: every write checked, the data synced before the
rename that makes it visible, the directory synced after."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Optional

from ._errors import OutputError

CHUNK = 1 << 20


class AtomicFile:
    """A temporary file beside ``target`` that becomes ``target`` by one rename, or vanishes.

    Every ``OSError`` on the way becomes one :class:`OutputError` naming the path.
    """

    def __init__(self, target: Path, mode: Optional[int]) -> None:
        self.target = target
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as exc:
            raise OutputError(target.parent, exc) from None
        self.path = Path(name)
        self.file: IO[bytes] = os.fdopen(fd, "wb")
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        try:
            os.chmod(name, mode & 0o7777)
        except OSError as exc:
            self.discard()
            raise OutputError(self.path, exc) from None

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
        """Close and rename over the target."""
        try:
            self.file.close()
            os.replace(self.path, self.target)
        except OSError as exc:
            self.discard()
            raise OutputError(self.target, exc) from None

    def discard(self) -> None:
        """Close and remove the temporary file (nothing happens to the target)."""
        with contextlib.suppress(OSError):  # the file is going anyway
            self.file.close()
        self.path.unlink(missing_ok=True)
