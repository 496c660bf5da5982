"""The law's words for a question's words: a small thesaurus that BM25 searches beside it.

A question says "woonoverlast"; art. 151d Gemeentewet says "ernstige en herhaaldelijke
hinder voor omwonenden" and never "overlast". Neither BM25 nor e5 bridges that, and no
passage can be read that is not retrieved. `vocabulary.toml` lists such words; `related`
gives the law's words for the entries a question matches, and the retriever adds their
BM25 scores at a lower weight (`RetrievalOptions.vocabulary_weight`) and embeds the dense
query with them (assistant/retrieve.py).

A key also matches as the head of a compound, so a key must not be the head of compounds
that mean something else: "bijstand" was left out for "rechtsbijstand".
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bronwijzer.domain import BronwijzerError
from bronwijzer.text import SURE_HEAD, ends_in_head, stem_words, tokens

BUNDLED = Path(__file__).with_name("vocabulary.toml")
PLURAL_ENDINGS = ("s", "en", "n")  # the stemmer keeps "corporaties" whole


@dataclass(frozen=True)
class Entry:
    key: str
    words: tuple[str, ...]  # the key as lower-case tokens (a phrase when more than one)
    exact: bool  # an abbreviation that is also a common word ("OM"): matches only as written
    related: tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    entries: tuple[Entry, ...]

    @classmethod
    def load(cls, path: Path = BUNDLED) -> Vocabulary:
        """Read and check a vocabulary file; a bad one is refused naming the file and key."""
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except OSError as exc:
            raise BronwijzerError(f"{path}: cannot read the vocabulary ({exc.strerror})") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BronwijzerError(f"{path}: not valid TOML ({exc})") from exc
        terms = data.get("terms")
        if not isinstance(terms, dict) or not terms:
            raise BronwijzerError(f"{path}: needs a [terms] table with at least one entry")
        entries = []
        for key, related in terms.items():
            words = tuple(tokens(key))
            if not words:
                raise BronwijzerError(f"{path}: key {key!r} has no words")
            if (not isinstance(related, list) or not related
                    or not all(isinstance(r, str) and tokens(r) for r in related)):
                raise BronwijzerError(
                    f"{path}: {key!r} must be a list of words or phrases, not {related!r}")
            exact = key != key.lower()
            entries.append(Entry(key, words, exact, tuple(related)))
        return cls(tuple(entries))

    def related(self, question: str) -> list[str]:
        """The law's words for the entries the question matches, in file order."""
        words = tokens(question)
        if not words:
            return []
        as_written = {w.strip("?.,;:!()\"'") for w in question.split()}
        stemmed = stem_words(words)
        found: list[str] = []
        for entry in self.entries:
            if _matches(entry, words, stemmed, as_written):
                found.extend(r for r in entry.related if r not in found)
        return found


def _matches(entry: Entry, words: list[str], stemmed: list[str], as_written: set[str]) -> bool:
    if entry.exact:
        return entry.key in as_written
    if len(entry.words) > 1:
        n = len(entry.words)
        return any(tuple(words[i:i + n]) == entry.words for i in range(len(words) - n + 1))
    key = entry.words[0]
    forms = {key, *(key + ending for ending in PLURAL_ENDINGS)}
    key_stem = _stem(key)
    for word, stem in zip(words, stemmed, strict=True):
        if word in forms or stem == key_stem:
            return True
        # a drugsoverlast is a kind of overlast (keys of SURE_HEAD letters or more)
        if len(key) >= SURE_HEAD and any(ends_in_head(word, form) for form in forms):
            return True
    return False


@lru_cache(maxsize=4096)
def _stem(word: str) -> str:
    return stem_words([word])[0]


@lru_cache(maxsize=4)
def load_vocabulary(spec: str) -> Vocabulary | None:
    """`bundled`, `off` or a file path (RetrievalOptions.vocabulary)."""
    if spec == "off":
        return None
    return Vocabulary.load(BUNDLED if spec == "bundled" else Path(spec).expanduser())
