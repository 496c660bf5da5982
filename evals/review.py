"""Human review of answers: judgements in SQLite, exported as labels, compared with the rule.

A reviewer sees an answer with its citations and marks the answer correct, partly or
wrong and each citation relevant or not (`bronwijzer eval review`, interactively or from
a JSONL file of judgements). Each review stores what was shown: the answer, and per
citation its passage's text, so the labels stay meaningful after the index is rebuilt
and `eval run --labels` can apply the gold-quote relevance rule to exactly the passages
that were judged.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.cite import strip_markers
from bronwijzer.domain import Answer, BronwijzerError
from evals import metrics, stats
from evals.dataset import Item

VERDICTS = ("correct", "partly", "wrong")
SQLITE_MAGIC = b"SQLite format 3\x00"
SCHEMA = """
create table if not exists reviews (
    item_id text not null, reviewer text not null, dataset text, config text,
    question text, reference_answer text, answer text, refused integer,
    verdict text not null, note text, reviewed_at real,
    primary key (item_id, reviewer)
);
create table if not exists citation_labels (
    item_id text not null, reviewer text not null, n integer not null, passage_id text,
    document text, page integer, locator text, quote text, passage_text text,
    relevant integer,  -- 1 or 0; NULL when the reviewer left it open
    primary key (item_id, reviewer, n)
);
"""


@dataclass
class CitationLabel:
    n: int
    passage_id: str
    document: str
    page: int | None
    locator: str
    quote: str
    passage_text: str  # the whole cited passage, as shown
    relevant: bool | None


@dataclass
class Review:
    item_id: str
    reviewer: str
    verdict: str  # correct | partly | wrong
    question: str = ""
    reference_answer: str = ""
    answer: str = ""
    refused: bool = False
    citations: list[CitationLabel] = field(default_factory=list)
    dataset: str = ""
    config: str = ""
    note: str = ""
    reviewed_at: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Review:
        citations = [CitationLabel(**c) for c in data.get("citations") or []]
        return cls(**{**data, "citations": citations})


@dataclass(frozen=True)
class Judgement:
    """What a reviewer decided about one answer. Citations are keyed by their number n,
    or by passage id (robust to renumbering); a citation left out stays unjudged."""

    item_id: str
    verdict: str
    citations: dict[int | str, bool] = field(default_factory=dict)
    note: str = ""


class StopReview(Exception):  # a signal that ends the round, not an error
    """The reviewer asked to stop; what was judged so far is kept."""


Judge = Callable[[Item, Answer], Judgement | None]  # None: skip this item


# --- the store ------------------------------------------------------------------------------
class ReviewStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path)
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reviewed(self, reviewer: str) -> set[str]:
        rows = self._conn.execute("select item_id from reviews where reviewer = ?", (reviewer,))
        return {row[0] for row in rows}

    def save(self, review: Review) -> None:
        """Store a review, replacing this reviewer's earlier one of the same item."""
        key = (review.item_id, review.reviewer)
        with self._conn:  # one transaction: a review is never half stored
            self._conn.execute("delete from citation_labels where item_id = ? and reviewer = ?",
                               key)
            self._conn.execute(
                "insert or replace into reviews values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*key, review.dataset, review.config, review.question, review.reference_answer,
                 review.answer, int(review.refused), review.verdict, review.note,
                 review.reviewed_at or time.time()))
            self._conn.executemany(
                "insert into citation_labels values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*key, c.n, c.passage_id, c.document, c.page, c.locator, c.quote,
                  c.passage_text, None if c.relevant is None else int(c.relevant))
                 for c in review.citations])

    def reviews(self) -> list[Review]:
        labels: dict[tuple[str, str], list[CitationLabel]] = {}
        for row in self._conn.execute("select * from citation_labels order by item_id, n"):
            item_id, reviewer, n, pid, document, page, locator, quote, text, relevant = row
            labels.setdefault((item_id, reviewer), []).append(CitationLabel(
                n, pid, document, page, locator, quote, text,
                None if relevant is None else bool(relevant)))
        out = []
        for row in self._conn.execute("select * from reviews order by reviewed_at, item_id"):
            (item_id, reviewer, dataset, config, question, reference, answer, refused,
             verdict, note, reviewed_at) = row
            out.append(Review(item_id, reviewer, verdict, question, reference, answer,
                              bool(refused), labels.get((item_id, reviewer), []), dataset,
                              config, note or "", reviewed_at))
        return out


# --- a review round -------------------------------------------------------------------------
def review_round(ask: Callable[[str], Answer], items: Iterable[Item], store: ReviewStore,
                 judge: Judge, *, reviewer: str, dataset: str = "", config: str = "",
                 redo: bool = False) -> int:
    """Answer each item not yet reviewed by `reviewer`, let `judge` decide, store it.
    Returns the number of reviews stored; a StopReview from the judge ends the round."""
    done = set() if redo else store.reviewed(reviewer)
    stored = 0
    for item in items:
        if item.id in done:
            continue
        answer = ask(item.question)
        try:
            judgement = judge(item, answer)
        except StopReview:
            break
        if judgement is None:
            continue
        store.save(to_review(item, answer, judgement, reviewer=reviewer, dataset=dataset,
                             config=config))
        stored += 1
    return stored


def to_review(item: Item, answer: Answer, judgement: Judgement, *, reviewer: str,
              dataset: str = "", config: str = "") -> Review:
    """A review of `answer`; raises BronwijzerError when the judgement does not fit it."""
    if judgement.verdict not in VERDICTS:
        raise BronwijzerError(f"{item.id}: answer verdict must be one of {', '.join(VERDICTS)},"
                              f" not {judgement.verdict!r}")
    texts = {s.passage.id: s.passage.text for s in answer.passages}
    known = {c.n for c in answer.citations} | {c.passage_id for c in answer.citations}
    unknown = [str(key) for key in judgement.citations if key not in known]
    if unknown:
        raise BronwijzerError(f"{item.id}: the answer has no citation {', '.join(unknown)} "
                              f"(it cites {len(answer.citations)}): judgements for another "
                              "answer?")
    labels = [CitationLabel(
        n=c.n, passage_id=c.passage_id, document=c.document, page=c.page, locator=c.locator,
        quote=c.quote, passage_text=texts.get(c.passage_id, ""),
        relevant=judgement.citations.get(c.n, judgement.citations.get(c.passage_id)))
        for c in answer.citations]
    return Review(item.id, reviewer, judgement.verdict, item.question, item.reference_answer,
                  answer.text, answer.refused, labels, dataset, config, judgement.note,
                  time.time())


def from_judgements(judgements: dict[str, Judgement]) -> Judge:
    """A judge that reads the decisions from a file instead of asking (batch, tests)."""
    return lambda item, answer: judgements.get(item.id)


def parse_judgements(path: Path) -> dict[str, Judgement]:
    """{"id": …, "answer": "correct|partly|wrong", "citations": {"1": true, …}, "note": …}
    per line; citations may also be a list of booleans in citation order."""
    judgements: dict[str, Judgement] = {}
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            cited = raw.get("citations") or {}
            if isinstance(cited, list):
                cited = {n: value for n, value in enumerate(cited, start=1)}
            keys = {int(k) if str(k).isdigit() else str(k): v for k, v in cited.items()}
            if not all(isinstance(v, bool) for v in keys.values()):
                raise ValueError("citation judgements must be true or false")
            if raw.get("answer") not in VERDICTS:
                raise ValueError(f"answer must be one of {', '.join(VERDICTS)}")
            judgements[str(raw["id"])] = Judgement(str(raw["id"]), raw["answer"], keys,
                                                   str(raw.get("note") or ""))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            problems.append(f"{path}:{number}: {exc}")
    if problems:
        raise BronwijzerError("; ".join(problems))
    return judgements


# --- labels and agreement -------------------------------------------------------------------
def export_labels(reviews: Sequence[Review], out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for review in reviews:
            handle.write(json.dumps(asdict(review), ensure_ascii=False) + "\n")
    return len(reviews)


def load_labels(path: Path) -> list[Review]:
    """Reviews from a labels JSONL export or straight from the review database."""
    try:
        with path.open("rb") as handle:
            is_sqlite = handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
        if is_sqlite:
            with ReviewStore(path) as store:
                return store.reviews()
        lines = path.read_text(encoding="utf-8").splitlines()
        return [Review.from_dict(json.loads(line)) for line in lines if line.strip()]
    except (OSError, ValueError, TypeError, sqlite3.Error) as exc:
        raise BronwijzerError(f"--labels {path}: not a labels file or review database "
                              f"({exc})") from None


def agreement(reviews: Sequence[Review], items: Sequence[Item], source: str = ""
              ) -> dict[str, Any]:
    """How often the gold-quote relevance rule and the reviewers agree on cited passages."""
    by_id = {item.id: item for item in items}
    pairs: list[tuple[bool, bool]] = []  # (rule, reviewer)
    answers: dict[str, list[float]] = {verdict: [] for verdict in VERDICTS}
    unmatched = 0
    for review in reviews:
        item = by_id.get(review.item_id)
        if item is None:
            unmatched += 1
            continue
        for label in review.citations:
            if label.relevant is not None:
                pairs.append((metrics.relevant_to_any(label.document, label.passage_text,
                                                      item.evidence), label.relevant))
        if item.answerable and not review.refused:
            answers[review.verdict].append(
                metrics.token_f1(strip_markers(review.answer), item.reference_answer))
    counts = {"both": sum(r and h for r, h in pairs),
              "rule_only": sum(r and not h for r, h in pairs),
              "human_only": sum(h and not r for r, h in pairs),
              "neither": sum(not r and not h for r, h in pairs)}
    kappa = stats.cohens_kappa(pairs)
    matched = [r for r in reviews if r.item_id in by_id]
    return {
        "labels": source, "reviews": len(matched), "unmatched_reviews": unmatched,
        "reviewers": sorted({r.reviewer for r in matched}),
        "citations": len(pairs),
        "percent_agreement": round((counts["both"] + counts["neither"]) / len(pairs), 4)
        if pairs else None,
        "kappa": None if kappa is None else round(kappa, 4),
        "confusion": counts,
        "answers": {verdict: sum(r.verdict == verdict for r in matched) for verdict in VERDICTS},
        "answer_f1_by_verdict": {verdict: metrics.mean(values)
                                 for verdict, values in answers.items()},
    }
