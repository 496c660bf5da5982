"""Domain types shared by ingest, assistant, evals and the web app.

Pages are 1-based everywhere in this module: loaders convert from pypdf's
0-based indices at the edge, so nothing downstream has to remember.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from bronwijzer.text import heading_prefix, markdown_escape

# a section heading that names a law article: "Artikel 172", "Artikel 13b"
ARTICLE = re.compile(r"^(?i:artikel)\s+([0-9]+[a-z]*(?:[.:][0-9]+[a-z]*)*|[IVXLC]+[a-z]*\b)")
# a section below an article that names one of its members: "lid 2", "lid 3a"
MEMBER = re.compile(r"^lid\s+(\d+[a-z]*)$")


class BronwijzerError(Exception):
    """An error meant for the user: one clear line, naming the file or field."""


class IngestError(BronwijzerError):
    """A file could not be turned into passages (corrupt, encrypted, empty, ...)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ServiceUnavailableError(BronwijzerError):
    """A service every remaining file needs (the vector store, an embeddings endpoint) cannot
    be reached: an ingest stops there instead of failing each file in turn."""


class IndexMismatchError(BronwijzerError):
    """The index was built with another embedding model or format."""


@dataclass(frozen=True)
class Block:
    """A run of text from a loaded document with where it came from.

    Headings are not blocks: they set `section` for the blocks under them.
    """

    text: str
    page: int | None = None  # 1-based; None for non-paged formats
    page_label: str | None = None  # printed page label when the PDF has one
    section: tuple[str, ...] = ()  # heading path, outermost first
    url: str | None = None  # where exactly this text is published (a law article's version)


@dataclass
class Document:
    """A loaded and cleaned source document."""

    path: str  # absolute path of the source file
    name: str  # file name: shown to users, the `document` of its passages and of eval data
    sha256: str  # content hash of the raw file: drives incremental ingest
    title: str
    blocks: list[Block]
    publisher: str | None = None
    year: int | None = None
    document_type: str | None = None
    pages: int | None = None  # page count for paged formats
    version_date: str | None = None  # "2015-11-24" or "2015": the date of the text as held
    status: str | None = None  # current | superseded | unknown (corpus/sources.toml)
    current_url: str | None = None  # where the text in force is (wetten.overheid.nl)
    # a law version (regelrecht YAML, or a catalogued text with a BWB id): see versions.py
    bwb_id: str | None = None  # "BWBR0005416": the law, whichever version
    valid_from: str | None = None  # "2026-10-01": in force from (exact, from the law's data)
    publication_date: str | None = None
    regulatory_layer: str | None = None  # regelrecht's layer: WET, AMVB, ...

    @property
    def id(self) -> str:
        return document_id(self.path)


def document_id(path: str) -> str:
    import hashlib

    return hashlib.sha1(path.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Passage:
    """A chunk of a document: the unit that is embedded, retrieved and cited."""

    id: str
    document_id: str
    document: str  # source file name
    title: str
    text: str
    ordinal: int  # position within the document
    page_start: int | None = None
    page_end: int | None = None
    page_label: str | None = None
    section: str = ""  # heading path joined with " › "
    char_start: int = 0  # offsets in the document's cleaned text
    char_end: int = 0
    publisher: str | None = None
    year: int | None = None
    document_type: str | None = None
    version_date: str | None = None  # as on its Document
    status: str | None = None
    current_url: str | None = None
    bwb_id: str | None = None  # as on its Document
    valid_from: str | None = None
    publication_date: str | None = None
    regulatory_layer: str | None = None
    url: str | None = None  # its block's url: a law article in this version

    @property
    def page(self) -> int | None:
        return self.page_start

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in data.items() if k in names})

    def locator(self) -> str:
        """Where a reader finds the passage: 'p. 3' or 'p. 3–4' in a paged document;
        in a law without pages its article ('art. 172', 'art. 151d lid 2' when the passage
        is one member of a long article); else its innermost section."""
        if self.page_start is not None:
            if self.page_end and self.page_end != self.page_start:
                return f"p. {self.page_start}–{self.page_end}"
            return f"p. {self.page_start}"
        parts = [part.strip() for part in self.section.split("›") if part.strip()]
        for n in range(len(parts) - 1, -1, -1):
            article = ARTICLE.match(parts[n])
            if article:
                member = MEMBER.match(parts[n + 1]) if n + 1 < len(parts) else None
                return f"art. {article.group(1)}" + (f" lid {member.group(1)}" if member else "")
        return parts[-1] if parts else ""


def embedding_text(passage: Passage) -> str:
    """What the dense and lexical indexes see of a passage: title and section give context."""
    return heading_prefix(passage.title, passage.section) + passage.text


@dataclass(frozen=True)
class ScoredPassage:
    passage: Passage
    score: float
    # per-retriever scores/ranks that led to `score`, for reports and debugging
    signals: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        p = self.passage
        return {
            "passage_id": p.id,
            "document": p.document,
            "title": p.title,
            "page": p.page,
            "page_end": p.page_end,
            "section": p.section,
            "text": p.text,
            "score": round(self.score, 6),
            "publisher": p.publisher,
            "year": p.year,
            "document_type": p.document_type,
            "bwb_id": p.bwb_id,
            "valid_from": p.valid_from,
            "url": p.url,
        }


@dataclass(frozen=True)
class Citation:
    n: int
    passage_id: str
    document: str
    title: str
    page: int | None
    quote: str  # verbatim and contiguous: passage.text[start:end] == quote
    section: str = ""
    locator: str = ""  # 'p. 3', 'art. 172': Passage.locator()
    start: int = 0  # character offsets of the quote in the passage text
    end: int = 0
    publisher: str | None = None
    year: int | None = None
    version_date: str | None = None
    stale: bool = False  # not the version in force, or too old: see Answer.notices
    valid_from: str | None = None  # a law version's first day in force
    url: str | None = None  # the cited text in this version (wetten.overheid.nl)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"source": source_name(self).text()}


# --- how a source is named: chat, CLI, handouts, course packs and JSON alike ----------
def published(publisher: str | None, year: int | None, version_date: str | None,
              valid_from: str | None = None) -> list[str]:
    """Who published a text and when: ['Rijksoverheid', 'versie geldend vanaf 2026-10-01']
    for a law version, 'versie 2015-11-24' for a text dated by its copy, else the year."""
    when = (f"versie geldend vanaf {valid_from}" if valid_from
            else f"versie {version_date}" if version_date else str(year) if year else None)
    return [item for item in (publisher, when) if item]


@dataclass(frozen=True)
class SourceName:
    """'Gemeentewet' · 'Rijksoverheid, versie geldend vanaf 2026-10-01' · 'art. 151d'."""

    title: str
    about: str  # publisher and version date (or year)
    where: str  # page, article (with lid) or innermost section

    def text(self) -> str:
        return (self.title + (f" ({self.about})" if self.about else "")
                + (f", {self.where}" if self.where else ""))

    def markdown(self) -> str:
        return (markdown_escape(self.title)
                + (f" ({markdown_escape(self.about)})" if self.about else "")
                + (f", {markdown_escape(self.where)}" if self.where else ""))


def source_name(source: Passage | Citation) -> SourceName:
    """The one way a passage or a citation of it is named."""
    where = source.locator() if isinstance(source, Passage) else (
        source.locator or (f"p. {source.page}" if source.page else source.section))
    about = ", ".join(published(source.publisher, source.year, source.version_date,
                                source.valid_from))
    return SourceName(source.title, about, where)


REFUSAL_TEXT = "Dit kan ik niet beantwoorden op basis van de beschikbare bronnen."
CAUTION_TEXT = ("Let op: de gevonden bronnen sluiten mogelijk niet precies aan op uw vraag. "
                "Controleer of de citaten echt antwoord geven.")


def also_searched_line(words: list[str] | tuple[str, ...]) -> str:
    """What the vocabulary added to the search, said to the user (chat, CLI, handout)."""
    return "Ook gezocht op de termen van de wet: " + ", ".join(words)


@dataclass
class Answer:
    question: str
    text: str  # with [n] markers
    citations: list[Citation]
    passages: list[ScoredPassage]
    refused: bool
    rewritten_question: str | None = None
    answerer: str = "extractive"
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per step
    # weak evidence, but not weak enough to refuse (never set on a refusal): the answer
    # is shown with CAUTION_TEXT
    caution: bool = False
    notices: list[str] = field(default_factory=list)  # e.g. a cited law text is outdated
    valid_on: str | None = None  # "2026-12-03": the date whose law versions were searched
    also_searched: list[str] = field(default_factory=list)  # the vocabulary's law words

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "caution": self.caution,
            "notices": list(self.notices),
            "geldig_op": self.valid_on,
            "rewritten_question": self.rewritten_question,
            "also_searched": list(self.also_searched),
            "answerer": self.answerer,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "timings_ms": {k: round(v, 2) for k, v in self.timings.items()},
        }


@dataclass(frozen=True)
class Clause:
    """One condition of a filter: `field` of a passage, `op` one of in, >=, <=."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Filters:
    """Metadata filters, applied inside both retrievers (not after them).

    `laws` and `valid_on` speak of law versions: the retriever resolves them against the
    index (assistant/retrieve.py) into `documents` and `exclude_documents`, which
    `clauses` states. `valid_on` None means today.
    """

    documents: tuple[str, ...] = ()  # source file names
    publishers: tuple[str, ...] = ()
    document_types: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    laws: tuple[str, ...] = ()  # BWB ids: every version of these laws (the one in force)
    valid_on: datetime.date | None = None  # the law as it stands on this date
    exclude_documents: tuple[str, ...] = ()  # law versions not in force on valid_on

    def is_empty(self) -> bool:
        return not (self.documents or self.publishers or self.document_types or self.laws
                    or self.year_min is not None or self.year_max is not None
                    or self.valid_on is not None)

    def clauses(self) -> list[Clause]:
        """The filter as (passage field, operator, value) conditions, all of which must hold.

        The one statement of what a filter means; each store translates these clauses
        into its own query form. A passage without a year fails any year bound.
        """
        clauses: list[Clause] = []
        for name, values in (("document", self.documents), ("publisher", self.publishers),
                             ("document_type", self.document_types)):
            if values:
                clauses.append(Clause(name, "in", values))
        if self.exclude_documents:
            clauses.append(Clause("document", "not in", self.exclude_documents))
        if self.year_min is not None:
            clauses.append(Clause("year", ">=", self.year_min))
        if self.year_max is not None:
            clauses.append(Clause("year", "<=", self.year_max))
        return clauses

    def expressions(self) -> list[str]:
        """The filter as CLI-style items again (what `parse` reads)."""
        items = [f"document={d}" for d in self.documents]
        items += [f"publisher={p}" for p in self.publishers]
        items += [f"type={t}" for t in self.document_types]
        items += [f"law={law}" for law in self.laws]
        if self.year_min is not None or self.year_max is not None:
            low, high = self.year_min, self.year_max
            items.append(f"year={low}" if low == high else f"year={low or ''}..{high or ''}")
        if self.valid_on is not None:
            items.append(f"geldig_op={self.valid_on.isoformat()}")
        return items

    @classmethod
    def parse(cls, expressions: list[str] | tuple[str, ...]) -> Filters:
        """From CLI-style `field=value` items: document=…, publisher=…, type=…,
        year=2020..2023, law=BWBR0005416, geldig_op=2016-01-01."""
        values: dict[str, list[str]] = {"document": [], "publisher": [], "type": [], "law": []}
        year_min: int | None = None
        year_max: int | None = None
        valid_on: datetime.date | None = None
        for expression in expressions:
            name, sep, value = expression.partition("=")
            name = name.strip().lower().replace("document_type", "type")
            name = {"wet": "law", "valid_on": "geldig_op"}.get(name, name)
            value = value.strip()
            if not sep or not value:
                raise BronwijzerError(f"filter {expression!r}: expected field=value")
            if name == "year":
                low, dots, high = value.partition("..")
                try:
                    year_min = int(low) if low else None
                    year_max = (int(high) if high else None) if dots else year_min
                except ValueError:
                    raise BronwijzerError(
                        f"filter {expression!r}: year must be YYYY or YYYY..YYYY"
                    ) from None
            elif name == "geldig_op":
                valid_on = parse_day(value, f"filter {expression!r}: geldig_op")
            elif name == "law" and not BWB_ID.fullmatch(value):
                raise BronwijzerError(f"filter {expression!r}: law must be a BWB id such as "
                                      "BWBR0005416")
            elif name in values:
                values[name].append(value)
            else:
                raise BronwijzerError(
                    f"filter {expression!r}: unknown field {name!r} "
                    "(use document, publisher, type, year, law or geldig_op)"
                )
        return cls(tuple(values["document"]), tuple(values["publisher"]), tuple(values["type"]),
                   year_min, year_max, laws=tuple(values["law"]), valid_on=valid_on)


BWB_ID = re.compile(r"BWB[RV]\d{7}")


def parse_day(value: str, what: str) -> datetime.date:
    """A date written YYYY-MM-DD, or BronwijzerError naming `what`."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise ValueError(value)
        return datetime.date.fromisoformat(value.strip())
    except ValueError:
        raise BronwijzerError(f"{what} must be a date YYYY-MM-DD, not {value!r}") from None
