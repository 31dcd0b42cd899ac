"""Pins ``hatch`` (the hatchling hook), in process: registration, options, LIEF, errors, finalize.

Options come from ``[tool.stripwheel]`` and the hook's own table; LIEF is asked for when
verifying; errors are one line; the wheel is stripped in ``finalize`` (editable wheels and sdists
left alone)."""

from __future__ import annotations

import shutil
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from _helpers import ELF_MAGIC, check_wheel, section_names
from _wheels import infos, members, read, variant
from stripwheel.hatch import StripwheelBuildHook


def _hook(root: Path, config: dict[str, object], target: str = "wheel") -> StripwheelBuildHook:
    return StripwheelBuildHook(str(root), config, None, None, str(root / "dist"), target)  # type: ignore[arg-type]


def test_hatch_hook_is_registered() -> None:
    """The plugin is found under the ``hatch`` entry-point group and is named ``stripwheel``."""
    (ep,) = [ep for ep in entry_points(group="hatch") if ep.name == "stripwheel"]
    module = ep.load()
    assert module.hatch_register_build_hook().PLUGIN_NAME == "stripwheel"


def test_hatch_hook_options_reach_the_engine(pure_wheel: Path, tmp_path: Path) -> None:
    """The hook table overrides ``[tool.stripwheel]`` (here: bytecode dropped) and the wheel
    is rewritten in place under the same name."""
    (tmp_path / "pyproject.toml").write_text('[tool.stripwheel]\nbytecode = "keep"\n')
    hook = _hook(tmp_path, {"bytecode": "drop", "dependencies": [], "enable-by-default": True})
    build_data: dict[str, object] = {}
    hook.initialize("standard", build_data)
    hook.finalize("standard", build_data, str(pure_wheel))
    check_wheel(pure_wheel)
    assert not [n for n in members(pure_wheel) if n.endswith(".pyc")]


@pytest.mark.parametrize(("target", "version"), [("wheel", "editable"), ("sdist", "standard")])
def test_hatch_hook_leaves_other_builds_alone(pure_wheel: Path, tmp_path: Path, target: str, version: str) -> None:
    before = pure_wheel.read_bytes()
    hook = StripwheelBuildHook(str(tmp_path), {"strp": 1}, None, None, str(tmp_path), target)  # type: ignore[arg-type]
    hook.initialize(version, {})  # not validated either: nothing of ours runs
    hook.finalize(version, {}, str(pure_wheel))
    assert pure_wheel.read_bytes() == before


def test_hatch_hook_asks_for_lief_when_verifying(tmp_path: Path) -> None:
    """hatchling installs a hook's ``dependencies()`` into the isolated build environment."""
    from stripwheel._verify import REQUIREMENT

    (tmp_path / "pyproject.toml").write_text("[tool.stripwheel]\nverify = true\n")
    assert _hook(tmp_path, {}).dependencies() == [REQUIREMENT]
    assert _hook(tmp_path, {"verify": False}).dependencies() == []
    assert _hook(tmp_path, {"verify": "maybe"}).dependencies() == []  # initialize reports it
    sdist = StripwheelBuildHook(str(tmp_path), {}, None, None, str(tmp_path), "sdist")  # type: ignore[arg-type]
    assert sdist.dependencies() == []


def test_hatch_hook_config_errors_fail_early(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every problem is one ``stripwheel: error:`` line, raised from initialize, exit status 1."""
    (tmp_path / "pyproject.toml").write_text('[tool.stripwheel]\nstrip = "yes"\n')
    hook = _hook(tmp_path, {"strp": "all"})
    with pytest.raises(SystemExit) as exit_info:
        hook.initialize("standard", {})
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        "stripwheel: error: tool.stripwheel.strip: 'yes' is not one of 'all', 'debug', 'none'",
        (
            "stripwheel: error: tool.hatch.build.targets.wheel.hooks.stripwheel: unknown key 'strp'"
            " (did you mean 'strip'?)"
        ),
    ]


def test_hatch_hook_corrupt_wheel_is_one_line(
    pure_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = _hook(tmp_path, {})
    hook.initialize("standard", {})
    shutil.copy(pure_wheel, tmp_path / "copy.whl")
    init = read(pure_wheel, "demo/__init__.py")
    broken = variant(
        tmp_path / "copy.whl", tmp_path / pure_wheel.name, replace={"demo/__init__.py": init + b"tampered"}
    )
    with pytest.raises(SystemExit):
        hook.finalize("standard", {}, str(broken))
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("stripwheel: error: ") and "demo/__init__.py" in line


@pytest.mark.slow
def test_hatch_hook_strips_in_finalize(demo_wheel: Path, tmp_path: Path) -> None:
    """The hook table overrides ``[tool.stripwheel]``; hatchling's reserved keys are ignored;
    the wheel is rewritten in place under the same name."""
    (tmp_path / "pyproject.toml").write_text('[tool.stripwheel]\nstrip = "none"\n')
    hook = _hook(tmp_path, {"strip": "debug", "dependencies": [], "enable-by-default": True})
    build_data: dict[str, object] = {}
    hook.initialize("standard", build_data)
    before = set(infos(demo_wheel))
    hook.finalize("standard", build_data, str(demo_wheel))
    assert set(infos(demo_wheel)) == before
    check_wheel(demo_wheel)
    for member, data in members(demo_wheel).items():
        if data[:4] == ELF_MAGIC:
            assert not [n for n in section_names(data) if n.startswith((".debug", ".zdebug"))], member
