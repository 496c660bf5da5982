"""Sentence vectors: every sentence of every passage, embedded and searchable.

A short question ("Wat is een bestuurlijke boete?") matches one sentence far better than
a 220-token passage that also holds four others; searching sentences and ranking their
passages gives retrieval a third, sentence-level list. The vectors live in a second
Chroma collection beside the passages' one, written and deleted with them by the Index;
an index built before they existed gets them when it is next published (backfill).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from bronwijzer.domain import Filters, Passage
from bronwijzer.text import flatten_whitespace, sentence_spans
from store.chroma import chroma_metadata, chroma_where
from store.embeddings import PassageEmbeddings

MIN_WORDS = 4  # shorter pieces (numbering, headings cut into sentences) match anything
BATCH = 1000
PER_PASSAGE = 3  # sentences fetched per passage wanted: several sentences share a passage


def sentences_of(passage: Passage) -> list[str]:
    texts = (flatten_whitespace(passage.text[start:end])
             for start, end in sentence_spans(passage.text))
    return [t for t in texts if len(t.split()) >= MIN_WORDS]


class SentenceVectors:
    """The sentence collection: ids are `<passage id>:<n>`, metadata as the passage's."""

    def __init__(self, collection: Any, embeddings: PassageEmbeddings, *,
                 enabled: bool = True) -> None:
        self.collection = collection
        self.embeddings = embeddings
        self.enabled = enabled  # off: nothing is written; what exists is still searched

    def add(self, passages: Sequence[Passage]) -> int:
        if not self.enabled:
            return 0
        ids, texts, metadatas = [], [], []
        for passage in passages:
            for n, text in enumerate(sentences_of(passage)):
                ids.append(f"{passage.id}:{n}")
                texts.append(text)
                metadatas.append(chroma_metadata(passage) | {"passage_id": passage.id})
        for start in range(0, len(ids), BATCH):
            part = slice(start, start + BATCH)
            vectors = self.embeddings.encode_passages(texts[part])
            self.collection.upsert(ids=ids[part], embeddings=vectors.tolist(),
                                   metadatas=metadatas[part])
        return len(ids)

    def remove(self, passage_ids: Iterable[str]) -> None:
        wanted = sorted(set(passage_ids))
        for start in range(0, len(wanted), BATCH):
            self.collection.delete(where={"passage_id": {"$in": wanted[start:start + BATCH]}})

    def passage_ids(self) -> set[str]:
        """Passages that have sentence vectors."""
        found: set[str] = set()
        offset = 0
        while True:
            page = self.collection.get(include=["metadatas"], limit=5000, offset=offset)
            found.update(m["passage_id"] for m in page["metadatas"])
            if len(page["ids"]) < 5000:
                return found
            offset += len(page["ids"])

    def search(self, vector: np.ndarray, k: int, filters: Filters | None,
               visible: set[str]) -> list[tuple[str, float]]:
        """Passages ranked by their best sentence's similarity: (passage id, cosine)."""
        n = min(k * PER_PASSAGE, self.collection.count())
        if n <= 0:
            return []
        result = self.collection.query(query_embeddings=[vector.tolist()], n_results=n,
                                       where=chroma_where(filters),
                                       include=["metadatas", "distances"])
        best: dict[str, float] = {}
        for metadata, distance in zip(result["metadatas"][0], result["distances"][0],
                                      strict=True):
            pid = metadata["passage_id"]
            if pid in visible and pid not in best:  # hits come best first
                best[pid] = 1.0 - float(distance)
        return list(best.items())[:k]
