"""The one command line: `bronwijzer ingest|search|ask|stats|serve|eval|feedback|corpus|config`.

The top of the tree: the only room that imports all others. Every command group
registers itself the same way, a `register(subparsers)` function listed in COMMANDS.
Exit codes: 0 ok, 1 error, 2 usage error, 3 ingest finished with some failed files.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bronwijzer.domain import (
    CAUTION_TEXT,
    BronwijzerError,
    Filters,
    also_searched_line,
    source_name,
)
from bronwijzer.settings import env_name
from cli import course, evals, feedback, index, reading
from cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, command
from presentation.settings import Settings, settings_table

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        settings = Settings.from_env(index_dir=getattr(args, "index", None))
        return int(args.handler(args, settings) or EXIT_OK)
    except BronwijzerError as exc:
        print(f"bronwijzer: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ModuleNotFoundError as exc:  # a dependency missing from this installation
        print(f"bronwijzer {args.command}: needs the Python package {exc.name!r}, which is not "
              "installed here (`make install` installs everything)", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("bronwijzer: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bronwijzer",
        description="Bronwijzer: answers from Dutch policy documents, with passage and page.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register_commands in (index.register, register, course.register, evals.register,
                              reading.register, feedback.register):
        register_commands(sub)
    return parser


def register(sub: Any) -> None:
    """search, ask, serve, config: the commands that answer from an index."""
    p = command(sub, "search", cmd_search, "Show the passages that best match a question.")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default=None)
    add_filter_option(p)
    p.add_argument("--json", action="store_true")

    p = command(sub, "ask", cmd_ask, "Answer a question with cited sources.")
    p.add_argument("question")
    add_filter_option(p)
    p.add_argument("--history", type=Path, help="JSON file with earlier turns [[q, a], …]")
    p.add_argument("--json", action="store_true")

    p = command(sub, "serve", cmd_serve, "Start the web chat.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)

    p = command(sub, "config", cmd_config, "Show all settings and their environment variables.",
                index=False)
    p.add_argument("--markdown", action="store_true", help="print the README table")


def add_filter_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE",
                   help="document=…, publisher=…, type=…, year=2020..2023, law=BWBR…, "
                        "geldig_op=YYYY-MM-DD (the law as it stood then; default today); "
                        "repeatable")


# --- handlers ---------------------------------------------------------------------
def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.retrieve import HybridRetriever
    from store.index import Index
    from store.sources import SourceCatalogue

    # the catalogue knows the law versions of an index built before versions were recorded
    retriever = HybridRetriever(Index(settings.index), settings.retrieval, mode=args.mode,
                                catalogue=SourceCatalogue.load(settings.index.sources))
    retrieval = retriever(
        args.question, args.k, Filters.parse(args.filter)
    )
    rows = [p.to_dict() for p in retrieval.passages]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if retrieval.also_searched:
        print(f"({also_searched_line(retrieval.also_searched)})\n")
    if not rows:
        print("Geen passages gevonden.")
    for rank, row in enumerate(rows, start=1):
        page = f", p. {row['page']}" if row["page"] else ""
        print(f"[{rank}] {row['title']} ({row['document']}{page}) score {row['score']:.4f}")
        print(f"    {row['text'][:300]}{'…' if len(row['text']) > 300 else ''}\n")
    return EXIT_OK


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import build_assistant

    history: list[tuple[str, str]] = []
    if args.history:
        try:
            history = [tuple(turn) for turn in json.loads(args.history.read_text("utf-8"))]
        except (OSError, ValueError, TypeError) as exc:
            raise BronwijzerError(
                f"{args.history}: not a JSON list of [question, answer] ({exc})"
            ) from None
    assistant = build_assistant(settings)
    answer = assistant.ask(args.question, history=history, filters=Filters.parse(args.filter))
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return EXIT_OK
    if answer.rewritten_question and answer.rewritten_question != args.question:
        print(f"(vraag gelezen als: {answer.rewritten_question})\n")
    if answer.also_searched:
        print(f"({also_searched_line(answer.also_searched)})\n")
    print(answer.text)
    if answer.caution:
        print(f"\n{CAUTION_TEXT}")
    print()
    if answer.refused:
        print("Dichtstbijzijnde passages:")
        for scored in answer.passages[:3]:
            p = scored.passage
            print(f"- {source_name(p).text()} — {p.document}")
    else:
        print("Bronnen:")
        for c in answer.citations:
            print(f"[{c.n}] {source_name(c).text()} — {c.document}"
                  + (" — mogelijk verouderd" if c.stale else ""))
            if c.url:  # a law article in the cited version
                print(f"    {c.url}")
        for line in answer.notices:
            print(f"\n{line}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from presentation.web.app import serve

    serve(settings, host=args.host, port=args.port)
    return EXIT_OK


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    if args.markdown:
        print(settings_table())
        return EXIT_OK
    for stage in Settings.stages():
        print(f"# {stage}")
        for name, value in getattr(settings, stage).values().items():
            shown = "***" if value and name.endswith("api_key") else value
            print(f"{env_name(name):34} = {shown}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
