"""The PEP 517/660 wrapper backend: the backend named by ``[tool.stripwheel] backend`` builds,
then the engine strips the wheel it made.

``build_wheel``, ``build_sdist`` and ``get_requires_for_build_wheel`` are plain functions: to
every frontend a missing ``get_requires_for_build_wheel`` means ``[]``, so it can always exist,
and with ``verify = true`` it adds LIEF. The other optional hooks must exist exactly when the
inner backend has them (frontends probe with ``hasattr`` and change behaviour on the answer: pip
and pyproject_hooks fall back to building a whole wheel for metadata, and refuse ``pip install
-e`` without ``build_editable``). A module cannot know that at import time, since the inner
backend is imported lazily (it is not needed to import this module, and is imported only once a
hook needs it), so those hooks are served by a module ``__getattr__`` (PEP 562): looking one up
imports the inner backend and either returns a wrapper that forwards ``config_settings`` or
raises ``AttributeError``, which is what ``hasattr`` and ``getattr(backend, name)``-then-``except
AttributeError`` expect. Any other unknown name raises ``AttributeError`` at once, without
touching the inner backend.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar, cast

from ._config import Config, foreign_settings, pyproject_layer, resolve, settings_layer
from ._errors import ConfigError, build_boundary

__all__ = ["build_sdist", "build_wheel", "get_requires_for_build_wheel"]

Settings = Optional[Mapping[str, Any]]
F = TypeVar("F", bound=Callable[..., Any])

#: Looked up by frontends on the backend object itself (pyproject_hooks, when build_sdist fails).
FORWARDED_ATTRIBUTES = frozenset({"UnsupportedOperation"})

_loaded: dict[tuple[str, tuple[str, ...]], Any] = {}


def _reports_errors(hook: F) -> F:
    """stripwheel's errors become one ``stripwheel: error: …`` line each on stderr and exit
    status 1 (:func:`~stripwheel._errors.build_boundary`): frontends show the backend's stderr."""

    @functools.wraps(hook)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with build_boundary(lambda line: print(line, file=sys.stderr)):
            return hook(*args, **kwargs)

    return cast(F, wrapper)


def _config(config_settings: Settings) -> Config:
    """``[tool.stripwheel]`` of the project being built, ``stripwheel.*`` settings on top."""
    # PEP 517 runs hooks in the project root: relative paths there are the project's.
    return resolve(pyproject_layer(Path("pyproject.toml")), settings_layer(config_settings)).anchored(Path.cwd())


def _inner(config: Config) -> Any:
    """The inner backend object, imported once (PEP 517 rules for ``backend-path``)."""
    if config.backend is None:
        hint = 'name the backend that really builds, e.g. backend = "setuptools.build_meta"'
        raise ConfigError([f"tool.stripwheel.backend: missing; {hint}"])
    key = (config.backend, config.backend_path)
    if key not in _loaded:
        _loaded[key] = _import(config.backend, config.backend_path)
    return _loaded[key]


def _import(reference: str, backend_path: tuple[str, ...]) -> Any:
    module_name, _, attribute = reference.partition(":")
    if module_name == __name__:
        raise ConfigError([f"tool.stripwheel.backend: {reference!r} would wrap itself"])
    root = Path.cwd().resolve()
    paths = []
    for entry in backend_path:
        path = (root / entry).resolve()
        if path != root and root not in path.parents:  # PEP 517: must stay inside the tree
            raise ConfigError([f"tool.stripwheel.backend-path: {entry!r} lies outside the project"])
        paths.append(str(path))
    sys.path[:0] = paths
    try:
        backend: Any = importlib.import_module(module_name)
        for part in filter(None, attribute.split(".")):
            backend = getattr(backend, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError([f"tool.stripwheel.backend: cannot import {reference!r}: {exc}"]) from None
    return backend


@_reports_errors
def build_wheel(wheel_directory: str, config_settings: Settings = None, metadata_directory: str | None = None) -> str:
    """The inner backend's wheel, stripped in place; returns its final file name."""
    # The engine is imported here, not at the top: every other hook runs in a process of its
    # own (PEP 517 frontends), and importing the engine costs more than those hooks do.
    from ._report import render_strip
    from .wheel.executor import process_wheel

    config = _config(config_settings)
    if config.verify:
        from . import _verify

        _verify.require()  # fail before the inner backend builds anything
    inner = _inner(config)
    name = inner.build_wheel(wheel_directory, foreign_settings(config_settings), metadata_directory)
    report = process_wheel(Path(wheel_directory) / name, config)
    print(render_strip(report), file=sys.stderr)
    return Path(report.output or name).name


@_reports_errors
def build_sdist(sdist_directory: str, config_settings: Settings = None) -> str:
    """The inner backend's sdist, untouched."""
    inner = _inner(_config(config_settings))
    return cast(str, inner.build_sdist(sdist_directory, foreign_settings(config_settings)))


def _inner_hook(name: str, config_settings: Settings) -> Any:
    return getattr(_inner(_config(config_settings)), name)


@_reports_errors
def get_requires_for_build_wheel(config_settings: Settings = None) -> list[str]:
    """The inner backend's requirements, and LIEF when ``verify`` is on: an isolated build
    environment then has what the verification needs without the project listing it."""
    config = _config(config_settings)
    hook = getattr(_inner(config), "get_requires_for_build_wheel", None)
    requires = list(hook(foreign_settings(config_settings))) if hook is not None else []
    if config.verify:
        from ._verify import REQUIREMENT

        requires.append(REQUIREMENT)
    return requires


# The other optional hooks (PEP 517, PEP 660), served by __getattr__ under their own names.


@_reports_errors
def _get_requires_for_build_sdist(config_settings: Settings = None) -> list[str]:
    hook = _inner_hook("get_requires_for_build_sdist", config_settings)
    return cast("list[str]", hook(foreign_settings(config_settings)))


@_reports_errors
def _get_requires_for_build_editable(config_settings: Settings = None) -> list[str]:
    hook = _inner_hook("get_requires_for_build_editable", config_settings)
    return cast("list[str]", hook(foreign_settings(config_settings)))


@_reports_errors
def _prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: Settings = None) -> str:
    hook = _inner_hook("prepare_metadata_for_build_wheel", config_settings)
    return cast(str, hook(metadata_directory, foreign_settings(config_settings)))


@_reports_errors
def _prepare_metadata_for_build_editable(metadata_directory: str, config_settings: Settings = None) -> str:
    hook = _inner_hook("prepare_metadata_for_build_editable", config_settings)
    return cast(str, hook(metadata_directory, foreign_settings(config_settings)))


@_reports_errors
def _build_editable(
    wheel_directory: str, config_settings: Settings = None, metadata_directory: str | None = None
) -> str:
    """PEP 660: the inner backend's editable wheel, untouched (its binaries stay in the tree)."""
    hook = _inner_hook("build_editable", config_settings)
    return cast(str, hook(wheel_directory, foreign_settings(config_settings), metadata_directory))


_OPTIONAL_HOOKS: dict[str, Callable[..., Any]] = {
    "get_requires_for_build_sdist": _get_requires_for_build_sdist,
    "get_requires_for_build_editable": _get_requires_for_build_editable,
    "prepare_metadata_for_build_wheel": _prepare_metadata_for_build_wheel,
    "prepare_metadata_for_build_editable": _prepare_metadata_for_build_editable,
    "build_editable": _build_editable,
}


@_reports_errors
def __getattr__(name: str) -> Any:
    """Optional hooks and forwarded attributes exist exactly when the inner backend has them."""
    if name not in _OPTIONAL_HOOKS and name not in FORWARDED_ATTRIBUTES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    inner = _inner(_config(None))
    if not hasattr(inner, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r} ({inner!r} has none)")
    return getattr(inner, name) if name in FORWARDED_ATTRIBUTES else _OPTIONAL_HOOKS[name]
