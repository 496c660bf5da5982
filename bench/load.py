"""The load-test side of the hardening harness: servers on 127.0.0.1 (`chroma run`,
`bronwijzer serve`) started and stopped by their own pid, and concurrent chat sessions
through the Gradio API with their latency, RSS and cross-talk checks.

Shared by bench/soak.py (the long soak) and the tests that load a server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from bench.paths import PROJECT

BIN = Path(sys.executable).parent


# --- servers -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """A child process's environment: this project importable, offline, no telemetry."""
    return os.environ | {"PYTHONPATH": str(PROJECT), "ANONYMIZED_TELEMETRY": "False",
                         "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"} | extra


class ChromaServer:
    """`chroma run` on a free 127.0.0.1 port; kill() and start() again on the same data."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> None:
        import chromadb

        chroma = shutil.which("chroma", path=str(BIN))
        if chroma is None:
            raise RuntimeError("the chroma CLI is not installed in this environment")
        self.process = subprocess.Popen(
            [chroma, "run", "--path", str(self.path), "--host", "127.0.0.1",
             "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env())
        deadline = time.monotonic() + timeout
        while True:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=self.port).heartbeat()
                return
            except Exception:
                if self.process.poll() is not None:
                    raise RuntimeError("chroma run exited") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("chroma server did not start") from None
                time.sleep(0.3)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def __enter__(self) -> ChromaServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


@contextmanager
def web_server(index_dir: Path, workdir: Path, *, concurrency: int = 4,
               timeout: float = 180) -> Iterator[tuple[str, int]]:
    """`bronwijzer serve` as a subprocess; yields (base URL, pid).

    The per-session question limit is off: the load runs measure what the server can
    answer, and a limited session gets its notice at once and asks again, which would
    count notices as answers (tests/test_security.py tests the limit itself)."""
    import httpx

    port = free_port()
    env = child_env(BRONWIJZER_FEEDBACK_DB=str(workdir / "feedback.sqlite3"),
               BRONWIJZER_CONCURRENCY=str(concurrency), BRONWIJZER_AUTH_FILE="",
               BRONWIJZER_QUESTIONS_PER_MINUTE="0")
    log = open(workdir / "serve.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--index", str(index_dir),
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError("bronwijzer serve exited: "
                                   + (workdir / "serve.log").read_text()[-2000:])
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("bronwijzer serve did not come up") from None
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


# --- load through the Gradio API ---------------------------------------------------------------
CHAT_API = "/respond"  # chat.respond on the "Vraag stellen" button (Gradio's default name)


def chat_args(question: str) -> tuple[Any, ...]:
    """Inputs of /respond after the (server-side) conversation state: question, filters."""
    return (question, [], [], [], None, None)


def load_questions(dataset: Path, limit: int | None = None) -> list[str]:
    """Standalone questions of a dataset: never rewritten by the follow-up rewriter, so a
    question's answer does not depend on the conversation it is asked in."""
    from assistant.rewrite import needs_context

    questions: list[str] = []
    for line in dataset.read_text("utf-8").splitlines():
        question = json.loads(line)["question"]
        if not needs_context(question) and question not in questions:
            questions.append(question)
        if limit and len(questions) >= limit:
            break
    return questions


def rss_mb(pid: int) -> float:
    import psutil

    process = psutil.Process(pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with suppress(psutil.Error):
            total += child.memory_info().rss
    return total / (1024 * 1024)


def run_load(base_url: str, pid: int, questions: list[str], *, sessions: int,
             seconds: float) -> dict[str, Any]:
    """`sessions` gradio_client Clients in threads, each asking its own questions for
    `seconds`. Each reply is checked: the conversation holds exactly this session's
    questions in order, and the last answer is the one the server gave to that question
    asked alone (no cross-talk)."""
    from gradio_client import Client

    names = list(questions)
    latencies: list[float] = []
    errors: list[str] = []
    cross_talk: list[str] = []
    turns_total = [0]
    lock = threading.Lock()

    def reference() -> dict[str, str]:
        """Each question asked once, alone, of the same server: the answer every session
        must get. (Compared with an in-process answer instead, a question whose refusal
        score sits on a cut-off could flip on the 1e-4 differences between engines.)"""
        answers = {}
        client = Client(base_url, verbose=False)
        for question in names:  # standalone questions: earlier turns do not change an answer
            messages = client.predict(*chat_args(question), api_name=CHAT_API)[0]
            answers[question] = [message_text(m) for m in messages
                                 if m.get("role") == "assistant"][-1]
        client.close()
        return answers

    expected = reference()  # also warms caches, so RSS below includes them
    time.sleep(1)
    rss_before = rss_mb(pid)
    start_barrier = threading.Barrier(sessions + 1)
    stop_at = [0.0]

    def session(number: int) -> None:
        own = [names[(number + step * sessions) % len(names)] for step in range(len(names))]
        asked: list[str] = []
        try:
            client = Client(base_url, verbose=False)
        except Exception as exc:
            with lock:
                errors.append(f"session {number}: connect: {exc}")
            start_barrier.wait()
            return
        start_barrier.wait()
        turn = 0
        while time.monotonic() < stop_at[0]:
            question = own[turn % len(own)]
            started = time.perf_counter()
            try:
                result = client.predict(*chat_args(question), api_name=CHAT_API)
            except Exception as exc:
                with lock:
                    errors.append(f"session {number}: {type(exc).__name__}: {exc}"[:300])
                break
            elapsed = time.perf_counter() - started
            asked.append(question)
            turn += 1
            messages = result[0]
            users = [message_text(m) for m in messages if m.get("role") == "user"]
            bots = [message_text(m) for m in messages if m.get("role") == "assistant"]
            from bronwijzer.text import markdown_escape

            problem = None
            if users != [markdown_escape(q) for q in asked]:
                problem = f"session {number}: conversation holds other questions"
            elif len(bots) != turn or bots[-1] != expected[question]:
                problem = (f"session {number}: answer does not belong to {question!r}: "
                           f"got {bots[-1][:160]!r}, expected {expected[question][:160]!r}")
            with lock:
                latencies.append(elapsed)
                turns_total[0] += 1
                if problem:
                    cross_talk.append(problem)
        client.close()

    threads = [threading.Thread(target=session, args=(n,), daemon=True)
               for n in range(sessions)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.monotonic() + 10**6
    start_barrier.wait()
    began = time.monotonic()
    stop_at[0] = began + seconds
    for thread in threads:
        thread.join(timeout=seconds + 300)
    wall = time.monotonic() - began
    time.sleep(1)
    rss_after = rss_mb(pid)
    ordered = sorted(latencies)
    return {
        "sessions": sessions,
        "seconds": round(wall, 1),
        "questions_answered": turns_total[0],
        "throughput_per_s": round(turns_total[0] / wall, 2) if wall else 0.0,
        "p50_s": round(statistics.median(ordered), 2) if ordered else None,
        "p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2)
        if ordered else None,
        "errors": len(errors),
        "error_samples": errors[:5],
        "cross_talk": len(cross_talk),
        "cross_talk_samples": cross_talk[:5],
        "rss_before_mb": round(rss_before, 1),
        "rss_after_mb": round(rss_after, 1),
        "rss_growth_mb": round(rss_after - rss_before, 1),
        "threads_stuck": sum(1 for t in threads if t.is_alive()),
    }


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # Gradio 5/6 may send [{"type": "text", "text": …}]
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)
