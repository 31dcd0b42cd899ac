"""Pins the backend and the hook end to end: every sample built by pip, build and uv, then run.

stripwheel is installed into each isolated build environment; the wheels are installed into a
fresh venv and run. (In-process tests of the two are in test_backend and test_hatch.)"""

from __future__ import annotations

import json
import platform
import re
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest

from _frontend_fixtures import FRONTENDS, Builds, copy_sample, frontend_env, make_venv, uv_bin
from _helpers import ELF_MAGIC, check_wheel, run, section_names
from stripwheel._cli import main

pytestmark = pytest.mark.slow

#: Native binaries each sample's wheel ships (every one built with debug info).
BINARIES = {
    "setuptools-cext": 1,
    "hatch-binary": 2,
    "scikit-build-cmake": 1,
    "meson-ext": 1,
    "pure-python": 0,
    "maturin-bin": 1,
    "uv-build-pure": 0,
}
SAMPLES = tuple(BINARIES)
TRACEBACK = "Traceback (most recent call last)"
#: The first line of the engine's summary, printed by the backend or the hook during the build.
SUMMARY = re.compile(r"^\s*stripwheel: \S+\.whl: (rewrote|unchanged)", re.MULTILINE)


def elf_members(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {info.filename: data for info in archive.infolist() if (data := archive.read(info))[:4] == ELF_MAGIC}


def debug_sections(data: bytes) -> list[str]:
    """Debug sections, less ``.debug_gdb_scripts``: Rust puts it in the loaded image (it is
    allocated), so every strip tool keeps it."""
    return [n for n in section_names(data) if n.startswith((".debug", ".zdebug")) and n != ".debug_gdb_scripts"]


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("frontend", FRONTENDS)
def test_built_wheel_is_stripped(builds: Builds, frontend: str, sample: str) -> None:
    """Every ELF the backend put in the wheel lost its debug info and static symbols (level all),
    the wheel passes the RECORD oracle, and the summary reached the frontend's output."""
    built = builds.build(sample, frontend)
    wheel = built.ok()
    check_wheel(wheel)
    binaries = elf_members(wheel)
    assert len(binaries) == BINARIES[sample], sorted(binaries)
    for member, data in binaries.items():
        sections = section_names(data)
        assert not debug_sections(data), (member, sections)
        assert ".symtab" not in sections, (member, sections)
        assert ".dynsym" in sections, (member, sections)
    assert SUMMARY.search(built.output), built.output[-4000:]
    if binaries:
        assert f"binaries: {len(binaries)} of {len(binaries)} stripped" in built.output
        assert wheel.name.endswith(f"_{platform.machine()}.whl"), wheel.name  # tagged for this platform
    else:
        assert wheel.name.endswith("-py3-none-any.whl")


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_installed_wheels_import_and_run(builds: Builds, frontend: str, tmp_path: Path) -> None:
    """The stripped wheels install into a fresh venv, import, call their native code, and the
    stripped executable runs."""
    wheels = [str(builds.build(sample, frontend).ok()) for sample in SAMPLES]
    python = make_venv(tmp_path / "venv")
    if frontend == "pip":
        run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index", "--no-deps", *wheels)
    else:
        run(uv_bin(), "pip", "install", "-q", "--python", python, "--no-index", "--no-deps", *wheels)
    script = """
import cext_demo, hatch_binary, meson_demo, pure_demo, skbuild_demo, uv_build_demo
assert cext_demo.add(2, 3) == 5
assert hatch_binary.greet() == "hello from libgreet" and hatch_binary.triple(4) == 12
assert skbuild_demo.square(7) == 49
assert meson_demo.negate(5) == -5
assert pure_demo.message() == "hello from a data file" and pure_demo.shout("hi") == "HI!"
assert uv_build_demo.greet("uv") == "hello uv" and uv_build_demo.__cached__
print("all imported")
"""
    assert run(python, "-c", script, cwd=tmp_path).stdout.strip() == "all imported"
    hello = run(tmp_path / "venv" / "bin" / "hatch-binary-hello").stdout
    assert hello.strip() == "hello from a native executable: 42"
    assert run(tmp_path / "venv" / "bin" / "maturin-bin-demo", "5").stdout == "maturin-bin-demo 15\n"


def test_uv_build_ships_compiled_bytecode(builds: Builds) -> None:
    """The wrapper around uv_build adds a checked-hash pyc for the module (bytecode = compile)."""
    with zipfile.ZipFile(builds.build("uv-build-pure", "uv").ok()) as archive:
        names = archive.namelist()
    tag = sys.implementation.cache_tag
    assert f"uv_build_demo/__pycache__/__init__.{tag}.pyc" in names


@pytest.mark.parametrize(
    ("sample", "frontend"),
    [("setuptools-cext", "pip"), ("setuptools-cext", "build"), ("maturin-bin", "uv"), ("hatch-binary", "uv")],
)
def test_split_debug_lands_in_the_project(builds: Builds, sample: str, frontend: str) -> None:
    """A relative split-debug directory is the project's: pip wheel, build --wheel and uv build
    --wheel build in the project (the wrapper through -C, the hook through its table), and
    each debug file's build-id is the stripped binary's."""
    if sample == "hatch-binary":
        built = builds.build(sample, frontend, edit=('strip = "all"', 'strip = "all"\nsplit-debug = "debug"'))
    else:
        built = builds.build(sample, frontend, "stripwheel.split-debug=debug")
    wheel = built.ok()
    project = wheel.parent.parent / sample
    debug_files = sorted((project / "debug" / ".build-id").glob("*/*.debug"))
    binaries = elf_members(wheel)
    assert len(debug_files) == len(binaries) == BINARIES[sample], (debug_files, built.output[-3000:])
    for data in binaries.values():
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            notes = run("readelf", "-n", f.name).stdout
        build_id = next(line.split()[-1] for line in notes.splitlines() if "Build ID:" in line)
        assert project / "debug" / ".build-id" / build_id[:2] / f"{build_id[2:]}.debug" in debug_files
    assert f"went to {project / 'debug'}" in built.output


@pytest.mark.parametrize(("frontend", "level"), [("pip", "none"), ("uv", "none"), ("build", "debug")])
def test_config_settings_choose_the_level(builds: Builds, frontend: str, level: str) -> None:
    """``-C stripwheel.strip=…`` overrides ``[tool.stripwheel] strip = "all"``: ``none`` keeps
    the debug info and symbols the compiler wrote, ``debug`` keeps the symbols only."""
    wheel = builds.build("setuptools-cext", frontend, f"stripwheel.strip={level}").ok()
    check_wheel(wheel)
    ((member, data),) = elf_members(wheel).items()
    sections = section_names(data)
    assert bool(debug_sections(data)) == (level == "none"), (member, sections)
    assert ".symtab" in sections, (member, sections)


@pytest.mark.parametrize(
    ("sample", "sources"),
    [
        ("setuptools-cext", ["setup.py", "src/cext_demo/_speedups.c", "src/cext_demo/__init__.py"]),
        ("hatch-binary", ["hatch_build.py", "native/greet.c", "native/hello.c", "src/hatch_binary/__init__.py"]),
        ("scikit-build-cmake", ["CMakeLists.txt", "src/skbuild_demo/_native.c"]),
        ("meson-ext", ["meson.build", "src/meson_demo/_native.c"]),
        ("pure-python", ["src/pure_demo/sub/helpers.py", "src/pure_demo/data/message.txt"]),
    ],
)
def test_sdist_contains_sources(builds: Builds, sample: str, sources: list[str]) -> None:
    """``build_sdist`` passes through the wrapper (and the hook) untouched."""
    sdist = builds.build(sample, "build", sdist=True).ok()
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"pyproject.toml", "README.md", *sources} <= names, sorted(names)


def test_editable_install_imports(wheelhouse: Path, tmp_path: Path) -> None:
    """``pip install -e`` goes through the wrapper's ``build_editable`` (served lazily)."""
    source = copy_sample("setuptools-cext", tmp_path)
    python = make_venv(tmp_path / "venv")
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "-q",
        "--find-links",
        wheelhouse,
        "-e",
        source,
        env=frontend_env(wheelhouse),
    )
    probe = "import cext_demo; assert cext_demo.add(40, 2) == 42; print(cext_demo.__file__)"
    location = run(python, "-c", probe, cwd=tmp_path).stdout.strip()
    assert Path(location).is_relative_to(source)


@pytest.mark.parametrize(
    ("sample", "frontend", "edit", "message"),
    [
        (
            "setuptools-cext",
            "pip",
            ('strip = "all"', 'strp = "all"'),
            "stripwheel: error: tool.stripwheel: unknown key 'strp' (did you mean 'strip'?)",
        ),
        (
            "hatch-binary",
            "uv",
            ('strip = "all"', 'strp = "all"'),
            (
                "stripwheel: error: tool.hatch.build.targets.wheel.hooks.stripwheel: unknown key 'strp'"
                " (did you mean 'strip'?)"
            ),
        ),
        (
            "setuptools-cext",
            "build",
            ('backend = "setuptools.build_meta"', 'backend = "setuptools.no_such_meta"'),
            (
                "stripwheel: error: tool.stripwheel.backend: cannot import 'setuptools.no_such_meta': "
                "No module named 'setuptools.no_such_meta'"
            ),
        ),
    ],
    ids=["typo-wrapper-pip", "typo-hook-uv", "missing-backend-build"],
)
def test_errors_are_one_clear_line(
    builds: Builds, sample: str, frontend: str, edit: tuple[str, str], message: str
) -> None:
    """A configuration error fails the build with a line naming the key, and no traceback."""
    built = builds.build(sample, frontend, edit=edit)
    assert built.proc.returncode != 0
    assert built.artifact is None
    assert message in built.output, built.output[-4000:]
    assert TRACEBACK not in built.output, built.output[-4000:]


@pytest.mark.parametrize(
    ("sample", "frontend", "settings", "edit"),
    [
        ("setuptools-cext", "pip", ("stripwheel.verify=true",), None),
        ("hatch-binary", "uv", (), ('strip = "all"', 'strip = "all"\nverify = true')),
    ],
    ids=["wrapper-pip", "hook-uv"],
)
def test_verify_in_an_isolated_build(
    builds: Builds, sample: str, frontend: str, settings: tuple[str, ...], edit: tuple[str, str] | None
) -> None:
    """``verify = true`` with LIEF in neither ``build-system.requires`` nor the frontend's own
    environment: the wrapper and the hook ask for it, and every stripped binary is verified."""
    built = builds.build(sample, frontend, *settings, edit=edit)
    check_wheel(built.ok())
    n = BINARIES[sample]
    assert f"binaries: {n} of {n} stripped" in built.output, built.output[-4000:]
    assert f"; {n} verified with LIEF" in built.output, built.output[-4000:]


def test_summary_reports_the_engine_time(builds: Builds) -> None:
    """The summary of a setuptools-cext build carries the engine's own time, once (how long
    it is, bench/ measures: no test asserts on wall-clock time)."""
    output = builds.build("setuptools-cext", "uv").output
    times = re.findall(r"^\s*time: [0-9]+\.[0-9]{2} s$", output, re.MULTILINE)
    assert len(times) == 1, output[-4000:]


MATURIN_STRIP = "strip = false   # the wheel keeps what cargo built; stripwheel strips (or checks) it"


@pytest.mark.parametrize("own_strip", ["false", "true"])
def test_check_gates_a_maturin_wheel(builds: Builds, own_strip: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A Rust wheel built by maturin with stripwheel set to leave it alone: the gate fails it
    when maturin's own strip setting is off and passes it when it is on."""
    edit = (
        MATURIN_STRIP + '\n\n[tool.stripwheel]\nbackend = "maturin"\nstrip = "all"',
        f'strip = {own_strip}\n\n[tool.stripwheel]\nbackend = "maturin"\nstrip = "none"',
    )
    wheel = builds.build("maturin-bin", "pip", edit=edit).ok()
    status = main(["check", "--json", str(wheel)])
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert finding["member"] == "maturin_bin_demo-1.0.0.data/scripts/maturin-bin-demo"
    if own_strip == "false":
        assert status == 1 and finding["strippable"] > 100_000  # the DWARF of debug = true
    else:
        assert status == 0 and finding["strippable"] == 0
