"""The law versions an index knows: what retrieval and the dated notice consult.

`law_versions` joins what the index holds (documents with a BWB id and a start date)
with what the corpus catalogue lists, into one `LawVersions`.
"""

from __future__ import annotations

from bronwijzer.versions import LawVersions, Version, version_start
from store.catalog import DocumentRecord
from store.sources import SourceCatalogue


def law_versions(records: list[DocumentRecord], catalogue: SourceCatalogue) -> LawVersions:
    """The indexed versions (their BWB id and dates from the index, filled in from the
    catalogue for an index built before versions existed) and the catalogued ones."""
    versions = catalogue.versions()
    for record in records:
        source = catalogue.source(record.name)
        bwb = record.bwb_id or (source.law if source else None)
        start = version_start(record.valid_from or (source.valid_from if source else None),
                              record.version_date or (source.version_date if source else None))
        if bwb and start:
            versions.append(Version(record.name, bwb, *start, indexed=True, title=record.title))
    return LawVersions(versions)
