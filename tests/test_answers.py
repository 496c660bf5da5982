"""What a first-time user tries is answered: the chat's examples and its placeholder."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.refusal import definition_term

PLACEHOLDER = "Wat is sociale herovering?"  # the chat's input placeholder


@pytest.fixture(scope="module")
def sample_assistant(sample_index, embeddings):
    from assistant.pipeline import build_assistant

    return build_assistant(sample_index, embeddings=embeddings)


def test_the_placeholder_and_every_example_are_answered(sample_assistant) -> None:
    from assistant.web import layout
    from assistant.web.chat import DEFAULT_EXAMPLES

    assert f"Bijvoorbeeld: {PLACEHOLDER}" in Path(layout.__file__).read_text("utf-8")

    for question in (PLACEHOLDER, *DEFAULT_EXAMPLES):
        answer = sample_assistant.ask(question)
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
