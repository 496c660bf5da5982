"""Format loaders: one module per file format, and the registry that picks one.

Each loader takes the raw bytes of a file and where it came from (for error messages)
and returns a `Parsed` (blocks plus metadata), raising IngestError for bad input.
`LOADERS` maps a lower-case file suffix to its loader; `ingest.load` uses it.
Shared structure code (events, heading paths, paragraph splitting) is in `structure`.
"""

from __future__ import annotations

from collections.abc import Callable

from ingest.loaders.docx import load_docx
from ingest.loaders.html import load_html
from ingest.loaders.markdown import load_markdown
from ingest.loaders.odt import load_odt
from ingest.loaders.pdf import load_pdf
from ingest.loaders.pptx import load_pptx
from ingest.loaders.regelrecht import load_regelrecht
from ingest.loaders.rtf import load_rtf
from ingest.loaders.structure import Parsed

__all__ = ["LOADERS"]

LOADERS: dict[str, Callable[[bytes, str], Parsed]] = {
    ".pdf": load_pdf,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".docx": load_docx,
    ".odt": load_odt,
    ".rtf": load_rtf,
    ".pptx": load_pptx,
    ".yaml": load_regelrecht,  # a law version in the regelrecht format
    ".yml": load_regelrecht,
}
