"""Where the benchmarks find their inputs and put their outputs, in one place for all
bench modules."""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
SHARED_CORPUS = PROJECT.parent / "shared" / "corpus"
DATASET = PROJECT / "evals" / "datasets" / "shared_corpus.jsonl"
CACHE = PROJECT / "bench" / "cache"
RESULTS = PROJECT / "bench" / "results.json"
