"""Feedback on answers, stored in SQLite, and its export as evaluation-set candidates.

Every row keeps what is needed to reproduce the answer later: the question, the
answer text, citations, the retrieved passage ids, the settings that shaped the
answer and the index version it came from. Who gave it is not kept: a row carries a
random per-conversation id (never an IP address), and a user name only when the
operator opts in (BRONWIJZER_FEEDBACK_KEEP_USER with login on).

Questions can hold personal data (names, addresses), so rows are kept for a limited
time (BRONWIJZER_FEEDBACK_RETENTION_DAYS) and `purge` deletes older ones; SQLite's
secure_delete overwrites deleted rows in the file instead of leaving them in free pages.

    bronwijzer feedback list
    bronwijzer feedback export --format eval --out candidates.jsonl
    bronwijzer feedback purge [--older-than DAYS]
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.cite import quote_parts, strip_markers
from bronwijzer.domain import Answer, BronwijzerError
from bronwijzer.files import add_missing_columns

RATINGS = {
    "up": "goed antwoord",
    "down": "slecht antwoord",
    "wrong_source": "bron klopt niet",
}

SCHEMA = """
create table if not exists feedback (
    id integer primary key autoincrement,
    created_at text not null,
    rating text not null,
    comment text not null default '',
    question text not null,
    rewritten_question text,
    answer text not null,
    refused integer not null,
    citations_json text not null,
    passage_ids_json text not null,
    settings_json text not null,
    index_generation integer,
    embedding_model text,
    session_id text not null default '',
    user text
);
"""
# columns added after the first release: databases created before them get them on open
ADDED_COLUMNS = {"session_id": "text not null default ''", "user": "text"}
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"  # local time, sortable as text
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class FeedbackRow:
    id: int
    created_at: str
    rating: str
    comment: str
    question: str
    rewritten_question: str | None
    answer: str
    refused: bool
    citations: list[dict[str, Any]]
    passage_ids: list[str]
    settings: dict[str, Any]
    index_generation: int | None
    embedding_model: str | None
    session_id: str = ""
    user: str | None = None


class FeedbackStore:
    """A small SQLite table; one connection shared by the web app's threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30,
                                         isolation_level=None)
            # deleted rows are overwritten, not left readable in the file's free pages
            self._conn.execute("pragma secure_delete = on")
            self._conn.executescript(SCHEMA)
            add_missing_columns(self._conn, "feedback", ADDED_COLUMNS)
        except sqlite3.DatabaseError as exc:
            raise BronwijzerError(f"{self.path}: cannot open feedback database ({exc})") from None

    def add(self, answer: Answer, rating: str, *, comment: str = "",
            settings_snapshot: dict[str, Any] | None = None,
            index_generation: int | None = None, embedding_model: str | None = None,
            session_id: str = "", user: str | None = None) -> int:
        """Store one rating; `session_id` is a random id of the conversation, `user` is set
        only when the operator chose to keep user names."""
        if rating not in RATINGS:
            raise ValueError(f"unknown rating {rating!r}; expected one of {sorted(RATINGS)}")
        row = (
            time.strftime(TIME_FORMAT), rating, comment.strip()[:2000], answer.question,
            answer.rewritten_question, answer.text, int(answer.refused),
            json.dumps([c.to_dict() for c in answer.citations], ensure_ascii=False),
            json.dumps([s.passage.id for s in answer.passages]),
            json.dumps(settings_snapshot or {}, ensure_ascii=False, default=str),
            index_generation, embedding_model, session_id, user,
        )
        with self._lock:
            cursor = self._conn.execute(
                "insert into feedback (created_at, rating, comment, question, rewritten_question,"
                " answer, refused, citations_json, passage_ids_json, settings_json,"
                " index_generation, embedding_model, session_id, user)"
                " values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row,
            )
            return int(cursor.lastrowid or 0)

    def rows(self) -> list[FeedbackRow]:
        with self._lock:
            cursor = self._conn.execute(
                "select id, created_at, rating, comment, question, rewritten_question, answer,"
                " refused, citations_json, passage_ids_json, settings_json, index_generation,"
                " embedding_model, session_id, user from feedback order by id"
            )
            records = cursor.fetchall()
        return [FeedbackRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]),
                            json.loads(r[8]), json.loads(r[9]), json.loads(r[10]), r[11], r[12],
                            r[13], r[14])
                for r in records]

    def purge(self, older_than_days: float, *, now: float | None = None) -> int:
        """Delete rows created more than `older_than_days` ago; returns how many."""
        if older_than_days < 0:
            raise BronwijzerError(f"cannot purge feedback older than {older_than_days} days")
        moment = time.time() if now is None else now
        cutoff = time.strftime(TIME_FORMAT, time.localtime(moment - older_than_days * DAY_SECONDS))
        with self._lock:
            cursor = self._conn.execute("delete from feedback where created_at < ?", (cutoff,))
        return int(cursor.rowcount or 0)

    def close(self) -> None:
        self._conn.close()


# --- export as evaluation-set candidates ---------------------------------------------
def eval_candidates(rows: list[FeedbackRow]) -> Iterator[dict[str, Any]]:
    """One candidate per (question, rating), latest feedback wins.

    Candidates use exactly the fields of evals/datasets/*.jsonl (the loader rejects
    others). A 👍 on an answer yields a complete item; complaints are tagged
    `needs_review` and need evidence from a person. The id `fb-<row id>` points back
    to the feedback row (`bronwijzer feedback list` shows its comment).
    """
    latest: dict[tuple[str, str], FeedbackRow] = {}
    for row in rows:
        latest[(row.question, row.rating)] = row
    for row in sorted(latest.values(), key=lambda r: r.id):
        yield candidate_from_row(row)


def candidate_from_row(row: FeedbackRow) -> dict[str, Any]:
    confirmed = row.rating == "up"
    # a thumbs-up confirms the answer (or the refusal); any complaint about a refusal
    # means the user expected an answer
    answerable = not row.refused if confirmed else True
    evidence = citation_evidence(row.citations) if confirmed and not row.refused else []
    return {
        "id": f"fb-{row.id:04d}",
        "question": row.question,
        "answerable": answerable,
        "reference_answer": strip_markers(row.answer) if evidence else "",
        "evidence": evidence,
        "tags": ["feedback", row.rating] + ([] if confirmed else ["needs_review"]),
    }


def citation_evidence(citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evidence items; a quote joining two sentences becomes two items."""
    evidence: list[dict[str, Any]] = []
    for citation in citations:
        for quote in quote_parts(str(citation.get("quote", ""))):
            item: dict[str, Any] = {"document": citation["document"], "quote": quote}
            if citation.get("page"):
                item["page"] = citation["page"]
            evidence.append(item)
    return evidence
