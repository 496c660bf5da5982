"""The assistant: rewrite → retrieve → read (or rerank) → refuse? → answer → cite → date check.

`Assistant.ask` returns an `Answer`; `Assistant.stream` yields the same answer
in pieces for the web chat. Both share every step, so the streamed and the
returned answers cannot differ.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

from assistant.answer import Answerer, AnswerOptions, Draft
from assistant.answerers import make_answerer
from assistant.dated import DatedOptions, mark_stale
from assistant.llm import LLMOptions, LLMRewriter, make_chat_model
from assistant.reader import Reader, ReaderOptions, load_reader, read_retrieval
from assistant.refusal import RefusalOptions, RefusalPolicy
from assistant.rerank import Reranker, RerankOptions, load_reranker
from assistant.retrieve import HybridRetriever, Retrieval, RetrievalOptions, elapsed_ms
from assistant.rewrite import DeterministicRewriter, Rewriter
from bronwijzer.domain import REFUSAL_TEXT, Answer, Filters, ServiceUnavailableError
from store.embeddings import PassageEmbeddings
from store.index import Index
from store.options import IndexOptions
from store.sources import SourceCatalogue
from store.vector_cache import CachedEmbeddings

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
STORE_DOWN_TEXT = ("De zoekindex is op dit moment niet bereikbaar, daardoor kan ik nu geen "
                   "antwoord geven. Probeer het over enkele minuten opnieuw.")


class StageOptions(Protocol):
    """The stages an Assistant is built from (presentation/settings.py's `Settings`
    assembles them with the rest)."""

    @property
    def index(self) -> IndexOptions: ...
    @property
    def retrieval(self) -> RetrievalOptions: ...
    @property
    def rerank(self) -> RerankOptions: ...
    @property
    def reader(self) -> ReaderOptions: ...
    @property
    def answer(self) -> AnswerOptions: ...
    @property
    def refusal(self) -> RefusalOptions: ...
    @property
    def dated(self) -> DatedOptions: ...
    @property
    def llm(self) -> LLMOptions: ...


@dataclass
class StreamEvent:
    """A piece of answer text, or (last event) the complete Answer.

    Deltas are provisional: the final `answer.text` is authoritative and replaces
    them (a generated reply can still fail citation checks and become a refusal).
    """

    delta: str = ""
    answer: Answer | None = None


class Assistant:
    """The stages wired together; build one with `build_assistant`."""

    def __init__(self, index: Index, retriever: HybridRetriever, answerer: Answerer,
                 refusal: RefusalPolicy, *, reranker: Reranker | None = None,
                 reader: Reader | None = None, reader_options: ReaderOptions | None = None,
                 rewriter: Rewriter | None = None, dated: DatedOptions | None = None) -> None:
        self.index = index
        self.reader = reader
        self.reader_options = reader_options or ReaderOptions()
        self.dated = dated or DatedOptions()
        self.retriever = retriever
        self.answerer = answerer
        self.refusal = refusal
        self.reranker = reranker
        self.rewriter = rewriter or DeterministicRewriter()

    # --- public API --------------------------------------------------------------
    def ask(self, question: str, history: tuple | list = (), filters: Filters | None = None
            ) -> Answer:
        answer: Answer | None = None
        for event in self.stream(question, history, filters):
            answer = event.answer or answer
        assert answer is not None
        return answer

    def stream(self, question: str, history: tuple | list = (),
               filters: Filters | None = None) -> Iterator[StreamEvent]:
        started = time.perf_counter()
        question = " ".join(question.split())
        problem = _question_problem(question)
        if problem:
            yield StreamEvent(problem, Answer(question, problem, [], [], refused=True,
                                              answerer=self.answerer.name))
            return
        history = [(str(q), str(a)) for q, a in history]
        timings: dict[str, float] = {}

        step = time.perf_counter()
        standalone = self._rewrite(question, history)
        timings["rewrite"] = elapsed_ms(step)

        try:
            retrieval = self.retrieve(standalone, filters)
            verdict = self.refusal(retrieval)
        except ServiceUnavailableError as exc:  # store or embeddings endpoint gone: say so
            log.warning("retrieval failed: %s", exc)
            yield StreamEvent(STORE_DOWN_TEXT, Answer(question, STORE_DOWN_TEXT, [], [],
                                                      refused=True, answerer=self.answerer.name))
            return
        timings.update(retrieval.timings)
        rewritten = standalone if standalone != question else None

        if verdict.refuse:
            yield _refusal(question, rewritten, retrieval, self.answerer.name, timings, started)
            return

        step = time.perf_counter()
        draft = yield from _stream_deltas(self.answerer.stream(standalone, retrieval))
        timings["answer"] = elapsed_ms(step)

        if not draft.cited.citations:  # nothing we can stand behind: refuse instead
            yield _refusal(question, rewritten, retrieval, draft.answerer, timings, started)
            return
        timings["total"] = elapsed_ms(started)
        on = _asked_on(retrieval)
        yield StreamEvent(answer=mark_stale(Answer(
            question=question, text=draft.cited.text, citations=draft.cited.citations,
            passages=retrieval.passages, refused=False, rewritten_question=rewritten,
            answerer=draft.answerer, timings=timings, caution=verdict.caution,
            valid_on=on.isoformat() if on else None, also_searched=list(retrieval.also_searched),
        ), self.dated.stale_years, on, versions=self.retriever.versions(),
            age_rule=self.retriever.catalogue.stale_years))

    def retrieve(self, question: str, filters: Filters | None = None, k: int | None = None
                 ) -> Retrieval:
        """The passages for a question: top_k of them, or `k` (evals rank 10 deep)."""
        retrieval = self.retriever(question, k, filters)
        if self.reader is not None and retrieval.passages:
            step = time.perf_counter()
            retrieval = read_retrieval(self.reader, retrieval, k or self.retriever.options.top_k,
                                       self.reader_options,
                                       self.retriever.options.max_per_document)
            retrieval.timings["read"] = elapsed_ms(step)
        elif self.reranker is not None and retrieval.passages:
            step = time.perf_counter()
            retrieval = replace(retrieval, passages=self.reranker(question, retrieval.passages))
            retrieval.timings["rerank"] = elapsed_ms(step)
        return retrieval

    # --- steps -------------------------------------------------------------------
    def _rewrite(self, question: str, history: list[tuple[str, str]]) -> str:
        if not history:
            return question
        try:
            return self.rewriter(question, history)
        except Exception as exc:
            log.warning("follow-up rewrite failed (%s); using the deterministic rewrite", exc)
            return DeterministicRewriter()(question, history)


def build_assistant(settings: StageOptions, *, index: Index | None = None,
                    embeddings: PassageEmbeddings | None = None, chat_model: Any = None,
                    answerer: Answerer | None = None) -> Assistant:
    """The one place an Assistant is assembled from the stage options of `settings`.

    index: share an open index (evals run several configurations on one); embeddings: a
    loaded model for a new index; chat_model: any LangChain chat model instead of the
    configured endpoint; answerer: a ready answerer (evals share one, and its cache).
    """
    index = index or Index(settings.index, embeddings=embeddings)
    catalogue = SourceCatalogue.load(settings.index.sources)
    # BRONWIJZER_VECTOR_CACHE, when set, keeps the reader's readings too
    store = index.embeddings.cache if isinstance(index.embeddings, CachedEmbeddings) else None
    reader = load_reader(settings.reader.reader, settings.index.model_cache_dir, store)
    if chat_model is None and settings.answer.answerer == "llm" and answerer is None:
        chat_model = make_chat_model(settings.llm, streaming=True)
    return Assistant(
        index,
        HybridRetriever(index, settings.retrieval, catalogue=catalogue),
        answerer or make_answerer(settings.answer, index.embeddings, chat_model=chat_model),
        RefusalPolicy(index, settings.refusal, reading=reader is not None),
        reranker=load_reranker(settings.rerank),
        reader=reader,
        reader_options=settings.reader,
        rewriter=LLMRewriter(chat_model) if chat_model is not None else None,
        dated=settings.dated,
    )


def _stream_deltas(pieces: Generator[str, None, Draft]) -> Generator[StreamEvent, None, Draft]:
    """The answerer's text pieces as events; returns its draft."""
    while True:
        try:
            piece = next(pieces)
        except StopIteration as done:
            return done.value
        yield StreamEvent(piece)


def _asked_on(retrieval: Retrieval) -> datetime.date | None:
    """The date whose law versions were searched (the retriever fills in today)."""
    return retrieval.filters.valid_on if retrieval.filters else None


def _refusal(question: str, rewritten: str | None, retrieval: Retrieval, answerer: str,
             timings: dict[str, float], started: float) -> StreamEvent:
    timings["total"] = elapsed_ms(started)
    on = _asked_on(retrieval)
    return StreamEvent(REFUSAL_TEXT, Answer(
        question=question, text=REFUSAL_TEXT, citations=[], passages=retrieval.passages,
        refused=True, rewritten_question=rewritten, answerer=answerer, timings=timings,
        valid_on=on.isoformat() if on else None, also_searched=list(retrieval.also_searched),
    ))


def _question_problem(question: str) -> str | None:
    if not question:
        return "Stel een vraag, bijvoorbeeld: Wat is sociale herovering?"
    if not any(ch.isalnum() for ch in question):  # only emoji or punctuation: no words
        return "Stel uw vraag in woorden, bijvoorbeeld: Wat is sociale herovering?"
    if len(question) > MAX_QUESTION_CHARS:
        return (f"Uw vraag is {len(question)} tekens lang; stel een kortere vraag "
                f"(hooguit {MAX_QUESTION_CHARS} tekens).")
    return None
