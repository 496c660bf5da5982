"""The verifier: e5 fine-tuned to judge whether a passage answers a question.

No cross-encoder, NLI model or Dutch LLM loads offline here, so Bronwijzer grows its own:
multilingual-e5-small (the converted torch weights, see ingest/e5convert.py) reads the
question and a passage together, `<s> query: … </s></s> passage: … </s>`, and a linear
head on its mean-pooled output gives one logit: does this passage answer the question?
`bronwijzer eval train-verifier` (`make verifier`) trains it on the tune halves of the
eval sets (evals/verifier_fit.py); the weights go to the user's cache, never the repo.

As the reranker (BRONWIJZER_RERANKER_MODEL=verifier) it reorders the retrieved passages
by its logit plus `PRIOR` × −log(rank): a few hundred training questions teach it less
than the retrieval already knows, so the retrieval's order stays a prior.
"""

from __future__ import annotations

import json
import math
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bronwijzer.domain import BronwijzerError, Passage, ScoredPassage
from bronwijzer.settings import user_cache_dir

MANIFEST = "verifier.json"
WEIGHTS = "verifier.safetensors"
MAX_TOKENS = 256  # a question and one passage (passages are ≤ 220 tokens)
QUESTION_TOKENS = 48
# weight of the retrieval's own ranking; chosen on the tune halves by two-fold
# cross-validation among 0, 0.5, 1 and 2 (README)
PRIOR = 1.0
FROZEN = "embeddings.word_embeddings.weight"  # 96M of e5's 118M weights: not trained


def default_folder() -> Path:
    """Where `make verifier` writes and BRONWIJZER_RERANKER_MODEL=verifier reads."""
    return user_cache_dir() / "verifier"


def passage_text(passage: Passage) -> str:
    head = " · ".join(part for part in (passage.title, passage.section) if part)
    return f"passage: {head}\n{passage.text}"


def pair_batch(tokenizer: Any, question: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask of (question, text) pairs, the text cut to fit."""
    asked = tokenizer.encode("query: " + question, add_special_tokens=False).ids
    asked = asked[:QUESTION_TOKENS]
    room = MAX_TOKENS - len(asked) - 4
    rows = [[0, *asked, 2, 2, *e.ids[:room], 2]
            for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), 1, dtype=np.int64)  # <pad> = 1
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for n, row in enumerate(rows):
        ids[n, : len(row)] = row
        mask[n, : len(row)] = 1
    return ids, mask


def pair_scorer(e5_folder: Path) -> Any:
    """A torch module: e5 (all 12 layers: cut to 6 it lost to the retrieval) + one logit."""
    import torch
    from transformers import XLMRobertaModel

    class PairScorer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = XLMRobertaModel.from_pretrained(str(e5_folder),
                                                           add_pooling_layer=False)
            self.encoder.embeddings.word_embeddings.weight.requires_grad = False
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

        def forward(self, ids: Any, mask: Any) -> Any:
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1)  # e5's own pooling
            return self.head(pooled.float()).squeeze(-1)

    return PairScorer()


def trained_weights(scorer: Any) -> dict[str, Any]:
    return {name: tensor.detach().contiguous() for name, tensor in scorer.state_dict().items()
            if not name.endswith(FROZEN)}


def save_verifier(scorer: Any, folder: Path, manifest: dict[str, Any]) -> Path:
    """Write weights and manifest under a temporary name, then rename: never half a model."""
    from safetensors.torch import save_file

    folder = Path(folder).expanduser()
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    temporary.mkdir()
    try:
        save_file(trained_weights(scorer), str(temporary / WEIGHTS))
        (temporary / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", "utf-8")
        if folder.exists():
            old = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.old.tmp")
            folder.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        temporary.rename(folder)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return folder


class Verifier:
    """Callable reranker: (question, passages) -> passages by verifier logit + rank prior."""

    def __init__(self, folder: str | Path) -> None:
        import torch
        from safetensors.torch import load_file

        from ingest.e5engine import (
            cpu_has_native_bf16,
            load_tokenizer,
            quiet_transformers,
            thread_count,
        )

        self.folder = Path(folder).expanduser()
        try:
            self.manifest = json.loads((self.folder / MANIFEST).read_text("utf-8"))
            e5_folder = Path(self.manifest["e5_folder"])
        except (OSError, ValueError, KeyError) as exc:
            raise BronwijzerError(f"{self.folder}: not a verifier folder ({exc}); "
                                  "build one with `make verifier`") from None
        if not (e5_folder / "config.json").is_file():
            raise BronwijzerError(f"{self.folder}: its e5 model {e5_folder} is gone; "
                                  "rebuild it with `make verifier`")
        quiet_transformers()
        if torch.get_num_threads() != thread_count():
            torch.set_num_threads(thread_count())
        self.tokenizer = load_tokenizer(e5_folder)
        self.scorer = pair_scorer(e5_folder).eval()
        missing, unexpected = self.scorer.load_state_dict(
            load_file(str(self.folder / WEIGHTS)), strict=False)
        if unexpected or [m for m in missing if not m.endswith(FROZEN)]:
            raise BronwijzerError(f"{self.folder / WEIGHTS}: weights do not fit e5-small")
        self.prior = float(self.manifest.get("prior", PRIOR))
        self.bf16 = cpu_has_native_bf16()  # as the e5 engine: emulated bf16 is slower

    def scores(self, question: str, passages: list[Passage]) -> list[float]:
        import torch

        if not passages:
            return []
        ids, mask = pair_batch(self.tokenizer, question, [passage_text(p) for p in passages])
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16,
                                                     enabled=self.bf16):
            logits = self.scorer(torch.from_numpy(ids), torch.from_numpy(mask))
        return [float(x) for x in logits.float()]

    def __call__(self, question: str, passages: list[ScoredPassage]) -> list[ScoredPassage]:
        logits = self.scores(question, [s.passage for s in passages])
        rescored = [
            ScoredPassage(s.passage, logit - self.prior * math.log(rank),
                          s.signals | {"verifier": logit})
            for rank, (s, logit) in enumerate(zip(passages, logits, strict=True), start=1)
        ]
        return sorted(rescored, key=lambda s: s.score, reverse=True)
