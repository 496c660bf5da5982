"""Format loaders: one module per file format, and the registry that picks one.

Each loader takes the raw bytes of a file and where it came from (for error messages)
and returns a `_Parsed` (blocks plus metadata), raising IngestError for bad input.
`LOADERS` maps a lower-case file suffix to its loader; `ingest.load` uses it.
Shared structure code (events, heading paths, paragraph splitting) is in `structure`.
"""

from __future__ import annotations

from collections.abc import Callable

from ingest.loaders.docx import _load_docx
from ingest.loaders.html import _load_html
from ingest.loaders.markdown import _load_markdown
from ingest.loaders.odt import _load_odt
from ingest.loaders.pdf import _load_pdf
from ingest.loaders.pptx import _load_pptx
from ingest.loaders.regelrecht import _load_regelrecht
from ingest.loaders.rtf import _load_rtf
from ingest.loaders.structure import _Parsed

__all__ = ["LOADERS"]

LOADERS: dict[str, Callable[[bytes, str], _Parsed]] = {
    ".pdf": _load_pdf,
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".txt": _load_markdown,
    ".html": _load_html,
    ".htm": _load_html,
    ".docx": _load_docx,
    ".odt": _load_odt,
    ".rtf": _load_rtf,
    ".pptx": _load_pptx,
    ".yaml": _load_regelrecht,  # a law version in the regelrecht format
    ".yml": _load_regelrecht,
}
