"""Fit and judge the refusal model: a logistic regression over the retrieval's signals.

Examples are the tune half's items (answerable = 1, hand-written unanswerable = 0) and
their leave-one-document-out near misses (0). The cut-offs are chosen on the same tune
examples: refuse below the probability that refuses `FALSE_REFUSALS` of the answerable
questions, caution below the one that puts `CAUTIONED` more of them in the caution band.
The test half judges the result; `eval run` reports ROC AUC and the cut-off table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.refusal import SIGNALS, RefusalModel, RefusalPolicy
from evals.dataset import Item
from evals.lodo import near_misses

FALSE_REFUSALS = 0.05  # share of tune answerables the refusal cut-off may refuse
CAUTIONED = 0.15  # share of tune answerables in the caution band above it
L2 = 1.0  # ridge penalty on standardised weights: few examples, correlated signals
STEPS, RATE = 4000, 0.5


@dataclass(frozen=True)
class Example:
    id: str
    kind: str  # answerable | unanswerable | near_miss
    answerable: bool
    signals: dict[str, float]
    score: float  # what the policy in use compared (probability or cosine)
    refused: bool
    cautioned: bool


def collect(assistant: Any, items: Sequence[Item], documents: Sequence[str]) -> list[Example]:
    """The signals and verdict of every item and of its near miss, as the assistant sees them."""
    policy: RefusalPolicy = assistant.refusal
    examples = []
    cases: list[tuple[str, str, str, Any, bool]] = [
        (i.id, "answerable" if i.answerable else "unanswerable", i.question, None, i.answerable)
        for i in items]
    cases += [(c.id, "near_miss", c.question, c.filters, False)
              for c in near_misses(items, documents)]
    for case_id, kind, question, filters, answerable in cases:
        verdict = policy(assistant.retrieve(question, filters))
        examples.append(Example(case_id, kind, answerable, verdict.signals, verdict.score,
                                verdict.refuse, verdict.caution))
    return examples


def fit(examples: Sequence[Example], about: dict[str, Any]) -> RefusalModel:
    # every signal the examples carry: the reader's only when it was on
    signals = [s for s in SIGNALS if all(s in e.signals for e in examples)]
    x = np.array([[e.signals[s] for s in signals] for e in examples], dtype=float)
    y = np.array([e.answerable for e in examples], dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale
    weights, bias = np.zeros(z.shape[1]), 0.0
    for _ in range(STEPS):  # plain gradient descent: convex, 5 weights, no library needed
        p = 1 / (1 + np.exp(-(z @ weights + bias)))
        weights -= RATE * (z.T @ (p - y) + L2 * weights) / len(y)
        bias -= RATE * float((p - y).mean())
    model = RefusalModel(tuple(signals), tuple(mean.tolist()), tuple(scale.tolist()),
                         tuple(weights.tolist()), bias, 0.0, 0.0)
    answerable = np.sort([model.probability(e.signals) for e in examples if e.answerable])
    refuse_below = float(answerable[int(FALSE_REFUSALS * len(answerable))])
    caution_below = float(answerable[int((FALSE_REFUSALS + CAUTIONED) * len(answerable))])
    scores = [model.probability(e.signals) for e in examples]
    about = about | {
        "fitted_at": time.strftime("%Y-%m-%d"), "examples": len(examples),
        "answerable": int(y.sum()), "signals": signals,
        "tune_auc": round(roc_auc(list(y.astype(bool)), scores), 4),
        "false_refusals_target": FALSE_REFUSALS, "cautioned_target": CAUTIONED,
    }
    return RefusalModel(model.features, model.mean, model.scale, model.weights, model.bias,
                        refuse_below, caution_below, about)


def roc_auc(answerable: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Probability that an answerable question scores above an unanswerable one."""
    pos = np.array([s for s, a in zip(scores, answerable, strict=True) if a])
    neg = np.array([s for s, a in zip(scores, answerable, strict=True) if not a])
    if not len(pos) or not len(neg):
        return None
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def summary(examples: Sequence[Example]) -> dict[str, Any]:
    """AUC of the score against each kind of unanswerable, and the verdicts' rates."""
    answerable = [e for e in examples if e.kind == "answerable"]

    def rates(group: list[Example]) -> dict[str, Any]:
        n = len(group)
        return {"n": n,
                "refused": round(sum(e.refused for e in group) / n, 4) if n else None,
                "refused_or_cautioned": round(sum(e.refused or e.cautioned for e in group) / n,
                                              4) if n else None}

    result: dict[str, Any] = {"answerable": rates(answerable)}
    result["answerable"]["cautioned"] = (round(sum(e.cautioned for e in answerable)
                                               / len(answerable), 4) if answerable else None)
    for kind in ("unanswerable", "near_miss"):
        group = [e for e in examples if e.kind == kind]
        both = answerable + group
        result[kind] = rates(group) | {"auc": roc_auc([e.answerable for e in both],
                                                      [e.score for e in both])}
    return result
