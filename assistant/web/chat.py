"""The chat's behaviour: `WebChat` holds the Gradio callbacks, `Conversation` one session.

One Assistant per process, shared by all sessions; each browser session keeps its own
Conversation in gr.State. Feedback goes to SQLite with the settings that shaped the answer.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio loads: no calls home

import gradio as gr

from assistant.settings import Settings
from assistant.web.render import (
    NO_SOURCES_HTML,
    WAITING_HTML,
    chat_messages,
    md_text,
    sources_html,
)
from bronwijzer.domain import Answer, Filters

if TYPE_CHECKING:
    from assistant.pipeline import Assistant

log = logging.getLogger(__name__)

DEFAULT_EXAMPLES = (
    "Wat is sociale herovering volgens het rapport Perspectief bieden?",
    "Welke partijen moeten samenwerken in de wijkaanpak?",
    "Welke drie sporen noemt het rapport voor de aanpak van kwetsbare wijken?",
)


@dataclass
class Conversation:
    """One browser session's conversation (held in gr.State, never shared)."""

    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    answers: list[Answer] = field(default_factory=list)

    def history(self) -> list[tuple[str, str]]:
        return [(a.question, a.text) for a in self.answers]


class WebChat:
    """Everything the Gradio callbacks need: one Assistant per process, shared."""

    def __init__(self, assistant: Assistant, settings: Settings) -> None:
        from assistant.feedback import FeedbackStore

        self.assistant = assistant
        self.settings = settings
        self.feedback = FeedbackStore(settings.web.feedback_db)
        self.handout_root = Path(tempfile.mkdtemp(prefix="bronwijzer-handouts-"))

    # -- index information --
    def documents(self) -> list[Any]:
        return self.assistant.index.documents()

    def pdf_ids(self) -> set[str]:
        return {d.id for d in self.documents() if d.path.lower().endswith(".pdf")}

    def pdf_path(self, document_id: str) -> Path | None:
        for record in self.documents():
            if record.id == document_id and record.path.lower().endswith(".pdf"):
                path = Path(record.path)
                return path if path.is_file() else None
        return None

    def settings_snapshot(self) -> dict[str, Any]:
        """Everything that shaped the answers, stored with feedback to reproduce them."""
        return {"embedding_model": self.assistant.index.meta.get("embedding_model", ""),
                **self.settings.answer_shaping()}

    def examples(self) -> list[str]:
        path = self.settings.web.examples_file
        if not path:
            return list(DEFAULT_EXAMPLES)
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            log.warning("examples file %s not readable (%s); using built-in examples", path, exc)
            return list(DEFAULT_EXAMPLES)
        examples = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
        return examples or list(DEFAULT_EXAMPLES)

    # -- callbacks --
    def respond(self, question: str, conversation: Conversation | None, documents: list[str],
                publishers: list[str], types: list[str], year_from: Any, year_to: Any
                ) -> Iterator[tuple[Any, ...]]:
        conversation = conversation or Conversation()
        question = (question or "").strip()
        if not question:
            gr.Info("Typ eerst een vraag.")
            yield (gr.skip(),) * 5
            return
        filters = Filters(documents=tuple(documents or ()), publishers=tuple(publishers or ()),
                          document_types=tuple(types or ()), year_min=_year(year_from),
                          year_max=_year(year_to))
        partial = ""
        yield (chat_messages(conversation.answers, (question, partial)), WAITING_HTML, "",
               conversation, gr.skip())
        answer: Answer | None = None
        for event in self.assistant.stream(question, conversation.history(), filters):
            partial += event.delta
            answer = event.answer or answer
            if event.answer is None:
                yield (chat_messages(conversation.answers, (question, partial)), gr.skip(),
                       gr.skip(), conversation, gr.skip())
        assert answer is not None, "Assistant.stream ends with the complete answer"
        conversation.answers.append(answer)
        panel = sources_html(answer, self.pdf_ids(), turn=len(conversation.answers))
        yield (chat_messages(conversation.answers), panel, "", conversation,
               self.handout_button(conversation))

    def handout_button(self, conversation: Conversation) -> Any:
        from assistant.handout import write_handout

        path = write_handout(conversation.answers, self.handout_root / conversation.session_id)
        return gr.DownloadButton(value=str(path), interactive=True)

    def new_conversation(self) -> tuple[Any, ...]:
        return ([], NO_SOURCES_HTML, "", Conversation(), gr.DownloadButton(value=None,
                                                                          interactive=False))

    def give_feedback(self, rating: str, comment: str, conversation: Conversation | None
                      ) -> tuple[str, str]:
        if not conversation or not conversation.answers:
            return "Stel eerst een vraag; daarna kunt u feedback geven op het antwoord.", comment
        self.store_feedback(conversation.answers[-1], rating, comment)
        return "Bedankt, uw feedback is opgeslagen.", ""

    def like(self, data: gr.LikeData, conversation: Conversation | None) -> None:
        """👍/👎 on a message in the chat: data.index is the position in the message list."""
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        if not conversation or not isinstance(index, int):
            return
        number = index // 2
        if 0 <= number < len(conversation.answers) and data.liked is not None:
            self.store_feedback(conversation.answers[number], "up" if data.liked else "down", "")

    def store_feedback(self, answer: Answer, rating: str, comment: str) -> None:
        stats = self.assistant.index.stats()
        self.feedback.add(answer, rating, comment=comment or "",
                          settings_snapshot=self.settings_snapshot(),
                          index_generation=stats.generation,
                          embedding_model=stats.embedding_model)

    def filter_choices(self) -> dict[str, list[Any]]:
        records = self.documents()
        years = sorted({d.year for d in records if d.year})
        return {
            "documents": sorted(((d.title or d.name, d.name) for d in records),
                                key=lambda c: c[0].lower()),
            "publishers": sorted({d.publisher for d in records if d.publisher}),
            "types": sorted({d.document_type for d in records if d.document_type}),
            "years": years,
        }

    def about(self) -> tuple[list[list[Any]], str]:
        stats = self.assistant.index.stats()
        rows = [[d.title, d.publisher or "", d.year or "", d.document_type or "",
                 d.pages or "", d.passages, d.name]
                for d in sorted(self.documents(), key=lambda d: (d.title or "").lower())]
        answerer = ("taalmodel (LLM), antwoorden met bronvermelding"
                    if self.assistant.answerer.name == "llm"
                    else "extractief: antwoorden bestaan uit zinnen uit de bronnen zelf")
        status = "\n".join([
            f"- **Documenten:** {stats.documents} ({stats.passages} passages)",
            f"- **Zoekmodel (embeddings):** {md_text(stats.embedding_model)}",
            f"- **Manier van antwoorden:** {md_text(answerer)}",
            f"- **Index bijgewerkt op:** {md_text(stats.updated_at or 'onbekend')}",
        ])
        return rows, status


def _year(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
