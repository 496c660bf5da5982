"""The extractive answerer: no language model, only sentences quoted from the sources.

The answer is made of sentences quoted verbatim from the retrieved passages, each
with its citation. It is the default because no trustworthy generative model ships
offline here.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.answer import Draft
from assistant.cite import CitedText, Quote, cite_quotes
from assistant.retrieve import Retrieval
from bronwijzer.domain import ScoredPassage
from bronwijzer.text import flatten_whitespace, sentence_spans, stems, tokens
from store.embeddings import PassageEmbeddings

# Weights of the sentence score; chosen on the evaluation sets (see README).
COSINE_WEIGHT = 1.0
LEXICAL_WEIGHT = 0.35
MIN_WORDS = 5
# With the reader: a sentence scores its evidence logit plus this weight times its
# passage's relevance logit; further sentences must come within the margin of the best.
READER_RELEVANCE_WEIGHT = 1.0
READER_MARGIN = 1.0
MAX_WORDS = 90
# "1. ", "a. ", "2° ", "- " before a law member or list item: not part of the claim
ENUMERATOR = re.compile(r"(?:\(?\d{1,3}[a-z]?[.)°]|[a-z][.)]|[•\-–])\s+")  # used with .match
# Formulaic clauses of Dutch regulations that share words with almost any question
# about the regulation but answer none (unless the question is about them).
FORMULAIC = (
    (re.compile(r"\b(treedt|treden) in werking\b|\binwerkingtreding\b", re.I),
     re.compile(r"werking", re.I)),
    (re.compile(r"\bwordt aangehaald als\b|\bcitee?rtitel\b", re.I),
     re.compile(r"aangehaald|citeer|naam|heet", re.I)),
    (re.compile(r"^(Lasten en bevelen|Gegeven te|Wij [A-Z][a-z]+, bij de gratie)", re.I), None),
)


@dataclass(frozen=True)
class Candidate:
    text: str  # the sentence as it reads in the answer (one line, no enumerator)
    passage_rank: int
    position: int  # sentence offset within its passage, for coherent ordering
    scored: ScoredPassage
    lexical: float
    start: int  # the sentence's span in the passage text: what the citation quotes
    end: int


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, embeddings: PassageEmbeddings, *, max_sentences: int = 3,
                 embedded_candidates: int = 3, embedded_words: int = 20,
                 rank_weight: float = 0.08, cache_size: int = 4096) -> None:
        self.embeddings = embeddings
        self.max_sentences = max_sentences
        # sentences compared with the question by embedding: the latency budget
        self.embedded_candidates = embedded_candidates
        # only a sentence's opening words are embedded: they carry its subject, and
        # model time grows with length (long law sentences would blow the budget)
        self.embedded_words = embedded_words
        self.rank_weight = rank_weight  # how much the retrieval's passage order counts
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def stream(self, question: str, retrieval: Retrieval) -> Generator[str, None, Draft]:
        """Yields the answer sentence by sentence, each with its marker (one step: the
        sentences are chosen together)."""
        cited = self(question, retrieval.passages, retrieval.query_vector, retrieval.readings)
        for piece in re.split(r"(?<=\])\s+", cited.text):
            if piece:
                yield piece + " "
        return Draft(cited, self.name)

    def __call__(self, question: str, passages: list[ScoredPassage],
                 query_vector: np.ndarray, readings: dict[str, Any] | None = None) -> CitedText:
        candidates = self.candidates(question, passages)
        if not candidates:
            return CitedText("", [], [])
        if readings:
            return self._by_reader(candidates, readings)
        ranked = sorted(candidates, key=self._prior, reverse=True)
        shortlist = ranked[: max(self.embedded_candidates, self.max_sentences)]
        if self.embedded_candidates:
            cosine = self._embed([c.text for c in shortlist]) @ query_vector
        else:  # lexical and rank evidence only: no model call beyond the question
            cosine = np.zeros(len(shortlist), dtype=np.float32)
        scored = sorted(
            zip(shortlist, cosine, strict=True),
            key=lambda item: COSINE_WEIGHT * float(item[1]) + self._prior(item[0]),
            reverse=True,
        )
        chosen: list[Candidate] = []
        best = None
        for candidate, cos in scored:
            total = COSINE_WEIGHT * float(cos) + self._prior(candidate)
            best = total if best is None else best
            if len(chosen) == self.max_sentences or total < best - 0.12:
                break
            if any(_overlap(candidate.text, c.text) > 0.6 for c in chosen):
                continue
            chosen.append(candidate)
        # read in document order: by passage rank, then by position in the passage
        chosen.sort(key=lambda c: (c.passage_rank, c.position))
        return cite_quotes([Quote(c.scored, c.start, c.end, c.position) for c in chosen])

    def _by_reader(self, candidates: list[Candidate], readings: dict[str, Any]) -> CitedText:
        """The sentences the reader marks as evidence, in the passages it found relevant."""
        def score(candidate: Candidate) -> float:
            reading = readings.get(candidate.scored.passage.id)
            if reading is None:
                return -math.inf
            evidence = max((s for start, end, s in reading.sentences
                            if start <= candidate.start < end), default=-math.inf)
            return evidence + READER_RELEVANCE_WEIGHT * reading.relevance

        ranked = sorted(((score(c), c) for c in candidates), key=lambda x: x[0], reverse=True)
        best = ranked[0][0]
        chosen: list[Candidate] = []
        for value, candidate in ranked:
            if len(chosen) == self.max_sentences or value < best - READER_MARGIN:
                break
            if not any(_overlap(candidate.text, c.text) > 0.6 for c in chosen):
                chosen.append(candidate)
        chosen.sort(key=lambda c: (c.passage_rank, c.position))
        return cite_quotes([Quote(c.scored, c.start, c.end, c.position) for c in chosen])

    def candidates(self, question: str, passages: list[ScoredPassage]) -> list[Candidate]:
        question_stems = set(stems(question))
        result = []
        for rank, scored in enumerate(passages):
            text = scored.passage.text
            for position, (start, end) in enumerate(sentence_spans(text)):
                enumerator = ENUMERATOR.match(text, start, end)
                start = enumerator.end() if enumerator else start
                sentence = flatten_whitespace(text[start:end])
                words = len(tokens(sentence))
                if not MIN_WORDS <= words <= MAX_WORDS or not _looks_like_prose(sentence):
                    continue
                if _formulaic(sentence, question):
                    continue
                sentence_stems = set(stems(sentence))
                lexical = (len(question_stems & sentence_stems) / len(question_stems)
                           if question_stems else 0.0)
                result.append(Candidate(sentence, rank, position, scored, lexical, start, end))
        return result

    def _prior(self, candidate: Candidate) -> float:
        return LEXICAL_WEIGHT * candidate.lexical + self.rank_weight / (1 + candidate.passage_rank)

    def _embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            openings = [" ".join(t.split()[: self.embedded_words]) for t in missing]
            for text, vector in zip(missing, self.embeddings.encode_passages(openings),
                                    strict=True):
                self._cache[text] = vector
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        for text in texts:
            self._cache.move_to_end(text)
        return np.vstack([self._cache[t] for t in texts])


def _formulaic(sentence: str, question: str) -> bool:
    return any(clause.search(sentence) and not (asked and asked.search(question))
               for clause, asked in FORMULAIC)


def _looks_like_prose(sentence: str) -> bool:
    """Skip table rows, numbering debris and headings: mostly letters, ends like a sentence."""
    letters = sum(ch.isalpha() for ch in sentence)
    return letters >= 0.6 * len(sentence)


def _overlap(a: str, b: str) -> float:
    ta, tb = set(tokens(a)), set(tokens(b))
    return len(ta & tb) / max(1, min(len(ta), len(tb)))
