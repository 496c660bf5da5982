"""Dutch text utilities shared by chunking, lexical search and answering."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import lru_cache

# Abbreviations after which a period does not end a sentence. Lower-case, without
# the final period; multi-part ones ("m.b.t") are matched as written.
DUTCH_ABBREVIATIONS = frozenset(
    """
    a.d a.g.v a.h.w a.i a.s aanv afb afd afz alg alin ang art artt bijv bijz blz bv bvb
    ca cf chr cie co d.d d.i d.m.v d.w.z dept dgl dhr dr drs e.a e.d e.e.a e.g e.v etc
    excl fa fig geb gem gld hfdst i.c i.h.a i.o i.p.v i.s.m i.v.m i.z incl ing ir jl jr
    jhr kon lid m.a.w m.b.t m.b.v m.i.v m.m.v m.n mevr mgr min mln mr mrd mw n.a.v n.v.t
    nl nr nrs o.a o.b.v o.g.v o.i.d o.m okt ong p.p plm pnt pp prof r.k red resp sr st
    stb stcrt str t.a.v t.b.v t.g.v t.o.v t.w tel ten.z v.c.w vgl vnl vs w.o wo z.g z.s.m
    zgn zg
    jan feb mrt apr jun jul aug sep sept nov dec
    """.split()
)

_SENTENCE_END = re.compile(r"([.!?…]+)([\"'”’)\]]*)(\s+)")
_WORD_BEFORE = re.compile(r"(\S+)$")
_WHITESPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"\w+", re.UNICODE)
DEFAULT_STEMMER = "dutch_porter"  # an index keeps the stemmer it was built with (store.py)
# Dutch writes compounds as one word and ends them in their head: drugs|overlast
COMPOUND_MODIFIER = 4  # letters before a head: shorter is a prefix ("ver|hard", "be|…")
SURE_HEAD = 6  # letters of a head specific enough to count on its own (not "reag|eert")


def flatten_whitespace(text: str) -> str:
    """Every run of whitespace, line breaks too, as one space: text on one line."""
    return _WHITESPACE.sub(" ", text).strip()


def error_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as one line for a message: 'ValueError: what it said' (shortened)."""
    message = flatten_whitespace(str(exc))
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def tidy_whitespace(text: str) -> str:
    """Runs of spaces collapsed and lines stripped, keeping line breaks and at most one
    blank line: layout that chunking and headings still need."""
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def split_sentences(text: str) -> list[str]:
    """Split Dutch text into sentences, keeping abbreviations, numbers and initials.

    Every returned sentence is a verbatim (whitespace-trimmed) substring of the
    input, so quotes taken from it can be found back in the passage.
    """
    return [text[start:end] for start, end in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end(2)
        if not _ends_sentence(text, match) or _is_enumerator(text[start : match.start(1)]):
            continue
        _append_span(text, start, end, spans)
        start = match.end(3)
    _append_span(text, start, len(text), spans)
    return spans


def _append_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    punct = match.group(1)
    following = text[match.end(3) : match.end(3) + 2]
    if not following:
        return True
    if punct != ".":
        return True
    word_match = _WORD_BEFORE.search(text, 0, match.start(1))
    word = word_match.group(1).lower() if word_match else ""
    word = word.lstrip("(\"'‘“[")
    if word in DUTCH_ABBREVIATIONS or word.rstrip(".") in DUTCH_ABBREVIATIONS:
        return False
    # Initials ("J. de Vries") and enumerations ("1. ", "a. ") are not sentence ends.
    if len(word) == 1 and word.isalpha():
        return False
    # A new sentence starts with a capital, digit, quote or bracket.
    first = following[0]
    return first.isupper() or first.isdigit() or first in "\"'‘“([•-–"


def _is_enumerator(segment: str) -> bool:
    """'1.', 'a.', 'IV.' or '2.3.' at the start of a sentence label a list item."""
    return bool(re.fullmatch(r"\s*(\d+(\.\d+)*|[a-zA-Z]|[ivxIVX]+)", segment))


def tokens(text: str) -> list[str]:
    """Lower-case word tokens (`\\w+` runs): the unit of the evaluation relevance rule."""
    return _TOKEN.findall(text.lower())


@lru_cache(maxsize=4)
def _stemmer(name: str):
    import Stemmer

    return Stemmer.Stemmer(name)


@lru_cache(maxsize=1)
def dutch_stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_DUTCH

    extra = {"wordt", "worden", "werd", "zijn", "kan", "kunnen", "welke", "wat", "wie", "hoe",
             "waar", "wanneer", "waarom", "hoeveel", "mag", "moet", "moeten", "gaat", "over",
             # question words that BM25 otherwise matches in any text that asks or lists
             "welk", "waarvoor", "waarmee", "waardoor", "waarop", "waarin", "waaraan"}
    return frozenset(STOPWORDS_DUTCH) | extra


def content_words(words: Iterable[str]) -> list[str]:
    """Lower-case tokens without Dutch stop words and single letters (digits stay)."""
    stop = dutch_stopwords()
    return [w for w in words if w not in stop and (len(w) > 1 or w.isdigit())]


def stem_words(words: list[str], stemmer: str = DEFAULT_STEMMER) -> list[str]:
    return _stemmer(stemmer).stemWords(words)


def stems(text: str, stemmer: str = DEFAULT_STEMMER) -> list[str]:
    """Stemmed content words for BM25 and lexical overlap (Dutch stop words removed)."""
    return stem_words(content_words(tokens(text)), stemmer)


def ends_in_head(word: str, head: str) -> bool:
    """Whether `word` is a compound of `head`: it ends in it after a modifier of at least
    COMPOUND_MODIFIER letters (works on words and on stems alike)."""
    return len(word) >= len(head) + COMPOUND_MODIFIER and word.endswith(head)


def heading_prefix(title: str, section: str) -> str:
    """The context line a passage is embedded and indexed under."""
    return f"{title} — {section}\n" if section else f"{title}\n"


# CommonMark's punctuation that starts markup; < > & are made entities instead, so no
# renderer (Gradio's included) ever sees a tag
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~$])")


def markdown_escape(text: str) -> str:
    """Text that any Markdown renderer shows literally, on one line: no links, images,
    HTML, headings or maths."""
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split())), quote=False)
