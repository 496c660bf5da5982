"""Intervals and paired comparisons in results.json, and the "not worse than" gate.

`add_uncertainty` is the one hook into a results document: each configuration gets a
`ci95` per headline metric; `comparisons` pairs every other configuration of the run with
the default one, and `baseline.comparisons` pairs each configuration with the same one of
a baseline results.json. Pairs are matched by item id, so a baseline over another split
or a longer dataset is compared on what both measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evals import stats
from evals.report_tables import signed

THIS_RUN = "this run"


def items_by_config(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in results.get("items") or []:
        grouped.setdefault(item["config"], []).append(item)
    return grouped


def comparison(a: str, a_source: str, items_a: Sequence[dict[str, Any]],
               b: str, b_source: str, items_b: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A paired comparison; verdicts are for A against B."""
    return {"a": a, "a_source": a_source, "b": b, "b_source": b_source,
            **stats.paired(items_a, items_b)}


def add_uncertainty(results: dict[str, Any], baseline: dict[str, Any] | None = None,
                    baseline_path: str | None = None) -> None:
    """Add intervals and comparisons to a results document (in place)."""
    grouped = items_by_config(results)
    for name, values in results["configs"].items():
        values["ci95"] = stats.intervals(grouped.get(name, []))
    results["uncertainty"] = {
        "method": "percentile bootstrap, resampling questions (items)",
        "resamples": stats.RESAMPLES, "seed": stats.SEED, "level": stats.LEVEL,
        "mcnemar_exact": sorted(stats.BINARY),
    }
    default = results["default_config"]
    results["comparisons"] = [
        comparison(name, THIS_RUN, grouped.get(name, []), default, THIS_RUN,
                   grouped.get(default, []))
        for name in results["configs"] if name != default
    ]
    if baseline is not None:
        section = results.setdefault("baseline", {"path": baseline_path})
        section["comparisons"] = baseline_comparisons(results, baseline,
                                                      baseline_path or section.get("path"))


def baseline_comparisons(results: dict[str, Any], baseline: dict[str, Any],
                         path: str | None) -> list[dict[str, Any]]:
    """Each configuration of this run against the same-named one of the baseline."""
    ours, theirs = items_by_config(results), items_by_config(baseline)
    return [comparison(name, THIS_RUN, ours.get(name, []), name, str(path), theirs[name])
            for name in results["configs"] if theirs.get(name)]


def worse_than_baseline(results: dict[str, Any], baseline: dict[str, Any],
                        path: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The gate: the default configuration against the baseline's same configuration (or
    the baseline's default); one message per headline metric that is detectably worse.
    No shared item is itself a failure: nothing could be shown to be not worse."""
    default = results["default_config"]
    theirs = items_by_config(baseline)
    target = default if theirs.get(default) else baseline.get("default_config")
    if not target or not theirs.get(target):
        return None, [f"{path}: no items of configuration {default!r} to compare with"]
    compared = comparison(default, THIS_RUN, items_by_config(results).get(default, []),
                          target, path, theirs[target])
    if not compared["shared_items"]:
        return compared, [f"{path}: no item id in common with this run"]
    return compared, [describe(name, row) for name, row in compared["metrics"].items()
                      if row["verdict"] == stats.WORSE]


def describe(name: str, row: dict[str, Any]) -> str:
    """'hit@5 0.830 vs 0.868 (−0.038, 95% CI −0.075…−0.009; McNemar p 0.031)'."""
    interval = row.get("ci95")
    span = f", 95% CI {interval[0]:+.3f}…{interval[1]:+.3f}" if interval else ""
    test = f"; McNemar p {row['p_mcnemar']:.3f}" if row.get("p_mcnemar") is not None else ""
    return (f"{name} {_num(row['a'])} vs {_num(row['b'])} "
            f"({signed(row['difference'])}{span}{test})")


def detectable_lines(results: dict[str, Any]) -> list[str]:
    """One line per comparison naming what differs detectably, for terminals and CI logs."""
    compared = list(results.get("comparisons") or [])
    compared += (results.get("baseline") or {}).get("comparisons") or []
    lines = []
    for entry in compared:
        verdicts = {name: row["verdict"] for name, row in entry["metrics"].items()}
        found = [f"{verdict} on {', '.join(n for n, v in verdicts.items() if v == verdict)}"
                 for verdict in (stats.BETTER, stats.WORSE)
                 if any(v == verdict for v in verdicts.values())]
        same = sum(v == stats.SAME for v in verdicts.values())
        where = "" if entry["b_source"] == THIS_RUN else f" ({entry['b_source']})"
        lines.append(f"{entry['a']} vs {entry['b']}{where}, {entry['shared_items']} paired "
                     f"items: " + "; ".join([*found, f"no detectable difference on {same}"]))
    return lines


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
