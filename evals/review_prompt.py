"""The interactive side of `bronwijzer eval review`: one answer at a time in the terminal.

The reviewer sees the question, the dataset's reference answer, the answer with its
[n] markers and, per citation, the quote and the passage it comes from; then marks the
answer (c)orrect, (p)artly or (w)rong, or (s)kips it or (q)uits, and says of each
citation whether its passage is relevant to the question. The gold quotes are not
shown: the labels are meant to check the automatic rule that uses them.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console, Group
from rich.panel import Panel
from rich.prompt import Confirm, Prompt
from rich.text import Text

from bronwijzer.domain import Answer
from evals.dataset import Item
from evals.review import Judge, Judgement, StopReview

PASSAGE_CHARS = 700
CHOICES = {"c": "correct", "p": "partly", "w": "wrong"}


def prompt_judge(console: Console, stream: TextIO | None = None, total: int | None = None
                 ) -> Judge:
    """A judge that asks the reviewer; `stream` replaces the keyboard (tests, scripts)."""
    seen = 0

    def judge(item: Item, answer: Answer) -> Judgement | None:
        nonlocal seen
        seen += 1
        console.print(render(item, answer, f"{seen}/{total}" if total else str(seen)))
        choice = Prompt.ask("Answer: (c)orrect, (p)artly, (w)rong, (s)kip, (q)uit",
                            choices=[*CHOICES, "s", "q"], console=console, stream=stream)
        if choice == "q":
            raise StopReview
        if choice == "s":
            return None
        cited: dict[int | str, bool] = {
            # a Text prompt: a file name with [brackets] is not read as rich markup
            c.n: Confirm.ask(Text(f"[{c.n}] {c.document} {c.locator}: relevant to the "
                                  "question?"), console=console, stream=stream)
            for c in answer.citations
        }
        note = Prompt.ask("Note (optional)", default="", show_default=False, console=console,
                          stream=stream)
        return Judgement(item.id, CHOICES[choice], cited, note.strip())

    return judge


def render(item: Item, answer: Answer, position: str) -> Panel:
    """The answer and its citations as the reviewer sees them (all text escaped for rich)."""
    parts: list[Text | Panel] = [
        Text.assemble(("Question: ", "bold"), item.question),
        Text.assemble(("Reference answer: ", "bold"),
                      item.reference_answer or "(none: the dataset expects a refusal)"),
        Text.assemble(("Answer" + (" (refused)" if answer.refused else "") + ": ", "bold"),
                      answer.text),
    ]
    passages = {s.passage.id: s.passage for s in answer.passages}
    for citation in answer.citations:
        passage = passages.get(citation.passage_id)
        text = passage.text if passage else "(passage not among those provided)"
        if len(text) > PASSAGE_CHARS:
            text = text[: PASSAGE_CHARS - 1] + "…"
        parts.append(Panel(
            Group(Text(f"{citation.title} ({citation.document})", style="dim"),
                  Text.assemble(("quote: ", "italic"), citation.quote),
                  Text.assemble(("passage: ", "italic"), text)),
            title=Text(f"[{citation.n}] {citation.locator}".strip()), title_align="left"))
    if not answer.citations:
        parts.append(Text("(no citations)", style="dim"))
    return Panel(Group(*parts), title=Text(f"{item.id} ({position})"), title_align="left")
