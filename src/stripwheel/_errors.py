"""The one error family: library code raises these, and the three boundaries (the command line,
the wrapper backend, the hatch hook) print them the same way, through :func:`error_lines`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Callable, Optional

#: Set (to anything) to have the command line re-raise an unexpected exception, traceback and
#: all, rather than print its one ``internal error`` line.
DEBUG_ENV = "STRIPWHEEL_DEBUG"


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


def error_messages(exc: Exception, where: str = "") -> list[str]:
    """What a boundary says of ``exc``, one message a line: each problem of a
    :class:`ConfigError`, the message of any other :class:`StripwheelError`; anything else is
    a bug, said in one line as ``<where>: internal error: <repr>`` (``where``: the input being
    processed), or re-raised when :data:`DEBUG_ENV` is set."""
    if isinstance(exc, ConfigError):
        return list(exc.problems)
    if isinstance(exc, StripwheelError):
        return [str(exc)]
    if os.environ.get(DEBUG_ENV):
        raise exc
    return [f"{where}: internal error: {exc!r}" if where else f"internal error: {exc!r}"]


def error_lines(exc: Exception, prog: str = "stripwheel", where: str = "") -> list[str]:
    """The lines a boundary prints for ``exc``: ``<prog>: error: <message>`` per message of
    :func:`error_messages`."""
    return [f"{prog}: error: {message}" for message in error_messages(exc, where)]


@contextlib.contextmanager
def build_boundary(show: Callable[[str], object], abort: Optional[Callable[[], object]] = None) -> Iterator[None]:
    """The boundary of a build step (a wrapper backend hook, the hatch hook): a
    :class:`StripwheelError` becomes its :func:`error_lines`, each given to ``show``, then exit
    status 1 (through ``abort`` when the host has its own way out), without a traceback:
    frontends show the build's output, and a traceback would only bury the message. Other
    exceptions pass through untouched: they are the inner backend's or the frontend's to
    report (and an ``AttributeError`` is how a backend answers ``hasattr``)."""
    try:
        yield
    except StripwheelError as exc:
        for line in error_lines(exc):
            show(line)
        if abort is not None:
            abort()
        raise SystemExit(1) from None
