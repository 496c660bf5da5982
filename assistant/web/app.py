"""The web chat: Gradio mounted in FastAPI, with a sources panel, feedback and handouts.

    bronwijzer serve --index index --port 7860

Routes next to the chat: `GET /health` (JSON counts) and `GET /document/<id>.pdf`
(an ingested PDF, read-only, so source links can open the original at a page).
Uploads are refused (403): Gradio's generic POST /gradio_api/upload is blocked, as the
chat has no file inputs.

Everything that comes from documents, questions or answers is escaped before it
reaches the browser: the sources panel is HTML built here with `html.escape`, and
chat messages are Markdown in which every markup character is backslash-escaped.

Optional login (off by default): BRONWIJZER_AUTH_FILE with `user:hash` lines. Create
a line with

    python -c "from assistant.web import hash_password as h; import getpass; \
print('anna:' + h(getpass.getpass()))" >> auth.txt
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import logging
import os
import re
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse

from assistant.cite import quote_parts
from assistant.settings import Settings
from bronwijzer.domain import (
    CAUTION_TEXT,
    Answer,
    BronwijzerError,
    Citation,
    Filters,
    ScoredPassage,
)

if TYPE_CHECKING:
    from assistant.pipeline import Assistant

log = logging.getLogger(__name__)

DEFAULT_EXAMPLES = (
    "Wat is sociale herovering volgens het rapport Perspectief bieden?",
    "Welke partijen moeten samenwerken in de wijkaanpak?",
    "Welke drie sporen noemt het rapport voor de aanpak van kwetsbare wijken?",
)
PBKDF2_ITERATIONS = 600_000
PDF_NAME = re.compile(r"^([0-9a-f]{16})\.pdf$")
NO_SOURCES_HTML = ('<div class="bw-sources bw-empty"><p>Stel een vraag: hier verschijnen de '
                   "passages waarop het antwoord berust, met document en pagina.</p></div>")


# --- login ------------------------------------------------------------------------------
def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS,
                  salt: bytes | None = None) -> str:
    """`pbkdf2_sha256$iterations$salt_hex$hash_hex`, for a line `user:<this>` in the auth file."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, iterations, salt_hex, hash_hex = encoded.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"),
                                     bytes.fromhex(salt_hex), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), hash_hex)


def load_auth_file(path: str | Path) -> dict[str, str]:
    """{user: encoded hash}; blank lines and # comments are skipped."""
    users: dict[str, str] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BronwijzerError(f"{path}: cannot read auth file ({exc.strerror})") from None
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, encoded = line.partition(":")
        if not sep or not user or not encoded.startswith("pbkdf2_sha256$"):
            raise BronwijzerError(f"{path}:{number}: expected `user:pbkdf2_sha256$…`")
        users[user] = encoded
    if not users:
        raise BronwijzerError(f"{path}: no users; add a `user:hash` line (see assistant/web.py)")
    return users


def make_authenticator(users: dict[str, str]) -> Callable[[str, str], bool]:
    # an unknown user costs the same hashing time as a known one: no user enumeration
    dummy = hash_password(secrets.token_hex(8))

    def authenticate(username: str, password: str) -> bool:
        return verify_password(password, users.get(username, dummy)) and username in users

    return authenticate


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- rendering: chat messages (escaped Markdown) --------------------------------------
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~$])")


def md_text(text: str) -> str:
    """Text that a Markdown renderer shows literally: no links, images, HTML or maths."""
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", text), quote=False)


def location(page: int | None, section: str) -> str:
    return f"p. {page}" if page else section


def answer_markdown(answer: Answer) -> str:
    parts: list[str] = []
    if answer.rewritten_question:
        parts.append(f"_Gelezen als: {md_text(answer.rewritten_question)}_")
    parts.append(md_text(answer.text))
    if answer.caution:
        parts.append(f"_{md_text(CAUTION_TEXT)}_")
    if answer.refused and answer.passages:
        parts.append("De passages die er het dichtst bij kwamen staan rechts.")
    lines = []
    for citation in answer.citations:
        where = location(citation.page, citation.section)
        lines.append(f"{md_text(f'[{citation.n}]')} {md_text(citation.title)}"
                     + (f", {md_text(where)}" if where else ""))
    if lines:
        parts.append("**Bronnen:**  \n" + "  \n".join(lines))
    return "\n\n".join(parts)


def chat_messages(answers: Sequence[Answer], pending: tuple[str, str] | None = None
                  ) -> list[dict[str, str]]:
    """Chatbot messages, strictly alternating user/assistant (the like handler relies on it)."""
    messages: list[dict[str, str]] = []
    for answer in answers:
        messages.append({"role": "user", "content": md_text(answer.question)})
        messages.append({"role": "assistant", "content": answer_markdown(answer)})
    if pending is not None:
        question, partial = pending
        messages.append({"role": "user", "content": md_text(question)})
        messages.append({"role": "assistant", "content": md_text(partial) + " …"})
    return messages


# --- rendering: the sources panel (HTML built here, every text escaped) ---------------
def highlight(text: str, quote: str) -> str:
    """Escaped `text` with the quoted sentence(s) in <mark>."""
    spans: list[tuple[int, int]] = []
    for part in quote_parts(quote):
        words = part.split()
        if not words:
            continue
        match = re.search(r"\s+".join(re.escape(w) for w in words), text)
        if match:
            spans.append(match.span())
    out: list[str] = []
    position = 0
    for start, end in sorted(spans):
        if start < position:
            continue
        out.append(html.escape(text[position:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        position = end
    out.append(html.escape(text[position:]))
    return "".join(out)


def meta_line(scored: ScoredPassage, page: int | None) -> str:
    p = scored.passage
    items = [v for v in (p.publisher, str(p.year) if p.year else None) if v]
    if page:
        items.append(f"p. {page}")
    elif p.page_start:
        items.append(p.location())
    if p.section:
        items.append(p.section)
    return " · ".join(html.escape(item) for item in items)


def document_link(scored: ScoredPassage, page: int | None, pdf_ids: set[str]) -> str:
    p = scored.passage
    if p.document_id not in pdf_ids:
        return ""
    target = page or p.page_start or 1
    href = f"/document/{html.escape(p.document_id)}.pdf#page={int(target)}"
    return (f'<a class="bw-pdf" href="{href}" target="_blank" rel="noopener noreferrer">'
            f"Open het document op pagina {int(target)} (PDF)</a>")


def source_card(scored: ScoredPassage, pdf_ids: set[str], citation: Citation | None = None
                ) -> str:
    p = scored.passage
    page = citation.page if citation and citation.page else p.page_start
    marker = f'<span class="bw-n">[{citation.n}]</span> ' if citation else ""
    body = highlight(p.text, citation.quote) if citation else html.escape(p.text)
    kind = "bw-source bw-cited" if citation else "bw-source bw-other"
    return (
        f'<article class="{kind}">'
        f'<div class="bw-title">{marker}{html.escape(p.title)}</div>'
        f'<div class="bw-meta">{meta_line(scored, page)}</div>'
        f'<blockquote class="bw-passage">{body}</blockquote>'
        f"{document_link(scored, page, pdf_ids)}"
        "</article>"
    )


def sources_html(answer: Answer | None, pdf_ids: set[str], turn: int = 0) -> str:
    """The panel for one answer; data-turn lets tests (and styles) tell answers apart."""
    if answer is None:
        return NO_SOURCES_HTML
    if answer.refused:
        return refused_sources_html(answer, pdf_ids, turn)
    by_id = {scored.passage.id: scored for scored in answer.passages}
    cards = [source_card(by_id[c.passage_id], pdf_ids, c)
             for c in answer.citations if c.passage_id in by_id]
    cited = {c.passage_id for c in answer.citations}
    others = [source_card(s, pdf_ids) for s in answer.passages if s.passage.id not in cited]
    seconds = answer.timings.get("total", 0.0) / 1000
    parts = [f'<div class="bw-sources" data-turn="{turn}">',
             f'<h3>Bronnen bij het laatste antwoord <span class="bw-time">'
             f"({seconds:.1f} s)</span></h3>", *cards]
    if others:
        parts += ['<details class="bw-more">',
                  f"<summary>Overige gevonden passages ({len(others)})</summary>", *others,
                  "</details>"]
    parts.append("</div>")
    return "".join(parts)


def refused_sources_html(answer: Answer, pdf_ids: set[str], turn: int = 0) -> str:
    parts = [f'<div class="bw-sources bw-refused" data-turn="{turn}">',
             f'<p class="bw-refusal">{html.escape(answer.text)}</p>']
    if answer.passages:
        parts.append("<h3>Dichtstbijzijnde passages</h3><p class='bw-note'>Deze passages lijken "
                     "op de vraag, maar zijn niet voldoende om haar te beantwoorden.</p>")
        parts += [source_card(s, pdf_ids) for s in answer.passages[:3]]
    parts.append("</div>")
    return "".join(parts)


# System fonts: the chat must not fetch fonts from the internet (offline by design).
THEME = gr.themes.Default(font=["system-ui", "Segoe UI", "Arial", "sans-serif"],
                          font_mono=["ui-monospace", "Consolas", "monospace"])
CSS = """
.bw-sources h3 { margin: 0 0 .6em; font-size: 1.05em; }
.bw-time { font-weight: normal; color: #777; font-size: .85em; }
.bw-source { border: 1px solid #d9dde3; border-radius: 8px; padding: .7em .9em;
             margin-bottom: .8em; background: #fff; }
.bw-title { font-weight: 600; }
.bw-n { color: #1d4ed8; }
.bw-meta { color: #555; font-size: .88em; margin: .2em 0 .4em; }
.bw-passage { margin: .3em 0; padding-left: .7em; border-left: 3px solid #cbd5e1;
              font-size: .92em; white-space: pre-wrap; color: #222; }
.bw-passage mark { background: #fde68a; padding: 0 .1em; }
.bw-other { background: #f8fafc; color: #444; }
.bw-more summary { cursor: pointer; color: #444; margin: .4em 0; }
.bw-refusal { font-weight: 600; }
.bw-note, .bw-empty p { color: #555; }
.bw-pdf { font-size: .9em; }
"""


# --- per-session state ----------------------------------------------------------------
@dataclass
class Conversation:
    """One browser session's conversation (held in gr.State, never shared)."""

    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    answers: list[Answer] = field(default_factory=list)

    def history(self) -> list[tuple[str, str]]:
        return [(a.question, a.text) for a in self.answers]


# --- the application ------------------------------------------------------------------
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
        waiting = '<div class="bw-sources bw-empty"><p>Bezig met zoeken in de bronnen…</p></div>'
        yield (chat_messages(conversation.answers, (question, partial)), waiting, "",
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


def build_blocks(chat: WebChat) -> gr.Blocks:
    with gr.Blocks(title="Bronwijzer", analytics_enabled=False,
                   delete_cache=(3600, 86400)) as blocks:
        conversation = gr.State(None)  # per browser session: Conversation
        gr.Markdown("# Bronwijzer\nStel een vraag over de beleidsdocumenten. Elk antwoord "
                    "noemt de passage en pagina waar het vandaan komt.")
        with gr.Tabs():
            with gr.Tab("Vragen", id="chat-tab"), gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    ui = _chat_controls(chat)
                    feedback = _feedback_controls()
                    filters = _filter_controls(chat.filter_choices())
                with gr.Column(scale=2):
                    sources = gr.HTML(NO_SOURCES_HTML, elem_id="sources", js_on_load=None)
            with gr.Tab("Over Bronwijzer", id="about-tab", elem_id="about"):
                about = _about_controls()

        outputs = [ui["chatbot"], sources, ui["question"], conversation, ui["download"]]
        inputs = [ui["question"], conversation, *filters]
        ui["ask"].click(chat.respond, inputs, outputs)
        ui["question"].submit(chat.respond, inputs, outputs)
        ui["new"].click(chat.new_conversation, None, outputs, queue=False)
        for rating, button in feedback["buttons"].items():
            button.click(lambda comment, state, r=rating: chat.give_feedback(r, comment, state),
                         [feedback["comment"], conversation],
                         [feedback["status"], feedback["comment"]])
        ui["chatbot"].like(chat.like, [conversation], None)
        blocks.load(chat.about, None, about)
    return blocks


def _chat_controls(chat: WebChat) -> dict[str, Any]:
    chatbot = gr.Chatbot(label="Gesprek", elem_id="chat", height=480, show_label=False,
                         latex_delimiters=[], placeholder="Hier verschijnt het gesprek.")
    with gr.Row():
        question = gr.Textbox(label="Uw vraag", elem_id="question", scale=5, max_lines=4,
                              placeholder="Bijvoorbeeld: Wat is sociale herovering?")
        ask = gr.Button("Vraag stellen", variant="primary", scale=1, elem_id="ask")
    gr.Examples([[q] for q in chat.examples()], inputs=[question], label="Voorbeeldvragen")
    with gr.Row():
        new = gr.Button("Nieuw gesprek", elem_id="new-conversation")
        download = gr.DownloadButton("Gesprek downloaden (Markdown)", elem_id="download",
                                     interactive=False)
    return {"chatbot": chatbot, "question": question, "ask": ask, "new": new,
            "download": download}


def _feedback_controls() -> dict[str, Any]:
    with gr.Accordion("Feedback op het laatste antwoord", open=True, elem_id="feedback"):
        comment = gr.Textbox(label="Toelichting (optioneel)", elem_id="feedback-comment",
                             max_lines=3)
        with gr.Row():
            buttons = {
                "up": gr.Button("👍 Goed antwoord", elem_id="feedback-up"),
                "down": gr.Button("👎 Niet goed", elem_id="feedback-down"),
                "wrong_source": gr.Button("Bron klopt niet", elem_id="feedback-source"),
            }
        status = gr.Markdown(elem_id="feedback-status")
    return {"comment": comment, "buttons": buttons, "status": status}


def _filter_controls(choices: dict[str, list[Any]]) -> list[Any]:
    """Documents, publishers, types, year from, year to (the order respond() expects)."""
    with gr.Accordion("Zoeken binnen (filters)", open=False, elem_id="filters"):
        documents = gr.Dropdown(choices["documents"], multiselect=True, label="Documenten",
                                elem_id="filter-documents")
        with gr.Row():
            publishers = gr.Dropdown(choices["publishers"], multiselect=True, label="Uitgever")
            types = gr.Dropdown(choices["types"], multiselect=True, label="Soort document")
        with gr.Row():
            year_from = gr.Dropdown(choices["years"], label="Vanaf jaar", value=None)
            year_to = gr.Dropdown(choices["years"], label="Tot en met jaar", value=None)
    return [documents, publishers, types, year_from, year_to]


def _about_controls() -> list[Any]:
    status = gr.Markdown(elem_id="about-status")
    table = gr.Dataframe(
        headers=["Titel", "Uitgever", "Jaar", "Soort", "Pagina's", "Passages", "Bestand"],
        interactive=False, wrap=True, elem_id="about-documents", label="Documenten in de index",
        column_widths=["28%", "20%", "7%", "11%", "9%", "9%", "16%"])
    return [table, status]


def build_app(assistant: Assistant, settings: Settings) -> FastAPI:
    """FastAPI app with /health, /document/<id>.pdf and the chat at /."""
    chat = WebChat(assistant, settings)
    users = load_auth_file(settings.web.auth_file) if settings.web.auth_file else None
    app = FastAPI(title="Bronwijzer", docs_url=None, redoc_url=None, openapi_url=None)
    gradio_app: dict[str, Any] = {}

    @app.middleware("http")
    async def no_uploads(request: Request, call_next: Any) -> Any:
        # Gradio always routes POST /gradio_api/upload (files into its cache, no size limit);
        # this app has no file inputs, so nobody may put files on the server through it.
        if request.method == "POST" and request.url.path.rstrip("/").endswith("/upload"):
            return JSONResponse({"detail": "Uploaden is niet mogelijk."}, status_code=403)
        return await call_next(request)

    @app.get("/health")
    def health() -> dict[str, Any]:
        stats = assistant.index.stats()
        return {"ok": True, "documents": stats.documents, "passages": stats.passages}

    @app.get("/document/{name:path}")
    def document(name: str, request: Request) -> FileResponse:
        if users and not _logged_in(request, gradio_app.get("app")):
            raise HTTPException(status_code=401, detail="Log eerst in.")
        match = PDF_NAME.match(name)
        path = chat.pdf_path(match.group(1)) if match else None
        if path is None:
            raise HTTPException(status_code=404, detail="Document niet gevonden.")
        return FileResponse(path, media_type="application/pdf", filename=path.name,
                            content_disposition_type="inline",
                            headers={"X-Content-Type-Options": "nosniff"})

    blocks = build_blocks(chat)
    blocks.queue(default_concurrency_limit=settings.web.concurrency)
    gr.mount_gradio_app(app, blocks, path="", auth=make_authenticator(users) if users else None,
                        auth_message="Log in om Bronwijzer te gebruiken.", css=CSS,
                        footer_links=[], theme=THEME, allowed_paths=[str(chat.handout_root)])
    gradio_app["app"] = _mounted_gradio_app(app)
    return app


def _mounted_gradio_app(app: FastAPI) -> Any:
    from starlette.routing import Mount

    return next((r.app for r in app.routes if isinstance(r, Mount)), None)


def _logged_in(request: Request, gradio_app: Any) -> bool:
    """Same login as the chat: Gradio's session cookie."""
    if gradio_app is None:
        return False
    cookie_id = getattr(gradio_app, "cookie_id", "")
    token = (request.cookies.get(f"access-token-{cookie_id}")
             or request.cookies.get(f"access-token-unsecure-{cookie_id}"))
    return bool(token) and token in getattr(gradio_app, "tokens", {})


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Load the index and assistant once, then serve the chat with uvicorn."""
    import uvicorn

    from assistant.pipeline import build_assistant

    if not settings.web.auth_file and not is_loopback(host):
        log.warning("Bronwijzer serves on %s WITHOUT login: anyone who can reach this address "
                    "can use it. Set BRONWIJZER_AUTH_FILE to require a login.", host)
    started = time.perf_counter()
    assistant = build_assistant(settings)
    app = build_app(assistant, settings)
    stats = assistant.index.stats()
    print(f"Bronwijzer: {stats.documents} documenten, {stats.passages} passages "
          f"(geladen in {time.perf_counter() - started:.1f} s). Open http://{host}:{port}/",
          flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
