"""Dated sources: an answer that cites an old or superseded text says so.

The bundled law texts are versions of about 2015; a civil servant must not take them for
the law in force. A citation is stale when its text is marked superseded in the
catalogue, or when its version date (else its year) lies more than
BRONWIJZER_STALE_YEARS before today. The answer then carries one notice per cited
document, with a link to the text in force when the catalogue knows it.
"""

from __future__ import annotations

import datetime
from dataclasses import replace

from bronwijzer.domain import Answer, Citation, Passage

LAW_TYPES = frozenset({"wet", "regeling", "circulaire", "besluit", "amvb"})


def published(publisher: str | None, year: int | None, version_date: str | None) -> list[str]:
    """Who published a text and when: ['Rijksoverheid', 'versie 2015-11-24'] (a law's
    version date says more than its year; without one, the year)."""
    when = f"versie {version_date}" if version_date else (str(year) if year else None)
    return [item for item in (publisher, when) if item]


def text_date(passage: Passage) -> str | None:
    """The date a reader should know the text by: its version date, else its year."""
    return passage.version_date or (str(passage.year) if passage.year else None)


def is_stale(passage: Passage, stale_years: int, today: datetime.date) -> bool:
    if passage.status == "superseded":
        return True
    dated = text_date(passage)
    return dated is not None and int(dated[:4]) < today.year - stale_years


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


def mark_stale(answer: Answer, stale_years: int, today: datetime.date | None = None) -> Answer:
    """The answer with stale citations flagged and one notice per stale document."""
    today = today or datetime.date.today()
    passages = {s.passage.id: s.passage for s in answer.passages}
    citations: list[Citation] = []
    notices: dict[str, str] = {}
    for citation in answer.citations:
        passage = passages.get(citation.passage_id)
        stale = passage is not None and is_stale(passage, stale_years, today)
        citations.append(replace(citation, stale=stale))
        if stale and passage is not None:
            notices.setdefault(passage.document, notice(passage))
    return replace(answer, citations=citations, notices=list(notices.values()))
