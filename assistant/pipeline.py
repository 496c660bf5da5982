"""The assistant: rewrite → retrieve → (rerank) → answer → cite, with refusal.

`Assistant.ask` returns an `Answer`; `Assistant.stream` yields the same answer
in pieces for the web chat. Both share every step, so the streamed and the
returned answers cannot differ.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from typing import Any

from assistant.answer import ExtractiveAnswerer
from assistant.cite import CitedText, validate_markers
from assistant.rerank import load_reranker
from assistant.retrieve import HybridRetriever, Retrieval
from assistant.rewrite import DeterministicRewriter
from bronwijzer.domain import REFUSAL_TEXT, Answer, Filters, ServiceUnavailableError
from bronwijzer.settings import Settings
from ingest.store import Index

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
STORE_DOWN_TEXT = ("De zoekindex is op dit moment niet bereikbaar, daardoor kan ik nu geen "
                   "antwoord geven. Probeer het over enkele minuten opnieuw.")


@dataclass
class StreamEvent:
    """A piece of answer text, or (last event) the complete Answer.

    Deltas are provisional: the final `answer.text` is authoritative and replaces
    them (a generated reply can still fail citation checks and become a refusal).
    """

    delta: str = ""
    answer: Answer | None = None


class Assistant:
    def __init__(self, index: Index, settings: Settings, *, chat_model: Any = None) -> None:
        self.index = index
        self.settings = settings
        self.retriever = HybridRetriever(index, settings)
        self.reranker = load_reranker(settings)
        self.extractive = ExtractiveAnswerer(
            index.embeddings, max_sentences=settings.answer_sentences,
            embedded_candidates=settings.answer_embed_sentences,
            embedded_words=settings.answer_embed_words,
        )
        self.rewriter: Any = DeterministicRewriter()
        self.llm: Any = None
        if settings.answerer == "llm" or chat_model is not None:
            from assistant.llm import LLMAnswerer, LLMRewriter, make_chat_model

            model = chat_model or make_chat_model(settings, streaming=True)
            self.llm = LLMAnswerer(model)
            self.rewriter = LLMRewriter(model)

    @classmethod
    def from_settings(cls, settings: Settings) -> Assistant:
        return cls(Index(settings), settings)

    @property
    def answerer_name(self) -> str:
        return "llm" if self.llm else "extractive"

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
                                              answerer=self.answerer_name))
            return
        history = [(str(q), str(a)) for q, a in history]
        timings: dict[str, float] = {}

        step = time.perf_counter()
        standalone = self._rewrite(question, history)
        timings["rewrite"] = _ms(step)

        try:
            retrieval = self.retrieve(standalone, filters)
        except ServiceUnavailableError as exc:  # store or embeddings endpoint gone: say so
            log.warning("retrieval failed: %s", exc)
            yield StreamEvent(STORE_DOWN_TEXT, Answer(question, STORE_DOWN_TEXT, [], [],
                                                      refused=True, answerer=self.answerer_name))
            return
        timings.update(retrieval.timings)

        if self.refuses(retrieval):
            yield from self._refusal(question, standalone, retrieval, timings, started)
            return

        step = time.perf_counter()
        answerer = self.answerer_name
        cited = None
        if self.llm is not None:
            cited = yield from self._stream_llm(standalone, retrieval)
        if cited is None:  # no LLM configured, or it failed: quote the sources instead
            answerer = "extractive"
            cited = self.extractive(standalone, retrieval.passages, retrieval.query_vector)
            for sentence in _pieces(cited.text):
                yield StreamEvent(sentence)
        timings["answer"] = _ms(step)

        if not cited.citations:  # nothing we can stand behind: refuse instead
            yield from self._refusal(question, standalone, retrieval, timings, started)
            return
        timings["total"] = _ms(started)
        yield StreamEvent(answer=Answer(
            question=question, text=cited.text, citations=cited.citations,
            passages=retrieval.passages, refused=False,
            rewritten_question=standalone if standalone != question else None,
            answerer=answerer, timings=timings,
            caution=retrieval.best_dense < self.settings.caution_threshold,
        ))

    def retrieve(self, question: str, filters: Filters | None = None) -> Retrieval:
        retrieval = self.retriever(question, self.settings.top_k, filters)
        if self.reranker is not None and retrieval.passages:
            step = time.perf_counter()
            retrieval = replace(retrieval, passages=self.reranker(question, retrieval.passages))
            retrieval.timings["rerank"] = _ms(step)
        return retrieval

    def refuses(self, retrieval: Retrieval) -> bool:
        """Too little evidence: no passages, or the best is not similar enough."""
        return not retrieval.passages or retrieval.best_dense < self.settings.refusal_threshold

    # --- steps -------------------------------------------------------------------
    def _rewrite(self, question: str, history: list[tuple[str, str]]) -> str:
        if not history:
            return question
        try:
            return self.rewriter(question, history)
        except Exception as exc:
            log.warning("follow-up rewrite failed (%s); using the deterministic rewrite", exc)
            return DeterministicRewriter()(question, history)

    def _stream_llm(self, question: str, retrieval: Retrieval
                    ) -> Generator[StreamEvent, None, CitedText | None]:
        """Stream raw model text, then validate it. None when the endpoint failed."""
        parts: list[str] = []
        try:
            for delta in self.llm.stream(question, retrieval.passages):
                parts.append(delta)
                yield StreamEvent(delta)
        except Exception as exc:  # endpoint down, timeout, malformed reply
            log.warning("LLM answer failed (%s); answering extractively instead", exc)
            return None
        text = "".join(parts).strip()
        if REFUSAL_TEXT.rstrip(".") in text:
            return CitedText("", [], [])
        return validate_markers(text, retrieval.passages)

    def _refusal(self, question: str, standalone: str, retrieval: Retrieval,
                 timings: dict[str, float], started: float) -> Iterator[StreamEvent]:
        timings["total"] = _ms(started)
        answer = Answer(
            question=question, text=REFUSAL_TEXT, citations=[], passages=retrieval.passages,
            refused=True, rewritten_question=standalone if standalone != question else None,
            answerer=self.answerer_name, timings=timings,
        )
        yield StreamEvent(REFUSAL_TEXT, answer)


def _question_problem(question: str) -> str | None:
    if not question:
        return "Stel een vraag, bijvoorbeeld: Wat is sociale herovering?"
    if not any(ch.isalnum() for ch in question):  # only emoji or punctuation: no words
        return "Stel uw vraag in woorden, bijvoorbeeld: Wat is sociale herovering?"
    if len(question) > MAX_QUESTION_CHARS:
        return (f"Uw vraag is {len(question)} tekens lang; stel een kortere vraag "
                f"(hooguit {MAX_QUESTION_CHARS} tekens).")
    return None


def _pieces(text: str) -> Iterator[str]:
    import re

    for part in re.split(r"(?<=\])\s+", text):
        if part:
            yield part + " "


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
