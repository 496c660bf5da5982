"""Export a conversation as a Markdown handout: questions, answers and cited passages.

The handout is meant to be read outside Bronwijzer (mailed, printed, pasted into a
memo), so every answer carries its sources with title, publisher, year and page.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path

from bronwijzer.domain import (
    CAUTION_TEXT,
    Answer,
    Citation,
    Passage,
    also_searched_line,
    source_name,
)
from bronwijzer.text import markdown_escape

HANDOUT_NAME = "bronwijzer-gesprek.md"
# Markdown would otherwise turn "#", "*", "[x](y)" or "<b>" in document text into markup.
# an address printed as is: https and characters that carry no Markdown or HTML meaning
SAFE_URL = re.compile(r"https://[A-Za-z0-9./:#?=&%-]+")


def conversation_markdown(answers: Sequence[Answer], *, title: str = "Bronwijzer — gesprek",
                          created: float | None = None) -> str:
    """The whole conversation as one Markdown document."""
    stamp = time.strftime("%d-%m-%Y %H:%M", time.localtime(created or time.time()))
    lines = [f"# {title}", "", f"Gemaakt op {stamp}. Antwoorden met de passages waarop ze "
             "berusten; controleer belangrijke conclusies in het originele document.", ""]
    if not answers:
        lines += ["_Nog geen vragen gesteld._", ""]
    for number, answer in enumerate(answers, start=1):
        lines += turn_markdown(number, answer)
    return "\n".join(lines).rstrip() + "\n"


def turn_markdown(number: int, answer: Answer) -> list[str]:
    lines = [f"## Vraag {number}: {markdown_escape(answer.question)}", ""]
    if answer.rewritten_question:
        lines += [f"_Gelezen als: {markdown_escape(answer.rewritten_question)}_", ""]
    if answer.also_searched:
        lines += [f"_{markdown_escape(also_searched_line(answer.also_searched))}_", ""]
    lines += ["**Antwoord:** " + markdown_escape(answer.text), ""]
    if answer.valid_on and any(c.valid_from for c in answer.citations):
        lines += [f"_Wetten zoals geldend op {answer.valid_on}._", ""]
    if answer.caution:
        lines += [f"_{markdown_escape(CAUTION_TEXT)}_", ""]
    for notice in answer.notices:
        lines += [f"**{markdown_escape(notice)}**", ""]
    passages = {scored.passage.id: scored.passage for scored in answer.passages}
    if answer.refused:
        lines += closest_passages_markdown([s.passage for s in answer.passages[:3]])
    else:
        lines += ["### Bronnen", ""]
        for citation in answer.citations:
            lines += citation_markdown(citation, passages.get(citation.passage_id))
    return lines


def citation_markdown(citation: Citation, passage: Passage | None) -> list[str]:
    lines = [f"**[{citation.n}] {source_name(citation).markdown()}**", ""]
    if passage is not None and SAFE_URL.fullmatch(passage.url or ""):  # the law article
        lines += [f"Tekst van deze versie: {passage.url}", ""]
    if citation.section:
        lines += [f"Sectie: {markdown_escape(citation.section)}", ""]
    lines += ["Geciteerd:", "", f"> {markdown_escape(citation.quote)}", ""]
    if passage is not None:
        lines += ["Passage:", "", f"> {markdown_escape(passage.text)}", ""]
    return lines


def closest_passages_markdown(passages: Sequence[Passage]) -> list[str]:
    if not passages:
        return ["Er zijn geen passages gevonden die op de vraag lijken.", ""]
    lines = ["### Dichtstbijzijnde passages (onvoldoende voor een antwoord)", ""]
    for passage in passages:
        lines += [f"**{source_name(passage).markdown()}**", "",
                  f"> {markdown_escape(passage.text)}", ""]
    return lines


def write_handout(answers: Sequence[Answer], folder: Path) -> Path:
    """Write the handout into `folder` (created if needed) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / HANDOUT_NAME
    path.write_text(conversation_markdown(answers), encoding="utf-8")
    return path
