"""Text cleaning shared by all loaders.

Everything here is pure string work so it can be tested without files. The
order in `clean_text` matters: hyphenation is joined before whitespace is
collapsed, because the line break is what tells us a word was split.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter

from bronwijzer.text import tidy_whitespace

__all__ = ["clean_text", "is_page_number", "join_hyphenation", "remove_repeating_lines"]

_SOFT_HYPHEN = "\u00ad"
# Zero-width space/joiners, word joiner and BOM: invisible, but they break words for search.
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
# NBSP and the other Unicode spaces render as a space, so treat them as one.
_UNICODE_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
# Symbol-font bullets (Wingdings "\uf0b7", "\uf0a7", ...) land in the Private Use Area.
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
# C0 controls except tab/newline, DEL and C1 controls.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# Tags look like `<name ...>` / `</name>` / `<name/>`; requiring a letter right after
# `<` keeps comparisons such as "a < b" and autolinks like <https://...> intact.
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)(?:[\s/][^<>]*)?/?>")
_LINE_BREAKING_TAGS = frozenset(
    {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}
)

# A hyphen at the end of a line after a letter, then the start of the next line.
# The next word is only looked at (lookahead), so it can itself end in a split hyphen.
_LINE_END_HYPHEN = re.compile(r"(\w+)-[ \t]*\n[ \t]*(?=(\S+))")
# "zorg- en welzijn": a hyphen followed by a conjunction is an elided compound, not a split.
_CONJUNCTIONS = frozenset({"en", "of", "tot", "t/m", "c.q.", "resp."})

# Bare page numbers: "3", "- 3 -", "— 3 —", "3/32", "3 / 32", "Pagina 3", "pagina 3 van 32",
# "p. 3", "blz. 3". pypdf sometimes splits words ("P agina"), so allow a space there.
_PAGE_NUMBER = re.compile(
    r"""^\s*(?:
        [-–—]?\s*\d{1,4}\s*[-–—]?
      | \d{1,4}\s*/\s*\d{1,4}
      | (?:p\s?agina|page|blz\.?|p\.)\s*\d{1,4}(?:\s*(?:van|of|/)\s*\d{1,4})?
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def clean_text(text: str) -> str:
    """Normalise extracted text: NFC, no invisible characters, no stray HTML tags,
    hyphenation joined, spaces collapsed, lines stripped and paragraphs split by "\\n\\n"."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    # A soft hyphen at a line end marks a hyphenation point: join without a space.
    text = re.sub(rf"{_SOFT_HYPHEN}[ \t]*\n[ \t]*", "", text)
    text = text.replace(_SOFT_HYPHEN, "")
    text = _ZERO_WIDTH.sub("", text)
    text = _UNICODE_SPACES.sub(" ", text)
    text = text.replace("\t", " ")
    text = _CONTROL_CHARS.sub("", text)
    text = _PRIVATE_USE.sub("•", text)
    text = strip_html_tags(text)
    text = join_hyphenation(text)
    return tidy_whitespace(text)


def strip_html_tags(text: str) -> str:
    """Remove HTML tags and comments but keep the text between them."""
    if "<" not in text:
        return text
    text = _HTML_COMMENT.sub("", text)

    def replace(match: re.Match[str]) -> str:
        return "\n" if match.group(1).lower() in _LINE_BREAKING_TAGS else ""

    return _HTML_TAG.sub(replace, text)


def join_hyphenation(text: str) -> str:
    """Join words split over two lines by a hyphen.

    "verant-\\nwoordelijk" -> "verantwoordelijk"; when the second part starts with a
    capital or digit the hyphen belongs to the word: "Noord-\\nHolland" -> "Noord-Holland".
    Bullets ("- item") and dashes (" – ") are untouched because a letter must precede
    the hyphen; "zorg-\\nen welzijn" keeps its hyphen and space.
    """

    def replace(match: re.Match[str]) -> str:
        before, following = match.group(1), match.group(2)
        if following.lower().rstrip(",;:") in _CONJUNCTIONS:
            return f"{before}- "
        # "SER-verkenning", "CO2-uitstoot", "Noord-Holland": the hyphen is part of the word.
        keeps_hyphen = any(c.isdigit() for c in before) or (len(before) > 1 and before.isupper())
        if (
            following[0].isupper()
            or following[0].isdigit()
            or (keeps_hyphen and following[0].isalpha())
        ):
            return f"{before}-"
        if following[0].islower():
            return before
        return match.group(0)  # e.g. next line starts with a bullet or quote

    return _LINE_END_HYPHEN.sub(replace, text)


def is_page_number(line: str) -> bool:
    """True for a line that is only a page number ("3", "- 3 -", "3/32", "Pagina 3 van 32")."""
    return bool(_PAGE_NUMBER.match(line))


def remove_repeating_lines(
    pages: list[str], *, min_pages: int = 3, ratio: float = 0.5, edge_lines: int = 3
) -> list[str]:
    """Remove running headers/footers and bare page numbers from the pages of one document.

    A line counts as a header/footer when, with digits replaced by '#', it occurs among
    the first or last `edge_lines` non-empty lines of at least `ratio` of the pages (and of
    at least `min_pages` pages). Letterheads are often taller than three lines, so the
    check is repeated on the new edges until nothing more is removed.
    """
    page_lines = [page.split("\n") for page in pages]
    threshold = max(min_pages, math.ceil(ratio * len(pages)))
    if len(pages) >= min_pages:
        repeating: set[str] = set()
        for _ in range(5):  # a few rounds peel off letterheads up to ~15 lines tall
            if not _remove_repeating_edge_lines(page_lines, threshold, edge_lines, repeating):
                break
        _remove_repeating_page_numbers(page_lines, repeating)
    for lines in page_lines:
        _remove_edge_page_numbers(lines)
    return ["\n".join(lines).strip("\n") for lines in page_lines]


def _line_key(line: str) -> str:
    """Comparable form of a line: "Pagina 3 van 10" and "Pagina 4 van 10" share a key."""
    key = re.sub(r"\d+", "#", line.strip().lower())
    return re.sub(r"\s+", " ", key)


def _edge_indices(lines: list[str], edge_lines: int) -> list[int]:
    non_empty = [i for i, line in enumerate(lines) if line.strip()]
    if len(non_empty) <= 2 * edge_lines:
        return non_empty
    return non_empty[:edge_lines] + non_empty[-edge_lines:]


def _remove_repeating_edge_lines(
    page_lines: list[list[str]], threshold: int, edge_lines: int, repeating: set[str]
) -> bool:
    """One round; `repeating` keeps keys from earlier rounds, because a page whose header
    sits lower (page 1 with its letterhead) only exposes the line in a later round."""
    edges = [_edge_indices(lines, edge_lines) for lines in page_lines]
    counts: Counter[str] = Counter()
    for lines, indices in zip(page_lines, edges, strict=True):
        counts.update({_line_key(lines[i]) for i in indices})
    repeating.update(key for key, n in counts.items() if n >= threshold)
    removed = False
    for lines, indices in zip(page_lines, edges, strict=True):
        for i in reversed(indices):
            if _line_key(lines[i]) in repeating:
                del lines[i]
                removed = True
    return removed


def _remove_repeating_page_numbers(page_lines: list[list[str]], repeating: set[str]) -> None:
    """A running "Pagina 1 van 8" can sit mid-page on page 1, below the address block."""
    for lines in page_lines:
        lines[:] = [
            line for line in lines if not (is_page_number(line) and _line_key(line) in repeating)
        ]


def _remove_edge_page_numbers(lines: list[str]) -> None:
    """Drop page-number-only lines at the very top and bottom of a page."""
    for _ in range(2):  # e.g. "- 3 -" above a footer line that was already removed
        non_empty = [i for i, line in enumerate(lines) if line.strip()]
        if not non_empty:
            return
        first, last = non_empty[0], non_empty[-1]
        doomed = {i for i in (first, last) if is_page_number(lines[i])}
        if not doomed:
            return
        for i in sorted(doomed, reverse=True):
            del lines[i]
