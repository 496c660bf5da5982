"""Load source files (PDF, Markdown, text, HTML, DOCX, ODT) into cleaned Documents.

Every format is first turned into a flat list of events (headings and paragraphs);
one shared builder then turns events into Blocks with a heading path. PDFs are the
exception: they are handled page by page so every block knows its page.

Every bad input becomes an IngestError with a one-line reason; no raw exception
escapes `load_document`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from bronwijzer.domain import Block, Document, IngestError
from ingest.clean import clean_text, normalise_whitespace, remove_repeating_lines

__all__ = ["SUPPORTED_SUFFIXES", "discover", "load_document"]

# pypdf logs a warning for every oddity in a broken PDF; our IngestError says it once.
logging.getLogger("pypdf").setLevel(logging.ERROR)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".pdf", ".md", ".markdown", ".txt", ".html", ".htm", ".docx", ".odt"}
)
_MB = 1024 * 1024
_MAX_TITLE_CHARS = 150


# --------------------------------------------------------------------------- discovery


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[IngestError]]:
    """Expand files and folders into supported files (absolute, sorted, no duplicates).

    Folders are walked recursively, skipping hidden files and folders and files with
    unsupported extensions. A file named explicitly with an unsupported extension, or
    a path that does not exist, is reported as an IngestError instead.
    """
    found: list[Path] = []
    errors: list[IngestError] = []
    for raw_path in paths:
        path = Path(raw_path).expanduser().resolve()
        if path.is_dir():
            found.extend(_walk_folder(path, errors))
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(path)
            else:
                errors.append(IngestError(str(path), _unsupported_reason(path)))
        else:
            errors.append(IngestError(str(path), "file or folder not found"))
    return _unique(found), errors


def _walk_folder(folder: Path, errors: list[IngestError]) -> list[Path]:
    def on_error(exc: OSError) -> None:
        errors.append(IngestError(str(exc.filename or folder), f"cannot read folder ({exc})"))

    files: list[Path] = []
    for root, dirnames, filenames in os.walk(folder, onerror=on_error):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            file = Path(root) / name
            if not name.startswith(".") and file.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(file)
    return sorted(files)


def _unique(paths: list[Path]) -> list[Path]:
    seen: set[Path] = set()
    unique = []
    for path in paths:
        if path not in seen:
            seen.add(path)
            unique.append(path)
    return unique


def _unsupported_reason(path: Path) -> str:
    suffix = path.suffix or "(none)"
    return f"unsupported extension {suffix}, supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"


# --------------------------------------------------------------------------- entry point


@dataclass
class _Parsed:
    """What a format loader returns before the common Document fields are added."""

    blocks: list[Block]
    title: str | None = None
    publisher: str | None = None
    year: int | None = None
    document_type: str | None = None
    pages: int | None = None


def load_document(path: str | Path, *, max_bytes: int | None = None) -> Document:
    """Load and clean one file into a Document; raise IngestError for any bad input."""
    absolute = Path(path).expanduser().resolve()
    try:
        return _load(absolute, max_bytes)
    except IngestError:
        raise
    except Exception as exc:  # a loader bug or library surprise: still one clear line
        raise IngestError(str(absolute), f"unexpected error ({_short_cause(exc)})") from exc


def _load(path: Path, max_bytes: int | None) -> Document:
    where = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(where, _unsupported_reason(path))
    raw = _read_bytes(path, max_bytes)
    parsed = _LOADERS[suffix](raw, where)
    if not any(block.text.strip() for block in parsed.blocks):
        raise IngestError(where, "no text found")
    return Document(
        path=where,
        source=path.name,
        sha256=hashlib.sha256(raw).hexdigest(),
        title=parsed.title or _title_from_file_name(path),
        blocks=parsed.blocks,
        publisher=parsed.publisher,
        year=parsed.year,
        document_type=parsed.document_type,
        pages=parsed.pages,
    )


def _read_bytes(path: Path, max_bytes: int | None) -> bytes:
    where = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise IngestError(where, "file not found") from None
    except OSError as exc:
        raise IngestError(where, f"cannot read file ({exc.strerror or exc})") from None
    if path.is_dir():
        raise IngestError(where, "is a folder, not a file")
    if size == 0:
        raise IngestError(where, "empty file (0 bytes)")
    if max_bytes is not None and size > max_bytes:
        raise IngestError(
            where,
            f"file is {size / _MB:.1f} MB, larger than the limit of {_format_limit(max_bytes)} "
            "(BRONWIJZER_MAX_FILE_MB)",
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IngestError(where, f"cannot read file ({exc.strerror or exc})") from None


def _format_limit(max_bytes: int) -> str:
    if max_bytes % _MB == 0:
        return f"{max_bytes // _MB} MB"
    return f"{max_bytes / _MB:.1f} MB" if max_bytes >= _MB // 10 else f"{max_bytes} bytes"


def _short_cause(exc: BaseException, limit: int = 160) -> str:
    message = " ".join(str(exc).split())
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _title_from_file_name(path: Path) -> str:
    return " ".join(path.stem.replace("_", " ").split())


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
class _Heading:
    level: int
    text: str


@dataclass
class _Paragraph:
    text: str


_Event = _Heading | _Paragraph


@dataclass
class _EventStream:
    """Collects headings and paragraphs from a format parser."""

    events: list[_Event] = field(default_factory=list)

    def heading(self, level: int, text: str) -> None:
        self.events.append(_Heading(max(1, min(level, 9)), text))

    def paragraph(self, text: str) -> None:
        self.events.append(_Paragraph(text))

    def first_heading(self) -> str | None:
        for event in self.events:
            if isinstance(event, _Heading) and normalise_heading(event.text):
                return normalise_heading(event.text)
        return None


def _blocks_from_events(events: list[_Event], title: str | None) -> list[Block]:
    """Turn events into Blocks with heading paths.

    The first heading is left out of the paths when it is the document title and no
    other heading is as high: it would repeat the title in every section.
    """
    hidden_index = _title_heading_index(events, title)
    tracker = SectionTracker()
    blocks: list[Block] = []
    for index, event in enumerate(events):
        if isinstance(event, _Heading):
            tracker.heading(event.level, event.text, hidden=index == hidden_index)
            continue
        for text in split_paragraphs(clean_text(event.text)):
            blocks.append(Block(text=text, section=tracker.section))
            tracker.body()
    return blocks


def _title_heading_index(events: list[_Event], title: str | None) -> int | None:
    headings = [(i, e) for i, e in enumerate(events) if isinstance(e, _Heading)]
    if not headings or title is None:
        return None
    index, first = headings[0]
    if normalise_heading(first.text).casefold() != title.casefold():
        return None
    if any(other.level <= first.level for _, other in headings[1:]):
        return None
    return index


_LIST_ITEM = re.compile(r"^(?:[-*+•▪●◦]|\d{1,3}[.)]|[a-z][.)])\s+\S")


def split_paragraphs(text: str) -> list[str]:
    """Split cleaned text on blank lines and list items; join wrapped lines with spaces."""
    paragraphs: list[str] = []
    for chunk in text.split("\n\n"):
        current: list[str] = []
        for line in chunk.split("\n"):
            if current and _LIST_ITEM.match(line):
                paragraphs.append(" ".join(current))
                current = []
            if line:
                current.append(line)
        if current:
            paragraphs.append(" ".join(current))
    return [p for p in paragraphs if p]


_SENTENCE_END = (".", "!", "?", ":", ";")


def split_pdf_paragraphs(page_text: str) -> list[str]:
    """Paragraphs of one PDF page. Many PDFs have no blank line between paragraphs
    (pypdf does not turn vertical gaps into blank lines), so a short line ending a
    sentence also ends its paragraph."""
    lines = page_text.split("\n")
    full_width = max((len(line) for line in lines), default=0)
    marked: list[str] = []
    for line in lines:
        marked.append(line)
        if line.endswith(_SENTENCE_END) and len(line) < 0.75 * full_width:
            marked.append("")
    return split_paragraphs(normalise_whitespace("\n".join(marked)))


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


# --------------------------------------------------------------------------- Markdown / text


_MD_HEADING = re.compile(r"^(#{1,6})\s*(\S.*)$")
_MD_FENCE = re.compile(r"^(```|~~~)")
_MD_TABLE_SEPARATOR = re.compile(r"^\|?[\s:|-]*-{3,}[\s:|-]*$")
_FRONT_MATTER_END = ("---", "...")


def _load_markdown(raw: bytes, where: str) -> _Parsed:
    text = decode_text(raw, where)
    meta, body = _split_front_matter(text, where)
    stream = _markdown_events(body)
    title = _meta_str(meta, "title") or stream.first_heading()
    return _Parsed(
        blocks=_blocks_from_events(stream.events, title),
        title=title,
        publisher=_meta_str(meta, "publisher"),
        year=_meta_year(meta),
        document_type=_meta_str(meta, "document_type"),
    )


def _split_front_matter(text: str, where: str) -> tuple[dict[str, Any], str]:
    lines = text.lstrip("\ufeff").split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    end = next((i for i, line in enumerate(lines) if i and line.strip() in _FRONT_MATTER_END), 0)
    if not end:
        raise IngestError(where, "front matter is invalid YAML (no closing '---' line)")
    try:
        meta = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise IngestError(where, f"front matter is invalid YAML{place}: {problem}") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise IngestError(where, "front matter is invalid YAML (expected 'key: value' lines)")
    return meta, "\n".join(lines[end + 1 :])


def _meta_str(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    if value is None or isinstance(value, (dict, list)):
        return None
    text = " ".join(str(value).split())
    return text or None


def _meta_year(meta: dict[str, Any]) -> int | None:
    for key in ("year", "date"):
        value = meta.get(key)
        if isinstance(value, date):
            return value.year
        if isinstance(value, int) and 1000 <= value <= 2999:
            return value
        if isinstance(value, str):
            match = re.search(r"\b(1[5-9]\d\d|2\d\d\d)\b", value)
            if match:
                return int(match.group(1))
    return None


def _markdown_events(body: str) -> _EventStream:
    stream = _EventStream()
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            stream.paragraph(strip_markdown_inline("\n".join(paragraph)))
            paragraph.clear()

    in_fence = False
    for line in clean_text(body).split("\n"):
        if _MD_FENCE.match(line):
            in_fence = not in_fence
            flush()
            continue
        heading = None if in_fence else _MD_HEADING.match(line)
        if heading:
            flush()
            stream.heading(len(heading.group(1)), heading.group(2))
        elif not line:
            flush()
        elif line.startswith("|"):
            flush()  # one table row per paragraph; separator rows carry no text
            if not _MD_TABLE_SEPARATOR.match(line):
                paragraph.append(_table_row_text(line))
                flush()
        else:
            if _LIST_ITEM.match(line):
                flush()  # each list item is its own block
            paragraph.append(line)
    flush()
    return stream


def _table_row_text(line: str) -> str:
    cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    return " ".join(cell for cell in cells if cell and not re.fullmatch(r"[:-]+", cell))


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


# --------------------------------------------------------------------------- HTML


class _HtmlEventParser(HTMLParser):
    """Headings and text blocks from HTML, skipping scripts, styles and navigation."""

    _SKIP = frozenset({"script", "style", "nav", "footer", "noscript", "template", "svg", "head"})
    _BLOCK = frozenset(
        {
            "p", "div", "li", "td", "th", "tr", "table", "ul", "ol", "dl", "dt", "dd",
            "section", "article", "main", "header", "aside", "blockquote", "pre",
            "figure", "figcaption", "caption", "form", "address", "body",
        }
    )  # fmt: skip
    _HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stream = _EventStream()
        self.title: str | None = None
        self._skip_depth = 0
        self._in_title = False
        self._title_parts: list[str] = []
        self._buffer: list[str] = []
        self._heading_level: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skip_depth += 1
        elif self._skip_depth:
            return
        elif tag == "br":
            self._buffer.append("\n")
        elif tag in self._HEADINGS:
            self._flush()
            self._heading_level = int(tag[1])
        elif tag in self._BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            self.title = " ".join("".join(self._title_parts).split()) or None
        elif tag in self._SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif self._skip_depth:
            return
        elif tag in self._HEADINGS or tag in self._BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title_parts.append(data)
        elif not self._skip_depth:
            self._buffer.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        text = "".join(self._buffer)
        self._buffer.clear()
        if self._heading_level is not None:
            self.stream.heading(self._heading_level, text)
            self._heading_level = None
        elif text.strip():
            # Source line breaks inside a <p> are not paragraph breaks.
            self.stream.paragraph(re.sub(r"[ \t]*\n[ \t]*(?=\S)", " ", text.strip()))


def _load_html(raw: bytes, where: str) -> _Parsed:
    parser = _HtmlEventParser()
    parser.feed(decode_text(raw, where))
    parser.close()
    title = _clean_title(parser.title) or _first_heading_of_level(parser.stream, 1)
    title = title or parser.stream.first_heading()
    return _Parsed(blocks=_blocks_from_events(parser.stream.events, title), title=title)


def _first_heading_of_level(stream: _EventStream, level: int) -> str | None:
    for event in stream.events:
        if isinstance(event, _Heading) and event.level == level:
            return normalise_heading(event.text) or None
    return None


# --------------------------------------------------------------------------- DOCX


_DOCX_HEADING_STYLE = re.compile(r"^(?:heading|kop)\s*(\d)$", re.IGNORECASE)


def _load_docx(raw: bytes, where: str) -> _Parsed:
    import docx  # imported lazily: only needed for .docx files
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(raw))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError(where, f"not a valid DOCX file ({_short_cause(exc)})") from exc
    except Exception as exc:  # lxml errors for a damaged document.xml, etc.
        raise IngestError(where, f"not a valid DOCX file ({_short_cause(exc)})") from exc
    stream = _EventStream()
    _docx_body_events(document, document.element.body, stream)
    title = _clean_title(document.core_properties.title) or stream.first_heading()
    return _Parsed(blocks=_blocks_from_events(stream.events, title), title=title)


def _docx_body_events(document: Any, container: Any, stream: _EventStream) -> None:
    """Paragraphs and tables in document order (python-docx lists them separately)."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in container.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            _docx_paragraph_event(Paragraph(child, document), stream)
        elif tag == "tbl":
            _docx_table_events(document, Table(child, document), stream)
        elif tag == "sdt":  # content controls wrap ordinary paragraphs
            content = child.find("{*}sdtContent")
            if content is not None:
                _docx_body_events(document, content, stream)


def _docx_paragraph_event(paragraph: Any, stream: _EventStream) -> None:
    text = paragraph.text
    if not text.strip():
        return
    style_name = paragraph.style.name if paragraph.style is not None else ""
    match = _DOCX_HEADING_STYLE.match(style_name or "")
    if match:
        stream.heading(int(match.group(1)), text)
    elif (style_name or "").lower() in ("title", "titel"):
        stream.heading(1, text)
    else:
        stream.paragraph(text)


def _docx_table_events(document: Any, table: Any, stream: _EventStream) -> None:
    seen: set[int] = set()
    for row in table.rows:
        for cell in row.cells:
            if id(cell._tc) in seen:  # merged cells repeat across the grid
                continue
            seen.add(id(cell._tc))
            _docx_body_events(document, cell._tc, stream)


# --------------------------------------------------------------------------- ODT


def _load_odt(raw: bytes, where: str) -> _Parsed:
    from odf import opendocument  # imported lazily: only needed for .odt files

    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise IngestError(where, "not a valid ODT file (not a zip archive)")
    try:
        document = opendocument.load(io.BytesIO(raw))
    except Exception as exc:  # BadZipFile, KeyError (no content.xml), XML errors
        raise IngestError(where, f"not a valid ODT file ({_short_cause(exc)})") from exc
    stream = _EventStream()
    _odt_events(document.text, stream)
    title = _clean_title(_odt_meta_title(document)) or stream.first_heading()
    return _Parsed(blocks=_blocks_from_events(stream.events, title), title=title)


_ODT_SKIP = frozenset({"tracked-changes", "sequence-decls", "forms", "variable-decls"})


def _odt_events(element: Any, stream: _EventStream) -> None:
    from odf import teletype

    for child in element.childNodes:
        if child.nodeType != child.ELEMENT_NODE:
            continue
        name = child.qname[1]
        if name == "h":
            level = child.getAttribute("outlinelevel") or "1"
            stream.heading(int(level) if level.isdigit() else 1, teletype.extractText(child))
        elif name == "p":
            text = teletype.extractText(child)
            if text.strip():
                stream.paragraph(text)
        elif name not in _ODT_SKIP:
            _odt_events(child, stream)  # lists, tables, sections, frames


def _odt_meta_title(document: Any) -> str | None:
    from odf import dc

    titles = document.meta.getElementsByType(dc.Title)
    return str(titles[0]) if titles else None


# --------------------------------------------------------------------------- PDF


_JUNK_TITLE = re.compile(
    r"^(?:untitled|naamloos|document\d*|microsoft (?:word|powerpoint|excel)\b.*|"
    r".*\.(?:docx?|pdf|odt|rtf|pptx?|xlsx?|indd)|[-_.\s\d]*)$",
    re.IGNORECASE,
)


def _clean_title(title: object) -> str | None:
    """A metadata title, or None when it is empty or junk like "Microsoft Word - x.docx"."""
    if title is None:
        return None
    text = " ".join(str(title).split())
    if not text or _JUNK_TITLE.match(text):
        return None
    return text


def _load_pdf(raw: bytes, where: str) -> _Parsed:
    reader = _open_pdf(raw, where)
    page_count = _pdf_page_count(reader, where)
    raw_pages = _extract_pdf_pages(reader, page_count, where)
    if not any(text.strip() for text in raw_pages):
        raise IngestError(where, "PDF has no text layer (scanned?); run OCR first, e.g. ocrmypdf")
    pages = remove_repeating_lines([clean_text(text) for text in raw_pages])
    labels = _pdf_page_labels(reader, page_count)
    outline = _pdf_outline(reader)
    blocks = _pdf_blocks(pages, labels, outline)
    title = (
        _clean_title(_pdf_metadata_title(reader))
        or _letter_subject(pages[0])
        or _first_short_line(pages)
    )
    return _Parsed(blocks=blocks, title=title, pages=page_count)


def _open_pdf(raw: bytes, where: str) -> Any:
    from pypdf import PasswordType, PdfReader

    if not raw.lstrip()[:1024].startswith(b"%PDF") and b"%PDF" not in raw[:1024]:
        raise IngestError(where, "not a readable PDF (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(raw))
    except Exception as exc:
        raise IngestError(where, f"not a readable PDF ({_short_cause(exc)})") from exc
    if reader.is_encrypted:
        try:
            # Many PDFs are "encrypted" with an empty user password only to set permissions.
            opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
        except Exception:  # unsupported algorithm: unreadable either way
            opened = False
        if not opened:
            raise IngestError(where, "PDF is encrypted; remove the password and try again")
    return reader


def _pdf_page_count(reader: Any, where: str) -> int:
    try:
        count = len(reader.pages)
    except Exception as exc:
        raise IngestError(where, f"not a readable PDF ({_short_cause(exc)})") from exc
    if count == 0:
        raise IngestError(where, "not a readable PDF (no pages)")
    return count


def _extract_pdf_pages(reader: Any, page_count: int, where: str) -> list[str]:
    """Text per page. A single damaged page yields "" so the rest stays searchable."""
    texts: list[str] = []
    failures: list[Exception] = []
    for index in range(page_count):
        try:
            texts.append(reader.pages[index].extract_text() or "")
        except Exception as exc:  # reported below if every page fails
            texts.append("")
            failures.append(exc)
    if failures and len(failures) == page_count:
        raise IngestError(where, f"not a readable PDF ({_short_cause(failures[0])})")
    return texts


def _pdf_metadata_title(reader: Any) -> str | None:
    try:
        metadata = reader.metadata
        return metadata.title if metadata else None
    except Exception:  # broken Info dictionary: fall back to the text
        return None


_LETTER_SUBJECT = re.compile(r"^(?:Betreft|Onderwerp)\s*:?\s+(\S.{3,})$", re.MULTILINE)


def _letter_subject(first_page: str) -> str | None:
    """The subject of a Dutch government letter ("Betreft ..."): the first line is the
    letterhead there, not a title."""
    match = _LETTER_SUBJECT.search(first_page)
    if match and len(match.group(1)) < _MAX_TITLE_CHARS:
        return match.group(1).strip()
    return None


def _first_short_line(pages: list[str]) -> str | None:
    for line in pages[0].split("\n") if pages else []:
        if line.strip():
            return line.strip() if len(line.strip()) < _MAX_TITLE_CHARS else None
    return None


def _pdf_page_labels(reader: Any, page_count: int) -> list[str | None]:
    """Printed page labels, only when the PDF defines them (pypdf invents "1", "2", ...)."""
    no_labels: list[str | None] = [None] * page_count
    try:
        if "/PageLabels" not in reader.trailer["/Root"]:
            return no_labels
        labels = list(reader.page_labels)
    except Exception:  # a broken label tree is not worth failing for
        return no_labels
    return labels if len(labels) == page_count else no_labels


@dataclass(frozen=True)
class _OutlineEntry:
    page_index: int  # 0-based
    path: tuple[str, ...]


def _pdf_outline(reader: Any) -> list[_OutlineEntry]:
    """Bookmarks as (page, heading path), in reading order; [] when absent or broken."""
    entries: list[_OutlineEntry] = []

    def walk(items: list[Any], parents: tuple[str, ...]) -> None:
        previous: tuple[str, ...] = parents
        for item in items:
            if isinstance(item, list):
                walk(item, previous)
                continue
            title = " ".join(str(getattr(item, "title", "") or "").split())
            page_index = reader.get_destination_page_number(item)
            if not title or page_index is None or page_index < 0:
                continue
            previous = (*parents, title)
            entries.append(_OutlineEntry(page_index, previous))

    try:
        walk(reader.outline, ())
    except Exception:  # bookmarks are optional; a broken tree means none
        return []
    return sorted(entries, key=lambda e: e.page_index)  # stable: keeps order within a page


def _pdf_blocks(
    pages: list[str], labels: list[str | None], outline: list[_OutlineEntry]
) -> list[Block]:
    entries_by_page: dict[int, list[_OutlineEntry]] = {}
    for entry in outline:
        entries_by_page.setdefault(entry.page_index, []).append(entry)
    blocks: list[Block] = []
    section: tuple[str, ...] = ()
    for index, page_text in enumerate(pages):
        paragraphs = split_pdf_paragraphs(page_text)
        switches, heading_paragraphs = _section_switches(paragraphs, entries_by_page.get(index, []))
        for position, text in enumerate(paragraphs):
            section = switches.get(position, section)
            if position not in heading_paragraphs:  # headings are not blocks
                blocks.append(Block(text, index + 1, labels[index], section))
        section = switches.get(len(paragraphs), section)
    return blocks


def _section_switches(
    paragraphs: list[str], entries: list[_OutlineEntry]
) -> tuple[dict[int, tuple[str, ...]], set[int]]:
    """Where on a page each bookmark's section starts: at its heading line when we can
    find it, else where the previous bookmark started (the top of the page at first)."""
    switches: dict[int, tuple[str, ...]] = {}
    heading_paragraphs: set[int] = set()
    position = 0
    for entry in entries:
        wanted = _heading_key(entry.path[-1])
        found = None
        if len(wanted) >= 4:  # too short titles ("1") would match anything
            found = next(
                (
                    j
                    for j in range(position, len(paragraphs))
                    if _heading_key(paragraphs[j]).startswith(wanted)
                ),
                None,
            )
        if found is not None:
            position = found
            if _heading_key(paragraphs[found]) == wanted:
                heading_paragraphs.add(found)
        switches[position] = entry.path
    return switches, heading_paragraphs


def _heading_key(text: str) -> str:
    return " ".join(text.casefold().split())


# --------------------------------------------------------------------------- dispatch


_LOADERS = {
    ".pdf": _load_pdf,
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".txt": _load_markdown,
    ".html": _load_html,
    ".htm": _load_html,
    ".docx": _load_docx,
    ".odt": _load_odt,
}
