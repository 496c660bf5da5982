"""Beyond one machine: two `bronwijzer serve` processes share one Chroma server and the index
folder, and both answer from a document ingested after they started, without a restart."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from presentation.settings import Settings
from store.index import Index
from tests.conftest import PROJECT, free_port

OLD_TOPICS = [
    ("wijkaanpak", "De wijkaanpak vraagt een langjarige inzet van gemeenten en corporaties."),
    ("handhaving", "Strenge handhaving op overlast hoort bij de sociale herovering van wijken."),
    ("onderwijs", "Scholing en deelname aan de arbeidsmarkt bieden bewoners perspectief."),
]
NEW_TOPIC = ("zwemwater", "De provincie controleert elke zomer de kwaliteit van het zwemwater "
             "in meren en plassen op blauwalg.")
NEW_QUESTION = "Wie controleert de kwaliteit van het zwemwater op blauwalg?"


def write_doc(folder: Path, n: int, topic: str, sentence: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = "\n\n".join(f"{sentence} Dit is alinea {i} over {topic}." for i in range(3))
    path = folder / f"{n:02d}_{topic}.md"
    path.write_text(f"---\ntitle: Notitie {topic}\npublisher: Gemeente Voorbeeld\nyear: 2022\n"
                    f"---\n\n# {topic.title()}\n\n{body}\n", "utf-8")
    return path


def wait_until(check, timeout: float, what: str, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
        except Exception:  # not up yet
            pass
        if process is not None and process.poll() is not None:
            pytest.fail(f"{what}: process exited with {process.returncode}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.3)


def start_chroma(path: Path) -> tuple[subprocess.Popen, int]:
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    if chroma is None:
        pytest.skip("the chroma CLI is not installed in this environment")
    port = free_port()
    server = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=os.environ | {"ANONYMIZED_TELEMETRY": "False"},
    )
    import chromadb

    wait_until(lambda: chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat(), 60,
               "chroma run", server)
    return server, port


def start_serve(index_dir: Path, chroma_url: str, workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    env = os.environ | {
        "BRONWIJZER_CHROMA_URL": chroma_url,
        "BRONWIJZER_FEEDBACK_DB": str(workdir / "feedback.sqlite3"),
        "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
        "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": str(PROJECT),
    }
    log = open(workdir / "serve.log", "wb")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--index", str(index_dir),
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
    )
    return process, f"http://127.0.0.1:{port}"


def health(base: str) -> dict:
    import httpx

    return httpx.get(base + "/health", timeout=5).json()


def ask(base: str, question: str) -> tuple[str, str]:
    """(answer text, sources panel HTML) through the chat's Gradio API, as a new session."""
    from gradio_client import Client

    client = Client(base + "/", verbose=False)
    try:
        messages, panel, *_ = client.predict(question, [], [], [], None, None,
                                             api_name="/respond")
    finally:
        client.close()
    content = messages[-1]["content"]
    if isinstance(content, list):
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content), str(panel)


@pytest.mark.slow
def test_two_servers_share_chroma_and_follow_a_new_document(tmp_path, embeddings):
    chroma, chroma_port = start_chroma(tmp_path / "chroma-server")
    chroma_url = f"http://127.0.0.1:{chroma_port}"
    index_dir = tmp_path / "X"
    settings = Settings.from_env({}, index_dir=index_dir, chroma_url=chroma_url)
    servers: list[subprocess.Popen] = []
    try:
        docs = tmp_path / "docs"
        for n, (topic, sentence) in enumerate(OLD_TOPICS):
            write_doc(docs, n, topic, sentence)
        index = Index(settings.index, create=True, embeddings=embeddings)
        first = Ingestor(index)([docs])
        index.close()
        assert first.exit_code == 0 and first.count("added") == 3
        assert not (index_dir / "chroma").exists(), "vectors must live in the Chroma server"
        before = first.index_passages

        bases = []
        for n in range(2):
            process, base = start_serve(index_dir, chroma_url, tmp_path / f"serve{n}")
            servers.append(process)
            bases.append(base)
        for process, base in zip(servers, bases, strict=True):
            wait_until(lambda b=base: health(b)["ok"], 120, f"serve {base}", process)
            assert health(base)["passages"] == before
            text, _ = ask(base, NEW_QUESTION)  # the servers run, and know nothing of it yet
            assert "zwemwater" not in text.lower()

        # a NEW document, ingested through the Chroma server while both servers run
        write_doc(docs, 9, *NEW_TOPIC)
        index = Index(settings.index, embeddings=embeddings)
        second = Ingestor(index)([docs])
        index.close()
        assert second.count("added") == 1 and second.count("unchanged") == 3
        after = second.index_passages
        assert after > before

        for process, base in zip(servers, bases, strict=True):
            assert process.poll() is None, "a server stopped"
            counts = health(base)
            assert counts["documents"] == 4 and counts["passages"] == after
            text, panel = ask(base, NEW_QUESTION)
            assert "zwemwater" in text.lower() and "blauwalg" in text.lower(), text
            assert "[1]" in text.replace("\\", ""), text  # a cited answer, not a refusal
            assert "Notitie zwemwater" in panel
    finally:
        for process in servers:
            process.terminate()
        for process in servers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        chroma.terminate()
        chroma.wait(timeout=30)
