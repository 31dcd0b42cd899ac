"""The executor for installed trees: the files of a directory planned like wheel members,
each binary stripped and replaced in place on both cores, then the RECORD rows of what
changed brought up to date; ``inspect`` of a tree with the packages the binaries belong to."""

from __future__ import annotations

import csv
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .. import _transform, binaries
from .._blob import Blob
from .._config import Config
from .._errors import ConfigError
from .._inspect import binary_view
from .._plan import ARCHIVE_MAGIC, MIN_BINARY, Entry, Step, plan_tree
from .._pool import WORKERS, Progress
from .._report import BinaryReport, BinaryView, TreeInspectReport, TreeReport
from ..debug.split import Target, debug_fields, debug_store, split_debug_notes
from ..debug.store import DebugStore, DebugStoreError
from .walk import Identity, TreeFile, TreeSource, record_target
from .writer import FileError, Written, replace, update_record


@dataclass
class _Done:
    """One file's outcome."""

    file: TreeFile
    report: Optional[BinaryReport] = None
    written: Optional[Written] = None
    error: Optional[str] = None
    warnings: list[str] = field(default_factory=list)


def check_tree_config(config: Config) -> None:
    """Bytecode options rewrite wheels; an installed tree keeps the bytecode it has."""
    if config.bytecode != "keep" or config.sourceless:
        raise ConfigError(["bytecode: only 'keep' applies to a directory (bytecode options are for wheels)"])


def process_tree(
    root: Path, config: Config, *, dry_run: bool = False, progress: Optional[Progress] = None
) -> TreeReport:
    """Strip every binary under ``root`` in place (nothing written with ``dry_run``)."""
    started = time.perf_counter()
    check_tree_config(config)
    if config.verify:
        from .. import _verify

        _verify.require()
    run = _TreeRun(TreeSource(root), config, dry_run)
    report = run.carry_out(progress)
    report.seconds = time.perf_counter() - started
    return report


class _TreeRun:
    """One tree's processing: its files, what RECORD lists, the debug store."""

    def __init__(self, source: TreeSource, config: Config, dry_run: bool) -> None:
        self.source, self.config, self.dry_run = source, config, dry_run
        self.files = source.files()
        self.by_path = {f.path: f for f in self.files}
        #: only files a RECORD lists need the hash of their new contents
        self.listed = set(_owners(source.root, self.files))
        self.debug = debug_store(config, dry_run)

    def carry_out(self, progress: Optional[Progress]) -> TreeReport:
        source = self.source
        entries = [
            Entry(f.path, f.size, source.head(f, binaries.HEAD) if f.size >= MIN_BINARY else b"") for f in self.files
        ]
        report = TreeReport(
            path=str(source.root), dry_run=self.dry_run, files=len(self.files), errors=list(source.errors)
        )
        steps = [s for s in plan_tree(entries, self.config).steps if s.action == "strip" or s.note]
        total, done_bytes = sum(self.by_path[s.name].size for s in steps), 0
        changed: dict[str, Written] = {}
        try:
            with ThreadPoolExecutor(WORKERS) as pool:
                for done in pool.map(self._one, steps):
                    done_bytes += done.file.size
                    if progress is not None:
                        progress(done_bytes, total)
                    self._record(done, report, changed)
        finally:
            if self.debug is not None:
                self.debug.discard()  # each debug file was put in place with its binary
        if changed:
            _update_records(source.root, self.files, changed, report)
        report.warnings.extend(split_debug_notes(self.debug, report.binaries))
        return report

    @staticmethod
    def _record(done: _Done, report: TreeReport, changed: dict[str, Written]) -> None:
        if done.report is not None:
            report.binaries.append(done.report)
        if done.error is not None:
            report.errors.append(done.error)
        report.warnings.extend(done.warnings)
        if done.written is not None:
            changed.update(dict.fromkeys((done.file.path, *done.file.aliases), done.written))

    def _one(self, step: Step) -> _Done:
        file = self.by_path[step.name]
        if step.note:
            archive = BinaryReport(file.path, "archive", "", "unchanged", step.note, file.size, file.size, None, None)
            return _Done(file, archive)
        if step.format is None:
            return _Done(file)
        path = self.source.path(file.path)
        try:
            handle = open(path, "rb")
        except OSError as exc:
            return _Done(file, error=f"{path}: cannot read: {exc.strerror or exc}")
        try:
            if Identity.of(os.fstat(handle.fileno())) != file.identity:
                handle.close()
                return _Done(file, error=f"{path}: changed while it was processed; left as it is")
            blob = Blob.mapped(handle, file.size)
        except (OSError, ValueError) as exc:
            handle.close()
            return _Done(file, error=f"{path}: cannot read: {exc}")
        try:
            return self._strip(file, step.format, blob)
        finally:
            blob.close()

    def _strip(self, file: TreeFile, fmt: binaries.Format, blob: Blob) -> _Done:
        target = None
        if self.debug is not None and fmt == "ELF":
            target = Target(self.debug, f"{self.source.root.name}/{file.path}.debug", file.path)
        done = _transform.strip_binary(fmt, blob, self.config, target)
        warnings, result = done.warnings(file.path), done.result
        report = file_report(file.path, fmt, file.size, done, self.debug)
        if isinstance(result, binaries.Unchanged):
            return _Done(file, report, warnings=warnings)
        if self.dry_run:
            return _Done(file, report, warnings=warnings)
        try:
            if self.debug is not None and done.kept.file is not None:
                # In place before the binary loses its debug info: nothing is lost if the run stops.
                self.debug.commit_one(done.kept.file.path)
            digest = any(path in self.listed for path in (file.path, *file.aliases))
            written = replace(self.source.root, file, blob, result, digest)
        except (FileError, DebugStoreError) as exc:
            return _Done(file, error=str(exc))
        return _Done(file, report, written, warnings=warnings)


def file_report(
    name: str, fmt: binaries.Format, size: int, done: _transform.Stripping, store: Optional[DebugStore]
) -> BinaryReport:
    """The report of one file stripped on disk (a tree's or a bare one): no stored sizes."""
    result = done.result
    if isinstance(result, binaries.Unchanged):
        return BinaryReport(
            name, fmt, done.arch, "unchanged", result.reason, size, size, None, None, clean=result.clean
        )
    fields = debug_fields(store, done.kept)
    removed = list(result.removed)
    return BinaryReport(
        name, fmt, done.arch, "stripped", None, size, result.size, None, None, removed, done.verified, **fields
    )


def _update_records(root: Path, files: list[TreeFile], changed: dict[str, Written], report: TreeReport) -> None:
    records = [p for f in files for p in (f.path, *f.aliases) if _is_record(p)]
    for record in sorted(records):
        try:
            touched, warnings = update_record(root, record, changed)
        except FileError as exc:
            report.errors.append(str(exc))
            continue
        report.warnings.extend(warnings)
        if touched:
            report.records.append(record)


def _is_record(path: str) -> bool:
    parts = path.split("/")
    return len(parts) >= 2 and parts[-1] == "RECORD" and parts[-2].endswith(".dist-info")


def inspect_tree(root: Path) -> TreeInspectReport:
    """Every binary under ``root`` with what each level would remove, largest first, and the
    installed distribution whose RECORD lists it."""
    source = TreeSource(root)
    files = source.files()
    report = TreeInspectReport(path=str(root), files=len(files))
    owners = _owners(root, files)
    for file in files:
        head = source.head(file, binaries.HEAD) if file.size >= MIN_BINARY else b""
        fmt = binaries.detect(head)
        if fmt is None:
            if head.startswith(ARCHIVE_MAGIC):
                note = "static archive: left alone (its objects need their symbols)"
                nothing = {"all": 0, "debug": 0}
                archive = BinaryView(file.path, "archive", "", "static archive", file.size, None, nothing, "none", note)
                archive.package = owners.get(file.path)
                report.binaries.append(archive)
            continue
        path = source.path(file.path)
        try:
            with open(path, "rb") as handle:
                blob = Blob.mapped(handle, file.size)
                try:
                    view = binary_view(file.path, fmt, blob, None)
                finally:
                    blob.close()
        except OSError as exc:
            report.errors.append(f"{path}: cannot read: {exc.strerror or exc}")
            continue
        view.package = owners.get(file.path)
        report.binaries.append(view)
    report.binaries.sort(key=lambda b: (-b.strippable.get("all", 0), -b.size, b.member))
    report.errors[:0] = source.errors
    return report


def _owners(root: Path, files: list[TreeFile]) -> dict[str, str]:
    """File path -> the distribution whose installed RECORD lists it."""
    owners: dict[str, str] = {}
    for file in files:
        if not _is_record(file.path):
            continue
        name = file.path.rsplit("/", 2)[-2][: -len(".dist-info")].rsplit("-", 1)[0]
        try:
            text = (root / file.path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for fields in csv.reader(text.splitlines()):
            if fields:
                owners.setdefault(record_target(root, file.path, fields[0]), name)
    return owners
