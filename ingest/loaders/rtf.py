"""RTF loader (.rtf), via striprtf.

striprtf turns RTF into plain text (one line per paragraph, table cells joined by "|")
but drops all styling, so headings would be lost. Before converting, every place where
a paragraph takes a heading style (`\\sN` whose stylesheet name is "heading n"/"Kop n"/
"Title") or an outline level (`\\outlinelevelN`, which Word writes on headings) gets a
private-use marker in the text; lines that start with one become heading events.

RTF has no pages of its own (the word processor paginates), so, like DOCX and ODT, blocks
have no page. RTF cannot be password-protected (`\\password` only restricts editing and
the text stays readable). Truncated files (groups never closed) are rejected rather than
half-ingested.
"""

from __future__ import annotations

import codecs
import re

from bronwijzer.domain import IngestError
from bronwijzer.text import error_line
from ingest.loaders.structure import (
    EventStream,
    Parsed,
    blocks_from_events,
    clean_title,
)

# Private-use characters never appear in cp1252/ASCII RTF source, so they cannot clash.
_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"
_MARKED_LINE = re.compile(f"^(?:{_MARK_OPEN}(\\d){_MARK_CLOSE})+")
_ANY_MARK = re.compile(f"{_MARK_OPEN}\\d{_MARK_CLOSE}")

# An escaped backslash comes first so "\\\\s1" (literal text) is not read as a style.
_STYLE_OR_OUTLINE = re.compile(r"\\\\|\\(s|outlinelevel)(\d+) ?")
_HEADING_STYLE_NAME = re.compile(r"^(?:heading|kop)\s*(\d)$|^(?:title|titel)$", re.IGNORECASE)
_CODEPAGE = re.compile(rb"\\ansicpg(\d+)")
# Images, embedded objects and theme data are long hex runs that carry no text. striprtf
# steps through them one character at a time (measured: 0.4 s per MB of hex, so a memo
# with a few photos spends seconds there); cutting them first costs milliseconds.
_HEX_BLOB = re.compile(r"[0-9a-fA-F\r\n]{512,}")
_BINARY = re.compile(r"\\bin(\d+) ?")
_BRACE = re.compile(r"\\[\\{}]|[{}]")
_TITLE_GROUP = re.compile(r"\{\\title(?![a-zA-Z])")  # and not {\titlepg


def load_rtf(raw: bytes, where: str) -> Parsed:
    from striprtf.striprtf import rtf_to_text  # imported lazily: only needed for .rtf files

    source = _HEX_BLOB.sub("", _drop_binary(_decode(raw, where)))
    _check_complete(source, where)
    levels = _heading_styles(source)
    marked = _STYLE_OR_OUTLINE.sub(lambda m: _mark(m, levels), source)
    try:
        text = rtf_to_text(marked, errors="replace")
    except Exception as exc:  # striprtf on malformed control words: one clear line
        raise IngestError(where, f"not a valid RTF file ({error_line(exc)})") from exc
    stream = EventStream()
    for line in text.split("\n"):
        match = _MARKED_LINE.match(line)
        body = _ANY_MARK.sub("", line).replace("|", " | ").strip(" |")
        if not body.strip():
            continue
        if match:
            stream.heading(int(match.group(1)), body)
        else:
            stream.paragraph(body)
    title = clean_title(_info_title(source)) or stream.first_heading()
    return Parsed(blocks=blocks_from_events(stream.events, title), title=title)


def _decode(raw: bytes, where: str) -> str:
    """RTF is 7-bit with escapes, but some writers put raw 8-bit bytes in the document's
    code page: decode with that code page so both come out right."""
    head = raw[:16].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{\\rtf"):
        raise IngestError(where, f"not a valid RTF file ({_what_it_is(head)})")
    match = _CODEPAGE.search(raw[:4096])
    encoding = f"cp{match.group(1).decode()}" if match else "cp1252"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "cp1252"
    return raw.decode(encoding, errors="replace")


def _drop_binary(source: str) -> str:
    """Remove \\binN payloads (raw bytes, rare but legal in pictures): a brace among them
    would upset the completeness check and striprtf alike."""
    parts: list[str] = []
    position = 0
    for match in _BINARY.finditer(source):
        if match.start() < position:  # inside the payload of the one before
            continue
        parts.append(source[position : match.start()])
        position = match.end() + int(match.group(1))
    parts.append(source[position:])
    return "".join(parts)


def _what_it_is(head: bytes) -> str:
    if head.startswith(b"PK"):
        return "it is a zip file, probably DOCX: is the extension right?"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "it is an old Word .doc file: save it as .docx or .rtf"
    if head.startswith(b"%PDF"):
        return "it is a PDF: is the extension right?"
    return "no {\\rtf header"


def _check_complete(source: str, where: str) -> None:
    """Word opens a truncated RTF and shows the part that arrived; ingesting that part
    silently would hide the loss, so a group that is never closed is an error."""
    depth = 0
    for token in _BRACE.finditer(source):
        if token.group() == "{":
            depth += 1
        elif token.group() == "}":
            depth -= 1
    if depth > 0:
        raise IngestError(
            where, f"RTF file is incomplete (truncated?): {depth} group(s) not closed")


def _heading_styles(source: str) -> dict[int, int]:
    """Style number -> heading level, from the stylesheet's style names."""
    start = source.find("{\\stylesheet")
    if start < 0:
        return {}
    levels: dict[int, int] = {}
    for entry in re.finditer(r"\{([^{}]*)\}", _group(source, start)):
        content = entry.group(1)
        number = re.match(r"\s*(?:\\\*)?\\s(\d+)\b", content)
        if not number:
            continue
        name = re.sub(r"\\[a-zA-Z]+-?\d* ?|\\'[0-9a-fA-F]{2}", "", content)
        name = name.rsplit(";", 1)[0].strip()
        heading = _HEADING_STYLE_NAME.match(name)
        if heading:
            levels[int(number.group(1))] = int(heading.group(1) or 1)
    return levels


def _group(source: str, start: int) -> str:
    """The balanced {...} group that opens at `start` (to the end when unbalanced)."""
    depth = 0
    for token in _BRACE.finditer(source, start):
        if token.group() in ("{", "}"):
            depth += 1 if token.group() == "{" else -1
            if depth == 0:
                return source[start : token.end()]
    return source[start:]


def _mark(match: re.Match[str], levels: dict[int, int]) -> str:
    word, number = match.group(1), match.group(2)
    if word is None:  # an escaped backslash: leave it alone
        return match.group(0)
    level = levels.get(int(number)) if word == "s" else int(number) + 1
    if level is None or not 1 <= level <= 9:  # body styles; outline level 9 is "body text"
        return match.group(0)
    # the control word ends with its delimiter, so it stays followed by one space
    return f"\\{word}{number} {_MARK_OPEN}{level}{_MARK_CLOSE}"


def _info_title(source: str) -> str | None:
    """The document title from the {\\info{\\title ...}} group (striprtf drops it)."""
    from striprtf.striprtf import rtf_to_text

    found = _TITLE_GROUP.search(source)
    if not found:
        return None
    inner = _group(source, found.start())[found.end() - found.start() : -1]
    # through striprtf as a tiny document of its own, for the \\'xx and \\uN escapes
    text = rtf_to_text("{\\rtf1\\ansi " + inner + "}", errors="replace")
    return str(text).strip() or None
