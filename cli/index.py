"""`bronwijzer ingest|stats|corpus`: building an index and looking at it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cli.common import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, command
from presentation.settings import Settings


def register(sub: Any) -> None:
    p = command(sub, "ingest", cmd_ingest, "Add files and folders (recursive) to the index.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.add_argument("--prune", action="store_true", help="remove documents whose files are gone")

    p = command(sub, "stats", cmd_stats, "Documents, passages and model of an index.")
    p.add_argument("--json", action="store_true")

    corpus = sub.add_parser("corpus", help="The catalogue of source documents.")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", metavar="COMMAND")
    p = command(corpus_sub, "download", cmd_corpus_download,
                "Fetch catalogued documents (needs network).", index=False)
    p.add_argument("--to", type=Path, default=Path("corpus"), help="target folder")
    p.add_argument("--offline-ok", action="store_true",
                   help="without network access, say so in one line and exit 0 (make demo)")
    command(corpus_sub, "list", cmd_corpus_list, "List catalogued documents.", index=False)
    p = command(corpus_sub, "add-law", cmd_corpus_add_law,
                "Add or update a law from regelrecht YAML (a file, a folder of versions, an "
                "http(s) address, or a law's name in the regelrecht corpus) and ingest it.")
    p.add_argument("target", metavar="PATH_OR_URL")
    p.add_argument("--to", type=Path, default=None,
                   help="corpus folder for the versions (default: the catalogue's, corpus/)")
    p.add_argument("--json", action="store_true")


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pipeline import FileResult, Ingestor
    from store.index import Index
    from store.sources import SourceCatalogue

    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"bronwijzer ingest: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    index = Index(settings.index, create=True)
    progress = _Progress(enabled=not args.json and sys.stderr.isatty())

    def on_file_done(result: FileResult, done: int, total: int) -> None:
        progress.update(result, done, total)

    ingestor = Ingestor(
        index, sources=SourceCatalogue.load(settings.index.sources),
        max_bytes=int(settings.index.max_file_mb * 1024 * 1024), on_file_done=on_file_done,
    )
    with progress:
        report = ingestor(args.paths, prune=args.prune)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_ingest_table(report)
    return report.exit_code


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from store.index import Index

    index = Index(settings.index)
    stats = index.stats()
    if args.json:
        data = stats.to_dict() | {
            "documents_list": [
                {"document": d.name, "title": d.title, "pages": d.pages,
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


def cmd_corpus_download(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.download import download
    from store.sources import OFFLINE, SourceCatalogue

    results = download(SourceCatalogue.load(settings.index.sources), args.to)
    offline = [name for name, status in results if status.startswith(OFFLINE)]
    for name, status in results:  # a file already present needs no line
        if name not in offline and status != "present":
            print(f"{status:>12}  {name}" if len(status) <= 12 else f"{name}: {status}")
    if offline:  # one line, not one per file: the cause is the same for all
        present = sum(status == "present" for _, status in results)
        print(f"bronwijzer corpus download: no network access; {len(offline)} documents not "
              f"downloaded, {present} present in {args.to}", file=sys.stderr)
    failed = [name for name, status in results if status.startswith("not ")]
    if args.offline_ok and set(failed) <= set(offline):
        return EXIT_OK
    return EXIT_PARTIAL if failed else EXIT_OK


def cmd_corpus_list(args: argparse.Namespace, settings: Settings) -> int:
    from store.sources import SourceCatalogue

    for source in SourceCatalogue.load(settings.index.sources).sources:
        year = f" ({source.year})" if source.year else ""
        print(f"{source.title}{year} — {source.publisher or '?'} — {source.file or 'niet lokaal'}")
    return EXIT_OK


def cmd_corpus_add_law(args: argparse.Namespace, settings: Settings) -> int:
    """Versions go into the corpus folder under unique names (and, when it is the
    catalogue's folder, into the catalogue with their provenance), then into the index:
    an unchanged version is skipped, a new one added beside the old ones."""
    import datetime

    from ingest.laws import catalogue_entries, collect, place
    from ingest.pipeline import Ingestor
    from store.index import Index
    from store.laws import law_versions
    from store.sources import SourceCatalogue

    catalogue_path = Path(settings.index.sources)
    folder = args.to or catalogue_path.parent
    placed = place(collect(args.target), folder)  # nothing is written unless all are good
    if folder.resolve() == catalogue_path.parent.resolve():
        entries = catalogue_entries(placed, SourceCatalogue.load(catalogue_path))
        if entries:
            with open(catalogue_path, "a", encoding="utf-8") as handle:
                handle.write(entries)
    catalogue = SourceCatalogue.load(catalogue_path)
    index = Index(settings.index, create=True)
    report = Ingestor(index, sources=catalogue,
                      max_bytes=int(settings.index.max_file_mb * 1024 * 1024)
                      )([law.path for law in placed])
    today = datetime.date.today()
    versions = law_versions(index.documents(), catalogue)
    results = {f.path: f for f in report.files}
    rows = []
    for law in placed:
        result = results.get(str(law.path))
        current = versions.in_force(law.bwb_id, today, indexed_only=True)
        source = catalogue.source(law.name)
        rows.append({"document": law.name, "law": law.bwb_id,
                     "title": source.title if source else law.title,
                     "valid_from": law.valid_from, "file": law.status,
                     "index": result.status if result else "failed",
                     "passages": result.passages if result else 0,
                     "error": result.error if result else None,
                     "in_force_today": current.document if current else None})
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return report.exit_code
    for row in rows:
        state = {"added": "toegevoegd", "updated": "bijgewerkt", "unchanged": "ongewijzigd",
                 "failed": "mislukt"}.get(row["index"], row["index"])
        print(f"{state:>11}  {row['title']}, versie geldend vanaf {row['valid_from']} "
              f"({row['document']}, {row['passages']} passages)"
              + (f": {row['error']}" if row["error"] else ""))
    for bwb in dict.fromkeys(row["law"] for row in rows):
        current = versions.in_force(bwb, today, indexed_only=True)
        count = sum(v.indexed for v in versions.versions(bwb))
        print(f"{bwb}: {count} versie(s) in de index; geldend op {today.isoformat()}: "
              f"{current.document if current else 'geen'}")
    return report.exit_code


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
        rate = f"{done / elapsed:.2f} doc/s · {self._pages / elapsed:.1f} p/s · {result.document}"
        self._progress.update(self._task, completed=done, total=total, rate=rate)

    def __exit__(self, *exc: object) -> None:
        if self._progress:
            self._progress.stop()


def _print_ingest_table(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from ingest.load import SUPPORTED_SUFFIXES

    table = Table(title="Bronwijzer ingest")
    for column in ("bestand", "status", "pagina's", "passages", "s", "fout / reden"):
        table.add_column(column)
    for f in report.files:
        skipped = f.status == "skipped"  # nothing was read: empty numbers, not zeros
        table.add_row(f.document, f.status, str(f.pages or ""),
                      "" if skipped else str(f.passages), "" if skipped else f"{f.seconds:.1f}",
                      f.error or f.reason or "")
    console = Console(stderr=False, width=160)
    console.print(table)
    summary = report.to_dict()["summary"]
    # pages only where documents have them (PDF, PPTX): a folder of laws has none
    rate = f"{summary['passages_per_second']:.1f} passages/s"
    if summary["pages_per_second"] and any(f.pages for f in report.files):
        rate += f", {summary['pages_per_second']:.2f} pagina's/s"
    console.print(
        f"{summary['added']} nieuw, {summary['updated']} bijgewerkt, "
        f"{summary['unchanged']} ongewijzigd, {summary['removed']} verwijderd, "
        f"{summary['skipped']} overgeslagen, "
        f"{summary['failed']} mislukt in {summary['seconds']:.1f} s "
        f"({rate}). Index: "
        f"{summary['index_documents']} documenten, {summary['index_passages']} passages, "
        f"model {summary['embedding_model']}."
    )
    if any(f.status == "skipped" and "niet ondersteund" in (f.reason or "")
           for f in report.files):  # say once what would have been read
        console.print(f"Ondersteunde formats: {', '.join(sorted(SUPPORTED_SUFFIXES))}.")
    for f in report.failed:
        print(f"fout: {f.path}: {f.error}", file=sys.stderr)

