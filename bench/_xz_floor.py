"""The floor of ``--mini-debuginfo``: a child of ``mini_debuginfo.py``, not a script of its own.

A MiniDebugInfo is an ELF image (the function symbols and their names) compressed with xz.
Picking and sorting the names is stripwheel's work; compressing the image is the format's,
and no choice of ours makes it cheaper than xz at preset 0 (the fastest preset, the one used).
This helper measures a run in which picking the names costs nothing:

* ``python bench/_xz_floor.py images WHEEL DIR``: before any timing, the uncompressed image
  of every ELF member's MiniDebugInfo (stripwheel's own, from ``PYTHONPATH``), one file each
  in DIR, named by the member's size and a hash of its first and last 4 KiB;
* ``python bench/_xz_floor.py run DIR ARGS...``: ``stripwheel ARGS...`` in which a
  binary's MiniDebugInfo is its image read from DIR and compressed: in one call, or, from
  ``HALVES_FROM`` bytes, as two halves on two threads joined into one xz block (the most a
  run can do with a 2-core machine's second core). Everything else is stripwheel's real run.
"""

from __future__ import annotations

import hashlib
import lzma
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stripwheel import _cli
from stripwheel.binaries import elf_debug
from stripwheel.binaries._core import Buffer

#: Images at least this large are compressed as two halves, each on a thread of its own.
HALVES_FROM = 8 << 20


def key(data: Buffer) -> str:
    """How a binary's image is found again: its size and a hash of its ends (cheap, where
    a hash of 434 MB would cost the floor run 0.2 s)."""
    ends = bytes(data[:4096]) + bytes(data[-4096:])
    return f"{len(data)}-{hashlib.sha1(ends).hexdigest()}"


def images(wheel: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if info.file_size < 4096:
                continue
            with archive.open(info) as member:
                if member.read(4) != b"\x7fELF":
                    continue
            data = archive.read(info)
            mini = elf_debug.mini_debuginfo(data)
            if mini is not None:
                (out / key(data)).write_bytes(lzma.decompress(mini))


def compressed(image: bytes) -> bytes:
    halves = [image] if len(image) < HALVES_FROM else [image[: len(image) // 2], image[len(image) // 2 :]]
    with ThreadPoolExecutor(len(halves)) as pool:
        parts = list(pool.map(lambda half: elf_debug._lzma2([half]), halves))
    return elf_debug._xz_stream(parts)


def run(store: Path, args: list[str]) -> int:
    def mini_debuginfo(data: Buffer) -> bytes | None:
        path = store / key(data)
        return compressed(path.read_bytes()) if path.exists() else None

    elf_debug.mini_debuginfo = mini_debuginfo
    return _cli.main(args)


def main(argv: list[str]) -> int:
    if argv[:1] == ["images"] and len(argv) == 3:
        images(Path(argv[1]), Path(argv[2]))
        return 0
    if argv[:1] == ["run"] and len(argv) >= 2:
        return run(Path(argv[1]), argv[2:])
    raise SystemExit("usage: _xz_floor.py images WHEEL DIR | run DIR ARGS...")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
