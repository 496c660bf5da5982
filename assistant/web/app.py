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
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import TYPE_CHECKING, Annotated, Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio loads: no calls home

import gradio as gr
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from assistant.settings import Settings
from assistant.web.auth import (
    SESSION_COOKIE,
    WRONG_CREDENTIALS,
    Sessions,
    is_loopback,
    load_auth_file,
    login_page,
)
from assistant.web.chat import WebChat
from assistant.web.layout import CSS, THEME, build_blocks

if TYPE_CHECKING:
    from assistant.pipeline import Assistant

log = logging.getLogger(__name__)

PDF_NAME = re.compile(r"^([0-9a-f]{16})\.pdf$")
NO_STORE = {"Cache-Control": "no-store"}  # login pages and redirects are never cached


def build_app(assistant: Assistant, settings: Settings) -> FastAPI:
    """FastAPI app with /health, /document/<id>.pdf, the login (if any) and the chat at /."""
    chat = WebChat(assistant, settings)
    users = load_auth_file(settings.web.auth_file) if settings.web.auth_file else None
    sessions = Sessions(users) if users else None
    app = FastAPI(title="Bronwijzer", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def no_uploads(request: Request, call_next: Any) -> Any:
        # Gradio always routes POST /gradio_api/upload (files into its cache, no size limit);
        # this app has no file inputs, so nobody may put files on the server through it.
        if request.method == "POST" and request.url.path.rstrip("/").endswith("/upload"):
            return JSONResponse({"detail": "Uploaden is niet mogelijk."}, status_code=403)
        return await call_next(request)

    if sessions is not None:
        add_login_routes(app, sessions)

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
                            content_disposition_type="inline",
                            headers={"X-Content-Type-Options": "nosniff"})

    blocks = build_blocks(chat)
    blocks.queue(default_concurrency_limit=settings.web.concurrency)
    # Routes above are matched before the mount at "", so our /login shadows Gradio's.
    gr.mount_gradio_app(app, blocks, path="",
                        auth_dependency=sessions.user_of if sessions else None,
                        auth_message="Log in om Bronwijzer te gebruiken.", css=CSS,
                        footer_links=[], theme=THEME, allowed_paths=[str(chat.handout_root)])
    return app


def add_login_routes(app: FastAPI, sessions: Sessions) -> None:
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
        token = sessions.login(username, password)
        if token is None:
            return HTMLResponse(login_page(WRONG_CREDENTIALS, username), status_code=401,
                                headers=NO_STORE)
        response = RedirectResponse("/", status_code=303, headers=NO_STORE)
        response.set_cookie(SESSION_COOKIE, token, max_age=int(sessions.lifetime), path="/",
                            httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
        return response

    @app.get("/logout")
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303, headers=NO_STORE)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
        return response


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
