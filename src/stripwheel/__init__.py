"""stripwheel: strip the native binaries inside Python wheels and keep RECORD correct."""

from __future__ import annotations

__version__ = "0.1.0"
