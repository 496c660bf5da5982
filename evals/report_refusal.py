"""The report's refusal section: how the verdicts fall for answerable questions, for the
hand-written unanswerables and for the leave-one-document-out near misses, with the
ROC AUC of the score the policy compares (how well it separates answerable from not)."""

from __future__ import annotations

from typing import Any

from evals.report_tables import fmt

ROWS = (("answerable", "answerable (should be answered)"),
        ("unanswerable", "unanswerable, hand-written"),
        ("near_miss", "near misses: question without its document"))


def refusal_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    refusal = results.get("refusal")
    if not refusal:
        return None
    header = ["questions", "n", "refused", "refused or cautioned", "ROC AUC"]
    rows = [[label, str(refusal[key]["n"]), fmt(refusal[key]["refused"]),
             fmt(refusal[key]["refused_or_cautioned"]), fmt(refusal[key].get("auc"))]
            for key, label in ROWS if key in refusal]
    return header, rows


NOTE = ("Refused on answerable questions are false refusals. The AUC is the chance that "
        "an answerable question scores above an unanswerable one of that row's kind.")
