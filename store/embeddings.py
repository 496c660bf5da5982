"""The one embeddings interface: LangChain's `Embeddings`, plus what Bronwijzer needs.

Every model reports its real token limit and counts tokens with its own tokenizer, so
the chunker can keep passages inside the limit instead of letting the model truncate
them silently. Backends: store/embed_local.py (in this process) and
store/embed_remote.py (an endpoint); store/embedders.py picks one by name.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
from langchain_core.embeddings import Embeddings


class PassageEmbeddings(Embeddings):
    """An `Embeddings` that also knows its name, dimension and token limit."""

    name: str  # the model's identity, recorded in the index
    engine: str = "sentence-transformers"  # what runs it (informational: same model, any engine)
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

    @property
    def fingerprint(self) -> str:
        """The model and the build of its weights: what a cached vector depends on."""
        return self.name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_query(text).tolist()
