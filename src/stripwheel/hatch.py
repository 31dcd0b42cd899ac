"""The hatchling build hook ``stripwheel``: strips the wheel hatchling just built, in place.

Options: ``[tool.stripwheel]``, then the hook's table
``[tool.hatch.build.targets.wheel.hooks.stripwheel]`` key by key on top.

PEP 517 ``config_settings`` cannot reach this hook: hatchling's ``build_wheel`` accepts them and
drops them (hatchling 1.x builds with ``WheelBuilder(os.getcwd())`` and passes nothing on; see
pypa/hatch#1072). Projects that need ``-C stripwheel.<option>`` use the wrapper backend instead,
with ``backend = "hatchling.build"`` (and without this hook, or the wheel is processed twice).

This is the only module that imports hatchling; stripwheel does not depend on it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.builders.wheel import WheelBuilderConfig
from hatchling.plugin import hookimpl

from ._config import Config, hook_layer, pyproject_layer, resolve
from ._errors import StripwheelError, build_boundary

HOOK_TABLE = "tool.hatch.build.targets.wheel.hooks.stripwheel"


class StripwheelBuildHook(BuildHookInterface[WheelBuilderConfig]):
    """Validates the options in ``initialize`` (before anything is built), strips in ``finalize``."""

    PLUGIN_NAME = "stripwheel"

    _options: Config | None = None

    def _applies(self, version: str) -> bool:
        # Editable wheels hold no binaries of their own; sdists are not ours.
        return self.target_name == "wheel" and version == "standard"

    def _resolve(self) -> Config:
        layers = pyproject_layer(Path(self.root) / "pyproject.toml"), hook_layer(self.config, HOOK_TABLE)
        return resolve(*layers).anchored(Path(self.root))

    def dependencies(self) -> list[str]:
        """LIEF when ``verify`` is on, so that the isolated build environment has it. hatchling
        asks before it knows the version, so editable builds get it too. A configuration error
        is left for ``initialize`` to report."""
        if self.target_name != "wheel":
            return []
        try:
            verify = self._resolve().verify
        except StripwheelError:
            return []
        from ._verify import REQUIREMENT

        return [REQUIREMENT] if verify else []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if not self._applies(version):
            return
        with self._reports_errors():
            self._options = self._resolve()
            if self._options.verify:
                from . import _verify

                _verify.require()
            if self._options.sourceless:
                self._retag(build_data)

    def _retag(self, build_data: dict[str, Any]) -> None:
        """A sourceless wheel only runs on this interpreter. hatchling fixes the file name
        before ``finalize``, so the tag is decided here; the engine then finds nothing to
        rename. Platform wheels that hatchling tags itself already name this interpreter."""
        from packaging.tags import parse_tag

        from ._bytecode import sourceless_tags

        tag = build_data.get("tag") or ""
        if not tag:
            if build_data.get("infer_tag") or not build_data.get("pure_python", True):
                return
            tag = "py3-none-any"
        new = sourceless_tags(parse_tag(tag), f"{HOOK_TABLE}.sourceless")
        if len(new) != 1:
            raise StripwheelError(
                f"{HOOK_TABLE}.sourceless: cannot express tags {', '.join(map(str, new))} as one hatchling tag"
            )
        build_data["tag"] = str(new[0])

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if not self._applies(version) or self._options is None:
            return
        from ._report import render_strip
        from .wheel.executor import process_wheel  # imported only when there is a wheel to process

        with self._reports_errors():
            report = process_wheel(Path(artifact_path), self._options)  # in place, never renamed
        self.app.display_info(render_strip(report))

    def _reports_errors(self) -> AbstractContextManager[None]:
        """One ``stripwheel: error: …`` line per problem through hatchling's display and exit
        status 1, without a traceback: hatchling would print one, burying the message."""
        return build_boundary(self.app.display_error, lambda: self.app.abort(code=1))


@hookimpl
def hatch_register_build_hook() -> type[StripwheelBuildHook]:
    return StripwheelBuildHook
