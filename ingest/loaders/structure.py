"""Shared structure code for the format loaders: from events to Blocks.

Each format parser (Markdown, HTML, DOCX, ODT, RTF) emits a flat stream of headings and
paragraphs into an `EventStream`; `blocks_from_events` turns that stream into Blocks
whose heading path is kept by `SectionTracker`. This module also holds the pieces more
than one format needs: the `Parsed` result type, paragraph splitting, text decoding,
Markdown inline stripping, metadata-title cleaning and the one-line error cause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bronwijzer.domain import Block, IngestError
from ingest.clean import clean_text

# --------------------------------------------------------------------------- result


@dataclass
class Parsed:
    """What a format loader returns before the common Document fields are added."""

    blocks: list[Block]
    title: str | None = None
    publisher: str | None = None
    year: int | None = None
    document_type: str | None = None
    pages: int | None = None
    # a law version (ingest/loaders/regelrecht.py): its own document name and metadata
    name: str | None = None
    bwb_id: str | None = None
    valid_from: str | None = None
    publication_date: str | None = None
    regulatory_layer: str | None = None
    url: str | None = None


# --------------------------------------------------------------------------- sections


# Legal divisions, outermost first. Deel/Boek/Hoofdstuk/Titel nest differently per law
# (the Gemeentewet has Titels containing Hoofdstukken), see SectionTracker._rank.
_DIVISION_RANKS = {
    "bijlage": 0.0,
    "deel": 1.0,
    "boek": 2.0,
    "hoofdstuk": 3.0,
    "titel": 4.0,
    "afdeling": 6.0,
    "paragraaf": 7.0,
    "§": 7.0,
    "artikel": 8.0,
}
_MAJOR_DIVISIONS = ("deel", "boek", "hoofdstuk", "titel")
_DIVISION_HEADING = re.compile(
    r"^(?:(deel|boek|hoofdstuk|titel|afdeling|paragraaf|artikel|bijlage)\s+[0-9IVXLCDM]"
    r"|(§)\s*\d|(bijlage)$)",
    re.IGNORECASE,
)
# "1", "2.3", "4.1.2." or "A": a bare number, usually followed by a caption heading.
_NUMBERED_HEADING = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3})*\.?|[A-Z])$")


@dataclass
class _OpenHeading:
    text: str
    level: int
    rank: float
    division: str | None  # keyword for legal divisions, "#" for bare numbers
    hidden: bool = False  # the document-title heading: in the title, not in every path


class SectionTracker:
    """Keeps the heading path while headings and body text stream past.

    Headings nest by level; legal divisions at the same level nest by keyword rank
    (Hoofdstuk > § > Artikel). A heading straight after a division heading, with no
    body text between, is that division's caption: "Hoofdstuk 1" + "Begripsbepalingen"
    becomes "Hoofdstuk 1 Begripsbepalingen".
    """

    def __init__(self) -> None:
        self._stack: list[_OpenHeading] = []
        self._awaiting_caption: _OpenHeading | None = None
        self._learned_ranks: dict[str, float] = {}

    @property
    def section(self) -> tuple[str, ...]:
        return tuple(h.text for h in self._stack if not h.hidden)

    def body(self) -> None:
        self._awaiting_caption = None

    def heading(self, level: int, text: str, *, hidden: bool = False) -> None:
        text = normalise_heading(text)
        if not text:
            return
        division = _division_keyword(text)
        if self._is_caption(level, division):
            self._add_caption(text)
            return
        rank = level + self._rank(division, text) / 10
        while self._stack and self._stack[-1].rank >= rank:
            self._stack.pop()
        opened = _OpenHeading(text, level, rank, division, hidden)
        self._stack.append(opened)
        self._awaiting_caption = opened if division else None

    def _is_caption(self, level: int, division: str | None) -> bool:
        waiting = self._awaiting_caption
        if waiting is None:
            return False
        return level > waiting.level or (level == waiting.level and division is None)

    def _add_caption(self, caption: str) -> None:
        assert self._awaiting_caption is not None
        opened = self._awaiting_caption
        separator = "" if caption[0] in ",.;:)" else " "
        opened.text = f"{opened.text}{separator}{caption}"
        self._awaiting_caption = None

    def _rank(self, division: str | None, text: str) -> float:
        """Rank within one markdown level, 0 (outermost) .. 9; 9.5 for plain headings."""
        if division is None:
            return 9.5
        if division == "#":  # "1" < "1.1" < "1.1.1", between Titel and Afdeling
            return 5.0 + min(text.rstrip(".").count(".") + 1, 9) / 10
        if division in self._learned_ranks:
            return self._learned_ranks[division]
        rank = _DIVISION_RANKS[division]
        if division in _MAJOR_DIVISIONS:
            # First Hoofdstuk seen inside an open Titel: in this law Titels contain
            # Hoofdstukken, so rank it just inside the open major division.
            open_major = [
                self._learned_ranks.get(h.division, _DIVISION_RANKS[h.division])
                for h in self._stack
                if h.division in _MAJOR_DIVISIONS
            ]
            if open_major and max(open_major) >= rank:
                rank = max(open_major) + 0.2
            self._learned_ranks[division] = rank
        return rank


def _division_keyword(text: str) -> str | None:
    if _NUMBERED_HEADING.match(text):
        return "#"
    match = _DIVISION_HEADING.match(text)
    if not match:
        return None
    return next(group for group in match.groups() if group).lower()


def normalise_heading(text: str) -> str:
    """One-line heading text without Markdown markers: "Artikel  1.1.1" -> "Artikel 1.1.1"."""
    text = strip_markdown_inline(clean_text(text))
    text = re.sub(r"\s+#+\s*$", "", text)  # closing hashes: "## Kop ##"
    return " ".join(text.split())


# --------------------------------------------------------------------------- events


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class _Paragraph:
    text: str


_Event = Heading | _Paragraph


@dataclass
class EventStream:
    """Collects headings and paragraphs from a format parser."""

    events: list[_Event] = field(default_factory=list)

    def heading(self, level: int, text: str) -> None:
        self.events.append(Heading(max(1, min(level, 9)), text))

    def paragraph(self, text: str) -> None:
        self.events.append(_Paragraph(text))

    def first_heading(self) -> str | None:
        for event in self.events:
            if isinstance(event, Heading) and normalise_heading(event.text):
                return normalise_heading(event.text)
        return None


def blocks_from_events(events: list[_Event], title: str | None) -> list[Block]:
    """Turn events into Blocks with heading paths.

    The first heading is left out of the paths when it is the document title and no
    other heading is as high: it would repeat the title in every section.
    """
    hidden_index = _title_heading_index(events, title)
    tracker = SectionTracker()
    blocks: list[Block] = []
    for index, event in enumerate(events):
        if isinstance(event, Heading):
            tracker.heading(event.level, event.text, hidden=index == hidden_index)
            continue
        for text in split_paragraphs(clean_text(event.text)):
            blocks.append(Block(text=text, section=tracker.section))
            tracker.body()
    return blocks


def _title_heading_index(events: list[_Event], title: str | None) -> int | None:
    headings = [(i, e) for i, e in enumerate(events) if isinstance(e, Heading)]
    if not headings or title is None:
        return None
    index, first = headings[0]
    if normalise_heading(first.text).casefold() != title.casefold():
        return None
    if any(other.level <= first.level for _, other in headings[1:]):
        return None
    return index


LIST_ITEM = re.compile(r"^(?:[-*+•▪●◦]|\d{1,3}[.)]|[a-z][.)])\s+\S")


def split_paragraphs(text: str) -> list[str]:
    """Split cleaned text on blank lines and list items; join wrapped lines with spaces."""
    paragraphs: list[str] = []
    for chunk in text.split("\n\n"):
        current: list[str] = []
        for line in chunk.split("\n"):
            if current and LIST_ITEM.match(line):
                paragraphs.append(" ".join(current))
                current = []
            if line:
                current.append(line)
        if current:
            paragraphs.append(" ".join(current))
    return [p for p in paragraphs if p]


# --------------------------------------------------------------------------- text decoding


def decode_text(raw: bytes, where: str) -> str:
    """UTF-8 (BOM allowed), UTF-16 with BOM, else Windows-1252 when that is plausible."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise IngestError(where, "cannot decode text (invalid UTF-16)") from None
    if b"\x00" in raw or _mostly_non_printable(raw):
        raise IngestError(where, "binary file, not text (is the extension right?)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1252")  # strict: the five undefined bytes raise
    except UnicodeDecodeError:
        text = None
    if text is None or re.search("[\x80-\x9f]", text):
        raise IngestError(where, "cannot decode text (not UTF-8 or Windows-1252)")
    return text


def _mostly_non_printable(raw: bytes) -> bool:
    sample = raw[:8192]
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return control > len(sample) * 0.1


# --------------------------------------------------------------------------- Markdown inline


_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_REFERENCE_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_MD_CODE = re.compile(r"`+([^`]*)`+")
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_MD_BULLET = re.compile(r"^[ \t]*[-*+][ \t]+", re.MULTILINE)
_MD_QUOTE = re.compile(r"^[ \t]*>[ \t]?", re.MULTILINE)


def strip_markdown_inline(text: str) -> str:
    """Plain text from Markdown inline syntax: links keep their text, images go."""
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_REFERENCE_LINK.sub(r"\1", text)
    text = _MD_CODE.sub(r"\1", text)
    text = _MD_STRONG.sub(r"\2", text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    text = _MD_BULLET.sub("", text)
    text = _MD_QUOTE.sub("", text)
    return text


# --------------------------------------------------------------------------- titles


_JUNK_TITLE = re.compile(
    r"^(?:untitled|naamloos|document\d*|microsoft (?:word|powerpoint|excel)\b.*|"
    # template defaults PowerPoint leaves in the properties of many decks
    r"(?:powerpoint[- ]?)?presenta(?:tion|tie)\s*\d*|"
    r".*\.(?:docx?|pdf|odt|rtf|pptx?|xlsx?|indd)|[-_.\s\d]*)$",
    re.IGNORECASE,
)


def clean_title(title: object) -> str | None:
    """A metadata title, or None when it is empty or junk like "Microsoft Word - x.docx"."""
    if title is None:
        return None
    text = " ".join(str(title).split())
    if not text or _JUNK_TITLE.match(text):
        return None
    return text
