"""Compile the native executable and the ctypes library with debug info into the wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        out = root / "build" / "native"
        out.mkdir(parents=True, exist_ok=True)
        cc = os.environ.get("CC") or shutil.which("cc") or "gcc"
        library = out / "libgreet.so"
        executable = out / "hatch-binary-hello"
        subprocess.run(
            [cc, "-g", "-O1", "-fPIC", "-shared", str(root / "native" / "greet.c"), "-o", str(library)],
            check=True,
        )
        subprocess.run([cc, "-g", "-O1", str(root / "native" / "hello.c"), "-o", str(executable)], check=True)
        build_data["force_include"][str(library)] = "hatch_binary/libgreet.so"
        build_data["shared_scripts"][str(executable)] = "hatch-binary-hello"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
