"""Evaluation metrics: relevance, ranking, citations, answers, refusal, latency.

Everything here is a small pure function over plain values, so each metric can be
unit-tested on a hand-computed example. Aggregation over item results lives in
`aggregate`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from bronwijzer.text import tokens
from evals.dataset import Evidence

RELEVANT_SHARE = 0.6  # share of tokens that must occur on the other side
MIN_PASSAGE_TOKENS = 12  # the passage-in-quote branch needs a passage at least this long
K_MAX = 10


# --- relevance ------------------------------------------------------------------------------
@lru_cache(maxsize=8192)
def token_set(text: str) -> frozenset[str]:
    return frozenset(tokens(text))


def is_relevant(document: str, text: str, evidence: Evidence) -> bool:
    """Whether a retrieved passage (its source file name and text) supports an evidence entry.

    The relevance rule, with tokens = lowercase `\\w+` runs and "occur" meaning token-set
    membership: the passage is relevant when it comes from the named document
    (passage.document == evidence.document) and either

    * at least 60% of the quote's tokens occur in the passage (the passage contains the
      quote, or most of it when the quote straddles a passage boundary), or
    * the passage has at least 12 tokens and at least 60% of them occur in the quote
      (a short passage that lies mostly inside a long quote).

    An item is answered by a passage that is relevant to any of its evidence entries.
    """
    if document != evidence.document:
        return False
    quote_tokens = tokens(evidence.quote)
    passage_set = token_set(text)
    if quote_tokens and _share_in(quote_tokens, passage_set) >= RELEVANT_SHARE:
        return True
    passage_tokens = tokens(text)
    return (len(passage_tokens) >= MIN_PASSAGE_TOKENS
            and _share_in(passage_tokens, token_set(evidence.quote)) >= RELEVANT_SHARE)


def _share_in(words: Sequence[str], vocabulary: frozenset[str]) -> float:
    # counted over the token sequence: a quote repeating a word counts it each time
    return sum(word in vocabulary for word in words) / len(words)


def relevant_to_any(document: str, text: str, evidence: Iterable[Evidence]) -> bool:
    return any(is_relevant(document, text, e) for e in evidence)


# --- ranking --------------------------------------------------------------------------------
def hit_at(relevant: Sequence[bool], k: int) -> float:
    """1.0 when any of the first k retrieved passages is relevant."""
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool], k: int = K_MAX) -> float:
    """1/rank of the first relevant passage within the first k; 0 when none."""
    for rank, flag in enumerate(relevant[:k], start=1):
        if flag:
            return 1.0 / rank
    return 0.0


def ndcg_at(relevant: Sequence[bool], k: int = K_MAX) -> float:
    """nDCG@k with binary gains; the ideal ranking puts all retrieved relevant passages first.

    The ideal is computed from the relevant passages among the first k (we do not know how
    many passages of the whole index are relevant), so nDCG measures ordering within the list.
    """
    flags = list(relevant[:k])
    dcg = sum(1.0 / math.log2(rank + 1) for rank, flag in enumerate(flags, start=1) if flag)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, sum(flags) + 1))
    return dcg / ideal if ideal else 0.0


def evidence_recall(found: Sequence[bool]) -> float:
    """Share of evidence entries with a relevant passage in the list (recall@k)."""
    return sum(found) / len(found) if found else 0.0


# --- answers --------------------------------------------------------------------------------
def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1 (multiset overlap of lowercase \\w+ tokens)."""
    predicted, expected = tokens(prediction), tokens(reference)
    if not predicted or not expected:
        return 1.0 if predicted == expected else 0.0
    remaining: dict[str, int] = {}
    for word in expected:
        remaining[word] = remaining.get(word, 0) + 1
    common = 0
    for word in predicted:
        if remaining.get(word, 0) > 0:
            remaining[word] -= 1
            common += 1
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1: longest common token subsequence, balanced precision and recall."""
    predicted, expected = tokens(prediction), tokens(reference)
    if not predicted or not expected:
        return 1.0 if predicted == expected else 0.0
    lcs = lcs_length(predicted, expected)
    if not lcs:
        return 0.0
    precision, recall = lcs / len(predicted), lcs / len(expected)
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


# --- citations ------------------------------------------------------------------------------
def quote_is_exact(quote: str, start: int, end: int, passage_text: str) -> bool:
    """The quote is exactly the passage's text between its offsets: verbatim, contiguous."""
    return bool(quote) and passage_text[start:end] == quote


# --- latency --------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), as numpy's default; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def ratio(numerator: int, denominator: int, empty: float | None = None) -> float | None:
    return numerator / denominator if denominator else empty


# --- aggregation ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Bound:
    """A --fail-under bound: the metric must be at least `minimum`."""

    metric: str
    minimum: float

    def missed_by(self, metrics: dict[str, object]) -> str | None:
        value = metrics.get(self.metric)
        if not isinstance(value, int | float):
            return f"{self.metric} not measured (needed ≥ {self.minimum})"
        if value < self.minimum:
            return f"{self.metric} = {value:.4f} < {self.minimum}"
        return None


def parse_bounds(text: str) -> list[Bound]:
    """'hit@5=0.8,refusal_accuracy=0.9' → bounds; raises ValueError on a malformed entry."""
    bounds = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r}: expected metric=value")
        try:
            bounds.append(Bound(name.strip(), float(value)))
        except ValueError:
            raise ValueError(f"{part!r}: {value!r} is not a number") from None
    return bounds


# --- per-item records and their aggregation -------------------------------------------------
@dataclass
class RetrievedPassage:
    rank: int
    document: str
    page: int | None
    passage_id: str
    text: str  # a snippet: enough to see why it was (not) relevant
    score: float
    relevant: bool


@dataclass
class CitationCheck:
    n: int
    passage_id: str
    document: str
    page: int | None
    quote: str
    relevant: bool  # the cited passage is relevant to the item's evidence
    faithful: bool  # the quote is passage.text[start:end] of the cited passage


@dataclass
class FollowUpResult:
    question: str
    standalone: str
    rewritten_question: str | None
    answer: str
    refused: bool
    retrieved: list[RetrievedPassage]  # in conversation, top_k of the rewritten question
    hit_at_5: float
    standalone_retrieved: list[RetrievedPassage]
    standalone_hit_at_5: float


@dataclass
class ItemResult:
    """One item asked through one configuration: everything the metrics and report need."""

    id: str
    config: str
    question: str
    answerable: bool
    tags: list[str]
    expected_quotes: list[str]  # "document p. N: quote", for the failure report
    reference_answer: str
    retrieved: list[RetrievedPassage]  # depth 10, for the ranking metrics
    evidence_found: list[bool]  # per evidence entry: a relevant passage in the top 10
    first_relevant_rank: int | None
    answer: str
    refused: bool
    rewritten_question: str | None
    citations: list[CitationCheck]
    markers: int  # [n] markers in the answer text
    valid_markers: int  # ... that resolve to a citation of a provided passage
    answer_f1: float | None  # None: unanswerable or refused
    rouge_l: float | None
    best_dense: float  # the refusal signal
    retrieval_ms: float
    answer_ms: float
    follow_up: FollowUpResult | None = None
    caution: bool = False  # answered with the weak-evidence caution
    document: str = ""  # of the first evidence entry ("" if none): the per-document slices

    @property
    def relevant_flags(self) -> list[bool]:
        return [p.relevant for p in self.retrieved]


RANKING_KS = tuple(range(1, K_MAX + 1))


def aggregate(results: Sequence[ItemResult], *, by_tag: bool = True) -> dict[str, object]:
    """The metrics of one configuration over its item results (see module README in report).

    Retrieval metrics are means over answerable items. Citation validity, precision and
    quote fidelity are micro-averages (over all markers / cited passages / citations).
    answer_f1 and rouge_l are means over answerable items that were answered (not refused);
    answer_f1_incl_refused / rouge_l_incl_refused count refused answerable items as 0.
    """
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    answered = [r for r in answerable if not r.refused]
    follow_ups = [r.follow_up for r in answerable if r.follow_up is not None]
    cited = [c for r in answerable for c in r.citations]
    all_citations = [c for r in results for c in r.citations]
    metrics: dict[str, object] = {
        "items": len(results), "answerable": len(answerable),
        "unanswerable": len(unanswerable), "follow_ups": len(follow_ups),
    }
    for k in (1, 5, 10):
        metrics[f"hit@{k}"] = mean(hit_at(r.relevant_flags, k) for r in answerable)
    metrics |= {
        "recall@10": mean(evidence_recall(r.evidence_found) for r in answerable),
        "mrr@10": mean(reciprocal_rank(r.relevant_flags, K_MAX) for r in answerable),
        "ndcg@10": mean(ndcg_at(r.relevant_flags, K_MAX) for r in answerable),
        "citation_validity": ratio(sum(r.valid_markers for r in results),
                                   sum(r.markers for r in results), empty=1.0),
        "citation_precision": ratio(sum(c.relevant for c in cited), len(cited)),
        "quote_fidelity": ratio(sum(c.faithful for c in all_citations), len(all_citations)),
        "refusal_accuracy": ratio(sum(r.refused for r in unanswerable), len(unanswerable)),
        "false_refusal_rate": ratio(sum(r.refused for r in answerable), len(answerable)),
        # the caution band: unanswerable items refused or answered with a caution, and
        # answerable items answered with one (a caution on a good answer costs trust)
        "unanswerable_refused_or_cautioned": ratio(
            sum(r.refused or r.caution for r in unanswerable), len(unanswerable)),
        "caution_rate": ratio(sum(r.caution for r in answered), len(answered)),
        "answer_f1": mean(r.answer_f1 for r in answered),
        "rouge_l": mean(r.rouge_l for r in answered),
        "answer_f1_incl_refused": mean(r.answer_f1 or 0.0 for r in answerable),
        "rouge_l_incl_refused": mean(r.rouge_l or 0.0 for r in answerable),
        "followup_hit@5": mean(f.hit_at_5 for f in follow_ups),
        "followup_standalone_hit@5": mean(f.standalone_hit_at_5 for f in follow_ups),
        "hit_curve": [mean(hit_at(r.relevant_flags, k) for r in answerable) for k in RANKING_KS],
        "latency_ms": {
            "retrieval": _percentiles([r.retrieval_ms for r in results]),
            "answer": _percentiles([r.answer_ms for r in results]),
        },
    }
    if by_tag:
        tags = sorted({tag for r in results for tag in r.tags})
        metrics["by_tag"] = {
            tag: aggregate([r for r in results if tag in r.tags], by_tag=False) for tag in tags
        }
    return metrics


def _percentiles(values: list[float]) -> dict[str, float | None]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95)}


HEADLINE_METRICS = (
    "hit@1", "hit@5", "hit@10", "recall@10", "mrr@10", "ndcg@10", "citation_validity",
    "citation_precision", "quote_fidelity", "refusal_accuracy", "false_refusal_rate",
    "unanswerable_refused_or_cautioned", "caution_rate", "answer_f1", "rouge_l",
    "followup_hit@5", "followup_standalone_hit@5",
)


def deltas(current: dict[str, object], baseline: dict[str, object]) -> dict[str, float]:
    """current − baseline for every headline metric (and latency p50/p95) both have."""
    out: dict[str, float] = {}
    for name in HEADLINE_METRICS:
        now, before = current.get(name), baseline.get(name)
        if isinstance(now, int | float) and isinstance(before, int | float):
            out[name] = now - before
    for part in ("retrieval", "answer"):
        for q in ("p50", "p95"):
            now = _nested(current, "latency_ms", part, q)
            before = _nested(baseline, "latency_ms", part, q)
            if isinstance(now, int | float) and isinstance(before, int | float):
                out[f"latency_{part}_{q}_ms"] = now - before
    return out


def _nested(data: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


# --- refusal calibration --------------------------------------------------------------------
def calibration_summary(signals: Sequence[tuple[float, bool]], current: float
                        ) -> dict[str, object]:
    """Distribution of the refusal signal (best dense cosine) per class, and thresholds.

    `signals` are (best_dense, answerable) pairs. A threshold t refuses when best_dense < t.
    The suggested threshold maximises balanced accuracy (mean of the share of unanswerable
    items refused and answerable items answered); ties go to the lower threshold, which
    refuses less.
    """
    answerable = [s for s, ok in signals if ok]
    unanswerable = [s for s, ok in signals if not ok]

    def describe(values: list[float]) -> dict[str, float | int | None]:
        return {"n": len(values), "min": min(values, default=None),
                "p10": percentile(values, 10), "p25": percentile(values, 25),
                "p50": percentile(values, 50), "p75": percentile(values, 75),
                "p90": percentile(values, 90), "max": max(values, default=None)}

    def at(threshold: float) -> dict[str, float | None]:
        refused_ok = ratio(sum(s < threshold for s in unanswerable), len(unanswerable))
        refused_bad = ratio(sum(s < threshold for s in answerable), len(answerable))
        balanced = (None if refused_ok is None or refused_bad is None
                    else (refused_ok + 1 - refused_bad) / 2)
        return {"threshold": round(threshold, 4), "refusal_accuracy": refused_ok,
                "false_refusal_rate": refused_bad, "balanced_accuracy": balanced}

    candidates = sorted({round(s + 1e-4, 4) for s, _ in signals} | {current})
    sweep = [at(t) for t in candidates]
    scored = [row for row in sweep if row["balanced_accuracy"] is not None]
    best = max(scored, key=lambda row: (row["balanced_accuracy"], -row["threshold"]),
               default=None)
    return {
        "signal": "best_dense", "current_threshold": current,
        "answerable": describe(answerable), "unanswerable": describe(unanswerable),
        "at_current": at(current), "suggested": best,
        "grid": [at(t / 100) for t in range(70, 96)],
    }
