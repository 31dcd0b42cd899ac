"""stripwheel: strip the native binaries inside Python wheels and keep RECORD correct.

The public API::

    from pathlib import Path
    import stripwheel

    config = stripwheel.Config.from_options({"strip": "debug", "exclude": ["*.dylib"]})
    report = stripwheel.process_wheel(Path("dist/pkg-1.0-cp311-cp311-linux_x86_64.whl"), config)
    print(report.installed_size_before, report.installed_size_after)
    listing = stripwheel.inspect_wheel(Path("dist/pkg-1.0-cp311-cp311-linux_x86_64.whl"))

- :func:`process_wheel` (wheel, config, ``output_dir=``, ``dry_run=``) rewrites one wheel and
  returns a :class:`WheelReport`; :func:`inspect_wheel` returns an :class:`InspectReport`.
- :class:`Config` holds the options (the keys of ``[tool.stripwheel]``).
- Every failure is a :class:`StripwheelError`: :class:`ConfigError` (options),
  :class:`WheelError` (a corrupt or unprocessable wheel), :class:`OutputError` (the result
  could not be written). The input wheel is never modified when one is raised.

Names are imported on first use, so ``stripwheel --help`` does not load the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "process_wheel": "wheel.executor",
    "inspect_wheel": "wheel.inspect",
    "Config": "_config",
    "WheelReport": "_report",
    "InspectReport": "_report",
    "BinaryReport": "_report",
    "BinaryView": "_report",
    "SliceView": "_report",
    "StripwheelError": "_errors",
    "ConfigError": "_errors",
    "WheelError": "_errors",
    "OutputError": "_errors",
}

__all__ = [
    "BinaryReport",
    "BinaryView",
    "Config",
    "ConfigError",
    "InspectReport",
    "OutputError",
    "SliceView",
    "StripwheelError",
    "WheelError",
    "WheelReport",
    "__version__",
    "inspect_wheel",
    "process_wheel",
]

if TYPE_CHECKING:
    from ._config import Config
    from ._errors import ConfigError, OutputError, StripwheelError, WheelError
    from ._report import BinaryReport, BinaryView, InspectReport, SliceView, WheelReport
    from .wheel.executor import process_wheel
    from .wheel.inspect import inspect_wheel


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
