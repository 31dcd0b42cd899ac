"""The optional second opinion (``verify = true``): re-read original and result with LIEF and
compare their dynamic interface. LIEF only reads here; it never writes a byte of output."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from ._errors import StripwheelError

#: What ``verify`` needs, as the ``verify`` extra declares it; build requirements ask for it.
REQUIREMENT = "lief>=0.15"

if TYPE_CHECKING:
    from .binaries import Format


@dataclass(frozen=True)
class Verdict:
    """LIEF's opinion of one rewrite."""

    #: the first interface difference found; the original must then be kept
    difference: Optional[str] = None
    #: why there is no verdict (LIEF cannot read the input either); None when verified
    unverified: Optional[str] = None


def require() -> None:
    """Fail before any work when LIEF is not installed."""
    try:
        import lief  # noqa: F401
    except ImportError:
        raise StripwheelError(
            "verify = true needs LIEF, which is not installed: pip install 'stripwheel[verify]'"
        ) from None


def compare(fmt: Format, before: Iterable[bytes], after: Iterable[bytes]) -> Verdict:
    """Compare the dynamic interface of the original and the rewritten file."""
    import lief

    lief.logging.disable()
    with tempfile.TemporaryDirectory(prefix="stripwheel-verify-") as tmp:
        before_path = os.path.join(tmp, "before")
        after_path = os.path.join(tmp, "after")
        _write(before_path, before)
        _write(after_path, after)
        original = lief.parse(before_path)
        rewritten = lief.parse(after_path)
        if original is None:
            return Verdict(unverified="LIEF cannot read the original either")
        if rewritten is None:
            return Verdict(difference="LIEF cannot parse the stripped file")
        try:
            return Verdict(difference=_first_difference(_signature(fmt, original), _signature(fmt, rewritten)))
        except Exception as exc:  # noqa: BLE001 - LIEF API or parse trouble: be safe, keep the original
            return Verdict(difference=f"LIEF could not compare ({exc.__class__.__name__}: {exc})")


def _write(path: str, chunks: Iterable[bytes]) -> None:
    with open(path, "wb") as f:
        for chunk in chunks:
            f.write(chunk)


def _first_difference(before: dict[str, Any], after: dict[str, Any]) -> Optional[str]:
    for key, value in before.items():
        if after.get(key) != value:
            return f"different {key}"
    return None


def _signature(fmt: Format, binary: Any) -> dict[str, Any]:
    if fmt == "ELF":
        return _elf(binary)
    if fmt == "Mach-O":
        slices = list(binary) if hasattr(binary, "__iter__") and not hasattr(binary, "header") else [binary]
        out: dict[str, Any] = {"slices": len(slices)}
        for index, one in enumerate(slices):
            out.update({f"slice {index} {k}": v for k, v in _macho(one).items()})
        return out
    return _pe(binary)


def _elf(b: Any) -> dict[str, Any]:
    return {
        "dynamic symbols": [
            (s.name, s.value, s.size, str(s.type), str(s.binding), str(s.visibility), s.shndx != 0)
            for s in b.dynamic_symbols
        ],
        "needed libraries": list(b.libraries),
        "segments": [
            (str(s.type), s.virtual_address, s.virtual_size, s.physical_size, str(s.flags), s.alignment)
            for s in b.segments
        ],
        "dynamic entries": [(str(e.tag), e.value) for e in b.dynamic_entries],
        "entry point": b.entrypoint,
        "notes": [(str(n.type), bytes(n.description)) for n in b.notes],
    }


def _macho(b: Any) -> dict[str, Any]:
    segments = [
        (s.name, s.virtual_address, s.file_offset) + (() if s.name == "__LINKEDIT" else (s.virtual_size, s.file_size))
        for s in b.segments
    ]
    return {
        "architecture": str(b.header.cpu_type),
        "load commands": [str(c.command) for c in b.commands],
        "segments": segments,
        "exported symbols": sorted(s.name for s in b.exported_symbols),
        "imported symbols": sorted(s.name for s in b.imported_symbols),
        "libraries": [lib.name for lib in b.libraries],
        "code signature": b.has_code_signature,
    }


def _pe(b: Any) -> dict[str, Any]:
    exports = b.get_export()
    return {
        "machine": str(b.header.machine),
        "imports": [(i.name, [e.name for e in i.entries]) for i in b.imports],
        "exports": sorted((e.name, e.address) for e in exports.entries) if exports else [],
        "entry point": b.entrypoint,
        "kept sections": [
            (s.name, s.virtual_address, s.virtual_size)
            for s in b.sections
            if not s.name.startswith((".debug", ".zdebug", "/"))
        ],
        "data directories": [
            (str(d.type), d.rva, d.size) for d in b.data_directories if str(d.type) != "TYPE.DEBUG_DIR"
        ],
    }
