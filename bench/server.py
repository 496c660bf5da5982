"""`bronwijzer serve` under load: peak RSS and simultaneous users through the Gradio API.

The server runs as a child process exactly as users start it; every simulated
user is its own `gradio_client.Client` (its own Gradio session) and asks its
questions one after another, all users at the same time.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from bench.scale import percentiles

API_NAME = "/respond"  # the chat's submit (`ui["ask"].click(chat.respond, …)` in web.py)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RssSampler(threading.Thread):
    """Samples the RSS of a process and its children until stopped; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.last = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            process = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop_event.is_set():
            try:
                rss = process.memory_info().rss
                for child in process.children(recursive=True):
                    rss += child.memory_info().rss
            except psutil.NoSuchProcess:
                return
            self.last = rss
            self.peak = max(self.peak, rss)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


def kernel_peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the kernel's own high-water mark of the process's RSS."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@contextmanager
def running_server(index_dir: Path, env: dict[str, str] | None = None,
                   timeout: float = 300) -> Iterator[tuple[str, subprocess.Popen, float]]:
    """`bronwijzer serve --index DIR` on a free port: (base URL, process, seconds to ready)."""
    import httpx

    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    environment = os.environ | {
        "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
        "ANONYMIZED_TELEMETRY": "False",
        "BRONWIJZER_FEEDBACK_DB": str(workdir / "feedback.sqlite3"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    } | (env or {})
    command = [sys.executable, "-m", "cli", "serve", "--index", str(index_dir),
               "--host", "127.0.0.1", "--port", str(port)]
    log = open(workdir / "serve.log", "wb")  # noqa: SIM115 - closed below
    started = time.perf_counter()
    process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT,
                               cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                output = (workdir / "serve.log").read_text(errors="replace")
                raise RuntimeError(f"bronwijzer serve exited: {output[-2000:]}")
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("bronwijzer serve did not become ready")
            time.sleep(0.25)
        yield base, process, time.perf_counter() - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def ask(client: Any, question: str) -> str:
    """One question through the chat's Gradio endpoint; returns the answer text."""
    result = client.predict(question, [], [], [], None, None, api_name=API_NAME)
    messages = result[0]
    content = messages[-1]["content"]
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def load_test(base: str, questions: list[str], users: int, per_user: int) -> dict[str, Any]:
    """`users` simultaneous sessions, each asking `per_user` questions in a row."""
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    refusals = 0
    lock = threading.Lock()
    barrier = threading.Barrier(users)

    def user(number: int) -> None:
        nonlocal refusals
        try:
            client = Client(base + "/", verbose=False)
        except Exception as exc:  # every failure counts
            with lock:
                errors.append(f"connect: {type(exc).__name__}: {exc}"[:200])
            barrier.abort()
            return
        with suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=120)
        for turn in range(per_user):
            question = questions[(number * per_user + turn) % len(questions)]
            started = time.perf_counter()
            try:
                text = ask(client, question)
                ok = bool(text.strip())
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)
                refusals += "niet beantwoorden" in text
                if not ok:
                    errors.append("empty answer")

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "users": users, "questions_per_user": per_user, "requests": users * per_user,
        "answered": len(latencies), "errors": len(errors), "error_samples": errors[:5],
        "refusals": refusals, "wall_seconds": round(wall, 1),
        "throughput_per_minute": round(len(latencies) / wall * 60, 1),
        "latency_ms": percentiles(latencies),
    }


def bench_server(index_dir: Path, questions: list[str], users: int = 20,
                 per_user: int = 3) -> dict[str, Any]:
    from gradio_client import Client

    with running_server(index_dir) as (base, process, ready_seconds):
        sampler = RssSampler(process.pid)
        sampler.start()
        time.sleep(1.0)
        idle_rss = sampler.last
        single = []
        client = Client(base + "/", verbose=False)
        for question in questions[:5]:
            started = time.perf_counter()
            ask(client, question)
            single.append((time.perf_counter() - started) * 1000)
        load = load_test(base, questions, users, per_user)
        sampler.stop()
        hwm = kernel_peak_rss_mb(process.pid)
    return {
        "index_passages_dir": str(index_dir.name),
        "ready_seconds": round(ready_seconds, 1),
        "rss_idle_mb": round(idle_rss / 2**20),
        "rss_peak_sampled_mb": round(sampler.peak / 2**20),
        "rss_peak_kernel_mb": round(hwm) if hwm else None,
        "single_user_ms": percentiles(single),
        "concurrent": load,
    }
