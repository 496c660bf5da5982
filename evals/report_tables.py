"""Table rows for the evaluation reports, built from a results.json dictionary.

Both the Markdown and the HTML report (and the plots) render these rows, so numbers are
formatted once, the same way everywhere.
"""

from __future__ import annotations

from typing import Any

from evals.metrics import HEADLINE_METRICS
from evals.stats import LOWER_IS_BETTER

SUMMARY_COLUMNS = HEADLINE_METRICS


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def signed(value: float | None) -> str:
    """A difference with its sign: '+0.012', '–' when unknown."""
    return "–" if value is None else f"{value:+.3f}"


def fmt_delta(value: float | None, metric: str = "") -> str:
    if value is None:
        return "–"
    better = value < 0 if metric in LOWER_IS_BETTER or metric.startswith("latency") else value > 0
    sign = "+" if value > 0 else ""
    mark = "" if abs(value) < 1e-9 else (" ▲" if better else " ▼")
    return f"{sign}{value:.3f}{mark}"


def latency(values: dict[str, Any], part: str, q: str) -> Any:
    """One latency quantile (ms) of a configuration, or None when it was not measured."""
    return (values.get("latency_ms") or {}).get(part, {}).get(q)


def summary_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["config", *SUMMARY_COLUMNS, "retrieval p50 ms", "retrieval p95 ms",
              "answer p50 ms", "answer p95 ms"]
    rows = []
    for name, values in results["configs"].items():
        marker = " (default)" if name == results["default_config"] else ""
        rows.append([name + marker, *(fmt(values.get(c)) for c in SUMMARY_COLUMNS),
                     *(fmt(latency(values, part, q), 0)
                       for part in ("retrieval", "answer") for q in ("p50", "p95"))])
    return header, rows


def tag_rows(results: dict[str, Any], metric: str = "hit@5"
             ) -> tuple[list[str], list[list[str]]]:
    configs = list(results["configs"])
    tags = sorted({t for values in results["configs"].values() for t in values.get("by_tag", {})})
    header = ["tag", "items", *configs]
    rows = []
    for tag in tags:
        first = results["configs"][configs[0]].get("by_tag", {}).get(tag, {})
        rows.append([tag, fmt(first.get("items")),
                     *(fmt(results["configs"][c].get("by_tag", {}).get(tag, {}).get(metric))
                       for c in configs)])
    return header, rows


def delta_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    baseline = results.get("baseline")
    if not baseline or not baseline.get("deltas"):
        return None
    names = list(dict.fromkeys(m for d in baseline["deltas"].values() for m in d))
    rows = [[config, *(fmt_delta(d.get(m), m) for m in names)]
            for config, d in baseline["deltas"].items()]
    return ["config", *names], rows


def calibration_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    calibration = results.get("calibration")
    if not calibration:
        return None
    stats = ("n", "min", "p10", "p25", "p50", "p75", "p90", "max")
    rows = [[group, *(fmt(calibration[group].get(s)) for s in stats)]
            for group in ("answerable", "unanswerable")]
    return ["best_dense", *stats], rows


def threshold_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    calibration = results.get("calibration")
    if not calibration:
        return None
    header = ["threshold", "refusal_accuracy", "false_refusal_rate", "balanced_accuracy"]
    picked = [("current", calibration["at_current"]), ("suggested", calibration["suggested"])]
    rows = [[f"{fmt(row['threshold'], 4)} ({label})", *(fmt(row[h]) for h in header[1:])]
            for label, row in picked if row]
    previous: list[str] = []
    for row in calibration["grid"]:  # only thresholds where the outcome changes
        values = [fmt(row[h]) for h in header[1:]]
        if values != previous:
            rows.append([fmt(row["threshold"], 2), *values])
        previous = values
    return header, rows
