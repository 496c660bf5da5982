"""The answer stage: its options, the one Answerer slot, and the factory that fills it.

An answerer turns a question and its retrieval into cited text, streaming the text as
it goes (txtai-style: one small interface, backends chosen by configuration):

* `extractive` (assistant/extractive.py): sentences quoted from the passages; no model;
* `llm` (assistant/llm.py): a chat model writes the answer, its markers are checked, and
  when the endpoint fails the extractive answerer answers instead.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from assistant.cite import CitedText
from bronwijzer.domain import BronwijzerError
from bronwijzer.settings import Options, env_name, option

if TYPE_CHECKING:
    from assistant.retrieve import Retrieval
    from ingest.embed import PassageEmbeddings

ANSWERERS = ("extractive", "llm")


@dataclass(frozen=True)
class AnswerOptions(Options):
    title = "Answer"

    answerer: str = option("extractive", "`extractive` (default, no LLM) or `llm`.")
    answer_sentences: int = option(
        1, "Maximum sentences in an extractive answer (1–5). One, chosen on the tune halves: "
        "citation precision and answer F1 rise on both test halves (README)."
    )
    answer_embed_sentences: int = option(
        3, "Candidate sentences the extractive answerer compares with the question by "
        "embedding, at least ANSWER_SENTENCES (0 = lexical only, no model call)."
    )
    answer_embed_words: int = option(
        20, "Opening words of each such sentence that are embedded (model time grows "
        "with length)."
    )
    answer_rank_weight: float = option(
        0.08, "Weight of the passage's rank when the extractive answerer picks its sentence "
        "(beside the sentence's words and e5 similarity); chosen on the tune halves."
    )
    stale_years: int = option(
        3, "Age rule for a cited text that is not a law version known to be in force: "
        "older than this many years (by its version date or year; 0 = never by age), or "
        "marked superseded, it gets a notice with the answer. corpus/sources.toml "
        "[stale_years] sets other years per document type."
    )
    refusal_model: str = option(
        "bundled",
        "How to decide to refuse or caution: `bundled` (a logistic model over several "
        "retrieval signals, assistant/refusal_model.json, fitted on the tune half by "
        "`bronwijzer eval fit-refusal`), the path of another fitted model, or `cosine` (the "
        "e5 similarity of the best passage against the two thresholds below).",
    )
    refusal_threshold: float = option(
        0.855,
        "With REFUSAL_MODEL=cosine: minimum e5 similarity of the best passage to answer; "
        "below it Bronwijzer refuses.",
    )
    caution_threshold: float = option(
        0.875,
        "With REFUSAL_MODEL=cosine: below this similarity of the best passage (and above "
        "the refusal threshold) an answer carries a caution.",
    )

    def validate(self) -> None:
        if self.answerer not in ANSWERERS:
            raise BronwijzerError(
                f"{env_name('answerer')} must be 'extractive' or 'llm', not {self.answerer!r}"
            )
        if not 1 <= self.answer_sentences <= 5:
            raise BronwijzerError(f"{env_name('answer_sentences')} must be 1–5")
        if self.answer_rank_weight < 0:
            raise BronwijzerError(f"{env_name('answer_rank_weight')} must be 0 or more")


@dataclass(frozen=True)
class Draft:
    """What an answerer produced, and which answerer produced it (after any fallback)."""

    cited: CitedText
    answerer: str


class Answerer(Protocol):
    name: str

    def stream(self, question: str, retrieval: Retrieval) -> Generator[str, None, Draft]:
        """Yield provisional text pieces; return the checked, cited draft."""
        ...


def make_answerer(options: AnswerOptions, embeddings: PassageEmbeddings, *,
                  chat_model: Any = None) -> Answerer:
    """The configured answerer. The LLM answerer needs `chat_model` (built from LLMOptions
    by assistant.llm.make_chat_model); given one, it is used whatever `answerer` says."""
    from assistant.extractive import ExtractiveAnswerer

    extractive = ExtractiveAnswerer(
        embeddings, max_sentences=options.answer_sentences,
        embedded_candidates=options.answer_embed_sentences,
        embedded_words=options.answer_embed_words, rank_weight=options.answer_rank_weight,
    )
    if options.answerer != "llm" and chat_model is None:
        return extractive
    if chat_model is None:
        raise BronwijzerError(f"{env_name('answerer')}=llm needs a chat model")
    from assistant.llm import LLMAnswerer

    return LLMAnswerer(chat_model, fallback=extractive)
