"""The reader: pairs, training on a tiny slice, the shipped file, and its place in answers."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest

from assistant.reader import (
    MANIFEST,
    MAX_TOKENS,
    WEIGHTS,
    Reader,
    encode_pairs,
    load_reader,
)
from bronwijzer.domain import Passage
from evals.reading import ReadingItem
from presentation.settings import Settings

PROJECT = Path(__file__).resolve().parent.parent
SAMPLE = "verwey-jonker_nieuw_wijkenbeleid_perspectief_bieden_2021.md"


@pytest.fixture(scope="module")
def e5_folder() -> Path:
    from store.e5convert import converted_folder

    return converted_folder(Settings.from_env().index.model_cache_dir)


def passage(text: str, ordinal: int = 0) -> Passage:
    return Passage(id=f"p{ordinal}", document_id="d", document="wet.md", title="Wet",
                   text=text, ordinal=ordinal, section="Artikel 2")


def test_pairs_keep_the_passage_offsets_and_the_budget(e5_folder: Path) -> None:
    from store.e5engine import load_tokenizer

    tokenizer = load_tokenizer(e5_folder)
    text = "De burgemeester kan een woning sluiten. Het verbod duurt tien dagen."
    long = passage("De burgemeester kan een woning sluiten. " * 200, 1)
    short, cut = encode_pairs(tokenizer, "Hoe lang duurt het verbod?", [passage(text), long])
    asked = tokenizer.encode("query: Hoe lang duurt het verbod?", add_special_tokens=False).ids
    assert short.ids[: len(asked) + 3] == [0, *asked, 2, 2] and short.ids[-1] == 2
    assert len(cut.ids) == MAX_TOKENS and cut.ids[-1] == 2
    spans = [o for o in short.offsets if o[0] >= 0]
    # the text's tokens map back onto the text: together they spell it
    assert "".join(text[s:e] for s, e in spans).replace(" ", "") == text.replace(" ", "")


def test_a_missing_or_broken_reader_is_one_warning_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = Settings.from_env().index.model_cache_dir
    with caplog.at_level(logging.WARNING):
        assert load_reader(str(tmp_path / "none"), cache) is None
        (tmp_path / WEIGHTS).write_bytes(b"not safetensors")
        (tmp_path / MANIFEST).write_text("{}")
        assert load_reader(str(tmp_path), cache) is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all("answering without the reader" in line for line in lines)
    assert "no usable reader" in lines[1] and "\n" not in "".join(lines)
    assert load_reader("off", cache) is None


@pytest.mark.slow
def test_a_reader_trained_on_a_tiny_slice_reranks_quotes_and_informs_refusal(
        sample_index: Settings, embeddings, e5_folder: Path, tmp_path: Path) -> None:
    from assistant.pipeline import build_assistant
    from assistant.reader import save_reader
    from evals import reader_fit
    from evals.dataset import load_dataset

    assistant = build_assistant(sample_index.with_(refusal_model="cosine", reader="off"),
                                embeddings=embeddings)
    items = [ReadingItem(id=i.id, question=i.question, answerable=True, document=SAMPLE,
                         type="what", locator="-", quote=i.evidence[0].quote,
                         short_answer=" ".join(i.evidence[0].quote.split()[2:5]))
             for i in load_dataset(PROJECT / "evals/datasets/sample.jsonl")
             if i.answerable and i.evidence[0].document == SAMPLE][:3]
    groups = reader_fit.build_groups(assistant, items, candidates=6)
    assert [g.id for g in groups] == [i.id for i in items]
    assert all(g.gold and g.negatives for g in groups)
    assert not {p.id for p in groups[0].negatives} & groups[0].gold_ids
    gold = groups[0].gold[0]
    assert " ".join(gold.passage.text[gold.quote[0]:gold.quote[1]].split()) == " ".join(
        items[0].quote.split())

    options = reader_fit.ReaderTraining(epochs=4, negatives=3)
    module = reader_fit.train(groups, e5_folder, options)
    weights = save_reader(module, tmp_path / "reader", {"options": {"epochs": 4}})
    assert weights.stat().st_size < 50e6  # fp16 layers and heads; no word embeddings
    reader = load_reader(str(tmp_path / "reader"), Settings.from_env().index.model_cache_dir)
    assert isinstance(reader, Reader) and reader.manifest["options"]["epochs"] == 4

    # trained on these questions, it puts their gold passage above the median other one
    for group in groups:
        readings = reader(group.question, group.retrieved)
        gold_best = max(r.relevance for p, r in zip(group.retrieved, readings, strict=True)
                        if p.id in group.gold_ids) if group.gold_ids & {
            p.id for p in group.retrieved} else None
        others = sorted(r.relevance for p, r in zip(group.retrieved, readings, strict=True)
                        if p.id not in group.gold_ids)
        if gold_best is not None and others:
            assert gold_best > others[len(others) // 2]
    (reading,) = reader(groups[0].question, [gold.passage])
    assert reading.sentences and reading.span is not None
    start, end, _ = reading.span
    assert 0 <= start < end <= len(gold.passage.text)

    # in the assistant: it reorders by logit − prior × ln(rank) and its signal reaches refusal
    reading_assistant = build_assistant(
        sample_index.with_(refusal_model="cosine", reader=str(tmp_path / "reader")),
        embeddings=embeddings)
    retrieval = reading_assistant.retrieve(items[0].question)
    assert retrieval.readings and "read" in retrieval.timings
    scores = [s.score for s in retrieval.passages]
    assert scores == sorted(scores, reverse=True)
    first = retrieval.passages[0]
    ranked = [s.passage.id for s in retrieval.candidates]
    assert first.score == pytest.approx(first.signals["reader"] - reading_assistant.
                                        reader_options.reader_prior * math.log(
                                            ranked.index(first.passage.id) + 1))
    signals = reading_assistant.refusal.signals(retrieval)
    assert signals["reader"] == max(r.relevance for r in retrieval.readings.values())
    answer = reading_assistant.ask(items[0].question)
    assert answer.refused or answer.citations
    data = json.loads((tmp_path / "reader" / MANIFEST).read_text())
    assert data["options"]["epochs"] == 4


def test_the_readme_shows_the_measured_learning_curve() -> None:
    """The table is generated from the measured points (`bronwijzer reading curve --write`),
    and the plot beside it exists."""
    from evals.reader_curve import CURVE_BEGIN, CURVE_END, curve_table

    curve = json.loads((PROJECT / "assistant/models/reader-curve.json").read_text("utf-8"))
    points = curve["points"]
    assert curve["dev_questions"] >= 300 and len(points) >= 2
    assert [p["train_questions"] for p in points] == sorted(p["train_questions"] for p in points)
    readme = (PROJECT / "README.md").read_text("utf-8")
    assert readme.split(CURVE_BEGIN)[1].split(CURVE_END)[0].strip() == curve_table(points).strip()
    assert (PROJECT / "docs/reader-curve.png").stat().st_size > 10_000


def test_readings_come_back_from_the_vector_cache_identical_without_the_model(
        e5_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.reader import MODEL_DIR
    from store.vector_cache import VectorCache

    store = VectorCache(tmp_path / "vectors.sqlite3")
    passages = [passage("De burgemeester kan een woning sluiten bij ernstige overlast. "
                        "Hij doet dat voor ten hoogste drie maanden.", 0),
                passage("Het college beslist binnen acht weken.", 1)]
    question = "Hoe lang mag een woning dicht?"
    first = Reader.load(MODEL_DIR, e5_folder, store)
    read = first(question, passages)
    assert len(store) == 2
    again = Reader.load(MODEL_DIR, e5_folder, store)  # a new process: its memory is empty

    def no_model(*_args: object) -> None:
        raise AssertionError("read again instead of taken from the cache")

    monkeypatch.setattr(again, "logits", no_model)
    assert again(question, passages) == read
    other = Reader.load(MODEL_DIR, e5_folder, store)
    other.bf16 = not first.bf16  # another precision is another key: read by the model
    monkeypatch.setattr(other, "logits", no_model)
    with pytest.raises(AssertionError, match="read again"):
        other(question, passages)
