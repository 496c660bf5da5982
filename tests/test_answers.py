"""What a first-time user tries is answered: the chat's examples and its placeholder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.refusal import definition_term
from bronwijzer.domain import BronwijzerError

PLACEHOLDER = "Wat is sociale herovering?"  # the chat's input placeholder


@pytest.fixture(scope="module")
def sample_assistant(sample_index, embeddings):
    from assistant.pipeline import build_assistant

    return build_assistant(sample_index, embeddings=embeddings)


@pytest.mark.slow
def test_the_placeholder_and_every_example_are_answered(demo_index, embeddings) -> None:
    """Over what `make demo` serves (corpus/): a first-time user's first clicks work."""
    from assistant.pipeline import build_assistant
    from presentation.web import layout
    from presentation.web.chat import DEFAULT_EXAMPLES

    assert f"Bijvoorbeeld: {PLACEHOLDER}" in Path(layout.__file__).read_text("utf-8")
    assert PLACEHOLDER in DEFAULT_EXAMPLES

    # as `make demo` runs it, with the depth of a CPU with native bf16 on every machine
    demo = build_assistant(demo_index.with_(reader="bundled", reader_candidates=12),
                           embeddings=embeddings)
    assert demo.reader is not None  # the shipped reader, as `make demo` runs it
    for question in (PLACEHOLDER, *DEFAULT_EXAMPLES):
        answer = demo.ask(question)
        assert not answer.refused and answer.citations, question


def test_a_definition_whose_term_is_in_a_top_passage_is_never_refused(sample_assistant) -> None:
    answer = sample_assistant.ask(PLACEHOLDER)
    assert "sociale herovering" in answer.citations[0].quote.lower().replace("‘", "").replace(
        "’", "")
    # a definition of a term the sources never use is still refused
    assert sample_assistant.ask("Wat is een omgevingsvergunning voor een dakkapel?").refused


def test_definition_terms_are_read_from_dutch_question_forms() -> None:
    assert definition_term("Wat is sociale herovering?") == "sociale herovering"
    assert definition_term("wat zijn de drie sporen") == "drie sporen"
    assert definition_term("Wat verstaat de minister onder leefbaarheid?") == "leefbaarheid"
    assert definition_term("Wat houdt een burgemeestersbevel in?") == "burgemeestersbevel"
    assert definition_term("Wie beslist over de subsidie?") is None


def test_the_refusal_model_fits_separates_and_round_trips(tmp_path) -> None:
    from assistant.refusal import SIGNALS, RefusalModel, load_refusal_model
    from evals.refusal_fit import Example, fit, roc_auc

    def example(n: int, answerable: bool) -> Example:
        shift = 0.03 if answerable else 0.0  # answerable: higher cosine and coverage
        signals = {"dense": 0.84 + shift + 0.001 * (n % 7), "coverage": 0.3 + 10 * shift,
                   "agreement": float(n % 2), "length": 2.0 + 0.1 * (n % 3)}
        return Example(str(n), "answerable" if answerable else "near_miss", answerable,
                       signals, 0.0, False, False)

    examples = [example(n, n % 3 != 0) for n in range(60)]
    model = fit(examples, {"dataset": "synthetic"})
    scores = [model.probability(e.signals) for e in examples]
    assert roc_auc([e.answerable for e in examples], scores) == 1.0
    assert 0 < model.refuse_below < model.caution_below < 1
    # every signal the examples carry, in SIGNALS order: the reader's only when it was on
    assert model.features == SIGNALS[:4] and model.about["examples"] == 60
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model.to_dict()), encoding="utf-8")
    assert RefusalModel.load(path) == model
    bundled = load_refusal_model("bundled")
    assert bundled is not None and bundled.about["split"] == "tune"
    with_reader = load_refusal_model("bundled", reading=True)
    assert with_reader is not None and with_reader.features[-1] == "reader"
    assert "reader" not in bundled.features
    assert load_refusal_model("cosine") is None
    path.write_text('{"features": ["nonsense"]}', encoding="utf-8")
    with pytest.raises(BronwijzerError, match="not a refusal model"):
        RefusalModel.load(path)


def test_near_misses_leave_out_the_one_document_of_the_evidence() -> None:
    from evals.dataset import Evidence, Item
    from evals.lodo import near_misses

    def item(item_id: str, *documents: str) -> Item:
        return Item(item_id, "Vraag?", bool(documents), "Antwoord." if documents else "",
                    tuple(Evidence(d, "citaat") for d in documents), split="tune")

    cases = near_misses([item("a", "x.md"), item("b", "x.md", "y.md"), item("c"),
                         item("d", "z.md")], ["x.md", "y.md"])
    assert [c.id for c in cases] == ["a-lodo"]  # one document, indexed; answerable only
    assert cases[0].left_out == "x.md" and cases[0].filters.documents == ("y.md",)
