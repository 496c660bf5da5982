"""When to refuse and when to caution: judged on the evidence the answerer would get.

Two signals:
* the e5 similarity between the question and the best passage of the index (within the
  filters). A hybrid or dense retrieval already measured it; after a BM25-only retrieval
  the policy asks the store for that one best passage itself;
* for a definition question ("Wat is X?", "Wat verstaat de minister onder X?"), whether
  a top passage contains the term X. Short questions get low e5 similarities, so a
  definition whose term the sources use is answered (with a caution when the similarity
  is low), never refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answer import AnswerOptions
from assistant.retrieve import Retrieval
from bronwijzer.text import stems
from ingest.store import Index

DEFINITION = re.compile(
    r"^\s*wat\s+(?:is|zijn|betekent|betekenen|houdt|houden)\s+(?:een\s+|de\s+|het\s+)?"
    r"(?P<term>.+?)(?:\s+in)?\s*\??\s*$"
    r"|^\s*wat\s+(?:verstaat|verstaan|bedoelt|bedoelen)\s+.+?\s+(?:onder|met)\s+"
    r"(?:een\s+|de\s+|het\s+)?(?P<term2>.+?)\s*\??\s*$",
    re.IGNORECASE,
)
TERM_PASSAGES = 3  # the term must occur in one of the passages the answer is drawn from


@dataclass(frozen=True)
class Verdict:
    refuse: bool
    caution: bool  # answer, but say the sources may not answer the question
    evidence: float  # the similarity the verdict rests on


class RefusalPolicy:
    """Callable: Retrieval -> Verdict, with the thresholds of AnswerOptions."""

    def __init__(self, index: Index, options: AnswerOptions) -> None:
        self.index = index
        self.options = options

    def __call__(self, retrieval: Retrieval) -> Verdict:
        evidence = self.evidence(retrieval)
        if not retrieval.passages:
            return Verdict(True, False, evidence)
        if evidence >= self.options.refusal_threshold:
            return Verdict(False, evidence < self.options.caution_threshold, evidence)
        if defined_term_is_present(retrieval):
            return Verdict(False, True, evidence)
        return Verdict(True, False, evidence)

    def evidence(self, retrieval: Retrieval) -> float:
        if retrieval.best_dense is not None:
            return float(retrieval.best_dense)
        best = self.index.dense_search(retrieval.query_vector, 1, retrieval.filters)
        return best[0][1] if best else 0.0


def definition_term(question: str) -> str | None:
    """X of "Wat is X?" or "Wat verstaat … onder X?"; None for other questions."""
    match = DEFINITION.match(question)
    if not match:
        return None
    return (match.group("term") or match.group("term2") or "").strip() or None


def defined_term_is_present(retrieval: Retrieval) -> bool:
    term = definition_term(retrieval.question)
    wanted = set(stems(term)) if term else set()
    return bool(wanted) and any(
        wanted <= set(stems(scored.passage.text))
        for scored in retrieval.passages[:TERM_PASSAGES]
    )
