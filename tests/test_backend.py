"""Pins ``backend`` (the wrapper), in process: delegation, optional hooks, settings split, errors.

The inner backend is a tiny in-tree one (``backend-path``) handing back a factory-made wheel:
optional hooks are present exactly when it has them, it is imported lazily, ``config_settings``
are split between stripwheel and it, and every error is one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pyproject_hooks import BuildBackendHookCaller, HookMissing

from _helpers import check_wheel, section_names
from _wheels import infos, read, variant

MINIMAL = """
import json, shutil
from pathlib import Path

SOURCE = {source!r}
LOG = Path({log!r})


def _log(hook, settings):
    with LOG.open("a") as f:
        f.write(json.dumps([hook, settings]) + "\\n")


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _log("build_wheel", config_settings)
    shutil.copyfile(SOURCE, Path(wheel_directory, Path(SOURCE).name))
    return Path(SOURCE).name


def build_sdist(sdist_directory, config_settings=None):
    _log("build_sdist", config_settings)
    Path(sdist_directory, "demo-1.0.tar.gz").write_bytes(b"not really a tarball")
    return "demo-1.0.tar.gz"


def get_requires_for_build_wheel(config_settings=None):
    _log("get_requires_for_build_wheel", config_settings)
    return ["inner-requirement"]


class hooks:  # for backend = "inner_backend:hooks": a namespace with the two mandatory hooks
    build_wheel = staticmethod(build_wheel)
    build_sdist = staticmethod(build_sdist)
"""

FULL = (
    MINIMAL
    + """

def get_requires_for_build_sdist(config_settings=None):
    _log("get_requires_for_build_sdist", config_settings)
    return ["sdist-requirement"]


def get_requires_for_build_editable(config_settings=None):
    _log("get_requires_for_build_editable", config_settings)
    return ["editable-requirement"]


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _log("prepare_metadata_for_build_wheel", config_settings)
    Path(metadata_directory, "demo-1.0.dist-info").mkdir()
    return "demo-1.0.dist-info"


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    _log("prepare_metadata_for_build_editable", config_settings)
    return prepare_metadata_for_build_wheel(metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _log("build_editable", config_settings)
    return build_wheel(wheel_directory)
"""
)

OPTIONAL = (
    "get_requires_for_build_wheel",
    "get_requires_for_build_sdist",
    "get_requires_for_build_editable",
    "prepare_metadata_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "build_editable",
)


class Project:
    """A project directory whose backend lives in-tree, in ``_backend/inner_backend.py``."""

    def __init__(self, root: Path, source_wheel: Path) -> None:
        self.root = root
        self.log = root / "log.jsonl"
        self.source_wheel = source_wheel

    def write(self, stripwheel_table: str, inner: str = MINIMAL) -> None:
        (self.root / "_backend").mkdir(exist_ok=True)
        code = inner.format(source=str(self.source_wheel), log=str(self.log))
        (self.root / "_backend" / "inner_backend.py").write_text(code)
        (self.root / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["stripwheel"]\nbuild-backend = "stripwheel.backend"\n\n'
            "[tool.stripwheel]\n" + textwrap.dedent(stripwheel_table)
        )

    def calls(self) -> list[list[Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


IN_TREE = 'backend = "inner_backend"\nbackend-path = ["_backend"]\n'


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """``stripwheel.backend`` with nothing loaded yet; sys.path and sys.modules restored after."""
    import stripwheel.backend as module

    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(module, "_loaded", {})
    modules = set(sys.modules)
    yield module
    for name in set(sys.modules) - modules:
        if name.split(".")[0] != "stripwheel":  # unloading stripwheel would leave two copies
            del sys.modules[name]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pure_wheel: Path) -> Project:
    """A project whose inner backend "builds" the pure demo wheel."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return Project(root, pure_wheel)


@pytest.mark.parametrize("inner", ["minimal", "full"])
def test_optional_hooks_exist_exactly_when_the_inner_backend_has_them(
    backend: ModuleType, project: Project, inner: str
) -> None:
    project.write(IN_TREE, MINIMAL if inner == "minimal" else FULL)
    present = {name for name in OPTIONAL if hasattr(backend, name)}
    assert present == ({"get_requires_for_build_wheel"} if inner == "minimal" else set(OPTIONAL))
    with pytest.raises(AttributeError):
        backend.build_editable if inner == "minimal" else backend.no_such_hook  # noqa: B018


def test_inner_backend_is_imported_only_when_a_hook_needs_it(backend: ModuleType, project: Project) -> None:
    project.write(IN_TREE)
    assert not hasattr(backend, "no_such_hook")
    assert not hasattr(backend, "__path__")
    assert "inner_backend" not in sys.modules
    assert backend.get_requires_for_build_wheel() == ["inner-requirement"]
    assert "inner_backend" in sys.modules
    assert sys.path[0] == str(project.root / "_backend")  # PEP 517: backend-path goes first


def test_module_object_reference(backend: ModuleType, project: Project, tmp_path: Path) -> None:
    """``module:object`` names an object; its hooks are the object's, not the module's."""
    project.write('backend = "inner_backend:hooks"\nbackend-path = ["_backend"]\n')
    assert not hasattr(backend, "prepare_metadata_for_build_wheel")
    assert backend.get_requires_for_build_wheel() == []  # what a missing hook means (PEP 517)
    assert backend.build_sdist(str(tmp_path)) == "demo-1.0.tar.gz"


@pytest.mark.parametrize("inner", ["minimal", "object"])
def test_verify_asks_for_lief(backend: ModuleType, project: Project, inner: str) -> None:
    """With ``verify`` on, the wheel's build requirements include LIEF (an isolated build then
    has it); the sdist's and the editable wheel's do not: nothing is verified there."""
    from stripwheel._verify import REQUIREMENT

    reference = "inner_backend" if inner == "minimal" else "inner_backend:hooks"
    project.write(f'backend = "{reference}"\nbackend-path = ["_backend"]\nverify = true\n', FULL)
    inner_requires = ["inner-requirement"] if inner == "minimal" else []
    assert backend.get_requires_for_build_wheel() == [*inner_requires, REQUIREMENT]
    assert backend.get_requires_for_build_wheel({"stripwheel.verify": "false"}) == inner_requires
    if inner == "minimal":
        assert backend.get_requires_for_build_sdist() == ["sdist-requirement"]
        assert backend.get_requires_for_build_editable() == ["editable-requirement"]


def test_sdist_with_verify_needs_no_lief(backend: ModuleType, project: Project, tmp_path: Path) -> None:
    """An sdist is built in an environment without the wheel's requirements: LIEF is not asked
    for there, and building it must not need it."""
    project.write(IN_TREE + "verify = true\n")
    code = (
        "import sys; sys.modules['lief'] = None; import stripwheel.backend as b; "
        f"print(b.build_sdist({str(tmp_path)!r}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=project.root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "demo-1.0.tar.gz"
    code = code.replace("build_sdist", "build_wheel")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=project.root)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "stripwheel: error: verify = true needs LIEF, which is not installed: pip install 'stripwheel[verify]'"
    ]
    assert [hook for hook, _ in project.calls()] == ["build_sdist"]  # the inner wheel build never ran


@pytest.mark.slow
def test_build_wheel_strips_and_forwards_foreign_settings(
    backend: ModuleType, project: Project, tmp_path: Path, demo_wheel: Path
) -> None:
    """``stripwheel.*`` settings are the engine's (here: level debug over the table's none),
    the others go to the inner backend; the wheel it built comes back stripped."""
    project.source_wheel = demo_wheel
    project.write(IN_TREE + 'strip = "none"\n')
    out = tmp_path / "out"
    out.mkdir()
    settings = {"stripwheel.strip": "debug", "--build-option": ["--x"], "cmake.define.A": "1"}
    name = backend.build_wheel(str(out), settings)
    assert name == project.source_wheel.name and (out / name).is_file()
    assert project.calls() == [["build_wheel", {"--build-option": ["--x"], "cmake.define.A": "1"}]]
    check_wheel(out / name)
    with zipfile.ZipFile(out / name) as archive:
        data = archive.read(next(n for n in archive.namelist() if n.endswith("libhelper.so")))
    sections = section_names(data)
    assert ".symtab" in sections and not any(s.startswith(".debug") for s in sections)


def test_build_wheel_forwards_foreign_settings(backend: ModuleType, project: Project, tmp_path: Path) -> None:
    """The inner backend sees only the settings that are not stripwheel's; the engine gets
    those (here: bytecode dropped)."""
    project.write(IN_TREE)
    out = tmp_path / "out"
    out.mkdir()
    name = backend.build_wheel(str(out), {"stripwheel.bytecode": "drop", "--build-option": ["--x"]})
    assert name == project.source_wheel.name
    assert project.calls() == [["build_wheel", {"--build-option": ["--x"]}]]
    check_wheel(out / name)
    assert not [n for n in infos(out / name) if n.endswith(".pyc")]


def test_build_wheel_prints_the_summary(
    backend: ModuleType, project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write(IN_TREE + 'bytecode = "drop"\n')
    backend.build_wheel(str(tmp_path))
    err = capsys.readouterr().err
    assert err.startswith(f"stripwheel: {tmp_path / project.source_wheel.name}: rewrote")
    assert "\n  time: " in err


def test_optional_hooks_forward_only_foreign_settings(backend: ModuleType, project: Project, tmp_path: Path) -> None:
    """Optional hooks get the foreign settings; the editable wheel is not processed (the
    table's ``bytecode = "drop"`` would change it)."""
    project.write(IN_TREE + 'bytecode = "drop"\n', FULL)
    settings = {"stripwheel.verify": "false", "inner": "yes"}
    assert backend.get_requires_for_build_sdist(settings) == ["sdist-requirement"]
    assert backend.get_requires_for_build_editable(config_settings=settings) == ["editable-requirement"]
    assert backend.prepare_metadata_for_build_wheel(str(tmp_path), settings) == "demo-1.0.dist-info"
    name = backend.build_editable(str(tmp_path), settings, None)
    assert (tmp_path / name).read_bytes() == project.source_wheel.read_bytes()  # not stripped
    assert backend.build_sdist(str(tmp_path), None) == "demo-1.0.tar.gz"
    assert [settings for _, settings in project.calls()] == [{"inner": "yes"}] * 4 + [None, None]


def test_pyproject_hooks_probing(project: Project, tmp_path: Path) -> None:
    """A real frontend library, in its own subprocess: hooks the inner backend lacks are
    missing (HookMissing), the others answer."""
    project.write(IN_TREE)
    hooks = BuildBackendHookCaller(str(project.root), "stripwheel.backend", python_executable=sys.executable)
    assert hooks.get_requires_for_build_wheel({"stripwheel.strip": "none"}) == ["inner-requirement"]
    assert hooks.get_requires_for_build_editable() == []
    with pytest.raises(HookMissing):
        hooks.prepare_metadata_for_build_wheel(str(tmp_path), _allow_fallback=False)
    with pytest.raises(HookMissing):
        hooks.build_editable(str(tmp_path))
    project.write(IN_TREE, FULL)
    assert hooks.prepare_metadata_for_build_wheel(str(tmp_path), _allow_fallback=False) == "demo-1.0.dist-info"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('strp = "all"\n' + IN_TREE, "tool.stripwheel: unknown key 'strp' (did you mean 'strip'?)"),
        (
            'strip = "all"\n',
            'tool.stripwheel.backend: missing; name the backend that really builds, e.g. backend = "setuptools.build_meta"',
        ),
        (
            'backend = "no_such_backend"\n',
            "tool.stripwheel.backend: cannot import 'no_such_backend': No module named 'no_such_backend'",
        ),
        (
            'backend = "inner_backend:nothing"\nbackend-path = ["_backend"]\n',
            "tool.stripwheel.backend: cannot import 'inner_backend:nothing': module 'inner_backend' has no attribute 'nothing'",
        ),
        (
            'backend = "inner_backend"\nbackend-path = ["../_backend"]\n',
            "tool.stripwheel.backend-path: '../_backend' lies outside the project",
        ),
        ('backend = "stripwheel.backend"\n', "tool.stripwheel.backend: 'stripwheel.backend' would wrap itself"),
    ],
    ids=["typo", "missing", "unimportable", "no-attribute", "outside", "itself"],
)
@pytest.mark.parametrize("hook", ["build_wheel", "get_requires_for_build_wheel"])
def test_errors_are_one_line_and_exit_1(
    backend: ModuleType,
    project: Project,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    table: str,
    message: str,
    hook: str,
) -> None:
    """Configuration is checked before the inner backend does anything."""
    project.write(table)
    shutil.copytree(project.root / "_backend", project.root.parent / "_backend")
    with pytest.raises(SystemExit) as exit_info:
        if hook == "build_wheel":
            backend.build_wheel(str(tmp_path))
        else:
            backend.get_requires_for_build_wheel()
    assert exit_info.value.code == 1
    assert exit_info.value.__context__ is None or exit_info.value.__suppress_context__
    assert capsys.readouterr().err.splitlines() == [f"stripwheel: error: {message}"]
    assert project.calls() == []


def test_corrupt_wheel_from_the_inner_backend(
    backend: ModuleType, project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init = read(project.source_wheel, "demo/__init__.py")
    broken = variant(
        project.source_wheel, tmp_path / "broken" / project.source_wheel.name, replace={"demo/__init__.py": init + b"#"}
    )
    project.source_wheel = broken
    project.write(IN_TREE)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SystemExit):
        backend.build_wheel(str(out))
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"stripwheel: error: {broken.name}: demo/__init__.py: ")
    assert (out / broken.name).read_bytes() == broken.read_bytes()  # left as the backend made it


def test_importing_the_backend_needs_no_hatchling_or_inner_backend() -> None:
    code = "import sys, stripwheel.backend; assert 'hatchling' not in sys.modules and 'setuptools' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
