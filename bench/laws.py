"""The part `laws`: one law with 50 versions, ingested once, searched only in force.

The 50 versions are generated here from a bundled regelrecht version (the Wet bijzondere
maatregelen grootstedelijke problematiek, 16 articles): version k starts k half-years
after 2001-01-01, and amends one article (in turn) with a dated sentence, as amending
acts do; the rest of the text is the same in every version (the 51st, added last,
starts 2026-01-01 and is the one in force). Measured, each in a fresh
index with its own empty vector cache:

- the first ingest of all 50 versions, a rerun (every version unchanged: skipped by its
  content hash), and adding a 51st version (one added, the others untouched);
- an index of the latest version alone, for comparison: passages and disk size;
- hybrid retrieval latency for the same questions on both indexes (the 50-version index
  searches only the version in force), and a check that every passage of the law found
  comes from the version in force on the asked date (today, and a date in the middle).
"""

from __future__ import annotations

import datetime
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.machine import load_average, timed
from bench.paths import PROJECT

LAW = PROJECT / "corpus" / ("wet_bijzondere_maatregelen_grootstedelijke_problematiek_"
                            "BWBR0019388_2026-06-04.yaml")
VERSIONS = 50
FIRST = datetime.date(2001, 1, 1)  # the 51st version starts 2026-01-01: in force today


def start_of(k: int) -> datetime.date:
    return datetime.date(FIRST.year + k // 2, 1 + 6 * (k % 2), 1)


def write_versions(folder: Path, count: int) -> list[Path]:
    """`count` versions of LAW as regelrecht files (wet/<law>/<valid_from>.yaml)."""
    base = yaml.safe_load(LAW.read_text("utf-8"))
    target = folder / "wet" / base["$id"]
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        start = start_of(k).isoformat()
        data = dict(base, valid_from=start, url=f"https://wetten.overheid.nl/{base['bwb_id']}/"
                                                 f"{start}")
        articles = [dict(a, url=f"{data['url']}#Artikel{a['number']}") for a in base["articles"]]
        amended = articles[k % len(articles)]
        amended["text"] = (f"{amended['text']}\n\nDit artikel is gewijzigd met ingang van "
                           f"{start} (wijziging {k + 1}).")
        data["articles"] = articles
        path = target / f"{start}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
        paths.append(path)
    return paths


def questions() -> list[str]:
    """The opening words of each article, as a question would name its subject."""
    base = yaml.safe_load(LAW.read_text("utf-8"))
    found = []
    for article in base["articles"]:
        words = " ".join(article["text"].split()).lstrip("0123456789 ").split()[:12]
        found.append(" ".join(words).rstrip(",.;:") + "?")
    return found


def bench_laws(repeat: int) -> dict[str, Any]:
    from assistant.retrieve import HybridRetriever
    from ingest.pipeline import Ingestor
    from presentation.settings import Settings
    from store.index import Index
    from store.sources import SourceCatalogue

    work = Path(tempfile.mkdtemp(prefix="bench-laws-"))
    load_before = load_average()
    try:
        paths = write_versions(work / "regelrecht", VERSIONS + 1)
        many, extra = paths[:VERSIONS], paths[VERSIONS]

        def index_at(name: str) -> tuple[Settings, Index]:
            settings = Settings.from_env({}, index_dir=work / name, reader="off",
                                         vector_cache=str(work / f"{name}-vectors.sqlite3"))
            return settings, Index(settings.index, create=True)

        settings, index = index_at("fifty")
        ingest = Ingestor(index, sources=SourceCatalogue([]))
        first = _timed_ingest(ingest, many)
        again = _timed_ingest(ingest, many)
        added = _timed_ingest(ingest, [*many, extra])
        one_settings, one = index_at("one")
        single = _timed_ingest(Ingestor(one, sources=SourceCatalogue([])), [extra])

        asked = questions()
        fifty = HybridRetriever(index, settings.retrieval)
        alone = HybridRetriever(one, one_settings.retrieval)
        middle = start_of(VERSIONS // 2) + datetime.timedelta(days=30)
        wrong = _wrong_versions(fifty, asked, datetime.date.today(), extra.name)
        wrong += _wrong_versions(fifty, asked, middle, paths[VERSIONS // 2].name)
        result = {
            "law": LAW.name, "versions": VERSIONS + 1, "questions": len(asked),
            "ingest_50_versions": first, "rerun_50_unchanged": again,
            "add_51st_version": added, "one_version_ingest": single,
            "index_all_versions": _size(index, work / "fifty"),
            "index_one_version": _size(one, work / "one"),
            "retrieval_all_versions_ms": _latency(fifty, asked, repeat),
            "retrieval_one_version_ms": _latency(alone, asked, repeat),
            "passages_from_a_version_not_in_force": wrong,
            "load_average_before": load_before,
            "load_average_after": load_average(),
        }
        index.close()
        one.close()
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _timed_ingest(ingest: Any, paths: list[Path]) -> dict[str, Any]:
    started = time.perf_counter()
    report = ingest(paths)
    return {"seconds": round(time.perf_counter() - started, 2),
            **{status: report.count(status) for status in ("added", "unchanged", "failed")},
            "new_passages": report.new_passages()}


def _size(index: Any, folder: Path) -> dict[str, Any]:
    stats = index.stats()
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {"documents": stats.documents, "passages": stats.passages,
            "disk_mb": round(size / 2**20, 1)}


def _latency(retriever: Any, asked: list[str], repeat: int) -> dict[str, float]:
    retriever(asked[0])  # load the model and the BM25 snapshot before timing
    latency = timed(retriever, asked, repeat)
    return {"p50": latency["p50"], "p95": latency["p95"]}


def _wrong_versions(retriever: Any, asked: list[str], on: datetime.date, in_force: str) -> int:
    """Passages found that belong to another version than the one in force on `on`."""
    from bronwijzer.domain import Filters

    suffix = in_force.removesuffix(".yaml")  # the document name ends in <valid_from>
    wrong = 0
    for question in asked:
        for scored in retriever(question, 10, Filters(valid_on=on)).passages:
            if not scored.passage.document.endswith(f"{suffix}.yaml"):
                wrong += 1
    return wrong


def print_laws(data: dict[str, Any]) -> None:
    many, one = data["index_all_versions"], data["index_one_version"]
    print(f"\n== a law with {data['versions'] - 1} versions ({data['law']}) ==\n"
          f"  ingest 50 versions: {data['ingest_50_versions']['seconds']} s "
          f"({data['ingest_50_versions']['new_passages']} passages); rerun, all unchanged: "
          f"{data['rerun_50_unchanged']['seconds']} s; +1 version: "
          f"{data['add_51st_version']['seconds']} s ({data['add_51st_version']['added']} "
          f"added, {data['add_51st_version']['unchanged']} unchanged)\n"
          f"  index: {many['passages']} passages, {many['disk_mb']} MB for "
          f"{many['documents']} versions; {one['passages']} passages, {one['disk_mb']} MB "
          f"for one\n"
          f"  hybrid retrieval p50 / p95: {data['retrieval_all_versions_ms']['p50']} / "
          f"{data['retrieval_all_versions_ms']['p95']} ms (all versions, in force searched) "
          f"vs {data['retrieval_one_version_ms']['p50']} / "
          f"{data['retrieval_one_version_ms']['p95']} ms (one version)\n"
          f"  passages from a version not in force: "
          f"{data['passages_from_a_version_not_in_force']}; load average "
          f"{data['load_average_before']} → {data['load_average_after']}")
