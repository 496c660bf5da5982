"""Near misses at no writing cost: an answerable question asked without its document.

For an item whose evidence lives in one document D, the same question asked of the
index without D (a filter on all other documents) is a realistic near miss: the topic
is there, the answer is not. Hundreds of these calibrate refusal; they are reported
apart from the hand-written unanswerables. The answer may occasionally also be in
another document (a Kamerbrief quoting a law), so a few "near misses" are answerable:
the rate is a lower bound on what a perfect refuser would score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bronwijzer.domain import Filters
from evals.dataset import Item


@dataclass(frozen=True)
class NearMiss:
    id: str  # the item's id + "-lodo"
    question: str
    left_out: str  # the document whose absence makes the question unanswerable
    filters: Filters
    split: str


def near_misses(items: Sequence[Item], documents: Sequence[str]) -> list[NearMiss]:
    """One near miss per answerable item whose evidence is all in one indexed document."""
    cases = []
    for item in items:
        sources = {e.document for e in item.evidence}
        if not item.answerable or len(sources) != 1:
            continue
        (left_out,) = sources
        others = tuple(d for d in documents if d != left_out)
        if left_out in documents and others:
            cases.append(NearMiss(f"{item.id}-lodo", item.question, left_out,
                                  Filters(documents=others), item.split))
    return cases
