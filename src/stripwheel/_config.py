"""The options of ``[tool.stripwheel]``: one model fed by pyproject, the hatch hook table,
``config_settings`` and the command line, validated in one place.

Layers are merged key by key, later layers winning:
``[tool.stripwheel]`` < hook table < ``config_settings`` (``stripwheel.<key>``) < CLI flags.
Every problem in every layer is collected and reported together.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Literal, Optional, get_args

from ._errors import ConfigError

# Each option's allowed values are spelled once, in its Literal: the tuples below, the README
# table's values column, the checks and the CLI's choices all come from it.
StripLevel = Literal["all", "debug", "none"]
BytecodeMode = Literal["keep", "drop", "compile"]
OptimizeLevel = Literal[0, 1, 2]
InvalidationMode = Literal["checked-hash", "unchecked-hash", "timestamp"]
SplitDebugLayout = Literal["build-id", "debuginfod", "beside", "wheel"]

STRIP_LEVELS: tuple[StripLevel, ...] = get_args(StripLevel)
BYTECODE_MODES: tuple[BytecodeMode, ...] = get_args(BytecodeMode)
OPTIMIZE_LEVELS: tuple[OptimizeLevel, ...] = get_args(OptimizeLevel)
INVALIDATION_MODES: tuple[InvalidationMode, ...] = get_args(InvalidationMode)
SPLIT_DEBUG_LAYOUTS: tuple[SplitDebugLayout, ...] = get_args(SplitDebugLayout)

#: Keys hatchling puts into every build hook's table; they are hatchling's, not ours.
HATCH_RESERVED_KEYS = frozenset(
    {
        "dependencies",
        "require-runtime-dependencies",
        "require-runtime-features",
        "enable-by-default",
    }
)

#: Prefix of the ``config_settings`` keys that belong to stripwheel.
SETTINGS_PREFIX = "stripwheel."


OptionKind = Literal["text", "paths", "choice", "globs", "bool", "levels", "dir"]


def _option(
    default: Any, kind: OptionKind, values: str, doc: str, *, cli: bool = True, choices: tuple[str | int, ...] = ()
) -> Any:
    """A :class:`Config` field with what the CLI, the README table and the checks need."""
    metadata = {"kind": kind, "values": values, "doc": doc, "cli": cli, "choices": choices}
    return field(default=default, metadata=metadata)


def _choice_option(default: str, choices: tuple[str, ...], doc: str) -> Any:
    """A field taking one of ``choices`` (its Literal's values), listed in the README's values column."""
    return _option(default, "choice", ", ".join(f'`"{c}"`' for c in choices), doc, choices=choices)


def _listed(levels: tuple[int, ...]) -> str:
    """``0, 1, 2``, as messages name the optimisation levels."""
    return ", ".join(map(str, levels))


@dataclass(frozen=True)
class Config:
    """All options; field names are the TOML keys with dashes turned into underscores. Each
    field's ``doc`` is the text of the README's options table and of ``--help``."""

    backend: Optional[str] = _option(
        None,
        "text",
        '`"pkg.module"` or `"pkg.module:obj"`',
        "the backend that really builds (wrapper backend only)",
        cli=False,
    )
    backend_path: tuple[str, ...] = _option(
        (), "paths", "list of directories", "for an in-tree backend, as PEP 517 `backend-path`", cli=False
    )
    strip: StripLevel = _choice_option(
        "all",
        STRIP_LEVELS,
        "`all`: debug info and the static symbol table (ELF like `strip --strip-unneeded`, `--strip-all` for "
        "executables; Mach-O like `strip -x`; PE: debug sections and the COFF symbol table); `debug`: debug info "
        "only (ELF like `strip --strip-debug`, which also drops the symbol table's file names); `none`: binaries "
        "untouched",
    )
    include: tuple[str, ...] = _option(("**",), "globs", "list of globs", "members that are candidates")
    exclude: tuple[str, ...] = _option((), "globs", "list of globs", "members never touched")
    verify: bool = _option(
        False,
        "bool",
        "bool",
        "re-read every rewritten binary with LIEF and keep the original wherever its dynamic interface differs; "
        "the summary counts the binaries verified. The CLI needs `pip install 'stripwheel[verify]'`; the wrapper "
        "backend and the hook add LIEF to the wheel's build requirements themselves",
    )
    bytecode: BytecodeMode = _choice_option(
        "keep",
        BYTECODE_MODES,
        "`drop` removes every `.pyc` and `__pycache__/`; `compile` adds `__pycache__/*.pyc` for every `.py`",
    )
    optimize: tuple[OptimizeLevel, ...] = _option(
        (0,),
        "levels",
        ", ".join(f"`{n}`" for n in OPTIMIZE_LEVELS) + " or a list",
        "optimisation levels for `compile`",
        choices=OPTIMIZE_LEVELS,
    )
    invalidation_mode: InvalidationMode = _choice_option(
        "checked-hash", INVALIDATION_MODES, "PEP 552 mode of compiled `.pyc`"
    )
    sourceless: bool = _option(False, "bool", "bool", "with `compile`: ship `module.pyc` in place of `module.py`")
    split_debug: Optional[str] = _option(
        None,
        "dir",
        "a directory",
        "before an ELF binary is stripped, what the level removes goes to a debug file under it, and the "
        "binary gets a `.gnu_debuglink`; relative to the current directory (CLI) or the project root "
        "(wrapper backend, hook)",
    )
    split_debug_layout: SplitDebugLayout = _choice_option(
        "build-id",
        SPLIT_DEBUG_LAYOUTS,
        "`build-id`: `DIR/.build-id/xx/rest.debug` (gdb's `debug-file-directory`, `debuginfod -F`); "
        "`debuginfod`: `DIR/buildid/<id>/debuginfo`, a static symbol store any web server can host; "
        "`beside`: the input's paths mirrored, `pkg/_ext.so` getting `DIR/pkg/.debug/_ext.so.debug`, where "
        "debuggers look with no setup once DIR is laid over the installed tree; `wheel` (wheels only): a "
        "companion wheel `DIR/<name>_debug-<version>-<tags>.whl` that installs each debug file there",
    )
    debug_wheel_name: str = _option(
        "{name}-debug",
        "text",
        "a distribution name; `{name}` is the wheel's",
        'with `split-debug-layout = "wheel"`: the companion\'s distribution name (`{name}`: the main '
        "distribution's, as its METADATA spells it); it requires the main distribution at the same version",
    )
    mini_debuginfo: bool = _option(
        False,
        "bool",
        "bool",
        'at `strip = "all"`, stripped ELF binaries keep their function names in an xz-compressed '
        "`.gnu_debugdata` section (MiniDebugInfo), for backtraces without debug files",
    )

    def anchored(self, base: Path) -> Config:
        """The same options with a relative ``split-debug`` made absolute against ``base``."""
        if self.split_debug is None or Path(self.split_debug).is_absolute():
            return self
        return replace(self, split_debug=str(base / self.split_debug))

    @classmethod
    def from_options(cls, options: Mapping[str, Any], where: str = "options") -> Config:
        """Options given as TOML would give them (dashed keys), checked like any other layer;
        raises :class:`ConfigError` naming every problem."""
        return resolve(Layer(where, options))


@dataclass(frozen=True)
class Option:
    """One option as the CLI and the README present it."""

    key: str
    attr: str
    default: Any
    kind: OptionKind
    values: str
    doc: str
    cli: bool
    #: the values a ``choice`` or ``levels`` option takes (its Literal's), for the checks and the CLI
    choices: tuple[str | int, ...]


OPTIONS: tuple[Option, ...] = tuple(
    Option(f.name.replace("_", "-"), f.name, f.default, **f.metadata) for f in fields(Config)
)
KEYS: tuple[str, ...] = tuple(o.key for o in OPTIONS)


def toml_value(value: object) -> str:
    """A default as TOML spells it: ``"all"``, ``false``, ``[]``, ``0``; — for none."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, tuple):
        if len(value) == 1 and isinstance(value[0], int):
            return f"`{value[0]}`"
        return "`[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value) + "]`"
    return f'`"{value}"`' if isinstance(value, str) else f"`{value}`"


def options_table() -> str:
    """The README's options table, generated from :class:`Config` (a test keeps them equal)."""
    lines = ["| key | values | default | meaning |", "|---|---|---|---|"]
    lines += [f"| `{o.key}` | {o.values} | {toml_value(o.default)} | {o.doc} |" for o in OPTIONS]
    return "\n".join(lines)


# --- value checkers: each takes (value, from_string) and returns the value or raises ValueError.


def _choice(choices: Sequence[str]) -> Callable[[object, bool], object]:
    def check(value: object, from_string: bool) -> object:
        if not isinstance(value, str) or value not in choices:
            raise ValueError("is not one of " + ", ".join(repr(c) for c in choices))
        return value

    return check


def _boolean(value: object, from_string: bool) -> object:
    if isinstance(value, bool):
        return value
    if from_string and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
    raise ValueError("is not a boolean (true or false)")


def _string_list(value: object, from_string: bool) -> tuple[str, ...]:
    items = _as_list(value, from_string)
    if not all(isinstance(item, str) and item for item in items):
        raise ValueError("is not a list of non-empty strings")
    return tuple(items)  # type: ignore[arg-type]


def _as_list(value: object, from_string: bool) -> list[object]:
    """Lists stay lists; from a command line, a comma-separated string is a list too."""
    if isinstance(value, (list, tuple)):
        out: list[object] = []
        for item in value:
            if from_string and isinstance(item, str):
                out.extend(part.strip() for part in item.split(",") if part.strip())
            else:
                out.append(item)
        return out
    if from_string and isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    raise ValueError("is not a list")


def _globs(value: object, from_string: bool) -> object:
    globs = _string_list(value, from_string)
    for glob in globs:
        try:
            compile_glob(glob)
        except re.error as exc:
            raise ValueError(f"has a malformed glob {glob!r} ({exc})") from None
    return globs


def _optimize(value: object, from_string: bool) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        items: list[object] = [value]
    else:
        try:
            items = _as_list(value, from_string)
        except ValueError:
            raise ValueError(f"is not one of {_listed(OPTIMIZE_LEVELS)} or a list of them") from None
    levels: list[int] = []
    for item in items:
        if from_string and isinstance(item, str) and item.strip().isdigit():
            item = int(item.strip())
        if isinstance(item, bool) or not isinstance(item, int) or item not in OPTIMIZE_LEVELS:
            raise ValueError(f"is not one of {_listed(OPTIMIZE_LEVELS)} or a list of them")
        if item not in levels:
            levels.append(item)
    if not levels:
        raise ValueError(f"is an empty list (give at least one of {_listed(OPTIMIZE_LEVELS)})")
    return tuple(sorted(levels))


_BACKEND_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*(:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*)?$")


def _backend(value: object, from_string: bool) -> object:
    if not isinstance(value, str) or not _BACKEND_RE.match(value.strip()):
        raise ValueError("is not a backend reference like 'pkg.module' or 'pkg.module:object'")
    return value.strip()


#: A distribution name (PEP 508 / core metadata ``Name``).
_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def _debug_wheel_name(value: object, from_string: bool) -> object:
    if not isinstance(value, str):
        raise ValueError("is not a distribution name template like '{name}-debug'")
    if value.strip() == "{name}":
        raise ValueError("names the main distribution itself (try '{name}-debug')")
    if not _NAME_RE.match(value.replace("{name}", "x")):
        # ``{name}`` is the only placeholder: anything else in braces is a typo, not a name.
        raise ValueError("is not a distribution name once {name} is filled in (letters, digits, '.', '_', '-')")
    return value


def _directory(value: object, from_string: bool) -> object:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("is not a directory path")
    return value


CHECKS: dict[str, Callable[[object, bool], object]] = {
    "backend": _backend,
    "backend-path": _string_list,
    "strip": _choice(STRIP_LEVELS),
    "include": _globs,
    "exclude": _globs,
    "verify": _boolean,
    "bytecode": _choice(BYTECODE_MODES),
    "optimize": _optimize,
    "invalidation-mode": _choice(INVALIDATION_MODES),
    "sourceless": _boolean,
    "split-debug": _directory,
    "split-debug-layout": _choice(SPLIT_DEBUG_LAYOUTS),
    "mini-debuginfo": _boolean,
    "debug-wheel-name": _debug_wheel_name,
}


@dataclass(frozen=True)
class Layer:
    """One source of options: its name for messages (a TOML path or ``config_settings``),
    its raw key/value pairs, and whether values arrive as strings (command lines)."""

    where: str
    values: Mapping[str, Any]
    from_strings: bool = False


def resolve(*layers: Layer) -> Config:
    """Validate every layer and merge them, later layers winning; raise all problems at once."""
    problems: list[str] = []
    merged: dict[str, object] = {}
    for layer in layers:
        for key, raw in layer.values.items():
            if key not in CHECKS:
                problems.append(_unknown_key(layer.where, key))
                continue
            try:
                merged[key] = CHECKS[key](raw, layer.from_strings)
            except ValueError as exc:
                problems.append(f"{layer.where}.{key}: {_show(raw)} {exc}")
    if merged.get("sourceless") and merged.get("bytecode", "keep") != "compile":
        problems.append("sourceless: true needs bytecode = 'compile' (there is no bytecode to ship otherwise)")
    if merged.get("sourceless") and len(merged.get("optimize", (0,))) > 1:  # type: ignore[arg-type]
        problems.append("sourceless: true ships one .pyc per module: give a single optimize level")
    if merged.get("mini-debuginfo") and merged.get("strip", "all") != "all":
        problems.append("mini-debuginfo: true needs strip = 'all' (with 'debug' the symbol table stays anyway)")
    if problems:
        raise ConfigError(problems)
    return Config(**{key.replace("-", "_"): value for key, value in merged.items()})  # type: ignore[arg-type]


def _unknown_key(where: str, key: str) -> str:
    message = f"{where}: unknown key {key!r}"
    close = difflib.get_close_matches(key.replace("_", "-"), KEYS, n=1, cutoff=0.6)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    else:
        message += " (known keys: " + ", ".join(KEYS) + ")"
    return message


def _show(value: object) -> str:
    return repr(value) if not isinstance(value, (list, tuple)) else repr(list(value))


# --- where layers come from


def pyproject_layer(pyproject: Path) -> Layer:
    """``[tool.stripwheel]`` of a pyproject.toml (an empty layer when absent)."""
    table = read_pyproject(pyproject).get("tool", {}).get("stripwheel", {})
    if not isinstance(table, dict):
        raise ConfigError([f"{pyproject}: tool.stripwheel is not a table"])
    return Layer("tool.stripwheel", table)


def read_pyproject(pyproject: Path) -> dict[str, Any]:
    """The parsed pyproject.toml, or an empty dict when there is none."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on old interpreters only
        import tomli as tomllib
    try:
        with open(pyproject, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{pyproject}: invalid TOML: {exc}"]) from None


def hook_layer(table: Mapping[str, Any], where: str) -> Layer:
    """A hatch hook table, less the keys hatchling reserves for itself."""
    return Layer(where, {k: v for k, v in table.items() if k not in HATCH_RESERVED_KEYS})


def settings_layer(config_settings: Mapping[str, Any] | None) -> Layer:
    """The ``stripwheel.*`` keys of PEP 517 ``config_settings`` (prefix removed)."""
    values = {
        key[len(SETTINGS_PREFIX) :]: value
        for key, value in (config_settings or {}).items()
        if key.startswith(SETTINGS_PREFIX)
    }
    return Layer("config_settings stripwheel", values, from_strings=True)


def foreign_settings(config_settings: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ``config_settings`` that belong to the inner backend (everything not ours)."""
    if config_settings is None:
        return None
    return {k: v for k, v in config_settings.items() if not k.startswith(SETTINGS_PREFIX)}


# --- globs over member paths


def compile_glob(glob: str) -> re.Pattern[str]:
    """A wheel-member glob as a regex: ``**`` spans directories, ``*`` and ``?`` stay within
    one path segment, ``[...]`` is a class. A glob without ``/`` matches the file name at any
    depth (``*.so`` matches ``pkg/_ext.so``), as in ``.gitignore``."""
    anchored = "/" in glob.rstrip("/")
    out: list[str] = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = glob.find("]", i + 2 if glob[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end < 0:
                raise re.error("unterminated '['")
            body = glob[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    body = "".join(out)
    if glob.endswith("/"):
        body += ".*"  # a directory glob covers everything below it
    prefix = "" if anchored else "(?:.*/)?"
    # DOTALL and \Z: a name may hold a newline, and ``$`` would also match before a final one.
    return re.compile(f"{prefix}{body.lstrip('/')}\\Z" if anchored else f"{prefix}{body}\\Z", re.DOTALL)


@dataclass(frozen=True)
class Selector:
    """Decides which members are candidates: included and not excluded."""

    include: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...]

    @classmethod
    def from_config(cls, config: Config) -> Selector:
        return cls(
            tuple(compile_glob(g) for g in config.include),
            tuple(compile_glob(g) for g in config.exclude),
        )

    def __call__(self, name: str) -> bool:
        return any(p.match(name) for p in self.include) and not any(p.match(name) for p in self.exclude)
