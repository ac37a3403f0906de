"""The printer tracker: merges scan results so rediscovery never duplicates and flapping never
removes a printer. Pure logic, no I/O.

Rules:

* Printers are keyed by ``printer_id``; a printer found again is the same printer. What a
  scan learns is merged in (fields it knows replace old ones, fields it lacks keep theirs),
  and it is reported as *updated* only when something other than its live status changed.
* A scan covers some discovery sources (a USB scan says nothing about network printers).
  Each printer counts, per source that found it, the scans of that source that missed it in a
  row. A source that missed it ``misses_before_gone`` (3) times forgets it; a printer no source
  remembers is *removed*.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from agent.discovery.network import has_fallback_name
from shared.printers import DiscoverySource, PrinterInfo

DEFAULT_MISSES_BEFORE_GONE = 3
# Live data that changes on every scan: not a reason to report a printer as updated.
_VOLATILE = {"status", "source"}


@dataclass(frozen=True)
class ScanDiff:
    """What one scan changed."""

    added: tuple[PrinterInfo, ...] = ()
    updated: tuple[PrinterInfo, ...] = ()
    removed: tuple[PrinterInfo, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed)


# When two sources describe one printer, the better informed one's fields win: a name typed
# by hand beats an mDNS instance name, which beats the generic name a sweep makes up.
SOURCE_RANK: dict[DiscoverySource, int] = {
    DiscoverySource.MANUAL: 3,
    DiscoverySource.USB: 2,
    DiscoverySource.MDNS: 2,
    DiscoverySource.SWEEP: 1,
    DiscoverySource.QUEUE: 2,
}


@dataclass
class _Tracked:
    """A printer, the best source that described it, and per source the misses in a row."""

    info: PrinterInfo
    rank: int
    misses: dict[DiscoverySource, int] = field(default_factory=dict)


def merge_info(old: PrinterInfo, new: PrinterInfo, *, new_wins: bool) -> PrinterInfo:
    """``old`` updated with what ``new`` knows: every field if ``new_wins``, else only gaps.

    The live status is always the newest; the first source that found the printer is kept.
    """
    known = {
        name: value
        for name in PrinterInfo.model_fields
        if name != "source" and (value := getattr(new, name)) is not None
    }
    if not new_wins:
        known = {k: v for k, v in known.items() if getattr(old, k) is None or k == "status"}
    # A real name (typed, announced, reported) always beats one made up from the address.
    if has_fallback_name(old) and not has_fallback_name(new):
        known["name"] = new.name
    elif has_fallback_name(new) and not has_fallback_name(old):
        known.pop("name", None)
    return old.model_copy(update=known)


def _same(a: PrinterInfo, b: PrinterInfo) -> bool:
    """Equal except for live status and source."""
    return a.model_dump(exclude=_VOLATILE) == b.model_dump(exclude=_VOLATILE)


class PrinterTracker:
    """The agent's printer list across scans."""

    def __init__(self, misses_before_gone: int = DEFAULT_MISSES_BEFORE_GONE) -> None:
        if misses_before_gone < 1:
            raise ValueError("misses_before_gone must be at least 1")
        self.misses_before_gone = misses_before_gone
        self._tracked: dict[str, _Tracked] = {}

    @property
    def printers(self) -> dict[str, PrinterInfo]:
        """Every printer currently known, by id."""
        return {pid: t.info for pid, t in self._tracked.items()}

    def get(self, printer_id: str) -> PrinterInfo | None:
        """One printer by id."""
        tracked = self._tracked.get(printer_id)
        return tracked.info if tracked else None

    def observe(
        self, found: Iterable[PrinterInfo], sources: Iterable[DiscoverySource] | None = None
    ) -> ScanDiff:
        """Record one scan by ``sources`` (default: the sources of what it found)."""
        found = list(found)
        covered = set(sources) if sources is not None else {p.source for p in found}
        seen = {(p.printer_id, p.source) for p in found}
        added, updated = self._record_found(found)
        removed = self._record_missed(seen, covered)
        return ScanDiff(tuple(added), tuple(updated), tuple(removed))

    def forget(self, printer_id: str) -> PrinterInfo | None:
        """Drop a printer now (e.g. a manual entry deleted); the printer, if it was known."""
        tracked = self._tracked.pop(printer_id, None)
        return tracked.info if tracked else None

    def _record_found(
        self, found: list[PrinterInfo]
    ) -> tuple[list[PrinterInfo], list[PrinterInfo]]:
        """Add new printers and merge what is learnt about known ones."""
        added: dict[str, PrinterInfo] = {}
        updated: dict[str, PrinterInfo] = {}
        for info in found:
            rank = SOURCE_RANK[info.source]
            tracked = self._tracked.get(info.printer_id)
            if tracked is None:
                self._tracked[info.printer_id] = _Tracked(info, rank, {info.source: 0})
                added[info.printer_id] = info
                continue
            merged = merge_info(tracked.info, info, new_wins=rank >= tracked.rank)
            if not _same(merged, tracked.info) and info.printer_id not in added:
                updated[info.printer_id] = merged
            tracked.info, tracked.rank = merged, max(rank, tracked.rank)
            tracked.misses[info.source] = 0
        return list(added.values()), list(updated.values())

    def _record_missed(
        self, seen: set[tuple[str, DiscoverySource]], covered: set[DiscoverySource]
    ) -> list[PrinterInfo]:
        """Count a miss for each covered source that did not see its printer; drop the lost."""
        removed = []
        for printer_id, tracked in list(self._tracked.items()):
            for source in covered & tracked.misses.keys():
                if (printer_id, source) in seen:
                    continue
                tracked.misses[source] += 1
                if tracked.misses[source] >= self.misses_before_gone:
                    del tracked.misses[source]
            if not tracked.misses:
                removed.append(self._tracked.pop(printer_id).info)
        return removed
