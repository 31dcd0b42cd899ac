"""A bare binary, outside any wheel or tree (a release executable, a cross-compiled library):
stripped in place by rename or into ``-o OUT``, its debug info kept where asked; inspected."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

from .. import _transform, binaries
from .._blob import Blob
from .._config import Config
from .._durable import AtomicFile
from .._errors import StripwheelError
from .._inspect import binary_view
from .._plan import MIN_BINARY
from .._report import TreeInspectReport, TreeReport
from ..debug.split import Target, debug_store, split_debug_notes
from .executor import check_tree_config, file_report
from .walk import Identity, TreeFile
from .writer import FileError, replace


def binary_format(path: Path) -> Optional[binaries.Format]:
    """The format of the binary at ``path``, or None when it is not one."""
    try:
        with open(path, "rb") as f:
            head = f.read(max(binaries.HEAD, MIN_BINARY))
    except OSError as exc:
        raise StripwheelError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return binaries.detect(head) if len(head) >= MIN_BINARY else None


def _open(path: Path) -> tuple[binaries.Format, Blob, TreeFile]:
    fmt = binary_format(path)
    if fmt is None:
        raise StripwheelError(f"{path}: not a wheel, a directory or an ELF, Mach-O or PE binary")
    handle = open(path, "rb")
    st = os.fstat(handle.fileno())
    return fmt, Blob.mapped(handle, st.st_size), TreeFile(path.name, Identity.of(st), st.st_nlink)


def process_file(path: Path, config: Config, *, output: Optional[Path] = None, dry_run: bool = False) -> TreeReport:
    """Strip the binary at ``path``: replaced by rename (mode, owner and extended attributes
    kept), or written to ``output``. A malformed binary is an error; a refused one is reported
    and left as it is."""
    started = time.perf_counter()
    check_tree_config(config)
    if config.verify:
        from .. import _verify

        _verify.require()
    fmt, blob, file = _open(path)
    report = TreeReport(path=str(path), dry_run=dry_run, files=1)
    store = debug_store(config, dry_run)
    try:
        target = Target(store, f"{path.name}.debug", path.name) if store is not None and fmt == "ELF" else None
        done = _transform.strip_binary(fmt, blob, config, target)
        if done.malformed is not None:  # the one file given cannot be done: an error, not a note
            raise StripwheelError(f"{path}: cannot strip: {done.malformed}")
        report.warnings.extend(done.warnings(path.name))
        report.binaries.append(file_report(path.name, fmt, file.size, done, store))
        result = done.result
        if isinstance(result, binaries.Unchanged):
            return report
        if not dry_run:
            if store is not None:
                store.commit()  # the debug file first: the stripped binary's debuglink names it
            _write(path, file, blob, result, output)
        report.warnings.extend(split_debug_notes(store, report.binaries))
    finally:
        blob.close()
        if store is not None:
            store.discard()
    report.seconds = time.perf_counter() - started
    return report


def _write(path: Path, file: TreeFile, blob: Blob, result: binaries.Stripped, output: Optional[Path]) -> None:
    if output is None:
        try:
            replace(path.parent, file, blob, result, digest=False)
        except FileError as exc:
            raise StripwheelError(str(exc)) from None
        return
    out = AtomicFile(output, os.stat(path).st_mode)
    try:
        for chunk in blob.views(result):
            out.write(bytes(chunk) if isinstance(chunk, memoryview) else chunk)
        out.commit()
    except BaseException:
        out.discard()
        raise


def inspect_file(path: Path) -> TreeInspectReport:
    """One bare binary as ``inspect`` lists it."""
    fmt, blob, _file = _open(path)
    try:
        view = binary_view(path.name, fmt, blob, None)
    finally:
        blob.close()
    return TreeInspectReport(path=str(path), files=1, binaries=[view])
