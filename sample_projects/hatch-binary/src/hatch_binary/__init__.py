"""Calls into ``libgreet.so``, shipped beside this module, through ctypes."""

from __future__ import annotations

import ctypes
from pathlib import Path

_lib = ctypes.CDLL(str(Path(__file__).with_name("libgreet.so")))
_lib.greet.argtypes = [ctypes.c_char_p, ctypes.c_int]
_lib.triple.argtypes = [ctypes.c_int]


def greet() -> str:
    buffer = ctypes.create_string_buffer(64)
    _lib.greet(buffer, len(buffer))
    return buffer.value.decode()


def triple(x: int) -> int:
    return int(_lib.triple(x))
