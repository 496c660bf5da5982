"""Optional reranking stage: a sentence-transformers CrossEncoder from a local folder.

Off by default: no cross-encoder ships in a package that loads offline here; Bronwijzer's
own reader (assistant/reader.py) already reorders the candidates.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bronwijzer.domain import BronwijzerError, ScoredPassage
from bronwijzer.settings import Options, env_name, option

Reranker = Callable[[str, list[ScoredPassage]], list[ScoredPassage]]


@dataclass(frozen=True)
class RerankOptions(Options):
    title = "Rerank"

    reranker_model: str = option(
        "", "Reranker after the reader: empty = none (the default), or a local "
        "sentence-transformers CrossEncoder folder."
    )


class CrossEncoderReranker:
    """Callable: (question, passages) -> passages reordered by cross-encoder score."""

    def __init__(self, path: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import CrossEncoder

        if not Path(path).expanduser().is_dir():
            raise BronwijzerError(f"{env_name('reranker_model')}={path!r}: not a model folder")
        try:
            self.model = CrossEncoder(str(Path(path).expanduser()), device="cpu")
        except Exception as exc:
            raise BronwijzerError(
                f"{env_name('reranker_model')}={path!r} could not be loaded "
                f"({type(exc).__name__})"
            ) from exc

    def __call__(self, question: str, passages: list[ScoredPassage]) -> list[ScoredPassage]:
        scores = self.model.predict([(question, p.passage.text) for p in passages])
        rescored = [
            ScoredPassage(p.passage, float(s), p.signals | {"rerank": float(s)})
            for p, s in zip(passages, scores, strict=True)
        ]
        return sorted(rescored, key=lambda p: p.score, reverse=True)


def load_reranker(options: RerankOptions) -> Reranker | None:
    """None, or the CrossEncoder in the folder `reranker_model` names."""
    return CrossEncoderReranker(options.reranker_model) if options.reranker_model else None
