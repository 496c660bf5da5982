"""Load source files (PDF, Markdown, text, HTML, DOCX, ODT) into cleaned Documents.

This module is the entry point: `discover` expands files and folders into supported
files, and `load_document` reads one file (with the size limit), hands its bytes to the
loader for its suffix from the registry in `ingest.loaders` (one module per format),
and adds the common Document fields. Every format but PDF is first turned into a flat
list of events (headings and paragraphs); one shared builder in
`ingest.loaders.structure` then turns events into Blocks with a heading path. PDFs are
the exception: they are handled page by page so every block knows its page.

Every bad input becomes an IngestError with a one-line reason; no raw exception
escapes `load_document`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from bronwijzer.domain import Document, IngestError
from ingest.loaders import LOADERS
from ingest.loaders.pdf import split_pdf_paragraphs
from ingest.loaders.structure import (
    SectionTracker,
    _short_cause,
    decode_text,
    normalise_heading,
    split_paragraphs,
    strip_markdown_inline,
)

__all__ = [
    "SUPPORTED_SUFFIXES",
    "SectionTracker",
    "decode_text",
    "discover",
    "load_document",
    "normalise_heading",
    "split_paragraphs",
    "split_pdf_paragraphs",
    "strip_markdown_inline",
]

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".pdf", ".md", ".markdown", ".txt", ".html", ".htm", ".docx", ".odt"}
)
_MB = 1024 * 1024


# --------------------------------------------------------------------------- discovery


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[IngestError]]:
    """Expand files and folders into supported files (absolute, sorted, no duplicates).

    Folders are walked recursively, skipping hidden files and folders and files with
    unsupported extensions. A file named explicitly with an unsupported extension, or
    a path that does not exist, is reported as an IngestError instead.
    """
    found: list[Path] = []
    errors: list[IngestError] = []
    for raw_path in paths:
        path = Path(raw_path).expanduser().resolve()
        if path.is_dir():
            found.extend(_walk_folder(path, errors))
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(path)
            else:
                errors.append(IngestError(str(path), _unsupported_reason(path)))
        else:
            errors.append(IngestError(str(path), "file or folder not found"))
    return _unique(found), errors


def _walk_folder(folder: Path, errors: list[IngestError]) -> list[Path]:
    def on_error(exc: OSError) -> None:
        errors.append(IngestError(str(exc.filename or folder), f"cannot read folder ({exc})"))

    files: list[Path] = []
    for root, dirnames, filenames in os.walk(folder, onerror=on_error):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            file = Path(root) / name
            if not name.startswith(".") and file.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(file)
    return sorted(files)


def _unique(paths: list[Path]) -> list[Path]:
    seen: set[Path] = set()
    unique = []
    for path in paths:
        if path not in seen:
            seen.add(path)
            unique.append(path)
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
        raise IngestError(str(absolute), f"unexpected error ({_short_cause(exc)})") from exc


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
        name=path.name,
        sha256=hashlib.sha256(raw).hexdigest(),
        title=parsed.title or _title_from_file_name(path),
        blocks=parsed.blocks,
        publisher=parsed.publisher,
        year=parsed.year,
        document_type=parsed.document_type,
        pages=parsed.pages,
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
            "(BRONWIJZER_MAX_FILE_MB)",
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
