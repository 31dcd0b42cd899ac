"""A C extension compiled with debug info."""

from ._speedups import add

__all__ = ["add"]
