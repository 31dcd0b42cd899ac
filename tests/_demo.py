"""What the demo wheels of ``conftest`` hold, for the tests that check them: the fixtures are
conftest's, these names are imported from here (a test module never imports conftest)."""

from __future__ import annotations

import sys
import sysconfig

# --- the fast layer's pure demo wheel (``pure_wheel``)

#: The pure demo wheel's package source, and the members besides it (see ``pure_files``).
PURE_INIT = "VERSION = '1.0'\n"
PURE_SCRIPT = "demo-1.0.data/scripts/demo-tool"
PURE_PYC = f"demo/__pycache__/__init__.{sys.implementation.cache_tag}.pyc"

# --- the slow layer's compiled demo wheel (``demo_wheel``, ``demo_tree``)

#: The demo wheel's C extension, and every binary in it (the text ``not-really.so`` is not one).
EXT = f"demo/_ext{sysconfig.get_config_var('EXT_SUFFIX')}"
BINARIES = [
    EXT,
    "demo.libs/libhelper.so",
    "demo.libs/libhelper_patched.so",
    "demo-1.0.data/scripts/demo-tool",
    "demo/data/libcross-aarch64.so",
]
