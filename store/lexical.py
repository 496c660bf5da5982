"""Dutch BM25 index (bm25s + PyStemmer), persisted beside the Chroma store.

The index is rebuilt from the catalogue after an ingest and saved under the
catalogue generation it describes. Saving writes a new folder and then swaps a
small pointer file atomically, so readers (other server processes too) always
load a complete index and can tell whether it is current.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from bronwijzer.domain import Filters, Passage
from bronwijzer.text import (
    COMPOUND_MODIFIER,
    SURE_HEAD,
    content_words,
    stem_words,
    stems,
    tokens,
)

POINTER = "current.json"
logging.getLogger("bm25s").setLevel(logging.WARNING)


@dataclass
class LexicalIndex:
    ids: list[str]
    retriever: bm25s.BM25 | None  # None for an empty index
    generation: int
    stemmer: str
    # per-row metadata for filtering without touching the catalogue
    documents: np.ndarray
    publishers: np.ndarray
    years: np.ndarray  # float, NaN when unknown
    document_types: np.ndarray

    @classmethod
    def build(cls, passages: list[Passage], texts: list[str], *, generation: int,
              stemmer: str) -> LexicalIndex:
        retriever = None
        if passages:
            retriever = bm25s.BM25(k1=1.2, b=0.75)
            retriever.index(_token_ids(texts, stemmer), show_progress=False)
        return cls(
            ids=[p.id for p in passages],
            retriever=retriever,
            generation=generation,
            stemmer=stemmer,
            documents=np.array([p.document for p in passages], dtype=object),
            publishers=np.array([p.publisher or "" for p in passages], dtype=object),
            years=np.array([p.year if p.year is not None else np.nan for p in passages],
                           dtype=float),
            document_types=np.array([p.document_type or "" for p in passages], dtype=object),
        )

    def search(self, query: str, k: int, filters: Filters | None = None, *,
               related: str = "", related_weight: float = 0.0,
               compound_weight: float = 0.0) -> list[tuple[str, float]]:
        """BM25 of the query; `related` words (a thesaurus's, not in the query) add their
        own BM25 score times `related_weight`, and the known parts of query words the index
        does not hold ("overlastboete" → boete, overlast) theirs times `compound_weight`."""
        if self.retriever is None or k <= 0:
            return []
        vocab = self.retriever.vocab_dict
        query_stems = stems(query, self.stemmer)
        token_ids = [vocab[t] for t in query_stems if t in vocab]
        known = set(token_ids)
        related_ids = [vocab[t] for t in dict.fromkeys(stems(related, self.stemmer))
                       if t in vocab and vocab[t] not in known] if related_weight else []
        part_ids = list(dict.fromkeys(
            vocab[part] for t in query_stems if t not in vocab
            for part in compound_parts(t, vocab) if vocab[part] not in known
        )) if compound_weight else []
        if not token_ids and not related_ids and not part_ids:
            return []
        mask = self.mask(filters)
        scores = (self.retriever.get_scores_from_ids(token_ids) if token_ids
                  else np.zeros(len(self.ids), dtype=np.float32))
        if related_ids:
            scores = scores + related_weight * self.retriever.get_scores_from_ids(related_ids)
        if part_ids:
            scores = scores + compound_weight * self.retriever.get_scores_from_ids(part_ids)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def idf(self, words: list[str]) -> dict[str, float]:
        """Inverse document frequency of stemmed words (unknown words: as rare as can be)."""
        n = len(self.ids)
        if self.retriever is None or not n:
            return {}
        vocab, indptr = self.retriever.vocab_dict, self.retriever.scores["indptr"]
        result = {}
        for word in words:
            t = vocab.get(word)
            df = int(indptr[t + 1] - indptr[t]) if t is not None and t + 1 < len(indptr) else 0
            result[word] = float(np.log((n + 1) / (df + 0.5)))
        return result

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        """Rows that pass the filter's clauses (Filters.clauses says what they mean)."""
        clauses = filters.clauses() if filters else []
        if not clauses:
            return None
        columns = {"document": self.documents, "publisher": self.publishers,
                   "document_type": self.document_types, "year": self.years}
        mask = np.ones(len(self.ids), dtype=bool)
        with np.errstate(invalid="ignore"):  # NaN years fail every bound, as they should
            for clause in clauses:
                column = columns[clause.field]
                if clause.op == "in":
                    mask &= np.isin(column, list(clause.value))
                elif clause.op == "not in":
                    mask &= ~np.isin(column, list(clause.value))
                elif clause.op == ">=":
                    mask &= column >= clause.value
                else:
                    mask &= column <= clause.value
        return mask

    # --- persistence ------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        target = tempfile.mkdtemp(prefix=f"gen-{self.generation:06d}-", dir=directory)
        if self.retriever is not None:
            self.retriever.save(target, show_progress=False)
        rows = {
            "ids": self.ids,
            "documents": self.documents.tolist(),
            "publishers": self.publishers.tolist(),
            "years": [None if np.isnan(y) else int(y) for y in self.years],
            "document_types": self.document_types.tolist(),
        }
        _write_json(Path(target) / "rows.json", rows)
        pointer = {"generation": self.generation, "folder": Path(target).name,
                   "stemmer": self.stemmer}
        _write_json(directory / POINTER, pointer)  # the atomic switch
        for old in directory.glob("gen-*"):
            if old.name != Path(target).name:
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex | None:
        try:
            pointer = json.loads((directory / POINTER).read_text("utf-8"))
            folder = directory / pointer["folder"]
            rows = json.loads((folder / "rows.json").read_text("utf-8"))
            retriever = bm25s.BM25.load(str(folder)) if rows["ids"] else None
        except (OSError, ValueError, KeyError):
            return None  # missing or damaged: the caller rebuilds from the catalogue
        return cls(
            ids=rows["ids"],
            retriever=retriever,
            generation=int(pointer["generation"]),
            stemmer=pointer["stemmer"],
            documents=np.array(rows["documents"], dtype=object),
            publishers=np.array(rows["publishers"], dtype=object),
            years=np.array([np.nan if y is None else y for y in rows["years"]], dtype=float),
            document_types=np.array(rows["document_types"], dtype=object),
        )

    @staticmethod
    def stored_generation(directory: Path) -> int | None:
        try:
            return int(json.loads((directory / POINTER).read_text("utf-8"))["generation"])
        except (OSError, ValueError, KeyError):
            return None


COMPOUND_HEAD = 4  # letters of the shortest head taken from an unknown compound ("boet")
LINKING = ("s", "e", "en")  # Dutch linking sounds: drug|s|handel, stad|s|deel


def compound_parts(stem: str, vocab: dict[str, int]) -> list[str]:
    """The indexed head and modifier of a compound the index does not hold, longest head
    first: "overlastboet" (stem of overlastboete) → ["boet", "overlast"]. Dutch writes
    compounds as one word, so a question's "splitsingsvergunning" misses every text that
    says "vergunning" for splitsing; nothing when no head of COMPOUND_HEAD letters is known."""
    for cut in range(COMPOUND_MODIFIER, len(stem) - COMPOUND_HEAD + 1):
        head = stem[cut:]  # every such cut satisfies ends_in_head(stem, head)
        if head not in vocab:
            continue
        modifier = stem[:cut]
        bare = [modifier[: -len(link)] for link in LINKING if modifier.endswith(link)]
        known = [m for m in (modifier, *bare) if len(m) >= COMPOUND_HEAD - 1 and m in vocab]
        if len(head) >= SURE_HEAD or known:  # a shorter head only beside a known modifier
            return [head, *known[:1]]
    return []


def _token_ids(texts: list[str], stemmer: str) -> bm25s.tokenization.Tokenized:
    """The corpus as BM25 term ids: exactly `stems(text, stemmer)` per text, but fast.

    Each distinct word is filtered and stemmed once (stemming is per word, so this is
    the same as stemming every occurrence) and mapped straight to a term id, which
    also spares bm25s its own string-to-id pass: the build is ~20% faster on 10k
    passages (4.4 → 3.6 s), with identical rankings. A text without any content word
    gets the empty term, as before.
    """
    term_of: dict[str, int | None] = {}
    vocab: dict[str, int] = {}
    corpus: list[list[int]] = []
    for text in texts:
        words = tokens(text)
        new = [w for w in set(words) if w not in term_of]
        if new:
            kept = content_words(new)
            term_of.update(dict.fromkeys(new))
            for word, stem in zip(kept, stem_words(kept, stemmer), strict=True):
                term_of[word] = vocab.setdefault(stem, len(vocab))
        ids = [i for i in map(term_of.__getitem__, words) if i is not None]
        corpus.append(ids or [vocab.setdefault("", len(vocab))])
    return bm25s.tokenization.Tokenized(ids=corpus, vocab=vocab)


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
