"""`bronwijzer reading check|blocks|search`: write and validate the reading set.

check validates every item (fields, verbatim quotes and spans, locators, no evaluation
document); blocks prints a document as the loaders see it, each block with its locator,
for writers to quote from; search shows what the training index returns for questions,
to confirm that an unanswerable one is not answered after all.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, usage
from presentation.settings import Settings

TRAINING_CORPUS = Path("../shared/training_corpus")
EVALUATION_CORPORA = (Path("../shared/corpus"), Path("../shared/laws_current"))


def register(sub: Any) -> None:
    reading = sub.add_parser("reading", help="The reading set: questions over the training "
                             "documents (evals/datasets/reading).")
    reading.set_defaults(handler=lambda args, settings: usage(reading))
    commands = reading.add_subparsers(dest="reading_command", metavar="COMMAND")

    p = commands.add_parser("check", help="Validate the reading set against its documents.")
    p.add_argument("folder", type=Path, nargs="?", default=Path("evals/datasets/reading"))
    p.add_argument("--corpus", type=Path, default=TRAINING_CORPUS, metavar="DIR")
    p.add_argument("--evaluation-corpus", type=Path, action="append", metavar="DIR",
                   help="a folder of evaluation documents no item may name (default: "
                   + " and ".join(map(str, EVALUATION_CORPORA)) + ")")
    p.add_argument("--stats", action="store_true",
                   help="also print counts per type, kind, document and split")
    p.add_argument("--reuse", action="store_true",
                   help="list the answerable questions that reuse one of the three rarest "
                   "words of their quote, and the share that does not")
    p.set_defaults(handler=cmd_check)

    p = commands.add_parser("blocks", help="Print a document's blocks with their locators.")
    p.add_argument("document", type=Path)
    p.set_defaults(handler=cmd_blocks)

    p = commands.add_parser("search", help="Top passages of the training index per question.")
    p.add_argument("questions", type=Path, help="JSONL with a question per line")
    p.add_argument("--index", type=Path, help="index folder of the training corpus")
    p.add_argument("--k", type=int, default=3)
    p.set_defaults(handler=cmd_search)

    p = commands.add_parser("card", help="Print (or --write) the data card's count tables.")
    p.add_argument("folder", type=Path, nargs="?", default=Path("evals/datasets/reading"))
    p.add_argument("--corpus", type=Path, default=TRAINING_CORPUS, metavar="DIR")
    p.add_argument("--write", action="store_true",
                   help="replace the tables in the folder's README.md")
    p.set_defaults(handler=cmd_card)

    p = commands.add_parser("train", help="Train the reader on the reading set's train split.",
                            description="Mine each question's passages with the training "
                            "index, train the reader, measure it on the dev split, and write "
                            "reader.safetensors with reader.json beside it.")
    p.add_argument("folder", type=Path, nargs="?", default=Path("evals/datasets/reading"))
    p.add_argument("--index", type=Path, help="index folder of the training corpus")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--fraction", type=float, default=1.0,
                   help="share of the training questions (the learning curve)")
    p.add_argument("--dev-limit", type=int, default=400, metavar="N",
                   help="dev questions measured (a fixed sample; 0 = all)")
    p.add_argument("--skip-invalid", action="store_true",
                   help="leave out items with problems instead of stopping (while writing)")
    p.set_defaults(handler=cmd_train)

    p = commands.add_parser("curve", help="Measure readers on one dev sample: the learning "
                            "curve.", description="Measure each reader folder (trained on "
                            "25, 50, 100% of the questions) on the same dev questions; write "
                            "the points as JSON and a PNG plot, and print the README's table.")
    p.add_argument("readers", type=Path, nargs="+", metavar="DIR",
                   help="reader folders (reader.safetensors and reader.json)")
    p.add_argument("--set", dest="folder", type=Path, default=Path("evals/datasets/reading"))
    p.add_argument("--index", type=Path, help="index folder of the training corpus")
    p.add_argument("--dev-limit", type=int, default=400, metavar="N")
    p.add_argument("--out", type=Path, default=Path("assistant/models/reader-curve.json"))
    p.add_argument("--png", type=Path, default=Path("docs/reader-curve.png"))
    p.add_argument("--write", action="store_true", help="replace the table in README.md")
    p.set_defaults(handler=cmd_curve)


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from evals.reading import check_reading_set, forbidden_documents, parse_reading_set

    if not args.corpus.is_dir():
        print(f"bronwijzer reading check: no such folder: {args.corpus}", file=sys.stderr)
        return EXIT_USAGE
    items, problems = parse_reading_set(args.folder)
    forbidden = forbidden_documents(*(args.evaluation_corpus or EVALUATION_CORPORA))
    problems += check_reading_set(items, args.corpus, forbidden)
    answerable = [i for i in items if i.answerable]
    print(f"{len(items)} items: {len(answerable)} answerable, "
          f"{len(items) - len(answerable)} unanswerable")
    if args.stats:
        for name, counter in (("type", Counter(i.type for i in answerable)),
                              ("kind", Counter(i.kind for i in items if not i.answerable)),
                              ("split", Counter(i.split for i in items)),
                              ("document", Counter(i.document or "-" for i in items))):
            print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in counter.most_common()))
    if args.reuse and answerable:
        _print_reuse(answerable, args.corpus)
    if problems:
        print(f"\n{args.folder}: {len(problems)} problem(s)", file=sys.stderr)
        for problem in problems:
            print(problem, file=sys.stderr)
        return EXIT_ERROR
    print(f"{args.folder}: valid")
    return EXIT_OK


def _print_reuse(items: list[Any], corpus: Path) -> None:
    from bronwijzer.text import stems
    from evals.reading import corpus_frequency, rare_words

    frequency = corpus_frequency(corpus)
    reusing = 0
    for item in items:
        shared = rare_words(item.quote, frequency) & set(stems(item.question))
        if shared:
            reusing += 1
            print(f"reuses {', '.join(sorted(shared))}: {item.id}: {item.question}")
    print(f"{len(items) - reusing} of {len(items)} answerable questions "
          f"({(len(items) - reusing) / len(items):.0%}) reuse none of their quote's rare words")


def cmd_blocks(args: argparse.Namespace, settings: Settings) -> int:
    from evals.reading import blocks_with_locators
    from ingest.load import load_document

    for locator, block in blocks_with_locators(load_document(args.document)):
        print(f"[{locator or '-'}] {block.text}")
    return EXIT_OK


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import build_assistant

    assistant = build_assistant(settings)
    for number, line in enumerate(args.questions.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question = row["question"]
        except (ValueError, KeyError, TypeError):
            print(f"{args.questions}:{number}: not a JSON object with a question",
                  file=sys.stderr)
            return EXIT_ERROR
        print(f"## {row.get('id', number)}: {question}")
        for rank, scored in enumerate(assistant.retrieve(question, k=args.k).passages, 1):
            passage = scored.passage
            print(f"  {rank}. {passage.document} [{passage.locator()}] "
                  f"{' '.join(passage.text.split())[:400]}")
    return EXIT_OK


def card_text(folder: Path, corpus: Path, settings: Settings) -> str:
    """The card's tables, with passages counted as Bronwijzer's chunker cuts them."""
    from evals.reading import load_reading_set
    from evals.reading_card import card_tables, passage_keys
    from store.e5convert import converted_folder
    from store.e5engine import count_tokens, load_tokenizer

    items = load_reading_set(folder)
    tokenizer = load_tokenizer(converted_folder(Path(settings.index.model_cache_dir)))
    keys = passage_keys(items, corpus, lambda text: count_tokens(tokenizer, text, "passage"))
    return card_tables(items, keys)


def cmd_card(args: argparse.Namespace, settings: Settings) -> int:
    from evals.reading_card import BEGIN, replace_tables

    tables = card_text(args.folder, args.corpus, settings)
    if not args.write:
        print(tables, end="")
        return EXIT_OK
    # the data card, and the project README's evaluation section, which shows them too
    for card in (args.folder / "README.md", Path("README.md")):
        if card.is_file() and BEGIN in (text := card.read_text("utf-8")):
            card.write_text(replace_tables(text, tables), "utf-8")
            print(f"wrote the tables of {card}")
    return EXIT_OK


@contextmanager
def mined(assistant: Any, settings: Settings) -> Iterator[dict[str, Any]]:
    """The mining cache of the training index: read, filled by the caller, written back."""
    cache_file = mining_cache(assistant.index, settings)
    cache = json.loads(cache_file.read_text("utf-8")) if cache_file.is_file() else {}
    yield cache
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.with_suffix(".tmp").write_text(json.dumps(cache), "utf-8")
    cache_file.with_suffix(".tmp").replace(cache_file)


def mining_cache(index: Any, settings: Settings) -> Path:
    """Where the retrieved candidates of each question are kept, per training index."""
    from bronwijzer.settings import user_cache_dir

    stats = index.stats()
    key = hashlib.sha256(f"{settings.index.index_dir.resolve()}|{stats.passages}|"
                         f"{settings.retrieval}".encode()).hexdigest()[:16]
    return user_cache_dir() / f"reader-mining-{key}.json"


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import asdict, replace

    from assistant.pipeline import build_assistant
    from assistant.reader import Reader, save_reader
    from evals import reader_fit
    from evals.reading import parse_reading_set
    from store.e5convert import converted_folder
    from store.e5engine import load_tokenizer

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    items, problems = parse_reading_set(args.folder)
    if problems and not args.skip_invalid:
        print(f"bronwijzer reading train: {args.folder} has {len(problems)} problem(s); "
              "run `bronwijzer reading check` (or --skip-invalid)", file=sys.stderr)
        return EXIT_ERROR
    options = replace(reader_fit.ReaderTraining(), epochs=args.epochs, fraction=args.fraction)
    # the candidates are the fused retrieval's: no reader, no reranker (and no time spent)
    assistant = build_assistant(settings.with_(reranker_model="", refusal_model="cosine",
                                               reader="off"))
    if not {i.document for i in items if i.answerable} & {d.name for d in
                                                          assistant.index.documents()}:
        print(f"bronwijzer reading train: the index {settings.index.index_dir} holds none of "
              "the reading set's documents (ingest ../shared/training_corpus into it)",
              file=sys.stderr)
        return EXIT_ERROR
    train_items = [i for i in items if i.split == "train"]
    dev_items = reader_fit.sample_items([i for i in items if i.split == "dev"], args.dev_limit,
                                        options.seed)
    say(f"{len(train_items)} training and {len(dev_items)} dev questions; retrieving")
    with mined(assistant, settings) as cache:
        groups = reader_fit.build_groups(assistant, train_items, candidates=options.candidates,
                                         lodo_share=options.lodo_share, seed=options.seed,
                                         cache=cache, progress=say)
        groups = reader_fit.sample(groups, options.fraction, options.seed)
        dev = reader_fit.build_groups(assistant, dev_items, candidates=options.candidates,
                                      cache=cache)
    e5_folder = converted_folder(Path(settings.index.model_cache_dir))
    say(f"training on {len(groups)} groups ({sum(g.answerable for g in groups)} with a gold "
        "passage)")
    started = time.perf_counter()
    module = reader_fit.train(groups, e5_folder, options, progress=say)
    minutes = (time.perf_counter() - started) / 60
    reader = Reader(module, load_tokenizer(e5_folder))
    say("measuring on dev")
    measured = reader_fit.evaluate(reader, dev, {i.id: i for i in dev_items})
    manifest = {
        "base_model": e5_folder.name, "options": asdict(options),
        "data": {"folder": str(args.folder), "sha256": reader_fit.data_hash(items),
                 "train_questions": len({g.id.removesuffix("-lodo") for g in groups}),
                 "train_groups": len(groups), "dev_questions": len(dev_items)},
        "dev": measured, "training_minutes": round(minutes, 1),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    path = save_reader(module, args.out, manifest)
    print(json.dumps(measured, indent=1))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {minutes:.1f} min")
    return EXIT_OK


def cmd_curve(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import build_assistant
    from assistant.reader import MANIFEST, Reader
    from evals import reader_curve, reader_fit
    from evals.reading import load_reading_set
    from evals.reading_card import replace_tables
    from store.e5convert import converted_folder

    for folder in args.readers:
        if not (folder / MANIFEST).is_file():
            print(f"bronwijzer reading curve: {folder}: no {MANIFEST}", file=sys.stderr)
            return EXIT_USAGE
    items = [i for i in load_reading_set(args.folder) if i.split == "dev"]
    training = reader_fit.ReaderTraining()  # the dev sample and candidates training uses
    dev_items = reader_fit.sample_items(items, args.dev_limit, training.seed)
    assistant = build_assistant(settings.with_(reranker_model="", refusal_model="cosine",
                                               reader="off"))
    with mined(assistant, settings) as cache:
        dev = reader_fit.build_groups(assistant, dev_items, candidates=training.candidates,
                                      cache=cache)
    e5_folder = converted_folder(Path(settings.index.model_cache_dir))
    points = []
    for folder in args.readers:
        reader = Reader.load(folder, e5_folder)
        print(f"measuring {folder}", file=sys.stderr, flush=True)
        measured = reader_fit.evaluate(reader, dev, {i.id: i for i in dev_items})
        points.append(reader_curve.curve_point(reader.manifest, measured))
    points.sort(key=lambda p: p["train_questions"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"dev_questions": len(dev_items), "points": points},
                                   indent=1) + "\n", "utf-8")
    reader_curve.plot_curve(points, args.png)
    table = reader_curve.curve_table(points)
    print(table, end="")
    if args.write:
        readme = Path("README.md")
        readme.write_text(replace_tables(readme.read_text("utf-8"), table,
                                         reader_curve.CURVE_BEGIN, reader_curve.CURVE_END),
                          "utf-8")
    print(f"wrote {args.out} and {args.png}", file=sys.stderr)
    return EXIT_OK
