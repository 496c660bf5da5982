"""The answer stage: its options and the one Answerer slot (assistant/answerers.py fills it).

An answerer turns a question and its retrieval into cited text, streaming the text as
it goes (txtai-style: one small interface, backends chosen by configuration):

* `extractive` (assistant/extractive.py): sentences quoted from the passages; no model;
* `llm` (assistant/llm.py): a chat model writes the answer, its markers are checked, and
  when the endpoint fails the extractive answerer answers instead.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from assistant.cite import CitedText
from bronwijzer.domain import BronwijzerError
from bronwijzer.settings import Options, env_name, option

if TYPE_CHECKING:
    from assistant.retrieve import Retrieval

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
