"""The chat's behaviour: `WebChat` holds the Gradio callbacks, `Conversation` one session.

One Assistant per process, shared by all sessions; each browser session keeps its own
Conversation in gr.State. Feedback goes to SQLite with the settings that shaped the answer.

Privacy: questions and answers are never logged unless BRONWIJZER_LOG_QUESTIONS is on;
feedback carries a random conversation id, not who asked; feedback older than the
retention period is purged at start and daily; handouts are deleted after an hour.
Fair use: `QuestionLimit` caps the questions of one session per minute.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio loads: no calls home

import gradio as gr

from bronwijzer.domain import Answer, BronwijzerError
from bronwijzer.text import markdown_escape
from presentation.settings import Settings
from presentation.web.courses import (
    CourseExamples,
    controls_filters,
    filter_updates,
    filter_values,
)
from presentation.web.render import (
    NO_SOURCES_HTML,
    WAITING_HTML,
    chat_messages,
    sources_html,
)

if TYPE_CHECKING:
    from assistant.pipeline import Assistant

log = logging.getLogger(__name__)
# questions and answers only go here, and only with BRONWIJZER_LOG_QUESTIONS on
question_log = logging.getLogger("presentation.web.questions")

PURGE_EVERY_SECONDS = 86_400.0
HANDOUT_SECONDS = 3600.0  # a handout is rewritten after every answer; older ones are stale

# questions the demo corpus (corpus/: law texts and the Verwey-Jonker item) answers well;
# tests/test_answers.py asks each of them over that corpus
DEFAULT_EXAMPLES = (
    "Wie is belast met de handhaving van de openbare orde?",
    "Wanneer mag de burgemeester een bevel geven aan een kind onder de twaalf?",
    "Wie beslist over een huisvestingsvergunning?",
    "Wat is sociale herovering?",
    "Welke partijen moeten samenwerken in de wijkaanpak?",
)


@dataclass
class Conversation:
    """One browser session's conversation (held in gr.State, never shared)."""

    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    answers: list[Answer] = field(default_factory=list)

    def history(self) -> list[tuple[str, str]]:
        return [(a.question, a.text) for a in self.answers]


class QuestionLimit:
    """At most `per_minute` questions per session in any 60 seconds (0: no limit)."""

    WINDOW = 60.0

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._asked: dict[str, deque[float]] = {}

    def wait(self, session: str) -> float:
        """0 when `session` may ask now (the question is counted), else seconds to wait."""
        if self.per_minute <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            if len(self._asked) > 1000:  # forget sessions that asked nothing for a minute
                self._asked = {k: v for k, v in self._asked.items()
                               if v and now - v[-1] < self.WINDOW}
            asked = self._asked.setdefault(session, deque())
            while asked and now - asked[0] >= self.WINDOW:
                asked.popleft()
            if len(asked) >= self.per_minute:
                return asked[0] + self.WINDOW - now
            asked.append(now)
            return 0.0


def limit_message(per_minute: int, wait: float) -> str:
    return (f"U stelt veel vragen kort na elkaar; er kunnen er hooguit {per_minute} per minuut "
            f"worden beantwoord. Wacht ongeveer {max(1, round(wait))} seconden en stel uw "
            "vraag dan opnieuw: hij staat nog in het invoerveld.")


class WebChat:
    """Everything the Gradio callbacks need: one Assistant per process, shared."""

    def __init__(self, assistant: Assistant, settings: Settings) -> None:
        from presentation.feedback import FeedbackStore

        self.assistant = assistant
        self.settings = settings
        self.feedback = FeedbackStore(settings.web.feedback_db)
        self.purged_at_start = self.purge_feedback()
        self.limit = QuestionLimit(settings.web.questions_per_minute)
        self.course_examples = CourseExamples(settings.web.courses_dir, self.examples())
        self.handout_root = Path(tempfile.mkdtemp(prefix="bronwijzer-handouts-"))
        # handouts hold questions and answers: gone when the server stops
        atexit.register(shutil.rmtree, self.handout_root, ignore_errors=True)

    def purge_feedback(self) -> int:
        """Delete feedback older than the retention period; returns how many rows."""
        self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS
        return self.feedback.purge(self.settings.web.feedback_retention_days)

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
                publishers: list[str], types: list[str], year_from: Any, year_to: Any,
                valid_on: Any = "", request: gr.Request | None = None, standalone: bool = False
                ) -> Iterator[tuple[Any, ...]]:
        """Answer `question`, streaming. `standalone`: not read as a follow-up of earlier
        questions (example and course questions are complete on their own)."""
        conversation = conversation or Conversation()
        question = (question or "").strip()
        if not question:
            gr.Info("Typ eerst een vraag.")
            yield (gr.skip(),) * 5
            return
        # Gradio's session (one per page load) is what the limit counts: "Nieuw gesprek"
        # makes a new Conversation but must not reset it
        wait = self.limit.wait(getattr(request, "session_hash", None) or conversation.session_id)
        if wait:
            log.warning("a chat session is over the limit of %d questions per minute",
                        self.limit.per_minute)
            notice = [{"role": "user", "content": markdown_escape(question)},
                      {"role": "assistant",
                       "content": markdown_escape(limit_message(self.limit.per_minute, wait))}]
            yield (chat_messages(conversation.answers) + notice, gr.skip(), question,
                   conversation, gr.skip())
            return
        try:
            filters = controls_filters(documents, publishers, types, year_from, year_to,
                                       valid_on)
        except BronwijzerError as exc:  # "Geldend op" that is not a date: ask again
            gr.Warning(f"{exc}, bijvoorbeeld 2016-01-01.")
            yield (gr.skip(), gr.skip(), question, conversation, gr.skip())
            return
        partial = ""
        yield (chat_messages(conversation.answers, (question, partial)), WAITING_HTML, "",
               conversation, gr.skip())
        answer: Answer | None = None
        history = [] if standalone else conversation.history()
        for event in self.assistant.stream(question, history, filters):
            partial += event.delta
            answer = event.answer or answer
            if event.answer is None:
                yield (chat_messages(conversation.answers, (question, partial)), gr.skip(),
                       gr.skip(), conversation, gr.skip())
        assert answer is not None, "Assistant.stream ends with the complete answer"
        conversation.answers.append(answer)
        if self.settings.web.log_questions:
            question_log.info("conversation %s: question %r -> %s %r", conversation.session_id,
                              question, "refused" if answer.refused else "answer", answer.text)
        panel = sources_html(answer, self.pdf_ids(), turn=len(conversation.answers))
        yield (chat_messages(conversation.answers), panel, "", conversation,
               self.handout_button(conversation))

    def ask_example(self, number: int, course: str | None, session: str | None,
                    conversation: Conversation | None, *filters: Any,
                    request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
        """Example button `number` was clicked: ask its question, on its own (as the course
        handout does). A course question is asked with its own filter, shown in the filter
        controls and their accordion (the last seven outputs), opened when there is one; a
        general example is asked with the user's filters."""
        examples = self.course_examples.examples(course, session)
        if not 0 <= number < len(examples):  # the page was built for another list
            yield (gr.skip(),) * 12
            return
        example = examples[number]
        shown: tuple[Any, ...] = (gr.skip(),) * 7
        if example.filters is not None:
            filters = filter_values(example.filters)
            shown = (*(gr.update(**u) for u in filter_updates(example.filters,
                                                              self.filter_choices())),
                     gr.update(open=True) if not example.filters.is_empty() else gr.skip())
        for outputs in self.respond(example.text, conversation, *filters, request=request,
                                    standalone=True):
            yield (*outputs, *shown)
            shown = (gr.skip(),) * 7  # set once, at the start

    def handout_button(self, conversation: Conversation) -> Any:
        from presentation.handout import write_handout

        self.remove_old_handouts()
        path = write_handout(conversation.answers, self.handout_root / conversation.session_id)
        return gr.DownloadButton(value=str(path), interactive=True)

    def remove_old_handouts(self, max_age: float = HANDOUT_SECONDS) -> None:
        cutoff = time.time() - max_age
        for folder in self.handout_root.iterdir():
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:  # removed by another session's sweep at the same moment
                continue

    def new_conversation(self) -> tuple[Any, ...]:
        return ([], NO_SOURCES_HTML, "", Conversation(), gr.DownloadButton(value=None,
                                                                          interactive=False))

    def give_feedback(self, rating: str, comment: str, conversation: Conversation | None,
                      request: gr.Request | None = None) -> tuple[str, str]:
        if not conversation or not conversation.answers:
            return "Stel eerst een vraag; daarna kunt u feedback geven op het antwoord.", comment
        self.store_feedback(conversation, conversation.answers[-1], rating, comment, request)
        return "Bedankt, uw feedback is opgeslagen.", ""

    def like(self, data: gr.LikeData, conversation: Conversation | None,
             request: gr.Request | None = None) -> None:
        """👍/👎 on a message in the chat: data.index is the position in the message list."""
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        if not conversation or not isinstance(index, int):
            return
        number = index // 2
        if 0 <= number < len(conversation.answers) and data.liked is not None:
            self.store_feedback(conversation, conversation.answers[number],
                                "up" if data.liked else "down", "", request)

    def store_feedback(self, conversation: Conversation, answer: Answer, rating: str,
                       comment: str, request: gr.Request | None = None) -> None:
        if time.monotonic() >= self._next_purge:  # a server that runs for months purges too
            self.purge_feedback()
        web = self.settings.web
        # the user name only with login on and the operator's explicit choice; never an IP
        keep_user = bool(web.auth_file) and web.feedback_keep_user
        user = getattr(request, "username", None) if keep_user else None
        stats = self.assistant.index.stats()
        self.feedback.add(answer, rating, comment=comment or "",
                          settings_snapshot=self.settings_snapshot(),
                          index_generation=stats.generation,
                          embedding_model=stats.embedding_model,
                          session_id=conversation.session_id, user=user or None)

    def filter_choices(self) -> dict[str, list[Any]]:
        """Choices of the filter controls. A law is one choice (its BWB id), whatever its
        versions: which version is searched is the "Geldend op" control's business."""
        records = self.documents()
        years = sorted({d.year for d in records if d.year})
        versions = self.assistant.retriever.versions().by_document
        documents: dict[str, str] = {}  # value: label
        for d in sorted(records, key=lambda d: d.name, reverse=True):  # the newest's title
            value = versions[d.name].bwb_id if d.name in versions else d.name
            documents.setdefault(value, d.title or d.name)
        return {
            "documents": sorted(((label, value) for value, label in documents.items()),
                                key=lambda c: (c[0].lower(), c[1])),
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
            f"- **Zoekmodel (embeddings):** {markdown_escape(stats.embedding_model)}",
            f"- **Manier van antwoorden:** {markdown_escape(answerer)}",
            f"- **Index bijgewerkt op:** {markdown_escape(stats.updated_at or 'onbekend')}",
        ])
        return rows, status

    def privacy_markdown(self) -> str:
        """What is stored, where and for how long: for the "Over Bronwijzer" tab."""
        web = self.settings.web
        logged = ("**Let op:** de beheerder heeft het loggen van vragen aangezet (om fouten te "
                  "zoeken); vragen en antwoorden staan nu ook in het serverlog."
                  if web.log_questions else "Ze komen niet in de logbestanden van de server.")
        who = ("een willekeurig gespreksnummer en uw gebruikersnaam (zo ingesteld door de "
               "beheerder)" if web.auth_file and web.feedback_keep_user
               else "alleen een willekeurig gespreksnummer: geen naam en geen IP-adres")
        lines = [
            "## Privacy: wat Bronwijzer bewaart",
            "- **Uw vragen en de antwoorden** staan alleen in het werkgeheugen van de server, "
            "zolang het gesprek open is. Ze verdwijnen uiterlijk een uur nadat u het venster "
            f"sluit, en bij elke herstart. {logged}",
            "- **Feedback** (👍/👎, \"Bron klopt niet\" en uw toelichting) wordt opgeslagen "
            "met de vraag, het antwoord en de gebruikte bronnen, in een databasebestand op de "
            f"server ({markdown_escape(web.feedback_db.name)}), om Bronwijzer te verbeteren. "
            f"Feedback wordt **{web.feedback_retention_days} dagen** bewaard en daarna automatisch "
            f"verwijderd. Bij de feedback staat {who}.",
            "- **Gesprek downloaden:** het bestand wordt op de server gemaakt en na een uur "
            "verwijderd.",
        ]
        if web.auth_file:
            lines.append(f"- **Inloggen:** een sessiecookie, {web.session_hours:g} uur geldig; "
                         "mislukte pogingen worden alleen in het werkgeheugen geteld.")
        if self.assistant.answerer.name == "llm":
            lines.append("- **Taalmodel:** uw vraag en de gevonden passages gaan naar de "
                         "taalmodelserver die de beheerder heeft ingesteld.")
        lines.append("- Zet geen persoonsgegevens (namen, adressen, BSN) in een vraag als dat "
                     "niet nodig is.")
        return "\n".join(lines)

