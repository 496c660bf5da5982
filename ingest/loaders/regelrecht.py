"""Regelrecht law versions (.yaml, .yml): one file per version of a Dutch law.

The Ministry of BZK's regelrecht corpus publishes every version of a law as YAML (schema
v0.7.1): `bwb_id`, `valid_from`, `publication_date`, `regulatory_layer`, `url` and
`articles`, each with `number`, `text` (Markdown with reference links) and a `url` to the
article in that version on wetten.overheid.nl. Each article becomes its own section
("Artikel 151d"), so a passage never mixes articles; an article longer than
LONG_ARTICLE characters is split by member ("Artikel 151d › lid 2"). The article's
versioned url travels with its blocks to the passage, as the source link.

A file that is not such a law is refused with the file and the field that is wrong.
"""

from __future__ import annotations

import datetime
import re
from pathlib import PurePath
from typing import Any

import yaml

from bronwijzer.domain import BWB_ID, Block, IngestError
from ingest.clean import clean_text
from ingest.loaders.structure import Parsed, decode_text, strip_markdown_inline

# an article longer than this (in characters, about three passages)
# is split by member, so each passage is one lid and cites it
LONG_ARTICLE = 3000
LAYER_TYPES = {"WET": "wet", "AMVB": "amvb", "MINISTERIELE_REGELING": "regeling",
               "KONINKLIJK_BESLUIT": "besluit", "GEMEENTELIJKE_VERORDENING": "verordening"}
_REFERENCE_DEFINITION = re.compile(r"^\s*\[[^\]]+\]:\s*\S+\s*$", re.M)
_MEMBER = re.compile(r"^(\d+)([a-z]?)\s+\S")
_MEMBER_NUMBER = re.compile(r"^\d+[a-z]?\s+")
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")


def load_regelrecht(raw: bytes, where: str) -> Parsed:
    text = decode_text(raw, where)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise IngestError(where, f"invalid YAML{place}: {problem}") from None
    if not isinstance(data, dict) or "articles" not in data:
        raise IngestError(where, "not a regelrecht law version: expected the fields bwb_id, "
                                 "valid_from and articles (schema v0.7.1)")
    bwb_id = _field(data, "bwb_id", where)
    if not BWB_ID.fullmatch(bwb_id):
        raise IngestError(where, f"field 'bwb_id' must be a BWB id such as BWBR0005416, "
                                 f"not {bwb_id!r}")
    valid_from = _date(data, "valid_from", where, required=True)
    publication = _date(data, "publication_date", where, required=False)
    layer = _optional(data, "regulatory_layer", where)
    law_url = _optional(data, "url", where)
    articles = data["articles"]
    if not isinstance(articles, list) or not articles:
        raise IngestError(where, "field 'articles' must be a non-empty list of articles")
    blocks: list[Block] = []
    seen: set[str] = set()
    for n, article in enumerate(articles, start=1):
        blocks += _article_blocks(article, n, where, law_url, seen)
    identifier = str(data.get("$id") or "").strip()
    return Parsed(
        blocks=blocks,
        title=_title(identifier) if identifier else None,
        document_type=LAYER_TYPES.get((layer or "").upper(), (layer or "wet").lower()),
        year=int(valid_from[:4]),
        name=_version_name(PurePath(where).name, identifier, bwb_id, valid_from),
        bwb_id=bwb_id, valid_from=valid_from, publication_date=publication,
        regulatory_layer=layer, url=law_url,
    )


def _article_blocks(article: Any, n: int, where: str, law_url: str | None,
                    seen: set[str]) -> list[Block]:
    if not isinstance(article, dict):
        raise IngestError(where, f"article #{n}: expected a mapping with number and text")
    number = article.get("number")
    if number is None or isinstance(number, (dict, list)) or not str(number).strip():
        raise IngestError(where, f"article #{n}: field 'number' is missing")
    number = str(number).strip()
    if number in seen:
        raise IngestError(where, f"article #{n}: number {number!r} occurs twice")
    seen.add(number)
    body = article.get("text")
    if not isinstance(body, str):
        raise IngestError(where, f"article {number}: field 'text' is missing or not text")
    url = article.get("url")
    if url is not None and not isinstance(url, str):
        raise IngestError(where, f"article {number}: field 'url' must be text")
    url = url or (f"{law_url}#Artikel{number}" if law_url else None)
    paragraphs = _paragraphs(body)
    heading = f"Artikel {number}"
    members = _members(paragraphs)
    if len(members) > 1:  # "1 De burgemeester …": the number is the lid, not the text
        members = [(m, [_MEMBER_NUMBER.sub("", texts[0], count=1), *texts[1:]])
                   for m, texts in members]
        paragraphs = [p for _, texts in members for p in texts]
    if len(members) < 2 or len(" ".join(paragraphs)) <= LONG_ARTICLE:
        return [Block(p, section=(heading,), url=url) for p in paragraphs]
    return [Block(p, section=(heading, f"lid {member}"), url=url)
            for member, texts in members for p in texts]


def _paragraphs(body: str) -> list[str]:
    """Plain paragraphs: reference definitions dropped, links kept as their text, the
    lines of a paragraph joined."""
    body = _REFERENCE_DEFINITION.sub("", clean_text(body))
    paragraphs = []
    for chunk in re.split(r"\n\s*\n", body):
        text = " ".join(strip_markdown_inline(chunk).split())
        if text:
            paragraphs.append(text)
    return paragraphs


def _members(paragraphs: list[str]) -> list[tuple[str, list[str]]]:
    """(lid, paragraphs) when the article is numbered 1, 2, 2a, 3, …; [] otherwise.
    A paragraph that starts with a number out of sequence (an amount, a list) stays with
    the member before it."""
    members: list[tuple[str, list[str]]] = []
    last = 0
    for paragraph in paragraphs:
        match = _MEMBER.match(paragraph)
        number = int(match.group(1)) if match else None
        if match and (number == last + 1 or (number == last and match.group(2))):
            members.append((match.group(1) + match.group(2), [paragraph]))
            last = number
        elif members:
            members[-1][1].append(paragraph)
        else:
            return []  # text before the first member: not a numbered article
    return members


def _field(data: dict[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise IngestError(where, f"field '{name}' is missing")
    if isinstance(value, (dict, list)):
        raise IngestError(where, f"field '{name}' must be text")
    return str(value).strip()


def _optional(data: dict[str, Any], name: str, where: str) -> str | None:
    return _field(data, name, where) if data.get(name) not in (None, "") else None


def _date(data: dict[str, Any], name: str, where: str, *, required: bool) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if isinstance(value, datetime.date):
        return value.isoformat()[:10]
    text = _field(data, name, where)
    try:
        if not _DATE_TEXT.fullmatch(text):
            raise ValueError(text)
        datetime.date.fromisoformat(text)
    except ValueError:
        raise IngestError(where, f"field '{name}' must be a date YYYY-MM-DD, "
                                 f"not {text!r}") from None
    return text


def _title(identifier: str) -> str:
    """'wet_maatschappelijke_ondersteuning_2015' -> 'Wet maatschappelijke ondersteuning 2015'."""
    words = identifier.replace("_", " ").replace("-", " ").split()
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _version_name(file_name: str, identifier: str, bwb_id: str, valid_from: str) -> str:
    """The document name: the file's own when it names the law and the version (as in
    corpus/), else '<id>_<BWB id>_<valid_from>.yaml', so the regelrecht layout
    (wet/<law>/<valid_from>.yaml, the same file name for every law) stays unique."""
    if bwb_id in file_name and valid_from in file_name:
        return file_name
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", identifier).strip("_") or "wet"
    return f"{stem}_{bwb_id}_{valid_from}.yaml"
