"""Privacy and security of the web app (issue 15), measured over real HTTP.

Security headers on every kind of response, the request body limit, the per-session
question limit, login back-off and session expiry, what a feedback row holds, and that a
real `bronwijzer serve` process writes no question text to its logs. The Chromium test
checks the Content-Security-Policy in use: no violation while asking, streaming,
opening a source PDF, giving feedback and downloading; an injected handler is blocked.
Figures go to test-artifacts/hardening.json (sections `security_*`).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench import load
from presentation.feedback import FeedbackStore
from presentation.settings import Settings
from presentation.web.app import DOCUMENT_POLICY, build_app
from presentation.web.auth import SESSION_COOKIE, LoginThrottle, hash_password, wait_text
from presentation.web.chat import QuestionLimit
from tests import pdf_factory
from tests.conftest import PROJECT, SAMPLE, free_port, running
from tests.test_hardening import record

QUESTION = "Wie is verantwoordelijk voor een veilige openbare ruimte in Noord-Holland?"
PERSONAL = "mevrouw Jansen van de Dorpsstraat 12"  # what a civil servant might type
PASSWORD = "correct paard"
COMMON = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin",
          "x-frame-options": "SAMEORIGIN"}


# --- fixtures and helpers ------------------------------------------------------------------
@pytest.fixture(scope="module")
def security_index(tmp_path_factory, embeddings) -> Settings:
    """The bundled sample and a generated PDF (so there is a document URL)."""
    from ingest.pipeline import Ingestor
    from store.index import Index

    folder = tmp_path_factory.mktemp("security")
    (folder / "docs").mkdir()
    pdf = pdf_factory.dutch_pdf(folder / "docs")
    settings = Settings.from_env({}, index_dir=folder / "index",
                                 feedback_db=folder / "feedback.sqlite3")
    Ingestor(Index(settings.index, create=True, embeddings=embeddings))([SAMPLE, pdf])
    return settings


@pytest.fixture(scope="module")
def security_assistant(security_index, embeddings) -> Any:
    from assistant.pipeline import build_assistant

    return build_assistant(security_index, embeddings=embeddings)


@contextmanager
def serve(assistant: Any, settings: Settings, tmp_path: Path, **changes: Any) -> Iterator[str]:
    changed = settings.with_(feedback_db=tmp_path / "feedback.sqlite3", **changes)
    with running(build_app(assistant, changed)) as url:
        yield url


def auth_file(tmp_path: Path) -> str:
    path = tmp_path / "auth.txt"
    path.write_text("".join(f"{user}:{hash_password(PASSWORD, iterations=1000)}\n"
                            for user in ("anna", "bob")), "utf-8")
    return str(path)


def check_headers(response: httpx.Response, *, https: bool = False) -> str:
    """The headers every response carries; returns its Content-Security-Policy."""
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (response.url, name)
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in policy and "object-src" in policy
    assert ("strict-transport-security" in response.headers) == https, response.url
    return policy


def pdf_path(assistant: Any) -> str:
    document = next(d for d in assistant.index.documents() if d.path.endswith(".pdf"))
    return f"/document/{document.id}.pdf"


def respond_fn(client: httpx.Client) -> int:
    config = client.get("/config").json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == "respond")


def answer_text(result: Any) -> str:
    return load.message_text(result[0][-1])


# --- headers ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_security_headers_on_every_kind_of_response(security_assistant, security_index,
                                                    tmp_path) -> None:
    seen: dict[str, int] = {}
    with serve(security_assistant, security_index, tmp_path) as url, \
            httpx.Client(base_url=url, timeout=60) as client:
        page = client.get("/")
        policy = check_headers(page)
        nonce = re.search(r"'nonce-([\w-]+)'", policy)
        assert nonce and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        scripts = re.findall(r"<script\b[^>]*>", page.text)
        assert scripts and all(f'nonce="{nonce.group(1)}"' in tag for tag in scripts)
        assert client.get("/").headers["content-security-policy"] != policy  # fresh nonce
        seen["/ (html, scripts with nonce)"] = len(scripts)

        document = client.get(pdf_path(security_assistant))
        assert document.status_code == 200 and document.content.startswith(b"%PDF")
        assert document.headers["content-type"] == "application/pdf"
        assert document.headers["content-disposition"] == 'inline; filename="beleidsnota.pdf"'
        assert check_headers(document) == DOCUMENT_POLICY

        for path in ("/health", "/config", "/gradio_api/info", "/document/0123456789abcdef.pdf",
                     "/nergens"):
            response = client.get(path)
            check_headers(response)
            seen[path] = response.status_code

        # the API a question goes through: the join and the stream of the answer (SSE)
        join = client.post("/gradio_api/queue/join", json={
            "data": [QUESTION, None, [], [], [], None, None, ""], "event_data": None,
            "fn_index": respond_fn(client), "trigger_id": None, "session_hash": "kopregels"})
        check_headers(join)
        with client.stream("GET", "/gradio_api/queue/data",
                           params={"session_hash": "kopregels"}) as stream:
            check_headers(stream)
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = [json.loads(line[5:]) for line in stream.iter_lines()
                      if line.startswith("data:")]
        done = next(e for e in events if e.get("msg") == "process_completed")
        assert done["success"] and "Bronnen:" in str(done["output"]["data"][0])
        seen["/gradio_api/queue/join + /queue/data (SSE)"] = len(events)

        upload = client.post("/gradio_api/upload", files={"files": ("x.md", b"x")})
        assert upload.status_code == 403
        check_headers(upload)
        # behind a TLS proxy (X-Forwarded-Proto from a trusted address): HSTS as well
        for path in ("/", "/health"):
            check_headers(client.get(path, headers={"X-Forwarded-Proto": "https"}), https=True)
    names = sorted({*COMMON, "content-security-policy", "permissions-policy"})
    record("security_headers", {"headers": names, "hsts_behind_https": "max-age=31536000",
                                "page_policy": policy, "document_policy": DOCUMENT_POLICY,
                                "responses_checked": seen})


# --- request bodies ------------------------------------------------------------------------
@pytest.mark.slow
def test_large_request_bodies_are_refused_early(security_assistant, security_index,
                                                tmp_path) -> None:
    from gradio_client import Client

    limit = security_index.web.max_body_kb * 1024
    with serve(security_assistant, security_index, tmp_path) as url:
        too_big = b"{" + b" " * limit + b"}"
        declared = httpx.post(url + "/gradio_api/queue/join", content=too_big,
                              headers={"content-type": "application/json"})
        assert declared.status_code == 413 and "te groot" in declared.json()["detail"]
        check_headers(declared)
        # no Content-Length (chunked): counted while it arrives
        chunks = iter([b"{" + b" " * (limit // 2), b" " * (limit // 2), b" " * 10, b"}"])
        chunked = httpx.post(url + "/gradio_api/queue/join", content=chunks,
                             headers={"content-type": "application/json"})
        assert chunked.status_code == 413
        check_headers(chunked)
        assert httpx.post(url + "/health", content=b"x" * (limit + 1)).status_code == 413
        # Gradio's own traffic fits: a question of 50,000 characters (about 50 KB of
        # JSON) still reaches the assistant, which asks for a shorter one
        client = Client(url, verbose=False)
        long_question = "Wat is sociale herovering? " * 1852
        assert "kortere vraag" in answer_text(
            client.predict(*load.chat_args(long_question), api_name=load.CHAT_API))
        client.close()
    record("security_body_limit", {"limit_bytes": limit, "declared_over_limit": 413,
                                   "chunked_over_limit": 413,
                                   "question_of_50000_chars": "reaches the assistant"})


# --- fair use ------------------------------------------------------------------------------
def test_question_limit_counts_per_session_over_a_minute() -> None:
    now = [0.0]
    limit = QuestionLimit(3, clock=lambda: now[0])
    assert [limit.wait("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limit.wait("a") == 60.0 and limit.wait("b") == 0.0
    now[0] = 59.0
    assert limit.wait("a") == pytest.approx(1.0)
    now[0] = 60.0
    assert limit.wait("a") == 0.0  # the first question left the window
    unlimited = QuestionLimit(0)
    assert all(unlimited.wait("a") == 0.0 for _ in range(100))


@pytest.mark.slow
def test_too_many_questions_get_a_polite_message(security_assistant, security_index,
                                                 tmp_path) -> None:
    from gradio_client import Client

    with serve(security_assistant, security_index, tmp_path, questions_per_minute=3) as url:
        client = Client(url, verbose=False)
        replies = [client.predict(*load.chat_args(QUESTION), api_name=load.CHAT_API)
                   for _ in range(4)]
        other = Client(url, verbose=False)  # another session has its own count
        fresh = answer_text(other.predict(*load.chat_args(QUESTION), api_name=load.CHAT_API))
        client.close()
        other.close()
    answers = [answer_text(r) for r in replies]
    assert all("per minuut" not in a and "Bronnen:" in a for a in answers[:3])
    assert "hooguit 3 per minuut" in answers[3] and "Wacht ongeveer" in answers[3]
    assert replies[3][2] == QUESTION  # the question stays in the box, to send again later
    assert "Bronnen:" in fresh
    record("security_question_limit", {"limit_per_minute": 3, "answered": 3,
                                       "fourth_question": answers[3][:120],
                                       "other_session": "answered"})


# --- login --------------------------------------------------------------------------------------
def test_login_throttle_backs_off_exponentially() -> None:
    now = [0.0]
    throttle = LoginThrottle(max_failures=3, max_failures_per_address=10, lockout=60,
                             clock=lambda: now[0])
    for _ in range(2):
        assert throttle.attempt("anna", "1.1.1.1") == 0
        assert throttle.failed("anna", "1.1.1.1") == 0
    assert throttle.attempt("anna", "1.1.1.1") == 0
    assert throttle.failed("anna", "1.1.1.1") == 60  # the third failure starts a pause
    assert throttle.attempt("anna", "2.2.2.2") == 60  # per user name, from anywhere
    now[0] += 60
    for n, pause in enumerate((120, 240, 480, 960, 1920, 3600, 3600)):  # at most an hour
        assert throttle.attempt("anna", f"3.3.3.{n}") == 0
        assert throttle.failed("anna", f"3.3.3.{n}") == pause
        now[0] += pause
    now[0] += 901  # quiet for 15 minutes after the last pause: counting starts again
    assert throttle.attempt("anna", "3.3.3.9") == 0 and throttle.failed("anna", "3.3.3.9") == 0
    assert throttle.attempt("anna", "4.4.4.4") == 0
    throttle.succeeded("anna", "4.4.4.4")
    assert throttle.attempt("anna", "4.4.4.4") == 0  # a good login starts the count again
    assert throttle.failed("anna", "4.4.4.4") == 0
    assert wait_text(1) == "1 seconde" and wait_text(60) == "60 seconden"
    assert wait_text(3600) == "60 minuten"


@pytest.mark.slow
def test_login_back_off_per_user_and_per_address_over_http(security_assistant, security_index,
                                                           tmp_path) -> None:
    settings = {"auth_file": auth_file(tmp_path), "login_max_failures": 3,
                "login_max_failures_per_address": 6, "login_lockout_seconds": 1}

    def login(user: str, password: str, address: str) -> httpx.Response:
        return httpx.post(url + "/login", data={"username": user, "password": password},
                          headers={"X-Forwarded-For": address})

    with serve(security_assistant, security_index, tmp_path, **settings) as url:
        # per user: the third wrong password starts a pause of 1 s; then 2 s
        assert [login("anna", "fout", "10.0.0.1").status_code for _ in range(2)] == [401, 401]
        third = login("anna", "fout", "10.0.0.1")
        assert third.status_code == 429 and third.headers["retry-after"] == "1"
        assert "Te veel mislukte pogingen" in third.text and "1 seconde" in third.text
        check_headers(third)
        during = login("anna", PASSWORD, "10.0.0.9")  # right password, other address
        assert during.status_code == 429 and SESSION_COOKIE not in during.cookies
        assert login("bob", PASSWORD, "10.0.0.1").status_code == 303  # others unaffected
        time.sleep(1.1)
        fourth = login("anna", "fout", "10.0.0.1")
        assert fourth.status_code == 429 and fourth.headers["retry-after"] == "2"
        time.sleep(2.1)
        assert login("anna", PASSWORD, "10.0.0.1").status_code == 303
        assert login("anna", "fout", "10.0.0.1").status_code == 401  # count starts again

        # per address: six wrong guesses at six names pause that address only
        statuses = [login(f"gok{n}", "fout", "10.0.0.2").status_code for n in range(6)]
        assert statuses == [401] * 5 + [429]
        assert login("anna", PASSWORD, "10.0.0.2").status_code == 429
        assert login("anna", PASSWORD, "10.0.0.3").status_code == 303

        # simultaneous guesses cannot slip past the count: at most 3 passwords checked
        results: list[int] = []
        threads = [threading.Thread(target=lambda n=n: results.append(
            login("bob", "fout", f"10.1.0.{n}").status_code)) for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results.count(401) <= 2 and results.count(429) >= 10, results
    record("security_login", {"pause_after_failures_per_user": 3,
                              "pause_after_failures_per_address": 6,
                              "pauses_s": [1, 2], "defaults": "5 per user, 20 per address, "
                              "60 s doubling to at most 3600 s", "status_during_pause": 429,
                              "simultaneous_12_guesses": {"401": results.count(401),
                                                          "429": results.count(429)}})


@pytest.mark.slow
def test_session_cookie_flags_and_expiry_over_http(security_assistant, security_index,
                                                   tmp_path) -> None:
    pdf = pdf_path(security_assistant)
    lifetime = 2.0
    with serve(security_assistant, security_index, tmp_path, auth_file=auth_file(tmp_path),
               session_hours=lifetime / 3600) as url:
        form = {"username": "anna", "password": PASSWORD}
        plain = httpx.post(url + "/login", data=form)
        cookie = plain.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=2" in cookie
        assert "secure" not in cookie
        secure = httpx.post(url + "/login", data=form, headers={"X-Forwarded-Proto": "https"})
        assert "; secure" in secure.headers["set-cookie"].lower()
        check_headers(secure, https=True)
        logout = httpx.get(url + "/logout", headers={"X-Forwarded-Proto": "https"})
        assert "; secure" in logout.headers["set-cookie"].lower()

        cookies = {SESSION_COOKIE: plain.cookies[SESSION_COOKIE]}
        issued = time.monotonic()
        assert httpx.get(url + "/config", cookies=cookies).status_code == 200
        assert httpx.get(url + pdf, cookies=cookies).status_code == 200
        time.sleep(max(0.0, lifetime + 1.1 - (time.monotonic() - issued)))
        # the browser would drop the cookie; a client that keeps sending it is refused
        assert httpx.get(url + "/config", cookies=cookies).status_code == 401
        assert httpx.get(url + pdf, cookies=cookies).status_code == 401
        home = httpx.get(url + "/", cookies=cookies)
        assert home.status_code == 303 and home.headers["location"] == "/login"
    record("security_session", {"cookie": "HttpOnly; SameSite=Lax; Secure behind HTTPS",
                                "expiry_tested_s": lifetime, "after_expiry": 401,
                                "default_hours": 12})


# --- what feedback keeps --------------------------------------------------------------------
@pytest.mark.slow
def test_feedback_rows_hold_a_random_session_id_not_who_gave_it(
        security_assistant, security_index, tmp_path) -> None:
    from gradio_client import Client

    def rate(url: str, cookie: str | None = None) -> None:
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else None
        client = Client(url, verbose=False, headers=headers)
        client.predict(*load.chat_args(QUESTION), api_name=load.CHAT_API)
        client.predict(f"over {PERSONAL}", api_name="/feedback_down")
        client.predict("", api_name="/feedback_up")
        client.close()

    def rows(db: Path) -> list[sqlite3.Row]:
        with sqlite3.connect(db) as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute("select * from feedback order by id").fetchall()

    open_db = tmp_path / "feedback.sqlite3"
    with serve(security_assistant, security_index, tmp_path) as url:
        rate(url)
        rate(url)
    anonymous = rows(open_db)
    assert len(anonymous) == 4
    ids = [r["session_id"] for r in anonymous]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert ids[0] == ids[1] != ids[2] == ids[3]  # one id per conversation
    assert all(r["user"] is None for r in anonymous)
    assert not any("127.0.0.1" in str(value) for r in anonymous for value in tuple(r))

    for keep_user, expected in ((False, None), (True, "anna")):
        folder = tmp_path / f"login-{keep_user}"
        folder.mkdir()
        with serve(security_assistant, security_index, folder, auth_file=auth_file(folder),
                   feedback_keep_user=keep_user) as url:
            token = httpx.post(url + "/login", data={"username": "anna", "password": PASSWORD}
                               ).cookies[SESSION_COOKIE]
            rate(url, token)
        assert {r["user"] for r in rows(folder / "feedback.sqlite3")} == {expected}
    record("security_feedback_identity", {"session_id": "32 hex, random per conversation",
                                          "ip_address": "never", "user_name": "only with "
                                          "login and BRONWIJZER_FEEDBACK_KEEP_USER=true"})


# --- logs of a real `bronwijzer serve` ------------------------------------------------------
@contextmanager
def serve_process(index_dir: Path, workdir: Path, **env: str) -> Iterator[tuple[str, Path]]:
    """`python -m cli serve` with stdout and stderr captured in files; (URL, log file)."""
    port = free_port()
    out = workdir / "serve.log"
    environment = os.environ | {"PYTHONPATH": str(PROJECT), "BRONWIJZER_AUTH_FILE": "",
                                "BRONWIJZER_FEEDBACK_DB": str(workdir / "feedback.sqlite3"),
                                **env}
    with out.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--index", str(index_dir), "--port",
             str(port)], env=environment, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, out.read_text()
                try:
                    httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "bronwijzer serve did not come up"
                    time.sleep(0.3)
            yield f"http://127.0.0.1:{port}", out
        finally:
            process.terminate()
            process.wait(timeout=30)


def old_feedback(db: Path, answer: Any, days: int) -> None:
    store = FeedbackStore(db)
    row = store.add(answer, "up", comment="oud")
    store.close()
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - days * 86_400))
    with sqlite3.connect(db) as conn:
        conn.execute("update feedback set created_at = ? where id = ?", (created, row))


@pytest.mark.slow
def test_serve_logs_no_question_text_and_purges_at_start(security_assistant, security_index,
                                                         tmp_path) -> None:
    from gradio_client import Client

    question = f"Wat moet de gemeente doen met de klacht van {PERSONAL} over overlast?"
    captured: dict[str, str] = {}
    for logging_on in ("false", "true"):
        workdir = tmp_path / f"log-{logging_on}"
        workdir.mkdir()
        old_feedback(workdir / "feedback.sqlite3", security_assistant.ask(QUESTION), 181)
        with serve_process(security_index.index.index_dir, workdir,
                           BRONWIJZER_LOG_QUESTIONS=logging_on) as (url, log):
            client = Client(url, verbose=False)
            reply = answer_text(client.predict(*load.chat_args(question),
                                               api_name=load.CHAT_API))
            client.predict(f"Antwoord voor {PERSONAL} klopt niet", api_name="/feedback_down")
            client.close()
        output = log.read_text("utf-8")
        captured[logging_on] = output
        assert "verwijderd: 1 regels" in output  # the 181-day-old row, at start
        rows = FeedbackStore(workdir / "feedback.sqlite3").rows()
        assert [r.comment for r in rows] == [f"Antwoord voor {PERSONAL} klopt niet"]
        # the answer's own words, not the italic lines above it ("Ook gezocht op …")
        said = [line for line in reply.replace("\\", "").split("\n")
                if line.strip() and not line.startswith("_")]
        answer_piece = said[0].split("[")[0][:40]
        assert len(answer_piece) > 20
        if logging_on == "false":
            assert PERSONAL not in output and "Jansen" not in output
            assert answer_piece not in output
        else:  # the same capture does see the text when the operator turns it on
            assert question in output and answer_piece in output
    record("security_logs", {"question_in_log_by_default": False,
                             "with_BRONWIJZER_LOG_QUESTIONS_true": "question and answer "
                             "logged", "log_lines_default": len(captured["false"].splitlines()),
                             "purged_at_start": "row of 181 days (retention 180)"})


# --- the Content-Security-Policy in Chromium -------------------------------------------------
WATCH_CSP = """document.addEventListener('securitypolicyviolation', e => {
    (window.__cspViolations = window.__cspViolations || []).push(
        e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});"""


@pytest.mark.slow
@pytest.mark.browser
def test_csp_in_chromium_no_violations_and_injected_handlers_blocked(
        browser, security_assistant, security_index, tmp_path, artifacts) -> None:
    problems: list[str] = []
    bodies: list[int] = []
    with serve(security_assistant, security_index, tmp_path) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                      accept_downloads=True)
        context.add_init_script(WATCH_CSP)
        context.on("console", lambda m: problems.append(m.text)
                   if "Content Security Policy" in m.text else None)
        context.on("request", lambda r: bodies.append(len(r.post_data_buffer or b"")))
        page = context.new_page()
        page.goto(url + "/")
        page.wait_for_selector("#question textarea", timeout=30_000)
        page.evaluate("""() => { window.__texts = 0; new MutationObserver(() => window.__texts++)
            .observe(document.querySelector('#chat'), {subtree: true, childList: true,
                                                         characterData: true}); }""")
        page.locator("#question textarea").fill(QUESTION)
        page.locator("#ask").click()
        page.wait_for_selector('#sources [data-turn="1"]', timeout=90_000)
        assert page.evaluate("window.__texts") > 1  # the answer streamed in
        with context.expect_page() as opened:
            page.locator("#sources a.bw-pdf").first.click()
        pdf = opened.value
        pdf.wait_for_load_state("load")
        pdf.wait_for_timeout(1500)  # the viewer builds its page
        assert "/document/" in pdf.url
        pdf.screenshot(path=str(artifacts / "web-security-pdf.png"))
        page.locator("#feedback-up").click()
        page.wait_for_selector("#feedback-status:has-text('Bedankt')")
        with page.expect_download() as download:
            page.locator("#download").click()
        handout = Path(download.value.path()).read_text("utf-8").replace("\\", "")
        assert QUESTION in handout
        page.get_by_role("tab", name="Over Bronwijzer").click()
        page.wait_for_selector("#about-privacy:has-text('180 dagen')", timeout=15_000)
        violations = [v for p in context.pages for v in p.evaluate(
            "window.__cspViolations || []")]
        assert violations == [] and problems == [], (violations, problems)
        page.screenshot(path=str(artifacts / "web-security-about.png"), full_page=True)

        # the policy does work: an inline handler that got into the page does not run
        page.evaluate("""() => document.body.insertAdjacentHTML('beforeend',
            '<img id=csp-probe src=x onerror="window.cspProbe=1">')""")
        page.wait_for_timeout(500)
        assert page.evaluate("typeof window.cspProbe") == "undefined"
        blocked = page.evaluate("window.__cspViolations")
        assert any(v.startswith("script-src") for v in blocked), blocked
        context.close()
    record("security_csp_browser", {"violations_while_using": 0, "console_errors": 0,
                                    "steps": "ask, stream, open source PDF, feedback, "
                                    "download, about tab", "injected_onerror": "blocked",
                                    "largest_request_body_bytes": max(bodies),
                                    "body_limit_bytes": security_index.web.max_body_kb * 1024})
