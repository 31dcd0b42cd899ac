"""The executor: a wheel in, its plan carried out member by member, the result written and
reported. Every member's contents are read through one checked stream, whatever its step."""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from .. import _bytecode, _transform, binaries
from .._blob import IN_MEMORY, Blob
from .._config import Config
from .._durable import AtomicFile
from .._errors import WheelError
from .._plan import MIN_BINARY, Entry, Plan, Step, Wheel, plan
from .._pool import WORKERS, Progress
from .._report import BinaryReport, WheelReport
from ..binaries.elf_debug import DebugParts
from ..debug.companion import COMPANION_LEVEL, Companion, plan_companion, write_companion
from ..debug.split import Target, debug_fields, debug_store, split_debug_notes
from ..debug.store import beside
from . import compile, deflate
from .destination import WheelDestination
from .encode import Encoded, Spool, encode
from .source import Member, WheelSource
from .zip import CountingSink

#: Members smaller than this are processed inline: a thread hand-off would cost more.
INLINE_BELOW = 1 << 20
#: Stored bytes of stripped members whose outcomes may be done and waiting for their turn.
AHEAD = 128 << 20
#: Up to ``WORKERS`` members at least this large start before everything else.
EARLY_FROM = 16 << 20


@dataclass
class Outcome:
    """What carrying out one step produced, for the writer."""

    step: Step
    member: Member
    #: new contents (``strip`` that shrank the binary, ``retag``)
    encoded: Optional[Encoded] = None
    binary: Optional[BinaryReport] = None
    warnings: list[str] = field(default_factory=list)

    def close(self) -> None:
        if self.encoded is not None:
            self.encoded.close()


class _Run:
    """One wheel's processing: the source, the options, the compiled bytecode, the pools."""

    def __init__(
        self,
        source: WheelSource,
        config: Config,
        pool: ThreadPoolExecutor,
        deflating: ThreadPoolExecutor,
        dry_run: bool = False,
    ) -> None:
        self.source = source
        self.config = config
        #: members are carried out here
        self.pool = pool
        #: the chunks of their new bytes are deflated here: a member's task waits for its
        #: chunks, so on its own pool, with every worker waiting, none would be left to run them
        self.deflating = deflating
        self.debug = debug_store(config, dry_run)
        self.members = {m.name: m for m in source.members}
        self.tags, self.warnings = compile.sourceless_tags(source.tags, config, source.label)
        #: the output's file name (retagged when sourceless bytecode changes the tags)
        self.name = _bytecode.retagged_name(source.label, self.tags) if self.tags else source.label
        #: layout ``wheel``: the companion wheel the debug files go into
        self.companion: Optional[Companion] = None
        if self.debug is not None and self.debug.layout == "wheel":
            self.companion = plan_companion(source, config.debug_wheel_name, self.name, self.debug.root, self.tags)
        data_dir = next((d for d in source.top_level if d.endswith(".data")), "")
        wheel = Wheel(
            source.dist_info, source.record_name, data_dir, sys.implementation.cache_tag, self.tags is not None
        )
        self.plan: Plan = plan(self._entries(), config, wheel)
        self.compiled = compile.compile_modules(source, self.plan.compiled, config)

    def _entries(self) -> list[Entry]:
        looking = self.config.strip != "none"
        return [
            Entry(
                m.name,
                m.info.file_size,
                self.source.head(m, binaries.HEAD) if looking and m.info.file_size >= MIN_BINARY else b"",
            )
            for m in self.source.members
        ]

    def prepare(self, step: Step) -> Outcome:
        """Everything for one step short of writing: read, check, transform, encode."""
        member = self.members[step.name]
        if step.action == "compile":
            return Outcome(step, member)  # read and checked by compile_modules already
        if step.action == "strip" and step.format is not None:
            return self._strip(step, step.format, member)
        with self.source.open(member) as stream:  # leaving the block reads and checks the rest
            if step.action == "retag" and self.tags is not None:
                text = stream.read().decode("utf-8")
                new = _bytecode.retagged_wheel_metadata(text, self.tags).encode()
                return Outcome(step, member, encoded=Spool([new], None))
        if step.why == "signature":
            warning = f"removed {step.name}: it signs the old RECORD and would no longer verify"
            return Outcome(step, member, warnings=[warning])
        return Outcome(step, member)

    def _strip(self, step: Step, fmt: binaries.Format, member: Member) -> Outcome:
        info = member.info
        boundaries: list[deflate.Boundary] = []
        index = info.file_size >= deflate.MIN_REUSE + deflate.WINDOW
        with self.source.open(member, boundaries if index else None) as stream:
            blob = Blob(stream, info.file_size)
        target = None
        if self.debug is not None and fmt == "ELF":
            if self.companion is not None:
                where = self.companion.member(member.name, info.date_time)
            elif self.debug.by_path:
                where = beside(member.name)  # DIR mirrors the wheel's paths
            else:
                where = f"{self.source.label[: -len('.whl')]}/{member.name}.debug"
            target = Target(self.debug, where, f"{self.source.label}: {member.name}")
            if self.companion is not None and not self.debug.dry_run:
                # The companion's member, deflated now, reusing the input's compressed blocks
                # where the debug file holds the input's bytes in their order (its last sections).
                def deflated(parts: DebugParts) -> Encoded:
                    return encode(self.source, member, blob, parts, boundaries, self.deflating, COMPANION_LEVEL)

                target = replace(target, deflate=deflated)
        try:
            done = _transform.strip_binary(fmt, blob, self.config, target)
            result = done.result
            warnings = done.warnings(member.name)
            if isinstance(result, binaries.Unchanged):
                binary = _unchanged_report(member, fmt, done.arch, result.reason, clean=result.clean)
                return Outcome(step, member, binary=binary, warnings=warnings)
            encoded = encode(self.source, member, blob, result, boundaries, self.deflating)
        finally:
            blob.close()
        if encoded.file_size != result.size:
            encoded.close()
            raise WheelError(self.source.label, "rewriter produced a wrong size (internal error)", member.name)
        if encoded.compress_size > info.compress_size:
            # Invariant: no member is stored larger than it came (symbols deflate well, and a
            # rewritten table can deflate worse than the original one).
            grown = encoded.compress_size
            encoded.close()
            if done.kept.file is not None and target is not None:
                target.store.forget(done.kept.file.path, target.owner)  # the member keeps its debug info
            reason = f"kept the original: stripped, it would be stored larger ({info.compress_size} -> {grown} B)"
            return Outcome(step, member, binary=_unchanged_report(member, fmt, done.arch, reason))
        report = BinaryReport.stripped(
            member.name,
            format=fmt,
            arch=done.arch,
            size_before=info.file_size,
            size_after=encoded.file_size,
            compressed_before=info.compress_size,
            compressed_after=encoded.compress_size,
            removed=result.removed,
            verified=done.verified,
            debug=debug_fields(self.debug, done.kept),
        )
        return Outcome(step, member, encoded=encoded, binary=report, warnings=warnings)

    def write(self, destination: WheelDestination, report: WheelReport, progress: Optional[Progress]) -> None:
        """Carry out the plan into ``destination``, filling ``report``."""
        done = 0
        for outcome in _ordered(self.pool, self, list(self.plan.steps)):
            step, member = outcome.step, outcome.member
            done += member.info.file_size
            if progress is not None:
                progress(done, self.source.total_size)
            if outcome.binary is not None:
                report.binaries.append(outcome.binary)
            report.warnings.extend(outcome.warnings)
            if outcome.encoded is not None:
                destination.replace(member, outcome.encoded)
            elif step.action == "drop":
                destination.drop(member)
                if step.why in ("bytecode", "superseded"):
                    report.bytecode_removed.append(step.name)
                elif step.why == "signature":
                    report.removed.append(step.name)
            elif step.action == "compile":
                if step.keep_source:
                    destination.copy(member)
                else:
                    destination.drop(member)
                for name, data in zip(step.adds, self.compiled[step.name]):
                    destination.add(name, data, member.info.date_time)
                    report.bytecode_added.append(name)
            else:
                destination.copy(member)
        destination.close()


def _unchanged_report(
    member: Member, fmt: binaries.Format, arch: str, reason: str, clean: bool = False
) -> BinaryReport:
    info = member.info
    return BinaryReport.unchanged(
        member.name,
        format=fmt,
        arch=arch,
        reason=reason,
        size=info.file_size,
        compressed=info.compress_size,
        clean=clean,
    )


class _Slot:
    """A step done on the writer's thread: in its turn, or ahead of it while the writer
    waits for the pool; an error is kept for its turn, so errors come in member order."""

    def __init__(self, step: Step) -> None:
        self.step = step
        self.outcome: Optional[Outcome] = None
        self.error: Optional[Exception] = None

    def run_inline(self, run: _Run) -> None:
        try:
            self.outcome = run.prepare(self.step)
        except Exception as exc:  # noqa: BLE001 - raised again in the member's turn
            self.error = exc

    def result(self) -> Outcome:
        if self.error is not None:
            raise self.error
        if self.outcome is None:
            raise RuntimeError(f"{self.step.name}: no outcome (internal error)")
        return self.outcome


def _ordered(pool: ThreadPoolExecutor, run: _Run, steps: list[Step]) -> Iterator[Outcome]:
    """Outcomes in ``steps`` order. Large members run ahead on the pool, a few at a time
    (bounded memory: what their outcomes may hold stays under ``AHEAD``); small ones are
    cheaper to do inline than to hand to a thread.

    The few largest members start first, wherever they are in the order: one of them alone
    can take longer than all the rest (torch's 434 MB ``libtorch_cpu.so`` is 62 % of the
    wheel), so started when the writer reaches it, it would be alone on the pool at the end.
    Each waits for its turn as a small ``Encoded`` (a spliced one holds a head and a tail, a
    spool at most ``IN_MEMORY`` bytes), so memory stays bounded. While the writer waits for
    a member on the pool, it carries out the small steps queued behind it (most are copies,
    whose outcome holds no bytes).
    """

    def size(step: Step) -> int:
        return run.members[step.name].info.file_size

    def weight(step: Step) -> int:
        """What the step's finished outcome may hold in memory while it waits for its turn."""
        return min(run.members[step.name].info.compress_size, IN_MEMORY) if step.action == "strip" else 0

    largest = sorted((s for s in steps if size(s) >= EARLY_FROM), key=size, reverse=True)[:WORKERS]
    early = {step.name: pool.submit(run.prepare, step) for step in largest}
    held = sum(weight(step) for step in largest)
    pending: deque[tuple[Future[Outcome], int] | _Slot] = deque()
    todo: deque[_Slot] = deque()  # the slots of ``pending`` not carried out yet, in order
    position = 0

    def top_up() -> None:
        nonlocal position, held
        while position < len(steps) and len(pending) < 4096:
            step = steps[position]
            if step.name in early:
                pending.append((early.pop(step.name), weight(step)))
            elif size(step) >= INLINE_BELOW:
                if held and held + weight(step) > AHEAD:
                    break  # enough is waiting already
                held += weight(step)
                pending.append((pool.submit(run.prepare, step), weight(step)))
            else:
                slot = _Slot(step)
                pending.append(slot)
                todo.append(slot)
            position += 1

    try:
        while True:
            top_up()
            if not pending:
                break
            item = pending.popleft()
            if isinstance(item, _Slot):
                if todo and todo[0] is item:
                    todo.popleft()
                    item.run_inline(run)
                outcome = item.result()
            else:
                future, held_back = item
                while not future.done() and todo:
                    todo.popleft().run_inline(run)
                    top_up()
                outcome = future.result()
                held -= held_back
            try:
                yield outcome
            finally:
                outcome.close()
    finally:
        # On an error, wait for what is already running and free what it spooled.
        for item in [*pending, *((future, 0) for future in early.values())]:
            if isinstance(item, _Slot):
                if item.outcome is not None:
                    item.outcome.close()
            elif not item[0].cancel() and item[0].exception() is None:
                item[0].result().close()


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
    _transform.require(config)
    wheel = Path(wheel)
    with WheelSource(wheel) as source, ThreadPoolExecutor(WORKERS) as pool, ThreadPoolExecutor(WORKERS) as deflating:
        run = _Run(source, config, pool, deflating, dry_run)
        target = (Path(output_dir) if output_dir is not None else wheel.parent) / run.name
        report = WheelReport(
            wheel=str(wheel),
            output=None if dry_run else str(target),
            dry_run=dry_run,
            wheel_size_before=source.size,
            installed_size_before=source.total_size,
        )
        report.warnings.extend(run.warnings)
        try:
            if dry_run:
                sink = CountingSink()
                destination = WheelDestination(sink, source)
                run.write(destination, report, progress)
                report.wheel_size_after = sink.size
            else:
                destination = _write_file(run, wheel, target, report, progress)
        finally:
            if run.debug is not None:
                run.debug.discard()  # after a failure; a finished run has committed already
        report.warnings.extend(split_debug_notes(run.debug, report.binaries))
        if run.companion is not None and run.debug is not None:
            if any(b.debug_file for b in report.binaries):
                report.debug_wheel = str(run.companion.path)
            elif any(b.reason != binaries.DEBUG_FILE_REASON for b in report.binaries):
                # Not said of a companion itself (debug files only): a rerun over dist/*.whl sees it.
                verb = "would be" if dry_run else "was"
                report.warnings.append(
                    f"split-debug: no debug files, so no debug wheel {verb} written (one there stays)"
                )
        report.changed = destination.changed
        report.installed_size_after = destination.installed_size
        if not report.changed:
            report.wheel_size_after = source.size
            report.installed_size_after = source.total_size
    report.seconds = time.perf_counter() - started
    return report


def _write_file(
    run: _Run, wheel: Path, target: Path, report: WheelReport, progress: Optional[Progress]
) -> WheelDestination:
    """Write through a temporary file beside ``target``, renamed over it once complete; an
    unchanged wheel is not rewritten in place (``-w DIR`` gets a copy)."""
    output = AtomicFile(target, os.stat(wheel).st_mode, like=wheel if target == wheel else None)
    try:
        destination = WheelDestination(output, run.source)
        run.write(destination, report, progress)
        # The debug files first: the wheel's debuglinks name them.
        if run.companion is not None and run.debug is not None:
            report.debug_wheel_size = write_companion(run.companion, run.debug)
        elif run.debug is not None:
            run.debug.commit()
        if not destination.changed and target == wheel:
            output.discard()
        else:
            if not destination.changed:
                output.file.seek(0)
                output.file.truncate()
                output.copy_from(wheel)
            output.commit()
            if destination.changed and target.name != wheel.name and target.parent.resolve() == wheel.parent.resolve():
                wheel.unlink()  # retagged in place: the old name must not linger beside the new
    except BaseException:
        output.discard()
        raise
    report.wheel_size_after = target.stat().st_size
    return destination
