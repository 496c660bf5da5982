"""The reading set: its validator, its size and card, and the hand review of a sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.reading import (
    DEV_DOCUMENTS,
    block_locators,
    check_reading_set,
    forbidden_documents,
    load_reading_set,
    parse_reading_set,
)

PROJECT = Path(__file__).resolve().parents[1]
READING = PROJECT / "evals" / "datasets" / "reading"
TRAINING_CORPUS = PROJECT.parent / "shared" / "training_corpus"
EVALUATION_CORPORA = (PROJECT.parent / "shared" / "corpus",
                      PROJECT.parent / "shared" / "laws_current")

LAW = """## Wet tegen het voorbeeld

### Artikel 1

In deze wet wordt verstaan onder:

a. *voorbeeld:* een geval dat iets laat zien.

### Artikel 2

1. De burgemeester kan een voorbeeld verbieden. Het verbod geldt voor ten hoogste drie maanden.

2. Een verbod wordt schriftelijk bekendgemaakt aan de betrokkene.
"""


def item(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "rs-t-001", "question": "Hoe lang mag het verbod duren?", "answerable": True,
        "type": "duration", "document": "wet_voorbeeld.md", "locator": "art. 2 lid 1",
        "quote": "Het verbod geldt voor ten hoogste drie maanden.",
        "short_answer": "ten hoogste drie maanden"}
    return base | fields


def write_set(folder: Path, rows: list[dict[str, object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "wet_voorbeeld.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return folder


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "wet_voorbeeld.md").write_text(LAW, "utf-8")
    return folder


def test_a_valid_item_passes_and_gets_its_split(tmp_path: Path, corpus: Path) -> None:
    items, problems = parse_reading_set(write_set(tmp_path / "set", [item()]))
    assert problems == []
    assert check_reading_set(items, corpus) == []
    assert items[0].split == "train"


def test_every_bad_item_is_named_with_its_field(tmp_path: Path, corpus: Path) -> None:
    rows = [
        item(id="rs-t-002", quote="Het verbod geldt voor ten hoogste zes maanden.",
             short_answer="zes maanden"),
        item(id="rs-t-003", short_answer="zes maanden"),
        item(id="rs-t-004", locator="art. 1"),
        item(id="rs-t-005", type="wanneer"),
        item(id="rs-t-006", question="Hoe lang mag het verbod duren"),
        item(id="rs-t-007", colour="blue"),
        {"id": "rs-t-008", "question": "Wat kost een verbod?", "answerable": False,
         "kind": "near_miss", "document": "wet_voorbeeld.md", "reason": "Geen bedrag.",
         "quote": "Het verbod geldt"},
        item(id="rs-t-009", document="gemeentewet_BWBR0005416.md"),
        item(id="rs-t-010"), item(id="rs-t-010"),
        {"id": "rs-t-011", "question": "Hoe vraag ik een paspoort aan?", "answerable": False,
         "kind": "elsewhere", "document": None, "reason": "Niet in deze wetten."},
    ]
    items, problems = parse_reading_set(write_set(tmp_path / "set", rows))
    problems += check_reading_set(items, corpus, ({"gemeentewet_BWBR0005416.md"}, set()))
    text = "\n".join(problems)
    for expected in ("rs-t-002 (wet_voorbeeld.jsonl:1): quote not found in wet_voorbeeld.md",
                     "rs-t-003 (wet_voorbeeld.jsonl:2): short_answer is not a verbatim span",
                     "rs-t-004 (wet_voorbeeld.jsonl:3): locator 'art. 1', but the quote is at "
                     "'art. 2 lid 1'",
                     "rs-t-005 (wet_voorbeeld.jsonl:4): type must be one of",
                     "rs-t-006 (wet_voorbeeld.jsonl:5): question must end with '?'",
                     "rs-t-007 (wet_voorbeeld.jsonl:6): unknown field(s) colour",
                     "rs-t-008 (wet_voorbeeld.jsonl:7): field(s) quote do not belong",
                     "rs-t-009 (wet_voorbeeld.jsonl:8): document gemeentewet_BWBR0005416.md is "
                     "an evaluation document",
                     "rs-t-010: duplicate id",
                     "rs-t-011 (wet_voorbeeld.jsonl:11): kind must be one of"):
        assert expected in text, f"missing: {expected}\nin:\n{text}"
    assert len(problems) == 10


def test_locators_follow_articles_and_lids(corpus: Path) -> None:
    from ingest.load import load_document

    locators = block_locators(load_document(corpus / "wet_voorbeeld.md"))
    assert locators == ["art. 1", "art. 1", "art. 2 lid 1", "art. 2 lid 2"]


def test_an_evaluation_document_is_known_by_its_bwb_id(tmp_path: Path) -> None:
    folder = tmp_path / "laws"
    folder.mkdir()
    (folder / "gemeentewet_BWBR0005416.yaml").write_text("x", "utf-8")
    names, ids = forbidden_documents(folder)
    assert ids == {"BWBR0005416"}
    assert "gemeentewet_BWBR0005416.yaml" in names
# --- the committed set ---------------------------------------------------------------------
@pytest.mark.slow
def test_the_reading_set_is_valid_large_natural_and_its_card_current(embeddings) -> None:
    from bronwijzer.text import stems
    from evals.reading import corpus_frequency, rare_words
    from evals.reading_card import BEGIN, END, card_tables, passage_keys

    if not TRAINING_CORPUS.is_dir():
        pytest.skip(f"../shared/training_corpus not found at {TRAINING_CORPUS}")
    items = load_reading_set(READING)
    forbidden = forbidden_documents(*EVALUATION_CORPORA)
    assert check_reading_set(items, TRAINING_CORPUS, forbidden) == []
    answerable = [i for i in items if i.answerable]
    assert len(answerable) >= 4000
    assert sum(not i.answerable for i in items) >= 1500
    keys = passage_keys(items, TRAINING_CORPUS, embeddings.count_tokens,
                        max_tokens=embeddings.max_tokens)
    assert len(set(keys.values())) >= 1500
    assert len({i.document for i in items if i.split == "dev"}) >= 6
    assert {i.document for i in items if i.split == "dev" and i.document} <= DEV_DOCUMENTS
    tables = card_tables(items, keys).strip()
    for card in (READING / "README.md", PROJECT / "README.md"):
        text = card.read_text("utf-8")
        assert text.split(BEGIN)[1].split(END)[0].strip() == tables, (
            f"the tables in {card} are stale: run `bronwijzer reading card --write`")
    # written as people ask: most questions reuse none of their quote's rarest words
    frequency = corpus_frequency(TRAINING_CORPUS)
    fresh = [i for i in answerable if not rare_words(i.quote, frequency) & set(stems(i.question))]
    assert len(fresh) >= 0.5 * len(answerable)


def test_the_hand_review_covers_100_items_and_passes() -> None:
    review = [json.loads(line) for line in
              (READING / "review" / "review-100.jsonl").read_text("utf-8").splitlines()]
    ids = {i.id for i in load_reading_set(READING)}
    assert len(review) == 100 and len({r["id"] for r in review}) == 100
    assert {r["id"] for r in review} <= ids
    assert {r["verdict"] for r in review} <= {"valid", "unnatural", "invalid"}
    assert sum(r["verdict"] == "valid" for r in review) >= 90
