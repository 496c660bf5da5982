"""Markdown and plain-text loader (.md, .markdown, .txt).

Decodes the text, reads optional YAML front matter (title, publisher, year or date,
document_type), and turns ATX headings, paragraphs, list items, table rows and fenced
code into the shared event stream; inline Markdown syntax is stripped from the text.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import yaml

from bronwijzer.domain import IngestError
from ingest.clean import clean_text
from ingest.loaders.structure import (
    LIST_ITEM,
    EventStream,
    Parsed,
    blocks_from_events,
    decode_text,
    strip_markdown_inline,
)

_MD_HEADING = re.compile(r"^(#{1,6})\s*(\S.*)$")
_MD_FENCE = re.compile(r"^(```|~~~)")
_MD_TABLE_SEPARATOR = re.compile(r"^\|?[\s:|-]*-{3,}[\s:|-]*$")
_FRONT_MATTER_END = ("---", "...")


def load_markdown(raw: bytes, where: str) -> Parsed:
    text = decode_text(raw, where)
    meta, body = _split_front_matter(text, where)
    stream = _markdown_events(body)
    title = _meta_str(meta, "title") or stream.first_heading()
    return Parsed(
        blocks=blocks_from_events(stream.events, title),
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


def _markdown_events(body: str) -> EventStream:
    stream = EventStream()
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
            if LIST_ITEM.match(line):
                flush()  # each list item is its own block
            paragraph.append(line)
    flush()
    return stream


def _table_row_text(line: str) -> str:
    cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    return " ".join(cell for cell in cells if cell and not re.fullmatch(r"[:-]+", cell))
