"""Reports from a results.json document: report.md and a self-contained report.html.

Both are rendered from the results dictionary alone, so a report can be rebuilt from an
old results.json. The HTML has no scripts and no external resources: plots are PNGs
embedded as base64 data URIs and every text from the dataset or the answers is escaped.
Table rows live in evals.report_tables, the plots in evals.report_plots.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from evals.compare import detectable_lines
from evals.report_plots import plot_calibration, plot_hit_curve, plot_latency, plot_tag_bars
from evals.report_refusal import NOTE as REFUSAL_NOTE
from evals.report_refusal import refusal_rows
from evals.report_sections import (
    Section,
    comparison_sections,
    interval_section,
    review_section,
    slice_sections,
)
from evals.report_tables import (
    calibration_rows,
    delta_rows,
    fmt,
    latency,
    summary_rows,
    threshold_rows,
)

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
        f"Dataset `{results.get('dataset', '')}` ({results.get('split', 'all')} items) · "
        f"{results.get('created_at', '')} · "
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
    for section in (interval_section(results), *comparison_sections(results),
                    *slice_sections(results)):
        parts += _md_section(section)
    calibration = calibration_rows(results)
    if calibration:
        parts += ["", f"## Refusal signal (best dense cosine, config {default})", "",
                  md_table(*calibration), "", md_table(*threshold_rows(results))]
    refusal = refusal_rows(results)
    if refusal:
        parts += ["", f"## Refusal and caution ({default})", "", md_table(*refusal), "",
                  REFUSAL_NOTE]
    parts += _md_section(review_section(results))
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


def _md_section(section: Section | None) -> list[str]:
    if section is None:
        return []
    parts = ["", f"## {section.title}"]
    for table in section.tables:
        parts += ["", md_table(*table)]
    return parts + (["", section.note] if section.note else [])


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
    ]
    for section in (interval_section(results), *comparison_sections(results)):
        sections += _html_section(section)
    sections += ["<h2>hit@5 per tag</h2>", _img(plot_tag_bars(results), "hit@5 per tag")]
    for section in slice_sections(results):
        sections += _html_section(section)
    sections += ["<h2>Latency</h2>", _img(plot_latency(results), "latency distribution")]
    calibration = calibration_rows(results)
    if calibration:
        plot = plot_calibration(results)
        sections += [f"<h2>Refusal signal (best dense cosine, config {escape(default)})</h2>",
                     _img(plot, "refusal signal histogram") if plot else "",
                     html_table(*calibration), html_table(*threshold_rows(results))]
    refusal = refusal_rows(results)
    if refusal:
        sections += [f"<h2>Refusal and caution ({escape(default)})</h2>",
                     html_table(*refusal), f"<p>{escape(REFUSAL_NOTE)}</p>"]
    sections += _html_section(review_section(results))
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


def _html_section(section: Section | None) -> list[str]:
    if section is None:
        return []
    parts = [f"<h2>{escape(section.title)}</h2>"]
    parts += [html_table(*table) for table in section.tables]
    return parts + ([f'<p class="note">{escape(section.note)}</p>'] if section.note else [])


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
                     + f"  {fmt(latency(values, 'answer', 'p50'), 0):>9}")
    return "\n".join(lines + detectable_lines(results))
