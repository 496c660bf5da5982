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
from bronwijzer.text import flatten_whitespace, split_sentences, stems

log = logging.getLogger(__name__)

MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# sentences of one passage quoted under one marker are joined by this in Citation.quote
QUOTE_JOIN = " … "


@dataclass(frozen=True)
class CitedText:
    text: str
    citations: list[Citation]
    invalid_markers: list[int]


def cite_quotes(quotes: list[tuple[str, ScoredPassage]]) -> CitedText:
    """Extractive answers: each quote is followed by the marker of its passage."""
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    for quote, scored in quotes:
        passage = scored.passage
        if passage.id not in numbers:
            numbers[passage.id] = len(numbers) + 1
            citations.append(_citation(numbers[passage.id], scored, [quote]))
        else:
            n = numbers[passage.id]
            old = citations[n - 1]
            citations[n - 1] = _citation(n, scored, [old.quote, quote])
        parts.append(f"{quote} [{numbers[passage.id]}]")
    return CitedText(" ".join(parts), citations, [])


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
        citations.append(_citation(n, scored, [best_supporting_sentence(claims, scored)]))
    return CitedText(cleaned, citations, invalid)


def _sentences_citing(text: str, n: int) -> str:
    marker = f"[{n}]"
    return " ".join(s for s in split_sentences(text) if marker in s) or text


def best_supporting_sentence(claim: str, scored: ScoredPassage) -> str:
    """The passage sentence sharing most content words with the claim: the quote to show."""
    claim_stems = set(stems(MARKER.sub("", claim)))
    sentences = split_sentences(scored.passage.text) or [scored.passage.text]
    return max(sentences, key=lambda s: len(claim_stems & set(stems(s))))


def _citation(n: int, scored: ScoredPassage, quotes: list[str]) -> Citation:
    passage = scored.passage
    return Citation(
        n=n, passage_id=passage.id, document=passage.document, title=passage.title,
        page=passage.page, quote=QUOTE_JOIN.join(q for q in quotes if q),
        section=passage.section,
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
