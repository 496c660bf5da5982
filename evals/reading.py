"""The reading set: questions over public training documents, for training the reader.

Items live in JSONL files under one folder (several files of at most 5 MB each), one
object per line. An answerable item::

    {"id": "rs-huisverbod-001", "question": "Hoe lang moet iemand na huiselijk geweld
     wegblijven?", "answerable": true, "type": "duration",
     "document": "wet_tijdelijk_huisverbod_BWBR0024649.md", "locator": "art. 2 lid 1",
     "quote": "Het verbod geldt voor een periode van tien dagen, behoudens verlenging …",
     "short_answer": "tien dagen"}

`quote` is the answering sentence or sentences, verbatim (as `eval check` compares:
whitespace folded); `short_answer` a verbatim span of the quote; `locator` the article
(and lid) in a law, "p. N" in a PDF, which then also has `page`. An unanswerable item
has `kind` (near_miss, out_of_scope, later_change), the `document` whose topic it comes
close to (null when out of scope) and a `reason`: why the training corpus does not
answer it.

The split is by document: the documents in DEV_DOCUMENTS (and unanswerables near them)
are the dev set for choosing models and settings; the rest train. An out-of-scope item
belongs to dev when its id hashes there, about one in five.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bronwijzer.domain import ARTICLE, Block, Document
from evals.dataset import DatasetError, Evidence, quote_problem
from evals.source_text import SourceLibrary, comparable, dehyphenated

TYPES = ("who", "what", "when", "condition", "amount", "duration", "may_must", "procedure",
         "exception")
KINDS = ("near_miss", "out_of_scope", "later_change")
QUOTE_WORDS = (4, 120)
MAX_FILE_BYTES = 5_000_000
# kept apart for choosing models and settings; related documents stay on one side
DEV_DOCUMENTS = frozenset({
    "wet_tijdelijk_huisverbod_BWBR0024649.md",
    "leegstandwet_BWBR0003403.md",
    "wet_openbare_manifestaties_BWBR0004318.md",
    "wet_gemeentelijke_schuldhulpverlening_BWBR0031331.md",
    "aanwijzing_discriminatie_BWBR0022927.md",
    "wet_inburgering_BWBR0020611.md",
    "beleidskompas_nabijheidsrechter_internetconsultatie.pdf",
    "besluit_experiment_nabijheidsrechter_internetconsultatie.pdf",
})
DEV_SHARE_OUT_OF_SCOPE = 0.2
_FIELDS = {"id", "question", "answerable", "type", "kind", "document", "locator", "quote",
           "short_answer", "page", "reason"}
_BWB = re.compile(r"BWBR\d{7}")
_LID = re.compile(r"^(\d+[a-z]?)\.\s")
_LOCATOR = re.compile(r"^(?:art\. (?P<article>\S+)(?: lid (?P<lid>\S+))?|p\. (?P<page>\d+)"
                      r"|§ (?P<section>\S.*))$")
_SECTION_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\b")


@dataclass(frozen=True)
class ReadingItem:
    id: str
    question: str
    answerable: bool
    document: str | None  # answerable: where the quote is; unanswerable: the near topic
    type: str = ""  # answerable: one of TYPES
    kind: str = ""  # unanswerable: one of KINDS
    locator: str = ""
    quote: str = ""
    short_answer: str = ""
    page: int | None = None
    reason: str = ""
    source: str = ""  # "file.jsonl:line", for messages

    @property
    def split(self) -> str:
        if self.document is None:
            digest = hashlib.sha256(self.id.encode()).digest()[0] / 256
            return "dev" if digest < DEV_SHARE_OUT_OF_SCOPE else "train"
        return "dev" if self.document in DEV_DOCUMENTS else "train"

    def evidence(self) -> Evidence:
        return Evidence(self.document or "", self.quote, self.page)


# --- loading ---------------------------------------------------------------------------------
def load_reading_set(folder: str | Path) -> list[ReadingItem]:
    items, problems = parse_reading_set(folder)
    if problems:
        raise DatasetError(folder, problems)
    return items


def dataset_files(folder: str | Path) -> list[Path]:
    """The set's JSONL files; a single file is a set of its own (for writers' checks)."""
    folder = Path(folder)
    return [folder] if folder.is_file() else sorted(folder.glob("*.jsonl"))  # not review/


def parse_reading_set(folder: str | Path) -> tuple[list[ReadingItem], list[str]]:
    """Items that parsed and one message per problem, each naming the file, line or field."""
    files = dataset_files(folder)
    problems = [] if files else [f"{folder}: no .jsonl files"]
    items: list[ReadingItem] = []
    for path in files:
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(f"{path}: {path.stat().st_size} bytes, over {MAX_FILE_BYTES}: split it")
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})")
                continue
            item, found = parse_reading_item(raw, where)
            problems += found
            if item is not None:
                items.append(item)
    seen: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            problems.append(f"{item.id}: duplicate id ({seen[item.id]} and {item.source})")
        seen.setdefault(item.id, item.source)
    return items, problems


def parse_reading_item(raw: Any, where: str = "") -> tuple[ReadingItem | None, list[str]]:
    if not isinstance(raw, dict):
        return None, [f"{where}: expected a JSON object"]
    label = f"{raw['id']} ({where})" if isinstance(raw.get("id"), str) else where
    problems = [f"{label}: unknown field(s) {', '.join(sorted(set(raw) - _FIELDS))}"
                ] if set(raw) - _FIELDS else []

    def text(name: str, required: bool = True) -> str:
        value = raw.get(name)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{label}: {name} must be a non-empty string")
            return ""
        return value

    item_id, question = text("id"), text("question")
    answerable = raw.get("answerable")
    if not isinstance(answerable, bool):
        problems.append(f"{label}: answerable must be true or false")
        return None, problems
    document = raw.get("document")
    if document is not None and (not isinstance(document, str) or not document.strip()):
        problems.append(f"{label}: document must be a file name or null")
    if question and not question.rstrip().endswith("?"):
        problems.append(f"{label}: question must end with '?'")
    page = raw.get("page")
    if page is not None and (not isinstance(page, int) or isinstance(page, bool) or page < 1):
        problems.append(f"{label}: page must be a positive integer (1-based)")
    if answerable:
        fields = {name: text(name) for name in ("type", "locator", "quote", "short_answer")}
        if fields["type"] and fields["type"] not in TYPES:
            problems.append(f"{label}: type must be one of {', '.join(TYPES)}")
        if not document:
            problems.append(f"{label}: document is required when answerable is true")
        if fields["locator"] and not _LOCATOR.match(fields["locator"]):
            problems.append(f"{label}: locator must look like 'art. 2', 'art. 2 lid 1', 'p. 4' "
                            "or '§ 2.1'")
        words = len(fields["quote"].split())
        if fields["quote"] and not QUOTE_WORDS[0] <= words <= QUOTE_WORDS[1]:
            problems.append(f"{label}: quote has {words} words (expected {QUOTE_WORDS[0]}–"
                            f"{QUOTE_WORDS[1]})")
        if fields["short_answer"] and fields["quote"] and comparable(
                fields["short_answer"]) not in comparable(fields["quote"]):
            problems.append(f"{label}: short_answer is not a verbatim span of the quote")
        extra = {"kind", "reason"} & set(raw)
    else:
        fields = {"kind": text("kind"), "reason": text("reason")}
        if fields["kind"] and fields["kind"] not in KINDS:
            problems.append(f"{label}: kind must be one of {', '.join(KINDS)}")
        if fields["kind"] == "near_miss" and not document:
            problems.append(f"{label}: a near_miss names the document it comes close to")
        extra = {"type", "locator", "quote", "short_answer", "page"} & set(raw)
    if extra:
        problems.append(f"{label}: field(s) {', '.join(sorted(extra))} do not belong on "
                        f"an {'answerable' if answerable else 'unanswerable'} item")
    if problems:
        return None, problems
    return ReadingItem(id=item_id, question=question, answerable=answerable,
                       document=document, page=page, source=where, **fields), problems


# --- checking against the documents ------------------------------------------------------
def forbidden_documents(*folders: Path) -> tuple[set[str], set[str]]:
    """File names and BWB ids of the evaluation documents: no item may name one."""
    names: set[str] = set()
    ids: set[str] = set()
    for folder in folders:
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.is_file() and path.suffix.lower() not in {".tsv", ".toml"}:
                    names.add(path.name)
                    ids.update(_BWB.findall(path.name))
    return names, ids


def check_reading_set(items: Sequence[ReadingItem], corpus: Path,
                      forbidden: tuple[set[str], set[str]] = (set(), set())) -> list[str]:
    """Every quote verbatim in its document (on its page), every locator where the quote
    is, and no document of an evaluation corpus."""
    library = SourceLibrary(corpus)
    library.preload({i.document for i in items if i.answerable and i.document})
    names, bwb_ids = forbidden
    problems: list[str] = []
    prepared: dict[str, Prepared] = {}
    for item in items:
        label = f"{item.id} ({item.source})"
        if item.document and (item.document in names or set(_BWB.findall(item.document)) & bwb_ids):
            problems.append(f"{label}: document {item.document} is an evaluation document")
            continue
        if item.document and not (corpus / item.document).is_file():
            problems.append(f"{label}: document: no file {item.document} in {corpus}")
            continue
        if not item.answerable:
            continue
        problem = quote_problem(item.evidence(), library)
        if problem:
            problems.append(f"{label}: {problem}")
            continue
        source = library.get(item.document or "")
        if isinstance(source, str):
            continue
        if item.document not in prepared:
            prepared[item.document] = prepare(source.document)
        found = locate(source.document, item.quote, item.page, prepared[item.document])
        if not found:
            problems.append(f"{label}: quote does not start inside one block of "
                            f"{item.document}: start it at a sentence")
        elif not any(locator_agrees(item.locator, here) for here in found):
            places = " or ".join(repr(here) for here in dict.fromkeys(found))
            problems.append(f"{label}: locator {item.locator!r}, but the quote is at {places}")
    return problems


def block_locators(document: Document) -> list[str]:
    """The locator of every block: 'art. 2 lid 1' in a law, 'p. 3' in a paged document,
    '§ 2.1' (or the heading itself) in a document of numbered sections, '' elsewhere."""
    out: list[str] = []
    article, lid = "", ""
    for block in document.blocks:
        if block.page is not None:
            out.append(f"p. {block.page}")
            continue
        named = next((ARTICLE.match(s) for s in reversed(block.section) if ARTICLE.match(s)),
                     None)
        here = named.group(1) if named else ""
        if here != article:
            article, lid = here, ""
        numbered = _LID.match(block.text)
        if numbered:
            lid = numbered.group(1)
        if article:
            out.append(f"art. {article}" + (f" lid {lid}" if lid else ""))
        elif block.section:
            numbered_section = _SECTION_NUMBER.match(block.section[-1])
            out.append("§ " + (numbered_section.group(1) if numbered_section
                               else block.section[-1]))
        else:
            out.append("")
    return out


def locate(document: Document, quote: str, page: int | None = None,
           prepared: Prepared | None = None) -> list[str]:
    """The locators of every block in which the quote starts (a common opening such as
    "1. Onze Minister kan" may stand in many articles); empty when none holds it.
    `prepared`: the document's block texts and locators, made once per document."""
    plain, joined, locators = prepared or prepare(document)
    head, whole = " ".join(comparable(quote).split()[:6]), comparable(quote)
    found = []
    for n, block in enumerate(document.blocks):
        if page is not None and block.page != page:
            continue
        if (head in plain[n] and whole in " ".join(plain[n : n + 12])) or (
                dehyphenated(head) in joined[n]
                and dehyphenated(whole) in " ".join(joined[n : n + 12])):
            found.append(locators[n])
    return found


# per document: its blocks as comparable text, the same dehyphenated, and their locators
Prepared = tuple[list[str], list[str], list[str]]


def prepare(document: Document) -> Prepared:
    plain = [comparable(b.text) for b in document.blocks]
    return plain, [dehyphenated(t) for t in plain], block_locators(document)


def locator_agrees(given: str, found: str) -> bool:
    """The article must match; a lid, when given, too (an article without lid is fine)."""
    if given == found:
        return True
    return bool(found) and found.startswith(given + " lid ")


# --- measures for the data card -----------------------------------------------------------
def rare_words(quote: str, frequency: Counter[str], count: int = 3) -> set[str]:
    """The quote's `count` rarest content stems in the corpus: its jargon."""
    from bronwijzer.text import stems

    unique = sorted(set(stems(quote)), key=lambda s: (frequency.get(s, 0), s))
    return set(unique[:count])


def stem_frequency(documents: Iterable[Document]) -> Counter[str]:
    """In how many blocks of the corpus each stem occurs."""
    from bronwijzer.text import stems

    frequency: Counter[str] = Counter()
    for document in documents:
        for block in document.blocks:
            frequency.update(set(stems(block.text)))
    return frequency


def corpus_frequency(corpus: Path) -> Counter[str]:
    """Block frequency of every stem over all documents of the corpus folder."""
    from ingest.load import SUPPORTED_SUFFIXES

    names = sorted(p.name for p in corpus.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES)
    library = SourceLibrary(corpus)
    library.preload(names)
    loaded = [library.get(name) for name in names]
    return stem_frequency(s.document for s in loaded if not isinstance(s, str))


def as_eval_items(folder: str | Path, split: str = "dev") -> list[Any]:
    """The reading set's items of one split as evaluation items, for `eval run` on an
    index of the training corpus; the reference answer is the quote."""
    from evals.dataset import Item

    return [Item(id=i.id, question=i.question, answerable=i.answerable,
                 reference_answer=i.quote if i.answerable else "",
                 evidence=(i.evidence(),) if i.answerable else (),
                 tags=(i.type,) if i.answerable else ("unanswerable", i.kind), split=split)
            for i in load_reading_set(folder) if i.split == split]


def blocks_with_locators(document: Document) -> list[tuple[str, Block]]:
    return list(zip(block_locators(document), document.blocks, strict=True))
