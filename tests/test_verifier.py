"""The e5 verifier: pair encoding, training, saving, loading and reranking."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from assistant.rerank import load_reranker
from assistant.settings import Settings
from assistant.verify import MANIFEST, MAX_TOKENS, WEIGHTS, Verifier, pair_batch
from bronwijzer.domain import BronwijzerError

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def e5_folder() -> Path:
    from ingest.e5convert import converted_folder

    return converted_folder(Settings.from_env().index.model_cache_dir)


def test_pairs_are_question_then_passage_cut_to_the_budget(e5_folder: Path) -> None:
    from ingest.e5engine import load_tokenizer

    tokenizer = load_tokenizer(e5_folder)
    long_text = "passage: " + "De burgemeester kan een woning sluiten. " * 200
    ids, mask = pair_batch(tokenizer, "Wat is sociale herovering?", ["passage: kort", long_text])
    asked = tokenizer.encode("query: Wat is sociale herovering?", add_special_tokens=False).ids
    assert ids.shape == (2, MAX_TOKENS) and mask[1].sum() == MAX_TOKENS
    assert list(ids[0, : len(asked) + 3]) == [0, *asked, 2, 2]  # <s> question </s></s>
    short = int(mask[0].sum())
    assert ids[0, short - 1] == 2 and set(ids[0, short:]) == {1}  # </s>, then padding
    assert ids[1, -1] == 2  # the cut text still ends with </s>


def test_reranker_names_the_missing_verifier_and_the_make_step(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(BronwijzerError, match="make verifier"):
        load_reranker("verifier")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / MANIFEST).write_text(json.dumps({"e5_folder": str(tmp_path / "gone")}))
    with pytest.raises(BronwijzerError, match=r"broken: its e5 model .*gone"):
        load_reranker(str(broken))
    (broken / MANIFEST).write_text("{not json")
    with pytest.raises(BronwijzerError, match="broken: not a verifier folder"):
        Verifier(broken)


@pytest.mark.slow
def test_a_trained_verifier_learns_its_questions_and_reranks_with_the_prior(
        sample_index: Settings, embeddings, e5_folder: Path, tmp_path: Path) -> None:
    from assistant.pipeline import build_assistant
    from evals.dataset import load_dataset
    from evals.verifier_fit import TrainingOptions, collect_groups, fit_verifier

    assistant = build_assistant(sample_index.with_(refusal_model="cosine"),
                                embeddings=embeddings)
    items = [i for i in load_dataset(PROJECT / "evals/datasets/sample.jsonl") if i.answerable][:3]
    documents = [d.name for d in assistant.index.documents()]
    groups = collect_groups(assistant, items, documents)
    assert [g.question for g in groups] == [i.question for i in items]
    assert all(g.positives and g.negatives for g in groups)
    assert not set(groups[0].positives) & set(groups[0].negatives)

    options = TrainingOptions(epochs=3, negatives=5)
    folder = fit_verifier(assistant, items, documents, e5_folder, tmp_path / "verifier",
                          {"datasets": ["sample"]}, options)
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["options"]["epochs"] == 3 and manifest["questions"] == 3
    assert (folder / WEIGHTS).stat().st_size < 150e6  # e5's frozen word embeddings are not saved
    assert not list(tmp_path.glob(".*tmp"))  # written under a temporary name, then renamed

    verifier = load_reranker(str(folder))
    assert isinstance(verifier, Verifier)
    group = groups[0]
    logits = verifier.scores(group.question, [])
    assert logits == []
    passages = assistant.retrieve(group.question, k=6).passages
    scores = verifier.scores(group.question, [s.passage for s in passages])
    reranked = verifier(group.question, passages)
    assert sorted(s.passage.id for s in reranked) == sorted(s.passage.id for s in passages)
    by_id = {s.passage.id: (rank, score) for rank, (s, score)
             in enumerate(zip(passages, scores, strict=True), start=1)}
    for s in reranked:
        rank, logit = by_id[s.passage.id]
        assert s.signals["verifier"] == pytest.approx(logit)
        assert s.score == pytest.approx(logit - verifier.prior * math.log(rank))
    assert [s.score for s in reranked] == sorted((s.score for s in reranked), reverse=True)
    # trained on these questions, it ranks their gold passages above the others it saw
    from evals import metrics

    for item in items:
        candidates = assistant.retrieve(item.question, k=10).passages
        gold = [metrics.relevant_to_any(s.passage.document, s.passage.text, item.evidence)
                for s in candidates]
        if not any(gold) or all(gold):
            continue
        logits = verifier.scores(item.question, [s.passage for s in candidates])
        best_gold = max(x for x, g in zip(logits, gold, strict=True) if g)
        others = sorted(x for x, g in zip(logits, gold, strict=True) if not g)
        assert best_gold > others[len(others) // 2]


@pytest.mark.slow
def test_training_on_an_index_without_the_gold_documents_fails_in_one_line(
        sample_index: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    code = main(["eval", "train-verifier", str(PROJECT / "evals/datasets/civil_servant.jsonl"),
                 "--index", str(sample_index.index.index_dir), "--out", str(tmp_path / "v"),
                 "--limit", "6"])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and "no tune question has a gold passage" in error[-1]
    assert not (tmp_path / "v").exists()
