"""A meson-built C extension compiled with debug info."""

from ._native import negate

__all__ = ["negate"]
