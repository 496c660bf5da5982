"""The reading set: its validator, its size and card, and the hand review of a sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.reading import (
    block_locators,
    check_reading_set,
    forbidden_documents,
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
