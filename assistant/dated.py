"""Dated sources: an answer that cites a text that may not hold says so.

A law is answered from the version in force on the asked date (today unless the filter
`geldig_op` says otherwise; assistant/retrieve.py). A cited law version gets a notice
only when it is not the version in force on that date among every version the index
and the catalogue know: a later one exists that was not searched, or the user asked for
this version by name. A law text whose later versions are unknown (one text of about
2015, status not `current`), and any other document, falls under the age rule: older
than the years its document type is given in corpus/sources.toml ([stale_years]; a
research report or news item never, by default), else `DatedOptions.stale_years`, or marked
superseded. The answer then carries one notice per cited document, with a link to the
text in force when the catalogue knows it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace

from bronwijzer.domain import Answer, Citation, Passage
from bronwijzer.settings import Options, option
from bronwijzer.versions import LawVersions, Version

LAW_TYPES = frozenset({"wet", "regeling", "circulaire", "besluit", "amvb"})


@dataclass(frozen=True)
class DatedOptions(Options):
    title = "Dated sources"

    stale_years: int = option(
        3, "Age rule for a cited text that is not a law version known to be in force: "
        "older than this many years (by its version date or year; 0 = never by age), or "
        "marked superseded, it gets a notice with the answer. corpus/sources.toml "
        "[stale_years] sets other years per document type."
    )


def text_date(passage: Passage) -> str | None:
    """The date a reader should know the text by: its version date, else its year."""
    return passage.version_date or (str(passage.year) if passage.year else None)


def is_stale(passage: Passage, stale_years: int, today: datetime.date) -> bool:
    """The age rule: superseded, or dated more than `stale_years` years ago (0: never)."""
    if passage.status == "superseded":
        return True
    dated = text_date(passage)
    return bool(stale_years) and dated is not None and int(dated[:4]) < today.year - stale_years


def notice(passage: Passage) -> str:
    dated = text_date(passage) or "onbekende datum"
    where = (f" op {passage.current_url}" if passage.current_url
             else " bij de uitgever" if passage.document_type not in LAW_TYPES
             else " op wetten.overheid.nl")
    if passage.document_type in LAW_TYPES or passage.current_url:
        return (f"Let op: {passage.title} is hier de versie van {dated}; controleer de "
                f"geldende tekst{where}.")
    superseded = " en is vervangen" if passage.status == "superseded" else ""
    return (f"Let op: {passage.title} is van {dated}{superseded}; controleer of dit nog "
            f"geldt{where}.")


def version_notice(passage: Passage, cited: Version, current: Version | None,
                   on: datetime.date) -> str:
    """Why a cited law version is not the law of `on`, and where the text in force is."""
    where = f" op {passage.current_url}" if passage.current_url else " op wetten.overheid.nl"
    head = f"Let op: {passage.title} is hier de versie van {cited.label}"
    if current is None:
        return (f"{head}, die pas geldt vanaf {cited.start.isoformat()}: op {on.isoformat()} "
                f"gold een eerdere versie, die niet in de bronnen staat; controleer de tekst "
                f"van toen{where}.")
    return (f"{head}; op {on.isoformat()} geldt de versie vanaf {current.label}, die hier "
            f"niet is doorzocht; controleer de geldende tekst{where}.")


def check(passage: Passage, on: datetime.date, versions: LawVersions,
          years: int) -> str | None:
    """The notice a citation of `passage` needs when asked about `on`, or None."""
    cited = versions.by_document.get(passage.document)
    if cited is not None:
        current = versions.in_force(cited.bwb_id, on)
        if current is None or current.start != cited.start:
            return version_notice(passage, cited, current, on)
        if versions.until(cited) is not None or cited.exact or passage.status == "current":
            return None  # the version in force, and it is known which one that is
    return notice(passage) if is_stale(passage, years, on) else None


def mark_stale(answer: Answer, stale_years: int, today: datetime.date | None = None, *,
               versions: LawVersions | None = None,
               age_rule: dict[str, int] | None = None) -> Answer:
    """The answer with dated citations flagged and one notice per such document; `today`
    is the asked date (the filter's geldig_op, else today)."""
    on = today or datetime.date.today()
    versions = versions or LawVersions([])
    age_rule = age_rule or {}
    passages = {s.passage.id: s.passage for s in answer.passages}
    citations: list[Citation] = []
    notices: dict[str, str] = {}
    for citation in answer.citations:
        passage = passages.get(citation.passage_id)
        text = None
        if passage is not None:
            years = age_rule.get(passage.document_type or "", stale_years)
            text = check(passage, on, versions, years)
        citations.append(replace(citation, stale=text is not None))
        if text is not None and passage is not None:
            notices.setdefault(passage.document, text)
    return replace(answer, citations=citations, notices=list(notices.values()))
