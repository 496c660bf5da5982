"""Large indexes for the scale benchmarks, built from real passages of ../shared/corpus.

Nothing is embedded here: every passage of the source index (an ingest of
../shared/corpus) is copied with a new document, new ids, one sentence left out
(light textual variation) and a slightly perturbed, re-normalised copy of its
stored vector. The copies go through the product's own write path
(`Index.add` with precomputed vectors, then `publish_lexical`), so the indexes
that are measured are the ones the product would build, except that they carry no
sentence vectors: those would have to be embedded (hours at 100k passages), so the
scale numbers are for passage retrieval (BRONWIJZER_SENTENCE_VECTORS=false).

Indexes are cached under bench/cache/scale-<n>/ and reused while the source
index (its generation and passage count) is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

CACHE_VERSION = 1
NOISE = 0.01  # per-dimension σ of the vector perturbation: cosine to the original ≈ 0.98


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {"n": 0}
    return {"n": len(ordered), "p50": round(statistics.median(ordered), 1),
            "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
            "max": round(ordered[-1], 1)}


# --- source ---------------------------------------------------------------------------
def source_rows(index: Any) -> list[tuple[Any, list[Any], np.ndarray]]:
    """[(DocumentRecord, passages, vectors)] of the source index, in catalogue order."""
    passages = list(index.catalog.iter_passages())
    vectors: dict[str, np.ndarray] = {}
    ids = [p.id for p in passages]
    for start in range(0, len(ids), 500):
        got = index._collection.get(ids=ids[start : start + 500], include=["embeddings"])
        for pid, vector in zip(got["ids"], got["embeddings"], strict=True):
            vectors[pid] = np.asarray(vector, dtype=np.float32)
    by_document: dict[str, list[Any]] = {}
    for passage in passages:
        by_document.setdefault(passage.document_id, []).append(passage)
    rows = []
    for record in index.catalog.documents():
        members = by_document.get(record.id, [])
        if members and all(p.id in vectors for p in members):
            rows.append((record, members, np.vstack([vectors[p.id] for p in members])))
    return rows


def source_key(index: Any) -> dict[str, Any]:
    stats = index.stats()
    return {"version": CACHE_VERSION, "source_passages": stats.passages,
            "source_generation": stats.generation, "embedding_model": stats.embedding_model}


# --- variation --------------------------------------------------------------------------
def vary_text(text: str, copy: int) -> str:
    """Leave out one sentence (which one depends on the copy); short passages stay as is."""
    from bronwijzer.text import sentence_spans

    spans = list(sentence_spans(text))
    if copy == 0 or len(spans) < 3:
        return text
    drop = copy % len(spans)
    return " ".join(text[s:e].strip() for n, (s, e) in enumerate(spans) if n != drop)


def vary_vectors(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = vectors + rng.normal(0.0, NOISE, vectors.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def synthetic_documents(rows: list[tuple[Any, list[Any], np.ndarray]], size: int,
                        *, first_copy: int = 0, seed: int = 6
                        ) -> Iterator[tuple[Any, list[Any], np.ndarray]]:
    """(Document, passages, vectors) until `size` passages; copy 0 is the source itself."""
    from bronwijzer.domain import Document

    rng = np.random.default_rng(seed + first_copy)
    produced = 0
    copy = first_copy
    while produced < size:
        for record, passages, vectors in rows:
            take = min(len(passages), size - produced)
            if take <= 0:
                return
            suffix = "" if copy == 0 else f"#variant-{copy}"
            sha = hashlib.sha256(f"{record.sha256}{suffix}".encode()).hexdigest()
            title = record.title if copy == 0 else f"{record.title} (variant {copy})"
            name = record.name if copy == 0 else f"v{copy:03d}-{record.name}"
            document = Document(path=record.path + suffix, name=name, sha256=sha,
                                title=title, blocks=[], publisher=record.publisher,
                                year=record.year, document_type=record.document_type,
                                pages=record.pages)
            copies = [
                replace(p, id=f"{document.id}-{sha[:8]}-{p.ordinal:04d}",
                        document_id=document.id, document=name, title=title,
                        text=vary_text(p.text, copy))
                for p in passages[:take]
            ]
            chosen = vectors[:take] if copy == 0 else vary_vectors(vectors[:take], rng)
            produced += take
            yield document, copies, chosen
        copy += 1


# --- building ---------------------------------------------------------------------------
def build_scaled(source_dir: Path, target: Path, size: int, embeddings: Any,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """The cached index of `size` passages at `target` (built when missing or stale)."""
    from presentation.settings import Settings
    from store.index import Index

    source = Index(Settings.from_env({}, index_dir=source_dir).index, embeddings=embeddings)
    key = source_key(source) | {"size": size}
    marker = target / "bench-scale.json"
    if marker.exists():
        recorded = json.loads(marker.read_text("utf-8"))
        if {k: recorded.get(k) for k in key} == key:
            source.close()
            return recorded
    log(f"  building {size} passages in {target} (cached for later runs) …")
    rows = source_rows(source)
    source.close()
    building = target.with_name(target.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    options = Settings.from_env({}, index_dir=building, sentence_vectors=False).index
    index = Index(options, create=True, embeddings=embeddings)
    started = time.perf_counter()
    documents = 0
    with index.write_lock():
        for document, passages, vectors in synthetic_documents(rows, size):
            index.add(document, passages, vectors)
            documents += 1
        add_seconds = time.perf_counter() - started
        started = time.perf_counter()
        index.publish_lexical()
        publish_seconds = time.perf_counter() - started
    passages_total = index.stats().passages
    index.close()
    building.rename(target)
    recorded = key | {"documents": documents, "passages": passages_total,
                      "add_seconds": round(add_seconds, 1),
                      "publish_seconds": round(publish_seconds, 1),
                      "disk_mb": round(disk_mb(target))}
    marker.write_text(json.dumps(recorded, indent=2))
    log(f"  built {passages_total} passages / {documents} documents: add {add_seconds:.0f} s, "
        f"publish BM25 {publish_seconds:.1f} s")
    return recorded


def disk_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


# --- query latency at one size ------------------------------------------------------------
def bench_latency(index_dir: Path, embeddings: Any, questions: list[str], repeat: int
                  ) -> dict[str, Any]:
    """Retrieval (bm25, dense, hybrid) and the whole extractive answer, in-process."""
    from assistant.pipeline import build_assistant
    from assistant.retrieve import HybridRetriever
    from presentation.settings import Settings
    from store.index import Index

    settings = Settings.from_env({}, index_dir=index_dir)
    started = time.perf_counter()
    index = Index(settings.index, embeddings=embeddings)
    index.lexical()
    open_seconds = time.perf_counter() - started
    assistant = build_assistant(settings, index=index)
    for question in questions[:3]:  # warm lazy loads (Chroma segments, BM25 arrays)
        assistant.ask(question)
    result: dict[str, Any] = {"passages": index.stats().passages,
                              "open_seconds": round(open_seconds, 2)}
    for mode in ("bm25", "dense", "hybrid"):
        retriever = HybridRetriever(index, settings.retrieval, mode=mode)
        samples, cpu, steps = [], [], {}
        for _ in range(repeat):
            for question in questions:
                t, c = time.perf_counter(), time.process_time()
                retrieval = retriever(question)
                samples.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
                for name, ms in retrieval.timings.items():
                    steps.setdefault(name, []).append(ms)
        result[f"retrieval_{mode}_ms"] = percentiles(samples)
        # CPU time of the process (all threads): the work, independent of waiting for a
        # core on a shared machine
        result[f"retrieval_{mode}_cpu_ms"] = percentiles(cpu)
        result[f"retrieval_{mode}_steps_p50_ms"] = {
            name: round(statistics.median(v), 1) for name, v in steps.items()}
    # the extractive answer: the first round has a cold sentence-embedding cache (a new
    # question), later rounds hit the answerer's cache; both are reported
    assistant = build_assistant(settings, index=index)
    rounds: list[list[float]] = []
    cpu_first: list[float] = []
    steps = {}
    for round_number in range(repeat):
        samples = []
        for question in questions:
            t, c = time.perf_counter(), time.process_time()
            answer = assistant.ask(question)
            samples.append((time.perf_counter() - t) * 1000)
            if round_number == 0:
                cpu_first.append((time.process_time() - c) * 1000)
            for name, ms in answer.timings.items():
                steps.setdefault(name, []).append(ms)
        rounds.append(samples)
    result["extractive_answer_ms"] = percentiles([s for r in rounds for s in r])
    result["extractive_answer_first_round_ms"] = percentiles(rounds[0])
    result["extractive_answer_first_round_cpu_ms"] = percentiles(cpu_first)
    result["extractive_answer_steps_p50_ms"] = {
        name: round(statistics.median(v), 1) for name, v in steps.items()}
    index.close()
    return result


# --- BM25 rebuild after adding one document ---------------------------------------------------
def bench_rebuild(index_dir: Path, scratch: Path, embeddings: Any, repeat: int
                  ) -> dict[str, Any]:
    """Add one new document to a copy of the index and time `publish_lexical` and its parts."""
    from bronwijzer.domain import embedding_text
    from presentation.settings import Settings
    from store.index import Index
    from store.lexical import LexicalIndex

    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(index_dir, scratch)
    settings = Settings.from_env({}, index_dir=scratch, sentence_vectors=False)
    index = Index(settings.index, embeddings=embeddings)
    rows = source_rows(index)[:40]  # copy-0 documents of the scaled index (the originals)
    rows = [r for r in rows if "#variant-" not in r[0].path][:1] or rows[:1]
    samples: dict[str, list[float]] = {}

    def timed(name: str, call: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        value = call()
        samples.setdefault(name, []).append((time.perf_counter() - t) * 1000)
        return value

    passages_per_document = 0
    for n in range(repeat):
        document, passages, vectors = next(
            synthetic_documents(rows, len(rows[0][1]), first_copy=10_000 + n))
        passages_per_document = len(passages)
        with index.write_lock():
            timed("add_document", lambda: index.add(document, passages, vectors))  # noqa: B023
            timed("publish_lexical_total", index.publish_lexical)
        # the same work step by step, to see where it goes
        everything = timed("catalog_iter_passages", lambda: list(index.catalog.iter_passages()))
        texts = timed("embedding_texts", lambda: [embedding_text(p) for p in everything])  # noqa: B023
        lexical = timed("bm25_build", lambda: LexicalIndex.build(
            everything, texts, generation=-1, stemmer="dutch_porter"))  # noqa: B023
        target = scratch / f"probe-{n}"
        timed("bm25_save", lambda: lexical.save(target))  # noqa: B023
        timed("bm25_load_by_reader", lambda: LexicalIndex.load(target))  # noqa: B023
        shutil.rmtree(target, ignore_errors=True)
    result = {"passages": index.stats().passages, "new_document_passages": passages_per_document}
    result |= {f"{name}_ms": percentiles(v) for name, v in samples.items()}
    index.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return result
