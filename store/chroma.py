"""Chroma specifics: opening the store, filters as `where`, metadata, errors in one line.

Chroma is always opened without telemetry and without an embedding function of its own
(its default would download a model): Bronwijzer passes every vector itself.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bronwijzer.domain import BronwijzerError, Filters, Passage, ServiceUnavailableError
from bronwijzer.text import error_line

log = logging.getLogger(__name__)

# Chroma's HNSW defaults (ef_construction 100, 16 neighbours, ef_search 100) returned the
# exact top 10 for only 98.1% of the eval questions on the shared corpus (top 1: 97.9%):
# e5's cosines all sit between 0.8 and 0.87, a hard space for the graph. These settings
# gave the exact top 40 for all 336 questions, at 1.1 ms a query (README, "Choices").
HNSW = {"space": "cosine", "ef_construction": 400, "max_neighbors": 48, "ef_search": 400}


class StoreUnavailableError(ServiceUnavailableError):
    """The vector store cannot be reached (Chroma server down, connection refused)."""


def store_error(where: str, exc: Exception) -> BronwijzerError:
    """One clear line for a failed Chroma call; connection failures get their own type."""
    import httpx

    cause = error_line(exc)
    if isinstance(exc, (httpx.TransportError, ConnectionError)) or "connect" in str(exc).lower():
        return StoreUnavailableError(f"Chroma at {where} is not reachable ({cause})")
    return BronwijzerError(f"Chroma at {where}: write or read failed ({cause})")


def open_collection(url: str, folder: Path, name: str, model: str) -> Any:
    """The collection `name` in the Chroma server at `url`, or embedded in `folder`."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if url:
            parts = urlparse(url)
            client = chromadb.HttpClient(
                host=parts.hostname or "127.0.0.1", port=parts.port or 8000,
                ssl=parts.scheme == "https", settings=chroma_settings,
            )
        else:
            client = chromadb.PersistentClient(path=str(folder), settings=chroma_settings)
        # embedding_function=None: Chroma must never fetch its default model;
        # we always pass vectors from our own model.
        collection = client.get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": HNSW},
            metadata={"embedding_model": model},
        )
    except Exception as exc:
        where = url or str(folder)
        raise BronwijzerError(f"cannot open Chroma at {where}: {exc}") from exc
    raise_ef_search(collection)
    return collection


def raise_ef_search(collection: Any) -> None:
    """Give a collection built with Chroma's defaults (indexes made before HNSW existed)
    the wider ef_search, the one setting Chroma lets change later; best effort, as a
    reader may not be allowed to write."""
    try:
        current = (collection.configuration or {}).get("hnsw") or {}
        if int(current.get("ef_search", 0)) < HNSW["ef_search"]:
            collection.modify(configuration={"hnsw": {"ef_search": HNSW["ef_search"]}})
    except Exception as exc:  # the old breadth still answers, only less exactly
        log.info("could not raise ef_search of %s: %s", collection.name, exc)


CHROMA_OPERATORS = {"in": "$in", "not in": "$nin", ">=": "$gte", "<=": "$lte"}


def chroma_where(filters: Filters | None) -> dict[str, Any] | None:
    """Filters as a Chroma `where`; field names are the metadata keys of chroma_metadata."""
    clauses = [{c.field: {CHROMA_OPERATORS[c.op]: list(c.value) if "in" in c.op else c.value}}
               for c in (filters.clauses() if filters else [])]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def chroma_metadata(passage: Passage) -> dict[str, str | int]:
    meta: dict[str, str | int] = {
        "document": passage.document,
        "document_id": passage.document_id,
        "ordinal": passage.ordinal,
    }
    for key in ("publisher", "document_type"):
        value = getattr(passage, key)
        if value:
            meta[key] = value
    if passage.year is not None:
        meta["year"] = int(passage.year)
    if passage.page_start is not None:
        meta["page"] = passage.page_start
    return meta
