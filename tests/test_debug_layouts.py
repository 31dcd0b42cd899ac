"""Layouts ``beside`` and ``wheel`` (SPEC 5a): with the debug files laid over the installed tree
or the companion wheel installed by pip or uv, gdb, lldb, eu-stack and llvm-symbolizer find
the source lines with no setup at all, and without them none does; the companion is a valid,
deterministic wheel that pip removes cleanly; ``.data`` binaries, binaries without build-id
and two binaries sharing one all work; installed debug files are never stripped nor counted;
the wrapper backend and the hatch hook leave both wheels in dist/."""

from __future__ import annotations

import contextlib
import email
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.metadata import Metadata
from packaging.requirements import Requirement
from packaging.tags import interpreter_name, interpreter_version

import _wheels
from _demo import BINARIES
from _frontend_fixtures import copy_sample, make_venv, uv_bin
from _helpers import check_wheel, install_wheel, need, run
from stripwheel._cli import main
from stripwheel.binaries import DEBUG_FILE_REASON

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"
SUFFIX = str(sysconfig.get_config_var("EXT_SUFFIX"))
EXT = f"demo/_ext{SUFFIX}"
#: The lines of debug_ext.c the tools must name: the static ``scale``, the ``raise`` in the pause.
STATIC_LINE, PAUSE_LINE = 9, 13
#: A python that stops itself inside the extension, letting any process trace it (Yama).
PAUSE = "import ctypes; ctypes.CDLL(None).prctl(0x59616D61, ctypes.c_ulong(-1), 0, 0, 0); import demo; demo.pause()"
TAG = f"{interpreter_name()}{interpreter_version()}"
PLATFORM_TAG = f"{TAG}-{TAG}-{sysconfig.get_platform().replace('-', '_').replace('.', '_')}"
COMPANION = f"demo_debug-1.0-{PLATFORM_TAG}.whl"


@pytest.fixture(scope="module")
def ext(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo extension wheel (-O0 -g: ``scale`` stays a function) and ``scale``'s address."""
    work = tmp_path_factory.mktemp("debug-ext")
    binary = work / f"_ext{SUFFIX}"
    include = sysconfig.get_paths()["include"]
    run(need("gcc"), "-g", "-O0", "-fPIC", "-shared", f"-I{include}", DATA / "debug_ext.c", "-o", binary)
    symbols = run(need("nm"), binary).stdout.splitlines()
    address = next("0x" + line.split()[0] for line in symbols if line.endswith(" t scale"))
    files: dict[str, bytes | str] = {"demo/__init__.py": "from ._ext import add, pause\n", EXT: binary.read_bytes()}
    wheel = _wheels.pack(work / "wheel", files, tag=PLATFORM_TAG, purelib=False)
    wheel.chmod(0o444)
    return wheel, address


def strip(wheel: Path, out: Path, layout: str, *extra: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """``stripwheel strip --json`` of a copy of ``wheel`` into ``out/in`` with its debug files
    in ``out/debug``; returns the wheel's report."""
    copy = _wheels.copy(wheel, out / "in")
    args = [need("stripwheel"), "strip", "--json", "--split-debug", str(out / "debug"), "--split-debug-layout", layout]
    proc = subprocess.run([*args, *extra, str(copy)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    (report,) = json.loads(proc.stdout)["wheels"]
    assert isinstance(report, dict)
    return report


@pytest.fixture(scope="module")
def split(ext: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo extension wheel stripped with each layout: layout -> its output directory."""
    out = {}
    for layout in ("beside", "wheel"):
        out[layout] = tmp_path_factory.mktemp(f"split-{layout}")
        strip(ext[0], out[layout], layout)
    return out


def install(state: str, split: dict[str, Path], venv: Path) -> tuple[Path, Path]:
    """A venv with the stripped wheel and, per ``state``, its debug files: none, DIR laid over
    site-packages (``beside``), or the companion installed by pip or uv; its site-packages
    and python."""
    python = make_venv(venv)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('platlib'))").stdout.strip())
    layout = "beside" if state == "beside" else "wheel"
    (main_wheel,) = (split[layout] / "in").glob("*.whl")
    wheels = [main_wheel] + ([split["wheel"] / "debug" / COMPANION] if state.startswith("wheel") else [])
    if state == "wheel-pip":
        run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index", *wheels)
    else:
        run(uv_bin(), "pip", "install", "-q", "--python", python, "--no-index", *wheels)
    if state == "beside":
        shutil.copytree(split["beside"] / "debug", site, dirs_exist_ok=True)  # cp -a DIR/. site-packages/
    return site, python


def bare_env(home: Path) -> dict[str, str]:
    """No configuration at all: a fresh HOME (no .gdbinit, .lldbinit, caches), no debuginfod."""
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEBUGINFOD", "XDG_", "LLDB"))}
    return {**env, "HOME": str(home)}


def output(*args: str | Path, env: dict[str, str]) -> str:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=120)
    return proc.stdout + proc.stderr


@contextlib.contextmanager
def stopped_in_the_extension(python: Path, env: dict[str, str]) -> Iterator[int]:
    """A python stopped by SIGSTOP inside ``debug_ext_pause``; its pid."""
    proc = subprocess.Popen([python, "-c", PAUSE], env=env)
    try:
        deadline = time.monotonic() + 30
        while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the paused python did not stop (exit status {proc.returncode})")
            time.sleep(0.01)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("state", ["none", "beside", "wheel-pip", "wheel-uv"])
def test_debuggers_find_the_debug_file_with_no_setup(
    state: str, ext: tuple[Path, str], split: dict[str, Path], tmp_path: Path
) -> None:
    """Every tool gets the source line of a static function from the file, and of the frame a
    process stopped in, through the installed debug file alone; with none installed, not one
    does (while the breakpoint and the backtrace still name the exported function)."""
    site, python = install(state, split, tmp_path / "venv")
    so = site / EXT
    env = bare_env(tmp_path / "home")
    gdb = [need("gdb"), "-nx", "-batch"]
    static = output(*gdb, "-ex", f"file {so}", "-ex", "info line scale", env=env)
    running = output(
        *gdb, "-ex", "set breakpoint pending on", "-ex", "break debug_ext_pause", "-ex", "run", "-ex", "bt 1",
        "--args", python, "-c", PAUSE, env=env,
    )  # fmt: skip
    with stopped_in_the_extension(python, env) as pid:
        stack = output(need("eu-stack"), "-s", "-p", str(pid), env=env)
    symbolized = output(need("llvm-symbolizer-19"), f"--obj={so}", ext[1], env=env)
    lldb = output(need("lldb-19"), "-b", "-o", "image lookup -n scale -v", so, env=env)
    found = state != "none"
    checks = {
        "gdb info line": (static, f'Line {STATIC_LINE} of "'),
        "gdb bt": (running, f"debug_ext.c:{PAUSE_LINE}"),
        "eu-stack": (stack, f"debug_ext.c:{PAUSE_LINE}"),
        "llvm-symbolizer": (symbolized, f"debug_ext.c:{STATIC_LINE}"),
        "lldb": (lldb, f"debug_ext.c:{STATIC_LINE}"),
    }
    for tool, (text, line) in checks.items():
        assert (line in text) is found, f"{tool} ({state}):\n{text}"
    assert "debug_ext_pause" in running.partition("Breakpoint 1, ")[2], running  # stopped there either way
    assert "debug_ext_pause" in stack, stack


def debuglink(data: bytes, tmp: Path) -> tuple[str, int]:
    """The ``.gnu_debuglink`` of an ELF image: the file name and CRC-32 it carries."""
    path, section = tmp / "image", tmp / "debuglink"
    path.write_bytes(data)
    run(need("llvm-objcopy-19"), "--dump-section", f".gnu_debuglink={section}", path, tmp / "scratch")
    raw = section.read_bytes()
    crc = int.from_bytes(raw[-4:], "little" if data[5] == 1 else "big")  # EI_DATA: the target's byte order
    return raw[: raw.index(b"\0")].decode(), crc


def assert_linked(binary: bytes, debug_file: Path, tmp: Path) -> None:
    """``binary``'s debuglink names ``debug_file`` and carries its CRC: debuggers will take it."""
    name, crc = debuglink(binary, tmp)
    assert name == debug_file.name and crc == zlib.crc32(debug_file.read_bytes()), (name, debug_file)
    assert debug_file.parent.name == ".debug"


def test_the_companion_wheel(ext: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Named like the main wheel; valid for pypa/installer; METADATA read by packaging, pinning
    the main distribution; WHEEL tags and Root-Is-Purelib the main wheel's; the report names
    it; a dry run writes nothing; two runs give the same bytes, dated by SOURCE_DATE_EPOCH."""
    wheel = _wheels.copy(ext[0], tmp_path / "in")
    dry = ["strip", "--dry-run", "--split-debug", str(tmp_path / "dry"), "--split-debug-layout", "wheel"]
    assert main([*dry, str(wheel)]) == 0
    assert f"debug wheel: {tmp_path / 'dry' / COMPANION} (would be written)" in capsys.readouterr().err
    assert not (tmp_path / "dry").exists() and wheel.read_bytes() == ext[0].read_bytes()

    args = ["strip", "--json", "--split-debug", str(tmp_path / "debug"), "--split-debug-layout", "wheel"]
    assert main([*args, str(wheel)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)["wheels"][0]
    companion = tmp_path / "debug" / COMPANION
    assert [p.name for p in companion.parent.iterdir()] == [COMPANION]
    assert report["debug_wheel"] == str(companion) and report["debug_wheel_size"] == companion.stat().st_size
    assert f"debug wheel: {companion} (" in captured.err
    (binary,) = report["binaries"]
    assert binary["debug_file"] == f"demo/.debug/_ext{SUFFIX}.debug"
    check_wheel(companion)
    members = _wheels.members(companion)
    assert sorted(members) == [
        binary["debug_file"],
        "demo_debug-1.0.dist-info/METADATA",
        "demo_debug-1.0.dist-info/RECORD",
        "demo_debug-1.0.dist-info/WHEEL",
    ]
    (tmp_path / "link").mkdir()
    debug_file = tmp_path / "link" / ".debug" / f"_ext{SUFFIX}.debug"
    debug_file.parent.mkdir()
    debug_file.write_bytes(members[binary["debug_file"]])
    assert_linked(_wheels.read(wheel, EXT), debug_file, tmp_path / "link")
    metadata = Metadata.from_email(members["demo_debug-1.0.dist-info/METADATA"], validate=True)
    assert (metadata.name, str(metadata.version)) == ("demo-debug", "1.0")
    assert metadata.requires_dist == [Requirement("demo==1.0")]
    assert metadata.summary is not None and "demo 1.0" in metadata.summary
    ours = email.message_from_bytes(members["demo_debug-1.0.dist-info/WHEEL"])
    theirs = email.message_from_bytes(_wheels.read(wheel, "demo-1.0.dist-info/WHEEL"))
    assert ours.get_all("Tag") == theirs.get_all("Tag") == [PLATFORM_TAG]
    assert ours["Root-Is-Purelib"] == theirs["Root-Is-Purelib"] == "false"

    again = companion.read_bytes()
    assert main([*args, str(wheel), str(companion)]) == 0  # a rerun over dist/*.whl: nothing to do
    assert capsys.readouterr().err.count("no debug wheel was written") == 1  # said of the wheel, not the companion
    assert companion.read_bytes() == again

    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    first, second = (strip(ext[0], tmp_path / f"run{n}", "wheel", env=env) for n in (1, 2))
    data = [Path(str(r["debug_wheel"])).read_bytes() for r in (first, second)]
    assert data[0] == data[1]
    with zipfile.ZipFile(Path(str(first["debug_wheel"]))) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def test_pip_uninstall_removes_exactly_the_companion(split: dict[str, Path], tmp_path: Path) -> None:
    """``pip uninstall -y demo-debug`` takes the files its RECORD lists and nothing else; the
    package still imports and runs."""
    site, python = install("wheel-pip", split, tmp_path / "venv")
    venv = tmp_path / "venv"
    record = site / "demo_debug-1.0.dist-info" / "RECORD"
    listed = {(site / line.split(",")[0]).resolve() for line in record.read_text().splitlines() if line}
    assert site / "demo" / ".debug" / f"_ext{SUFFIX}.debug" in listed
    before = {p.resolve() for p in venv.rglob("*") if p.is_file()}
    run(sys.executable, "-m", "pip", "--python", python, "uninstall", "-q", "-y", "demo-debug")
    after = {p.resolve() for p in venv.rglob("*") if p.is_file()}
    assert before - after == listed and after < before
    assert run(python, "-c", "import demo; print(demo.add(40, 2))").stdout.strip() == "42"


@pytest.mark.parametrize("layout", ["beside", "wheel"])
def test_data_binaries_no_build_id_and_shared_build_ids(
    layout: str, demo_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo wheel has an executable in ``.data/scripts``, a library without build-id and two
    libraries sharing one (a patchelf'd copy): each gets its own debug file at its own path,
    linked with name and CRC; installed, every one sits in ``.debug/`` beside its binary."""
    debug = tmp_path / "debug"
    args = ["strip", "--json", "--split-debug", str(debug), "--split-debug-layout", layout]
    assert main([*args, str(demo_wheel)]) == 0
    report = json.loads(capsys.readouterr().out)["wheels"][0]
    assert not [w for w in report["warnings"] if "build-id" in w], report["warnings"]
    stripped = {b["member"]: b for b in report["binaries"] if b["action"] == "stripped"}
    assert sorted(stripped) == sorted(BINARIES)
    members = _wheels.members(demo_wheel)
    prefix = tmp_path / "prefix"
    if layout == "wheel":
        companion = debug / f"demo_debug-1.0-{demo_wheel.name.split('-', 2)[2]}"
        check_wheel(companion)
        assert stripped["demo-1.0.data/scripts/demo-tool"]["debug_file"] == (
            "demo_debug-1.0.data/scripts/.debug/demo-tool.debug"
        )
        install_wheel(demo_wheel, prefix)
        site = install_wheel(companion, prefix)
        installed = {m: site / m for m in BINARIES} | {"demo-1.0.data/scripts/demo-tool": prefix / "bin" / "demo-tool"}
    else:
        installed = {m: debug / m for m in BINARIES}  # the mirror: where each debug file's binary would be
    for member, path in installed.items():
        debug_file = path.parent / ".debug" / f"{path.name}.debug"
        if layout == "beside":
            assert str(debug_file) == stripped[member]["debug_file"]
        (tmp_path / member).mkdir(parents=True)
        assert_linked(members[member], debug_file, tmp_path / member)
    patched = [installed[f"demo.libs/libhelper{s}.so"].parent / ".debug" for s in ("", "_patched")]
    assert (patched[0] / "libhelper.so.debug").read_bytes() != (patched[1] / "libhelper_patched.so.debug").read_bytes()


def test_installed_debug_files_are_left_alone(
    split: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tree with the companion installed: ``strip`` (also with split-debug) leaves its debug
    files byte-identical and says what they are; ``check`` passes without counting them; the
    ``wheel`` layout on a directory is one clear line."""
    prefix = tmp_path / "prefix"
    install_wheel(next((split["wheel"] / "in").glob("*.whl")), prefix)
    site = install_wheel(split["wheel"] / "debug" / COMPANION, prefix)
    debug_file = site / "demo" / ".debug" / f"_ext{SUFFIX}.debug"
    before = debug_file.read_bytes()
    store = ["--split-debug", str(tmp_path / "store"), "--split-debug-layout", "beside"]
    for extra in ([], store):
        assert main(["strip", "--json", *extra, str(prefix)]) == 0
        binaries = {b["member"]: b for b in json.loads(capsys.readouterr().out)["trees"][0]["binaries"]}
        entry = binaries[str(debug_file.relative_to(prefix))]
        assert entry["action"] == "unchanged" and entry["reason"] == DEBUG_FILE_REASON
        assert debug_file.read_bytes() == before
    assert not (tmp_path / "store").exists()
    assert main(["check", "--json", str(prefix)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["passed"] and ".debug" not in json.dumps(document)

    wrong = ["strip", "--split-debug", str(tmp_path / "store"), "--split-debug-layout", "wheel", str(prefix)]
    assert main(wrong) == 1
    assert capsys.readouterr().err.splitlines() == [
        (
            "stripwheel: error: split-debug-layout: 'wheel' makes a companion wheel of a wheel;"
            " for a directory or a file use 'beside'"
        )
    ]
    assert not (tmp_path / "store").exists()


def test_beside_for_a_tree_and_a_bare_file(ext: tuple[Path, str], tmp_path: Path) -> None:
    """A tree's debug files mirror its paths (DIR being the tree itself puts each beside its
    binary, where gdb finds it); a bare file's go to ``DIR/.debug/<name>.debug``."""
    binary = _wheels.read(ext[0], EXT)  # the wheel holds the unstripped extension
    for name in ("tree", "self"):
        (tmp_path / name / "pkg").mkdir(parents=True)
        (tmp_path / name / "pkg" / "_ext.so").write_bytes(binary)
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "_ext.so").write_bytes(binary)
    cases = [
        (tmp_path / "tree", tmp_path / "d1", tmp_path / "d1" / "pkg" / ".debug" / "_ext.so.debug"),
        (tmp_path / "self", tmp_path / "self", tmp_path / "self" / "pkg" / ".debug" / "_ext.so.debug"),
        (tmp_path / "bare" / "_ext.so", tmp_path / "d2", tmp_path / "d2" / ".debug" / "_ext.so.debug"),
    ]
    for target, store, expected in cases:
        assert main(["strip", "--split-debug", str(store), "--split-debug-layout", "beside", str(target)]) == 0
        stripped = target / "pkg" / "_ext.so" if target.is_dir() else target
        (tmp_path / "scratch").mkdir(exist_ok=True)
        assert_linked(stripped.read_bytes(), expected, tmp_path / "scratch")
    env = bare_env(tmp_path / "home")
    so = tmp_path / "self" / "pkg" / "_ext.so"
    assert f'Line {STATIC_LINE} of "' in output(
        need("gdb"), "-nx", "-batch", "-ex", f"file {so}", "-ex", "info line scale", env=env
    )


@pytest.mark.parametrize("way", ["hook", "wrapper"])
def test_python_m_build_leaves_both_wheels_in_dist(way: str, tmp_path: Path) -> None:
    """hatch-binary (a ctypes library, an executable in ``.data/scripts``) built by ``python -m
    build`` with ``split-debug = "dist"`` and layout ``wheel``, through the hatch hook or the
    wrapper backend around hatchling: dist/ holds the wheel and its companion, whose debug
    files, installed with it, sit beside their binaries with matching debuglinks."""
    project = copy_sample("hatch-binary", tmp_path)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    options = 'split-debug = "dist"\nsplit-debug-layout = "wheel"\n'
    if way == "hook":
        text = text.replace('hooks.stripwheel]\nstrip = "all"\n', f'hooks.stripwheel]\nstrip = "all"\n{options}')
    else:
        text = text.replace('build-backend = "hatchling.build"', 'build-backend = "stripwheel.backend"')
        text = text.replace("[tool.hatch.build.targets.wheel.hooks.stripwheel]\n", "[tool.unused]\n")
        text += f'\n[tool.stripwheel]\nbackend = "hatchling.build"\n{options}'
    assert text.count("split-debug-layout") == 1
    pyproject.write_text(text)
    run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", project / "dist", project, cwd=project)
    wheels = sorted(p.name for p in (project / "dist").iterdir())
    assert len(wheels) == 2 and wheels[0].startswith("hatch_binary-1.0-"), wheels
    assert wheels[1] == "hatch_binary_debug-1.0-" + wheels[0].split("-", 2)[2]
    main_wheel, companion = (project / "dist" / name for name in wheels)
    check_wheel(main_wheel)
    check_wheel(companion)
    assert sorted(n for n in _wheels.members(companion) if ".dist-info/" not in n) == [
        "hatch_binary/.debug/libgreet.so.debug",
        "hatch_binary_debug-1.0.data/scripts/.debug/hatch-binary-hello.debug",
    ]
    prefix = tmp_path / "prefix"
    install_wheel(main_wheel, prefix)
    site = install_wheel(companion, prefix)
    members = _wheels.members(main_wheel)
    for member, path in [
        ("hatch_binary/libgreet.so", site / "hatch_binary" / "libgreet.so"),
        ("hatch_binary-1.0.data/scripts/hatch-binary-hello", prefix / "bin" / "hatch-binary-hello"),
    ]:
        (tmp_path / "scratch" / member).mkdir(parents=True)
        assert_linked(members[member], path.parent / ".debug" / f"{path.name}.debug", tmp_path / "scratch" / member)
