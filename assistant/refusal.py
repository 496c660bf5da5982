"""When to refuse and when to caution: judged on the evidence the answerer would get.

The signal is the e5 similarity between the question and the best passage of the
index (within the filters). A hybrid or dense retrieval already measured it; after a
BM25-only retrieval the policy asks the store for that one best passage itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.answer import AnswerOptions
from assistant.retrieve import Retrieval
from ingest.store import Index


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
        refuse = not retrieval.passages or evidence < self.options.refusal_threshold
        return Verdict(refuse, not refuse and evidence < self.options.caution_threshold,
                       evidence)

    def evidence(self, retrieval: Retrieval) -> float:
        if retrieval.best_dense is not None:
            return float(retrieval.best_dense)
        best = self.index.dense_search(retrieval.query_vector, 1, retrieval.filters)
        return best[0][1] if best else 0.0
