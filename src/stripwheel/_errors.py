"""The one error family: library code raises these, the three boundaries print them as one line."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


class StripwheelError(Exception):
    """Base of every error stripwheel reports to a user."""


class ConfigError(StripwheelError):
    """One or more configuration problems, collected before anything is built or written."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(problems)
        self.problems = list(problems)

    def __str__(self) -> str:
        return "; ".join(self.problems)


class WheelError(StripwheelError):
    """A wheel that cannot be processed: corrupt, unsafe, or failing a check."""

    def __init__(self, wheel: str, message: str, member: str | None = None) -> None:
        super().__init__(wheel, message, member)
        self.wheel = wheel
        self.member = member
        self.message = message

    def __str__(self) -> str:
        where = f"{self.wheel}: {printable(self.member)}" if self.member else self.wheel
        return f"{where}: {self.message}"


class OutputError(StripwheelError):
    """Writing the output failed (a directory that cannot be created, a full disk, no
    permission): the input is untouched."""

    def __init__(self, path: Path, exc: OSError) -> None:
        super().__init__(str(path), exc.strerror or str(exc))
        self.path = path
        self.reason = exc.strerror or str(exc)

    def __str__(self) -> str:
        return f"cannot write {os.fspath(self.path)}: {self.reason}"


def printable(name: str) -> str:
    """A member name safe to print on one line: control and line-break characters escaped."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in name)
