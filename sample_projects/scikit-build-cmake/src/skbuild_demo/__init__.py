"""A CMake-built C extension compiled with debug info."""

from ._native import square

__all__ = ["square"]
