"""Intervals, paired comparisons, the not-worse gate and per-slice results.

Hand-computed values where a statistic has a closed form (McNemar, kappa); for the
bootstrap, properties that must hold whatever the draws (determinism, the point value
inside its interval, a consistent difference detected, identical runs indistinguishable).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT

from cli.main import main
from evals import compare, metrics, slices, stats
from evals.metrics import CitationCheck, FollowUpResult, ItemResult, RetrievedPassage

SAMPLE_DATASET = PROJECT / "evals" / "datasets" / "sample.jsonl"


def passage(rank: int, relevant: bool) -> RetrievedPassage:
    return RetrievedPassage(rank, "nota.md", None, f"p{rank}", "tekst", 1.0 / rank, relevant)


def make_item(n: int, *, config: str = "hybrid", answerable: bool = True, first: int | None = 1,
              refused: bool = False, caution: bool = False, f1: float | None = 0.5,
              cited: tuple[bool, ...] = (True,), follow_up: bool | None = None,
              tags: tuple[str, ...] = ("fact",), document: str = "nota.md") -> dict[str, Any]:
    """An item result as results.json holds it; `first` = rank of the first relevant passage."""
    retrieved = [passage(r, answerable and r == first) for r in range(1, 11)]
    citations = [CitationCheck(i + 1, f"p{i + 1}", "nota.md", None, "citaat", ok, True)
                 for i, ok in enumerate(cited)]
    follow = None
    if follow_up is not None:
        follow = FollowUpResult("En?", "En wat dan?", None, "a", False, [], float(follow_up),
                                [], 1.0)
    result = ItemResult(
        id=f"t-{n:03d}", config=config, question="?", answerable=answerable, tags=list(tags),
        expected_quotes=[], reference_answer="", retrieved=retrieved,
        evidence_found=[first is not None] if answerable else [],
        first_relevant_rank=first if answerable else None, answer="a", refused=refused,
        rewritten_question=None, citations=citations, markers=len(cited),
        valid_markers=len(cited), answer_f1=f1 if answerable and not refused else None,
        rouge_l=f1 if answerable and not refused else None, best_dense=0.8, retrieval_ms=1.0,
        answer_ms=2.0, follow_up=follow, caution=caution,
        document=document if answerable else "")
    return asdict(result)


def varied_items(config: str = "hybrid") -> list[dict[str, Any]]:
    items = []
    for n in range(30):
        answerable = n % 5 != 0
        items.append(make_item(
            n, config=config, answerable=answerable, first=(1, 2, 4, None, 7, 1)[n % 6],
            refused=n % 7 == 0, caution=n % 3 == 0, f1=(n % 10) / 10,
            cited=tuple(bool((n + i) % 3) for i in range(n % 4)),
            follow_up=bool(n % 2) if n % 4 == 1 else None,
            tags=("fact", "who") if n % 2 else ("number",),
            document="a.md" if n < 15 else "b.pdf"))
    return items


def from_dict(item: dict[str, Any]) -> ItemResult:
    data = dict(item)
    data["retrieved"] = [RetrievedPassage(**p) for p in item["retrieved"]]
    data["citations"] = [CitationCheck(**c) for c in item["citations"]]
    data["follow_up"] = FollowUpResult(**item["follow_up"]) if item["follow_up"] else None
    return ItemResult(**data)


def results_of(items: list[dict[str, Any]], configs: list[str],
               default: str = "hybrid") -> dict[str, Any]:
    return {"default_config": default, "items": items,
            "configs": {c: metrics.aggregate([from_dict(i) for i in items if i["config"] == c])
                        for c in configs}}


# --- the statistics -------------------------------------------------------------------------
def test_mcnemar_exact_on_hand_computed_tables() -> None:
    assert stats.mcnemar_exact(0, 6) == pytest.approx(2 / 64)  # 2 · 0.5^6
    assert stats.mcnemar_exact(6, 0) == pytest.approx(2 / 64)
    assert stats.mcnemar_exact(1, 5) == pytest.approx(2 * (1 + 6) / 64)
    assert stats.mcnemar_exact(0, 5) == pytest.approx(2 / 32)  # 5 one-sided: not < 0.05
    assert stats.mcnemar_exact(3, 3) == 1.0
    assert stats.mcnemar_exact(0, 0) == 1.0


def test_cohens_kappa_on_a_hand_computed_table() -> None:
    # 8 both yes, 2 first only, 3 second only, 7 both no: observed 15/20 = 0.75;
    # first says yes 10/20, second 11/20: chance 0.5·0.55 + 0.5·0.45 = 0.5; kappa 0.5
    pairs = ([(True, True)] * 8 + [(True, False)] * 2 + [(False, True)] * 3
             + [(False, False)] * 7)
    assert stats.cohens_kappa(pairs) == pytest.approx(0.5)
    assert stats.cohens_kappa([(True, True)] * 4) is None  # one class: chance explains all
    assert stats.cohens_kappa([(True, False), (False, True)]) == pytest.approx(-1.0)
    assert stats.cohens_kappa([]) is None


def test_item_terms_reproduce_every_headline_metric_of_aggregate() -> None:
    items = varied_items()
    expected = metrics.aggregate([from_dict(i) for i in items])
    numerators, denominators = stats.term_matrices(items)
    values = stats.ratios(numerators.sum(axis=0), denominators.sum(axis=0))
    for name, value in zip(metrics.HEADLINE_METRICS, values, strict=True):
        assert value == pytest.approx(expected[name], nan_ok=True), name


def test_intervals_are_fixed_and_hold_the_point_value() -> None:
    items = varied_items()
    first, again = stats.intervals(items), stats.intervals(items)
    assert first == again  # fixed seed
    point = metrics.aggregate([from_dict(i) for i in items])
    for name, interval in first.items():
        low, high = interval
        assert low <= point[name] + 1e-9 and point[name] - 1e-9 <= high, name
    assert first["quote_fidelity"] == [1.0, 1.0]  # every quote exact: no spread at all
    assert 0 < first["hit@1"][1] - first["hit@1"][0] < 0.5
    # four times the questions: a clearly narrower interval
    many = [dict(i, id=f"{i['id']}-{k}") for k in range(4) for i in items]
    wide, narrow = first["mrr@10"], stats.intervals(many)["mrr@10"]
    assert narrow[1] - narrow[0] < 0.7 * (wide[1] - wide[0])


def test_paired_comparison_of_identical_runs_finds_no_difference() -> None:
    items = varied_items()
    compared = stats.paired(items, [dict(i, config="bm25") for i in items])
    assert compared["shared_items"] == 30
    for name, row in compared["metrics"].items():
        assert row["verdict"] == stats.SAME, name
        assert row["difference"] in (0.0, None)


def test_paired_comparison_detects_a_consistent_difference() -> None:
    worse = [make_item(n, config="bm25", first=3) for n in range(12)]  # relevant at rank 3
    better = [make_item(n, first=1) for n in range(12)]
    compared = stats.paired(worse, better)["metrics"]
    assert compared["hit@1"]["discordant"] == [0, 12]  # only B has it at rank 1
    assert compared["hit@1"]["p_mcnemar"] == pytest.approx(2 / 2 ** 12, abs=1e-4)
    assert compared["hit@1"]["verdict"] == stats.WORSE
    assert compared["mrr@10"]["difference"] == pytest.approx(1 / 3 - 1, abs=1e-4)  # rounded
    assert compared["mrr@10"]["verdict"] == stats.WORSE  # interval [-2/3, -2/3] excludes 0
    assert compared["hit@5"]["verdict"] == stats.SAME  # both found by rank 5
    assert stats.paired(better, worse)["metrics"]["hit@1"]["verdict"] == stats.BETTER


def test_lower_is_better_for_false_refusals_and_only_shared_ids_are_paired() -> None:
    refusing = [make_item(n, config="a", refused=n < 8) for n in range(20)]
    answering = [make_item(n, config="b") for n in range(5, 25)]  # ids 5..24
    compared = stats.paired(refusing, answering)
    assert compared["shared_items"] == 15  # ids 5..19
    row = compared["metrics"]["false_refusal_rate"]
    assert row["a"] == pytest.approx(3 / 15) and row["discordant"] == [3, 0]
    assert row["verdict"] == stats.SAME  # 3 discordant pairs cannot reach p < 0.05
    many = stats.paired([make_item(n, refused=n < 8) for n in range(20)],
                        [make_item(n) for n in range(20)])["metrics"]["false_refusal_rate"]
    assert many["p_mcnemar"] == pytest.approx(2 / 2 ** 8, abs=1e-4)
    assert many["verdict"] == stats.WORSE  # more false refusals is worse


# --- in results.json and the gate -----------------------------------------------------------
def test_results_get_intervals_comparisons_and_baseline_comparisons() -> None:
    items = varied_items("hybrid") + [dict(i, config="bm25", answer_f1=0.0, rouge_l=0.0)
                                      for i in varied_items("hybrid")]
    results = results_of(items, ["bm25", "hybrid"])
    baseline = json.loads(json.dumps(results))
    compare.add_uncertainty(results, baseline, "old/results.json")
    assert set(results["configs"]["hybrid"]["ci95"]) == set(metrics.HEADLINE_METRICS)
    (in_run,) = results["comparisons"]
    assert (in_run["a"], in_run["b"], in_run["shared_items"]) == ("bm25", "hybrid", 30)
    assert in_run["metrics"]["answer_f1"]["verdict"] == stats.WORSE
    assert [c["a"] for c in results["baseline"]["comparisons"]] == ["bm25", "hybrid"]
    assert all(row["verdict"] == stats.SAME
               for c in results["baseline"]["comparisons"] for row in c["metrics"].values())
    lines = compare.detectable_lines(results)
    assert lines[0].startswith("bm25 vs hybrid, 30 paired items: worse on ")
    assert "answer_f1" in lines[0] and "(old/results.json)" in lines[1]


def test_not_worse_than_gate_names_the_detectably_worse_metrics() -> None:
    now = results_of([make_item(n, first=3, f1=0.2) for n in range(15)], ["hybrid"])
    before = results_of([make_item(n, first=1, f1=0.6) for n in range(15)], ["hybrid"])
    compared, worse = compare.worse_than_baseline(now, before, "base.json")
    assert compared is not None and compared["shared_items"] == 15
    assert {message.split()[0] for message in worse} == {
        "hit@1", "mrr@10", "ndcg@10", "answer_f1", "rouge_l"}
    assert compare.worse_than_baseline(before, now, "base.json")[1] == []  # better passes
    other = results_of([dict(make_item(n), id=f"x-{n}") for n in range(5)], ["hybrid"])
    assert compare.worse_than_baseline(now, other, "b.json")[1] == [
        "b.json: no item id in common with this run"]


def test_eval_run_not_worse_than_a_baseline(sample_index, tmp_path: Path, capsys) -> None:
    index = str(sample_index.index.index_dir)
    first = tmp_path / "first"
    run = ["eval", "run", str(SAMPLE_DATASET), "--index", index, "--configs", "hybrid"]
    assert main([*run, "--out", str(first)]) == 0
    baseline = json.loads((first / "results.json").read_text("utf-8"))
    assert main([*run, "--out", str(tmp_path / "same"),
                 "--not-worse-than", str(first / "results.json")]) == 0
    assert "no headline metric of hybrid is detectably worse" in capsys.readouterr().out
    # a baseline whose answers all matched the reference word for word
    for item in baseline["items"]:
        if item["answer_f1"] is not None:
            item["answer_f1"] = item["rouge_l"] = 1.0
    perfect = tmp_path / "perfect.json"
    perfect.write_text(json.dumps(baseline), encoding="utf-8")
    assert main([*run, "--out", str(tmp_path / "gate"), "--not-worse-than", str(perfect)]) == 1
    err = capsys.readouterr().err
    assert "not-worse-than (hybrid): worse than" in err and "answer_f1" in err
    gated = json.loads((tmp_path / "gate" / "results.json").read_text("utf-8"))
    assert gated["baseline"]["comparisons"][0]["metrics"]["answer_f1"]["verdict"] == "worse"
    report = (tmp_path / "gate" / "report.md").read_text("utf-8")
    assert "## Paired comparison: hybrid vs hybrid (B from" in report


# --- slices ---------------------------------------------------------------------------------
def test_slices_by_tag_document_and_type() -> None:
    items = [make_item(0, tags=("who",), document="a.md", first=1),
             make_item(1, tags=("who", "fact"), document="a.md", first=None),
             make_item(2, tags=("fact",), document="b.pdf", first=2),
             make_item(3, answerable=False, refused=True, tags=("near_miss",))]
    results = results_of(items, ["hybrid"])
    results["document_types"] = {"a.md": "wet", "b.pdf": "kamerbrief"}
    found = slices.slices(results)
    assert found["tag"]["who"]["items"] == 2
    assert found["tag"]["who"]["configs"]["hybrid"]["hit@5"] == 0.5
    assert found["tag"]["fact"]["configs"]["hybrid"]["mrr@10"] == pytest.approx(0.25)
    assert found["document"]["b.pdf"]["configs"]["hybrid"]["mrr@10"] == 0.5
    assert found["document_type"]["wet"]["answerable"] == 2
    unanswerable = found["document"][slices.NO_EVIDENCE]
    assert unanswerable["configs"]["hybrid"]["refusal_accuracy"] == 1.0
    assert unanswerable["configs"]["hybrid"]["hit@5"] is None  # nothing to find
