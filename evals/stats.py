"""Uncertainty of the headline metrics: bootstrap intervals, paired differences, McNemar, kappa.

Every headline metric is a ratio of sums over items: a mean over a subset (hit@5: 1 or 0
per answerable item, over 1 per answerable item) or a micro-average (citation precision:
relevant cited passages over cited passages). `item_terms` gives each item's numerator
and denominator per metric, from the item dicts of results.json, so a baseline read from
disk is treated exactly like the current run. Resampling questions is then resampling
rows and recomputing the ratios: one matrix product per bootstrap, for all metrics at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from evals.metrics import (
    HEADLINE_METRICS,
    K_MAX,
    evidence_recall,
    hit_at,
    ndcg_at,
    reciprocal_rank,
)

SEED = 20261129  # fixed: the same results.json always gets the same intervals
RESAMPLES = 2000
LEVEL = 0.95
ALPHA = 1 - LEVEL
LOWER_IS_BETTER = frozenset({"false_refusal_rate", "caution_rate"})
# per-item yes/no outcomes over a population both configurations share: McNemar applies.
# (caution_rate is over answered items, which differ between configurations: bootstrap only)
BINARY = frozenset({"hit@1", "hit@5", "hit@10", "refusal_accuracy", "false_refusal_rate",
                    "unanswerable_refused_or_cautioned", "followup_hit@5",
                    "followup_standalone_hit@5"})
EMPTY_VALUE = {"citation_validity": 1.0}  # no markers at all: nothing invalid (as aggregate)
BETTER, WORSE, SAME = "better", "worse", "no detectable difference"


def item_terms(item: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """(numerator, denominator) of every headline metric for one item of results.json."""
    flags = [p["relevant"] for p in item["retrieved"]]
    answerable = 1.0 if item["answerable"] else 0.0
    unanswerable = 1.0 - answerable
    refused = float(bool(item["refused"]))
    caution = float(bool(item.get("caution")))
    answered = answerable * (1.0 - refused)
    citations = item["citations"]
    terms = {f"hit@{k}": (answerable * hit_at(flags, k), answerable) for k in (1, 5, 10)}
    terms |= {
        "recall@10": (answerable * evidence_recall(item["evidence_found"]), answerable),
        "mrr@10": (answerable * reciprocal_rank(flags, K_MAX), answerable),
        "ndcg@10": (answerable * ndcg_at(flags, K_MAX), answerable),
        "citation_validity": (float(item["valid_markers"]), float(item["markers"])),
        "citation_precision": (answerable * sum(c["relevant"] for c in citations),
                               answerable * len(citations)),
        "quote_fidelity": (float(sum(c["faithful"] for c in citations)), float(len(citations))),
        "refusal_accuracy": (unanswerable * refused, unanswerable),
        "false_refusal_rate": (answerable * refused, answerable),
        "unanswerable_refused_or_cautioned": (unanswerable * max(refused, caution),
                                              unanswerable),
        "caution_rate": (answered * caution, answered),
    }
    for name in ("answer_f1", "rouge_l"):
        value = item.get(name)
        terms[name] = (0.0, 0.0) if value is None or not answered else (value, 1.0)
    follow_up = item.get("follow_up") if answerable else None
    for name, key in (("followup_hit@5", "hit_at_5"),
                      ("followup_standalone_hit@5", "standalone_hit_at_5")):
        terms[name] = (float(follow_up[key]), 1.0) if follow_up else (0.0, 0.0)
    return terms


def term_matrices(items: Sequence[dict[str, Any]], names: Sequence[str] = HEADLINE_METRICS
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Numerators and denominators, items × metrics."""
    rows = [item_terms(item) for item in items]
    numerators = np.array([[row[n][0] for n in names] for row in rows], dtype=float)
    denominators = np.array([[row[n][1] for n in names] for row in rows], dtype=float)
    shape = (len(rows), len(names))
    return numerators.reshape(shape), denominators.reshape(shape)


def ratios(top: np.ndarray, bottom: np.ndarray, names: Sequence[str] = HEADLINE_METRICS
           ) -> np.ndarray:
    """Summed numerators over summed denominators (last axis: metrics); NaN where nothing
    was measured, or the metric's value for "nothing to count" (citation_validity)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)
    for column, name in enumerate(names):
        if name in EMPTY_VALUE:
            values[..., column] = np.where(bottom[..., column] > 0, values[..., column],
                                           EMPTY_VALUE[name])
    return values


def resample_weights(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """How often each of n items is drawn in each bootstrap sample (resamples × n)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(float)


def _bootstrap_ratios(weights: np.ndarray, numerators: np.ndarray, denominators: np.ndarray,
                      names: Sequence[str]) -> np.ndarray:
    # weighted sums per resample: (resamples × items) @ (items × metrics)
    return ratios(weights @ numerators, weights @ denominators, names)


def _interval(samples: np.ndarray) -> list[float] | None:
    finite = samples[np.isfinite(samples)]
    if not finite.size:
        return None
    low, high = np.percentile(finite, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    return [round(float(low), 4), round(float(high), 4)]


def intervals(items: Sequence[dict[str, Any]], names: Sequence[str] = HEADLINE_METRICS,
              resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, list[float] | None]:
    """Percentile bootstrap 95% interval of each metric, resampling items (questions)."""
    if not items:
        return dict.fromkeys(names)
    numerators, denominators = term_matrices(items, names)
    weights = resample_weights(len(items), resamples, seed)
    samples = _bootstrap_ratios(weights, numerators, denominators, names)
    return {name: _interval(samples[:, column]) for column, name in enumerate(names)}


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p: the discordant pairs as a binomial(b + c, 1/2) test."""
    discordant = only_a + only_b
    if not discordant:
        return 1.0
    tail = sum(math.comb(discordant, i) for i in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2 ** discordant)


def paired(items_a: Sequence[dict[str, Any]], items_b: Sequence[dict[str, Any]],
           names: Sequence[str] = HEADLINE_METRICS, resamples: int = RESAMPLES,
           seed: int = SEED) -> dict[str, Any]:
    """A vs B over the items both have (matched by id): per metric the two values, the
    difference A − B with its paired-bootstrap 95% interval, McNemar's exact p for
    yes/no outcomes, and the verdict for A: better, worse or no detectable difference."""
    by_id = {item["id"]: item for item in items_b}
    shared = [item["id"] for item in items_a if item["id"] in by_id]
    a = [item for item in items_a if item["id"] in by_id]
    b = [by_id[item_id] for item_id in shared]
    out: dict[str, Any] = {"shared_items": len(shared), "metrics": {}}
    if not shared:
        return out
    num_a, den_a = term_matrices(a, names)
    num_b, den_b = term_matrices(b, names)
    value_a = ratios(num_a.sum(axis=0), den_a.sum(axis=0), names)
    value_b = ratios(num_b.sum(axis=0), den_b.sum(axis=0), names)
    weights = resample_weights(len(shared), resamples, seed)  # the same draws for A and B
    differences = (_bootstrap_ratios(weights, num_a, den_a, names)
                   - _bootstrap_ratios(weights, num_b, den_b, names))
    for column, name in enumerate(names):
        row: dict[str, Any] = {
            "a": _value(value_a[column]), "b": _value(value_b[column]),
            "difference": _value(value_a[column] - value_b[column]),
            "ci95": _interval(differences[:, column]), "p_mcnemar": None,
        }
        if name in BINARY:
            both = (den_a[:, column] > 0) & (den_b[:, column] > 0)
            yes_a, yes_b = num_a[both, column] > 0, num_b[both, column] > 0
            only_a, only_b = int(np.sum(yes_a & ~yes_b)), int(np.sum(~yes_a & yes_b))
            row["discordant"] = [only_a, only_b]
            row["p_mcnemar"] = round(mcnemar_exact(only_a, only_b), 4) if both.any() else None
        row["verdict"] = verdict(name, row)
        out["metrics"][name] = row
    return out


def verdict(name: str, row: dict[str, Any]) -> str:
    """McNemar decides for yes/no outcomes, the interval of the difference for the rest."""
    difference, interval = row.get("difference"), row.get("ci95")
    if difference is None:
        return "not measured"
    if name in BINARY and row.get("p_mcnemar") is not None:
        only_a, only_b = row["discordant"]
        detectable, direction = row["p_mcnemar"] < ALPHA, only_a - only_b
    else:
        detectable = interval is not None and (interval[0] > 0 or interval[1] < 0)
        direction = difference
    if not detectable or direction == 0:
        return SAME
    higher = direction > 0
    return BETTER if higher != (name in LOWER_IS_BETTER) else WORSE


def cohens_kappa(pairs: Sequence[tuple[bool, bool]]) -> float | None:
    """Cohen's kappa of two yes/no raters; None when chance agreement is total (one class)."""
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(x == y for x, y in pairs) / n
    first, second = sum(x for x, _ in pairs) / n, sum(y for _, y in pairs) / n
    expected = first * second + (1 - first) * (1 - second)
    return None if expected >= 1 else (observed - expected) / (1 - expected)


def _value(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 4)
