"""The web chat in a real browser (Debian chromium via Playwright) over real indexes.

Servers run in-process (uvicorn in a thread) so the session's embedding model is
shared; one test starts `bronwijzer serve` as a subprocess to cover the CLI path.
Gradio keeps a connection open, so these tests wait for selectors, never "networkidle".
"""

from __future__ import annotations

import base64
import http.client
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from bronwijzer.domain import (
    REFUSAL_TEXT,
    Answer,
    BronwijzerError,
    Citation,
    Filters,
    Passage,
    ScoredPassage,
)
from bronwijzer.text import markdown_escape
from presentation.settings import Settings
from presentation.web.app import build_app
from presentation.web.auth import (
    SESSION_COOKIE,
    Sessions,
    hash_password,
    load_auth_file,
    make_authenticator,
    verify_password,
)
from presentation.web.render import (
    answer_markdown,
    citation_line,
    highlight,
    quote_span,
    sources_html,
)
from tests.conftest import free_port, running
from tests.test_security import WATCH_CSP

ANSWER_TIMEOUT_MS = 90_000
PDF_QUESTION = ("Hoeveel minder primaire abiotische grondstoffen wil het kabinet tegen 2030 "
                "gebruiken?")
PDF_DOCUMENT = "kamerbrief_circulaire_economie_IenW_2023.pdf"
FOLLOW_UP = "En welk doel geldt voor wegwerpverpakkingen?"
OUT_OF_SCOPE = "Hoeveel kost een paspoort voor een volwassene in Amsterdam?"
PAYLOAD_SCRIPT = "<script>window.__pwned=1</script>"
PAYLOAD_IMG = '<img src=x onerror="window.__pwned=1">'
# These survive ingest's tag stripping (no space after the tag name), so they reach the
# browser; no underscores, which the Markdown loader would read as emphasis.
PAYLOAD_SVG = "<svg/onload=window.pwned=1>"
PAYLOAD_IMG_SLASH = '<img/src="x"/onerror="window.pwned=1">'
HOSTILE_DOCUMENT = f"""# Buurtpreventie {PAYLOAD_SCRIPT} handleiding

## Meldingen {PAYLOAD_IMG}

De wijkagent reageert binnen twee werkdagen op elke melding die via de
buurtpreventie-app binnenkomt {PAYLOAD_SVG} {PAYLOAD_IMG_SLASH} {PAYLOAD_SCRIPT}.
Bewoners melden verdachte situaties in de buurtpreventie-app {PAYLOAD_IMG} en de
wijkagent neemt daarna contact op.
Zie [de regels](javascript:window.__pwned=1) en ${{window.__pwned=1}} voor details.

De buurtpreventie-app wordt beheerd door de gemeente {PAYLOAD_SVG} en is gratis voor bewoners.
"""


# --- helpers ---------------------------------------------------------------------------
def open_chat(browser: Any, base_url: str) -> Any:
    """A new browser context on the chat; it records Content-Security-Policy violations."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.goto(base_url + "/")
    page.wait_for_selector("#question textarea", timeout=30_000)
    return page


def csp_violations(page: Any) -> list[str]:
    """Everything the policy blocked so far: Gradio must work without hitting it."""
    return list(page.evaluate("window.__cspViolations || []"))


def ask(page: Any, question: str, turn: int) -> None:
    """Ask and wait until answer number `turn` is complete (the sources panel says so)."""
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    page.wait_for_selector(f'#sources [data-turn="{turn}"]', timeout=ANSWER_TIMEOUT_MS)


def record_chat_texts(page: Any) -> None:
    """Keep every distinct text of the chat, to see the answer arrive in pieces."""
    page.evaluate("""() => {
        window.__chatTexts = [];
        const chat = document.querySelector('#chat');
        new MutationObserver(() => {
            const text = chat.innerText;
            if (window.__chatTexts.at(-1) !== text) window.__chatTexts.push(text);
        }).observe(chat, {subtree: true, childList: true, characterData: true});
    }""")


def raw_get(base_url: str, path: str) -> int:
    """GET without client-side path normalisation (httpx and browsers remove `..`)."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", path)
    status = connection.getresponse().status
    connection.close()
    return status


def feedback_rows(db: Path, ratings: set[str], timeout: float = 15) -> list[sqlite3.Row]:
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(db) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("select * from feedback order by id").fetchall()
        if ratings <= {r["rating"] for r in rows} or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


# --- fixtures ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared_server(shared_assistant, shared_index, tmp_path_factory
                  ) -> Iterator[tuple[str, Settings]]:
    settings = shared_index[0].with_(
        feedback_db=tmp_path_factory.mktemp("feedback") / "feedback.sqlite3")
    with running(build_app(shared_assistant, settings)) as base_url:
        yield base_url, settings


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory, embeddings) -> Iterator[str]:
    from assistant.pipeline import build_assistant
    from ingest.pipeline import Ingestor
    from store.index import Index

    folder = tmp_path_factory.mktemp("hostile")
    document = folder / "docs" / "buurtpreventie.md"
    document.parent.mkdir()
    document.write_text(HOSTILE_DOCUMENT, encoding="utf-8")
    settings = Settings.from_env({}, index_dir=folder / "index",
                                 feedback_db=folder / "feedback.sqlite3")
    Ingestor(Index(settings.index, create=True, embeddings=embeddings))([document])
    assistant = build_assistant(settings, embeddings=embeddings)
    with running(build_app(assistant, settings)) as base_url:
        yield base_url


# --- browser tests against the shared corpus --------------------------------------------
@pytest.mark.slow
@pytest.mark.browser
def test_answer_sources_pdf_follow_up_feedback_and_handout(
        browser, shared_server, shared_assistant, artifacts) -> None:
    base_url, settings = shared_server
    expected = shared_assistant.ask(PDF_QUESTION)
    assert not expected.refused, "the PDF question must be answerable from the shared corpus"
    first = expected.citations[0]
    assert first.document == PDF_DOCUMENT and first.page

    page = open_chat(browser, base_url)
    record_chat_texts(page)
    ask(page, PDF_QUESTION, turn=1)
    chat = page.inner_text("#chat")
    assert "[1]" in chat
    texts = page.evaluate("window.__chatTexts")
    assert any(t.rstrip().endswith("…") for t in texts), "answer was not streamed in pieces"

    # sources panel: title, page, highlighted quote, link to the PDF at that page
    card = page.locator("#sources .bw-cited").first
    assert first.title in card.locator(".bw-title").inner_text()
    assert f"p. {first.page}" in card.locator(".bw-meta").inner_text()
    assert card.locator("mark").count() >= 1
    href = card.locator("a.bw-pdf").get_attribute("href")
    assert href and href.endswith(f".pdf#page={first.page}")
    page.screenshot(path=str(artifacts / "web-answer.png"), full_page=True)

    response = page.request.get(base_url + href.split("#")[0])
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")

    # follow-up in the same conversation; the rewritten question is shown
    follow_up = shared_assistant.ask(FOLLOW_UP, history=[(PDF_QUESTION, expected.text)])
    ask(page, FOLLOW_UP, turn=2)
    chat = page.inner_text("#chat")
    assert PDF_QUESTION in chat and FOLLOW_UP in chat
    if follow_up.rewritten_question:
        assert f"Gelezen als: {follow_up.rewritten_question}" in chat
    page.screenshot(path=str(artifacts / "web-follow-up.png"), full_page=True)

    # another browser (context) has its own, empty conversation
    other = open_chat(browser, base_url)
    assert PDF_QUESTION not in other.inner_text("#chat")
    ask(other, OUT_OF_SCOPE, turn=1)
    assert OUT_OF_SCOPE not in page.inner_text("#chat")
    other.context.close()

    # feedback on the latest answer: 👎 and "bron klopt niet", with a comment
    page.locator("#feedback-comment textarea").fill("De pagina klopt niet")
    page.locator("#feedback-down").click()
    page.wait_for_selector("#feedback-status:has-text('Bedankt')")
    page.locator("#feedback-source").click()
    page.locator("#chat button[aria-label='Like']").first.click()  # 👍 on the first answer
    rows = feedback_rows(settings.web.feedback_db, {"down", "wrong_source", "up"})
    assert {r["rating"] for r in rows} == {"down", "wrong_source", "up"}
    assert next(r for r in rows if r["rating"] == "up")["question"] == PDF_QUESTION
    down = next(r for r in rows if r["rating"] == "down")
    assert down["question"] == FOLLOW_UP and down["comment"] == "De pagina klopt niet"
    assert down["index_generation"] is not None and down["embedding_model"]
    assert '"fusion": "rrf"' in down["settings_json"] and down["passage_ids_json"] != "[]"

    # the handout contains both questions, the cited quotes and their pages
    with page.expect_download() as download:
        page.locator("#download").click()
    handout = Path(download.value.path()).read_text(encoding="utf-8").replace("\\", "")
    assert PDF_QUESTION in handout and FOLLOW_UP in handout
    assert first.quote.split(" … ")[0] in " ".join(handout.split())
    assert f"p. {first.page}" in handout

    # "Nieuw gesprek" empties the chat and the sources panel
    page.locator("#new-conversation").click()
    page.wait_for_selector("#sources .bw-empty")
    assert PDF_QUESTION not in page.inner_text("#chat")
    assert csp_violations(page) == []  # asking, streaming, feedback, download: all allowed
    page.context.close()


@pytest.mark.slow
@pytest.mark.browser
def test_refusal_shows_closest_passages(browser, shared_server, artifacts) -> None:
    base_url, _ = shared_server
    page = open_chat(browser, base_url)
    ask(page, OUT_OF_SCOPE, turn=1)
    assert REFUSAL_TEXT in page.inner_text("#chat")
    assert page.inner_text("#sources .bw-refusal") == REFUSAL_TEXT
    assert page.locator("#sources .bw-other").count() >= 1
    page.screenshot(path=str(artifacts / "web-refusal.png"), full_page=True)
    page.context.close()


@pytest.mark.slow
@pytest.mark.browser
def test_about_view_lists_documents_and_models(browser, shared_server, shared_assistant,
                                               artifacts) -> None:
    base_url, _ = shared_server
    page = open_chat(browser, base_url)
    page.get_by_role("tab", name="Over Bronwijzer").click()
    documents = shared_assistant.index.documents()
    title = next(d.title for d in documents if d.name == PDF_DOCUMENT)
    expect(page.locator("#about-documents")).to_contain_text(title, timeout=15_000)
    status = page.inner_text("#about-status")
    assert f"{len(documents)} (" in status
    assert shared_assistant.index.stats().embedding_model in status
    assert "extractief" in status
    page.screenshot(path=str(artifacts / "web-about.png"), full_page=True)
    page.context.close()


@pytest.mark.slow
def test_health_and_document_route(shared_server, shared_assistant) -> None:
    base_url, _ = shared_server
    stats = shared_assistant.index.stats()
    health = httpx.get(base_url + "/health").json()
    assert health == {"ok": True, "documents": stats.documents, "passages": stats.passages}

    markdown = next(d for d in shared_assistant.index.documents() if d.path.endswith(".md"))
    for path in ("/document/../../etc/passwd", "/document/..%2F..%2Fetc%2Fpasswd",
                 "/document/%2e%2e/%2e%2e/etc/passwd", "/document/0123456789abcdef.pdf",
                 f"/document/{markdown.id}.pdf", f"/document/{markdown.id}", "/document/"):
        assert raw_get(base_url, path) == 404, path


# --- the demo corpus: course packs and dated sources --------------------------------------
COURSE = Path(__file__).resolve().parents[1] / "courses" / "openbare-orde-in-de-wijk.toml"


@pytest.fixture(scope="module")
def demo_assistant(demo_index, embeddings):
    from assistant.pipeline import build_assistant

    return build_assistant(demo_index, embeddings=embeddings)


@pytest.fixture(scope="module")
def demo_server(demo_assistant, demo_index, tmp_path_factory) -> Iterator[tuple[str, Settings]]:
    """The chat `make demo` opens: corpus/, with the project's courses/."""
    settings = demo_index.with_(
        feedback_db=tmp_path_factory.mktemp("demo-feedback") / "feedback.sqlite3")
    with running(build_app(demo_assistant, settings)) as base_url:
        yield base_url, settings


def shown_examples(page: Any) -> list[str]:
    return [b.inner_text().strip() for b in page.locator("#examples button.bw-example").all()
            if b.is_visible()]


@pytest.mark.slow
@pytest.mark.browser
def test_course_sessions_ask_with_their_filter_and_laws_name_their_version(
        browser, demo_server, demo_assistant, artifacts) -> None:
    from presentation.course import load_course
    from presentation.web.chat import DEFAULT_EXAMPLES

    base_url, _ = demo_server
    course = load_course(COURSE)
    first, second = course.sessions[0], course.sessions[1]
    filtered = next(q for q in first.questions if not q.filters.is_empty())
    expected = demo_assistant.ask(filtered.text, filters=filtered.filters)
    cited = expected.citations[0]
    assert not expected.refused and not cited.stale and not expected.notices
    assert cited.valid_from == "2025-07-16" and cited.url  # the Wet Bibob in force

    page = open_chat(browser, base_url)
    # the examples render after the text box: wait for them, not for a fixed time
    expect(page.locator("#examples button.bw-example").first).to_have_text(DEFAULT_EXAMPLES[0])
    assert shown_examples(page) == list(DEFAULT_EXAMPLES)
    assert page.locator("#session").count() == 0  # no course chosen: no session selector
    page.locator("#course input").click()
    page.get_by_role("option", name=course.title).click()
    expect(page.locator("#session input")).to_have_value(first.title)
    expect(page.locator("#examples-heading")).to_contain_text(course.audience)
    expect(page.locator("#examples button.bw-example").first).to_have_text(
        first.questions[0].text)
    assert shown_examples(page) == [q.text for q in first.questions]

    # a question with a filter: asked with it, and the filter control shows it
    page.locator("#examples button.bw-example", has_text=filtered.text).click()
    page.wait_for_selector('#sources [data-turn="1"]', timeout=ANSWER_TIMEOUT_MS)
    chat = " ".join(page.inner_text("#chat").split())
    assert (f"[1] {cited.title} ({cited.publisher}, versie geldend vanaf {cited.valid_from}), "
            f"{cited.locator}") in chat
    assert "Let op" not in chat and "mogelijk verouderd" not in chat
    title = next(d.title for d in demo_assistant.index.documents()
                 if d.bwb_id in filtered.filters.laws)  # the law, one choice for its versions
    assert title in page.inner_text("#filter-documents")
    panel = page.locator("#sources")
    expect(panel.locator(".bw-cited .bw-version").first).to_have_attribute("href", cited.url)
    assert panel.locator(".bw-cited .bw-stale").count() == 0
    assert cited.locator in panel.locator(".bw-cited .bw-meta").first.inner_text()
    marked = panel.locator(".bw-cited").first.locator("mark").inner_text()
    assert " ".join(marked.split()) == " ".join(cited.quote.split())
    page.screenshot(path=str(artifacts / "web-course-law-version.png"), full_page=True)

    # the next session; its question has no filter, so the filter is cleared, and it is
    # asked on its own (not rewritten as a follow-up of the Bibob question)
    page.locator("#session input").click()
    page.get_by_role("option", name=second.title).click()
    expect(page.locator("#examples button.bw-example").first).to_have_text(
        second.questions[0].text)
    assert shown_examples(page) == [q.text for q in second.questions]
    page.locator("#examples button.bw-example").first.click()
    page.wait_for_selector('#sources [data-turn="2"]', timeout=ANSWER_TIMEOUT_MS)
    assert title not in page.inner_text("#filter-documents")
    assert "Gelezen als" not in page.inner_text("#chat")

    # the handout carries the notice too
    with page.expect_download() as download:
        page.locator("#download").click()
    handout = Path(download.value.path()).read_text(encoding="utf-8").replace("\\", "")
    assert f"versie geldend vanaf {cited.valid_from}" in handout and cited.url in handout
    assert csp_violations(page) == []
    page.context.close()


@pytest.mark.slow
def test_without_courses_there_is_no_course_selector(demo_assistant, demo_index,
                                                     tmp_path) -> None:
    from presentation.web.chat import WebChat
    from presentation.web.layout import build_blocks

    def ids(folder: Path) -> set[str]:
        settings = demo_index.with_(courses_dir=folder, feedback_db=tmp_path / "f.sqlite3")
        blocks = build_blocks(WebChat(demo_assistant, settings))
        return {b.elem_id for b in blocks.blocks.values() if getattr(b, "elem_id", None)}

    empty = tmp_path / "geen-cursussen"
    empty.mkdir()
    assert not {"course", "session"} & ids(empty)
    assert {"course", "session", "example-0"} <= ids(COURSE.parent)


# --- hostile content ---------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.browser
def test_html_in_documents_and_questions_never_runs(browser, hostile_server, artifacts) -> None:
    page = open_chat(browser, hostile_server)
    question = ("Hoe snel reageert de wijkagent op meldingen in de buurtpreventie-app? "
                + PAYLOAD_IMG)
    ask(page, question, turn=1)
    page.wait_for_timeout(500)  # give a broken <img> time to fire onerror, if it existed
    assert PAYLOAD_IMG in page.inner_text("#chat")  # the question is shown as text
    # Tags in documents are stripped at ingest (ingest/clean.py); the cited sentence around
    # them still reaches the answer and the panel, and nothing became an element (below).
    for shown in ("#sources", "#chat"):
        assert "buurtpreventie-app" in page.inner_text(shown), shown
    injected = page.evaluate("""() => document.querySelectorAll(
        '#chat img[src="x"], #sources img, #chat script, #sources script,'
        + ' #chat svg[onload], #sources svg[onload],'
        + ' #chat a[href^="javascript"], #sources a[href^="javascript"]').length""")
    assert injected == 0
    page.get_by_role("tab", name="Over Bronwijzer").click()
    expect(page.locator("#about-documents")).to_contain_text("Buurtpreventie", timeout=15_000)
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("typeof window.pwned") == "undefined"
    page.screenshot(path=str(artifacts / "web-hostile-about.png"), full_page=True)
    page.get_by_role("tab", name="Vragen").click()
    page.screenshot(path=str(artifacts / "web-hostile.png"), full_page=True)
    # escaping alone kept the payloads inert: none of them even reached the policy
    assert csp_violations(page) == []
    page.context.close()


# --- login and the command line ------------------------------------------------------------
PASSWORD = "correct paard"


@pytest.fixture(scope="module")
def login_server(shared_assistant, shared_index, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """(base URL, /document path of a PDF in the index) of the chat behind a login."""
    folder = tmp_path_factory.mktemp("login")
    auth_file = folder / "auth.txt"
    auth_file.write_text(f"anna:{hash_password(PASSWORD, iterations=1000)}\n")
    settings = shared_index[0].with_(auth_file=str(auth_file),
                                     feedback_db=folder / "feedback.sqlite3")
    pdf = next(d for d in shared_assistant.index.documents() if d.name == PDF_DOCUMENT)
    with running(build_app(shared_assistant, settings)) as base_url:
        yield base_url, f"/document/{pdf.id}.pdf"


@pytest.mark.slow
def test_login_protects_chat_and_documents(login_server) -> None:
    base_url, pdf = login_server
    with httpx.Client(base_url=base_url) as client:
        home = client.get("/")
        assert home.status_code == 303 and home.headers["location"] == "/login"
        assert client.get("/config").status_code == 401
        assert client.get(pdf).status_code == 401
        assert client.get("/health").json()["ok"] is True  # open without login

        form = client.get("/login")
        assert form.status_code == 200 and '<html lang="nl">' in form.text
        assert '<label for="username">' in form.text and '<label for="password">' in form.text
        for user, password in (("anna", "fout"), ("bob", PASSWORD), ("", "")):
            wrong = client.post("/login", data={"username": user, "password": password})
            assert wrong.status_code == 401 and "onjuist wachtwoord" in wrong.text
            assert SESSION_COOKIE not in client.cookies
        assert client.get(pdf).status_code == 401

        right = client.post("/login", data={"username": "anna", "password": PASSWORD})
        assert right.status_code == 303 and right.headers["location"] == "/"
        cookie = right.headers["set-cookie"].lower()
        assert cookie.startswith(f"{SESSION_COOKIE}=") and "httponly" in cookie
        assert "samesite=lax" in cookie and "path=/" in cookie
        assert client.get("/").status_code == 200
        assert client.get("/config").status_code == 200
        document = client.get(pdf)
        assert document.status_code == 200 and document.content.startswith(b"%PDF")
        assert document.headers["content-type"] == "application/pdf"
        assert client.get("/document/0123456789abcdef.pdf").status_code == 404

        out = client.get("/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert SESSION_COOKIE not in client.cookies
        assert client.get(pdf).status_code == 401
        assert client.get("/").status_code == 303


@pytest.mark.slow
def test_forged_session_cookies_are_refused(login_server) -> None:
    base_url, pdf = login_server
    token = httpx.post(base_url + "/login",
                       data={"username": "anna", "password": PASSWORD}).cookies[SESSION_COOKIE]
    name, expiry, signature = token.split(".")
    users = {"anna": hash_password(PASSWORD, iterations=1000)}
    forged = {
        "later expiry": f"{name}.{int(expiry) + 3600}.{signature}",
        "other user": f"{_b64('bob')}.{expiry}.{signature}",
        "no signature": f"{name}.{expiry}.",
        "zero signature": f"{name}.{expiry}.{'0' * 64}",
        "other secret": Sessions(users).issue("anna"),
        "garbage": "anna",
    }
    for kind, value in forged.items():
        cookies = {SESSION_COOKIE: value}
        assert httpx.get(base_url + pdf, cookies=cookies).status_code == 401, kind
        assert httpx.get(base_url + "/config", cookies=cookies).status_code == 401, kind
        assert httpx.get(base_url + "/", cookies=cookies).status_code == 303, kind
    assert httpx.get(base_url + pdf, cookies={SESSION_COOKIE: token}).status_code == 200


@pytest.mark.slow
@pytest.mark.browser
def test_login_form_in_the_browser(browser, login_server, artifacts) -> None:
    base_url, pdf = login_server
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(base_url + "/")
    assert page.url == base_url + "/login"
    page.get_by_label("Gebruikersnaam").fill("anna")
    page.get_by_label("Wachtwoord").fill("fout")
    page.get_by_role("button", name="Inloggen").click()
    expect(page.get_by_role("alert")).to_contain_text("onjuist wachtwoord")
    expect(page.get_by_label("Gebruikersnaam")).to_have_value("anna")
    page.screenshot(path=str(artifacts / "web-login-refused.png"))
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    page.wait_for_selector("#question textarea", timeout=30_000)
    ask(page, PDF_QUESTION, turn=1)  # the queue accepts the session too
    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert SESSION_COOKIE not in page.evaluate("document.cookie")  # out of scripts' reach
    assert page.request.get(base_url + pdf).status == 200
    page.goto(base_url + "/logout")
    assert page.url == base_url + "/login"
    assert page.request.get(base_url + pdf).status == 401
    page.context.close()


@pytest.mark.slow
def test_cli_serve_warns_when_public_without_login(sample_index, tmp_path) -> None:
    port = free_port()
    env = os.environ | {"BRONWIJZER_FEEDBACK_DB": str(tmp_path / "feedback.sqlite3"),
                        "BRONWIJZER_AUTH_FILE": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--index", str(sample_index.index.index_dir),
         "--host", "0.0.0.0", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "bronwijzer serve did not come up"
                time.sleep(0.5)
        assert health.json()["documents"] == 1
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "WITHOUT login" in stderr


# --- fast unit tests of the pieces ---------------------------------------------------------
def test_password_hashes_verify_and_differ() -> None:
    encoded = hash_password("geheim", iterations=1000)
    assert encoded.startswith("pbkdf2_sha256$1000$")
    assert verify_password("geheim", encoded)
    assert not verify_password("Geheim", encoded)
    assert not verify_password("geheim", "pbkdf2_sha256$x$y$z")
    assert hash_password("geheim", iterations=1000) != encoded  # random salt


def test_auth_file_parsing(tmp_path) -> None:
    good = tmp_path / "auth.txt"
    good.write_text(f"# team\nanna:{hash_password('a', iterations=1000)}\n\n")
    users = load_auth_file(good)
    check = make_authenticator(users)
    assert check("anna", "a") and not check("anna", "b") and not check("bob", "a")
    bad = tmp_path / "bad.txt"
    bad.write_text("anna:plaintext\n")
    with pytest.raises(BronwijzerError, match=r"bad\.txt:1"):
        load_auth_file(bad)
    with pytest.raises(BronwijzerError, match="cannot read"):
        load_auth_file(tmp_path / "missing.txt")


def test_sessions_refuse_forged_and_expired_tokens() -> None:
    now = [1_000_000.0]
    users = {"anna": hash_password("a", iterations=1000)}
    sessions = Sessions(users, lifetime=60, clock=lambda: now[0])
    token = sessions.login("anna", "a")
    assert token and sessions.user(token) == "anna"
    assert sessions.login("anna", "b") is None and sessions.login("bob", "a") is None
    name, expiry, signature = token.split(".")
    other = "1" if signature[-1] == "0" else "0"  # a changed last character, never the same
    for forged in (f"{name}.{int(expiry) + 60}.{signature}", f"{_b64('bob')}.{expiry}.{signature}",
                   f"{name}.{expiry}.{signature[:-1]}{other}", f"{name}.{expiry}", "", None,
                   f"{name}.-{expiry}.{signature}", "..", sessions.issue("bob")):
        assert sessions.user(forged) is None, forged
    assert Sessions(users).user(token) is None  # another start, another secret
    now[0] += 59
    assert sessions.user(token) == "anna"
    now[0] += 1
    assert sessions.user(token) is None  # expired


def _b64(user: str) -> str:
    return base64.urlsafe_b64encode(user.encode()).decode().rstrip("=")


def _hostile_answer() -> Answer:
    text = f"Meldingen {PAYLOAD_IMG} gaan naar de wijkagent. Zie [x](javascript:alert(1))."
    passage = Passage(id="p1", document_id="0123456789abcdef", document="a.md",
                      title=f"Titel {PAYLOAD_SCRIPT}", text=text, ordinal=0,
                      section=f"Kop {PAYLOAD_IMG}", publisher="<b>Uitgever</b>", year=2024)
    quote = f"Meldingen {PAYLOAD_IMG} gaan naar de wijkagent."
    citation = Citation(n=1, passage_id="p1", document="a.md", title=passage.title, page=None,
                        quote=quote, section=passage.section, start=0, end=len(quote),
                        publisher=passage.publisher, year=2024)
    return Answer(question=f"Vraag {PAYLOAD_SCRIPT}", text=f"{citation.quote} [1]",
                  citations=[citation], passages=[ScoredPassage(passage, 0.9)], refused=False,
                  rewritten_question=f"Gelezen {PAYLOAD_IMG}",
                  notices=[f"Let op: {PAYLOAD_IMG} https://x.nl/{PAYLOAD_SCRIPT}."])


def test_sources_panel_escapes_everything() -> None:
    panel = sources_html(_hostile_answer(), pdf_ids=set(), turn=1)
    for payload in (PAYLOAD_SCRIPT, PAYLOAD_IMG, "<b>"):
        assert payload not in panel
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in panel
    assert "<mark>" in panel and "bw-pdf" not in panel  # no PDF link for a Markdown source


def test_chat_markdown_is_inert() -> None:
    message = answer_markdown(_hostile_answer())
    assert "<img" not in message and "<script" not in message
    assert "](" not in message.replace("\\](", "")  # no Markdown links
    assert message.startswith("_Gelezen als: ")
    assert markdown_escape("[1] $x$") == "\\[1\\] \\$x\\$"


def test_highlight_marks_exactly_the_quoted_offsets() -> None:
    text = "Eerste zin.  Tweede <zin>. Eerste zin."
    second = text.rindex("Eerste zin.")  # the same sentence twice: the offsets decide
    citation = Citation(n=1, passage_id="p", document="a.md", title="A", page=None,
                        quote="Eerste zin.", start=second, end=len(text))
    span = quote_span(text, citation)
    assert span == (second, len(text))
    marked = highlight(text, *span)
    assert marked == "Eerste zin.  Tweede &lt;zin&gt;. <mark>Eerste zin.</mark>"
    # offsets that do not hold (or none at all) mark nothing rather than a guess
    assert quote_span(text, replace(citation, start=1, end=12)) is None
    assert quote_span(text, replace(citation, start=0, end=0)) is None
    assert quote_span(text, replace(citation, end=len(text) + 5)) is None


def _law_answer(stale: bool = True) -> Answer:
    text = "1. De burgemeester is belast met de handhaving van de openbare orde."
    start = text.index("De burgemeester")
    passage = Passage(id="g1", document_id="0123456789abcdef", document="gemeentewet.md",
                      title="Gemeentewet", text=text, ordinal=0,
                      section="Hoofdstuk XI › Artikel 172", publisher="Rijksoverheid",
                      document_type="wet", version_date="2015-11-24",
                      current_url="https://wetten.overheid.nl/BWBR0005416")
    citation = Citation(n=1, passage_id="g1", document="gemeentewet.md", title="Gemeentewet",
                        page=None, quote=text[start:], section=passage.section,
                        locator="art. 172", start=start, end=len(text),
                        publisher="Rijksoverheid", version_date="2015-11-24", stale=stale)
    notice = ("Let op: Gemeentewet is hier de versie van 2015-11-24; controleer de geldende "
              "tekst op https://wetten.overheid.nl/BWBR0005416.")
    return Answer(question="Wie handhaaft de openbare orde?", text=f"{text[start:]} [1]",
                  citations=[citation], passages=[ScoredPassage(passage, 0.9)], refused=False,
                  notices=[notice] if stale else [])


def test_chat_shows_notices_and_dated_citation_lines() -> None:
    answer = _law_answer()
    shown = answer_markdown(answer).replace("\\", "")
    assert f"**{answer.notices[0]}**" in shown
    assert ("[1] Gemeentewet (Rijksoverheid, versie 2015-11-24), art. 172, "
            "_mogelijk verouderd_") in shown
    assert shown.index("Let op:") < shown.index("Bronnen:")
    current = answer_markdown(_law_answer(stale=False)).replace("\\", "")
    assert "Let op" not in current and "verouderd" not in current
    # without a version date: the year; the page when there is no locator
    news = replace(answer.citations[0], version_date=None, year=2021, locator="", page=4,
                   publisher="Verwey-Jonker Instituut", stale=False)
    assert citation_line(news).replace("\\", "") == (
        "[1] Gemeentewet (Verwey-Jonker Instituut, 2021), p. 4")


def test_sources_panel_shows_dates_articles_notices_and_links() -> None:
    panel = sources_html(_law_answer(), pdf_ids=set(), turn=1)
    assert '<p class="bw-notice">' in panel
    # the address becomes a link, without the sentence's full stop
    assert '<a href="https://wetten.overheid.nl/BWBR0005416" target="_blank"' in panel
    assert "Rijksoverheid, versie 2015-11-24 · art. 172" in panel
    assert '<span class="bw-stale">mogelijk verouderd</span>' in panel
    assert ('<a class="bw-current" href="https://wetten.overheid.nl/BWBR0005416"' in panel
            and "Geldende tekst op wetten.overheid.nl" in panel)
    assert "1. <mark>De burgemeester is belast" in panel
    assert panel.count("<h2>") == 1 and '<h3 class="bw-title">' in panel
    # a hostile notice: escaped, and no address swallows the markup after it
    hostile = sources_html(_hostile_answer(), pdf_ids=set(), turn=1)
    assert '<a href="https://x.nl/&lt;script' not in hostile
    assert "&lt;img src=x onerror" in hostile and "<img" not in hostile
    assert "<script>" not in hostile


def test_course_examples_follow_the_chosen_course_and_session(tmp_path) -> None:
    from presentation.web.courses import CourseExamples, filter_updates, filter_values

    (tmp_path / "wijk.toml").write_text("""title = "Wijk"
audience = "Wijkregisseurs"
[[session]]
title = "Een"
[[session.question]]
text = "Wat is een Bibob-onderzoek?"
filter = ["document=wet_bibob.md", "year=2014..2016"]
[[session.question]]
text = "Wie handhaaft de openbare orde?"
[[session]]
title = "Twee"
[[session.question]]
text = "Wat is sociale herovering?"
""", "utf-8")
    (tmp_path / "kapot.toml").write_text("title = ", "utf-8")  # skipped, not fatal
    examples = CourseExamples(tmp_path, ["Vraag a?", "Vraag b?", "Vraag c?"])
    assert examples.course_titles() == ["Wijk"]
    assert examples.session_titles("Wijk") == ["Een", "Twee"]
    assert examples.session_titles("") == []
    assert [e.text for e in examples.examples("", None)] == ["Vraag a?", "Vraag b?", "Vraag c?"]
    assert all(e.filters is None for e in examples.examples("", None))
    first, second = examples.examples("Wijk", "Een")
    assert filter_values(first.filters) == (["wet_bibob.md"], [], [], 2014, 2016, "")
    assert second.filters is not None and second.filters.is_empty()
    assert [e.text for e in examples.examples("Wijk", "Twee")] == ["Wat is sociale herovering?"]
    assert examples.examples("Wijk", "Drie") == examples.defaults  # an unknown session
    assert examples.heading("Wijk", "Een") == "Een — voor: Wijkregisseurs"
    assert examples.most() == 3
    assert CourseExamples(tmp_path / "nergens", ["Vraag a?"]).course_titles() == []
    # values the index lacks join the choices (Gradio refuses values outside them)
    choices = {"documents": [("Wet Bibob", "wet_bibob.md")], "publishers": ["Rijksoverheid"],
               "types": ["wet"], "years": [2015, 2021]}
    assert filter_updates(first.filters, choices) == [
        {"value": ["wet_bibob.md"]}, {"value": []}, {"value": []},
        {"value": 2014, "choices": [2015, 2021, 2014]},
        {"value": 2016, "choices": [2015, 2021, 2016]}, {"value": ""}]


def test_the_filter_controls_carry_laws_and_the_date_both_ways() -> None:
    from presentation.web.courses import controls_filters, filter_values

    chosen = Filters.parse(["law=BWBR0005416", "document=nieuws.md", "geldig_op=2016-01-01"])
    values = filter_values(chosen)
    assert values == (["nieuws.md", "BWBR0005416"], [], [], None, None, "2016-01-01")
    assert controls_filters(*values) == chosen
    assert controls_filters([], [], [], None, None, " ").valid_on is None  # empty: today
    with pytest.raises(BronwijzerError, match="Geldend op must be a date YYYY-MM-DD"):
        controls_filters([], [], [], None, None, "1-1-2016")


def test_a_law_version_is_named_and_linked_without_a_notice() -> None:
    answer = _law_answer(stale=False)
    url = "https://wetten.overheid.nl/BWBR0005416/2026-10-01#Artikel172"
    passage = replace(answer.passages[0].passage, valid_from="2026-10-01", url=url,
                      version_date="2026-10-01")
    citation = replace(answer.citations[0], valid_from="2026-10-01", url=url,
                       version_date="2026-10-01")
    answer = replace(answer, citations=[citation], passages=[ScoredPassage(passage, 0.9)])
    assert citation_line(citation).replace("\\", "") == (
        "[1] Gemeentewet (Rijksoverheid, versie geldend vanaf 2026-10-01), art. 172")
    panel = sources_html(answer, pdf_ids=set(), turn=1)
    assert f'<a class="bw-version" href="{url}"' in panel and "Deze versie op" in panel
    assert "bw-current" not in panel and "bw-stale" not in panel  # in force: no second link
