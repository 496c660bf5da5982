"""Evaluation datasets: load JSONL items, validate their shape, and check quotes against sources.

One item per line::

    {"id": "hc-001", "question": "…", "answerable": true, "reference_answer": "…",
     "evidence": [{"document": "<source file name>", "quote": "<verbatim span>", "page": 3}],
     "tags": ["fact"],
     "follow_up": {"question": "…", "standalone": "…", "evidence": [{…}]}}

`page` is optional (non-paged documents) and so is `follow_up`. An unanswerable item
has "answerable": false and empty `evidence` and `reference_answer`. `split` ("tune" or
"test") is the fixed half an item belongs to: defaults are chosen on tune, reported on
test (`bronwijzer eval split` assigns it once).

Validation never stops at the first problem: every error names the item id and the
field, so a dataset author can fix them all in one pass.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bronwijzer.domain import BronwijzerError
from evals.source_text import SourceLibrary, contains

QUOTE_MIN_WORDS = 8
SPLITS = ("tune", "test")
QUOTE_MAX_WORDS = 40


class DatasetError(BronwijzerError):
    """A dataset that cannot be used; the message lists every problem found."""

    def __init__(self, path: str | Path, problems: list[str]) -> None:
        shown = "\n  ".join(problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{path}: {len(problems)} problem(s):\n  {shown}{more}")
        self.problems = problems


@dataclass(frozen=True)
class Evidence:
    document: str  # source file name, as Passage.document
    quote: str  # verbatim span of the document
    page: int | None = None  # 1-based page for paged documents

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"document": self.document, "quote": self.quote}
        if self.page is not None:
            data["page"] = self.page
        return data


@dataclass(frozen=True)
class FollowUp:
    question: str  # asked in conversation, after the item's question and answer
    standalone: str  # the same question made self-contained
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    answerable: bool
    reference_answer: str
    evidence: tuple[Evidence, ...]
    tags: tuple[str, ...] = ()
    follow_up: FollowUp | None = None
    line: int = 0  # 1-based line in the JSONL file, for error messages
    split: str = ""  # "tune" (choose defaults on it) or "test" (report on it); "" = unsplit


@dataclass(frozen=True)
class DatasetSummary:
    items: int
    answerable: int
    unanswerable: int
    follow_ups: int
    documents: dict[str, int]  # evidence entries per document
    tags: dict[str, int]
    splits: dict[str, int]

    def lines(self) -> list[str]:
        out = [
            f"items         {self.items}",
            f"answerable    {self.answerable}",
            f"unanswerable  {self.unanswerable}",
            f"follow-ups    {self.follow_ups}",
            f"documents     {len(self.documents)}",
        ]
        out += [f"  {count:4d}  {name}" for name, count in sorted(self.documents.items())]
        out.append("splits        "
                   + ", ".join(f"{s} ({n})" for s, n in sorted(self.splits.items())))
        out.append("tags          " + ", ".join(f"{t} ({n})" for t, n in sorted(self.tags.items())))
        return out


# --- loading --------------------------------------------------------------------------------
def load_dataset(path: str | Path) -> list[Item]:
    """Items of a JSONL dataset; raises DatasetError listing every shape problem."""
    items, problems = parse_dataset(path)
    if problems:
        raise DatasetError(path, problems)
    return items


def parse_dataset(path: str | Path) -> tuple[list[Item], list[str]]:
    """Items that parsed, and one message per problem (JSON, fields, types, ids, consistency)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(path, [f"cannot read: {exc}"]) from None
    items: list[Item] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        item, item_problems = parse_item(raw, number)
        problems += item_problems
        if item is not None:
            items.append(item)
    problems += _duplicate_id_problems(items)
    if not items and not problems:
        problems.append("no items")
    return items, problems


def parse_item(raw: Any, line: int = 0) -> tuple[Item | None, list[str]]:
    """An Item from one decoded JSON line, or None, plus the problems found in it."""
    if not isinstance(raw, dict):
        return None, [f"line {line}: expected a JSON object, got {type(raw).__name__}"]
    label = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else f"line {line}"
    problems: list[str] = []

    def need(name: str, kind: type | tuple[type, ...], where: dict[str, Any] = raw,
             prefix: str = "") -> Any:
        if name not in where:
            problems.append(f"{label}: missing field {prefix}{name}")
            return None
        value = where[name]
        # bool is an int subclass: keep booleans out of integer fields and vice versa
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            problems.append(f"{label}: {prefix}{name} must be {names}, got {type(value).__name__}")
            return None
        return value

    item_id = need("id", str)
    question = need("question", str)
    answerable = need("answerable", bool)
    reference = need("reference_answer", str)
    evidence = _parse_evidence(need("evidence", list), label, "evidence", problems)
    tags = need("tags", list) if "tags" in raw else []
    if tags is not None and not all(isinstance(t, str) for t in tags):
        problems.append(f"{label}: tags must be a list of strings")
        tags = None
    follow_up = None
    if raw.get("follow_up") is not None:
        follow_up = _parse_follow_up(raw["follow_up"], label, problems)
    split = raw.get("split", "")
    if split not in ("", *SPLITS):
        problems.append(f"{label}: split must be one of {', '.join(SPLITS)}, not {split!r}")
    unknown = set(raw) - {"id", "question", "answerable", "reference_answer", "evidence",
                          "tags", "follow_up", "split"}
    if unknown:
        problems.append(f"{label}: unknown field(s) {', '.join(sorted(unknown))}")
    if isinstance(question, str) and not question.strip():
        problems.append(f"{label}: question is empty")
    if answerable is True:
        if evidence == ():
            problems.append(f"{label}: evidence is empty but answerable is true")
        if isinstance(reference, str) and not reference.strip():
            problems.append(f"{label}: reference_answer is empty but answerable is true")
    if answerable is False:
        if evidence:
            problems.append(f"{label}: evidence must be empty when answerable is false")
        if reference:
            problems.append(f"{label}: reference_answer must be empty when answerable is false")
        if follow_up is not None:
            problems.append(f"{label}: follow_up is only allowed on answerable items")
    if problems or item_id is None or question is None or answerable is None:
        return None, problems
    return Item(
        id=item_id, question=question, answerable=answerable, reference_answer=reference or "",
        evidence=evidence or (), tags=tuple(tags or ()), follow_up=follow_up, line=line,
        split=split,
    ), problems


def _parse_follow_up(raw: Any, label: str, problems: list[str]) -> FollowUp | None:
    if not isinstance(raw, dict):
        problems.append(f"{label}: follow_up must be an object")
        return None
    values: dict[str, str] = {}
    for name in ("question", "standalone"):
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{label}: follow_up.{name} must be a non-empty string")
        else:
            values[name] = value
    if not isinstance(raw.get("evidence"), list):
        problems.append(f"{label}: follow_up.evidence must be a list")
        return None
    evidence = _parse_evidence(raw["evidence"], label, "follow_up.evidence", problems)
    if evidence == ():
        problems.append(f"{label}: follow_up.evidence is empty")
    if evidence is None or len(values) < 2:
        return None
    return FollowUp(values["question"], values["standalone"], evidence)


def _parse_evidence(raw: list | None, label: str, where: str,
                    problems: list[str]) -> tuple[Evidence, ...] | None:
    if raw is None:
        return None
    entries: list[Evidence] = []
    ok = True
    for n, entry in enumerate(raw):
        here = f"{label}: {where}[{n}]"
        if not isinstance(entry, dict):
            problems.append(f"{here} must be an object")
            ok = False
            continue
        document, quote, page = entry.get("document"), entry.get("quote"), entry.get("page")
        if not isinstance(document, str) or not document.strip():
            problems.append(f"{here}.document must be a non-empty string")
            ok = False
        if not isinstance(quote, str) or not quote.strip():
            problems.append(f"{here}.quote must be a non-empty string")
            ok = False
        elif not QUOTE_MIN_WORDS <= len(quote.split()) <= QUOTE_MAX_WORDS:
            problems.append(f"{here}.quote has {len(quote.split())} words "
                            f"(expected {QUOTE_MIN_WORDS}–{QUOTE_MAX_WORDS})")
        if page is not None and (not isinstance(page, int) or isinstance(page, bool) or page < 1):
            problems.append(f"{here}.page must be a positive integer (1-based)")
            ok = False
        unknown = set(entry) - {"document", "quote", "page"}
        if unknown:
            problems.append(f"{here}: unknown field(s) {', '.join(sorted(unknown))}")
        if ok:
            entries.append(Evidence(document, quote, page))
    return tuple(entries) if ok else None


def _duplicate_id_problems(items: list[Item]) -> list[str]:
    lines: dict[str, list[int]] = {}
    for item in items:
        lines.setdefault(item.id, []).append(item.line)
    return [f"{item_id}: duplicate id (lines {', '.join(map(str, where))})"
            for item_id, where in lines.items() if len(where) > 1]


def assign_splits(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every row without a split one, half tune and half test, fixed once written.

    Stratified so both halves cover the same documents and kinds: rows are grouped by
    the document of their first evidence (unanswerables by their first tag), and within
    a group alternate tune/test in id order, starting where the group's name hashes to.
    Rows that already have a split keep it, so adding items never moves old ones.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if not row.get("split"):
            groups.setdefault(_stratum(row), []).append(row)
    for name, members in groups.items():
        start = hashlib.sha256(name.encode("utf-8")).digest()[0] % 2
        for n, row in enumerate(sorted(members, key=lambda r: str(r.get("id")))):
            row["split"] = SPLITS[(start + n) % 2]
    return rows


def _stratum(row: dict[str, Any]) -> str:
    evidence = row.get("evidence") or []
    if evidence and isinstance(evidence[0], dict):
        return f"document:{evidence[0].get('document')}"
    tags = row.get("tags") or ["unanswerable"]
    return f"unanswerable:{tags[0]}"


def select_split(items: list[Item], split: str | None) -> tuple[list[Item], str]:
    """The items of `split` (tune, test or all); None = test when the dataset is split."""
    if split is None:
        split = "test" if any(item.split for item in items) else "all"
    if split == "all":
        return items, split
    chosen = [item for item in items if item.split == split]
    if not chosen:
        raise BronwijzerError(f"no items with split {split!r} in this dataset "
                              "(run `bronwijzer eval split DATASET` to assign halves)")
    return chosen, split


def summarize(items: Iterable[Item]) -> DatasetSummary:
    items = list(items)
    documents: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    for item in items:
        tags.update(item.tags)
        for evidence in _all_evidence(item):
            documents[evidence.document] += 1
    answerable = sum(item.answerable for item in items)
    return DatasetSummary(
        items=len(items), answerable=answerable, unanswerable=len(items) - answerable,
        follow_ups=sum(item.follow_up is not None for item in items),
        documents=dict(documents), tags=dict(tags),
        splits=dict(Counter(item.split or "none" for item in items)),
    )


def _all_evidence(item: Item) -> list[Evidence]:
    return list(item.evidence) + (list(item.follow_up.evidence) if item.follow_up else [])


# --- quote checking against the corpus ----------------------------------------------------
def check_quotes(items: Iterable[Item], corpus: str | Path) -> list[str]:
    """One message per evidence entry whose document is missing or whose quote is not in it.

    A quote must occur in the document's text (all blocks, whitespace-normalised on both
    sides; hyphenation split over a line is forgiven). For paged documents (PDF) a `page`
    is required and the quote must start on that page.
    """
    items = list(items)
    library = SourceLibrary(corpus)
    library.preload(e.document for item in items for e in _all_evidence(item))
    problems: list[str] = []
    for item in items:
        entries = [("evidence", e) for e in item.evidence]
        if item.follow_up:
            entries += [("follow_up.evidence", e) for e in item.follow_up.evidence]
        counters: Counter[str] = Counter()
        for where, evidence in entries:
            n = counters[where]
            counters[where] += 1
            problem = quote_problem(evidence, library)
            if problem:
                problems.append(f"{item.id}: {where}[{n}].{problem}")
    return problems


def quote_problem(evidence: Evidence, library: SourceLibrary) -> str | None:
    source = library.get(evidence.document)
    if isinstance(source, str):
        return f"document: {source}"
    name = evidence.document
    if not source.paged:
        if evidence.page is not None and evidence.page != 1:
            return f"page: {name} has no pages, but page {evidence.page} is given"
        return None if contains(source.full, evidence.quote) else f"quote not found in {name}"
    pages = source.pages_containing(evidence.quote)
    if evidence.page is None:
        found = f" (found on page {_pages_text(pages)})" if pages else " (and not found in it)"
        return f"page: missing for paged document {name}{found}"
    if evidence.page in pages:
        return None
    if evidence.page not in source.pages:
        return f"page: {name} has no text on page {evidence.page}"
    if pages:
        return (f"quote not found on page {evidence.page} of {name} "
                f"(found on page {_pages_text(pages)})")
    return f"quote not found on page {evidence.page} of {name} (nor on any other page)"


def _pages_text(pages: list[int]) -> str:
    return ", ".join(map(str, pages))
