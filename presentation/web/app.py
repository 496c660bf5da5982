"""The web app: FastAPI routes around the Gradio chat, and `serve` to run it.

    bronwijzer serve --index index --port 7860

Routes next to the chat at `/`: `GET /health` (JSON counts, always open) and
`GET /document/<id>.pdf` (an ingested PDF, read-only, so source links can open the
original at a page). Uploads are refused (403): Gradio's generic POST /gradio_api/upload
is blocked, as the chat has no file inputs.

With an auth file (BRONWIJZER_AUTH_FILE, see auth.py) the app owns the login: `GET/POST
/login` and `GET /logout` set and clear a signed session cookie; Gradio gets the same
check through its public `auth_dependency`, a browser without a session is sent from `/`
to `/login`, and `/document/...` answers 401. Without an auth file there is no login.
Failed logins pause with back-off per user name and per client address (429).

`SecurityMiddleware` wraps everything, the mounted Gradio app too: security headers on
every response (a Content-Security-Policy whose script nonce it adds to Gradio's own
inline scripts; HSTS only behind HTTPS), and request bodies over BRONWIJZER_MAX_BODY_KB
refused with 413 before any route sees them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import secrets
import time
from typing import TYPE_CHECKING, Annotated, Any

from bronwijzer.settings import env_name

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio loads: no calls home

import gradio as gr
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from presentation.settings import Settings
from presentation.web.auth import (
    SESSION_COOKIE,
    WRONG_CREDENTIALS,
    LoginThrottle,
    Sessions,
    is_loopback,
    load_auth_file,
    locked_message,
    login_page,
)
from presentation.web.chat import WebChat
from presentation.web.layout import CSS, LANG_JS, THEME, build_blocks

if TYPE_CHECKING:
    from assistant.pipeline import Assistant

log = logging.getLogger(__name__)

PDF_NAME = re.compile(r"^([0-9a-f]{16})\.pdf$")
NO_STORE = {"Cache-Control": "no-store"}  # login pages and redirects are never cached

# Gradio's pages: scripts only from this server or inline with this response's nonce, so
# injected <script> and on...= attributes do not run. 'unsafe-eval' because Gradio 6's
# gr.HTML (the sources panel) renders its template through `Function` (measured: without
# it the panel stays empty). Styles inline too (Svelte sets style attributes, which no
# nonce can cover); no plugins, no other origins, framing only by this site.
PAGE_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-eval'{nonce}; "
               "style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
               "media-src 'self' blob:; worker-src 'self' blob:; object-src 'none'; "
               "base-uri 'self'; form-action 'self'; frame-ancestors 'self'")
# A PDF: nothing but the document itself. object-src and inline styles because older
# Chromium/Edge viewers need them for their page around the PDF (Chromium 156 shows it
# under `default-src 'none'` too; checked in tests/test_security.py).
DOCUMENT_POLICY = ("default-src 'none'; object-src 'self'; style-src 'unsafe-inline'; "
                   "img-src 'self' data:; frame-ancestors 'self'; base-uri 'none'; "
                   "form-action 'none'")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "SAMEORIGIN",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000"
SCRIPT_TAG = re.compile(rb"<script(?=[\s>])")
# Gradio's page says lang="en"; ours is Dutch from the first byte (LANG_JS keeps it so)
HTML_LANG = re.compile(rb'<html(\s+)lang="en"')
TOO_LARGE = "Dit verzoek is te groot."


def build_app(assistant: Assistant, settings: Settings) -> FastAPI:
    """FastAPI app with /health, /document/<id>.pdf, the login (if any) and the chat at /."""
    web = settings.web
    chat = WebChat(assistant, settings)
    if web.log_questions:
        # the operator asked for it; say so, so it is not left on by accident
        logging.getLogger("presentation.web.questions").setLevel(logging.INFO)
        log.warning("questions and answers are written to this log (%s); they can hold "
                    "personal data", env_name("log_questions"))
    users = load_auth_file(web.auth_file) if web.auth_file else None
    sessions = Sessions(users, lifetime=web.session_hours * 3600) if users else None
    app = FastAPI(title="Bronwijzer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.purged_feedback = chat.purged_at_start

    @app.middleware("http")
    async def no_uploads(request: Request, call_next: Any) -> Any:
        # Gradio always routes POST /gradio_api/upload (files into its cache, no size limit);
        # this app has no file inputs, so nobody may put files on the server through it.
        if request.method == "POST" and request.url.path.rstrip("/").endswith("/upload"):
            return JSONResponse({"detail": "Uploaden is niet mogelijk."}, status_code=403)
        return await call_next(request)

    if sessions is not None:
        add_login_routes(app, sessions, LoginThrottle(
            max_failures=web.login_max_failures,
            max_failures_per_address=web.login_max_failures_per_address,
            lockout=web.login_lockout_seconds))

    @app.get("/health")
    def health() -> dict[str, Any]:
        stats = assistant.index.stats()
        return {"ok": True, "documents": stats.documents, "passages": stats.passages}

    @app.get("/document/{name:path}")
    def document(name: str, request: Request) -> FileResponse:
        if sessions is not None and sessions.user_of(request) is None:
            raise HTTPException(status_code=401, detail="Log eerst in.")
        match = PDF_NAME.match(name)
        path = chat.pdf_path(match.group(1)) if match else None
        if path is None:
            raise HTTPException(status_code=404, detail="Document niet gevonden.")
        return FileResponse(path, media_type="application/pdf", filename=path.name,
                            content_disposition_type="inline")

    blocks = build_blocks(chat)
    blocks.queue(default_concurrency_limit=settings.web.concurrency)
    # Routes above are matched before the mount at "", so our /login shadows Gradio's.
    gr.mount_gradio_app(app, blocks, path="",
                        auth_dependency=sessions.user_of if sessions else None,
                        auth_message="Log in om Bronwijzer te gebruiken.", css=CSS,
                        footer_links=[], theme=THEME, js=LANG_JS,
                        allowed_paths=[str(chat.handout_root)])
    # added last, so it is the outermost: it sees every response, the ones above included
    app.add_middleware(SecurityMiddleware, max_body=web.max_body_kb * 1024)
    return app


class SecurityMiddleware:
    """Security headers on every response, and a limit on request bodies.

    Plain ASGI rather than `@app.middleware`: it must pass Gradio's streamed answers
    (server-sent events) through untouched; only HTML pages are buffered, to give their
    inline scripts the nonce of this response's Content-Security-Policy.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        https = scope.get("scheme") == "https"  # uvicorn applies X-Forwarded-Proto of
        # trusted proxies (FORWARDED_ALLOW_IPS, default 127.0.0.1) to the scheme
        policy = DOCUMENT_POLICY if scope["path"].startswith("/document/") else PAGE_POLICY
        nonce = secrets.token_urlsafe(18)
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body:
            # refused before routing, authentication or reading a byte of the body
            await self._too_large(send, policy, https)
            return
        if not declared and b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            # no length given (browsers always give one): read up to the limit first
            replay = await self._read_limited(receive)
            if replay is None:
                await self._too_large(send, policy, https)
                return
            receive = replay
        page: Message | None = None
        body = bytearray()

        async def secured_send(message: Message) -> None:
            nonlocal page
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    page = message  # sent with the rewritten body below
                    return
                await send(_with_headers(message, policy.format(nonce=""), https))
            elif page is not None and message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    html = SCRIPT_TAG.sub(b'<script nonce="' + nonce.encode() + b'"', bytes(body))
                    html = HTML_LANG.sub(rb'<html\1lang="nl"', html, count=1)
                    start = _with_headers(page, policy.format(nonce=f" 'nonce-{nonce}'"), https,
                                          length=len(html))
                    await send(start)
                    await send({"type": "http.response.body", "body": html})
            else:
                await send(message)

        await self.app(scope, receive, secured_send)

    async def _read_limited(self, receive: Receive) -> Receive | None:
        """The whole body if it fits in the limit, replayed to the app; None if it does not."""
        buffered: list[Message] = []
        size = 0
        while True:
            message = await receive()
            buffered.append(message)
            size += len(message.get("body", b""))
            if size > self.max_body:
                return None
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            # then the real receive: streaming routes wait on it for the disconnect
            return buffered.pop(0) if buffered else await receive()

        return replay

    async def _too_large(self, send: Send, policy: str, https: bool) -> None:
        body = json.dumps({"detail": TOO_LARGE}).encode()
        start: Message = {"type": "http.response.start", "status": 413,
                          "headers": [(b"content-type", b"application/json"),
                                      (b"connection", b"close")]}
        await send(_with_headers(start, policy.format(nonce=""), https, length=len(body)))
        await send({"type": "http.response.body", "body": body})


def _with_headers(start: Message, policy: str, https: bool, length: int | None = None
                  ) -> Message:
    ours = {**SECURITY_HEADERS, "content-security-policy": policy}
    if https:
        ours["strict-transport-security"] = HSTS
    if length is not None:
        ours["content-length"] = str(length)
    kept = [(k, v) for k, v in start.get("headers", []) if k.decode().lower() not in ours]
    return {**start, "headers": kept + [(k.encode(), v.encode()) for k, v in ours.items()]}


def add_login_routes(app: FastAPI, sessions: Sessions, throttle: LoginThrottle) -> None:
    """GET/POST /login, GET /logout, and the redirect from the chat page to the form."""

    @app.middleware("http")
    async def login_first(request: Request, call_next: Any) -> Any:
        # Gradio answers a bare 401 page without a session; a person needs the form instead.
        if (request.method in ("GET", "HEAD") and request.url.path == "/"
                and sessions.user_of(request) is None):
            return RedirectResponse("/login", status_code=303, headers=NO_STORE)
        return await call_next(request)

    @app.get("/login")
    def login_form(request: Request) -> Response:
        if sessions.user_of(request) is not None:
            return RedirectResponse("/", status_code=303, headers=NO_STORE)
        return HTMLResponse(login_page(), headers=NO_STORE)

    # a plain def: FastAPI runs it in a thread, so the slow hash does not block the loop
    @app.post("/login")
    def login(request: Request, username: Annotated[str, Form()] = "",
              password: Annotated[str, Form()] = "") -> Response:
        # uvicorn puts the X-Forwarded-For address of a trusted proxy here
        address = request.client.host if request.client else ""
        name = username[:200]  # the throttle's key: a huge name must not cost memory
        wait = throttle.attempt(name, address)
        if wait:
            return _locked(wait, username)
        token = sessions.login(username, password)
        if token is None:
            wait = throttle.failed(name, address)
            return _locked(wait, username) if wait else HTMLResponse(
                login_page(WRONG_CREDENTIALS, username), status_code=401, headers=NO_STORE)
        throttle.succeeded(name, address)
        response = RedirectResponse("/", status_code=303, headers=NO_STORE)
        response.set_cookie(SESSION_COOKIE, token, max_age=int(sessions.lifetime), path="/",
                            httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
        return response

    @app.get("/logout")
    def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303, headers=NO_STORE)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                               secure=request.url.scheme == "https")
        return response


def _locked(wait: float, username: str) -> Response:
    return HTMLResponse(login_page(locked_message(wait), username), status_code=429,
                        headers={**NO_STORE, "Retry-After": str(max(1, math.ceil(wait)))})


SHUTDOWN_GRACE_SECONDS = 5  # an extractive answer takes well under a second


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Load the index and assistant once, then serve the chat with uvicorn."""
    import uvicorn

    from assistant.pipeline import build_assistant

    if not settings.web.auth_file and not is_loopback(host):
        log.warning("Bronwijzer serves on %s WITHOUT login: anyone who can reach this address "
                    "can use it. Set %s to require a login.", host, env_name("auth_file"))
    started = time.perf_counter()
    assistant = build_assistant(settings)
    app = build_app(assistant, settings)
    stats = assistant.index.stats()
    print(f"Bronwijzer: {stats.documents} documenten, {stats.passages} passages "
          f"(geladen in {time.perf_counter() - started:.1f} s). Open http://{host}:{port}/",
          flush=True)
    print(f"Feedback ouder dan {settings.web.feedback_retention_days} dagen verwijderd: "
          f"{app.state.purged_feedback} regels.", flush=True)
    # a stop (SIGTERM) waits this long for answers in flight; without a limit uvicorn waits
    # for every browser's open event stream to close, and a service manager kills it
    uvicorn.run(app, host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS)
