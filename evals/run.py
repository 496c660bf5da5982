"""Run a dataset through one or more assistant configurations and collect item results.

Configurations are named; each is the configured Settings with a few overrides:

* ``bm25``, ``dense``, ``hybrid`` — one retrieval mode each (reranker off, extractive
  answerer), so their numbers isolate retrieval; ``hybrid`` is the default configuration;
* ``rerank`` — hybrid plus the configured BRONWIJZER_RERANKER_MODEL;
* ``llm`` — hybrid with the LLM answerer (and the configured reranker, if any);
* ad-hoc variants ``base:field=value,field=value``, e.g. ``hybrid:rrf_k=20,dense_weight=2``,
  so fusion can be tuned by measurement.

All configurations share one Index (one embedding model load); each gets its own Assistant.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.answer import Answerer
from assistant.answerers import make_answerer
from assistant.cite import marker_numbers, strip_markers
from assistant.pipeline import Assistant, build_assistant
from bronwijzer.domain import Answer, BronwijzerError, ScoredPassage
from bronwijzer.settings import env_name, parse_value
from evals import compare, metrics, refusal_fit, slices
from evals.dataset import Evidence, Item
from evals.metrics import CitationCheck, FollowUpResult, ItemResult, RetrievedPassage
from presentation.settings import ANSWER_SHAPING, Settings

if TYPE_CHECKING:
    from store.index import Index

RETRIEVAL_DEPTH = metrics.K_MAX
SNIPPET_CHARS = 300
DEFAULT_CONFIG = "hybrid"
ISOLATED = {"reranker_model": "", "answerer": "extractive"}
BASE_CONFIGS: dict[str, dict[str, Any]] = {
    "bm25": {"fusion": "bm25", **ISOLATED},
    "dense": {"fusion": "dense", **ISOLATED},
    "hybrid": {"fusion": "rrf", **ISOLATED},
    "rerank": {"fusion": "rrf", "answerer": "extractive"},
    "llm": {"fusion": "rrf", "answerer": "llm"},
}
# a configuration may change what shapes answers, not the index it is measured on
SETTABLE = {name for stage in ANSWER_SHAPING for name in Settings.stages()[stage].names()}


@dataclass(frozen=True)
class RunConfig:
    name: str
    base: str
    overrides: dict[str, Any] = field(default_factory=dict)

    def settings(self, configured: Settings) -> Settings:
        settings = configured.with_(**(BASE_CONFIGS[self.base] | self.overrides))
        settings.validate()
        if self.base == "rerank" and not settings.rerank.reranker_model:
            raise BronwijzerError(f"config rerank needs {env_name('reranker_model')}")
        return settings


def default_config_names(settings: Settings) -> list[str]:
    names = ["bm25", "dense", "hybrid"]
    if settings.rerank.reranker_model:
        names.append("rerank")
    if settings.llm.configured:
        names.append("llm")
    return names


def parse_configs(text: str | Sequence[str] | None, settings: Settings) -> list[RunConfig]:
    """'bm25,dense,hybrid:rrf_k=20,dense_weight=2' → configs.

    Commas separate configurations, except that a `field=value` piece without a `base:`
    continues the previous ad-hoc configuration (so the example above is three configs).
    A semicolon always separates.
    """
    if text is None:
        return [parse_config(name, settings) for name in default_config_names(settings)]
    texts = [text] if isinstance(text, str) else list(text)
    names: list[str] = []
    for chunk in (c for t in texts for c in t.split(";")):
        for piece in (p.strip() for p in chunk.split(",")):
            if not piece:
                continue
            if "=" in piece and ":" not in piece and names and ":" in names[-1]:
                names[-1] += "," + piece
            else:
                names.append(piece)
    configs = [parse_config(name, settings) for name in names]
    seen = [c.name for c in configs]
    if len(set(seen)) != len(seen):
        raise BronwijzerError(f"--configs: a configuration is named twice ({', '.join(seen)})")
    if not configs:
        raise BronwijzerError("--configs: no configuration given")
    return configs


def parse_config(name: str, settings: Settings) -> RunConfig:
    base, _, assignments = name.partition(":")
    base = base.strip()
    if base not in BASE_CONFIGS:
        raise BronwijzerError(
            f"config {name!r}: unknown base {base!r} (use {', '.join(BASE_CONFIGS)})"
        )
    overrides: dict[str, Any] = {}
    for assignment in filter(None, (a.strip() for a in assignments.split(","))):
        key, sep, raw = assignment.partition("=")
        key = key.strip()
        if not sep:
            raise BronwijzerError(f"config {name!r}: {assignment!r} is not field=value")
        overrides[key] = _setting_value(name, key, raw.strip(), settings)
    config = RunConfig(name=name.replace(" ", ""), base=base, overrides=overrides)
    config.settings(settings)  # fail early on invalid combinations
    return config


def _setting_value(config: str, key: str, raw: str, settings: Settings) -> Any:
    if key not in SETTABLE:
        raise BronwijzerError(
            f"config {config!r}: cannot set {key!r} (settable: {', '.join(sorted(SETTABLE))})"
        )
    current = getattr(getattr(settings, Settings.stage_of(key)), key)
    try:
        return parse_value(env_name(key), raw, current)
    except BronwijzerError as exc:
        raise BronwijzerError(f"config {config!r}: {exc}") from None


# --- running --------------------------------------------------------------------------------
@dataclass
class EvalRun:
    dataset: str
    default_config: str
    configs: list[RunConfig]
    config_settings: dict[str, dict[str, Any]]
    items: list[ItemResult]
    refusal_threshold: float
    unreachable: list[str] = field(default_factory=list)  # evidence no passage matches
    split: str = "all"  # the dataset half these items are (tune, test or all)
    seconds: float = 0.0
    refusal: dict[str, Any] = field(default_factory=dict)  # refusal_fit.summary, default config
    document_types: dict[str, str] = field(default_factory=dict)  # file name -> type (slices)

    def results_for(self, config: str) -> list[ItemResult]:
        return [r for r in self.items if r.config == config]

    def to_results(self, baseline: dict[str, Any] | None = None,
                   baseline_path: str | None = None) -> dict[str, Any]:
        """The results.json document."""
        per_config = {c.name: metrics.aggregate(self.results_for(c.name)) for c in self.configs}
        default_items = self.results_for(self.default_config)
        calibration = metrics.calibration_summary(
            [(r.best_dense, r.answerable) for r in default_items], self.refusal_threshold
        )
        calibration["items"] = [
            {"id": r.id, "answerable": r.answerable, "best_dense": round(r.best_dense, 4),
             "refused": r.refused}
            for r in default_items
        ]
        results: dict[str, Any] = {
            "dataset": self.dataset,
            "split": self.split,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "seconds": round(self.seconds, 1),
            "default_config": self.default_config,
            "configs": per_config,
            "settings": self.config_settings,
            "calibration": calibration,
            "unreachable_evidence": self.unreachable,
            "refusal": self.refusal,
            "document_types": self.document_types,
            "items": [asdict(r) for r in self.items],
        }
        if baseline is not None:
            results["baseline"] = {
                "path": baseline_path,
                "deltas": {
                    name: metrics.deltas(values, baseline.get("configs", {}).get(name, {}))
                    for name, values in per_config.items()
                    if name in baseline.get("configs", {})
                },
            }
        # intervals, paired comparisons and slices are computed from the item dicts alone
        compare.add_uncertainty(results, baseline, baseline_path)
        results["slices"] = slices.slices(results)
        return results


Progress = Callable[[str, int, int], None]


def run_evaluation(items: Sequence[Item], index: Index, settings: Settings,
                   configs: Sequence[RunConfig], *, dataset: str = "", split: str = "all",
                   progress: Progress | None = None,
                   share_answer_cache: bool = False) -> EvalRun:
    """Ask every item (and its follow-up) through every configuration.

    share_answer_cache: extractive configurations with the same answer options share one
    answerer and so its cache of sentence embeddings, which dominate answering time. Much
    faster over several configs (the CI gate uses it), but later configs' answer latency
    is then measured warm.
    """
    started = time.perf_counter()
    names = [c.name for c in configs]
    default = DEFAULT_CONFIG if DEFAULT_CONFIG in names else names[0]
    results: list[ItemResult] = []
    config_settings: dict[str, dict[str, Any]] = {}
    shared_answerers: dict[Any, Answerer] = {}  # answer options -> answerer
    refusal: dict[str, Any] = {}
    for config in configs:
        config_values = config.settings(settings)
        config_settings[config.name] = config_values.answer_shaping()
        answerer = None
        if share_answer_cache and config_values.answer.answerer == "extractive":
            answerer = shared_answerers.setdefault(config_values.answer, make_answerer(
                config_values.answer, index.embeddings))
        assistant = build_assistant(config_values, index=index, answerer=answerer)
        if items:  # warm-up (BM25 load, Chroma, caches): latency is measured warm for all
            assistant.retrieve(items[0].question, k=RETRIEVAL_DEPTH)
        for n, item in enumerate(items, start=1):
            results.append(evaluate_item(assistant, item, config.name))
            if progress:
                progress(config.name, n, len(items))
        if config.name == default:  # refusal against hand-written and left-out-document misses
            documents = [d.name for d in index.documents()]
            refusal = refusal_fit.summary(refusal_fit.collect(assistant, items, documents))
    return EvalRun(
        dataset=dataset, split=split, default_config=default, configs=list(configs),
        config_settings=config_settings, items=results,
        unreachable=unreachable_evidence(items, index),
        refusal_threshold=settings.refusal.refusal_threshold, seconds=time.perf_counter() - started,
        refusal=refusal,
        document_types={d.name: d.document_type or "" for d in index.documents()},
    )


def unreachable_evidence(items: Sequence[Item], index: Index) -> list[str]:
    """Evidence entries that no passage of the whole index is relevant to.

    Such an entry can never be found, whatever the retriever does: a dataset problem (a
    quote from a heading or the title) or a chunking problem, not a retrieval miss.
    """
    by_document: dict[str, list[str]] = {}
    for passage in index.passages(sorted(index.visible_ids())).values():
        by_document.setdefault(passage.document, []).append(passage.text)
    problems = []
    for item in items:
        entries = [("evidence", e) for e in item.evidence]
        if item.follow_up:
            entries += [("follow_up.evidence", e) for e in item.follow_up.evidence]
        counters: dict[str, int] = {}
        for where, evidence in entries:
            n = counters.get(where, 0)
            counters[where] = n + 1
            texts = by_document.get(evidence.document, [])
            if not any(metrics.is_relevant(evidence.document, text, evidence) for text in texts):
                state = "no passage" if texts else "document not in the index"
                problems.append(f"{item.id}: {where}[{n}]: {state} is relevant to the quote")
    return problems


def evaluate_item(assistant: Assistant, item: Item, config: str) -> ItemResult:
    step = time.perf_counter()
    # ranking metrics need 10 passages, not top_k
    retrieval = assistant.retrieve(item.question, k=RETRIEVAL_DEPTH)
    retrieval_ms = (time.perf_counter() - step) * 1000
    retrieved = judge_passages(retrieval.passages, item.evidence)
    passages = [s.passage for s in retrieval.passages[:RETRIEVAL_DEPTH]]
    answer = assistant.ask(item.question)
    scored = _answer_scores(answer, item)
    return ItemResult(
        id=item.id, config=config, question=item.question, answerable=item.answerable,
        tags=list(item.tags), expected_quotes=[_describe_evidence(e) for e in item.evidence],
        reference_answer=item.reference_answer, retrieved=retrieved,
        evidence_found=[
            any(metrics.is_relevant(p.document, p.text, e) for p in passages)
            for e in item.evidence
        ],
        first_relevant_rank=next((p.rank for p in retrieved if p.relevant), None),
        answer=answer.text, refused=answer.refused, caution=answer.caution,
        rewritten_question=answer.rewritten_question,
        citations=check_citations(answer, item.evidence),
        markers=len(marker_numbers(answer.text)),
        valid_markers=count_valid_markers(answer),
        answer_f1=scored[0], rouge_l=scored[1],
        best_dense=assistant.refusal.evidence(retrieval), retrieval_ms=retrieval_ms,
        answer_ms=float(answer.timings.get("total", 0.0)),
        document=item.evidence[0].document if item.evidence else "",
        follow_up=evaluate_follow_up(assistant, item, answer) if item.follow_up else None,
    )


def evaluate_follow_up(assistant: Assistant, item: Item, first: Answer) -> FollowUpResult:
    """The follow-up asked in conversation vs its standalone form asked directly (hit@5)."""
    follow_up = item.follow_up
    assert follow_up is not None
    answer = assistant.ask(follow_up.question, history=[(item.question, first.text)])
    in_conversation = judge_passages(answer.passages, follow_up.evidence)
    standalone = judge_passages(assistant.retrieve(follow_up.standalone).passages,
                                follow_up.evidence)
    return FollowUpResult(
        question=follow_up.question, standalone=follow_up.standalone,
        rewritten_question=answer.rewritten_question, answer=answer.text, refused=answer.refused,
        retrieved=in_conversation,
        hit_at_5=metrics.hit_at([p.relevant for p in in_conversation], 5),
        standalone_retrieved=standalone,
        standalone_hit_at_5=metrics.hit_at([p.relevant for p in standalone], 5),
    )


def judge_passages(passages: Sequence[ScoredPassage], evidence: Sequence[Evidence]
                   ) -> list[RetrievedPassage]:
    return [
        RetrievedPassage(
            rank=rank, document=s.passage.document, page=s.passage.page,
            passage_id=s.passage.id, text=_snippet(s.passage.text), score=round(s.score, 6),
            relevant=metrics.relevant_to_any(s.passage.document, s.passage.text, evidence),
        )
        for rank, s in enumerate(passages, start=1)
    ]


def check_citations(answer: Answer, evidence: Sequence[Evidence]) -> list[CitationCheck]:
    provided = {s.passage.id: s.passage for s in answer.passages}
    checks = []
    for citation in answer.citations:
        passage = provided.get(citation.passage_id)
        checks.append(CitationCheck(
            n=citation.n, passage_id=citation.passage_id, document=citation.document,
            page=citation.page, quote=citation.quote,
            relevant=passage is not None
            and metrics.relevant_to_any(passage.document, passage.text, evidence),
            faithful=passage is not None
            and metrics.quote_is_exact(citation.quote, citation.start, citation.end,
                                       passage.text),
        ))
    return checks


def count_valid_markers(answer: Answer) -> int:
    """Markers [n] that resolve to citation n of a passage the answerer was given."""
    provided = {s.passage.id for s in answer.passages}
    resolvable = {c.n for c in answer.citations if c.passage_id in provided}
    return sum(n in resolvable for n in marker_numbers(answer.text))


def _answer_scores(answer: Answer, item: Item) -> tuple[float | None, float | None]:
    if not item.answerable or answer.refused:
        return None, None
    text = strip_markers(answer.text)
    return (metrics.token_f1(text, item.reference_answer),
            metrics.rouge_l(text, item.reference_answer))


def _describe_evidence(evidence: Evidence) -> str:
    page = f" p. {evidence.page}" if evidence.page is not None else ""
    return f"{evidence.document}{page}: {evidence.quote}"


def _snippet(text: str) -> str:
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


# --- files ----------------------------------------------------------------------------------
def load_baseline(path: str | Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BronwijzerError(f"--baseline {path}: not a readable results.json ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("configs"), dict):
        raise BronwijzerError(f"--baseline {path}: no 'configs' in it; is it a results.json?")
    return data


def write_results(results: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def stderr_progress(config: str, done: int, total: int) -> None:
    """A one-line progress counter on a terminal; silent otherwise (CI logs stay short)."""
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\r{config}: {done}/{total}", end=end, file=sys.stderr, flush=True)
