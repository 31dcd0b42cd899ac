"""The one wheel factory of the tests: ``pack`` files with a correct RECORD, ``variant`` of a wheel.

``wheel_pack`` (pypa/wheel) stays as an independent producer of the compiled demo wheel; the
readers at the end (``members``, ``infos``, ``read``, ``stored``) say what a wheel holds. RECORD
is computed here with hashlib and csv, never with stripwheel's code."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import shutil
import struct
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Union

from _helpers import run

#: The date of every member the factory writes (unless told otherwise).
DATE = (2020, 1, 1, 0, 0, 0)
#: A name with a comma, quotes and non-ASCII: RECORD's CSV must round-trip it.
ODD_NAME = 'demo/data/a,b "c" \u00fc.txt'
Data = Union[bytes, str]


def _bytes(data: Data) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def digest(data: bytes) -> str:
    """RECORD's ``sha256=`` value: urlsafe base64 of the digest, without padding."""
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def record_line(name: str, data: bytes | None) -> str:
    """One RECORD row as CSV (quoted where the name needs it); ``None`` for RECORD's own row."""
    out = io.StringIO()
    fields = [name, "", ""] if data is None else [name, digest(data), str(len(data))]
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def dist_info_files(name: str, version: str, tag: str, purelib: bool) -> dict[str, bytes]:
    """METADATA and WHEEL for a wheel of ``name``/``version`` with one ``Tag:``."""
    dist = f"{name}-{version}.dist-info"
    return {
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: {str(purelib).lower()}\nTag: {tag}\n"
        ).encode(),
    }


def pack(
    dest: Path,
    files: Mapping[str, Data] | Iterable[tuple[str, Data]],
    *,
    name: str = "demo",
    version: str = "1.0",
    tag: str = "py3-none-any",
    purelib: bool = True,
    compression: int = zipfile.ZIP_DEFLATED,
    modes: Mapping[str, int] | None = None,
    date_time: tuple[int, int, int, int, int, int] = DATE,
) -> Path:
    """Write ``dest/<name>-<version>-<tag>.whl`` holding ``files`` (name -> contents, in their
    order), then ``.dist-info`` (METADATA and WHEEL made up unless given) and RECORD last.

    Members are streamed into the archive one by one: nothing is written to disk but the
    wheel. ``modes`` gives Unix permissions (default 0o644).
    """
    dist = f"{name}-{version}.dist-info"
    items = files.items() if isinstance(files, Mapping) else files
    payload: list[tuple[str, bytes]] = []
    meta: dict[str, bytes] = {}
    for member, data in items:
        if member.startswith(dist + "/"):
            meta[member] = _bytes(data)
        else:
            payload.append((member, _bytes(data)))
    for member, data in dist_info_files(name, version, tag, purelib).items():
        meta.setdefault(member, data)
    modes = modes or {}
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{name}-{version}-{tag}.whl"
    record = f"{dist}/RECORD"
    lines: list[str] = []

    def info(member: str) -> zipfile.ZipInfo:
        zinfo = zipfile.ZipInfo(member, date_time)
        zinfo.external_attr = (0o100000 | modes.get(member, 0o644)) << 16
        zinfo.create_system = 3  # Unix: external_attr holds the mode
        zinfo.compress_type = compression
        return zinfo

    with zipfile.ZipFile(wheel, "w") as archive:
        for member, data in [*payload, *meta.items()]:
            archive.writestr(info(member), data)
            lines.append(record_line(member, data))
        lines.append(record_line(record, None))
        archive.writestr(info(record), "\n".join(lines) + "\n")
    return wheel


def wheel_pack(tree: Path, dest: Path) -> Path:
    """pypa/wheel's ``wheel pack`` of an unpacked tree: a producer independent of this module."""
    dest.mkdir(parents=True, exist_ok=True)
    run(sys.executable, "-m", "wheel", "pack", "--dest-dir", dest, tree)
    (wheel,) = dest.glob(f"{tree.name.split('-')[0]}-*.whl")
    return wheel


def variant(
    src: Path,
    dst: Path,
    *,
    drop: Iterable[str] = (),
    replace: Mapping[str, bytes] | None = None,
    add: Mapping[str, bytes] | None = None,
    record: Callable[[list[str]], list[str]] | None = None,
    fix_record: bool = False,
    compress: Mapping[str, int] | None = None,
    stored: Mapping[str, bytes] | None = None,
    order: Callable[[list[str]], list[str]] | None = None,
) -> Path:
    """A variant of ``src`` written to ``dst``: members dropped, replaced or added (added ones
    after the others, even under a name already there), and RECORD edited by ``record`` or,
    with ``fix_record``, given right rows for what was replaced or added, so that only the
    intended flaw remains. ``compress`` sets a member's compression method; ``stored`` puts
    other stored (compressed) bytes under a member whose declared sizes and CRC stay;
    ``order`` rearranges the members (it gets and returns their names)."""
    replace, add, compress, stored = replace or {}, add or {}, compress or {}, stored or {}
    dropped = set(drop)
    with zipfile.ZipFile(src) as archive:
        infos = archive.infolist()
        contents = {i.filename: archive.read(i) for i in infos}
    if order is not None:
        by_name = {i.filename: i for i in infos}
        infos = [by_name[n] for n in order([i.filename for i in infos])]
    (record_name,) = [i.filename for i in infos if i.filename.endswith(".dist-info/RECORD")]
    contents.update(replace)
    lines = contents[record_name].decode().splitlines()
    if fix_record:
        rows = list(csv.reader(lines))
        lines = [
            record_line(row[0], replace[row[0]]) if row[0] in replace and row[0] != record_name else _csv(row)
            for row in rows
        ]
        lines += [record_line(member, data) for member, data in add.items()]
    if record is not None:
        lines = record(lines)
    contents[record_name] = ("\n".join(lines) + "\n").encode()
    dst.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names asked for
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as out:
            for info in infos:
                if info.filename in dropped:
                    continue
                if info.filename in compress:
                    info.compress_type = compress[info.filename]
                out.writestr(info, contents[info.filename])
            for member, data in add.items():
                info = zipfile.ZipInfo(member, DATE)
                info.compress_type = compress.get(member, zipfile.ZIP_DEFLATED)
                out.writestr(info, data)
    for member, data in stored.items():
        _swap_stored(dst, member, data)
    return dst


def _csv(row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row)
    return out.getvalue()


def _swap_stored(path: Path, member: str, new: bytes) -> None:
    """Put ``new`` in place of ``member``'s stored bytes, keeping its declared size and CRC;
    the local and central headers and every later offset are patched to match."""
    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    name_len, extra_len = struct.unpack_from("<2H", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    delta = len(new) - info.compress_size
    patched = bytearray(data[:start] + new + data[start + info.compress_size :])
    struct.pack_into("<L", patched, info.header_offset + 18, len(new))
    eocd = patched.rfind(b"PK\x05\x06")
    count, _, cd_offset = struct.unpack_from("<HLL", patched, eocd + 10)
    cd = cd_offset + delta
    struct.pack_into("<L", patched, eocd + 16, cd)
    for _ in range(count):
        nlen, elen, clen = struct.unpack_from("<3H", patched, cd + 28)
        offset = struct.unpack_from("<L", patched, cd + 42)[0]
        if patched[cd + 46 : cd + 46 + nlen] == member.encode():
            struct.pack_into("<L", patched, cd + 20, len(new))
        elif offset > info.header_offset:
            struct.pack_into("<L", patched, cd + 42, offset + delta)
        cd += 46 + nlen + elen + clen
    path.write_bytes(bytes(patched))


def copy(wheel: Path, directory: Path) -> Path:
    """A writable copy of ``wheel`` in ``directory`` (made if missing), under the same name."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / wheel.name
    shutil.copyfile(wheel, target)  # a new file: the umask's mode, not the master's read-only one
    return target


# --- reading what a wheel holds


def members(path: Path) -> dict[str, bytes]:
    """Every member's contents, in archive order."""
    with zipfile.ZipFile(path) as archive:
        return {i.filename: archive.read(i) for i in archive.infolist()}


def infos(path: Path) -> dict[str, zipfile.ZipInfo]:
    """Every member's ``ZipInfo``, in archive order."""
    with zipfile.ZipFile(path) as archive:
        return {i.filename: i for i in archive.infolist()}


def read(path: Path, name: str) -> bytes:
    """One member's contents."""
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def stored(path: Path, name: str) -> bytes:
    """One member's stored (compressed) bytes, as they lie in the archive."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    with open(path, "rb") as f:
        f.seek(info.header_offset + 26)
        skip = int.from_bytes(f.read(2), "little") + int.from_bytes(f.read(2), "little")
        f.seek(info.header_offset + 30 + skip)
        return f.read(info.compress_size)
