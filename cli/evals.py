"""`bronwijzer eval check|split|fit-refusal|run|export-ragas|review|review-export`.

Handlers receive (args, settings) like the other commands; exit codes: 0 ok, 1 failed
(invalid dataset, a --fail-under bound missed, a metric detectably worse than the
--not-worse-than baseline, or an error), 2 usage error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from bronwijzer.domain import BronwijzerError
from bronwijzer.settings import env_name
from cli.common import usage
from presentation.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(sub: Any) -> None:
    evaluation = sub.add_parser("eval", help="Evaluate retrieval and answers on a dataset.",
                                description="Evaluate retrieval and answers on a dataset.")
    evaluation.set_defaults(handler=lambda args, settings: usage(evaluation))
    commands = evaluation.add_subparsers(dest="eval_command", metavar="COMMAND")

    p = commands.add_parser("check", help="Validate a dataset against its source documents.",
                            description="Validate a JSONL dataset: fields, ids and every "
                            "evidence quote (on its page for PDFs).")
    p.add_argument("dataset", type=Path, metavar="DATASET")
    p.add_argument("--corpus", type=Path, required=True, metavar="DIR",
                   help="folder with the source documents named in the evidence")
    p.set_defaults(handler=cmd_eval_check)

    p = commands.add_parser("split", help="Assign tune/test halves to items without one.",
                            description="Give every item without a split one (stratified "
                            "by document, fixed once written) and rewrite the file.")
    p.add_argument("dataset", type=Path, metavar="DATASET")
    p.set_defaults(handler=cmd_eval_split)

    p = commands.add_parser("fit-refusal", help="Fit the refusal model on the tune half.",
                            description="Fit the logistic refusal model on the tune half's "
                            "items and their leave-one-document-out near misses; write it "
                            "as JSON and judge it on the test half.")
    _fitting_args(p)
    p.add_argument("--out", type=Path, default=Path("assistant/refusal_model.json"),
                   metavar="FILE.json")
    p.set_defaults(handler=cmd_eval_fit_refusal)

    p = commands.add_parser("run", help="Run a dataset through configurations and report.",
                            description="Run every item (and follow-up) through each "
                            "configuration; write results.json, report.md and report.html.")
    _answering_args(p, out="DIR")
    p.add_argument("--configs", action="append", default=None, metavar="NAMES",
                   help="comma-separated: bm25,dense,hybrid,rerank,llm or ad-hoc "
                   "base:field=value,… e.g. hybrid:rrf_k=20,dense_weight=2 "
                   "(default: bm25,dense,hybrid [+rerank, llm when configured])")
    p.add_argument("--baseline", type=Path, metavar="RESULTS_JSON",
                   help="an earlier results.json: report deltas against it")
    p.add_argument("--fail-under", default="", metavar="METRIC=MIN,…",
                   help="exit 1 when a metric of the default configuration is below its "
                   "bound, e.g. hit@5=0.8,refusal_accuracy=0.9")
    p.add_argument("--share-answer-cache", action="store_true",
                   help="share sentence embeddings between configurations: much faster, but "
                   "answer latency of later configurations is measured with a warm cache")
    p.add_argument("--not-worse-than", type=Path, metavar="RESULTS_JSON",
                   help="exit 1 when a headline metric of the default configuration is "
                   "detectably worse than in this results.json (paired over shared items); "
                   "also the --baseline when none is given")
    p.add_argument("--labels", type=Path, metavar="FILE",
                   help="reviewers' labels (eval review-export JSONL, or the review "
                   "database): report their agreement with the gold-quote relevance rule")
    p.set_defaults(handler=cmd_eval_run)

    p = commands.add_parser("export-ragas", help="Write answered items as JSONL for RAGAS.",
                            description="Answer every item with the configured assistant and "
                            "write one ragas SingleTurnSample per line: {user_input, "
                            "retrieved_contexts, retrieved_context_ids, response, reference, "
                            "reference_contexts}.")
    _answering_args(p, out="FILE.jsonl")
    p.add_argument("--schema", choices=["current", "legacy"], default="current",
                   help="legacy: the ragas 0.1 names {question, answer, contexts, "
                   "ground_truth}, which current ragas does not read")
    p.set_defaults(handler=cmd_eval_export_ragas)
    _register_review(commands)


def _register_review(commands: Any) -> None:
    p = commands.add_parser("review", help="Review answers and their citations by hand.",
                            description="Show each answer with its citations; mark the answer "
                            "correct/partly/wrong and each citation relevant or not. Stored in "
                            "SQLite; items already reviewed by the reviewer are skipped.")
    p.add_argument("dataset", type=Path, metavar="DATASET")
    p.add_argument("--index", type=Path, help=f"index folder (default: {env_name('index_dir')})")
    p.add_argument("--db", type=Path, required=True, metavar="FILE",
                   help="SQLite file with the reviews (created when missing)")
    p.add_argument("--import", dest="import_file", type=Path, metavar="FILE.jsonl",
                   help="no prompts: judgements per line, {\"id\", \"answer\": "
                   "\"correct|partly|wrong\", \"citations\": {\"1\": true, …}, \"note\"}")
    p.add_argument("--reviewer", help="name stored with each review (default: the login name)")
    p.add_argument("--config", metavar="NAME",
                   help="answer with this eval configuration, e.g. hybrid "
                   "(default: the configured settings)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N items")
    p.add_argument("--split", choices=["tune", "test", "all"], default=None,
                   help="which half of the dataset (default: test when split, else all)")
    p.add_argument("--redo", action="store_true", help="review items already reviewed again")
    p.set_defaults(handler=cmd_eval_review)

    p = commands.add_parser("review-export", help="Export reviews as labelled JSONL.",
                            description="One reviewed answer per line, with its citations, "
                            "their passages and the reviewer's labels.")
    p.add_argument("--db", type=Path, required=True, metavar="FILE")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl")
    p.set_defaults(handler=cmd_eval_review_export)


def _answering_args(p: argparse.ArgumentParser, *, out: str) -> None:
    """Arguments of every command that answers a dataset's questions from an index."""
    p.add_argument("dataset", type=Path, metavar="DATASET")
    p.add_argument("--index", type=Path, help=f"index folder (default: {env_name('index_dir')})")
    p.add_argument("--out", type=Path, required=True, metavar=out)
    p.add_argument("--limit", type=int, metavar="N", help="only the first N items")
    p.add_argument("--split", choices=["tune", "test", "all"], default=None,
                   help="which half of the dataset: choose defaults on tune, report on test "
                   "(default: test when the dataset is split, else all)")


def _fitting_args(p: argparse.ArgumentParser) -> None:
    """Arguments of the commands that fit a model on the tune halves of datasets."""
    p.add_argument("datasets", type=Path, nargs="+", metavar="DATASET")
    p.add_argument("--index", type=Path, help=f"index folder (default: {env_name('index_dir')})")


def _half(datasets: list[Path], half: str) -> list[Any]:
    """The items of one half (tune or test) of every dataset, in order."""
    from evals.dataset import load_dataset, select_split

    return [item for path in datasets for item in select_split(load_dataset(path), half)[0]]


def cmd_eval_check(args: argparse.Namespace, settings: Settings) -> int:
    from evals.dataset import check_quotes, parse_dataset, summarize

    if not args.corpus.is_dir():
        print(f"bronwijzer eval check: no such folder: {args.corpus}", file=sys.stderr)
        return EXIT_USAGE
    items, problems = parse_dataset(args.dataset)
    problems += check_quotes(items, args.corpus)
    print("\n".join(summarize(items).lines()))
    if problems:
        print(f"\n{args.dataset}: {len(problems)} problem(s)", file=sys.stderr)
        for problem in problems:
            print(problem, file=sys.stderr)
        return EXIT_FAILED
    print(f"\n{args.dataset}: valid")
    return EXIT_OK


def cmd_eval_split(args: argparse.Namespace, settings: Settings) -> int:
    from evals.dataset import SPLITS, assign_splits, parse_dataset

    _, problems = parse_dataset(args.dataset)
    if problems:
        print(f"bronwijzer eval split: {args.dataset} is not valid; run `bronwijzer eval "
              "check` first", file=sys.stderr)
        return EXIT_FAILED
    lines = args.dataset.read_text("utf-8").splitlines()
    rows = assign_splits([json.loads(line) for line in lines if line.strip()])
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    temporary = args.dataset.with_name(args.dataset.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(args.dataset)  # atomic: the dataset is never half written
    counts = {split: sum(row["split"] == split for row in rows) for split in SPLITS}
    print(f"{args.dataset}: " + ", ".join(f"{n} {split}" for split, n in counts.items()))
    return EXIT_OK


def cmd_eval_fit_refusal(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import build_assistant
    from evals import refusal_fit

    halves = {half: _half(args.datasets, half) for half in ("tune", "test")}
    # the signals do not depend on the model in use; cosine avoids needing one to fit one
    assistant = build_assistant(settings.with_(refusal_model="cosine"))
    documents = [d.name for d in assistant.index.documents()]
    model = refusal_fit.fit(refusal_fit.collect(assistant, halves["tune"], documents),
                            {"datasets": [str(p) for p in args.datasets], "split": "tune"})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_name(args.out.name + ".tmp")
    temporary.write_text(json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8")
    temporary.replace(args.out)
    judged = build_assistant(settings.with_(refusal_model=str(args.out)),
                             index=assistant.index)
    on_test = refusal_fit.summary(refusal_fit.collect(judged, halves["test"], documents))
    print(f"wrote {args.out}: tune AUC {model.about['tune_auc']}, refuse below "
          f"{model.refuse_below:.3f}, caution below {model.caution_below:.3f}")
    print("test half: " + json.dumps(on_test))
    return EXIT_OK


def cmd_eval_run(args: argparse.Namespace, settings: Settings) -> int:
    from evals import report, review, run
    from evals.dataset import load_dataset, select_split
    from evals.metrics import parse_bounds
    from store.index import Index

    try:
        bounds = parse_bounds(args.fail_under)
    except ValueError as exc:
        print(f"bronwijzer eval run: --fail-under {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.dataset.is_dir():  # the reading set: its dev split, on a training-corpus index
        from evals.reading import as_eval_items

        everything = as_eval_items(args.dataset)
        items, split = everything, "dev"
    else:
        everything = load_dataset(args.dataset)
        items, split = select_split(everything, args.split)
    items = items[: args.limit]
    configs = run.parse_configs(args.configs, settings)
    baseline_path = args.baseline or args.not_worse_than
    baseline = run.load_baseline(baseline_path) if baseline_path else None
    gate = None
    if args.not_worse_than:
        gate = (baseline if args.not_worse_than == baseline_path
                else run.load_baseline(args.not_worse_than))
    labels = review.load_labels(args.labels) if args.labels else None  # fail before the run
    index = Index(settings.index)
    evaluation = run.run_evaluation(items, index, settings, configs,
                                    dataset=str(args.dataset), split=split,
                                    progress=run.stderr_progress,
                                    share_answer_cache=args.share_answer_cache)
    results = evaluation.to_results(baseline, str(baseline_path) if baseline_path else None)
    if labels is not None:  # the rule is judged on every labelled item, whatever the split
        results["review"] = review.agreement(labels, everything, str(args.labels))
    results_path = run.write_results(results, args.out)
    markdown, html = report.write_reports(results, args.out)
    print(report.console_summary(results))
    for line in results["unreachable_evidence"]:
        print(f"unreachable evidence: {line}", file=sys.stderr)
    print(f"\nwrote {results_path}, {markdown}, {html}")
    default_metrics = results["configs"][results["default_config"]]
    missed = [m for m in (b.missed_by(default_metrics) for b in bounds) if m]
    for message in missed:
        print(f"fail-under ({results['default_config']}): {message}", file=sys.stderr)
    unknown = [b.metric for b in bounds if b.metric not in default_metrics]
    if unknown:
        print(f"(unknown metric(s): {', '.join(unknown)})", file=sys.stderr)
    worse = _worse_than_baseline(results, gate, args.not_worse_than) if gate else []
    return EXIT_FAILED if missed or worse else EXIT_OK


def _worse_than_baseline(results: dict[str, Any], baseline: dict[str, Any], path: Path
                         ) -> list[str]:
    """The "not worse than baseline" gate: what is detectably worse, printed."""
    from evals.compare import worse_than_baseline

    compared, worse = worse_than_baseline(results, baseline, str(path))
    default = results["default_config"]
    for message in worse:
        print(f"not-worse-than ({default}): worse than {path}: {message}", file=sys.stderr)
    if compared and not worse:
        print(f"not worse than {path}: no headline metric of {default} is detectably worse "
              f"({compared['shared_items']} paired items)")
    return worse


def cmd_eval_export_ragas(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import build_assistant
    from evals.dataset import load_dataset, select_split
    from evals.ragas_export import ragas_row

    items, _ = select_split(load_dataset(args.dataset), args.split)
    items = items[: args.limit]
    assistant = build_assistant(settings)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with args.out.open("w", encoding="utf-8") as out:
            for item in items:
                row = ragas_row(item, assistant.ask(item.question), args.schema)
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise BronwijzerError(f"{args.out}: cannot write ({exc})") from None
    print(f"wrote {len(items)} rows to {args.out} ({args.schema} ragas schema)")
    return EXIT_OK


def cmd_eval_review(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import build_assistant
    from evals import review, run
    from evals.dataset import load_dataset, select_split

    items, _ = select_split(load_dataset(args.dataset), args.split)
    items = items[: args.limit]
    if args.config:
        settings = run.parse_config(args.config, settings).settings(settings)
    if args.import_file:
        judgements = review.parse_judgements(args.import_file)
        missing = sorted(set(judgements) - {item.id for item in items})
        if missing:
            print(f"{args.import_file}: {len(missing)} judgement(s) for items not in "
                  f"{args.dataset} (split, --limit): {', '.join(missing[:10])}", file=sys.stderr)
        items = [item for item in items if item.id in judgements]  # ask only what is judged
        judge = review.from_judgements(judgements)
    elif sys.stdin.isatty():
        from rich.console import Console

        from evals.review_prompt import prompt_judge

        judge = prompt_judge(Console(), total=len(items))
    else:
        print("bronwijzer eval review: no terminal to ask on; give --import FILE.jsonl",
              file=sys.stderr)
        return EXIT_USAGE
    assistant = build_assistant(settings)
    with review.ReviewStore(args.db) as store:
        stored = review.review_round(assistant.ask, items, store, judge,
                                     reviewer=args.reviewer or _login_name(),
                                     dataset=str(args.dataset),
                                     config=args.config or "configured",
                                     # a file's judgements replace the reviewer's earlier ones
                                     redo=args.redo or bool(args.import_file))
        total = len(store.reviews())
    print(f"stored {stored} review(s) in {args.db} ({total} in all)")
    return EXIT_OK


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "reviewer"


def cmd_eval_review_export(args: argparse.Namespace, settings: Settings) -> int:
    from evals import review

    if not args.db.is_file():
        print(f"bronwijzer eval review-export: no such file: {args.db}", file=sys.stderr)
        return EXIT_USAGE
    with review.ReviewStore(args.db) as store:
        count = review.export_labels(store.reviews(), args.out)
    print(f"wrote {count} labelled answer(s) to {args.out}")
    return EXIT_OK
