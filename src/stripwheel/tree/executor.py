"""The executor for installed trees and bare files (a bare file is a tree of one).

Under a lock on the tree, temporary files of killed runs are removed; each binary is read as a
private snapshot (never mapped: a file truncated by another process would kill us with
SIGBUS), stripped on both cores and written beside itself; a batch of those is made durable
with one sync and renamed into place, debug files first. The RECORD rows of every binary the
run looked at are made true on every way out: errors, Ctrl-C, and a rerun after a kill.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import signal
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .. import _record, _transform, binaries
from .._blob import Blob
from .._config import Config
from .._durable import AtomicFile, fsync_dir, fsync_path, remove_leftovers, syncfs
from .._errors import ConfigError, StripwheelError
from .._inspect import binary_view
from .._plan import MIN_BINARY, Entry, plan_tree
from .._pool import WORKERS, Progress
from .._report import BinaryReport, BinaryView, TreeInspectReport, TreeReport
from ..debug.split import Target, debug_store, split_debug_notes
from ..debug.store import DebugStoreError, beside
from .record import BareRecords, Change, Records
from .walk import READ_FLAGS, Identity, TreeFile, TreeSource
from .writer import FileError, PartlyReplaced, Prepared, commit, discard, prepare

#: Bytes of prepared files that wait for one sync and their renames: a batch pays one sync,
#: and a full disk holds at most this much of ours on top of the tree.
BATCH = 32 << 20


@dataclass
class _Outcome:
    """What one binary's worker produced, for the main thread."""

    file: TreeFile
    report: Optional[BinaryReport] = None
    prepared: Optional[Prepared] = None
    #: the staged debug file to put in place before the binary (its path in the store)
    debug_file: Optional[str] = None
    #: new RECORD values for a file this run leaves as it is but whose rows are stale
    reconcile: Optional[Change] = None
    error: Optional[str] = None
    warnings: list[str] = field(default_factory=list)


def check_tree_config(config: Config) -> None:
    """Bytecode options rewrite wheels; an installed tree keeps the bytecode it has. A companion
    wheel needs a wheel's name, version and tags."""
    if config.bytecode != "keep" or config.sourceless:
        raise ConfigError(["bytecode: only 'keep' applies to a directory (bytecode options are for wheels)"])
    if config.split_debug is not None and config.strip != "none" and config.split_debug_layout == "wheel":
        raise ConfigError(
            ["split-debug-layout: 'wheel' makes a companion wheel of a wheel; for a directory or a file use 'beside'"]
        )


def process_tree(
    root: Path, config: Config, *, dry_run: bool = False, progress: Optional[Progress] = None
) -> TreeReport:
    """Strip every binary under ``root`` in place (nothing written with ``dry_run``)."""
    started = time.perf_counter()
    check_tree_config(config)
    _transform.require(config)
    skip = Path(config.split_debug) if config.split_debug is not None else None
    source = TreeSource(root, skip=skip)
    with _locked(root, dry_run):  # before the walk: a run that waited must see what the other did
        report = _TreeRun(source, config, dry_run).run(progress)
    report.seconds = time.perf_counter() - started
    return report


def process_file(path: Path, config: Config, *, output: Optional[Path] = None, dry_run: bool = False) -> TreeReport:
    """Strip the binary at ``path`` (a symlink: the file it points to): replaced by rename,
    mode, owner and extended attributes kept, or written to ``output`` (always, even when
    there was nothing to strip). A malformed binary is an error; a refused one is reported."""
    started = time.perf_counter()
    check_tree_config(config)
    _transform.require(config)
    source = _bare_source(path)
    with _locked(source.root, dry_run):
        report = _TreeRun(source, config, dry_run, output).run(None)
    report.path = str(path)
    if path.is_symlink():
        report.warnings.append(
            f"{path} is a symlink: stripped the file it points to, {source.path(source.single or '')}"
        )
    report.seconds = time.perf_counter() - started
    return report


def _bare_source(path: Path) -> TreeSource:
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    try:
        st = os.stat(path)
    except OSError as exc:
        raise StripwheelError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise StripwheelError(f"{path}: not a regular file, a directory or a wheel")
    source = TreeSource.file(path)
    head = _head(source)
    if binaries.detect(head) is None or len(head) < MIN_BINARY:
        raise StripwheelError(f"{path}: not a wheel, a directory or an ELF, Mach-O or PE binary")
    return source


def _head(source: TreeSource) -> bytes:
    files = source.files()
    head = source.head(files[0], max(binaries.HEAD, MIN_BINARY)) if files else b""
    if source.errors:
        raise StripwheelError(source.errors[0])
    return head


class _TreeRun:
    """One tree's processing: its files, its RECORDs, the debug store, the batch waiting for
    its sync."""

    def __init__(self, source: TreeSource, config: Config, dry_run: bool, output: Optional[Path] = None) -> None:
        self.source, self.config, self.dry_run, self.output = source, config, dry_run, output
        self.root = source.root
        self.bare = source.single is not None
        self.files = source.files()
        self.by_path = {f.path: f for f in self.files}
        self.records: Optional[Records | BareRecords] = None
        if not self.bare:
            self.records = Records(self.root, self.files, source.links)
        elif output is None and self.files:
            # An installed file run bare: its rows in the site's RECORDs stay true too.
            self.records = BareRecords.find(Path(os.path.abspath(self.root / self.files[0].path)), self.files[0])
        self.debug = debug_store(config, dry_run)
        name = source.single or os.path.basename(os.path.abspath(self.root)) or "root"
        #: where a binary without build-id gets its debug file in the store
        self.fallback_prefix = "" if self.bare else f"{name}/"
        self.batch: list[_Outcome] = []
        self.batch_bytes = 0
        self.changes: dict[str, Change] = {}
        self.sync_seconds = 0.0
        #: files are mapped under read leases (else read into snapshots)
        self.leases = False
        #: directories with renames not yet synced (only where there is no syncfs)
        self.renamed_in: set[Path] = set()

    def run(self, progress: Optional[Progress]) -> TreeReport:
        source = self.source
        report = TreeReport(path=str(self.root), dry_run=self.dry_run, files=len(self.files))
        with _leases() as self.leases:
            report.errors.extend(source.errors)
            if not self.dry_run:
                self._remove_leftovers(report)
            entries = [
                Entry(f.path, f.size, source.head(f, binaries.HEAD) if f.size >= MIN_BINARY else b"")
                for f in self.files
            ]
            report.errors.extend(e for e in source.errors if e not in report.errors)
            # Only ``strip`` steps name a format: the plan's other steps leave a file as it is.
            found = [(s.name, s.format) for s in plan_tree(entries, self.config).steps if s.format is not None]
            self._strip_all(found, report, progress)
        report.sync_seconds = self.sync_seconds
        return report

    def _remove_leftovers(self, report: TreeReport) -> None:
        if self.bare:
            names = [(".", n) for n in os.listdir(self.root)]
        else:
            names = [(d or ".", n) for d, n in self.source.temporary]
        removed: list[str] = []
        for directory, name in names:
            removed += remove_leftovers(self.root / directory, [name])
        if removed:
            report.warnings.append(f"removed {len(removed)} temporary files left by an interrupted run")

    def _strip_all(
        self, found: list[tuple[str, binaries.Format]], report: TreeReport, progress: Optional[Progress]
    ) -> None:
        """Strip each binary found (its path in the tree, its format)."""
        total = sum(self.by_path[name].size for name, _ in found)
        done_bytes = 0
        pool = ThreadPoolExecutor(WORKERS)
        futures: list[Future[_Outcome]] = [pool.submit(self._one, name, fmt) for name, fmt in found]
        consumed = 0
        try:
            for future in futures:
                outcome = future.result()
                consumed += 1
                done_bytes += outcome.file.size
                if progress is not None:
                    progress(done_bytes, total)
                self._take(outcome, report)
                if self.batch_bytes >= BATCH:
                    self._flush(report)
            self._flush(report)
        finally:
            # Ctrl-C or an error: what is not renamed yet is dropped, what is done is recorded.
            for future in futures[consumed:]:
                future.cancel()
            pool.shutdown(wait=True)
            for future in futures[consumed:]:
                if future.done() and not future.cancelled() and future.exception() is None:
                    self._drop(future.result())
            for outcome in self.batch:
                self._drop(outcome)
            self.batch.clear()
            if self.debug is not None:
                self.debug.discard()
            with _deferred_interrupts():
                self._update_records(report)
        report.warnings.extend(split_debug_notes(self.debug, report.binaries))

    def _take(self, outcome: _Outcome, report: TreeReport) -> None:
        report.warnings.extend(outcome.warnings)
        if outcome.error is not None:
            report.errors.append(outcome.error)
        if outcome.reconcile is not None:
            for path in outcome.file.paths:
                self.changes[path] = outcome.reconcile
        if outcome.prepared is not None:
            self.batch.append(outcome)  # reported once it is in place
            self.batch_bytes += outcome.prepared.size
        elif outcome.report is not None:
            report.binaries.append(outcome.report)

    def _drop(self, outcome: _Outcome) -> None:
        if outcome.prepared is not None:
            discard(outcome.prepared)
        if outcome.debug_file is not None and self.debug is not None:
            self.debug.forget(outcome.debug_file, outcome.file.path)

    def _flush(self, report: TreeReport) -> None:
        """Sync the batch's data, rename debug files then binaries into place, sync again."""
        if not self.batch:
            return
        staged = [self.debug.staged(o.debug_file) for o in self.batch if o.debug_file and self.debug is not None]
        self._sync(
            [p.temps[0][1] for p in (o.prepared for o in self.batch) if p is not None] + [s for s in staged if s]
        )
        self.batch_bytes = 0
        while self.batch:
            outcome = self.batch.pop(0)
            prepared = outcome.prepared
            if prepared is None:
                continue
            try:
                if outcome.debug_file is not None and self.debug is not None:
                    self.debug.commit_one(outcome.debug_file)
                    self.renamed_in.add((self.debug.root / outcome.debug_file).parent)
                replaced = commit(self.root, prepared)
            except (FileError, DebugStoreError) as exc:
                replaced = exc.replaced if isinstance(exc, PartlyReplaced) else []
                report.errors.append(str(exc))
                self._drop(outcome)
            for path in replaced:
                self.changes[path] = Change(prepared.digest, prepared.size, outcome.file.size)
                self.renamed_in.add((self.root / path).parent)
            if replaced and outcome.report is not None:
                report.binaries.append(outcome.report)
        self._sync([])

    def _sync(self, written: list[Path]) -> None:
        """One ``syncfs`` per filesystem written to (the tree's, the debug directory's); where
        there is none, each file written (before renames) or each directory (after) is synced."""
        started = time.perf_counter()
        roots = [self.root] + ([self.debug.root] if self.debug is not None and self.debug.root.exists() else [])
        try:
            synced = [syncfs(r) for r in roots]  # every one of them: no short cut
            if not all(synced):
                for path in written:
                    fsync_path(path)
                for directory in self.renamed_in | set(roots):
                    fsync_dir(directory)
                self.renamed_in.clear()
        except OSError as exc:
            raise StripwheelError(f"{self.root}: cannot sync to disk: {exc.strerror or exc}") from None
        self.sync_seconds += time.perf_counter() - started

    def _update_records(self, report: TreeReport) -> None:
        if self.records is None or not self.changes or self.dry_run:
            return
        touched, errors, warnings = self.records.update(self.changes)
        report.records.extend(touched)
        report.errors.extend(errors)
        report.warnings.extend(warnings)

    # --- on the pool

    def _one(self, name: str, fmt: binaries.Format) -> _Outcome:
        file = self.by_path[name]
        path = self.root / file.path
        blocked = self.records.blocked(file) if self.records is not None else None
        if blocked is not None:
            return _Outcome(file, error=f"{path}: left as it is: its RECORD row cannot be rewritten ({blocked})")
        try:
            blob = _read(path, file.identity, self.leases)
        except FileError as exc:
            return _Outcome(file, error=str(exc))
        try:
            return self._strip(file, fmt, blob)
        finally:
            blob.close()

    def _strip(self, file: TreeFile, fmt: binaries.Format, blob: Blob) -> _Outcome:
        path = self.root / file.path
        target = None
        if self.debug is not None and fmt == "ELF":
            # By path, DIR mirrors the tree (a bare file: DIR/.debug/<name>.debug).
            where = beside(file.path) if self.debug.by_path else f"{self.fallback_prefix}{file.path}.debug"
            target = Target(self.debug, where, file.path)
        try:
            done = _transform.strip_binary(fmt, blob, self.config, target)
        except DebugStoreError as exc:
            return _Outcome(file, error=f"{path}: left as it is: {exc}")
        if done.malformed is not None and self.bare:  # the one file given cannot be done: an error
            return _Outcome(file, error=f"{path}: cannot strip: {done.malformed}")
        report = _transform.file_report(file.path, fmt, file.size, done, self.debug)
        outcome = _Outcome(file, report, warnings=done.warnings(file.path))
        result = done.result
        debug_file = done.kept.file.path if done.kept.file is not None else None
        if self.output is not None:
            return self._write_output(outcome, blob, result)
        if isinstance(result, binaries.Unchanged):
            if self.records is not None and self.records.stale(file):
                outcome.reconcile = Change(_digest(blob), file.size, None)
            return outcome
        if self.dry_run:
            return outcome
        listed = self.records is not None and self.records.listed(file)
        try:
            outcome.prepared = prepare(self.root, file, blob, result, listed)
        except FileError as exc:
            if debug_file is not None and target is not None:
                target.store.forget(debug_file, target.owner)
            return _Outcome(file, error=str(exc))
        outcome.debug_file = debug_file
        return outcome

    def _write_output(self, outcome: _Outcome, blob: Blob, result: binaries.Result) -> _Outcome:
        """``-o OUT``: always written, the input's bytes when there was nothing to strip."""
        if self.dry_run or self.output is None:
            return outcome
        try:
            if self.debug is not None:
                self.debug.commit()  # the debug file first: the stripped binary's debuglink names it
            out = AtomicFile(self.output, os.stat(self.root / outcome.file.path).st_mode)
            try:
                if isinstance(result, binaries.Stripped):
                    for chunk in blob.views(result):
                        out.write(bytes(chunk))
                else:
                    for chunk in blob.read(0, blob.size):
                        out.write(chunk)
                out.commit()
            except BaseException:
                out.discard()
                raise
        except (StripwheelError, OSError) as exc:
            return _Outcome(outcome.file, error=f"{self.output}: cannot write: {exc}")
        return outcome


def _read(path: Path, identity: Identity, lease: bool) -> Blob:
    """The file's contents, which must still be the regular file the walk found, safe from
    other processes for as long as the blob is open.

    A file another process truncates while it is mapped kills the reader with SIGBUS. Under a
    read lease (``F_SETLEASE``) it is mapped: a process that opens it for writing or truncates
    it then waits until the blob is closed (the lease goes with the descriptor), and only the
    pages the rewriter touches are read. Where no lease can be had (another process has the
    file open for writing, it is someone else's and we are not root, not Linux), it is read into
    a private snapshot instead, all of it."""
    try:
        fd = os.open(path, READ_FLAGS)
    except OSError as exc:
        raise FileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or Identity.of(st) != identity:
            raise FileError(f"{path}: changed while it was processed; left as it is")
        if lease and _take_lease(fd) and Identity.of(os.fstat(fd)) == identity:
            blob = Blob.mapped(os.fdopen(fd, "rb"), identity.size)  # closes fd, and so ends the lease
            fd = -1
            return blob
        blob = Blob.snapshot(fd, identity.size)
        if Identity.of(os.fstat(fd)) != identity:
            blob.close()
            raise FileError(f"{path}: changed while it was processed; left as it is")
        return blob
    except OSError as exc:
        raise FileError(f"{path}: changed while it was processed ({exc}); left as it is") from None
    finally:
        if fd >= 0:
            os.close(fd)


def _take_lease(fd: int) -> bool:
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    except (OSError, AttributeError):
        return False
    return True


@contextlib.contextmanager
def _leases() -> Iterator[bool]:
    """Whether read leases can be used: the kernel tells a lease holder that someone waits with
    SIGIO, whose default action ends the process, so it is ignored while the run goes (the
    waiting process is let go when the file is closed). Only the main thread sets signals."""
    if not hasattr(fcntl, "F_SETLEASE") or threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = signal.signal(signal.SIGIO, signal.SIG_IGN)
    try:
        yield True
    finally:
        signal.signal(signal.SIGIO, previous)


def _digest(blob: Blob) -> str:
    hasher = hashlib.sha256()
    for chunk in blob.read(0, blob.size):
        hasher.update(chunk)
    return _record.encode_digest(hasher.digest())


@contextlib.contextmanager
def _locked(root: Path, shared: bool) -> Iterator[None]:
    """One run at a time on a tree (a dry run only waits for writers): an advisory lock on the
    root directory, released by the kernel however the process ends."""
    try:
        fd = os.open(root, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _deferred_interrupts() -> Iterator[None]:
    """Ctrl-C waits until the RECORD rows of what was done are written, then takes effect."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def inspect_tree(root: Path) -> TreeInspectReport:
    """Every binary under ``root`` with what each level would remove, largest first, and the
    installed distribution whose RECORD lists it."""
    source = TreeSource(root)
    files = source.files()
    report = TreeInspectReport(path=str(root), files=len(files))
    records = Records(root, files, source.links)
    with _leases() as lease:
        views = [
            (
                file,
                _view(
                    source,
                    file,
                    source.head(file, binaries.HEAD) if file.size >= MIN_BINARY else b"",
                    report.errors,
                    lease,
                ),
            )
            for file in files
        ]
    for file, view in views:
        if view is not None:
            view.package = records.owner(file.path)
            report.binaries.append(view)
    report.binaries.sort(key=lambda b: (-b.strippable.get("all", 0), -b.size, b.member))
    report.errors[:0] = source.errors
    return report


def inspect_file(path: Path) -> TreeInspectReport:
    """One bare binary as ``inspect`` lists it."""
    source = _bare_source(path)
    errors: list[str] = []
    file = source.files()[0]
    with _leases() as lease:
        view = _view(source, file, _head(source), errors, lease)
    if errors:
        raise StripwheelError(errors[0])
    return TreeInspectReport(path=str(path), files=1, binaries=[view] if view is not None else [])


def _view(source: TreeSource, file: TreeFile, head: bytes, errors: list[str], lease: bool) -> Optional[BinaryView]:
    fmt = binaries.detect(head)
    if fmt is None:
        return None
    try:
        blob = _read(source.path(file.path), file.identity, lease)
    except FileError as exc:
        errors.append(str(exc))
        return None
    try:
        return binary_view(file.path, fmt, blob, None)
    finally:
        blob.close()
