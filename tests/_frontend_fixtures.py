"""Fixtures for the end-to-end tests: stripwheel's own wheel for ``--find-links``, and the
sample projects built through real frontends (pip, build, uv), each (sample, frontend,
settings) combination once per session, always from a copy in a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from _helpers import external, run

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_projects"
FRONTENDS = ("pip", "build", "uv")
#: Left behind by builds; never copied along with a sample.
IGNORED = shutil.ignore_patterns(
    "build", "dist", "*.egg-info", "__pycache__", ".mesonpy-*", "_skbuild", "target", "Cargo.lock"
)


def uv_bin() -> str:
    """The uv executable of the environment running the tests (the ``uv`` package), else PATH."""
    external("uv")
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            pytest.fail("uv is not installed (pip install uv)")
        return found


def copy_sample(name: str, dest: Path) -> Path:
    """A fresh copy of ``sample_projects/<name>`` under ``dest``: builds never touch the repo."""
    target = dest / name
    shutil.copytree(SAMPLES / name, target, ignore=IGNORED)
    return target


def frontend_env(wheelhouse: Path) -> dict[str, str]:
    """The environment for a frontend: pip (used by ``build`` too) also looks in the wheelhouse."""
    env = dict(os.environ)
    env["PIP_FIND_LINKS"] = " ".join(filter(None, [str(wheelhouse), env.get("PIP_FIND_LINKS")]))
    env.pop("PIP_REQUIRE_VIRTUALENV", None)
    return env


def command(
    frontend: str, source: Path, out: Path, wheelhouse: Path, settings: tuple[str, ...], sdist: bool = False
) -> list[str]:
    """The frontend's own command line for building ``source`` into ``out``."""
    config = [arg for setting in settings for arg in ("-C", setting)]
    if frontend == "pip":
        return [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-v",
            "--no-deps",
            "--find-links",
            str(wheelhouse),
            "-w",
            str(out),
            *config,
            str(source),
        ]
    kind = "--sdist" if sdist else "--wheel"
    if frontend == "build":
        return [sys.executable, "-m", "build", kind, "--outdir", str(out), *config, str(source)]
    if frontend == "uv":
        return [
            uv_bin(),
            "build",
            kind,
            "--find-links",
            str(wheelhouse),
            "--python",
            sys.executable,
            "--out-dir",
            str(out),
            *config,
            str(source),
        ]
    raise ValueError(frontend)


@dataclass
class Built:
    """One frontend run: its output (stdout and stderr together) and the artifact, if any."""

    proc: subprocess.CompletedProcess[str]
    artifact: Optional[Path]

    @property
    def output(self) -> str:
        return self.proc.stdout + self.proc.stderr

    def ok(self) -> Path:
        """The artifact, failing the test with the frontend's output when the build failed."""
        if self.proc.returncode != 0 or self.artifact is None:
            pytest.fail(f"build failed ({self.proc.returncode}):\n{self.output[-6000:]}")
        return self.artifact


class Builds:
    """Builds samples on demand, each combination once per session."""

    def __init__(self, root: Path, wheelhouse: Path) -> None:
        self.root = root
        self.wheelhouse = wheelhouse
        self._done: dict[tuple[object, ...], Built] = {}

    def build(
        self, sample: str, frontend: str, *settings: str, sdist: bool = False, edit: Optional[tuple[str, str]] = None
    ) -> Built:
        """Build ``sample`` with ``frontend``; ``edit`` replaces a string in its pyproject.toml."""
        key = (sample, frontend, settings, sdist, edit)
        if key not in self._done:
            self._done[key] = self._build(len(self._done), sample, frontend, settings, sdist, edit)
        return self._done[key]

    def _build(
        self,
        n: int,
        sample: str,
        frontend: str,
        settings: tuple[str, ...],
        sdist: bool,
        edit: Optional[tuple[str, str]],
    ) -> Built:
        external(frontend)
        work = self.root / f"{n:02d}-{sample}-{frontend}"
        work.mkdir()
        source = copy_sample(sample, work)
        if edit is not None:
            pyproject = source / "pyproject.toml"
            text = pyproject.read_text()
            assert edit[0] in text, edit
            pyproject.write_text(text.replace(edit[0], edit[1]))
        if sample == "meson-ext" and sdist:
            _git_snapshot(source)  # `meson dist` packs what the VCS knows
        out = work / "out"
        proc = subprocess.run(
            command(frontend, source, out, self.wheelhouse, settings, sdist),
            capture_output=True,
            text=True,
            env=frontend_env(self.wheelhouse),
            cwd=work,
        )
        artifacts = sorted(out.glob("*.tar.gz" if sdist else "*.whl")) if out.is_dir() else []
        assert len(artifacts) <= 1, artifacts
        return Built(proc, artifacts[0] if artifacts else None)


def _git_snapshot(source: Path) -> None:
    git = ["git", "-C", str(source), "-c", "user.name=tests", "-c", "user.email=tests@invalid"]
    run(*git, "init", "-q")
    run(*git, "add", "-A")
    run(*git, "commit", "-q", "-m", "snapshot")


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """stripwheel's own wheel, built once from a copy of the repository, for ``--find-links``."""
    external("pip wheel")
    source = tmp_path_factory.mktemp("stripwheel-src")
    shutil.copy(REPO / "pyproject.toml", source)
    shutil.copy(REPO / "README.md", source)
    shutil.copytree(REPO / "src", source / "src", ignore=IGNORED)
    house = tmp_path_factory.mktemp("wheelhouse")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", house, source)
    (wheel,) = house.glob("stripwheel-*.whl")
    return house


@pytest.fixture(scope="session")
def builds(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Builds:
    return Builds(tmp_path_factory.mktemp("builds"), wheelhouse)


def make_venv(path: Path) -> Path:
    """A fresh virtual environment (uv: fast, no pip inside); returns its python."""
    run(uv_bin(), "venv", "-q", "--python", sys.executable, path)
    return path / "bin" / "python"
