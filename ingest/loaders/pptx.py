"""PPTX loader (.pptx), via python-pptx.

A slide is treated like a PDF page: every block of a slide has page = the slide number
(1-based, hidden slides included, so the number matches what PowerPoint shows) and the
slide title as its section. Text comes from text boxes, placeholders, tables and groups
in reading order (top to bottom, left to right), then the speaker notes under the section
"<title> › Notities". Footer, date and slide-number placeholders repeat on every slide
and are left out, as headers and footers are for PDFs. SmartArt and chart text are not
read (python-pptx does not expose them).

Slides are kept apart in the index: the chunker only packs blocks of one section into a
passage, so a slide without a title, or with the same title as the slide before, gets a
section that names its number.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from typing import Any

from bronwijzer.domain import Block, IngestError
from bronwijzer.text import error_line
from ingest.clean import clean_text
from ingest.loaders.structure import (
    Parsed,
    clean_title,
    normalise_heading,
    split_paragraphs,
)

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Office stores a password-protected .pptx as an OLE container with this stream in it.
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
_NOTES = "Notities"


def load_pptx(raw: bytes, where: str) -> Parsed:
    presentation = _open(raw, where)
    slides = list(presentation.slides)
    if not slides:
        raise IngestError(where, "presentation has no slides")
    blocks: list[Block] = []
    previous: tuple[str, ...] | None = None
    first_title: str | None = None
    for number, slide in enumerate(slides, start=1):
        title = _slide_title(slide)
        first_title = first_title or title
        section = _section(title, number, previous)
        previous = section
        blocks.extend(_blocks(_slide_texts(slide), number, section))
        blocks.extend(_blocks(_notes_texts(slide), number, (*section, _NOTES)))
    title = clean_title(presentation.core_properties.title) or first_title
    return Parsed(blocks=blocks, title=title, pages=len(slides))


def _blocks(texts: list[str], number: int, section: tuple[str, ...]) -> list[Block]:
    return [Block(paragraph, page=number, section=section)
            for text in texts for paragraph in split_paragraphs(clean_text(text))]


def _open(raw: bytes, where: str) -> Any:
    import pptx  # imported lazily: only needed for .pptx files

    if raw.startswith(_OLE_MAGIC):
        if _ENCRYPTED_STREAM in raw:
            raise IngestError(
                where, "PPTX is password-protected; remove the password and save again")
        raise IngestError(where, "old PowerPoint format (.ppt) named .pptx; save it as .pptx")
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise IngestError(where, "not a valid PPTX file (not a zip archive)")
    try:
        return pptx.Presentation(io.BytesIO(raw))
    except Exception as exc:  # PackageNotFoundError, KeyError, a template's content type
        raise IngestError(where, f"not a valid PPTX file ({error_line(exc)})") from exc


def _slide_title(slide: Any) -> str | None:
    shape = slide.shapes.title
    if shape is None or not shape.has_text_frame:
        return None
    return normalise_heading(shape.text_frame.text.replace("\v", " ")) or None


def _section(title: str | None, number: int, previous: tuple[str, ...] | None
             ) -> tuple[str, ...]:
    if not title:
        return (f"Dia {number}",)
    if previous == (title,):  # "Planning" twice in a row: keep the slides apart
        return (f"{title} (dia {number})",)
    return (title,)


_REPEATED_PLACEHOLDERS = frozenset({"DATE", "FOOTER", "HEADER", "SLIDE_NUMBER"})


def _slide_texts(slide: Any) -> list[str]:
    title_shape = slide.shapes.title
    title_id = title_shape.shape_id if title_shape is not None else None
    texts: list[str] = []
    for shape in _reading_order(slide.shapes):
        if shape.shape_id == title_id and not _is_group(shape):
            continue
        texts.extend(_shape_texts(shape))
    return texts


def _shape_texts(shape: Any) -> list[str]:
    if _is_group(shape):
        return [t for child in _reading_order(shape.shapes) for t in _shape_texts(child)]
    if shape.is_placeholder and _placeholder_kind(shape) in _REPEATED_PLACEHOLDERS:
        return []
    if getattr(shape, "has_table", False) and shape.has_table:
        return [_row_text(row) for row in shape.table.rows]
    if shape.has_text_frame:
        return [_paragraph_text(p) for p in shape.text_frame.paragraphs]
    return []


def _row_text(row: Any) -> str:
    cells = [" ".join(cell.text.replace("\v", " ").split()) for cell in row.cells]
    return " | ".join(cell for cell in cells if cell)


def _paragraph_text(paragraph: Any) -> str:
    # a line break inside a bullet (<a:br/>, "\v") only wraps the line
    return str(paragraph.text).replace("\v", "\n")


def _notes_texts(slide: Any) -> list[str]:
    if not slide.has_notes_slide:
        return []
    frame = slide.notes_slide.notes_text_frame
    if frame is None:
        return []
    return [_paragraph_text(p) for p in frame.paragraphs]


def _reading_order(shapes: Iterable[Any]) -> list[Any]:
    """Top to bottom, then left to right: the z-order python-pptx gives is the order in
    which shapes were added, which for a reworked slide is often not the reading order."""
    return sorted(shapes, key=lambda s: (s.top or 0, s.left or 0))


def _is_group(shape: Any) -> bool:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    return bool(shape.shape_type == MSO_SHAPE_TYPE.GROUP)


def _placeholder_kind(shape: Any) -> str:
    try:
        return str(shape.placeholder_format.type.name)
    except (AttributeError, ValueError):  # an unknown placeholder type: treat as content
        return ""
