"""HTML loader (.html, .htm).

Parses decoded HTML with the standard library's HTMLParser into the shared event
stream: h1-h6 become headings, block elements become paragraphs, and scripts, styles,
navigation and footers are skipped. The title comes from <title>, else the first h1.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ingest.loaders.structure import (
    EventStream,
    Heading,
    Parsed,
    blocks_from_events,
    clean_title,
    decode_text,
    normalise_heading,
)


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
        self.stream = EventStream()
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


def load_html(raw: bytes, where: str) -> Parsed:
    parser = _HtmlEventParser()
    parser.feed(decode_text(raw, where))
    parser.close()
    title = clean_title(parser.title) or _first_heading_of_level(parser.stream, 1)
    title = title or parser.stream.first_heading()
    return Parsed(blocks=blocks_from_events(parser.stream.events, title), title=title)


def _first_heading_of_level(stream: EventStream, level: int) -> str | None:
    for event in stream.events:
        if isinstance(event, Heading) and event.level == level:
            return normalise_heading(event.text) or None
    return None
