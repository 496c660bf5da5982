"""Source documents of the corpus as comparable text, and quote matching against them.

Dataset quotes are checked against this text (see evals.dataset.check_quotes): whitespace
is normalised on both sides and hyphenation split over a line is forgiven.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

from bronwijzer.domain import BronwijzerError, Document
from bronwijzer.text import flatten_whitespace

# Hyphenation differences: "ver- keer" / "ver-\nkeer" in one text and "verkeer" in the other.
_SPLIT_HYPHEN = re.compile(r"(?<=\w)[-\u00ad]\s+(?=[a-zà-ÿ])")
_SOFT_HYPHEN = "\u00ad"


def comparable(text: str) -> str:
    """Whitespace-normalised text: what quotes are compared on."""
    return flatten_whitespace(text.replace(_SOFT_HYPHEN, ""))


@lru_cache(maxsize=1024)  # document texts are dehyphenated once, not once per quote
def dehyphenated(text: str) -> str:
    """`comparable` with line-split hyphenation joined ("ver- keer" → "verkeer")."""
    return _SPLIT_HYPHEN.sub("", comparable(text))


@dataclass
class SourceText:
    """A loaded source document as comparable text: all of it and per page."""

    document: Document
    full: str = ""
    pages: dict[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, document: Document) -> SourceText:
        by_page: dict[int, list[str]] = {}
        for block in document.blocks:
            if block.page is not None:
                by_page.setdefault(block.page, []).append(block.text)
        return cls(
            document=document,
            full=comparable(" ".join(b.text for b in document.blocks)),
            pages={page: comparable(" ".join(texts)) for page, texts in by_page.items()},
        )

    @property
    def paged(self) -> bool:
        return bool(self.pages)

    def pages_containing(self, quote: str) -> list[int]:
        """Pages on which the quote starts (a quote may run onto the next page)."""
        found = []
        for page in sorted(self.pages):
            spread = self.pages[page] + " " + self.pages.get(page + 1, "")
            text = self.pages[page]
            if contains(text, quote) or (
                contains(spread, quote) and _starts_on_first_page(text, spread, quote)
            ):
                found.append(page)
        return found


def contains(text: str, quote: str) -> bool:
    """Quote occurs in the text after whitespace normalisation, or after joining hyphenation."""
    quote = comparable(quote)
    return quote in text or dehyphenated(quote) in dehyphenated(text)


def _starts_on_first_page(page_text: str, spread: str, quote: str) -> bool:
    # the quote's first words must end the page: otherwise it lies wholly on the next page
    words = comparable(quote).split()
    head = " ".join(words[: max(1, len(words) // 3)])
    at = dehyphenated(spread).find(dehyphenated(head))
    return 0 <= at < len(dehyphenated(page_text))


class SourceLibrary:
    """Loads corpus documents once (by file name) for quote checks.

    Loaded texts are shared by every library in the process, keyed by the file's path,
    size and modification time: one validation run checks quotes, locators and passages
    of the same documents, and a changed file is loaded afresh."""

    _shared: ClassVar[dict[tuple[str, int, int], SourceText | str]] = {}

    def __init__(self, corpus: str | Path) -> None:
        self.corpus = Path(corpus)

    def _key(self, name: str) -> tuple[str, int, int] | None:
        try:
            stat = (self.corpus / name).stat()
        except OSError:
            return None
        return str((self.corpus / name).resolve()), stat.st_size, stat.st_mtime_ns

    def preload(self, names: Iterable[str]) -> None:
        """Load several documents in parallel: PDF text extraction dominates `eval check`."""
        todo = sorted(n for n in set(names) if self._key(n) not in self._shared)
        workers = min(len(todo), os.cpu_count() or 1)
        if workers < 2:
            return
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for name, loaded in zip(todo, pool.map(_load_source, [self.corpus] * len(todo), todo),
                                    strict=True):
                self._remember(name, loaded)

    def get(self, name: str) -> SourceText | str:
        """The document's text, or a problem description when it cannot be loaded."""
        key = self._key(name)
        if key is None or key not in self._shared:
            loaded = _load_source(self.corpus, name)
            self._remember(name, loaded)
            return loaded
        return self._shared[key]

    def _remember(self, name: str, loaded: SourceText | str) -> None:
        key = self._key(name)
        if key is not None and Path(name).name == name:
            self._shared[key] = loaded


def _load_source(corpus: Path, name: str) -> SourceText | str:
    from ingest.load import load_document

    path = corpus / name
    if Path(name).name != name or not path.is_file():
        return f"no file {name} in {corpus}"
    try:
        return SourceText.of(load_document(path))
    except BronwijzerError as exc:
        return f"cannot load {name} ({exc})"
