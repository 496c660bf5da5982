"""Hybrid retrieval: dense (Chroma) and Dutch BM25, fused, de-duplicated, diversified."""

from __future__ import annotations

import datetime
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from assistant.vocabulary import load_vocabulary
from bronwijzer.domain import BronwijzerError, Filters, ScoredPassage
from bronwijzer.settings import Options, env_name, option
from bronwijzer.text import tokens
from bronwijzer.versions import LawVersions
from store.index import Index
from store.laws import law_versions
from store.sources import SourceCatalogue

DUPLICATE_JACCARD = 0.8  # token-set overlap above which two passages count as one
FUSIONS = ("rrf", "dense", "bm25")


@dataclass(frozen=True)
class RetrievalOptions(Options):
    title = "Retrieval"

    top_k: int = option(6, "Passages handed to the answerer.")
    candidates: int = option(40, "Candidates per retriever before fusion.")
    fusion: str = option(
        "rrf",
        "Fusion of dense and BM25 results: `rrf` (weighted reciprocal rank) or `dense`/`bm25`.",
    )
    rrf_k: int = option(60, "Reciprocal-rank-fusion constant.")
    dense_weight: float = option(1.5, "Weight of the dense ranking in fusion.")
    bm25_weight: float = option(1.0, "Weight of the BM25 ranking in fusion.")
    sentence_weight: float = option(
        0.0, "Weight in fusion of the passages ranked by their best sentence (needs an index "
        "built with BRONWIJZER_SENTENCE_VECTORS); 0 = off, the default (see README)."
    )
    max_per_document: int = option(
        3, "At most this many of the answerer's passages come from one document."
    )
    vocabulary: str = option(
        "bundled", "Policy words → the law's words, searched beside a question (BM25 and the "
        "dense query; \"woonoverlast\" → hinder, omwonenden): `bundled` "
        "(assistant/vocabulary.toml), a TOML file of your own, or `off`."
    )
    vocabulary_weight: float = option(
        0.5, "Weight of the vocabulary's words in BM25, against 1 for the question's own."
    )
    compound_weight: float = option(
        0.5, "Weight in BM25 of the known parts of a question's compound the index does not "
        "hold (\"overlastboete\" → boete, overlast), against 1 for its own words; 0 = off."
    )

    def validate(self) -> None:
        load_vocabulary(self.vocabulary)  # a bad file is named at start-up, not mid-question
        for name in ("vocabulary_weight", "compound_weight"):
            if getattr(self, name) < 0:
                raise BronwijzerError(f"{env_name(name)} must be 0 or more")
        if self.fusion not in FUSIONS:
            raise BronwijzerError(
                f"{env_name('fusion')} must be rrf, dense or bm25, not {self.fusion!r}"
            )

    @property
    def mode(self) -> str:
        """hybrid | dense | bm25: which retrievers run."""
        return "hybrid" if self.fusion == "rrf" else self.fusion


@dataclass
class Retrieval:
    question: str
    passages: list[ScoredPassage]
    query_vector: np.ndarray
    # cosine of the best dense hit in the whole index; None when no dense search ran
    best_dense: float | None
    best_bm25: float
    timings: dict[str, float] = field(default_factory=dict)
    filters: Filters | None = None  # as searched: laws resolved, valid_on set (HybridRetriever)
    # the fused candidates before the per-document cap, best first: what a reader reads
    candidates: list[ScoredPassage] = field(default_factory=list)
    # what the reader made of each passage it read, by passage id (assistant/reader.py)
    readings: dict[str, Any] = field(default_factory=dict)
    # the law's words the vocabulary added to the search (assistant/vocabulary.py)
    also_searched: tuple[str, ...] = ()


class HybridRetriever:
    """Callable: (question, k, filters) -> Retrieval. Mode: hybrid | dense | bm25."""

    def __init__(self, index: Index, options: RetrievalOptions, mode: str | None = None,
                 catalogue: SourceCatalogue | None = None) -> None:
        self.index = index
        self.options = options
        self.mode = mode or options.mode
        self.catalogue = catalogue or SourceCatalogue([])
        self._versions: tuple[int, LawVersions] | None = None
        self._versions_lock = threading.Lock()

    def versions(self) -> LawVersions:
        """The law versions of the index and the catalogue (rebuilt when the index changes)."""
        generation = self.index.catalog.generation()
        with self._versions_lock:
            if self._versions is None or self._versions[0] != generation:
                self._versions = (generation, law_versions(self.index.documents(),
                                                           self.catalogue))
            return self._versions[1]

    def resolve(self, filters: Filters | None) -> Filters:
        """The filter as searched: of each law only the version in force on `valid_on`
        (today when not given) is searched, unless a version is asked for by name;
        `law=` becomes that law's versions. Other documents are unaffected."""
        filters = filters or Filters()
        on = filters.valid_on or datetime.date.today()
        versions = self.versions()
        documents = filters.documents
        if filters.laws:
            named = versions.documents_of(filters.laws)
            # a law without indexed versions must match nothing, not lift the filter
            documents = tuple(sorted(set(documents) | named)) or tuple(
                f"{law} (geen versie in de index)" for law in filters.laws)
        excluded = versions.not_in_force(on) - set(filters.documents)
        return replace(filters, documents=documents, valid_on=on,
                       exclude_documents=tuple(sorted(excluded)))

    def __call__(self, question: str, k: int | None = None,
                 filters: Filters | None = None) -> Retrieval:
        filters = self.resolve(filters)
        k = k or self.options.top_k
        depth = max(self.options.candidates, k)
        timings: dict[str, float] = {}

        vocabulary = load_vocabulary(self.options.vocabulary)
        related_words = tuple(vocabulary.related(question)) if vocabulary else ()
        related = " ".join(related_words)

        started = time.perf_counter()
        vector = self.index.embeddings.encode_query(question)
        # the dense search also reads the law's words; the answerer keeps the question's vector
        searched = (self.index.embeddings.encode_query(f"{question} ({related})")
                    if related and self.mode != "bm25" else vector)
        timings["embed_query"] = elapsed_ms(started)

        started = time.perf_counter()
        dense = self.index.dense_search(searched, depth, filters) if self.mode != "bm25" else []
        best_dense = dense[0][1] if dense else 0.0
        if searched is not vector and dense:
            # the refusal model was fitted on the question's own best cosine: keep its meaning
            own = self.index.dense_search(vector, 1, filters)
            best_dense = own[0][1] if own else 0.0
        timings["dense"] = elapsed_ms(started)

        started = time.perf_counter()
        lexical = (self.index.lexical().search(question, depth, filters, related=related,
                                                related_weight=self.options.vocabulary_weight,
                                                compound_weight=self.options.compound_weight)
                   if self.mode != "dense" else [])
        timings["bm25"] = elapsed_ms(started)

        started = time.perf_counter()
        sentences = (self.index.sentence_search(vector, depth, filters)
                     if self.mode == "hybrid" and self.options.sentence_weight else [])
        timings["sentences"] = elapsed_ms(started)

        started = time.perf_counter()
        # enough candidates to fill k after de-duplication and the per-document cap;
        # fetching and comparing all of them cost more than the search itself
        fused = self._fuse(dense, lexical, sentences)[: max(4 * k, 20)]
        found = self.index.passages([pid for pid, _ in fused])
        dense_scores, bm25_scores, sentence_scores = dict(dense), dict(lexical), dict(sentences)
        candidates = [
            ScoredPassage(
                found[pid], score,
                {"dense": dense_scores.get(pid, float("nan")),
                 "bm25": bm25_scores.get(pid, 0.0),
                 "sentence": sentence_scores.get(pid, float("nan"))},
            )
            for pid, score in fused if pid in found
        ]
        candidates = collapse_duplicates(candidates)
        passages = diversify(candidates, k, self.options.max_per_document)
        timings["fuse"] = elapsed_ms(started)
        return Retrieval(
            question=question, passages=passages, query_vector=vector,
            best_dense=best_dense if self.mode != "bm25" else None,
            best_bm25=lexical[0][1] if lexical else 0.0, timings=timings, filters=filters,
            candidates=candidates, also_searched=related_words,
        )

    def _fuse(self, dense: list[tuple[str, float]], lexical: list[tuple[str, float]],
              sentences: list[tuple[str, float]]) -> list[tuple[str, float]]:
        if self.mode == "dense":
            return dense
        if self.mode == "bm25":
            return lexical
        k = self.options.rrf_k
        scores: dict[str, float] = {}
        for weight, ranking in ((self.options.dense_weight, dense),
                                (self.options.bm25_weight, lexical),
                                (self.options.sentence_weight, sentences)):
            for rank, (pid, _) in enumerate(ranking, start=1):
                scores[pid] = scores.get(pid, 0.0) + weight / (k + rank)
        return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def collapse_duplicates(passages: list[ScoredPassage]) -> list[ScoredPassage]:
    """Keep the best-ranked of passages whose token sets nearly coincide (overlaps, copies)."""
    kept: list[ScoredPassage] = []
    kept_tokens: list[set[str]] = []
    for candidate in passages:
        words = set(tokens(candidate.passage.text))
        if any(_jaccard(words, other) >= DUPLICATE_JACCARD for other in kept_tokens):
            continue
        kept.append(candidate)
        kept_tokens.append(words)
    return kept


def diversify(passages: list[ScoredPassage], k: int, per_document: int) -> list[ScoredPassage]:
    """Top k with at most `per_document` from one document, unless nothing else is left."""
    chosen: list[ScoredPassage] = []
    overflow: list[ScoredPassage] = []
    counts: dict[str, int] = {}
    for candidate in passages:
        document = candidate.passage.document_id
        if counts.get(document, 0) < per_document:
            chosen.append(candidate)
            counts[document] = counts.get(document, 0) + 1
        else:
            overflow.append(candidate)
        if len(chosen) == k:
            return chosen
    return chosen + overflow[: k - len(chosen)]


def _jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a perf_counter reading): every stage's timing."""
    return (time.perf_counter() - started) * 1000
