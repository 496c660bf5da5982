"""Optional reranking stage: a sentence-transformers CrossEncoder from a local folder.

Off by default: no cross-encoder ships in a package that loads offline here; Bronwijzer's
own reader (assistant/reader.py) already reorders the candidates.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from bronwijzer.domain import BronwijzerError, ScoredPassage

Reranker = Callable[[str, list[ScoredPassage]], list[ScoredPassage]]


class CrossEncoderReranker:
    """Callable: (question, passages) -> passages reordered by cross-encoder score."""

    def __init__(self, path: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import CrossEncoder

        if not Path(path).expanduser().is_dir():
            raise BronwijzerError(f"BRONWIJZER_RERANKER_MODEL={path!r}: not a model folder")
        try:
            self.model = CrossEncoder(str(Path(path).expanduser()), device="cpu")
        except Exception as exc:
            raise BronwijzerError(
                f"BRONWIJZER_RERANKER_MODEL={path!r} could not be loaded ({type(exc).__name__})"
            ) from exc

    def __call__(self, question: str, passages: list[ScoredPassage]) -> list[ScoredPassage]:
        scores = self.model.predict([(question, p.passage.text) for p in passages])
        rescored = [
            ScoredPassage(p.passage, float(s), p.signals | {"rerank": float(s)})
            for p, s in zip(passages, scores, strict=True)
        ]
        return sorted(rescored, key=lambda p: p.score, reverse=True)


def load_reranker(spec: str) -> Reranker | None:
    """BRONWIJZER_RERANKER_MODEL: empty (none) or a sentence-transformers CrossEncoder folder."""
    return CrossEncoderReranker(spec) if spec else None
