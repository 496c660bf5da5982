"""Reports from a results.json document: report.md and a self-contained report.html.

Both are rendered from the results dictionary alone, so a report can be rebuilt from an
old results.json. The HTML has no scripts and no external resources: plots are PNGs
embedded as base64 data URIs and every text from the dataset or the answers is escaped.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from evals.metrics import HEADLINE_METRICS

SUMMARY_COLUMNS = HEADLINE_METRICS
LOWER_IS_BETTER = {"false_refusal_rate", "caution_rate"}
SHOWN_RETRIEVED = 5
MAX_FAILURES_PER_KIND = 60


# --- failures -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Failure:
    kind: str  # "miss@5" | "wrong refusal" | "false answer"
    item: dict[str, Any]  # an item result from results.json


FAILURE_KINDS = {
    "miss@5": "Missed at 5 (answerable, no relevant passage in the first 5)",
    "wrong refusal": "Wrong refusals (answerable, refused)",
    "false answer": "False answers (unanswerable, answered instead of refused)",
    "follow-up miss@5": "Follow-up missed at 5 (asked in conversation)",
}


def failures(results: dict[str, Any], config: str | None = None) -> list[Failure]:
    """Failures of one configuration (the default one unless named)."""
    config = config or results["default_config"]
    found: list[Failure] = []
    for item in (i for i in results["items"] if i["config"] == config):
        relevant_top5 = any(p["relevant"] for p in item["retrieved"][:5])
        if item["answerable"] and not relevant_top5:
            found.append(Failure("miss@5", item))
        if item["answerable"] and item["refused"]:
            found.append(Failure("wrong refusal", item))
        if not item["answerable"] and not item["refused"]:
            found.append(Failure("false answer", item))
        follow_up = item.get("follow_up")
        if follow_up and not follow_up["hit_at_5"]:
            found.append(Failure("follow-up miss@5", item))
    return found


def _by_kind(found: Iterable[Failure]) -> dict[str, list[Failure]]:
    grouped: dict[str, list[Failure]] = {kind: [] for kind in FAILURE_KINDS}
    for failure in found:
        grouped[failure.kind].append(failure)
    return grouped


# --- formatting helpers ---------------------------------------------------------------------
def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def fmt_delta(value: float | None, metric: str = "") -> str:
    if value is None:
        return "–"
    better = value < 0 if metric in LOWER_IS_BETTER or metric.startswith("latency") else value > 0
    sign = "+" if value > 0 else ""
    mark = "" if abs(value) < 1e-9 else (" ▲" if better else " ▼")
    return f"{sign}{value:.3f}{mark}"


def _latency(values: dict[str, Any], part: str, q: str) -> Any:
    return (values.get("latency_ms") or {}).get(part, {}).get(q)


def summary_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["config", *SUMMARY_COLUMNS, "retrieval p50 ms", "retrieval p95 ms",
              "answer p50 ms", "answer p95 ms"]
    rows = []
    for name, values in results["configs"].items():
        marker = " (default)" if name == results["default_config"] else ""
        rows.append([name + marker, *(fmt(values.get(c)) for c in SUMMARY_COLUMNS),
                     *(fmt(_latency(values, part, q), 0)
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


# --- Markdown -------------------------------------------------------------------------------
def _md_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(results: dict[str, Any]) -> str:
    default = results["default_config"]
    parts = [
        "# Bronwijzer evaluation",
        "",
        f"Dataset `{results.get('dataset', '')}` · {results.get('created_at', '')} · "
        f"default configuration **{default}** · {results.get('seconds', 0)} s",
        "",
        "## Summary",
        "",
        md_table(*summary_rows(results)),
        "",
        METRIC_NOTES_MD,
    ]
    deltas = delta_rows(results)
    if deltas:
        parts += ["", f"## Deltas vs baseline `{results['baseline'].get('path')}`", "",
                  md_table(*deltas)]
    parts += ["", "## hit@5 per tag", "", md_table(*tag_rows(results))]
    calibration = calibration_rows(results)
    if calibration:
        parts += ["", f"## Refusal signal (best dense cosine, config {default})", "",
                  md_table(*calibration), "", md_table(*threshold_rows(results))]
    unreachable = results.get("unreachable_evidence") or []
    if unreachable:
        parts += ["", f"## Evidence no indexed passage is relevant to: {len(unreachable)}", "",
                  *(f"- {_md_cell(line)}" for line in unreachable)]
    parts += ["", f"## Failures ({default})"]
    for kind, found in _by_kind(failures(results)).items():
        parts += ["", f"### {FAILURE_KINDS[kind]}: {len(found)}", ""]
        for failure in found[:MAX_FAILURES_PER_KIND]:
            parts.append(_md_failure(failure))
        if len(found) > MAX_FAILURES_PER_KIND:
            parts.append(f"- … {len(found) - MAX_FAILURES_PER_KIND} more in results.json")
    return "\n".join(parts) + "\n"


def _md_failure(failure: Failure) -> str:
    item = failure.item
    question, retrieved, answer = item["question"], item["retrieved"], item["answer"]
    if failure.kind == "follow-up miss@5":
        follow_up = item["follow_up"]
        question = (f"{follow_up['question']} (after: {item['question']}; read as: "
                    f"{follow_up['rewritten_question'] or '–'})")
        retrieved, answer = follow_up["retrieved"], follow_up["answer"]
    lines = [f"- **{item['id']}** {_md_cell(question)}"]
    for quote in _expected(failure):
        lines.append(f"  - expected: {_md_cell(quote)}")
    for p in retrieved[:SHOWN_RETRIEVED]:
        flag = "✔" if p["relevant"] else "✘"
        lines.append(f"  - {flag} #{p['rank']} {p['document']}{_page(p)}: "
                     f"{_md_cell(p['text'][:160])}")
    lines.append(f"  - answer{' (refused)' if item['refused'] else ''}: {_md_cell(answer)}")
    return "\n".join(lines)


def _expected(failure: Failure) -> list[str]:
    item = failure.item
    if failure.kind == "follow-up miss@5":
        return ["(see follow_up evidence in the dataset)"]
    return item["expected_quotes"] or ["(unanswerable: a refusal was expected)"]


def _page(passage: dict[str, Any]) -> str:
    return f" p. {passage['page']}" if passage.get("page") else ""


METRIC_NOTES_MD = (
    "Retrieval metrics (hit@k, recall@10, MRR@10, nDCG@10) are over answerable items, at "
    "depth 10. A passage is relevant to an evidence entry when it is from the same document "
    "and ≥60% of the quote's tokens occur in it, or it has ≥12 tokens and ≥60% of them occur "
    "in the quote. answer_f1 / rouge_l: answered (not refused) answerable items; see "
    "results.json for the variants counting refusals as 0. followup_hit@5: the follow-up asked "
    "in conversation; followup_standalone_hit@5: its standalone form asked directly. "
    "unanswerable_refused_or_cautioned: unanswerable items refused or answered with the "
    "weak-evidence caution; caution_rate: answered answerable items that carry that caution."
)


# --- plots ----------------------------------------------------------------------------------
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


# --- HTML -----------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f3f3f3}
tr.default td{font-weight:bold}
.failure{border:1px solid #ddd;border-radius:4px;padding:.5em 1em;margin:.6em 0}
.quote{background:#fff8dc;padding:2px 4px}
.ok{color:#187a18}.bad{color:#b00020}
.note{color:#555;font-size:13px;max-width:70em}
img{max-width:100%;display:block;margin:1em 0}
ol{margin:.3em 0}
"""


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]],
               highlight: str | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        attr = ' class="default"' if highlight and row[0].startswith(highlight + " ") else ""
        body.append(f"<tr{attr}>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(results: dict[str, Any]) -> str:
    default = results["default_config"]
    title = f"Bronwijzer evaluation — {results.get('dataset', '')}"
    sections = [
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(str(results.get('created_at', '')))} · default configuration "
        f"<b>{escape(default)}</b> · {escape(str(results.get('seconds', 0)))} s</p>",
        "<h2>Summary</h2>",
        html_table(*summary_rows(results), highlight=default),
        f'<p class="note">{escape(METRIC_NOTES_MD)}</p>',
    ]
    deltas = delta_rows(results)
    if deltas:
        sections += [f"<h2>Deltas vs baseline {escape(str(results['baseline'].get('path')))}</h2>",
                     html_table(*deltas)]
    sections += [
        "<h2>hit@k</h2>", _img(plot_hit_curve(results), "hit@k curve per configuration"),
        "<h2>hit@5 per tag</h2>", _img(plot_tag_bars(results), "hit@5 per tag"),
        html_table(*tag_rows(results)),
        "<h2>Latency</h2>", _img(plot_latency(results), "latency distribution"),
    ]
    calibration = calibration_rows(results)
    if calibration:
        plot = plot_calibration(results)
        sections += [f"<h2>Refusal signal (best dense cosine, config {escape(default)})</h2>",
                     _img(plot, "refusal signal histogram") if plot else "",
                     html_table(*calibration), html_table(*threshold_rows(results))]
    unreachable = results.get("unreachable_evidence") or []
    if unreachable:
        sections += [f"<h2>Evidence no indexed passage is relevant to: {len(unreachable)}</h2>",
                     "<ul>" + "".join(f"<li>{escape(u)}</li>" for u in unreachable) + "</ul>"]
    sections.append(f"<h2>Failures ({escape(default)})</h2>")
    for kind, found in _by_kind(failures(results)).items():
        sections.append(f"<h3>{escape(FAILURE_KINDS[kind])}: {len(found)}</h3>")
        sections += [_html_failure(f) for f in found[:MAX_FAILURES_PER_KIND]]
        if len(found) > MAX_FAILURES_PER_KIND:
            sections.append(f"<p>… {len(found) - MAX_FAILURES_PER_KIND} more in results.json</p>")
    return (
        "<!DOCTYPE html>\n<html lang=\"nl\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(sections) + "\n</body></html>\n"
    )


def _img(data_uri: str, alt: str) -> str:
    return f'<img src="{data_uri}" alt="{escape(alt)}">'


def _html_failure(failure: Failure) -> str:
    item = failure.item
    question, retrieved, answer = item["question"], item["retrieved"], item["answer"]
    extra = ""
    if failure.kind == "follow-up miss@5":
        follow_up = item["follow_up"]
        extra = (f"<div>after: {escape(item['question'])}<br>read as: "
                 f"{escape(follow_up['rewritten_question'] or '–')}<br>standalone form: "
                 f"{escape(follow_up['standalone'])} (hit@5 "
                 f"{fmt(follow_up['standalone_hit_at_5'], 0)})</div>")
        question, retrieved, answer = follow_up["question"], follow_up["retrieved"], \
            follow_up["answer"]
    expected = "".join(f'<li><span class="quote">{escape(q)}</span></li>'
                       for q in _expected(failure))
    passages = "".join(
        f'<li><span class="{"ok" if p["relevant"] else "bad"}">'
        f'{"✔" if p["relevant"] else "✘"}</span> {escape(p["document"])}{escape(_page(p))}: '
        f'{escape(p["text"][:240])}</li>'
        for p in retrieved[:SHOWN_RETRIEVED]
    )
    refused = " (refused)" if item["refused"] else ""
    return (
        f'<div class="failure"><b>{escape(item["id"])}</b> '
        f'<span class="note">[{escape(", ".join(item["tags"]))}]</span> '
        f"{escape(question)}{extra}"
        f"<div>expected:<ul>{expected}</ul></div>"
        f"<div>retrieved:<ol>{passages}</ol></div>"
        f"<div>answer{refused}: {escape(answer)}</div></div>"
    )


# --- files ----------------------------------------------------------------------------------
def write_reports(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = out_dir / "report.md"
    html = out_dir / "report.html"
    markdown.write_text(render_markdown(results), encoding="utf-8")
    html.write_text(render_html(results), encoding="utf-8")
    return markdown, html


def console_summary(results: dict[str, Any]) -> str:
    """A compact fixed-width table for terminals and CI logs."""
    columns = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10", "recall@10",
               "citation_precision", "quote_fidelity", "refusal_accuracy",
               "false_refusal_rate", "answer_f1", "followup_hit@5")
    short = {"citation_precision": "cit_prec", "quote_fidelity": "quote_fid",
             "refusal_accuracy": "refus_acc", "false_refusal_rate": "false_ref",
             "answer_f1": "ans_f1", "followup_hit@5": "fu_hit@5", "recall@10": "rec@10"}
    width = max(12, *(len(n) for n in results["configs"]))
    lines = [f"{'config':{width}} " + " ".join(f"{short.get(c, c):>9}" for c in columns)
             + "  ans_p50ms"]
    for name, values in results["configs"].items():
        lines.append(f"{name:{width}} " + " ".join(f"{fmt(values.get(c)):>9}" for c in columns)
                     + f"  {fmt(_latency(values, 'answer', 'p50'), 0):>9}")
    return "\n".join(lines)
