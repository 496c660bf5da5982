"""Ingest: load → clean → chunk → embed → store, one document at a time.

Each document is committed on its own, so an interrupted run keeps everything
finished before it, and a rerun only does the rest: unchanged files are
recognised by their content hash before they are even parsed.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bronwijzer.domain import (
    BronwijzerError,
    IngestError,
    Passage,
    ServiceUnavailableError,
    embedding_text,
)
from bronwijzer.files import file_sha256
from bronwijzer.text import error_line, flatten_whitespace
from ingest.chunk import Chunker
from ingest.load import SkippedFile, load_document, scan
from store.index import Index
from store.sources import SourceCatalogue

EMBED_BATCH = 128  # the engine sorts a batch by length and packs it by tokens


# Every status a FileResult can have. "skipped": not a document we load (unsupported
# format, hidden, OS debris); listed so no file disappears without a word, but it is not
# a failure and leaves the exit code alone.
STATUSES = ("added", "updated", "unchanged", "removed", "skipped", "failed")


@dataclass
class FileResult:
    path: str
    document: str  # file name, as Passage.document
    status: str  # one of STATUSES
    pages: int | None = None  # pages, or slides for a presentation
    passages: int = 0
    seconds: float = 0.0
    error: str | None = None  # why it failed (status "failed")
    reason: str | None = None  # why it was skipped, in Dutch (status "skipped")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    index_documents: int = 0
    index_passages: int = 0
    embedding_model: str = ""

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def exit_code(self) -> int:
        return 3 if self.failed else 0

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    def processed_pages(self) -> int:
        return sum(f.pages or 1 for f in self.files if f.status in {"added", "updated"})

    def new_passages(self) -> int:
        return sum(f.passages for f in self.files if f.status in {"added", "updated"})

    def to_dict(self) -> dict[str, Any]:
        seconds = max(self.seconds, 1e-9)
        return {
            "files": [f.to_dict() for f in self.files],
            "summary": {
                status: self.count(status) for status in STATUSES
            }
            | {
                "seconds": round(self.seconds, 3),
                "pages_per_second": round(self.processed_pages() / seconds, 3),
                "passages_per_second": round(self.new_passages() / seconds, 3),
                "index_documents": self.index_documents,
                "index_passages": self.index_passages,
                "embedding_model": self.embedding_model,
            },
        }


class Ingestor:
    """Callable: paths -> IngestReport. Holds the index's write lock while it runs."""

    def __init__(self, index: Index, *, sources: SourceCatalogue | None = None,
                 max_bytes: int | None = None,
                 on_file_done: Callable[[FileResult, int, int], None] | None = None) -> None:
        self.index = index
        self.sources = sources or SourceCatalogue([])
        self.max_bytes = max_bytes
        embeddings = index.embeddings
        self.chunker = Chunker(
            embeddings.count_tokens,
            max_tokens=embeddings.max_tokens,
            target_tokens=index.options.chunk_tokens,
            overlap_tokens=index.options.chunk_overlap_tokens,
        )
        self.on_file_done = on_file_done or (lambda _result, _done, _total: None)

    def __call__(self, paths: Iterable[str | Path], *, prune: bool = False) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport(embedding_model=self.index.embeddings.name)
        found = scan(paths, own_folders=[self.index.directory])
        files = found.files
        report.files.extend(_failure(e) for e in found.errors)
        with self.index.write_lock():
            self.index.reconcile()
            known = {d.path: d for d in self.index.documents()}
            unavailable: str | None = None
            for n, path in enumerate(files, start=1):
                if unavailable:  # the store is gone: don't load and embed for nothing
                    result = _failure(IngestError(str(path), f"not ingested: {unavailable}"))
                else:
                    try:
                        result = self._ingest_file(path, known)
                    except ServiceUnavailableError as exc:  # store or endpoint gone: stop
                        result = _failure(IngestError(str(path), str(exc)))
                        unavailable = result.error
                report.files.append(result)
                self.on_file_done(result, n, len(files))
            report.files.extend(_skipped(s) for s in found.skipped)
            if prune and not unavailable:
                report.files.extend(self._prune())
            try:
                # a no-op run (all unchanged) must not pay for a rebuild: ~42 s at 100k
                if not self.index.lexical_is_current():
                    self.index.publish_lexical()
            except OSError as exc:  # disk full: the previous snapshot stays published
                raise BronwijzerError(
                    f"{self.index.directory / 'lexical'}: cannot write the BM25 snapshot "
                    f"({exc.strerror or exc}); searches keep using the previous one. "
                    "Free space and run ingest again."
                ) from exc
        stats = self.index.stats()
        report.index_documents, report.index_passages = stats.documents, stats.passages
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_file(self, path: Path, known: dict[str, Any]) -> FileResult:
        started = time.perf_counter()
        absolute = str(path.resolve())
        previous = known.get(absolute)
        try:
            if previous is not None and previous.sha256 == file_sha256(path):
                return FileResult(absolute, path.name, "unchanged", previous.pages,
                                  previous.passages, time.perf_counter() - started)
            document = self.sources.enrich(load_document(path, max_bytes=self.max_bytes))
            passages = self.chunker(document)
            if not passages:
                raise IngestError(str(path), "no text found")
            self.index.ensure_disk_space(len(passages))  # before minutes of embedding
            vectors = self._embed(passages)
            self.index.add(document, passages, vectors)
        except IngestError as exc:
            return _failure(exc, time.perf_counter() - started)
        except OSError as exc:  # unreadable file, full disk, vanished mid-run
            return _failure(IngestError(str(path), f"{type(exc).__name__}: {exc.strerror or exc}"),
                            time.perf_counter() - started)
        except ServiceUnavailableError:
            raise  # the caller stops the run
        except (BronwijzerError, sqlite3.Error) as exc:  # store write failed (disk full, ...)
            # our own errors are already one clear sentence; others get their type named
            reason = (flatten_whitespace(str(exc)) if isinstance(exc, BronwijzerError)
                      else error_line(exc))
            return _failure(IngestError(str(path), reason),
                            time.perf_counter() - started)
        status = "updated" if previous is not None else "added"
        return FileResult(absolute, path.name, status, document.pages, len(passages),
                          time.perf_counter() - started)

    def _embed(self, passages: list[Passage]) -> np.ndarray:
        texts = [embedding_text(p) for p in passages]
        parts = [
            self.index.embeddings.encode_passages(texts[i : i + EMBED_BATCH])
            for i in range(0, len(texts), EMBED_BATCH)
        ]
        return np.vstack(parts)

    def _prune(self) -> list[FileResult]:
        gone = [d for d in self.index.documents() if not Path(d.path).exists()]
        self.index.remove([d.id for d in gone])
        return [FileResult(d.path, d.name, "removed", d.pages, d.passages) for d in gone]


def _failure(error: IngestError, seconds: float = 0.0) -> FileResult:
    return FileResult(error.path, Path(error.path).name, "failed", error=error.reason,
                      seconds=seconds)


def _skipped(entry: SkippedFile) -> FileResult:
    return FileResult(entry.path, Path(entry.path).name, "skipped", reason=entry.reason)
