"""macOS and Windows wheels: ``stripwheel strip`` against unpack -> strip -> pack.

Per wheel, alternating (ours, peer, ours, peer, ...), each run in a fresh directory:

* ours: ``stripwheel strip -w OUT WHEEL --json`` (the same command as the Linux bench);
* peer: ``python -m wheel unpack`` -> ``llvm-strip-19 -x`` on every Mach-O member (macOS) or
  ``x86_64-w64-mingw32-strip`` on every PE member (Windows), one file at a time ->
  ``python -m wheel pack``. The strip step is also timed on its own.

Outside the timed runs: bytes saved by each side over the same members, the largest per-member
size difference, and, for every slice that was signed in the input, whether its signature is
valid in each side's output (the test suite's ``tests/_codesign_oracle.py``, imported from its
file; never stripwheel's own code, which is what is being judged); for Authenticode
PE files, whether the certificate is still there and its digest still matches the file.

Used by ``run.py --platform macos|windows``, which owns the command line; stdlib, ``packaging``
and stripwheel only.
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import hashlib
import importlib.util
import json
import shutil
import struct
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import _common as core
from packaging.utils import canonicalize_name, parse_wheel_filename

#: Signatures are judged by the test suite's independent verifier, not by code under test.
ORACLE = core.REPO / "tests" / "_codesign_oracle.py"


@dataclass(frozen=True)
class Variant:
    """One platform flavour: corpus sub-directory, ``pip --platform`` value, tag glob, wheels."""

    label: str
    platform: str
    tag: str
    names: tuple[str, ...]


#: What PyPI has for the pins of _common.PINS (checked when this was written): lxml has no thin
#: arm64 wheel, cryptography 50 no x86_64 or universal2 one, pillow/numpy/pyyaml no universal2.
VARIANTS = {
    "macos": (
        Variant("arm64", "macosx_11_0_arm64", "macosx_*_arm64",
                ("pyyaml", "pillow", "cryptography", "numpy")),
        Variant("x86_64", "macosx_10_13_x86_64", "macosx_*_x86_64",
                ("pyyaml", "pillow", "numpy", "lxml")),
        Variant("universal2", "macosx_10_9_universal2", "macosx_*_universal2",
                ("cryptography", "lxml")),
    ),
    "windows": (
        Variant("win_amd64", "win_amd64", "win_amd64",
                ("pyyaml", "pillow", "cryptography", "numpy", "lxml")),
    ),
}  # fmt: skip
MACOS_VARIANTS = {v.label for v in VARIANTS["macos"]}
#: Pins that differ from _common.PINS for one variant.
PIN_OVERRIDES = {("universal2", "cryptography"): "48.0.1"}  # last release with a universal2 wheel
PEER_TOOL = {"macos": "llvm-strip-19", "windows": "x86_64-w64-mingw32-strip"}
PEER_ARGS = {"macos": ["-x"], "windows": []}

MH_MAGICS = (b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")
FAT_MAGICS = (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf")
LC_CODE_SIGNATURE = 0x1D
CPU_NAMES = {0x01000007: "x86_64", 0x0100000C: "arm64", 7: "i386", 0x0200000C: "arm64_32"}
#: Saved bytes, ours over the peer's: the target band.
SAVED_TOLERANCE = 0.005


# --- binary formats (independent of stripwheel's parsers)


def is_macho(head: bytes) -> bool:
    """Mach-O by magic (``cafebabe`` with a small slice count; Java classes share the magic)."""
    if head[:4] in MH_MAGICS:
        return True
    return head[:4] in FAT_MAGICS and len(head) >= 8 and 0 < struct.unpack(">I", head[4:8])[0] < 20


def is_pe(head: bytes) -> bool:
    """A PE image: ``MZ`` and ``PE\\0\\0`` at ``e_lfanew`` (``head`` is the whole file)."""
    if head[:2] != b"MZ" or len(head) < 0x40:
        return False
    lfanew = struct.unpack_from("<I", head, 0x3C)[0]
    return head[lfanew : lfanew + 4] == b"PE\0\0"


def slices(data: bytes) -> list[tuple[str, bytes]]:
    """(architecture, bytes) of each slice of a Mach-O file; a thin file is one slice."""
    if data[:4] in MH_MAGICS:
        return [(CPU_NAMES.get(struct.unpack_from("<I", data, 4)[0], "?"), data)]
    wide = data[:4] == FAT_MAGICS[1]
    found = []
    for i in range(struct.unpack_from(">I", data, 4)[0]):
        if wide:
            cpu, _, off, size, _, _ = struct.unpack_from(">2I2Q2I", data, 8 + 32 * i)
        else:
            cpu, _, off, size, _ = struct.unpack_from(">5I", data, 8 + 20 * i)
        found.append((CPU_NAMES.get(cpu, "?"), data[off : off + size]))
    return found


def is_signed(thin: bytes) -> bool:
    """Whether a little-endian thin slice has an ``LC_CODE_SIGNATURE`` load command."""
    ncmds = struct.unpack_from("<I", thin, 16)[0]
    pos = 32 if thin[:4] == MH_MAGICS[1] else 28
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<2I", thin, pos)
        if cmd == LC_CODE_SIGNATURE:
            return True
        pos += size
    return False


def authenticode(data: bytes) -> str:
    """``none`` (no certificate table), ``valid`` (the file's Authenticode digest, SHA-256 or
    SHA-1, appears in the certificate blob) or ``invalid``. Checks content, not the chain."""
    lfanew = struct.unpack_from("<I", data, 0x3C)[0]
    optional = lfanew + 24
    directories = optional + (96 if struct.unpack_from("<H", data, optional)[0] == 0x10B else 112)
    if struct.unpack_from("<I", data, directories - 4)[0] < 5:
        return "none"
    entry = directories + 8 * 4  # IMAGE_DIRECTORY_ENTRY_SECURITY: a file offset, not an RVA
    offset, size = struct.unpack_from("<2I", data, entry)
    if offset == 0 or size == 0:
        return "none"
    checksum = optional + 64
    digested = b"".join((data[:checksum], data[checksum + 4 : entry],
                         data[entry + 8 : offset], data[offset + size :]))  # fmt: skip
    blob = data[offset : offset + size]
    for algorithm in ("sha256", "sha1"):
        if hashlib.new(algorithm, digested).digest() in blob:
            return "valid"
    return "invalid"


@functools.cache
def signature_oracle() -> Callable[[bytes], list[str]]:
    """``verify_signature`` of ``tests/_codesign_oracle.py``: problems with a slice's signature,
    none when valid. Imported from its file, which stays where the tests import it from: one
    verifier for both, no copy, and ``tests/`` not on ``sys.path`` (standard library only)."""
    spec = importlib.util.spec_from_file_location("_codesign_oracle", ORACLE)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {ORACLE}")
    oracle = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = oracle  # its dataclasses look their module up as they are made
    spec.loader.exec_module(oracle)
    verify: Callable[[bytes], list[str]] = oracle.verify_signature
    return verify


# --- results


@dataclass
class Binary:
    """One binary member: sizes before / ours / peer, and its signed slices' state per side."""

    name: str
    before: int
    ours: int | None = None
    peer: int | None = None
    signed: list[str] = field(default_factory=list)  # slices (or "pe") signed in the input
    ours_valid: list[str] = field(default_factory=list)
    peer_valid: list[str] = field(default_factory=list)
    ours_action: str | None = None
    ours_reason: str | None = None


@dataclass
class Result:
    """Everything measured on one wheel of one variant."""

    name: str
    variant: str
    version: str
    wheel: str
    ours: list[core.Run] = field(default_factory=list)
    peer: list[core.Run] = field(default_factory=list)
    engine_seconds: list[float] = field(default_factory=list)
    binaries: list[Binary] = field(default_factory=list)
    record_ok: bool | None = None
    wheel_before: int = 0
    wheel_ours: int | None = None
    wheel_peer: int | None = None
    errors: list[str] = field(default_factory=list)

    def median(self, side: str, step: str | None = None) -> float | None:
        """Median wall time of ``side``'s successful runs (of one peer step if ``step``)."""
        runs = [r for r in getattr(self, side) if r.ok]
        values = [r.steps[step] if step else r.seconds for r in runs if not step or step in r.steps]
        return core.median(values)

    def saved(self, side: str) -> int | None:
        """Bytes saved over all binary members by ``side``."""
        sizes: list[int | None] = [getattr(b, side) for b in self.binaries]
        if not self.binaries or any(s is None for s in sizes):
            return None
        return sum(b.before for b in self.binaries) - sum(s for s in sizes if s is not None)

    def saved_ratio(self) -> float | None:
        """Bytes saved, ours / peer."""
        ours, peer = self.saved("ours"), self.saved("peer")
        return ours / peer if ours is not None and peer else None

    def worst_member(self) -> tuple[float, str] | None:
        """Largest relative size difference ours vs peer over the members, with its name."""
        diffs = [(abs(b.ours - b.peer) / b.peer, b.name) for b in self.binaries
                 if b.ours is not None and b.peer]  # fmt: skip
        return max(diffs) if diffs else None

    def off_target(self) -> bool:
        """Mach-O only: bytes saved outside the 0.5 % band around the peer's (on Windows the
        peer saves nothing but the Authenticode certificates it destroys)."""
        ratio = self.saved_ratio()
        if self.variant not in MACOS_VARIANTS or ratio is None:
            return False
        return abs(ratio - 1) > SAVED_TOLERANCE

    def failed(self) -> bool:
        """A step failed, RECORD is wrong, a signature of ours is invalid, or saved bytes miss."""
        off_target = self.off_target()
        bad_sig = any(len(b.ours_valid) != len(b.signed) for b in self.binaries)
        return bool(self.errors) or self.record_ok is False or bad_sig or off_target


# --- corpus


def corpus_dir(platform: str, variant: Variant) -> Path:
    """``bench/_corpus/<platform>/<variant>/``."""
    return core.CORPUS / platform / variant.label


def pin(variant: Variant, name: str) -> str:
    """The pinned version of ``name`` for ``variant``."""
    return PIN_OVERRIDES.get((variant.label, name), core.PINS[name])


def find(directory: Path, variant: Variant, name: str) -> Path | None:
    """The corpus wheel of ``name`` whose platform tag fits ``variant``: pinned, else newest."""
    found = []
    for path in directory.glob("*.whl"):
        dist, version, _, tags = parse_wheel_filename(path.name)
        if dist == canonicalize_name(name) and any(fnmatch.fnmatch(t.platform, variant.tag) for t in tags):
            found.append((version.public == pin(variant, name), version, path))
    return max(found)[2] if found else None


def fetch(platform: str, variant: Variant, names: list[str]) -> dict[str, Path]:
    """Download the missing wheels; pip may offer a universal2 wheel for a thin arch: dropped."""
    directory = corpus_dir(platform, variant)
    directory.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--python-version", "3.11", "--platform", variant.platform,
           "-d", str(directory)]  # fmt: skip
    for name in names:
        if find(directory, variant, name) is not None:
            continue
        print(f"fetching {name} for {variant.label} into {directory}", file=sys.stderr)
        for spec in (f"{name}=={pin(variant, name)}", name):
            before = set(directory.iterdir())
            got = core.run(pip + [spec], core.BENCH)
            for stray in set(directory.iterdir()) - before:
                if find(directory, variant, name) != stray:
                    stray.unlink()  # another arch's wheel (pip's macOS tag expansion)
            if find(directory, variant, name) is not None:
                break
            reason = got.tail() if got.returncode else f"no {variant.tag} wheel"
            print(f"  {spec}: {reason}", file=sys.stderr)
    wheels = {n: w for n in names if (w := find(directory, variant, n)) is not None}
    for name, wheel in wheels.items():
        print(f"corpus: {variant.label} {name} ({wheel.name})", file=sys.stderr)
    return wheels


# --- the peer


def run_peer(platform: str, wheel: Path, work: Path) -> tuple[core.Run, Path | None]:
    """``wheel unpack`` -> the platform's strip on every binary member -> ``wheel pack``."""
    start = time.perf_counter()
    steps: dict[str, float] = {}
    warnings: list[str] = []

    def failed(step: str, proc: core.Proc) -> tuple[core.Run, Path | None]:
        error = f"{step}: exit {proc.returncode}: {proc.tail()}"
        return core.Run(time.perf_counter() - start, 0, False, error, warnings, steps), None

    unpack = core.run([sys.executable, "-m", "wheel", "unpack", "-d", str(work / "unpacked"),
                       str(wheel)], work)  # fmt: skip
    steps["unpack"] = unpack.seconds
    peak = unpack.peak_rss
    if unpack.returncode != 0:
        return failed("wheel unpack", unpack)
    stripping = time.perf_counter()
    (tree,) = (work / "unpacked").iterdir()
    accept = is_macho if platform == "macos" else is_pe
    for path in sorted(tree.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as f:
            head = f.read(4096)
        if not accept(head):
            continue
        strip = core.run([PEER_TOOL[platform], *PEER_ARGS[platform], str(path)], work)
        peak = max(peak, strip.peak_rss)
        if strip.returncode != 0:
            warnings.append(f"{PEER_TOOL[platform]} {path.relative_to(tree)}: {strip.tail()}")
    steps["strip"] = time.perf_counter() - stripping
    (work / "dist").mkdir()
    pack = core.run([sys.executable, "-m", "wheel", "pack", "-d", str(work / "dist"), str(tree)],
                    work)  # fmt: skip
    steps["pack"] = pack.seconds
    if pack.returncode != 0:
        return failed("wheel pack", pack)
    (packed,) = (work / "dist").glob("*.whl")
    return core.Run(time.perf_counter() - start, max(peak, pack.peak_rss), True, None, warnings,
                    steps), packed  # fmt: skip


# --- checks outside the timed runs


def binary_members(wheel: Path, platform: str) -> dict[str, bytes]:
    """The Mach-O (macOS) or PE (Windows) members of ``wheel``, by name."""
    accept = is_macho if platform == "macos" else is_pe
    found = {}
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if not info.is_dir():
                data = zf.read(info)
                if accept(data[:4096]):
                    found[info.filename] = data
    return found


def valid_slices(platform: str, data: bytes | None, signed: list[str]) -> list[str]:
    """The entries of ``signed`` whose signature is valid in ``data``."""
    if data is None:
        return []
    if platform == "windows":
        return signed if signed and authenticode(data) == "valid" else []
    by_arch = dict(slices(data))
    verify = signature_oracle()
    return [a for a in signed if a in by_arch and verify(by_arch[a]) == []]


def analyse(result: Result, platform: str, wheel: Path, ours: Path | None,
            peer: Path | None, report: dict[str, Any] | None) -> None:  # fmt: skip
    """Sizes, signatures and RECORD of the kept outputs, member by member."""
    before = binary_members(wheel, platform)
    after = binary_members(ours, platform) if ours else {}
    theirs = binary_members(peer, platform) if peer else {}
    entries: dict[str, dict[str, Any]] = {}
    if report:
        for w in report.get("wheels", []):
            entries.update({b["member"]: b for b in w["binaries"]})
    for name, data in sorted(before.items()):
        if platform == "macos":
            signed = [arch for arch, thin in slices(data) if is_signed(thin)]
        else:
            signed = ["pe"] if authenticode(data) != "none" else []
        entry = entries.get(name, {})
        member = Binary(
            name, len(data),
            len(after[name]) if name in after else None,
            len(theirs[name]) if name in theirs else None,
            signed, valid_slices(platform, after.get(name), signed),
            valid_slices(platform, theirs.get(name), signed),
            entry.get("action"), entry.get("reason"),
        )  # fmt: skip
        if ours is not None and name not in after:
            result.errors.append(f"{name}: missing from stripwheel's output")
        result.binaries.append(member)
    if ours is not None:
        problems = core.record_problems(ours)
        result.record_ok = not problems
        result.errors += [f"RECORD: {p}" for p in problems[:10]]


def bench_wheel(platform: str, variant: Variant, name: str, wheel: Path, repeat: int) -> Result:
    """Alternate ours and the peer ``repeat`` times, then compare their outputs."""
    wheel = wheel.resolve()
    result = Result(name, variant.label, str(parse_wheel_filename(wheel.name)[1]), wheel.name,
                    wheel_before=wheel.stat().st_size)  # fmt: skip
    base = core.WORK / platform / variant.label / name
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    wheel.read_bytes()  # warm the page cache
    kept: Path | None = None
    kept_peer: Path | None = None
    report: dict[str, Any] | None = None
    for i in range(repeat):
        for side in ("ours", "peer"):
            work = core.fresh_dir(base, f"{side}-{i}-")
            try:
                if side == "ours":
                    got, output, doc = core.run_ours(wheel, work)
                    if doc is not None:
                        seconds = doc["wheels"][0]["seconds"]  # type: ignore[index]
                        result.engine_seconds.append(float(seconds))
                    if output is not None and kept is None:
                        kept, report = core.keep(output, base, "ours"), doc
                        result.wheel_ours = kept.stat().st_size
                else:
                    got, packed = run_peer(platform, wheel, work)
                    if packed is not None and kept_peer is None:
                        kept_peer = core.keep(packed, base, "peer")
                        result.wheel_peer = kept_peer.stat().st_size
            except Exception as exc:  # noqa: BLE001 - a failing step goes into the table
                got = core.Run(0.0, 0, False, f"{type(exc).__name__}: {exc}")
            finally:
                shutil.rmtree(work, ignore_errors=True)
            getattr(result, side).append(got)
            status = f"{got.seconds:6.2f} s" if got.ok else f"FAILED: {got.error}"
            status += "".join(f", {k} {v:.2f} s" for k, v in got.steps.items())
            print(f"  {variant.label} {name} run {i + 1}/{repeat} {side}: {status}",
                  file=sys.stderr)  # fmt: skip
    for side in ("ours", "peer"):
        runs = getattr(result, side)
        result.errors += sorted({f"{side}: {r.error}" for r in runs if r.error})
        if side == "ours":  # the peer's tool warnings are informative, not our failures
            result.errors += sorted({f"ours warning: {w}" for r in runs for w in r.warnings})
    try:
        analyse(result, platform, wheel, kept, kept_peer, report)
    except Exception as exc:  # noqa: BLE001
        result.errors.append(f"analysis: {type(exc).__name__}: {exc}")
    return result


# --- report


def kb(n: int | None) -> str:
    """Decimal kilobytes, or a dash."""
    return "–" if n is None else f"{n / 1e3:,.1f}"


def mb2(n: int | None) -> str:
    """Decimal megabytes with two decimals, or a dash."""
    return "–" if n is None else f"{n / 1e6:.2f}"


def ratio(a: float | None, b: float | None, digits: int = 3) -> str:
    """``a / b`` or a dash."""
    return f"{a / b:.{digits}f}" if a is not None and b else "–"


def table(platform: str, results: list[Result]) -> str:
    """One markdown row per wheel; medians and ratios."""
    tool = PEER_TOOL[platform] + (" -x" if platform == "macos" else "")
    sig = "signed slices valid" if platform == "macos" else "Authenticode files valid"
    head = ("wheel", "binaries (signed)", f"binaries MB before → ours / {tool}",
            "saved kB ours / peer (ratio)", "max member Δ", "changed ours / peer",
            "ours s CLI (engine)", "peer s total (strip step)", "CLI / peer total",
            "engine / strip step",
            f"{sig}: ours / peer", "wheel MB before → ours / peer", "RECORD")  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        bins = r.binaries
        signed = sum(len(b.signed) for b in bins)
        before = sum(b.before for b in bins)
        ours_mb = None if r.saved("ours") is None else before - (r.saved("ours") or 0)
        peer_mb = None if r.saved("peer") is None else before - (r.saved("peer") or 0)
        worst = r.worst_member()
        changed_ours = sum(b.ours is not None and b.ours != b.before for b in bins)
        changed_peer = sum(b.peer is not None and b.peer != b.before for b in bins)
        engine = core.median(r.engine_seconds)
        ours_t, peer_t, strip_t = r.median("ours"), r.median("peer"), r.median("peer", "strip")
        saved_ratio = r.saved_ratio()
        flag = ""
        if saved_ratio is not None and platform == "macos":
            flag = " ✗" if r.off_target() else " ✓"
        record = "–" if r.record_ok is None else "ok" if r.record_ok else "BAD"
        row = (f"{r.name} {r.version} {r.variant}", f"{len(bins)} ({signed})",
               f"{mb2(before)} → {mb2(ours_mb)} / {mb2(peer_mb)}",
               f"{kb(r.saved('ours'))} / {kb(r.saved('peer'))} ({ratio(r.saved('ours'), r.saved('peer'), 4)}{flag})",
               "–" if worst is None else f"{worst[0] * 100:.3f} %",
               f"{changed_ours} / {changed_peer}",
               f"{core.secs(ours_t)} ({core.secs(engine)})", f"{core.secs(peer_t)} ({core.secs(strip_t)})",
               ratio(ours_t, peer_t), ratio(engine, strip_t),
               f"{sum(len(b.ours_valid) for b in bins)}/{signed} / {sum(len(b.peer_valid) for b in bins)}/{signed}",
               f"{mb2(r.wheel_before)} → {mb2(r.wheel_ours)} / {mb2(r.wheel_peer)}",
               record)  # fmt: skip
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def details(results: list[Result]) -> str:
    """Errors, invalid signatures, members stripwheel left unchanged, largest differences."""
    lines = []
    for r in results:
        label = f"{r.name} {r.variant}"
        for b in r.binaries:
            if len(b.ours_valid) != len(b.signed):
                lines.append(f"- {label}: `{b.name}` INVALID signature in stripwheel's output "
                             f"(valid: {b.ours_valid or 'none'} of {b.signed})")  # fmt: skip
            if len(b.peer_valid) != len(b.signed):
                lines.append(f"- {label}: `{b.name}` peer's output: signature valid for "
                             f"{b.peer_valid or 'none'} of {b.signed}")  # fmt: skip
            if b.ours_action == "unchanged" and b.ours_reason != "nothing to strip":
                lines.append(f"- {label}: `{b.name}` left unchanged by stripwheel: {b.ours_reason}")
        worst = r.worst_member()
        if worst is not None and worst[0] > SAVED_TOLERANCE:
            member = next(b for b in r.binaries if b.name == worst[1])
            lines.append(f"- {label}: `{member.name}` {member.before:,} → ours {member.ours:,} B,"
                         f" peer {member.peer:,} B")  # fmt: skip
        lines += [f"- {label}: {e}" for e in r.errors]
        warnings = sorted({w for run in r.peer for w in run.warnings})
        lines += [f"- {label}: peer warning: {w}" for w in warnings[:5]]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    """Fetch the platform's corpus, benchmark each wheel, print the table; 1 on a failure."""
    platform: str = args.platform
    tool = PEER_TOOL[platform]
    if shutil.which(tool) is None:
        print(f"{tool} must be on PATH", file=sys.stderr)
        return 2
    results = []
    for variant in VARIANTS[platform]:
        names = [n for n in variant.names if not args.wheels or n in args.wheels]
        wheels = fetch(platform, variant, names)
        for name in names:
            if name not in wheels:
                results.append(Result(name, variant.label, "?", "", errors=["could not fetch"]))
                continue
            print(f"{variant.label} {name}: {wheels[name].name}, {args.repeat} alternated runs"
                  " per side", file=sys.stderr)  # fmt: skip
            results.append(bench_wheel(platform, variant, name, wheels[name], max(1, args.repeat)))
    print(table(platform, results))
    if notes := details(results):
        print("\n" + notes)
    if args.json:
        document = {"environment": core.environment(), "argv": sys.argv[1:],
                    "wheels": [asdict(r) for r in results]}  # fmt: skip
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 1 if any(r.failed() for r in results) else 0


if __name__ == "__main__":  # the command line is run.py's; importing run.py from here would run it twice
    argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="Run it as: python bench/run.py --platform macos|windows [--wheels NAME ...] [--repeat N] [--json FILE]",
    ).parse_args()
    sys.exit("foreign.py has no command line of its own: python bench/run.py --platform macos|windows")
