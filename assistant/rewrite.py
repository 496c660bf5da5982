"""Follow-up questions: make them standalone before retrieval (no LLM needed).

"En wie beslist dat?" after "Wie mag een bestuurlijke boete opleggen?" is
searched as "En wie beslist dat? (bestuurlijke boete opleggen)": the key terms
of the earlier question are carried when the follow-up is short or refers back.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bronwijzer.text import dutch_stopwords, tokens

REFERRING_WORDS = frozenset(
    """dat dit daar daarover daarvan daarbij daarvoor daarmee daarin daarop daaraan
    die deze het hij zij ze hem haar hun hen dezelfde zelfde ook erover ervan ervoor
    ermee erin erop eraan welke""".split()
)
# (follow-up, earlier turns as (question, answer)) -> standalone question
Rewriter = Callable[[str, list[tuple[str, str]]], str]
SHORT_FOLLOW_UP = 7  # words; shorter questions rarely stand on their own
MAX_CARRIED_TERMS = 8


def needs_context(question: str) -> bool:
    words = tokens(question)
    if len(words) <= SHORT_FOLLOW_UP:
        return True
    starts_like_follow_up = bool(re.match(r"\s*(en|maar|of|ook|dus)\b", question, re.I))
    return starts_like_follow_up or any(w in REFERRING_WORDS for w in words[:4])


def key_terms(question: str) -> list[str]:
    stop = dutch_stopwords() | REFERRING_WORDS
    return list(dict.fromkeys(w for w in re.findall(r"[\w-]+", question)
                              if w.lower() not in stop and len(w) > 2))


class DeterministicRewriter:
    """Callable: (question, history) -> standalone question."""

    def __call__(self, question: str, history: list[tuple[str, str]]) -> str:
        if not history or not needs_context(question):
            return question
        # the previous question may itself have been a follow-up: resolve it first
        previous = self(history[-1][0], history[:-1])
        present = {w.lower() for w in tokens(question)}
        carried = [t for t in key_terms(previous) if t.lower() not in present]
        if not carried:
            return question
        return f"{question.strip()} ({' '.join(carried[:MAX_CARRIED_TERMS])})"
