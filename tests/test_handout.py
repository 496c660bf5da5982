"""Markdown handouts of a conversation, from real answers over the bundled sample."""

from __future__ import annotations

import html
import re

import pytest

from bronwijzer.domain import CAUTION_TEXT, REFUSAL_TEXT
from bronwijzer.text import markdown_escape
from presentation.handout import HANDOUT_NAME, conversation_markdown, write_handout


def unescape(markdown: str) -> str:
    """What a reader sees: backslash escapes and entities resolved."""
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown))


@pytest.fixture(scope="module")
def sample_assistant(sample_index, embeddings):
    from assistant.pipeline import build_assistant

    return build_assistant(sample_index, embeddings=embeddings)


def test_handout_has_questions_answers_quotes_and_sources(sample_assistant, tmp_path) -> None:
    first = sample_assistant.ask(
        "Wat is sociale herovering volgens het rapport Perspectief bieden?")
    follow_up = sample_assistant.ask("En wat is sociale stijging?",
                                     history=[(first.question, first.text)])
    assert not first.refused and first.citations

    path = write_handout([first, follow_up], tmp_path / "gesprek")
    assert path.name == HANDOUT_NAME
    text = unescape(path.read_text(encoding="utf-8"))

    assert "## Vraag 1: Wat is sociale herovering volgens het rapport Perspectief bieden?" in text
    assert "## Vraag 2: En wat is sociale stijging?" in text
    for citation in first.citations:
        assert citation.quote in text  # the cited sentence, verbatim
        assert f"[{citation.n}] {citation.title}" in text
    cited = {c.passage_id for c in first.citations}
    for scored in first.passages:
        if scored.passage.id in cited:
            assert " ".join(scored.passage.text.split()) in text  # the whole passage
    assert "Verwey-Jonker Instituut, 2021" in text  # publisher and year
    if follow_up.rewritten_question:
        assert f"Gelezen als: {follow_up.rewritten_question}" in text


def test_refused_answer_lists_closest_passages(sample_assistant) -> None:
    refused = sample_assistant.ask("Hoeveel kost een paspoort voor een volwassene in Amsterdam?")
    assert refused.refused
    text = unescape(conversation_markdown([refused]))
    assert REFUSAL_TEXT in text
    if refused.passages:
        assert "Dichtstbijzijnde passages" in text
        assert " ".join(refused.passages[0].passage.text.split()) in text


def test_handout_text_cannot_inject_markup() -> None:
    hostile = '<script>alert(1)</script> [klik](javascript:alert(1)) ![x](y) # kop'
    escaped = markdown_escape(hostile)
    assert "<" not in escaped.replace("\\<", "")
    assert "](" not in escaped.replace("\\](", "")
    assert unescape(escaped) == hostile


def test_empty_conversation() -> None:
    assert "Nog geen vragen gesteld" in conversation_markdown([])


def test_cautioned_answers_say_so_in_the_handout_and_the_chat(sample_index, embeddings) -> None:
    from dataclasses import replace

    from assistant.pipeline import build_assistant
    from presentation.web.render import answer_markdown

    # every answer falls in the caution band when the caution threshold is above any cosine
    settings = sample_index.with_(refusal_model="cosine", caution_threshold=0.999)
    assistant = build_assistant(settings, embeddings=embeddings)
    answer = assistant.ask("Wat is sociale herovering volgens het rapport Perspectief bieden?")
    assert answer.caution and not answer.refused and answer.citations
    assert CAUTION_TEXT in unescape(conversation_markdown([answer]))
    assert CAUTION_TEXT in unescape(answer_markdown(answer))
    confident = replace(answer, caution=False)
    assert CAUTION_TEXT not in unescape(conversation_markdown([confident]))
    assert CAUTION_TEXT not in unescape(answer_markdown(confident))
