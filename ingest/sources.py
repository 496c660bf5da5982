"""The corpus catalogue (`corpus/sources.toml`): metadata per known source file, and download."""

from __future__ import annotations

import hashlib
import re
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bronwijzer.domain import BronwijzerError, Document

STATUSES = ("current", "superseded", "unknown")
VERSION_DATE = re.compile(r"\d{4}(-\d{2}-\d{2})?")
BWB_ID = re.compile(r"BWBR\d{7}")
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
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def current_url(self) -> str | None:
        """Where the text in force is: wetten.overheid.nl for a BWB identifier."""
        found = BWB_ID.search(self.file or "") or BWB_ID.search(str(self.extra.get("url", "")))
        return f"https://wetten.overheid.nl/{found.group(0)}" if found else None


class SourceCatalogue:
    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self._by_file = {s.file: s for s in sources if s.file}

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
        return cls(sources)

    def enrich(self, document: Document) -> Document:
        """Apply curated title/publisher/year/type for a file the catalogue names.

        The catalogue wins: it is matched explicitly by file name and reviewed by
        people, whereas a loader's title is a guess (first heading, PDF metadata).
        """
        source = self._by_file.get(document.name)
        if source is None:
            return document
        document.title = source.title or document.title
        document.publisher = source.publisher or document.publisher
        document.year = source.year or document.year
        document.document_type = source.document_type or document.document_type
        document.version_date = source.version_date or document.version_date
        document.status = source.status or document.status
        document.current_url = source.current_url or document.current_url
        return document

    def download(self, target: Path, *, timeout: float = 15.0) -> list[tuple[str, str]]:
        """Fetch every source with a download_url into `target`; returns (file, status).

        After the first failure to reach the network the rest is not tried (status
        OFFLINE): offline, one failed lookup is enough to know, and waiting for a timeout
        per file would stall `make demo`.
        """
        target.mkdir(parents=True, exist_ok=True)
        results = []
        offline = False
        for source in self.sources:
            if not source.file:
                continue
            path = target / source.file
            if path.exists() and (not source.sha256 or _sha256(path) == source.sha256):
                results.append((source.file, "present"))
                continue
            if not source.download_url:
                results.append((source.file, "no download address; add the file by hand"))
                continue
            if offline:
                results.append((source.file, OFFLINE))
                continue
            try:
                with urllib.request.urlopen(source.download_url, timeout=timeout) as response:
                    data = response.read()
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                results.append((source.file, f"{OFFLINE} ({reason})"))
                offline = True
                continue
            if source.sha256 and hashlib.sha256(data).hexdigest() != source.sha256:
                results.append((source.file, "not saved: checksum differs from the catalogue"))
                continue
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)
            results.append((source.file, "downloaded"))
        return results


def _check_dating(where: str, fields: dict[str, Any]) -> None:
    version = fields.get("version_date")
    if version is not None:
        version = fields["version_date"] = str(version)  # TOML may hold a date value
        if not VERSION_DATE.fullmatch(version):
            raise BronwijzerError(f"{where}: version_date must be YYYY-MM-DD or YYYY, "
                                  f"not {version!r}")
    if fields.get("status") not in (None, *STATUSES):
        raise BronwijzerError(f"{where}: status must be one of {', '.join(STATUSES)}, "
                              f"not {fields['status']!r}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
