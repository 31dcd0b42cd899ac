"""The output wheel: members written in the order given, ``.dist-info`` last and RECORD last
of all, each write returning its RECORD row; and the temporary file renamed into place."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from typing import Optional

from .. import _record
from .._record import Row
from . import deflate
from .encode import Encoded
from .source import Member, WheelSource
from .zip import Payload, Sink, ZipWriter, new_info


class WheelDestination:
    """Writes the output archive and owns its RECORD.

    Unchanged members are copied as their raw compressed bytes with their own ``ZipInfo``;
    members of ``.dist-info`` are held back (they are small) and written after everything
    else, whatever order they arrive in; ``close`` writes RECORD from the input's rows with
    every change applied: replaced rows in place, dropped rows gone, added rows at the end.
    """

    def __init__(self, sink: Sink, source: WheelSource) -> None:
        self._writer = ZipWriter(sink)
        self._source = source
        self._prefix = source.dist_info + "/"
        self._held: list[Callable[[], None]] = []
        self._rows: dict[str, Optional[Row]] = {}
        self._added: list[Row] = []
        #: True once anything differs from the input
        self.changed = False
        #: the sum of the written members' uncompressed sizes
        self.installed_size = 0

    def copy(self, member: Member) -> Optional[Row]:
        """The member as it is in the input; its row stays as it was."""
        info = member.info
        self.installed_size += info.file_size
        self._write(
            info,
            lambda: Payload(info.compress_type, info.CRC, info.compress_size, info.file_size, self._source.raw(member)),
        )
        return member.row

    def replace(self, member: Member, encoded: Encoded) -> Row:
        """New contents for an input member, under its own name, time and permissions."""
        row = Row(member.name, "sha256", encoded.digest, encoded.file_size)
        self._rows[member.name] = row
        self.changed = True
        self.installed_size += encoded.file_size
        if member.name.startswith(self._prefix):  # held back: keep the (small) bytes, not the spool
            data = b"".join(encoded.chunks())

            def payload() -> Payload:
                return Payload(zipfile.ZIP_DEFLATED, encoded.crc, encoded.compress_size, encoded.file_size, [data])

        else:

            def payload() -> Payload:
                return Payload(
                    zipfile.ZIP_DEFLATED, encoded.crc, encoded.compress_size, encoded.file_size, encoded.chunks()
                )

        self._write(member.info, payload)
        return row

    def add(self, name: str, data: bytes, date_time: tuple[int, int, int, int, int, int]) -> Row:
        """A new member (``SOURCE_DATE_EPOCH`` dates it when set, else ``date_time``)."""
        compressed = deflate.deflate(data)
        row = Row(name, "sha256", _record.digest(data), len(data))
        self._added.append(row)
        self.changed = True
        self.installed_size += len(data)
        crc = zlib.crc32(data)
        self._write(
            new_info(name, date_time),
            lambda: Payload(zipfile.ZIP_DEFLATED, crc, len(compressed), len(data), [compressed]),
        )
        return row

    def drop(self, member: Member) -> None:
        """Leave the member out (and its row, if it has one)."""
        if not member.is_dir:
            self._rows[member.name] = None
        self.changed = True

    def _write(self, info: zipfile.ZipInfo, payload: Callable[[], Payload]) -> None:
        if info.filename.startswith(self._prefix):
            self._held.append(lambda: self._writer.add(info, payload()))
        else:
            self._writer.add(info, payload())

    def close(self) -> None:
        """Write the held ``.dist-info`` members, RECORD, and the central directory."""
        for write in self._held:
            write()
        source = self._source
        record = _new_record(source, self._rows, self._added)
        info = next(m.info for m in source.members if m.name == source.record_name)
        stored = deflate.deflate(record) if info.compress_type == zipfile.ZIP_DEFLATED else record
        self._writer.add(info, Payload(info.compress_type, zlib.crc32(record), len(stored), len(record), [stored]))
        self._writer.close(source.comment)
        self.installed_size += len(record)


def _new_record(source: WheelSource, changes: dict[str, Optional[Row]], added: list[Row]) -> bytes:
    """The input's rows in their order, changed rows replaced, removed rows gone, new rows
    after them, RECORD's own row kept where it was (or added last)."""
    rows: list[Row] = []
    own = False
    for row in source.rows:
        if row.path in changes:
            new = changes[row.path]
            if new is not None:
                rows.append(new)
        else:
            rows.append(row)
            own = own or row.path == source.record_name
    rows.extend(added)
    if not own:
        rows.append(Row(source.record_name, None, None, None))
    return _record.render(rows)
