"""Citations: number the passages an answer uses and check every [n] marker.

Whatever produced the text (the extractive answerer or an LLM), markers that do
not point at a provided passage are removed and logged, and the remaining
markers are renumbered 1..m in order of first use.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bronwijzer.domain import Citation, ScoredPassage
from bronwijzer.text import flatten_whitespace, sentence_spans, split_sentences, stems

log = logging.getLogger(__name__)

MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# older answers (stored feedback) joined sentences of one passage with this in one quote
QUOTE_JOIN = " … "


@dataclass(frozen=True)
class CitedText:
    text: str
    citations: list[Citation]
    invalid_markers: list[int]


@dataclass(frozen=True)
class Quote:
    """A contiguous span of a passage's text, and how it reads in the answer."""

    scored: ScoredPassage
    start: int
    end: int
    position: int  # sentence number in the passage: adjacent quotes are merged

    @property
    def text(self) -> str:
        return flatten_whitespace(self.scored.passage.text[self.start:self.end])


def cite_quotes(quotes: list[Quote]) -> CitedText:
    """Extractive answers: each quote, then its own marker. Quotes of the same passage
    that are next to each other become one quote; others get separate citations, so a
    quote never joins text that is not contiguous in its passage."""
    merged: list[Quote] = []
    for quote in quotes:
        last = merged[-1] if merged else None
        if (last and last.scored.passage.id == quote.scored.passage.id
                and quote.position == last.position + 1):
            merged[-1] = Quote(last.scored, last.start, quote.end, quote.position)
        else:
            merged.append(quote)
    citations = [_citation(n, q.scored, q.start, q.end) for n, q in enumerate(merged, start=1)]
    text = " ".join(f"{q.text} [{n}]" for n, q in enumerate(merged, start=1))
    return CitedText(text, citations, [])


def validate_markers(text: str, provided: list[ScoredPassage]) -> CitedText:
    """Check the [n] markers of generated text against the passages it was given (1-based)."""
    invalid: list[int] = []
    renumber: dict[int, int] = {}

    def replace(match: re.Match[str]) -> str:
        kept = []
        for raw in match.group(1).split(","):
            n = int(raw)
            if not 1 <= n <= len(provided):
                invalid.append(n)
                continue
            renumber.setdefault(n, len(renumber) + 1)
            kept.append(renumber[n])
        return "".join(f"[{k}]" for k in dict.fromkeys(kept))

    cleaned = MARKER.sub(replace, text)
    cleaned = re.sub(r"\s+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()
    if invalid:
        log.warning("removed citation markers that point at no provided passage: %s", invalid)
    citations = []
    for original, n in sorted(renumber.items(), key=lambda item: item[1]):
        scored = provided[original - 1]
        claims = _sentences_citing(cleaned, n)
        citations.append(_citation(n, scored, *best_supporting_sentence(claims, scored)))
    return CitedText(cleaned, citations, invalid)


def _sentences_citing(text: str, n: int) -> str:
    marker = f"[{n}]"
    return " ".join(s for s in split_sentences(text) if marker in s) or text


def best_supporting_sentence(claim: str, scored: ScoredPassage) -> tuple[int, int]:
    """The span of the passage sentence sharing most content words with the claim."""
    claim_stems = set(stems(MARKER.sub("", claim)))
    text = scored.passage.text
    spans = sentence_spans(text) or [(0, len(text))]
    return max(spans, key=lambda span: len(claim_stems & set(stems(text[span[0]:span[1]]))))


def _citation(n: int, scored: ScoredPassage, start: int, end: int) -> Citation:
    passage = scored.passage
    return Citation(
        n=n, passage_id=passage.id, document=passage.document, title=passage.title,
        page=passage.page, quote=passage.text[start:end], section=passage.section,
        locator=passage.locator(), start=start, end=end, publisher=passage.publisher,
        year=passage.year, version_date=passage.version_date, valid_from=passage.valid_from,
        url=passage.url,
    )


def quote_parts(quote: str) -> list[str]:
    """The verbatim pieces of a citation quote (each occurs in the passage)."""
    return [part.strip() for part in quote.split(QUOTE_JOIN) if part.strip()]


def marker_numbers(text: str) -> list[int]:
    """Every [n] (and [n, m]) marker number in order of appearance."""
    return [int(n) for match in MARKER.finditer(text) for n in match.group(1).split(",")]


def strip_markers(text: str) -> str:
    """Answer text without its [n] markers: the words alone, on one line."""
    return flatten_whitespace(re.sub(r"\s*" + MARKER.pattern, "", text))
