"""The catalogue: SQLite record of which documents and passages the index holds.

It is the commit point of an ingest. A document's passages are first written to
Chroma, then recorded here in one transaction; vectors in Chroma that the
catalogue does not know are leftovers of an interrupted run and are removed on
the next write. Readers only trust passages listed here, so a crash can never
show half a document.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bronwijzer.domain import BronwijzerError, Passage
from bronwijzer.files import add_missing_columns

SCHEMA = """
create table if not exists meta (key text primary key, value text not null);
create table if not exists documents (
    id text primary key,
    path text not null unique,
    source text not null,
    sha256 text not null,
    title text not null,
    publisher text,
    year integer,
    document_type text,
    pages integer,
    passages integer not null,
    ingested_at real not null,
    bwb_id text,
    valid_from text,
    version_date text
);
create table if not exists passages (
    id text primary key,
    document_id text not null references documents(id) on delete cascade,
    ordinal integer not null,
    data text not null
);
create index if not exists passages_by_document on passages(document_id, ordinal);
"""


@dataclass(frozen=True)
class DocumentRecord:
    id: str
    path: str
    name: str  # file name (column `source` in the catalogue)
    sha256: str
    title: str
    publisher: str | None
    year: int | None
    document_type: str | None
    pages: int | None
    passages: int
    ingested_at: float
    # a law version: its law and dates (bronwijzer/versions.py); None for other documents
    bwb_id: str | None = None
    valid_from: str | None = None
    version_date: str | None = None


# columns added after the first release: older catalogues get them on open
ADDED_COLUMNS = {"bwb_id": "text", "valid_from": "text", "version_date": "text"}
COLUMNS = ("id, path, source, sha256, title, publisher, year, document_type, pages, passages, "
           "ingested_at, bwb_id, valid_from, version_date")


class Catalog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by threads (the web app), serialised by a lock.
        self._conn = sqlite3.connect(
            path, check_same_thread=False, timeout=30, isolation_level=None
        )
        try:
            self._conn.execute("pragma journal_mode=wal")
            self._conn.execute("pragma synchronous=full")
            self._conn.execute("pragma foreign_keys=on")
            self._conn.executescript(SCHEMA)
            add_missing_columns(self._conn, "documents", ADDED_COLUMNS)
        except sqlite3.Error as exc:
            # typically a full disk or a read-only folder: say which file, not a traceback
            self._conn.close()
            raise BronwijzerError(f"cannot open the catalogue {path}: {exc}"
                                 + (" (is the disk full?)" if _disk_full(path) else "")
                                 ) from exc
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("begin immediate")
                yield self._conn
                self._conn.execute(
                    "insert into meta(key, value) values('generation', '1') "
                    "on conflict(key) do update set value = cast(value as integer) + 1"
                )
                self._conn.execute("commit")
            except BaseException:
                self._conn.execute("rollback")
                raise

    # --- meta -------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        with self._lock:
            return dict(self._conn.execute("select key, value from meta").fetchall())

    def set_meta(self, values: dict[str, str]) -> None:
        with self._lock:
            self._conn.execute("begin immediate")
            self._conn.executemany(
                "insert into meta(key, value) values(?, ?) "
                "on conflict(key) do update set value = excluded.value",
                list(values.items()),
            )
            self._conn.execute("commit")

    def generation(self) -> int:
        with self._lock:
            row = self._conn.execute("select value from meta where key='generation'").fetchone()
        return int(row[0]) if row else 0

    # --- documents ----------------------------------------------------------------
    def documents(self) -> list[DocumentRecord]:
        with self._lock:
            rows = self._conn.execute(
                f"select {COLUMNS} from documents order by source").fetchall()
        return [DocumentRecord(*row) for row in rows]

    def document(self, document_id: str) -> DocumentRecord | None:
        return next((d for d in self.documents() if d.id == document_id), None)

    def passage_ids(self, document_id: str | None = None) -> set[str]:
        with self._lock:
            if document_id is None:
                rows = self._conn.execute("select id from passages").fetchall()
            else:
                rows = self._conn.execute(
                    "select id from passages where document_id = ?", (document_id,)
                ).fetchall()
        return {r[0] for r in rows}

    def replace_document(self, record: DocumentRecord, passages: Iterable[Passage]) -> None:
        """Atomically swap a document's record and passages (the ingest commit point)."""
        with self.transaction() as conn:
            conn.execute("delete from documents where id = ? or path = ?", (record.id, record.path))
            conn.execute(
                f"insert into documents ({COLUMNS}) values ({', '.join('?' * 14)})",
                (
                    record.id, record.path, record.name, record.sha256, record.title,
                    record.publisher, record.year, record.document_type, record.pages,
                    record.passages, record.ingested_at or time.time(), record.bwb_id,
                    record.valid_from, record.version_date,
                ),
            )
            conn.executemany(
                "insert into passages(id, document_id, ordinal, data) values (?, ?, ?, ?)",
                [(p.id, p.document_id, p.ordinal, json.dumps(p.to_dict())) for p in passages],
            )

    def remove_documents(self, document_ids: Iterable[str]) -> None:
        ids = list(document_ids)
        if not ids:
            return
        with self.transaction() as conn:
            conn.executemany("delete from documents where id = ?", [(i,) for i in ids])

    # --- passages -------------------------------------------------------------------
    def passages(self, ids: Iterable[str]) -> dict[str, Passage]:
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Passage] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for pid, data in self._conn.execute(
                    f"select id, data from passages where id in ({marks})", chunk
                ):
                    found[pid] = _passage(data)
        return found

    def iter_passages(self) -> Iterator[Passage]:
        with self._lock:
            rows = self._conn.execute(
                "select data from passages order by document_id, ordinal"
            ).fetchall()
        for (data,) in rows:
            yield _passage(data)

    def count_passages(self) -> int:
        with self._lock:
            return int(self._conn.execute("select count(*) from passages").fetchone()[0])


def _passage(data: str) -> Passage:
    """A stored passage. Direct construction is a third faster than `Passage.from_dict`
    (it matters when BM25 is rebuilt from 100k passages); rows written by a version
    with other fields fall back to it."""
    values = json.loads(data)
    try:
        return Passage(**values)
    except TypeError:
        return Passage.from_dict(values)


def _disk_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < 1024 * 1024
    except OSError:
        return False
