"""Evaluation harness: relevance rule, metrics, dataset validation, `eval` commands, CI gate.

Real indexes and the real embedding model throughout; nothing is mocked.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pdf_factory
import pytest
from conftest import PROJECT, require_shared_corpus

from assistant.cite import marker_numbers, strip_markers
from bronwijzer.domain import BronwijzerError
from cli.main import main
from evals import metrics, run
from evals.dataset import Evidence, check_quotes, parse_dataset, parse_item, summarize
from evals.report import console_summary, write_reports

DATASETS = PROJECT / "evals" / "datasets"
SAMPLE_DATASET = DATASETS / "sample.jsonl"
SHARED_DATASET = DATASETS / "shared_corpus.jsonl"

# CI gate: floors for the default (hybrid) configuration on the TEST halves (defaults are
# chosen on the tune halves), set just below the measured values. Raise them when the
# pipeline improves, never lower them to make a regression pass: a floor lowered for a change
# chosen on tune says so, with the paired verdict on this half.
GATE_FLOORS = {  # measured 2026-12-03 on shared_corpus.jsonl's test half (63 items), the
    # full-data reader on; in brackets: without it; with the 50% reader it replaced (paired: no
    # detectable difference on either test half)
    "hit@1": 0.53,  # 0.547 (0.604 without the reader; 0.585 with the 50% reader)
    # the vocabulary (assistant/vocabulary.toml, chosen on tune) moved three floors down:
    # recall@10 0.887 → 0.849, nDCG@10 0.736 → 0.727, citation precision 0.538 → 0.528;
    # paired: no detectable difference on any metric; it refuses one unanswerable more
    # (0.40 → 0.50) and no answerable (0.019 → 0). Splitting unknown compounds (also chosen
    # on tune) then raised hit@5, recall@10 and nDCG@10 again: the figures below are with
    # both; in brackets the last figure is without either
    "hit@5": 0.85,  # 0.868 (0.868 without the reader; 0.849)
    "hit@10": 0.88,  # 0.906 (0.906)
    "mrr@10": 0.67,  # 0.691 (0.720; 0.699; 0.688)
    "ndcg@10": 0.72,  # 0.736 (0.736)
    "recall@10": 0.85,  # 0.868 (0.887)
    "citation_validity": 0.99,  # 1.000
    "quote_fidelity": 0.99,  # 1.000
    "citation_precision": 0.51,  # 0.528 (0.538; 0.577; 0.538)
    "answer_f1": 0.28,  # 0.302
    "followup_hit@5": 0.68,  # 0.895 (0.842; 19 follow-ups: one flips with the rewrite)
    "refusal_accuracy": 0.40,  # 0.50 (0.20; 0.50; 0.40; 10 unanswerables)
    "unanswerable_refused_or_cautioned": 0.80,  # 0.90 (0.70; 0.80)
}
GATE_CEILINGS = {
    "false_refusal_rate": 0.06,  # 0.000 (0.019)
    "caution_rate": 0.22,  # 0.113 (0.154; 0.154; 0.115)
}
# civil_servant.jsonl's test half (105 short questions), same date, reader, vocabulary and
# compound splitting on; the last figure in brackets: without the vocabulary (paired: MRR@10
# detectably better) and compound splitting (paired: nDCG@10 detectably better)
CIVIL_FLOORS = {
    "hit@1": 0.72,  # 0.764 (0.640 without the reader; 0.719 with the 50% reader; 0.730)
    "hit@5": 0.87,  # 0.899 (0.820; 0.854)
    "hit@10": 0.87,  # 0.910 (0.899)
    "mrr@10": 0.79,  # 0.825 (0.727; 0.782; 0.786)
    "ndcg@10": 0.79,  # 0.820 (0.788)
    "recall@10": 0.87,  # 0.904 (0.888)
    "citation_validity": 0.99,  # 1.000
    "quote_fidelity": 0.99,  # 1.000
    "citation_precision": 0.63,  # 0.651 (0.595; 0.650; 0.646)
    "answer_f1": 0.29,  # 0.328 (0.321)
    "refusal_accuracy": 0.25,  # 0.250 (0.062; 0.312; 16 unanswerables)
    "unanswerable_refused_or_cautioned": 0.56,  # 0.625 (0.500; 0.562)
}
CIVIL_CEILINGS = {
    # 0.067 with the vocabulary, 0.079 with the reader alone (0.056 without, 0.101 with the
    # 50% reader): the refusal model fitted with the reader's signal refuses 5% of tune
    # answerables, and 6 of 89 here; the price of refusing 4 of 16 unanswerables instead
    # of 1 (README, "The reader")
    "false_refusal_rate": 0.10,
    "caution_rate": 0.22,  # 0.181 (0.274; 0.163; 0.183)
}
GATES = {  # dataset -> configurations run (hybrid is gated), floors, ceilings
    "shared_corpus.jsonl": ("hybrid", GATE_FLOORS, GATE_CEILINGS),
    "civil_servant.jsonl": ("hybrid", CIVIL_FLOORS, CIVIL_CEILINGS),
}

DOC = "nota.md"
QUOTE = "De gemeente is verantwoordelijk voor een veilige openbare ruimte in de wijk"


# --- relevance rule -------------------------------------------------------------------------
def test_relevant_when_most_quote_tokens_occur_in_passage() -> None:
    evidence = Evidence(DOC, QUOTE)
    passage = ("Inleiding. De gemeente is verantwoordelijk voor een veilige openbare ruimte "
               "in de wijk, samen met de politie en de corporaties. Daarna volgt meer tekst.")
    assert metrics.is_relevant(DOC, passage, evidence)
    # the quote has 12 tokens ("de" twice); 8 of 12 (67%) still count: a quote cut by a
    # passage boundary
    assert metrics.is_relevant(DOC, "De gemeente is verantwoordelijk voor een veilige", evidence)
    # 7 of 12 (58%) do not, and a 7-token passage is too short for the other branch
    assert not metrics.is_relevant(DOC, "Verder. De gemeente is verantwoordelijk voor een",
                                   evidence)


def test_relevant_when_a_long_passage_lies_mostly_inside_the_quote() -> None:
    long_quote = ("Het college stelt jaarlijks een plan op voor de aanpak van overlast in de "
                  "openbare ruimte en legt dat plan voor aan de gemeenteraad, die het vaststelt "
                  "na overleg met bewoners en ondernemers.")
    evidence = Evidence(DOC, long_quote)
    # 14 passage tokens, 10 of them in the quote (71%); only 15 of the quote's 33 tokens
    # (45%) occur in the passage, so the first branch does not apply
    passage = "legt dat plan voor aan de gemeenteraad, die het vaststelt. Zie ook bijlage twee."
    assert len(metrics.tokens(passage)) == 14
    assert metrics.is_relevant(DOC, passage, evidence)
    # the same share in a passage under 12 tokens is not enough
    assert not metrics.is_relevant(DOC, "legt dat plan voor aan de gemeenteraad", evidence)


def test_not_relevant_from_another_document() -> None:
    evidence = Evidence(DOC, QUOTE)
    assert not metrics.is_relevant("andere_nota.md", QUOTE, evidence)
    assert metrics.relevant_to_any(DOC, QUOTE, [Evidence("x.md", QUOTE), evidence])


def test_relevance_tokens_are_lowercase_word_runs() -> None:
    evidence = Evidence(DOC, "Het college (B&W) besluit over de Wmo-voorziening binnen acht weken.")
    passage = "HET COLLEGE B W BESLUIT OVER DE WMO VOORZIENING BINNEN ACHT WEKEN"
    assert metrics.is_relevant(DOC, passage, evidence)


# --- metrics --------------------------------------------------------------------------------
def test_ranking_metrics_on_a_hand_computed_list() -> None:
    flags = [False, True, False, True, False]
    assert metrics.hit_at(flags, 1) == 0.0
    assert metrics.hit_at(flags, 2) == 1.0
    assert metrics.reciprocal_rank(flags) == 0.5
    assert metrics.reciprocal_rank([False] * 10 + [True]) == 0.0  # beyond depth 10
    # DCG = 1/log2(3) + 1/log2(5) = 1.061606; ideal = 1 + 1/log2(3) = 1.630930
    assert metrics.ndcg_at(flags, 10) == pytest.approx(0.650920, abs=1e-6)
    assert metrics.ndcg_at([True, True], 10) == 1.0
    assert metrics.ndcg_at([False, False], 10) == 0.0
    assert metrics.evidence_recall([True, False, True, True]) == 0.75


def test_token_f1_and_rouge_l_on_hand_computed_examples() -> None:
    assert metrics.token_f1("de kat zit", "De kat slaapt") == pytest.approx(2 / 3)
    assert metrics.token_f1("de de de", "de") == pytest.approx(0.5)  # P 1/3, R 1
    assert metrics.token_f1("", "iets") == 0.0
    # LCS("a b c d", "a c b d") = 3 → P = R = 3/4
    assert metrics.rouge_l("a b c d", "a c b d") == pytest.approx(0.75)
    # LCS = 2 ("kat slaapt"); P = 2/2, R = 2/4 → F = 2/3
    assert metrics.rouge_l("kat slaapt", "de kat slaapt nu") == pytest.approx(2 / 3)
    assert metrics.rouge_l("x y", "a b") == 0.0


def test_citation_helpers() -> None:
    assert marker_numbers("Zin [1]. Nog een [2, 3] en [1].") == [1, 2, 3, 1]
    assert strip_markers("Zin een. [1] Zin twee. [2]") == "Zin een. Zin twee."
    assert strip_markers("Zin een [1, 2]. Zin twee [3].") == "Zin een. Zin twee."
    passage = "Eerste zin  over\nde wijk. Tweede zin over de stad."
    assert metrics.quote_is_exact("Tweede zin over de stad.", 26, 50, passage)
    assert not metrics.quote_is_exact("Eerste zin over de wijk.", 0, 24, passage)  # not verbatim
    assert not metrics.quote_is_exact("Tweede zin", 0, 10, passage)  # wrong offsets


def test_percentile_bounds_and_calibration() -> None:
    assert metrics.percentile([4, 1, 3, 2], 50) == 2.5
    assert metrics.percentile([], 95) is None
    assert metrics.parse_bounds("hit@5=0.8, refusal_accuracy=0.9") == [
        metrics.Bound("hit@5", 0.8), metrics.Bound("refusal_accuracy", 0.9)]
    with pytest.raises(ValueError):
        metrics.parse_bounds("hit@5")
    assert metrics.Bound("hit@5", 0.9).missed_by({"hit@5": 0.85})
    assert metrics.Bound("hit@5", 0.8).missed_by({"hit@5": 0.85}) is None
    signals = [(0.90, True), (0.88, True), (0.84, True), (0.83, False), (0.80, False)]
    calibration = metrics.calibration_summary(signals, 0.80)
    assert calibration["suggested"]["balanced_accuracy"] == 1.0
    assert 0.83 < calibration["suggested"]["threshold"] <= 0.84
    assert calibration["at_current"]["refusal_accuracy"] == 0.0


def test_config_names_parse_into_settings_overrides(sample_index) -> None:
    configs = run.parse_configs(["bm25,hybrid:rrf_k=20,dense_weight=2", "dense"], sample_index)
    assert [c.name for c in configs] == ["bm25", "hybrid:rrf_k=20,dense_weight=2", "dense"]
    assert configs[1].overrides == {"rrf_k": 20, "dense_weight": 2.0}
    assert configs[1].settings(sample_index).retrieval.fusion == "rrf"
    assert configs[1].settings(sample_index).retrieval.rrf_k == 20
    assert configs[0].settings(sample_index).retrieval.fusion == "bm25"
    for bad in ("hybrid:rrf_k=x", "hybrid:index_dir=/tmp", "nonsense", "hybrid:nope=1",
                "hybrid:auth_file=x", "hybrid:fusion=magic"):
        with pytest.raises(BronwijzerError):
            run.parse_configs(bad, sample_index)


# --- dataset validation ---------------------------------------------------------------------
def _item(item_id: str = "t-001", **changes: object) -> dict:
    item = {"id": item_id, "question": "Wie is verantwoordelijk voor de openbare ruimte?",
            "answerable": True, "reference_answer": "De gemeente.",
            "evidence": [{"document": DOC, "quote": QUOTE}], "tags": ["who"]}
    item.update(changes)
    return item


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n",
                    encoding="utf-8")
    return path


def test_dataset_shape_errors_name_the_item_and_field(tmp_path: Path) -> None:
    unanswerable = _item("t-004", answerable=False, reference_answer="", evidence=[])
    rows = [
        _item(),
        '{"id": "t-002", "question": ',  # bad JSON
        {k: v for k, v in _item("t-003").items() if k != "reference_answer"},
        unanswerable,
        _item("t-005", answerable=False),  # evidence while unanswerable
        _item(),  # duplicate id
        _item("t-006", evidence=[{"document": DOC, "quote": "te kort"}]),
        _item("t-007", evidence=[{"document": DOC, "quote": QUOTE, "page": "3"}]),
    ]
    items, problems = parse_dataset(_write(tmp_path / "d.jsonl", rows))
    text = "\n".join(problems)
    assert "line 2: invalid JSON" in text
    assert "t-003: missing field reference_answer" in text
    assert "t-005: evidence must be empty when answerable is false" in text
    assert "t-001: duplicate id (lines 1, 6)" in text
    assert "t-006: evidence[0].quote has 2 words (expected 8–40)" in text
    assert "t-007: evidence[0].page must be a positive integer" in text
    assert {i.id for i in items} == {"t-001", "t-004"}
    assert summarize(items).unanswerable == 1


def test_quote_not_found_and_wrong_page(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / DOC).write_text(f"# Nota\n\n{QUOTE}, samen met de politie.\n", encoding="utf-8")
    pdf_factory.write_text_pdf(corpus / "nota.pdf", pdf_factory.DUTCH_PAGES)
    on_page_3 = "Het college evalueert de aanpak jaarlijks met de gemeenteraad"
    hyphenated = "De gemeente is verantwoordelijk voor een veilige openbare ruimte"  # "verant-"
    rows = [
        _item("t-001"),
        _item("t-002", evidence=[{"document": DOC, "quote": QUOTE.replace("wijk", "stad")}]),
        _item("t-003", evidence=[{"document": "nota.pdf", "quote": on_page_3, "page": 3}]),
        _item("t-004", evidence=[{"document": "nota.pdf", "quote": on_page_3, "page": 1}]),
        _item("t-005", evidence=[{"document": "nota.pdf", "quote": hyphenated, "page": 1}]),
        _item("t-006", evidence=[{"document": "weg.md", "quote": QUOTE}]),
        _item("t-007", evidence=[{"document": "nota.pdf", "quote": on_page_3}]),
        # hyphenation differences are forgiven: the PDF text has "verantwoordelijk"
        _item("t-008", evidence=[{"document": "nota.pdf", "page": 1,
                                  "quote": hyphenated.replace("verantw", "verant- w")}]),
    ]
    items, problems = parse_dataset(_write(tmp_path / "d.jsonl", rows))
    assert problems == []
    found = check_quotes(items, corpus)
    assert found == [
        f"t-002: evidence[0].quote not found in {DOC}",
        "t-004: evidence[0].quote not found on page 1 of nota.pdf (found on page 3)",
        f"t-006: evidence[0].document: no file weg.md in {corpus}",
        "t-007: evidence[0].page: missing for paged document nota.pdf (found on page 3)",
    ]


def test_eval_check_reports_bad_items_and_exit_code(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / DOC).write_text(f"{QUOTE}.\n", encoding="utf-8")
    good = _write(tmp_path / "good.jsonl", [_item()])
    bad = _write(tmp_path / "bad.jsonl", [_item(question=3)])
    assert main(["eval", "check", str(good), "--corpus", str(corpus)]) == 0
    assert main(["eval", "check", str(bad), "--corpus", str(corpus)]) == 1
    assert "t-001: question must be str, got int" in capsys.readouterr().err


def test_eval_check_passes_on_the_sample_dataset() -> None:
    assert main(["eval", "check", str(SAMPLE_DATASET), "--corpus", str(PROJECT / "corpus")]) == 0


def test_eval_check_passes_on_the_shared_corpus_dataset(capsys) -> None:
    corpus = require_shared_corpus()
    code = main(["eval", "check", str(SHARED_DATASET), "--corpus", str(corpus)])
    assert code == 0, capsys.readouterr().err


# --- eval run -------------------------------------------------------------------------------
RESULT_KEYS = {"hit@1", "hit@5", "hit@10", "recall@10", "mrr@10", "ndcg@10",
               "citation_validity", "citation_precision", "quote_fidelity", "refusal_accuracy",
               "false_refusal_rate", "unanswerable_refused_or_cautioned", "caution_rate",
               "answer_f1", "rouge_l", "followup_hit@5",
               "followup_standalone_hit@5", "latency_ms", "by_tag"}


def test_eval_run_on_the_sample_writes_results_and_an_offline_report(
        sample_index, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    args = ["eval", "run", str(SAMPLE_DATASET), "--index", str(sample_index.index.index_dir),
            "--out", str(out), "--configs", "bm25,hybrid", "--fail-under", "hit@5=1.01"]
    assert main(args) == 1  # an unreachable bound fails the run ...
    assert "hit@5" in capsys.readouterr().err  # ... and says which
    results = json.loads((out / "results.json").read_text("utf-8"))
    assert results["default_config"] == "hybrid"
    assert set(results["configs"]) == {"bm25", "hybrid"}
    for values in results["configs"].values():
        assert set(values) >= RESULT_KEYS
        assert set(values["latency_ms"]) == {"retrieval", "answer"}
        assert set(values["latency_ms"]["answer"]) == {"p50", "p95"}
    dataset_items, _ = parse_dataset(SAMPLE_DATASET)
    assert len(results["items"]) == 2 * len(dataset_items)
    item = results["items"][0]
    assert {"id", "config", "question", "first_relevant_rank", "retrieved", "answer", "refused",
            "citations"} <= set(item)
    assert {"document", "page", "passage_id", "text", "relevant"} <= set(item["retrieved"][0])
    assert len(results["calibration"]["items"]) == len(dataset_items)
    assert results["configs"]["hybrid"]["hit@10"] == 1.0  # one document: everything is found
    assert results["unreachable_evidence"] == []

    html = (out / "report.html").read_text("utf-8")
    assert '<img src="data:image/png;base64,' in html
    assert not re.search(r"<(script|link|iframe)\b", html, re.IGNORECASE)
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", html, re.IGNORECASE)
    assert (out / "report.md").read_text("utf-8").startswith("# Bronwijzer evaluation")

    # a baseline run reports deltas; without bounds the exit code is 0
    again = tmp_path / "again"
    assert main(["eval", "run", str(SAMPLE_DATASET), "--index", str(sample_index.index.index_dir),
                 "--out", str(again), "--configs", "hybrid", "--limit", "3",
                 "--baseline", str(out / "results.json")]) == 0
    deltas = json.loads((again / "results.json").read_text("utf-8"))["baseline"]["deltas"]
    assert "hit@5" in deltas["hybrid"]


def test_report_escapes_dataset_text(sample_index, embeddings, tmp_path: Path) -> None:
    from store.index import Index

    hostile = _item("x<script>", question="<script>alert(1)</script> Wat is sociale herovering?",
                    evidence=[{"document": "elders.md", "quote": QUOTE}])
    items, problems = parse_dataset(_write(tmp_path / "d.jsonl", [hostile]))
    assert not problems
    evaluation = run.run_evaluation(items, Index(sample_index.index, embeddings=embeddings),
                                    sample_index, run.parse_configs("hybrid", sample_index))
    _, html_path = write_reports(evaluation.to_results(), tmp_path / "out")
    html = html_path.read_text("utf-8")
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# ragas 0.4.3's SingleTurnSample fields (ragas.dataset_schema; checked against the installed
# package in a separate environment: ragas does not install with this project's pinned
# openai/jiter, see README "Evaluation")
RAGAS_SINGLE_TURN_FIELDS = {
    "user_input", "retrieved_contexts", "reference_contexts", "retrieved_context_ids",
    "reference_context_ids", "response", "multi_responses", "reference", "rubrics",
    "persona_name", "query_style", "query_length",
}


def test_export_ragas_writes_the_current_ragas_schema(sample_index, tmp_path: Path) -> None:
    out = tmp_path / "ragas.jsonl"
    index = str(sample_index.index.index_dir)
    assert main(["eval", "export-ragas", str(SAMPLE_DATASET), "--index", index,
                 "--out", str(out), "--limit", "2"]) == 0
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(rows) == 2
    assert set(rows[0]) == {"user_input", "response", "retrieved_contexts",
                            "retrieved_context_ids", "reference", "reference_contexts"}
    assert set(rows[0]) <= RAGAS_SINGLE_TURN_FIELDS  # no name ragas would silently drop
    items, _ = parse_dataset(SAMPLE_DATASET)
    first = next(i for i in items if i.question == rows[0]["user_input"])
    assert rows[0]["reference"] == first.reference_answer
    assert rows[0]["reference_contexts"] == [e.quote for e in first.evidence]  # gold quotes
    assert rows[0]["retrieved_contexts"] and "[1]" not in rows[0]["response"]
    assert len(rows[0]["retrieved_context_ids"]) == len(rows[0]["retrieved_contexts"])
    try:
        from ragas import EvaluationDataset
    except ImportError:  # not installable with the pinned stack: the field check above
        return
    dataset = EvaluationDataset.from_list(rows)
    assert set(dataset.features()) == set(rows[0])  # every column was read, none dropped
    assert dataset.samples[0].user_input == rows[0]["user_input"]


def test_export_ragas_legacy_schema(sample_index, tmp_path: Path) -> None:
    out = tmp_path / "legacy.jsonl"
    assert main(["eval", "export-ragas", str(SAMPLE_DATASET), "--index",
                 str(sample_index.index.index_dir), "--out", str(out), "--limit", "1",
                 "--schema", "legacy"]) == 0
    row = json.loads(out.read_text("utf-8"))
    assert set(row) == {"question", "answer", "contexts", "ground_truth"}
    assert row["contexts"] and "[1]" not in row["answer"]


# --- CI gate over the shared corpus ---------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(GATES))
def test_ci_gate_on_the_shared_corpus(dataset: str, shared_index, embeddings, artifacts: Path,
                                      capsys) -> None:
    from evals.dataset import load_dataset, select_split
    from store.index import Index

    settings, _ = shared_index
    # the default of the product, reading 12 candidates on every CPU: the floors were
    # measured so (a CPU without native bf16 reads 6 by default; README, "The reader")
    settings = settings.with_(reader="bundled", reader_candidates=12)
    names, floors, ceilings = GATES[dataset]
    items, split = select_split(load_dataset(DATASETS / dataset), "test")
    configs = run.parse_configs(names, settings)
    # a shared sentence-embedding cache keeps the configurations within minutes
    evaluation = run.run_evaluation(items, Index(settings.index, embeddings=embeddings), settings,
                                    configs, dataset=str(DATASETS / dataset), split=split,
                                    share_answer_cache=True)
    results = evaluation.to_results()
    out = artifacts / f"eval-{dataset.removesuffix('.jsonl')}"
    run.write_results(results, out)
    write_reports(results, out)
    with capsys.disabled():  # CI logs show the numbers even when the gate passes
        print(f"\n{dataset} (test half)\n" + console_summary(results))
    hybrid = results["configs"]["hybrid"]
    missed = [f"{name} = {hybrid[name]} < {floor}" for name, floor in floors.items()
              if hybrid[name] is None or hybrid[name] < floor]
    missed += [f"{name} = {hybrid[name]} > {ceiling}" for name, ceiling in ceilings.items()
               if hybrid[name] is None or hybrid[name] > ceiling]
    assert not missed, f"hybrid below its measured floors on {dataset}: " + "; ".join(missed)
    assert all(not math.isnan(v) for v in hybrid["hit_curve"] if v is not None)


# --- tune/test halves -----------------------------------------------------------------------
def test_splits_are_stratified_fixed_and_never_move() -> None:
    from evals.dataset import assign_splits, select_split

    rows = [{"id": f"x-{n:02d}", "evidence": [{"document": f"d{n % 3}.md"}]} for n in range(12)]
    rows += [{"id": f"u-{n}", "evidence": [], "tags": ["near_miss"]} for n in range(4)]
    first = assign_splits([dict(r) for r in rows])
    assert [r["split"] for r in first] == [r["split"] for r in assign_splits(
        [dict(r) for r in rows])]  # deterministic
    for group in ("d0.md", "d1.md", "d2.md"):
        halves = [r["split"] for r in first if r["evidence"] and
                  r["evidence"][0]["document"] == group]
        assert sorted(halves) == ["test", "test", "tune", "tune"]
    assert sorted(r["split"] for r in first if not r["evidence"]) == ["test", "test", "tune",
                                                                      "tune"]
    grown = assign_splits([dict(r) for r in first] + [{"id": "x-99", "evidence": []}])
    assert [r["split"] for r in grown[:-1]] == [r["split"] for r in first]  # old ones stay
    items = [parse_item(dict(_item(f"t-{n}"), split=s))[0] for n, s in
             enumerate(["tune", "test", "test"])]
    assert [i.id for i in select_split(items, None)[0]] == ["t-1", "t-2"]
    assert select_split(items, "all")[0] == items
    assert parse_item(dict(_item(), split="train"))[1]  # only tune or test


def test_the_shipped_datasets_are_split_in_halves() -> None:
    from collections import Counter

    from evals.dataset import load_dataset

    for dataset in GATES:
        counts = Counter(item.split for item in load_dataset(DATASETS / dataset))
        assert set(counts) == {"tune", "test"} and abs(counts["tune"] - counts["test"]) <= 3
