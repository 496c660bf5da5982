"""The one command line: `bronwijzer ingest|search|ask|stats|serve|eval|feedback|corpus|config`.

Exit codes: 0 ok, 1 error, 2 usage error, 3 ingest finished with some failed files.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bronwijzer.domain import CAUTION_TEXT, BronwijzerError, Filters
from bronwijzer.settings import Settings, settings_table

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3

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
    except KeyboardInterrupt:
        print("bronwijzer: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bronwijzer",
        description="Bronwijzer: answers from Dutch policy documents, with passage and page.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, handler: Callable[..., int | None], help_: str,
                index: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        if index:
            p.add_argument("--index", type=Path,
                           help="index folder (default: BRONWIJZER_INDEX_DIR)")
        return p

    p = command("ingest", cmd_ingest, "Add files and folders (recursive) to the index.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.add_argument("--prune", action="store_true", help="remove documents whose files are gone")

    p = command("search", cmd_search, "Show the passages that best match a question.")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default=None)
    p.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE",
                   help="document=…, publisher=…, type=…, year=2020..2023 (repeatable)")
    p.add_argument("--json", action="store_true")

    p = command("ask", cmd_ask, "Answer a question with cited sources.")
    p.add_argument("question")
    p.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE",
                   help="document=…, publisher=…, type=…, year=2020..2023 (repeatable)")
    p.add_argument("--history", type=Path, help="JSON file with earlier turns [[q, a], …]")
    p.add_argument("--json", action="store_true")

    p = command("stats", cmd_stats, "Documents, passages and model of an index.")
    p.add_argument("--json", action="store_true")

    p = command("serve", cmd_serve, "Start the web chat.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)

    p = command("config", cmd_config, "Show all settings and their environment variables.",
                index=False)
    p.add_argument("--markdown", action="store_true", help="print the README table")

    corpus = sub.add_parser("corpus", help="The catalogue of source documents.")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", metavar="COMMAND")
    p = corpus_sub.add_parser("download", help="Fetch catalogued documents (needs network).")
    p.add_argument("--to", type=Path, default=Path("corpus"), help="target folder")
    p.set_defaults(handler=cmd_corpus_download)
    p = corpus_sub.add_parser("list", help="List catalogued documents.")
    p.set_defaults(handler=cmd_corpus_list)

    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub: Any) -> None:
    """Commands whose modules live in other rooms register themselves here."""
    import importlib

    for module, function in (("evals.cli", "add_eval_commands"),
                             ("assistant.feedback", "add_feedback_commands")):
        try:
            register = getattr(importlib.import_module(module), function)
        except ModuleNotFoundError:
            continue
        register(sub)


# --- handlers ---------------------------------------------------------------------
def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pipeline import FileResult, Ingestor
    from ingest.sources import SourceCatalogue
    from ingest.store import Index

    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"bronwijzer ingest: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    index = Index(settings, create=True)
    progress = _Progress(enabled=not args.json and sys.stderr.isatty())

    def on_file_done(result: FileResult, done: int, total: int) -> None:
        progress.update(result, done, total)

    ingestor = Ingestor(
        index, sources=SourceCatalogue.load(settings.sources),
        max_bytes=int(settings.max_file_mb * 1024 * 1024), on_file_done=on_file_done,
    )
    with progress:
        report = ingestor(args.paths, prune=args.prune)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_ingest_table(report)
    return report.exit_code


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.retrieve import HybridRetriever
    from ingest.store import Index

    index = Index(settings)
    retrieval = HybridRetriever(index, settings, mode=args.mode)(
        args.question, args.k, Filters.parse(args.filter)
    )
    rows = [p.to_dict() for p in retrieval.passages]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rows:
        print("Geen passages gevonden.")
    for rank, row in enumerate(rows, start=1):
        page = f", p. {row['page']}" if row["page"] else ""
        print(f"[{rank}] {row['title']} ({row['document']}{page}) score {row['score']:.4f}")
        print(f"    {row['text'][:300]}{'…' if len(row['text']) > 300 else ''}\n")
    return EXIT_OK


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import Assistant

    history: list[tuple[str, str]] = []
    if args.history:
        try:
            history = [tuple(turn) for turn in json.loads(args.history.read_text("utf-8"))]
        except (OSError, ValueError, TypeError) as exc:
            raise BronwijzerError(
                f"{args.history}: not a JSON list of [question, answer] ({exc})"
            ) from None
    assistant = Assistant.from_settings(settings)
    answer = assistant.ask(args.question, history=history, filters=Filters.parse(args.filter))
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return EXIT_OK
    if answer.rewritten_question and answer.rewritten_question != args.question:
        print(f"(vraag gelezen als: {answer.rewritten_question})\n")
    print(answer.text)
    if answer.caution:
        print(f"\n{CAUTION_TEXT}")
    print()
    if answer.refused:
        print("Dichtstbijzijnde passages:")
        for scored in answer.passages[:3]:
            p = scored.passage
            print(f"- {p.title} ({p.document}{', ' + p.location() if p.location() else ''})")
    else:
        print("Bronnen:")
        for c in answer.citations:
            page = f", p. {c.page}" if c.page else ""
            print(f"[{c.n}] {c.title} ({c.document}{page})")
    return EXIT_OK


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.store import Index

    index = Index(settings)
    stats = index.stats()
    if args.json:
        data = stats.to_dict() | {
            "documents_list": [
                {"document": d.source, "title": d.title, "pages": d.pages,
                 "passages": d.passages, "publisher": d.publisher, "year": d.year,
                 "document_type": d.document_type}
                for d in index.documents()
            ]
        }
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return EXIT_OK
    for key, value in stats.to_dict().items():
        print(f"{key:16} {value}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.web import serve

    serve(settings, host=args.host, port=args.port)
    return EXIT_OK


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    if args.markdown:
        print(settings_table())
        return EXIT_OK
    from dataclasses import fields

    for f in fields(settings):
        print(f"BRONWIJZER_{f.name.upper():22} = {getattr(settings, f.name)}")
    return EXIT_OK


def cmd_corpus_download(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.sources import SourceCatalogue

    results = SourceCatalogue.load(settings.sources).download(args.to)
    for name, status in results:
        print(f"{status:>12}  {name}" if len(status) <= 12 else f"{name}: {status}")
    failed = [r for r in results if r[1].startswith("not ")]
    return EXIT_PARTIAL if failed else EXIT_OK


def cmd_corpus_list(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.sources import SourceCatalogue

    for source in SourceCatalogue.load(settings.sources).sources:
        year = f" ({source.year})" if source.year else ""
        print(f"{source.title}{year} — {source.publisher or '?'} — {source.file or 'niet lokaal'}")
    return EXIT_OK


# --- output helpers -------------------------------------------------------------------
class _Progress:
    """A rich progress bar with documents and pages per second; silent when not a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                console=Console(stderr=True), transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("documenten", total=None, rate="")
            self._pages = 0
        return self

    def update(self, result: Any, done: int, total: int) -> None:
        if not self._progress:
            return
        self._pages += result.pages or 1
        elapsed = self._progress.tasks[0].elapsed or 1e-9
        rate = f"{done / elapsed:.2f} doc/s · {self._pages / elapsed:.1f} p/s · {result.source}"
        self._progress.update(self._task, completed=done, total=total, rate=rate)

    def __exit__(self, *exc: object) -> None:
        if self._progress:
            self._progress.stop()


def _print_ingest_table(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Bronwijzer ingest")
    for column in ("bestand", "status", "pagina's", "passages", "s", "fout"):
        table.add_column(column)
    for f in report.files:
        table.add_row(f.source, f.status, str(f.pages or ""), str(f.passages),
                      f"{f.seconds:.1f}", f.error or "")
    console = Console(stderr=False, width=160)
    console.print(table)
    summary = report.to_dict()["summary"]
    console.print(
        f"{summary['added']} nieuw, {summary['updated']} bijgewerkt, "
        f"{summary['unchanged']} ongewijzigd, {summary['removed']} verwijderd, "
        f"{summary['failed']} mislukt in {summary['seconds']:.1f} s "
        f"({summary['pages_per_second']:.2f} pagina's/s). Index: "
        f"{summary['index_documents']} documenten, {summary['index_passages']} passages, "
        f"model {summary['embedding_model']}."
    )
    for f in report.failed:
        print(f"fout: {f.path}: {f.error}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
