"""The review queue: judgements stored in SQLite, exported as labels, and the agreement
between the gold-quote relevance rule and the reviewers in the eval report.

Review rounds run the real assistant; the "reviewer" is a script (a JSONL file of
judgements, or keystrokes fed to the rich prompts) that disagrees with the rule on
chosen citations, so the agreement figures are known in advance.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT
from rich.console import Console

from assistant.cite import strip_markers
from assistant.pipeline import Assistant, build_assistant
from bronwijzer.domain import BronwijzerError
from cli.main import main
from evals import metrics, review
from evals.dataset import Item, load_dataset, parse_item, select_split
from evals.review_prompt import prompt_judge

DATASETS = PROJECT / "evals" / "datasets"
SAMPLE_DATASET = DATASETS / "sample.jsonl"
QUOTE = "De gemeente is verantwoordelijk voor een veilige openbare ruimte in de wijk"


def label(n: int, text: str, relevant: bool | None, document: str = "nota.md"
          ) -> review.CitationLabel:
    return review.CitationLabel(n, f"p{n}", document, None, "", text[:20], text, relevant)


def item(item_id: str, answerable: bool = True) -> Item:
    raw = {"id": item_id, "question": "Wie?", "answerable": answerable,
           "reference_answer": "De gemeente is verantwoordelijk." if answerable else "",
           "evidence": [{"document": "nota.md", "quote": QUOTE}] if answerable else []}
    parsed, problems = parse_item(raw)
    assert parsed is not None, problems
    return parsed


def test_reviews_are_stored_replaced_and_exported(tmp_path: Path) -> None:
    db = tmp_path / "reviews.sqlite3"
    first = review.Review("t-1", "anna", "partly", "Wie?", "", "Antwoord [1].", False,
                          [label(1, QUOTE, True), label(2, "Iets anders.", None)])
    with review.ReviewStore(db) as store:
        store.save(first)
        store.save(review.Review("t-2", "anna", "wrong", answer="Nee.", refused=True))
        store.save(review.Review("t-1", "anna", "correct", citations=[label(1, QUOTE, False)]))
        store.save(review.Review("t-1", "bram", "wrong"))
        assert store.reviewed("anna") == {"t-1", "t-2"}
        stored = {(r.item_id, r.reviewer): r for r in store.reviews()}
    assert len(stored) == 3
    again = stored["t-1", "anna"]  # the second review replaced the first, labels too
    assert again.verdict == "correct" and [c.relevant for c in again.citations] == [False]
    assert stored["t-2", "anna"].refused
    out = tmp_path / "labels.jsonl"
    assert main(["eval", "review-export", "--db", str(db), "--out", str(out)]) == 0
    exported = review.load_labels(out)
    assert sorted((r.item_id, r.reviewer, r.verdict) for r in exported) == sorted(
        (r.item_id, r.reviewer, r.verdict) for r in stored.values())
    assert review.load_labels(db) == list(review.ReviewStore(db).reviews())  # db read directly


def test_judgement_files_and_mismatched_judgements_fail_clearly(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "t-1", "answer": "partly", "citations": {"1": true, "p9": false}}\n'
                    '{"id": "t-2", "answer": "wrong", "citations": [false, true]}\n', "utf-8")
    parsed = review.parse_judgements(good)
    assert parsed["t-1"].citations == {1: True, "p9": False}
    assert parsed["t-2"].citations == {1: False, 2: True}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "t-1", "answer": "fout"}\n{"id": "t-2", "answer": "correct", '
                   '"citations": {"1": "ja"}}\n{"answer": "correct"}\n', "utf-8")
    with pytest.raises(BronwijzerError) as error:
        review.parse_judgements(bad)
    message = str(error.value)
    assert "bad.jsonl:1: answer must be one of correct, partly, wrong" in message
    assert "bad.jsonl:2: citation judgements must be true or false" in message
    assert "bad.jsonl:3:" in message


def test_agreement_between_the_rule_and_the_reviewers() -> None:
    items = [item("t-1"), item("t-2"), item("t-3", answerable=False)]
    relevant, other = QUOTE + ", samen met de politie.", "Over de begroting van volgend jaar."
    reviews = [
        # rule: relevant, irrelevant, irrelevant (another document); reviewer agrees twice
        review.Review("t-1", "anna", "correct", answer="De gemeente is verantwoordelijk.",
                      citations=[label(1, relevant, True), label(2, other, False),
                                 label(3, relevant, True, document="elders.md")]),
        # rule: relevant; reviewer: not; an unjudged citation is left out
        review.Review("t-2", "anna", "wrong", answer="Niets.",
                      citations=[label(1, relevant, False), label(2, relevant, None)]),
        review.Review("t-3", "bram", "correct", refused=True, answer="Dit kan ik niet.",
                      citations=[label(1, other, False)]),  # no evidence: never relevant
        review.Review("x-9", "anna", "wrong"),  # not in this dataset
    ]
    found = review.agreement(reviews, items, "labels.jsonl")
    assert found["citations"] == 5 and found["unmatched_reviews"] == 1
    assert found["confusion"] == {"both": 1, "rule_only": 1, "human_only": 1, "neither": 2}
    assert found["percent_agreement"] == pytest.approx(3 / 5)
    # rule yes 2/5, reviewer yes 2/5: chance 0.4·0.4 + 0.6·0.6 = 0.52; (0.6−0.52)/0.48
    assert found["kappa"] == pytest.approx((0.6 - 0.52) / 0.48, abs=1e-4)
    assert found["answers"] == {"correct": 2, "partly": 0, "wrong": 1}
    assert found["answer_f1_by_verdict"]["correct"] == pytest.approx(1.0)  # t-3 refused
    assert found["reviewers"] == ["anna", "bram"]


# --- review rounds with the real assistant --------------------------------------------------
def simulated_judgements(assistant: Assistant, items: list[Item], disagree: int
                         ) -> tuple[list[dict[str, Any]], int]:
    """A reviewer who labels citations as the rule does, except the first citation of the
    first `disagree` answers that have one; answers by token F1. Returns the judgement
    lines and the number of labelled citations."""
    lines, labelled, flipped = [], 0, 0
    for entry in items:
        answer = assistant.ask(entry.question)
        texts = {s.passage.id: s.passage.text for s in answer.passages}
        cited = {}
        for citation in answer.citations:
            rule = metrics.relevant_to_any(citation.document, texts[citation.passage_id],
                                           entry.evidence)
            flip = citation is answer.citations[0] and flipped < disagree
            cited[str(citation.n)] = rule != flip
            labelled += 1
        flipped += bool(answer.citations) and flipped < disagree
        f1 = metrics.token_f1(strip_markers(answer.text), entry.reference_answer)
        if entry.answerable:
            verdict = "correct" if f1 >= 0.5 else "partly" if f1 >= 0.2 else "wrong"
        else:
            verdict = "correct" if answer.refused else "wrong"
        lines.append({"id": entry.id, "answer": verdict, "citations": cited})
    assert flipped == disagree, "too few answers with citations to disagree on"
    return lines, labelled


def review_round_through_the_cli(tmp_path: Path, dataset: Path, index_dir: str,
                                 assistant: Assistant, count: int, disagree: int
                                 ) -> dict[str, Any]:
    """`eval review --import` → `eval review-export` → `eval run --labels`: the review
    section of the run's results, after checking what was stored and exported."""
    items = select_split(load_dataset(dataset), None)[0][:count]
    assert len(items) == count
    lines, labelled = simulated_judgements(assistant, items, disagree)
    judgements = tmp_path / "judgements.jsonl"
    judgements.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    db, labels = tmp_path / "reviews.sqlite3", tmp_path / "labels.jsonl"
    assert main(["eval", "review", str(dataset), "--index", index_dir, "--db", str(db),
                 "--import", str(judgements), "--reviewer", "anna",
                 "--limit", str(count)]) == 0
    assert main(["eval", "review-export", "--db", str(db), "--out", str(labels)]) == 0
    exported = review.load_labels(labels)
    assert sorted(r.item_id for r in exported) == sorted(i.id for i in items)
    assert sum(c.relevant is not None for r in exported for c in r.citations) == labelled
    assert all(c.passage_text for r in exported for c in r.citations)  # what was shown
    out = tmp_path / "run"
    assert main(["eval", "run", str(dataset), "--index", index_dir, "--out", str(out),
                 "--configs", "hybrid", "--limit", "1", "--labels", str(labels)]) == 0
    results = json.loads((out / "results.json").read_text("utf-8"))
    found = results["review"]
    assert found["reviews"] == count and found["citations"] == labelled
    assert found["confusion"]["rule_only"] + found["confusion"]["human_only"] == disagree
    assert found["percent_agreement"] == pytest.approx((labelled - disagree) / labelled,
                                                       abs=1e-4)
    assert sum(found["answers"].values()) == count
    report = (out / "report.md").read_text("utf-8")
    assert "## Citation relevance: gold-quote rule vs reviewers" in report
    assert f"| {labelled} | {found['percent_agreement']:.1%} |" in report
    html = (out / "report.html").read_text("utf-8")
    assert "Cohen&#x27;s kappa" in html or "Cohen's kappa" in html
    # the database itself serves as labels too
    again = tmp_path / "again"
    assert main(["eval", "run", str(dataset), "--index", index_dir, "--out", str(again),
                 "--configs", "hybrid", "--limit", "1", "--labels", str(db)]) == 0
    assert json.loads((again / "results.json").read_text("utf-8"))["review"]["kappa"] == \
        found["kappa"]
    return found


def test_a_review_round_on_the_sample(sample_index, embeddings, tmp_path: Path) -> None:
    assistant = build_assistant(sample_index, embeddings=embeddings)
    review_round_through_the_cli(tmp_path, SAMPLE_DATASET, str(sample_index.index.index_dir),
                                 assistant, count=11, disagree=2)


@pytest.mark.slow
def test_a_review_round_over_20_shared_corpus_items(shared_index, shared_assistant,
                                                    tmp_path: Path) -> None:
    settings, _ = shared_index
    found = review_round_through_the_cli(
        tmp_path, DATASETS / "shared_corpus.jsonl", str(settings.index.index_dir),
        shared_assistant, count=20, disagree=4)
    assert found["citations"] >= 20 and found["kappa"] is not None


def test_the_interactive_review_asks_and_stores(sample_index, embeddings,
                                                tmp_path: Path) -> None:
    assistant = build_assistant(sample_index, embeddings=embeddings)
    everything = load_dataset(SAMPLE_DATASET)
    first = next(i for i in everything if assistant.ask(i.question).citations)
    items = [first, *(i for i in everything if i is not first)][:3]
    cited = len(assistant.ask(first.question).citations)
    # item 1: correct, citations alternately relevant, a note; item 2: skipped; then quit
    keys = ["c", *("y" if n % 2 == 0 else "n" for n in range(cited)), "bron klopt", "s", "q"]
    screen = io.StringIO()
    judge = prompt_judge(Console(file=screen, width=100), stream=io.StringIO("\n".join(keys)
                                                                             + "\n"), total=3)
    with review.ReviewStore(tmp_path / "reviews.sqlite3") as store:
        stored = review.review_round(assistant.ask, items, store, judge, reviewer="anna")
        (saved,) = store.reviews()
    assert stored == 1
    assert (saved.item_id, saved.verdict, saved.note) == (items[0].id, "correct", "bron klopt")
    assert [c.relevant for c in saved.citations] == [n % 2 == 0 for n in range(cited)]
    shown = screen.getvalue()
    assert items[0].question[:40] in shown and "Reference answer" in shown
    assert f"{items[0].id} (1/3)" in shown and "[1]" in shown
