"""The wheel post-processing engine shared by the CLI, the wrapper backend and the hatch hook.

Data flow: read and check the input (``_wheel``) -> plan an action per member -> transform
members in a small thread pool (inflate, verify against RECORD, strip) -> write the output in
order, RECORD last -> report.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import tempfile
import time
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Optional

from . import _record, binaries
from ._config import Config, Selector
from ._errors import StripwheelError, WheelError
from ._record import Row
from ._report import BinaryReport, BinaryView, InspectReport, WheelReport
from ._wheel import CHUNK, SIGNATURES, CountingSink, Member, Payload, WheelReader, ZipWriter, atomic_output

#: Members up to this size are held in memory; larger ones are spooled to a temporary file.
IN_MEMORY = 32 << 20
#: Deflate level of rewritten members: zipfile's default, what every wheel builder uses.
DEFLATE_LEVEL = 6
#: Large outputs are deflated in chunks of this size on several threads.
DEFLATE_CHUNK = 4 << 20
WORKERS = max(1, min(4, os.cpu_count() or 1))

Progress = Callable[[int, int], None]


# --- member contents


class Blob:
    """A member's inflated contents: bytes when small, a temporary file when large.

    Rewriters parse ``buf`` (bytes, or an mmap touched only where headers lie); bulk copies
    go through ``read`` (``pread``), so a 400 MB library never sits in memory.
    """

    def __init__(self, chunks: Iterator[bytes], size: int) -> None:
        self.size = size
        self._file: Optional[IO[bytes]] = None
        self._map: Optional[mmap.mmap] = None
        if size <= IN_MEMORY:
            self.buf: binaries.Buffer = b"".join(chunks)
            return
        self._file = tempfile.TemporaryFile()
        for chunk in chunks:
            self._file.write(chunk)
        self._file.flush()
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        self.buf = self._map

    def read(self, offset: int, length: int) -> Iterator[bytes]:
        if self._file is None:
            view = memoryview(self.buf)
            for start in range(offset, offset + length, CHUNK):
                yield bytes(view[start : min(start + CHUNK, offset + length)])
            return
        fd = self._file.fileno()
        end = offset + length
        while offset < end:
            chunk = os.pread(fd, min(CHUNK, end - offset), offset)
            if not chunk:
                raise OSError("temporary file truncated")
            offset += len(chunk)
            yield chunk

    def pieces(self, result: binaries.Stripped) -> Iterator[bytes]:
        for piece in result.pieces:
            if isinstance(piece, binaries.Copy):
                yield from self.read(piece.offset, piece.length)
            elif piece:
                yield bytes(piece)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
        if self._file is not None:
            self._file.close()


class Spool:
    """Compressed output of one rewritten member, with its CRC, sizes and hash."""

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)
        self.crc = 0
        self.file_size = 0
        self.compress_size = 0
        self.digest = ""

    def fill(self, chunks: Iterator[bytes], pool: Optional[ThreadPoolExecutor]) -> None:
        hasher = hashlib.sha256()
        pending: deque[Future[bytes]] = deque()
        window = b""
        buffered: list[bytes] = []
        buffered_size = 0

        def submit(data: bytes, final: bool) -> None:
            nonlocal window
            pending.append(_submit_deflate(pool, data, window, final))
            window = data[-32768:] if len(data) >= 32768 else (window + data)[-32768:]
            while len(pending) > 3 or (final and pending):
                self._put(pending.popleft().result())

        for chunk in chunks:
            hasher.update(chunk)
            self.crc = zlib.crc32(chunk, self.crc)
            self.file_size += len(chunk)
            buffered.append(chunk)
            buffered_size += len(chunk)
            if buffered_size >= DEFLATE_CHUNK:
                submit(b"".join(buffered), False)
                buffered, buffered_size = [], 0
        submit(b"".join(buffered), True)
        self.digest = _record.encode_digest(hasher.digest())

    def _put(self, data: bytes) -> None:
        self._file.write(data)
        self.compress_size += len(data)

    def chunks(self) -> Iterator[bytes]:
        self._file.seek(0)
        while True:
            chunk = self._file.read(CHUNK)
            if not chunk:
                break
            yield chunk
        self._file.close()


def _deflate(data: bytes, window: bytes, final: bool) -> bytes:
    """One chunk of a raw deflate stream; chunks joined in order form one valid stream.

    Each chunk is primed with the previous 32 KiB, so back-references work across chunks,
    and ends on a byte boundary (``Z_SYNC_FLUSH``) except the last (``Z_FINISH``).
    """
    if window:
        compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15, zdict=window)
    else:
        compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)


def _submit_deflate(pool: Optional[ThreadPoolExecutor], data: bytes, window: bytes, final: bool) -> Future[bytes]:
    if pool is None or len(data) < DEFLATE_CHUNK:
        future: Future[bytes] = Future()
        future.set_result(_deflate(data, window, final))
        return future
    return pool.submit(_deflate, data, window, final)


# --- the plan


@dataclass
class Outcome:
    """What one worker decided for one member."""

    member: Member
    drop: bool = False
    spool: Optional[Spool] = None
    row: Optional[Row] = None
    binary: Optional[BinaryReport] = None


def _is_bytecode(name: str) -> bool:
    return name.endswith((".pyc", ".pyo")) or "__pycache__/" in name or name.endswith("__pycache__/")


class _Job:
    """Processing of one wheel: holds the reader, the options and the shared pools."""

    def __init__(self, reader: WheelReader, config: Config, deflate_pool: Optional[ThreadPoolExecutor]) -> None:
        self.reader = reader
        self.config = config
        self.selected = Selector.from_config(config)
        self.deflate_pool = deflate_pool
        self.warnings: list[str] = []

    def order(self) -> list[Member]:
        """Output order: payload members as they were, then ``.dist-info``; RECORD is separate."""
        prefix = self.reader.dist_info + "/"
        members = [m for m in self.reader.members if m.name != self.reader.record_name]
        return [m for m in members if not m.name.startswith(prefix)] + [
            m for m in members if m.name.startswith(prefix)
        ]

    def process(self, member: Member) -> Outcome:
        name = member.name
        reader = self.reader
        if member.is_dir:
            drop = self.config.bytecode == "drop" and name.endswith("__pycache__/") and self.selected(name)
            return Outcome(member, drop=drop)
        if name.startswith(reader.dist_info + "/") and name.rsplit("/", 1)[1] in SIGNATURES:
            _drain(reader.inflate(member))
            self.warnings.append(f"removed {name}: it signs the old RECORD and would no longer verify")
            return Outcome(member, drop=True)
        checked = _checked(reader, member)
        if self.config.bytecode == "drop" and _is_bytecode(name) and self.selected(name):
            _drain(checked)
            return Outcome(member, drop=True)
        if self.config.strip == "none" or not self.selected(name) or member.info.file_size < 64:
            _drain(checked)
            return Outcome(member)
        blob = Blob(checked, member.info.file_size)
        try:
            return self._binary(member, blob)
        finally:
            blob.close()

    def _binary(self, member: Member, blob: Blob) -> Outcome:
        fmt = binaries.detect(bytes(blob.buf[:8]))
        if fmt is None:
            return Outcome(member)
        level = "all" if self.config.strip == "all" else "debug"
        try:
            result = binaries.strip(fmt, blob.buf, level)
        except binaries.BinaryError as exc:
            result = binaries.Unchanged(f"left as is: {exc}")
        try:
            arch = binaries.inspect(fmt, blob.buf).arch
        except binaries.BinaryError:
            arch = ""
        if isinstance(result, binaries.Stripped) and self.config.verify:
            from . import _verify

            difference = _verify.compare(fmt, blob, result)
            if difference:
                result = binaries.Unchanged(f"kept the original: verification found {difference}")
        info = member.info
        if isinstance(result, binaries.Unchanged):
            report = BinaryReport(
                member.name, fmt, arch, "unchanged", result.reason,
                info.file_size, info.file_size, info.compress_size, info.compress_size,
            )
            return Outcome(member, binary=report)
        spool = Spool()
        spool.fill(blob.pieces(result), self.deflate_pool)
        if spool.file_size != result.size:
            raise WheelError(self.reader.label, "rewriter produced a wrong size (internal error)", member.name)
        report = BinaryReport(
            member.name, fmt, arch, "stripped", None,
            info.file_size, spool.file_size, info.compress_size, spool.compress_size,
            list(result.removed),
        )
        row = Row(member.name, "sha256", spool.digest, spool.file_size)
        return Outcome(member, spool=spool, row=row, binary=report)


def _checked(reader: WheelReader, member: Member) -> Iterator[bytes]:
    """The member's contents, verified against its RECORD hash once fully read."""
    row = member.row
    assert row is not None and row.algorithm is not None
    hasher = hashlib.new(row.algorithm)
    for chunk in reader.inflate(member):
        hasher.update(chunk)
        yield chunk
    if _record.encode_digest(hasher.digest()) != row.digest:
        raise WheelError(reader.label, f"{row.algorithm} hash does not match RECORD", member.name)


def _drain(chunks: Iterator[bytes]) -> None:
    for _ in chunks:
        pass


def _ordered(pool: ThreadPoolExecutor, job: _Job, members: list[Member]) -> Iterator[Outcome]:
    """Outcomes in ``members`` order, at most a few in flight (bounded memory)."""
    pending: deque[Future[Outcome]] = deque()
    queue = iter(members)
    for member in queue:
        pending.append(pool.submit(job.process, member))
        if len(pending) >= WORKERS * 2:
            break
    try:
        while pending:
            outcome = pending.popleft().result()
            for member in queue:
                pending.append(pool.submit(job.process, member))
                break
            yield outcome
    finally:
        for future in pending:
            future.cancel()


# --- the public entry points


def process_wheel(
    wheel: Path,
    config: Config,
    *,
    output_dir: Optional[Path] = None,
    dry_run: bool = False,
    progress: Optional[Progress] = None,
) -> WheelReport:
    """Post-process one wheel per ``config``.

    Writes in place (atomically) or into ``output_dir``; with ``dry_run`` writes nothing and
    reports what would change. Raises :class:`WheelError` (the input is then untouched).
    """
    started = time.perf_counter()
    _check_supported(config)
    if config.verify:
        from . import _verify

        _verify.require()
    wheel = Path(wheel)
    target = (Path(output_dir) if output_dir is not None else wheel.parent) / wheel.name
    report = WheelReport(wheel=str(wheel), output=None if dry_run else str(target), dry_run=dry_run)
    with WheelReader(wheel) as reader, ThreadPoolExecutor(WORKERS) as deflate_pool:
        job = _Job(reader, config, deflate_pool)
        report.wheel_size_before = reader.size
        report.installed_size_before = reader.total_size
        sink: IO[bytes]
        temp: Optional[Path] = None
        if dry_run:
            sink = CountingSink()  # type: ignore[assignment]
        else:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise WheelError(reader.label, f"cannot create {target.parent}: {exc.strerror or exc}") from None
            sink, temp = atomic_output(target, os.stat(wheel).st_mode)
        try:
            changed = _write(job, sink, report, progress)
            sink.close()
            report.changed = changed
            if dry_run:
                report.wheel_size_after = sink.size  # type: ignore[attr-defined]
            elif changed or target != wheel:
                assert temp is not None
                if not changed:
                    _copy_file(wheel, temp)
                os.replace(temp, target)
                temp = None
                report.wheel_size_after = target.stat().st_size
            else:
                report.wheel_size_after = reader.size
            if not changed:
                report.wheel_size_after = reader.size
                report.installed_size_after = reader.total_size
        finally:
            if temp is not None:
                sink.close()
                temp.unlink(missing_ok=True)
        report.warnings.extend(job.warnings)
    report.seconds = time.perf_counter() - started
    return report


def _check_supported(config: Config) -> None:
    if config.bytecode == "compile" or config.sourceless:
        raise StripwheelError("bytecode = 'compile' is not supported yet")


def _copy_file(source: Path, temp: Path) -> None:
    with open(source, "rb") as src, open(temp, "wb") as dst:
        while True:
            chunk = src.read(CHUNK)
            if not chunk:
                break
            dst.write(chunk)


def _write(job: _Job, sink: IO[bytes], report: WheelReport, progress: Optional[Progress]) -> bool:
    """Stream every member to ``sink``; True when anything differs from the input."""
    reader = job.reader
    writer = ZipWriter(sink)
    rows: dict[str, Optional[Row]] = {}
    changed = False
    done = 0
    installed = 0
    members = job.order()
    with ThreadPoolExecutor(WORKERS) as pool:
        for outcome in _ordered(pool, job, members):
            member = outcome.member
            info = member.info
            done += info.file_size
            if progress is not None:
                progress(done, reader.total_size)
            if outcome.binary is not None:
                report.binaries.append(outcome.binary)
            if outcome.drop:
                changed = True
                if not member.is_dir:
                    rows[member.name] = None
                    if _is_bytecode(member.name):
                        report.bytecode_removed.append(member.name)
                    else:
                        report.removed.append(member.name)
                continue
            if outcome.spool is not None:
                changed = True
                spool = outcome.spool
                rows[member.name] = outcome.row
                installed += spool.file_size
                writer.add(info, Payload(zipfile.ZIP_DEFLATED, spool.crc, spool.compress_size, spool.file_size, spool.chunks()))
            else:
                installed += info.file_size
                writer.add(info, Payload(info.compress_type, info.CRC, info.compress_size, info.file_size, reader.raw(member)))
    record = _new_record(reader, rows)
    record_info = next(m.info for m in reader.members if m.name == reader.record_name)
    compressed = _deflate(record, b"", True) if record_info.compress_type == zipfile.ZIP_DEFLATED else record
    writer.add(record_info, Payload(record_info.compress_type, zlib.crc32(record), len(compressed), len(record), [compressed]))
    writer.close(reader.comment)
    installed += len(record)
    report.installed_size_after = installed
    return changed


def _new_record(reader: WheelReader, changes: dict[str, Optional[Row]]) -> bytes:
    """The input's rows in their order, changed rows replaced, removed rows gone."""
    rows: list[Row] = []
    own = False
    for row in reader.rows:
        if row.path in changes:
            new = changes[row.path]
            if new is not None:
                rows.append(new)
        else:
            rows.append(row)
            own = own or row.path == reader.record_name
    if not own:
        rows.append(Row(reader.record_name, None, None, None))
    return _record.render(rows)


def inspect_wheel(wheel: Path) -> InspectReport:
    """What ``stripwheel inspect`` shows: every binary, and the bytecode state."""
    wheel = Path(wheel)
    with WheelReader(wheel) as reader:
        report = InspectReport(
            wheel=str(wheel),
            tags=sorted(str(t) for t in reader.tags),
            wheel_size=reader.size,
            installed_size=reader.total_size,
        )
        cache_tags: set[str] = set()
        py_stems: set[str] = set()
        pyc_stems: set[str] = set()
        for member in reader.members:
            name = member.name
            if member.is_dir or name == reader.record_name:
                continue
            if name.endswith(".py"):
                report.python_files += 1
                py_stems.add(name[:-3])
            elif name.endswith(".pyc"):
                report.bytecode_files += 1
                if "__pycache__/" in name:
                    parts = name.rsplit("/", 1)[1].split(".")
                    if len(parts) >= 3:
                        cache_tags.add(parts[1])
                else:
                    pyc_stems.add(name[:-4])
            checked = _checked(reader, member)
            if member.info.file_size < 64:
                _drain(checked)
                continue
            blob = Blob(checked, member.info.file_size)
            try:
                fmt = binaries.detect(bytes(blob.buf[:8]))
                if fmt is not None:
                    report.binaries.append(_view(member, fmt, blob))
            finally:
                blob.close()
        report.bytecode_tags = sorted(cache_tags)
        report.sourceless = bool(pyc_stems) and not (pyc_stems & py_stems)
    return report


def _view(member: Member, fmt: binaries.Format, blob: Blob) -> BinaryView:
    size = member.info.file_size
    try:
        info = binaries.inspect(fmt, blob.buf)
    except binaries.BinaryError as exc:
        return BinaryView(member.name, fmt, "", "", size, member.info.compress_size, {"all": 0, "debug": 0}, "none", f"malformed: {exc}")
    slices = [
        {"arch": s.arch, "signature": s.signature, "strippable": dict(s.strippable), "note": s.note}
        for s in info.slices
    ]
    return BinaryView(
        member.name, info.format, info.arch, info.kind, size, member.info.compress_size,
        dict(info.strippable), info.signature, info.note, slices,
    )
