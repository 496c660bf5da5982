"""Load source files (PDF, Markdown, text, HTML, DOCX, ODT, RTF, PPTX, regelrecht YAML) into
cleaned Documents.

This module is the entry point: `scan` expands files and folders into supported files
and accounts for every other file it meets (skipped, with a Dutch reason the user
sees), and `load_document` reads one file (with the size limit), hands its bytes to the
loader for its suffix from the registry in `ingest.loaders` (one module per format),
and adds the common Document fields. Every format but PDF and PPTX is first turned into
a flat list of events (headings and paragraphs); one shared builder in
`ingest.loaders.structure` then turns events into Blocks with a heading path. PDFs and
presentations are handled page by page (slide by slide) instead, so every block knows
its page.

Every bad input becomes an IngestError with a one-line reason; no raw exception
escapes `load_document`.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bronwijzer.domain import Document, IngestError
from bronwijzer.settings import env_name
from bronwijzer.text import error_line
from ingest.loaders import LOADERS
from ingest.loaders.pdf import split_pdf_paragraphs
from ingest.loaders.structure import (
    SectionTracker,
    decode_text,
    normalise_heading,
    split_paragraphs,
    strip_markdown_inline,
)

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Discovery",
    "SectionTracker",
    "SkippedFile",
    "decode_text",
    "discover",
    "load_document",
    "normalise_heading",
    "scan",
    "split_paragraphs",
    "split_pdf_paragraphs",
    "strip_markdown_inline",
]

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(LOADERS)
_MB = 1024 * 1024


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class SkippedFile:
    """A file that is deliberately not ingested, and why (in Dutch: shown to users as is)."""

    path: str
    reason: str


@dataclass
class Discovery:
    """What `scan` found: files to load, paths that are errors, and everything skipped."""

    files: list[Path] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


# Files that operating systems and office suites leave next to documents. They are never
# documents themselves, so "format wordt niet ondersteund" would send users looking for a
# converter; they get a reason of their own.
_OS_DEBRIS = {
    "thumbs.db": "miniaturen van Windows",
    "ehthumbs.db": "miniaturen van Windows",
    "desktop.ini": "mapinstellingen van Windows",
    ".ds_store": "mapinstellingen van macOS",
}
# A hidden folder (.git, .venv, ...) can hold many thousands of files: it is listed as one
# row with a count, and counting stops here so a huge one cannot stall the scan.
_HIDDEN_COUNT_LIMIT = 10_000
# the corpus catalogue sits beside the documents it describes (corpus/sources.toml)
CATALOGUE_NAME = "sources.toml"


def scan(paths: Iterable[str | Path], *, own_folders: Iterable[Path] = ()) -> Discovery:
    """Expand files and folders into supported files (absolute, sorted, no duplicates).

    Every other file met on the way is listed in `skipped` with its reason: unsupported
    formats, OS and Office debris, and (in folders) hidden files; a hidden folder, a folder
    link and one of `own_folders` (the index being written, when it lies inside a folder
    being ingested) are one entry each. A path that does not exist is an IngestError. A
    hidden file named explicitly is loaded: naming it says it is meant.
    """
    found = Discovery()
    own = {Path(folder).expanduser().resolve() for folder in own_folders}
    for raw_path in paths:
        path = Path(raw_path).expanduser().resolve()
        if path in own:
            found.skipped.append(SkippedFile(str(path), _OWN_FOLDER))
        elif path.is_dir():
            found.files.extend(_walk_folder(path, found, own))
        elif path.is_file():
            reason = _skip_reason(path, in_folder=False)
            if reason:
                found.skipped.append(SkippedFile(str(path), reason))
            else:
                found.files.append(path)
        elif path.exists():  # a pipe or device: reading it could block forever
            found.skipped.append(SkippedFile(str(path), _NOT_REGULAR))
        else:
            found.errors.append(IngestError(str(path), "file or folder not found"))
    found.files = _unique(found.files)
    found.skipped = _unique_skipped(found.skipped)
    return found


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[IngestError]]:
    """`scan` without the skipped files, for callers that only want what can be loaded."""
    found = scan(paths)
    return found.files, found.errors


_NOT_REGULAR = "geen gewoon bestand (pipe, socket of apparaat)"
_OWN_FOLDER = "map van de Bronwijzer-index zelf, niet doorzocht"


def _walk_folder(folder: Path, found: Discovery, own: set[Path]) -> list[Path]:
    def on_error(exc: OSError) -> None:
        found.errors.append(
            IngestError(str(exc.filename or folder), f"cannot read folder ({exc})"))

    files: list[Path] = []
    for root, dirnames, filenames in os.walk(folder, onerror=on_error):
        kept = []
        for name in sorted(dirnames):
            sub = Path(root) / name
            if sub.is_symlink():  # os.walk does not follow links (cycles); say so
                found.skipped.append(SkippedFile(str(sub), "koppeling naar een map, niet gevolgd"))
            elif sub in own:  # its database files are not documents, one row says so
                found.skipped.append(SkippedFile(str(sub), _OWN_FOLDER))
            elif name.startswith("."):
                found.skipped.append(SkippedFile(str(sub), _hidden_folder_reason(sub)))
            else:
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            file = Path(root) / name
            reason = _skip_reason(file, in_folder=True)
            if reason:
                found.skipped.append(SkippedFile(str(file), reason))
            else:
                files.append(file)
    return sorted(files)


def _skip_reason(path: Path, *, in_folder: bool) -> str | None:
    """Why a file is not loaded, or None to load it. Debris is checked before hidden
    (".DS_Store" is both) so the more telling reason wins."""
    name = path.name
    debris = _OS_DEBRIS.get(name.lower())
    if debris:
        return f"systeembestand ({debris}), geen document"
    if name.startswith("~$"):
        return "tijdelijk vergrendelbestand van Office (~$), geen document"
    if name.startswith(".~lock.") and name.endswith("#"):
        return "vergrendelbestand van LibreOffice, geen document"
    if name.startswith("._"):
        return "metadata van macOS (._), geen document"
    if name.lower() == CATALOGUE_NAME:
        return "de catalogus van het corpus (metadata per document), geen document"
    if in_folder and name.startswith("."):
        return "verborgen bestand (naam begint met een punt)"
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return _NOT_REGULAR
    except OSError:  # a dangling link: let loading say "file not found" as a failure
        pass
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return _format_not_supported(path)
    return None


def _format_not_supported(path: Path) -> str:
    """The Dutch reason for a format without a loader."""
    if not path.suffix:
        return "bestand zonder extensie: format wordt niet ondersteund"
    return f"format {path.suffix.lower()} wordt niet ondersteund"


def _hidden_folder_reason(folder: Path) -> str:
    count = 0
    for _root, _dirs, names in os.walk(folder):
        count += len(names)
        if count >= _HIDDEN_COUNT_LIMIT:
            limit = f"{_HIDDEN_COUNT_LIMIT:,}".replace(",", ".")  # Dutch thousands
            return f"{_HIDDEN_FOLDER}: meer dan {limit} bestanden"
    return f"{_HIDDEN_FOLDER}: {count} {'bestand' if count == 1 else 'bestanden'}"


_HIDDEN_FOLDER = "verborgen map (naam begint met een punt), niet doorzocht"


def _unique(paths: list[Path]) -> list[Path]:
    seen: set[Path] = set()
    unique = []
    for path in paths:
        if path not in seen:
            seen.add(path)
            unique.append(path)
    return unique


def _unique_skipped(skipped: list[SkippedFile]) -> list[SkippedFile]:
    seen: set[str] = set()
    unique = []
    for entry in skipped:
        if entry.path not in seen:
            seen.add(entry.path)
            unique.append(entry)
    return unique


def _unsupported_reason(path: Path) -> str:
    suffix = path.suffix or "(none)"
    return f"unsupported extension {suffix}, supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"


# --------------------------------------------------------------------------- entry point


def load_document(path: str | Path, *, max_bytes: int | None = None) -> Document:
    """Load and clean one file into a Document; raise IngestError for any bad input."""
    absolute = Path(path).expanduser().resolve()
    try:
        return _load(absolute, max_bytes)
    except IngestError:
        raise
    except Exception as exc:  # a loader bug or library surprise: still one clear line
        raise IngestError(str(absolute), f"unexpected error ({error_line(exc)})") from exc


def _load(path: Path, max_bytes: int | None) -> Document:
    where = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(where, _unsupported_reason(path))
    raw = _read_bytes(path, max_bytes)
    parsed = LOADERS[suffix](raw, where)
    if not any(block.text.strip() for block in parsed.blocks):
        raise IngestError(where, "no text found")
    return Document(
        path=where,
        name=parsed.name or path.name,
        sha256=hashlib.sha256(raw).hexdigest(),
        title=parsed.title or _title_from_file_name(path),
        blocks=parsed.blocks,
        publisher=parsed.publisher,
        year=parsed.year,
        document_type=parsed.document_type,
        pages=parsed.pages,
        bwb_id=parsed.bwb_id,
        valid_from=parsed.valid_from,
        version_date=parsed.valid_from,
        publication_date=parsed.publication_date,
        regulatory_layer=parsed.regulatory_layer,
        current_url=f"https://wetten.overheid.nl/{parsed.bwb_id}" if parsed.bwb_id else None,
    )


def _read_bytes(path: Path, max_bytes: int | None) -> bytes:
    where = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise IngestError(where, "file not found") from None
    except OSError as exc:
        raise IngestError(where, f"cannot read file ({exc.strerror or exc})") from None
    if path.is_dir():
        raise IngestError(where, "is a folder, not a file")
    if size == 0:
        raise IngestError(where, "empty file (0 bytes)")
    if max_bytes is not None and size > max_bytes:
        raise IngestError(
            where,
            f"file is {size / _MB:.1f} MB, larger than the limit of {_format_limit(max_bytes)} "
            f"({env_name('max_file_mb')})",
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IngestError(where, f"cannot read file ({exc.strerror or exc})") from None


def _format_limit(max_bytes: int) -> str:
    if max_bytes % _MB == 0:
        return f"{max_bytes // _MB} MB"
    return f"{max_bytes / _MB:.1f} MB" if max_bytes >= _MB // 10 else f"{max_bytes} bytes"


def _title_from_file_name(path: Path) -> str:
    return " ".join(path.stem.replace("_", " ").split())
