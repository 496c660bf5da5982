"""File facts shared by the rooms: the content hash that recognises a file, and how a
SQLite file written by an older Bronwijzer gains the columns added since."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping
from pathlib import Path


def file_sha256(path: Path) -> str:
    """sha256 of the file's bytes, read in 1 MiB blocks (model files are hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def add_missing_columns(conn: sqlite3.Connection, table: str,
                        columns: Mapping[str, str]) -> None:
    """Add each of `columns` (name → SQL declaration) that `table` lacks: an older file opens
    with the newer schema, and its rows keep their values."""
    present = {row[1] for row in conn.execute(f"pragma table_info({table})")}
    for column, declaration in columns.items():
        if column not in present:
            conn.execute(f"alter table {table} add column {column} {declaration}")
