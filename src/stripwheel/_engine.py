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
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Optional

from packaging.tags import Tag

from . import _bytecode, _deflate, _record, binaries
from ._config import Config, Selector
from ._errors import WheelError
from ._record import Row
from ._report import BinaryReport, BinaryView, InspectReport, WheelReport
from ._wheel import (
    CHUNK,
    SIGNATURES,
    CountingSink,
    Member,
    Payload,
    Sink,
    WheelReader,
    ZipWriter,
    atomic_output,
    pread,
)

#: Members up to this size are held in memory; larger ones are spooled to a temporary file.
IN_MEMORY = 32 << 20
WORKERS = max(1, min(4, os.cpu_count() or 1))
#: Members smaller than this are processed inline: a thread hand-off would cost more.
INLINE_BELOW = 1 << 20

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
        end = offset + length
        while offset < end:
            chunk = pread(self._file, min(CHUNK, end - offset), offset)
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


class Encoded:
    """A rewritten member ready for the zip writer: CRC, sizes, RECORD hash, stored bytes."""

    crc: int
    file_size: int
    compress_size: int
    digest: str

    def chunks(self) -> Iterator[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class Spool(Encoded):
    """Freshly deflated output, spooled to a temporary file when large."""

    def __init__(self, chunks: Iterator[bytes], pool: Optional[ThreadPoolExecutor]) -> None:
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)
        self.crc = self.file_size = self.compress_size = 0
        hasher = hashlib.sha256()

        def hashed() -> Iterator[bytes]:
            for chunk in chunks:
                hasher.update(chunk)
                self.crc = zlib.crc32(chunk, self.crc)
                self.file_size += len(chunk)
                yield chunk

        for data in _deflate.deflate_stream(hashed(), pool):
            self._file.write(data)
            self.compress_size += len(data)
        self.digest = _record.encode_digest(hasher.digest())

    def chunks(self) -> Iterator[bytes]:
        self._file.seek(0)
        while True:
            chunk = self._file.read(CHUNK)
            if not chunk:
                break
            yield chunk

    def close(self) -> None:
        self._file.close()


class Spliced(Encoded):
    """New head and tail around the input member's own compressed middle (see ``_deflate``)."""

    def __init__(
        self, reader: WheelReader, member: Member, splice: _deflate.Splice, before: bytes, after: bytes
    ) -> None:
        self._reader = reader
        self._member = member
        self._before = before
        self._after = after
        first, last = splice.start.bit // 8, splice.end.bit // 8
        self._middle = (first + 1, last - first - 1)
        self.compress_size = len(before) + self._middle[1] + len(after)
        self.crc = self.file_size = 0
        self.digest = ""

    def chunks(self) -> Iterator[bytes]:
        yield self._before
        yield from self._reader.raw(self._member, *self._middle)
        yield self._after

    def check(self, expected_crc: int, expected_size: int) -> bool:
        """Inflate the spliced stream in full; take its CRC and hash only if it gives exactly
        the intended bytes."""
        inflater = zlib.decompressobj(-15)
        hasher = hashlib.sha256()
        crc = size = 0
        try:
            for chunk in self.chunks():
                while chunk:
                    out = inflater.decompress(chunk, CHUNK)
                    chunk = inflater.unconsumed_tail
                    size += len(out)
                    if size > expected_size:
                        return False
                    hasher.update(out)
                    crc = zlib.crc32(out, crc)
            out = inflater.flush()
        except zlib.error:
            return False
        size += len(out)
        crc = zlib.crc32(out, crc)
        hasher.update(out)
        if not inflater.eof or inflater.unused_data or size != expected_size or crc != expected_crc:
            return False
        self.crc, self.file_size = crc, size
        self.digest = _record.encode_digest(hasher.digest())
        return True


def _identical_run(result: binaries.Stripped) -> tuple[int, int]:
    """The longest output range made of input bytes at their own offsets."""
    best = (0, 0)
    position = 0
    run_start: Optional[int] = None
    for piece in result.pieces:
        length = piece.length if isinstance(piece, binaries.Copy) else len(piece)
        if isinstance(piece, binaries.Copy) and piece.offset == position:
            if run_start is None:
                run_start = position
        else:
            run_start = None
        position += length
        if run_start is not None and position - run_start > best[1] - best[0]:
            best = (run_start, position)
    return best


def _output_range(blob: Blob, result: binaries.Stripped, start: int, end: int) -> Iterator[bytes]:
    """Output bytes ``[start, end)`` of a stripped file."""
    position = 0
    for piece in result.pieces:
        length = piece.length if isinstance(piece, binaries.Copy) else len(piece)
        low, high = max(start, position), min(end, position + length)
        if low < high:
            if isinstance(piece, binaries.Copy):
                yield from blob.read(piece.offset + low - position, high - low)
            else:
                yield bytes(piece[low - position : high - position])
        position += length


# --- the plan


@dataclass
class Outcome:
    """What one worker decided for one member, and any new members that follow it."""

    member: Member
    drop: bool = False
    spool: Optional[Encoded] = None
    binary: Optional[BinaryReport] = None
    added: list[tuple[str, bytes]] = field(default_factory=list)

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


class _Job:
    """Processing of one wheel: holds the reader, the options and the shared pools."""

    def __init__(self, reader: WheelReader, config: Config, deflate_pool: Optional[ThreadPoolExecutor]) -> None:
        self.reader = reader
        self.config = config
        self.selected = Selector.from_config(config)
        self.deflate_pool = deflate_pool
        self.warnings: list[str] = []
        #: compiled bytecode per source member (``bytecode = "compile"``)
        self.compiled: dict[str, list[tuple[str, bytes]]] = {}
        #: bytecode members the compiled ones supersede
        self.replaced: set[str] = set()
        #: the new tags when ``sourceless`` retags the wheel
        self.tags: Optional[list[Tag]] = None

    def prepare(self) -> None:
        """Work that needs the whole wheel before writing: compile every selected module in
        one fresh interpreter, and decide the tags a sourceless wheel gets."""
        config, reader = self.config, self.reader
        if config.bytecode != "compile":
            return
        if config.sourceless:
            tags = _bytecode.sourceless_tags(reader.tags, reader.label)
            if set(tags) != set(reader.tags):
                self.tags = tags
        elif _bytecode.admits_others(reader.tags):
            interpreter, _ = _bytecode.running_interpreter()
            self.warnings.append(
                f"bytecode compiled for {interpreter} only: the wheel's tags admit other "
                "interpreters, which will compile the sources themselves"
            )
        data_dir = next((d for d in reader.top_level if d.endswith(".data")), "")
        sources = []
        for member in reader.members:
            name = member.name
            if not name.endswith(".py") or not self.selected(name):
                continue
            installed = _bytecode.installed_path(name, reader.dist_info, data_dir)
            if installed is None:
                continue
            sources.append(_bytecode.Source(name, installed, b"".join(_checked(reader, member)), member.info.date_time))
        compiled = _bytecode.compile_sources(sources, config, reader.label)
        for name, pycs in compiled.items():
            if config.sourceless:
                self.compiled[name] = [(name[: -len(".py")] + ".pyc", pycs[0])]
            else:
                self.compiled[name] = list(zip(_bytecode.cache_names(name, config.optimize), pycs))
        self.replaced = {new for pycs in self.compiled.values() for new, _ in pycs}

    def order(self) -> list[Member]:
        """Output order: payload members as they were, then ``.dist-info``; RECORD is separate."""
        prefix = self.reader.dist_info + "/"
        members = [m for m in self.reader.members if m.name != self.reader.record_name]
        return [m for m in members if not m.name.startswith(prefix)] + [m for m in members if m.name.startswith(prefix)]

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
        boundaries: list[_deflate.Boundary] = []
        worth_indexing = member.info.file_size >= _deflate.MIN_REUSE + _deflate.WINDOW
        checked = _checked(reader, member, boundaries if worth_indexing else None)
        if self.config.bytecode == "drop" and _bytecode.is_bytecode(name) and self.selected(name):
            _drain(checked)
            return Outcome(member, drop=True)
        if name in self.compiled:
            # already read, and checked against RECORD, by prepare() to compile it
            return Outcome(member, drop=self.config.sourceless, added=self.compiled[name])
        if name in self.replaced:
            _drain(checked)  # the backend's own copy, superseded by the one compiled here
            return Outcome(member, drop=True)
        if self.tags is not None and name == f"{reader.dist_info}/WHEEL":
            text = b"".join(checked).decode("utf-8")
            return self._rewritten(member, _bytecode.retagged_wheel_metadata(text, self.tags).encode())
        if self.config.strip == "none" or not self.selected(name) or member.info.file_size < 64:
            _drain(checked)
            return Outcome(member)
        blob = Blob(checked, member.info.file_size)
        try:
            return self._binary(member, blob, boundaries)
        finally:
            blob.close()

    def _rewritten(self, member: Member, data: bytes) -> Outcome:
        spool = Spool(iter([data]), None)
        return Outcome(member, spool=spool)

    def _binary(self, member: Member, blob: Blob, boundaries: list[_deflate.Boundary]) -> Outcome:
        fmt = binaries.detect(bytes(blob.buf[:8]))
        if fmt is None:
            return Outcome(member)
        level: binaries.Level = "all" if self.config.strip == "all" else "debug"
        try:
            result = binaries.strip(fmt, blob.buf, level)
        except binaries.BinaryError as exc:
            result = binaries.Unchanged(f"left as is: {exc}")
        try:
            arch = binaries.arch(fmt, blob.buf)
        except binaries.BinaryError:
            arch = ""
        verified = False
        if isinstance(result, binaries.Stripped) and self.config.verify:
            from . import _verify

            difference = _verify.compare(fmt, blob, result)
            if difference:
                result = binaries.Unchanged(f"kept the original: verification found {difference}")
            verified = difference is None
        info = member.info
        if isinstance(result, binaries.Unchanged):
            report = BinaryReport(
                member.name,
                fmt,
                arch,
                "unchanged",
                result.reason,
                info.file_size,
                info.file_size,
                info.compress_size,
                info.compress_size,
            )
            return Outcome(member, binary=report)
        spool = self._encode(member, blob, result, boundaries)
        if spool.file_size != result.size:
            raise WheelError(self.reader.label, "rewriter produced a wrong size (internal error)", member.name)
        report = BinaryReport(
            member.name,
            fmt,
            arch,
            "stripped",
            None,
            info.file_size,
            spool.file_size,
            info.compress_size,
            spool.compress_size,
            list(result.removed),
            verified,
        )
        return Outcome(member, spool=spool, binary=report)

    def _encode(
        self, member: Member, blob: Blob, result: binaries.Stripped, boundaries: list[_deflate.Boundary]
    ) -> Encoded:
        """Deflate the output, reusing the input's compressed blocks where they still fit."""
        splice = _deflate.plan_splice(boundaries, _identical_run(result))
        if splice is not None:
            first, last = (b"".join(self.reader.raw(member, bit // 8, 1)) for bit in (splice.start.bit, splice.end.bit))
            head = b"".join(
                _deflate.deflate_stream(
                    _output_range(blob, result, 0, splice.start.offset), self.deflate_pool, final=False
                )
            )
            window = b"".join(blob.read(splice.end.offset - _deflate.WINDOW, _deflate.WINDOW))
            tail = b"".join(
                _deflate.deflate_stream(
                    _output_range(blob, result, splice.end.offset, result.size), self.deflate_pool, window
                )
            )
            before, after = _deflate.spliced_parts(splice, head, first[0], last[0], tail)
            spliced = Spliced(self.reader, member, splice, before, after)
            expected_crc = 0
            for chunk in blob.pieces(result):
                expected_crc = zlib.crc32(chunk, expected_crc)
            if spliced.check(expected_crc, result.size):
                return spliced
        return Spool(blob.pieces(result), self.deflate_pool)


def _checked(
    reader: WheelReader, member: Member, boundaries: Optional[list[_deflate.Boundary]] = None
) -> Iterator[bytes]:
    """The member's contents, verified against its RECORD hash once fully read."""
    row = member.row
    assert row is not None and row.algorithm is not None
    hasher = hashlib.new(row.algorithm)
    for chunk in reader.inflate(member, boundaries):
        hasher.update(chunk)
        yield chunk
    if _record.encode_digest(hasher.digest()) != row.digest:
        raise WheelError(reader.label, f"{row.algorithm} hash does not match RECORD", member.name)


def _drain(chunks: Iterator[bytes]) -> None:
    for _ in chunks:
        pass


def _ordered(pool: ThreadPoolExecutor, job: _Job, members: list[Member]) -> Iterator[Outcome]:
    """Outcomes in ``members`` order. Large members run ahead on the pool, a few at a time
    (bounded memory); small ones are cheaper to do inline than to hand to a thread."""
    pending: deque[Future[Outcome] | Member] = deque()
    queue = iter(members)
    running = 0
    exhausted = False

    def top_up() -> None:
        nonlocal running, exhausted
        while not exhausted and running < WORKERS * 2 and len(pending) < 4096:
            member = next(queue, None)
            if member is None:
                exhausted = True
            elif member.info.file_size >= INLINE_BELOW:
                pending.append(pool.submit(job.process, member))
                running += 1
            else:
                pending.append(member)

    try:
        while True:
            top_up()
            if not pending:
                break
            item = pending.popleft()
            if isinstance(item, Member):
                outcome = job.process(item)
            else:
                running -= 1
                outcome = item.result()
            try:
                yield outcome
            finally:
                outcome.close()
    finally:
        # On an error, wait for what is already running and free what it spooled.
        for item in pending:
            if isinstance(item, Future) and not item.cancel() and item.exception() is None:
                item.result().close()


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

    Writes in place (atomically) or into ``output_dir``, under the retagged name when
    sourceless bytecode changes the tags; with ``dry_run`` writes nothing and reports what
    would change. Raises :class:`StripwheelError` (the input is then untouched).
    """
    started = time.perf_counter()
    if config.verify:
        from . import _verify

        _verify.require()
    wheel = Path(wheel)
    with WheelReader(wheel) as reader, ThreadPoolExecutor(WORKERS) as deflate_pool:
        job = _Job(reader, config, deflate_pool)
        job.prepare()
        name = _bytecode.retagged_name(wheel.name, job.tags) if job.tags else wheel.name
        target = (Path(output_dir) if output_dir is not None else wheel.parent) / name
        report = WheelReport(
            wheel=str(wheel),
            output=None if dry_run else str(target),
            dry_run=dry_run,
            wheel_size_before=reader.size,
            installed_size_before=reader.total_size,
        )
        if dry_run:
            sink = CountingSink()
            report.changed = _write(job, sink, report, progress)
            report.wheel_size_after = sink.size
        else:
            _write_file(job, wheel, target, report, progress)
        if not report.changed:
            report.wheel_size_after = reader.size
            report.installed_size_after = reader.total_size
        report.warnings.extend(job.warnings)
    report.seconds = time.perf_counter() - started
    return report


def _write_file(job: _Job, wheel: Path, target: Path, report: WheelReport, progress: Optional[Progress]) -> None:
    """Write through a temporary file beside ``target``, renamed over it once complete."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WheelError(job.reader.label, f"cannot create {target.parent}: {exc.strerror or exc}") from None
    sink, temp = atomic_output(target, os.stat(wheel).st_mode)
    try:
        with sink:
            report.changed = _write(job, sink, report, progress)
        if report.changed or target != wheel:
            if not report.changed:
                _copy_file(wheel, temp)  # -w DIR with nothing to change: the input as it is
            os.replace(temp, target)
            if report.changed and target.name != wheel.name and target.parent.resolve() == wheel.parent.resolve():
                wheel.unlink()  # retagged in place: the old name must not linger beside the new
        report.wheel_size_after = target.stat().st_size
    finally:
        temp.unlink(missing_ok=True)


def _copy_file(source: Path, temp: Path) -> None:
    with open(source, "rb") as src, open(temp, "wb") as dst:
        while True:
            chunk = src.read(CHUNK)
            if not chunk:
                break
            dst.write(chunk)


def _write(job: _Job, sink: Sink, report: WheelReport, progress: Optional[Progress]) -> bool:
    """Stream every member to ``sink``; True when anything differs from the input."""
    reader = job.reader
    writer = ZipWriter(sink)
    rows: dict[str, Optional[Row]] = {}
    added: list[Row] = []
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
                    if _bytecode.is_bytecode(member.name):
                        report.bytecode_removed.append(member.name)
                    elif not outcome.added:
                        report.removed.append(member.name)
            elif outcome.spool is not None:
                changed = True
                spool = outcome.spool
                rows[member.name] = Row(member.name, "sha256", spool.digest, spool.file_size)
                installed += spool.file_size
                writer.add(
                    info, Payload(zipfile.ZIP_DEFLATED, spool.crc, spool.compress_size, spool.file_size, spool.chunks())
                )
            else:
                installed += info.file_size
                writer.add(
                    info, Payload(info.compress_type, info.CRC, info.compress_size, info.file_size, reader.raw(member))
                )
            for name, data in outcome.added:
                changed = True
                spool = Spool(iter([data]), None)
                writer.add(
                    _new_info(name, info.date_time),
                    Payload(zipfile.ZIP_DEFLATED, spool.crc, spool.compress_size, spool.file_size, spool.chunks()),
                )
                spool.close()
                added.append(Row(name, "sha256", spool.digest, spool.file_size))
                installed += len(data)
                report.bytecode_added.append(name)
    record = _new_record(reader, rows, added)
    record_info = next(m.info for m in reader.members if m.name == reader.record_name)
    compressed = _deflate.deflate(record) if record_info.compress_type == zipfile.ZIP_DEFLATED else record
    writer.add(
        record_info, Payload(record_info.compress_type, zlib.crc32(record), len(compressed), len(record), [compressed])
    )
    writer.close(reader.comment)
    installed += len(record)
    report.installed_size_after = installed
    return changed


def _new_info(name: str, date_time: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    """The ``ZipInfo`` of a new member: an ordinary file dated by ``SOURCE_DATE_EPOCH`` when
    set (clamped to what zip can store), else like the member it comes from."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        seconds = min(max(int(epoch), 315532800), 4354819198)  # 1980-01-01 .. 2107-12-31
        date_time = time.gmtime(seconds)[:6]
    info = zipfile.ZipInfo(name, date_time)
    info.external_attr = 0o100644 << 16
    info.create_system = 3
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _new_record(reader: WheelReader, changes: dict[str, Optional[Row]], added: list[Row]) -> bytes:
    """The input's rows in their order, changed rows replaced, removed rows gone, new rows
    after them."""
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
    rows.extend(added)
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
        return BinaryView(
            member.name,
            fmt,
            "",
            "",
            size,
            member.info.compress_size,
            {"all": 0, "debug": 0},
            "none",
            f"malformed: {exc}",
        )
    slices = [
        {"arch": s.arch, "signature": s.signature, "strippable": dict(s.strippable), "note": s.note}
        for s in info.slices
    ]
    return BinaryView(
        member.name,
        info.format,
        info.arch,
        info.kind,
        size,
        member.info.compress_size,
        dict(info.strippable),
        info.signature,
        info.note,
        slices,
    )
