"""Which answerer answers: the factory over the backends of assistant/answer.py's slot."""

from __future__ import annotations

from typing import Any

from assistant.answer import Answerer, AnswerOptions
from assistant.extractive import ExtractiveAnswerer
from assistant.llm import LLMAnswerer
from bronwijzer.domain import BronwijzerError
from bronwijzer.settings import env_name
from store.embeddings import PassageEmbeddings


def make_answerer(options: AnswerOptions, embeddings: PassageEmbeddings, *,
                  chat_model: Any = None) -> Answerer:
    """The configured answerer. The LLM answerer needs `chat_model` (built from LLMOptions
    by assistant.llm.make_chat_model); given one, it is used whatever `answerer` says."""
    extractive = ExtractiveAnswerer(
        embeddings, max_sentences=options.answer_sentences,
        embedded_candidates=options.answer_embed_sentences,
        embedded_words=options.answer_embed_words, rank_weight=options.answer_rank_weight,
    )
    if options.answerer != "llm" and chat_model is None:
        return extractive
    if chat_model is None:
        raise BronwijzerError(f"{env_name('answerer')}=llm needs a chat model")
    return LLMAnswerer(chat_model, fallback=extractive)
