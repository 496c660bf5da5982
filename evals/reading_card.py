"""The reading set's data card tables: counts per type, kind, document and split.

`bronwijzer reading card` prints them; evals/datasets/reading/README.md holds the same
tables between markers, and a test keeps the two equal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from evals.reading import KINDS, TYPES, ReadingItem

BEGIN, END = "<!-- reading-card:begin -->", "<!-- reading-card:end -->"


def passage_keys(items: Sequence[ReadingItem], corpus: Path,
                 count_tokens: Callable[[str], int], max_tokens: int = 512) -> dict[str, str]:
    """The Bronwijzer passage (document and ordinal) in which each quote starts, chunked as
    an ingest with the default settings chunks it."""
    from evals.source_text import SourceLibrary
    from ingest.chunk import Chunker
    from store.options import IndexOptions

    options = IndexOptions()
    chunker = Chunker(count_tokens, max_tokens=max_tokens, target_tokens=options.chunk_tokens,
                      overlap_tokens=options.chunk_overlap_tokens)
    keys: dict[str, str] = {}
    by_document: dict[str, list[ReadingItem]] = {}
    for item in items:
        if item.answerable and item.document:
            by_document.setdefault(item.document, []).append(item)
    library = SourceLibrary(corpus)
    library.preload(by_document)
    for name, members in by_document.items():
        source = library.get(name)
        if isinstance(source, str):
            continue
        passages = chunker(source.document)
        flat = [" ".join(p.text.split()) for p in passages]
        for item in members:
            head = " ".join(item.quote.split()[:8])
            ordinal = next((n for n, text in enumerate(flat) if head in text), None)
            if ordinal is not None:
                keys[item.id] = f"{name}#{ordinal}"
    return keys


def card_tables(items: Sequence[ReadingItem], passages: dict[str, str] | None = None) -> str:
    """Markdown tables of the set, in a fixed order."""
    answerable = [i for i in items if i.answerable]
    unanswerable = [i for i in items if not i.answerable]
    lines = [
        "| | train | dev | all |", "|---|---:|---:|---:|",
        _row("answerable", answerable), _row("unanswerable", unanswerable),
    ]
    if passages is not None:
        by_split = {s: {passages[i.id] for i in answerable if i.split == s and i.id in passages}
                    for s in ("train", "dev")}
        lines.append(f"| different passages | {len(by_split['train'])} | "
                     f"{len(by_split['dev'])} | {len(set(passages.values()))} |")
    lines += ["", "| answerable, by type | train | dev | all |", "|---|---:|---:|---:|"]
    lines += [_row(t, [i for i in answerable if i.type == t]) for t in TYPES]
    lines += ["", "| unanswerable, by kind | train | dev | all |", "|---|---:|---:|---:|"]
    lines += [_row(k, [i for i in unanswerable if i.kind == k]) for k in KINDS]
    lines += ["", "| document | split | answerable | unanswerable |", "|---|---|---:|---:|"]
    documents = Counter(i.document for i in items if i.document)
    for name in sorted(documents):
        mine = [i for i in items if i.document == name]
        lines.append(f"| `{name}` | {mine[0].split} | {sum(i.answerable for i in mine)} | "
                     f"{sum(not i.answerable for i in mine)} |")
    return "\n".join(lines) + "\n"


def _row(label: str, items: Sequence[ReadingItem]) -> str:
    train = sum(i.split == "train" for i in items)
    return f"| {label} | {train} | {len(items) - train} | {len(items)} |"


def replace_tables(text: str, tables: str, begin: str = BEGIN, end: str = END) -> str:
    """The text with the generated part between two markers replaced (the card's tables by
    default; the README's learning curve too)."""
    if begin not in text or end not in text:
        raise ValueError(f"no {begin} … {end} section")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{tables}{end}{tail}"
