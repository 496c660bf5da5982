"""Report sections for uncertainty, comparisons, slices and the reviewers' agreement.

Each section is a title, tables (header and rows, formatted once) and a note; report.py
renders the same sections as Markdown and as HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evals.metrics import HEADLINE_METRICS
from evals.report_tables import fmt, signed
from evals.slices import KINDS, SLICE_METRICS
from evals.stats import BINARY

Table = tuple[list[str], list[list[str]]]


@dataclass(frozen=True)
class Section:
    title: str
    tables: list[Table] = field(default_factory=list)
    note: str = ""


SHORT = {"hit@5": "hit@5", "mrr@10": "MRR@10", "citation_precision": "cit. prec.",
         "answer_f1": "answer F1", "false_refusal_rate": "false refusals",
         "refusal_accuracy": "refused (unanswerable)"}


def interval_section(results: dict[str, Any]) -> Section | None:
    if not results.get("uncertainty"):
        return None
    configs = list(results["configs"])
    rows = [[metric, *(_with_interval(results["configs"][c], metric) for c in configs)]
            for metric in HEADLINE_METRICS]
    about = results["uncertainty"]
    note = (f"Value [95% interval]: {about['method']}, {about['resamples']} resamples, seed "
            f"{about['seed']}. With 50–130 questions an interval is often ±0.05 to ±0.10 "
            "wide: a difference between two configurations is judged only by the paired "
            "comparison below, not by whether two intervals overlap.")
    return Section("Headline metrics with 95% intervals", [(["metric", *configs], rows)], note)


def _with_interval(values: dict[str, Any], metric: str) -> str:
    interval = (values.get("ci95") or {}).get(metric)
    value = fmt(values.get(metric))
    return f"{value} [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else value


COMPARISON_NOTE = (
    "Paired over the items both runs share (matched by id). A − B with a paired-bootstrap "
    "95% interval (the same resampled questions for both). For yes/no outcomes (hit@k, "
    "refusals) McNemar's exact test on the items where only one of them succeeds decides "
    "(p < 0.05); for the others the interval of the difference must exclude 0. The verdict "
    "is for A; for false refusals and the caution rate lower is better. Each metric is "
    "tested on its own at 5%: among 17 metrics one false 'better' or 'worse' is expected "
    "now and then."
)


def comparison_sections(results: dict[str, Any]) -> list[Section]:
    compared = list(results.get("comparisons") or [])
    compared += (results.get("baseline") or {}).get("comparisons") or []
    sections = []
    for entry in compared:
        header = ["metric", f"A: {entry['a']}", f"B: {entry['b']}", "A − B",
                  "95% CI of A − B", "McNemar p (A only / B only)", "verdict for A"]
        rows = []
        for metric, row in entry["metrics"].items():
            interval = row.get("ci95")
            test = "–"
            if metric in BINARY and row.get("p_mcnemar") is not None:
                only_a, only_b = row["discordant"]
                test = f"{row['p_mcnemar']:.3f} ({only_a}/{only_b})"
            rows.append([metric, fmt(row["a"]), fmt(row["b"]), signed(row["difference"]),
                         f"{interval[0]:+.3f} … {interval[1]:+.3f}" if interval else "–",
                         test, row["verdict"]])
        source = ("" if entry["b_source"] == entry["a_source"]
                  else f" (B from {entry['b_source']})")
        title = (f"Paired comparison: {entry['a']} vs {entry['b']}{source}, "
                 f"{entry['shared_items']} items")
        sections.append(Section(title, [(header, rows)] if rows else [],
                                COMPARISON_NOTE if rows else "No item in common."))
    return sections


def slice_sections(results: dict[str, Any]) -> list[Section]:
    found = results.get("slices") or {}
    sections = []
    header = ["slice", "items (answerable)", "config", *(SHORT[m] for m in SLICE_METRICS)]
    for kind, title in KINDS.items():
        rows = [[name, f"{entry['items']} ({entry['answerable']})", config,
                 *(fmt(values.get(m)) for m in SLICE_METRICS)]
                for name, entry in (found.get(kind) or {}).items()
                for config, values in entry["configs"].items()]
        if rows:
            sections.append(Section(f"Per slice: by {title}", [(header, rows)]))
    if sections:
        sections[-1] = Section(sections[-1].title, sections[-1].tables, SLICE_NOTE)
    return sections


SLICE_NOTE = ("Slices by tag overlap (an item has several tags). Retrieval and answer "
              "metrics are over a slice's answerable items, 'refused (unanswerable)' over "
              "its unanswerable ones. A slice of a few items moves by 0.1–0.3 when a single "
              "question flips: read the differences as where to look, not as findings.")


def review_section(results: dict[str, Any]) -> Section | None:
    review = results.get("review")
    if not review:
        return None
    confusion = review["confusion"]
    header = ["labelled citations", "percent agreement", "Cohen's kappa",
              "both relevant", "rule only", "reviewer only", "neither"]
    agreed = review["percent_agreement"]
    rows = [[str(review["citations"]), "–" if agreed is None else f"{agreed:.1%}",
             fmt(review["kappa"]),
             *(str(confusion[k]) for k in ("both", "rule_only", "human_only", "neither"))]]
    tables: list[Table] = [(header, rows)]
    verdicts = review.get("answers") or {}
    if verdicts:
        tables.append((["reviewer's answer verdict", "answers", "mean answer F1"],
                       [[verdict, str(n), fmt(review["answer_f1_by_verdict"].get(verdict))]
                        for verdict, n in verdicts.items()]))
    note = (f"Labels from {review['labels']}: {review['reviews']} reviewed answers by "
            f"{', '.join(review['reviewers']) or '–'}"
            + (f"; {review['unmatched_reviews']} reviews name items not in this dataset"
               if review["unmatched_reviews"] else "")
            + ". The rule is the gold-quote relevance rule of the citation-precision metric, "
            "applied to each labelled citation's passage; kappa corrects the agreement for "
            "chance (1 = perfect, 0 = chance level).")
    return Section("Citation relevance: gold-quote rule vs reviewers", tables, note)
