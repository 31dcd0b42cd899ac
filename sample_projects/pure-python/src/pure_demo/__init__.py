"""A pure package: nothing to strip, everything to keep."""

from importlib import resources

from .sub.helpers import shout

__all__ = ["message", "shout"]


def message() -> str:
    return resources.files(__name__).joinpath("data/message.txt").read_text(encoding="utf-8").strip()
