"""The companion wheel of layout ``wheel``: a distribution ``<name>-debug`` that installs each
debug file where debuggers look with no setup, ``.debug/<name>.debug`` beside its binary."""

from __future__ import annotations

import email.parser
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from packaging.tags import Tag
from packaging.utils import canonicalize_name

from .. import __version__, _bytecode, _record
from .._durable import AtomicFile
from .._errors import WheelError
from .._record import Row
from ..wheel import deflate
from ..wheel.source import WheelSource
from ..wheel.zip import CHUNK, Payload, ZipWriter, new_info
from .store import DebugStore, DebugStoreError, beside

DateTime = tuple[int, int, int, int, int, int]

#: Deflate level of the debug files' bytes that the companion cannot take from the input
#: wheel's own compressed blocks (small files, and the ends of large ones): on torch, level 1
#: deflates them in a third of level 6's time for a companion 5 % larger (15.0 MB, not 14.3).
COMPANION_LEVEL = 1


@dataclass
class Companion:
    """The companion of one main wheel: its names, the metadata it takes from the main wheel,
    and the date of each member (that of the binary it belongs to)."""

    directory: Path
    #: its distribution name, as its METADATA spells it (``demo-debug``)
    name: str
    #: the main distribution's name and version, as the main METADATA spells them
    main_name: str
    version: str
    file_name: str
    dist_info: str
    data_dir: str
    #: the main wheel's ``.data`` and ``.dist-info`` directories
    main_data_dir: str
    main_dist_info: str
    #: ``Root-Is-Purelib``, ``Tag:`` and ``Build:`` lines, as the main wheel's WHEEL has them
    wheel_lines: list[str]
    #: the date of the ``.dist-info`` members: the main METADATA's
    date_time: DateTime
    #: debug member -> the date of its binary in the main wheel
    dates: dict[str, DateTime] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.directory / self.file_name

    def member(self, binary: str, date_time: DateTime) -> str:
        """Where the debug file of the main wheel's member ``binary`` goes in the companion: beside
        it, under the companion's own ``.data`` directory when the binary is under the main's
        (installers put both in the same scheme directory)."""
        head, sep, rest = binary.partition("/")
        if sep and head == self.main_data_dir:
            binary = f"{self.data_dir}/{rest}"
        elif sep and head == self.main_dist_info:
            binary = f"{self.dist_info}/{rest}"  # a companion has one .dist-info, its own
        where = beside(binary)
        self.dates[where] = date_time
        return where

    def metadata(self) -> bytes:
        """METADATA 2.1: the name, the version, the exact main distribution it belongs to."""
        return (
            "Metadata-Version: 2.1\n"
            f"Name: {self.name}\n"
            f"Version: {self.version}\n"
            f"Summary: Debug information for {self.main_name} {self.version}: separate debug files of its native "
            "binaries\n"
            f"Requires-Dist: {self.main_name}=={self.version}\n"
            "\n"
            f"The separate debug files (DWARF and symbol tables) of the native binaries of {self.main_name} "
            f"{self.version}, written by stripwheel {__version__} when it stripped them.\n\n"
            "Each is installed as `.debug/<binary>.debug` beside its binary, where gdb, lldb, elfutils (eu-stack, "
            "systemd-coredump), llvm-symbolizer and perf look with no configuration; the stripped binary's "
            ".gnu_debuglink names it and carries its CRC.\n"
        ).encode()

    def wheel(self) -> bytes:
        lines = ["Wheel-Version: 1.0", f"Generator: stripwheel {__version__}", *self.wheel_lines]
        return ("\n".join(lines) + "\n").encode("utf-8")


def plan_companion(
    source: WheelSource, template: str, output_name: str, directory: Path, tags: Optional[list[Tag]]
) -> Companion:
    """The companion of ``source``, whose output is named ``output_name`` (with the tags the
    main wheel ends up with: ``tags`` when sourceless bytecode retags it)."""
    members = {m.name: m for m in source.members}
    meta_member = members.get(f"{source.dist_info}/METADATA")
    if meta_member is None:
        raise WheelError(source.label, "no METADATA: cannot name its debug wheel", f"{source.dist_info}/METADATA")
    with source.open(meta_member) as stream:
        meta = email.parser.HeaderParser().parsestr(stream.read().decode("utf-8", "replace"))
    with source.open(members[f"{source.dist_info}/WHEEL"]) as stream:
        wheel_text = stream.read().decode("utf-8", "replace")
    if tags is not None:
        wheel_text = _bytecode.retagged_wheel_metadata(wheel_text, tags)
    main_name, version = (meta.get("Name") or "").strip(), (meta.get("Version") or "").strip()
    if not main_name or not version:
        raise WheelError(source.label, "METADATA has no Name or Version: cannot name its debug wheel")
    name = template.replace("{name}", main_name)
    if canonicalize_name(name) == canonicalize_name(main_name):
        raise WheelError(source.label, f"debug-wheel-name {template!r} gives the wheel's own name {main_name!r}")
    stem = output_name[: -len(".whl")].split("-")
    normal = canonicalize_name(name).replace("-", "_")
    # The version and the tags (a build tag too) of the main wheel's file name: the same
    # build, installable wherever the main wheel is.
    file_name = "-".join([normal, *stem[1:]]) + ".whl"
    wheel = email.parser.HeaderParser().parsestr(wheel_text)
    purelib = (wheel.get("Root-Is-Purelib") or "false").strip()
    lines = [f"Root-Is-Purelib: {purelib}"]
    lines += [f"Tag: {tag.strip()}" for tag in wheel.get_all("Tag") or []]
    lines += [f"Build: {build.strip()}" for build in wheel.get_all("Build") or []]
    data_dir = next((d for d in source.top_level if d.endswith(".data")), "")
    return Companion(
        directory=directory,
        name=name,
        main_name=main_name,
        version=version,
        file_name=file_name,
        dist_info=f"{normal}-{stem[1]}.dist-info",
        data_dir=f"{normal}-{stem[1]}.data",
        main_data_dir=data_dir,
        main_dist_info=source.dist_info,
        wheel_lines=lines,
        date_time=meta_member.info.date_time,
    )


def write_companion(companion: Companion, store: DebugStore) -> Optional[int]:
    """Pack the store's staged files into the companion wheel, written atomically (synced,
    renamed over an older one); returns its size, or None when there was nothing to pack
    (a companion already there is then left as it is: its binaries were not rebuilt)."""
    files = store.staged_files()
    if not files:
        return None
    out = AtomicFile(companion.path, None)
    try:
        writer = ZipWriter(out)
        rows: list[Row] = []
        for file, staged in files:
            info = new_info(file.path, companion.dates.get(file.path, companion.date_time))
            try:
                stored = staged.stat().st_size
            except OSError as exc:
                raise DebugStoreError(f"cannot read staged debug file {staged}: {exc.strerror or exc}") from None
            writer.add(info, Payload(zipfile.ZIP_DEFLATED, file.crc, stored, file.size, _read(staged)))
            rows.append(Row(file.path, "sha256", _record.encode_digest(bytes.fromhex(file.sha256)), file.size))
        for name, data in (("METADATA", companion.metadata()), ("WHEEL", companion.wheel())):
            rows.append(_add(writer, f"{companion.dist_info}/{name}", data, companion.date_time))
        record = f"{companion.dist_info}/RECORD"
        _add(writer, record, _record.render([*rows, Row(record, None, None, None)]), companion.date_time)
        writer.close()
        out.commit()
    except BaseException:
        out.discard()
        raise
    return companion.path.stat().st_size


def _add(writer: ZipWriter, name: str, data: bytes, date_time: DateTime) -> Row:
    compressed = deflate.deflate(data)
    payload = Payload(zipfile.ZIP_DEFLATED, zlib.crc32(data), len(compressed), len(data), [compressed])
    writer.add(new_info(name, date_time), payload)
    return Row(name, "sha256", _record.digest(data), len(data))


def _read(path: Path) -> Iterator[bytes]:
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk
    except OSError as exc:
        raise DebugStoreError(f"cannot read staged debug file {path}: {exc.strerror or exc}") from None
