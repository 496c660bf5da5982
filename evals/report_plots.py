"""Plots for the HTML report, each rendered to a PNG data URI.

Embedding the images keeps report.html self-contained: no external files or scripts.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

from evals.report_tables import tag_rows


def _png_data_uri(draw: Callable[[Any], None], size: tuple[float, float]) -> str:
    """Render with a pyplot-free Figure (no global state, no display) to a data URI."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=100, layout="constrained")
    draw(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def plot_hit_curve(results: dict[str, Any]) -> str:
    def draw(figure: Any) -> None:
        axes = figure.subplots()
        for name, values in results["configs"].items():
            curve = [v if v is not None else float("nan") for v in values.get("hit_curve", [])]
            axes.plot(range(1, len(curve) + 1), curve, marker="o", label=name,
                      linewidth=2.5 if name == results["default_config"] else 1.2)
        axes.set(xlabel="k", ylabel="hit@k", title="hit@k per configuration", ylim=(0, 1.02))
        axes.set_xticks(range(1, 11))
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)

    return _png_data_uri(draw, (7, 4))


def plot_tag_bars(results: dict[str, Any]) -> str:
    header, rows = tag_rows(results)
    configs = header[2:]
    rows = [row for row in rows if any(cell != "–" for cell in row[2:])]  # answerable tags

    def draw(figure: Any) -> None:
        axes = figure.subplots()
        width = 0.8 / max(1, len(configs))
        for n, config in enumerate(configs):
            values = [_number(row[2 + n]) for row in rows]
            axes.bar([i + n * width for i in range(len(rows))], values, width, label=config)
        axes.set_xticks([i + 0.4 - width / 2 for i in range(len(rows))])
        axes.set_xticklabels([f"{row[0]} ({row[1]})" for row in rows], rotation=45, ha="right",
                             fontsize=8)
        axes.set(ylabel="hit@5", title="hit@5 per tag (answerable items)", ylim=(0, 1.3))
        axes.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        axes.legend(fontsize=8, loc="upper center", ncol=min(4, len(configs)))

    return _png_data_uri(draw, (max(7.0, 0.5 * len(rows) * max(1, len(configs)) ** 0.5), 4.5))


def plot_latency(results: dict[str, Any]) -> str:
    configs = list(results["configs"])

    def draw(figure: Any) -> None:
        left, right = figure.subplots(1, 2)
        for axes, key, title in ((left, "retrieval_ms", "retrieval (depth 10)"),
                                 (right, "answer_ms", "whole answer")):
            data = [[i[key] for i in results["items"] if i["config"] == c] or [0.0]
                    for c in configs]
            axes.boxplot(data, showfliers=True)
            axes.set_xticks(range(1, len(configs) + 1))
            axes.set_xticklabels(configs, rotation=30, ha="right", fontsize=8)
            axes.set(ylabel="ms", title=f"latency: {title}")
            axes.grid(alpha=0.3, axis="y")

    return _png_data_uri(draw, (max(8.0, 1.2 * len(configs)), 4))


def plot_calibration(results: dict[str, Any]) -> str | None:
    calibration = results.get("calibration")
    if not calibration or not calibration.get("items"):
        return None

    def draw(figure: Any) -> None:
        axes = figure.subplots()
        groups = {True: [], False: []}
        for item in calibration["items"]:
            groups[item["answerable"]].append(item["best_dense"])
        values = [v for g in groups.values() for v in g]
        bins = [min(values) + (max(values) - min(values) + 1e-9) * i / 30 for i in range(31)]
        axes.hist(groups[True], bins=bins, alpha=0.6, label=f"answerable ({len(groups[True])})")
        axes.hist(groups[False], bins=bins, alpha=0.6,
                  label=f"unanswerable ({len(groups[False])})")
        axes.axvline(calibration["current_threshold"], color="black", linestyle="--",
                     label=f"threshold {calibration['current_threshold']}")
        if calibration.get("suggested"):
            axes.axvline(calibration["suggested"]["threshold"], color="green", linestyle=":",
                         label=f"suggested {calibration['suggested']['threshold']}")
        axes.set(xlabel="best dense cosine", ylabel="items",
                 title="refusal signal per class")
        axes.legend(fontsize=8)

    return _png_data_uri(draw, (7, 3.8))


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0
