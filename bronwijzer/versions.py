"""Law versions: which text of a law is in force on a date.

Documents that carry the same BWB id are versions of one law. Each version is in force
from its start (a regelrecht version's `valid_from`; for an older text without one, the
date of the text as held, "2015" counting as 2015-01-01) until the next version's start.
A law is known both from the index (versions that can be searched) and from the corpus
catalogue (versions it lists, searched or not): `LawVersions` holds both, and answers
the two questions retrieval and the dated-source notice ask: which indexed versions are
not in force on a date (so they are not searched), and which version is in force on a
date among all known ones (so a citation of another says so).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass

_DATE = re.compile(r"(\d{4})(?:-(\d{2})-(\d{2}))?")


@dataclass(frozen=True)
class Version:
    document: str  # the document's file name (Passage.document)
    bwb_id: str
    start: datetime.date  # first day in force
    label: str  # how the start is written: "2026-10-01", or "2015" when only a year is known
    exact: bool  # the start is the law's own valid_from, not the date of a copy
    indexed: bool  # searchable in the index; False: only listed in the catalogue
    title: str = ""


def version_start(valid_from: str | None, version_date: str | None
                  ) -> tuple[datetime.date, str, bool] | None:
    """(start, label, exact) from a valid_from or else a version date; None without one."""
    for text, exact in ((valid_from, True), (version_date, False)):
        match = _DATE.fullmatch(str(text or "").strip())
        if match:
            year, month, day = match.groups()
            try:
                start = datetime.date(int(year), int(month or 1), int(day or 1))
            except ValueError:
                continue
            return start, match.group(0), exact and bool(month)
    return None


class LawVersions:
    """The versions of every law the index or the catalogue knows, oldest first."""

    def __init__(self, versions: Iterable[Version]) -> None:
        chains: dict[str, dict[str, Version]] = {}
        for version in versions:  # one per document name; an indexed one wins
            chain = chains.setdefault(version.bwb_id, {})
            known = chain.get(version.document)
            if known is None or (version.indexed and not known.indexed):
                chain[version.document] = version
        self.chains = {bwb: sorted(chain.values(), key=lambda v: (v.start, v.document))
                       for bwb, chain in chains.items()}
        self.by_document = {v.document: v for chain in self.chains.values() for v in chain
                            if v.indexed}

    def __bool__(self) -> bool:
        return bool(self.chains)

    def versions(self, bwb_id: str) -> list[Version]:
        return list(self.chains.get(bwb_id, ()))

    def in_force(self, bwb_id: str, on: datetime.date, *, indexed_only: bool = False
                 ) -> Version | None:
        """The version in force on `on`: the latest to start on or before it (of two that
        start the same day, the indexed one, else the first by name)."""
        found = None
        for version in self.chains.get(bwb_id, ()):
            if version.start > on:
                break
            if indexed_only and not version.indexed:
                continue
            if found is None or version.start > found.start or (
                    version.indexed and not found.indexed):
                found = version
        return found

    def until(self, version: Version) -> datetime.date | None:
        """The first day the version is no longer in force (the next one's start)."""
        later = [v.start for v in self.chains.get(version.bwb_id, ()) if v.start > version.start]
        return min(later) if later else None

    def not_in_force(self, on: datetime.date) -> set[str]:
        """Indexed documents that are versions of a law but not the one in force on `on`
        among the indexed versions (also all versions that start after `on`)."""
        excluded: set[str] = set()
        for bwb, chain in self.chains.items():
            current = self.in_force(bwb, on, indexed_only=True)
            excluded |= {v.document for v in chain if v.indexed and v is not current}
        return excluded

    def documents_of(self, bwb_ids: Iterable[str]) -> set[str]:
        """The indexed versions of these laws."""
        return {v.document for bwb in bwb_ids for v in self.chains.get(bwb, ()) if v.indexed}
