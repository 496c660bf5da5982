"""The reader's learning curve: dev metrics against the number of training questions.

`bronwijzer reading curve` measures readers trained on 25, 50 and 100% of the reading
set's training questions on one fixed dev sample; the points go to
assistant/models/reader-curve.json, a PNG plot and the README's table (generated).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.reader import ReaderOptions

CURVE_BEGIN = "<!-- reader-curve:begin (bronwijzer reading curve) -->"
CURVE_END = "<!-- reader-curve:end -->"


def curve_point(manifest: dict[str, Any], measured: dict[str, Any]) -> dict[str, Any]:
    """One point of the learning curve: what a reader was trained on and how it reads dev."""
    data = manifest.get("data", {})
    hits = measured["hit@1"]
    return {
        "fraction": manifest.get("options", {}).get("fraction"),
        "train_questions": data.get("train_questions"),
        "data_sha256": data.get("sha256"),
        "training_minutes": manifest.get("training_minutes"),
        "hit@1_retrieval": hits["retrieval"],
        "hit@1_reader": hits[f"reader+{ReaderOptions().reader_prior}"],  # as answers use it
        "sentence_accuracy": measured["sentence_accuracy"],
        "short_answer_f1": measured["short_answer_f1"],
        "answerable_auc": round(measured["answerable_auc"], 3)
        if measured["answerable_auc"] is not None else None,
    }


def curve_table(points: Sequence[dict[str, Any]]) -> str:
    """The README's learning-curve table (generated; a test keeps it current)."""
    rows = ["| share of training questions | questions | dev hit@1 (retrieval → reader) "
            "| sentence accuracy | short-answer F1 | AUC answerable | training minutes |",
            "|---|---|---|---|---|---|---|"]
    for p in points:
        rows.append(f"| {p['fraction']:.0%} | {p['train_questions']:,} | "
                    f"{p['hit@1_retrieval']:.3f} → {p['hit@1_reader']:.3f} | "
                    f"{p['sentence_accuracy']:.3f} | {p['short_answer_f1']:.3f} | "
                    f"{p['answerable_auc']:.3f} | {p['training_minutes']} |")
    return "\n".join(rows) + "\n"


def plot_curve(points: Sequence[dict[str, Any]], path: Path) -> None:
    """Dev metrics against the number of training questions, as a small PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    x = [p["train_questions"] for p in points]
    figure, axes = pyplot.subplots(figsize=(6, 3.6), dpi=110)
    for key, label in (("hit@1_reader", "hit@1 (reader)"), ("sentence_accuracy", "sentence"),
                       ("short_answer_f1", "short-answer F1"), ("answerable_auc", "AUC")):
        axes.plot(x, [p[key] for p in points], marker="o", label=label)
    axes.axhline(points[0]["hit@1_retrieval"], color="grey", linestyle=":",
                 label="hit@1 (retrieval only)")
    axes.set_xlabel("training questions")
    axes.set_ylabel("dev score")
    axes.set_ylim(0, 1)
    axes.set_xticks(x)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="lower right")
    axes.set_title("The reader's learning curve (reading set, dev documents)", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, metadata={"Software": None})
    pyplot.close(figure)
