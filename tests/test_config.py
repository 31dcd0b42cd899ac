"""The options model: validation that collects every problem, layering, globs."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from stripwheel._config import (
    CHECKS,
    KEYS,
    OPTIONS,
    Config,
    Layer,
    Selector,
    compile_glob,
    foreign_settings,
    hook_layer,
    options_table,
    pyproject_layer,
    resolve,
    settings_layer,
)
from stripwheel._errors import ConfigError


def test_defaults() -> None:
    assert resolve() == Config()
    c = Config()
    assert (c.strip, c.include, c.exclude, c.bytecode, c.optimize, c.invalidation_mode) == (
        "all",
        ("**",),
        (),
        "keep",
        (0,),
        "checked-hash",
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"strp": "all"}, "tool.stripwheel: unknown key 'strp' (did you mean 'strip'?)"),
        ({"colour": "red"}, "tool.stripwheel: unknown key 'colour' (known keys: backend, backend-path, strip,"),
        ({"invalidation_mode": "timestamp"}, "unknown key 'invalidation_mode' (did you mean 'invalidation-mode'?)"),
        ({"strip": "yes"}, "tool.stripwheel.strip: 'yes' is not one of 'all', 'debug', 'none'"),
        ({"strip": True}, "tool.stripwheel.strip: True is not one of 'all', 'debug', 'none'"),
        ({"bytecode": "compiled"}, "tool.stripwheel.bytecode: 'compiled' is not one of 'keep', 'drop', 'compile'"),
        ({"verify": "yes"}, "tool.stripwheel.verify: 'yes' is not a boolean (true or false)"),
        ({"optimize": 3}, "tool.stripwheel.optimize: 3 is not one of 0, 1, 2 or a list of them"),
        ({"optimize": [0, True]}, "tool.stripwheel.optimize: [0, True] is not one of 0, 1, 2"),
        ({"optimize": []}, "tool.stripwheel.optimize: [] is an empty list"),
        ({"include": "*.so"}, "tool.stripwheel.include: '*.so' is not a list"),
        ({"exclude": ["ok", ""]}, "tool.stripwheel.exclude: ['ok', ''] is not a list of non-empty strings"),
        ({"exclude": ["[abc"]}, "tool.stripwheel.exclude: ['[abc'] has a malformed glob '[abc'"),
        ({"backend": "not a module"}, "tool.stripwheel.backend: 'not a module' is not a backend reference"),
        ({"invalidation-mode": "never"}, "'never' is not one of 'checked-hash', 'unchecked-hash', 'timestamp'"),
        ({"sourceless": True}, "sourceless: true needs bytecode = 'compile'"),
        ({"split-debug-layout": "mirror"}, "'mirror' is not one of 'build-id', 'debuginfod', 'beside', 'wheel'"),
        ({"debug-wheel-name": "{name}"}, "debug-wheel-name: '{name}' names the main distribution itself"),
        ({"debug-wheel-name": "{name}-{version}"}, "'{name}-{version}' is not a distribution name once {name} is"),
        ({"debug-wheel-name": "-debug"}, "debug-wheel-name: '-debug' is not a distribution name"),
        ({"debug-wheel-name": 3}, "debug-wheel-name: 3 is not a distribution name template like '{name}-debug'"),
    ],
)
def test_each_problem_is_named(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        resolve(Layer("tool.stripwheel", table))
    assert message in str(excinfo.value)


def test_problems_are_collected_together() -> None:
    with pytest.raises(ConfigError) as excinfo:
        resolve(
            Layer("tool.stripwheel", {"strip": "yes", "colour": "red"}),
            Layer("config_settings stripwheel", {"verify": "maybe"}, from_strings=True),
        )
    assert len(excinfo.value.problems) == 3


def test_layers_merge_key_by_key_later_wins() -> None:
    config = resolve(
        Layer("tool.stripwheel", {"strip": "debug", "exclude": ["*.a"], "verify": True}),
        hook_layer({"strip": "all", "dependencies": ["x"], "enable-by-default": False}, "hook"),
        settings_layer({"stripwheel.verify": "false", "stripwheel.optimize": ["1", "2"], "--build-option": "x"}),
    )
    assert (config.strip, config.exclude, config.verify, config.optimize) == ("all", ("*.a",), False, (1, 2))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("1", True), ("on", True), ("False", False), ("0", False), ("no", False)],
)
def test_settings_strings_become_booleans(value: str, expected: bool) -> None:
    assert resolve(settings_layer({"stripwheel.verify": value})).verify is expected


def test_debug_layouts_and_companion_names() -> None:
    config = resolve(settings_layer({"stripwheel.split-debug-layout": "wheel", "stripwheel.debug-wheel-name": "x.dbg"}))
    assert (config.split_debug_layout, config.debug_wheel_name) == ("wheel", "x.dbg")
    assert Config().debug_wheel_name == "{name}-debug"
    assert resolve(Layer("t", {"split-debug-layout": "beside"})).split_debug_layout == "beside"


def test_settings_lists_from_strings() -> None:
    config = resolve(settings_layer({"stripwheel.exclude": "*.a, pkg/**", "stripwheel.optimize": "2,0"}))
    assert config.exclude == ("*.a", "pkg/**") and config.optimize == (0, 2)


def test_foreign_settings_are_forwarded() -> None:
    assert foreign_settings({"stripwheel.strip": "none", "--global-option": "x", "builddir": "b"}) == {
        "--global-option": "x",
        "builddir": "b",
    }
    assert foreign_settings(None) is None


def test_pyproject_layer(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.stripwheel]\nstrip = "debug"\nexclude = ["*.a"]\n')
    assert resolve(pyproject_layer(tmp_path / "pyproject.toml")).strip == "debug"
    assert pyproject_layer(tmp_path / "missing.toml").values == {}
    (tmp_path / "bad.toml").write_text("[tool.stripwheel\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        pyproject_layer(tmp_path / "bad.toml")


@pytest.mark.parametrize(
    ("glob", "matches", "misses"),
    [
        ("**", ["a", "a/b/c.so"], []),
        ("*.so", ["x.so", "pkg/x.so", "pkg/sub/x.so"], ["x.so.1", "pkg/x.sox"]),
        ("pkg/*.so", ["pkg/x.so"], ["pkg/sub/x.so", "other/pkg/x.so"]),
        ("pkg/**", ["pkg/a", "pkg/a/b"], ["pkga/b", "x/pkg/a"]),
        ("**/tests/**", ["tests/a", "pkg/tests/a/b"], ["pkg/tests"]),
        ("*.libs/", ["numpy.libs/libgfortran.so"], ["numpy/x.so"]),
        ("lib?.so", ["liba.so"], ["libab.so"]),
        ("lib[!x].so", ["liba.so"], ["libx.so"]),
        ("a,b *.txt", ["data/a,b x.txt"], []),
        # a name may hold a newline: ``**`` spans it, and a final one is no end of the name
        ("**", ["pkg/a\nb.so", "new\nline/x.so"], []),
        ("*.so", ["pkg/a\nb.so"], ["pkg/a.so\n", "pkg/a.so\nx"]),
    ],
)
def test_globs(glob: str, matches: list[str], misses: list[str]) -> None:
    pattern = compile_glob(glob)
    for name in matches:
        assert pattern.match(name), (glob, name)
    for name in misses:
        assert not pattern.match(name), (glob, name)


def test_selector() -> None:
    select = Selector.from_config(Config(include=("pkg/**",), exclude=("*.a",)))
    assert select("pkg/x.so") and not select("pkg/x.a") and not select("other/x.so")


def test_readme_options_table_is_current() -> None:
    """The README's options table is the one ``Config`` generates: a stale table fails here."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert options_table() in readme


def test_every_option_has_a_check_and_a_flag_or_a_reason() -> None:
    """One options model: the checks, the CLI flags and the README cover the same keys."""
    from stripwheel._cli import _cli_layer, _parser

    assert set(CHECKS) == set(KEYS)
    sample = {"choice": None, "bool": [], "levels": ["1"], "globs": ["x/**"], "text": ["v"], "dir": ["debug"]}
    for option in OPTIONS:
        if not option.cli:
            continue
        value = sample[option.kind]
        argv = ["strip", f"--{option.key}", *([option.default] if value is None else value), "w.whl"]
        assert option.key in _cli_layer(_parser("stripwheel").parse_args(argv)).values, option.key
    assert {o.key for o in OPTIONS if not o.cli} == {"backend", "backend-path"}  # the wrapper's own


def test_allowed_values_are_spelled_once() -> None:
    """Each choice's values are its field's Literal: the checks accept exactly them, the CLI
    offers exactly them, and the README's values column lists them."""
    from stripwheel._cli import _parser

    hints = typing.get_type_hints(Config)
    choices = [o for o in OPTIONS if o.kind in ("choice", "levels")]
    assert {o.key for o in choices} == {"strip", "bytecode", "optimize", "invalidation-mode", "split-debug-layout"}
    for option in choices:
        annotation = hints[option.attr]
        literal = typing.get_args(annotation)[0] if option.kind == "levels" else annotation
        assert option.choices == typing.get_args(literal), option.key
        assert all(f"`{value}`" in option.values or f'`"{value}"`' in option.values for value in option.choices)
        for value in option.choices:
            resolve(Layer("t", {option.key: value}))
            argv = ["strip", f"--{option.key}", str(value), "w.whl"]
            assert _parser("stripwheel").parse_args(argv) is not None
        with pytest.raises(ConfigError):
            resolve(Layer("t", {option.key: "x-not-a-value"}))
