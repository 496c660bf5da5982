"""ODT loader (.odt), via odfpy.

Walks the OpenDocument text body into the shared event stream: text:h elements become
headings at their outline level, text:p elements become paragraphs, and lists, tables,
sections and frames are descended into. The title comes from the dc:title metadata.
"""

from __future__ import annotations

import io
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


def load_odt(raw: bytes, where: str) -> Parsed:
    from odf import opendocument  # imported lazily: only needed for .odt files

    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise IngestError(where, "not a valid ODT file (not a zip archive)")
    try:
        document = opendocument.load(io.BytesIO(raw))
    except Exception as exc:  # BadZipFile, KeyError (no content.xml), XML errors
        raise IngestError(where, f"not a valid ODT file ({error_line(exc)})") from exc
    stream = EventStream()
    _odt_events(document.text, stream)
    title = clean_title(_odt_meta_title(document)) or stream.first_heading()
    return Parsed(blocks=blocks_from_events(stream.events, title), title=title)


_ODT_SKIP = frozenset({"tracked-changes", "sequence-decls", "forms", "variable-decls"})


def _odt_events(element: Any, stream: EventStream) -> None:
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
