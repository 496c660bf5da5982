"""DOCX loader (.docx), via python-docx.

Walks the document body in order (paragraphs, tables and content controls) into the
shared event stream; paragraphs styled "Heading n"/"Kop n" or "Title" become headings.
The title is the core-properties title unless that is junk, else the first heading.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from bronwijzer.domain import IngestError
from bronwijzer.text import error_line
from ingest.loaders.structure import (
    EventStream,
    Parsed,
    blocks_from_events,
    clean_title,
)

_DOCX_HEADING_STYLE = re.compile(r"^(?:heading|kop)\s*(\d)$", re.IGNORECASE)


def load_docx(raw: bytes, where: str) -> Parsed:
    import docx  # imported lazily: only needed for .docx files
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(raw))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError(where, f"not a valid DOCX file ({error_line(exc)})") from exc
    except Exception as exc:  # lxml errors for a damaged document.xml, etc.
        raise IngestError(where, f"not a valid DOCX file ({error_line(exc)})") from exc
    stream = EventStream()
    _docx_body_events(document, document.element.body, stream)
    title = clean_title(document.core_properties.title) or stream.first_heading()
    return Parsed(blocks=blocks_from_events(stream.events, title), title=title)


def _docx_body_events(document: Any, container: Any, stream: EventStream) -> None:
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


def _docx_paragraph_event(paragraph: Any, stream: EventStream) -> None:
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


def _docx_table_events(document: Any, table: Any, stream: EventStream) -> None:
    seen: set[int] = set()
    for row in table.rows:
        for cell in row.cells:
            if id(cell._tc) in seen:  # merged cells repeat across the grid
                continue
            seen.add(id(cell._tc))
            _docx_body_events(document, cell._tc, stream)
