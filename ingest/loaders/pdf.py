"""PDF loader (.pdf), via pypdf.

Unlike the other formats, PDFs are handled page by page so every block knows its
1-based page and printed page label. Text is extracted per page, repeating headers and
footers are removed, paragraphs are split per page, and bookmarks (the outline) give
the heading path. Encrypted, scanned (no text layer) and broken PDFs become IngestErrors.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from typing import Any

from bronwijzer.domain import Block, IngestError
from bronwijzer.text import error_line, tidy_whitespace
from ingest.clean import clean_text, remove_repeating_lines
from ingest.loaders.structure import Parsed, clean_title, split_paragraphs

# pypdf logs a warning for every oddity in a broken PDF; our IngestError says it once.
logging.getLogger("pypdf").setLevel(logging.ERROR)

_MAX_TITLE_CHARS = 150


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
    return split_paragraphs(tidy_whitespace("\n".join(marked)))


def load_pdf(raw: bytes, where: str) -> Parsed:
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
        clean_title(_pdf_metadata_title(reader))
        or _letter_subject(pages[0])
        or _first_short_line(pages)
    )
    return Parsed(blocks=blocks, title=title, pages=page_count)


def _open_pdf(raw: bytes, where: str) -> Any:
    from pypdf import PasswordType, PdfReader

    if not raw.lstrip()[:1024].startswith(b"%PDF") and b"%PDF" not in raw[:1024]:
        raise IngestError(where, "not a readable PDF (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(raw))
    except Exception as exc:
        raise IngestError(where, f"not a readable PDF ({error_line(exc)})") from exc
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
        raise IngestError(where, f"not a readable PDF ({error_line(exc)})") from exc
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
        raise IngestError(where, f"not a readable PDF ({error_line(failures[0])})")
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
