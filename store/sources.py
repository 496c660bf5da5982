"""The corpus catalogue (`corpus/sources.toml`): metadata per known source file, and download."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bronwijzer.domain import BWB_ID, BronwijzerError, Document
from bronwijzer.versions import Version, version_start

STATUSES = ("current", "superseded", "unknown")
VERSION_DATE = re.compile(r"\d{4}(-\d{2}-\d{2})?")
VALID_FROM = re.compile(r"\d{4}-\d{2}-\d{2}")
OFFLINE = "not downloaded: no network access"


@dataclass(frozen=True)
class Source:
    title: str
    file: str | None = None
    publisher: str | None = None
    year: int | None = None
    document_type: str | None = None
    download_url: str | None = None
    sha256: str | None = None
    licence: str | None = None
    version_date: str | None = None  # "YYYY-MM-DD" or "YYYY": the date of the text as held
    status: str | None = None  # current | superseded | unknown
    bwb_id: str | None = None  # the law this text is a version of
    valid_from: str | None = None  # "YYYY-MM-DD": the version's first day in force
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def law(self) -> str | None:
        """The BWB id: as catalogued, else as named in the file name or address."""
        found = BWB_ID.search(self.file or "") or BWB_ID.search(str(self.extra.get("url", "")))
        return self.bwb_id or (found.group(0) if found else None)

    @property
    def current_url(self) -> str | None:
        """Where the text in force is: wetten.overheid.nl for a BWB identifier."""
        return f"https://wetten.overheid.nl/{self.law}" if self.law else None


class SourceCatalogue:
    def __init__(self, sources: list[Source], stale_years: dict[str, int] | None = None) -> None:
        self.sources = sources
        self._by_file = {s.file: s for s in sources if s.file}
        # the age rule per document type (table [stale_years]); others: BRONWIJZER_STALE_YEARS
        self.stale_years = dict(stale_years or {})

    def source(self, file: str) -> Source | None:
        return self._by_file.get(file)

    def versions(self) -> list[Version]:
        """Every catalogued law version (a file with a BWB id and a date), as not indexed."""
        found = []
        for source in self.sources:
            start = version_start(source.valid_from, source.version_date)
            if source.file and source.law and start:
                found.append(Version(source.file, source.law, *start, indexed=False,
                                     title=source.title))
        return found

    @classmethod
    def load(cls, path: Path) -> SourceCatalogue:
        if not path.exists():
            return cls([])
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise BronwijzerError(f"{path}: invalid TOML ({exc})") from None
        sources = []
        known = set(Source.__dataclass_fields__) - {"extra"}
        for n, entry in enumerate(data.get("source", []), start=1):
            if "title" not in entry:
                raise BronwijzerError(f"{path}: source #{n} has no title")
            fields = {k: v for k, v in entry.items() if k in known}
            extra = {k: v for k, v in entry.items() if k not in known}
            where = f"{path}: source #{n} ({entry.get('file') or entry['title']})"
            _check_dating(where, fields)
            sources.append(Source(**fields, extra=extra))
        return cls(sources, _age_rule(path, data.get("stale_years", {})))

    def enrich(self, document: Document) -> Document:
        """Apply curated title/publisher/year/type for a file the catalogue names.

        The catalogue wins: it is matched explicitly by file name and reviewed by
        people, whereas a loader's title is a guess (first heading, PDF metadata).
        """
        source = self._by_file.get(document.name)
        if source is None:
            return document
        # a law version's own data (regelrecht) names its law and start; the catalogue
        # fills them in for texts that do not (the Markdown texts of about 2015)
        document.bwb_id = document.bwb_id or source.law
        document.valid_from = document.valid_from or source.valid_from
        document.title = source.title or document.title
        document.publisher = source.publisher or document.publisher
        document.year = source.year or document.year
        document.document_type = source.document_type or document.document_type
        document.version_date = source.version_date or document.version_date
        document.status = source.status or document.status
        document.current_url = source.current_url or document.current_url
        return document



def _check_dating(where: str, fields: dict[str, Any]) -> None:
    version = fields.get("version_date")
    if version is not None:
        version = fields["version_date"] = str(version)  # TOML may hold a date value
        if not VERSION_DATE.fullmatch(version):
            raise BronwijzerError(f"{where}: version_date must be YYYY-MM-DD or YYYY, "
                                  f"not {version!r}")
    valid_from = fields.get("valid_from")
    if valid_from is not None:
        valid_from = fields["valid_from"] = str(valid_from)
        if not VALID_FROM.fullmatch(valid_from):
            raise BronwijzerError(f"{where}: valid_from must be YYYY-MM-DD, not {valid_from!r}")
    if fields.get("bwb_id") is not None and not BWB_ID.fullmatch(str(fields["bwb_id"])):
        raise BronwijzerError(f"{where}: bwb_id must be a BWB id such as BWBR0005416, "
                              f"not {fields['bwb_id']!r}")
    if fields.get("status") not in (None, *STATUSES):
        raise BronwijzerError(f"{where}: status must be one of {', '.join(STATUSES)}, "
                              f"not {fields['status']!r}")


def _age_rule(path: Path, table: Any) -> dict[str, int]:
    """[stale_years]: document type = years (0: never outdated by age alone)."""
    if not isinstance(table, dict):
        raise BronwijzerError(f"{path}: stale_years must be a table of document type = years")
    for kind, years in table.items():
        if not isinstance(years, int) or isinstance(years, bool) or years < 0:
            raise BronwijzerError(f"{path}: stale_years.{kind} must be a whole number of years "
                                  f"(0 or more), not {years!r}")
    return dict(table)
