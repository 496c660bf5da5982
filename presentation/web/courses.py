"""The chat's example questions: the built-in (or configured) ones, or a course session's.

A trainer picks a course pack (courses/*.toml, see presentation/course.py) and one of its
sessions; the chat then shows that session's questions instead of the general examples.
A course question is asked with its own filter (or none), as `bronwijzer course handout`
answers it, so the chat gives participants the answer of the handout. No Gradio here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bronwijzer.domain import BWB_ID, Filters, parse_day
from presentation.course import Course, course_choices

NO_COURSE = ""  # the course selector's "no course" choice: the general examples


@dataclass(frozen=True)
class Example:
    text: str
    # None: asked with whatever filters the user has set; a course question brings its own
    filters: Filters | None = None


class CourseExamples:
    """The example questions to show for a chosen course and session."""

    def __init__(self, folder: str | Path, defaults: list[str]) -> None:
        self.courses: dict[str, Course] = course_choices(folder)
        self.defaults = [Example(text) for text in defaults]

    def course_titles(self) -> list[str]:
        return list(self.courses)

    def session_titles(self, course: str | None) -> list[str]:
        chosen = self.courses.get(course or NO_COURSE)
        return [session.title for session in chosen.sessions] if chosen else []

    def examples(self, course: str | None, session: str | None) -> list[Example]:
        chosen = self.courses.get(course or NO_COURSE)
        for candidate in chosen.sessions if chosen else ():
            if candidate.title == session:
                return [Example(q.text, q.filters) for q in candidate.questions]
        return self.defaults

    def heading(self, course: str | None, session: str | None) -> str:
        """Markdown above the example buttons (course and session titles are the trainer's
        own text, so they are escaped by the caller)."""
        chosen = self.courses.get(course or NO_COURSE)
        if chosen and session in self.session_titles(course):
            return f"{session} — voor: {chosen.audience}"
        return ""

    def most(self) -> int:
        """How many example buttons the page needs: the longest list it can show."""
        sizes = [len(self.defaults)] + [len(s.questions) for c in self.courses.values()
                                        for s in c.sessions]
        return max(sizes)


def filter_values(filters: Filters
                  ) -> tuple[list[str], list[str], list[str], Any, Any, str]:
    """A course question's filter as the values of the chat's filter controls (documents
    and laws, publishers, types, year from, year to, geldend op): what the user sees is
    what is searched."""
    return (list(filters.documents) + list(filters.laws), list(filters.publishers),
            list(filters.document_types), filters.year_min, filters.year_max,
            filters.valid_on.isoformat() if filters.valid_on else "")


def controls_filters(documents: Any, publishers: Any, types: Any, year_from: Any, year_to: Any,
                     valid_on: Any) -> Filters:
    """The filter controls' values as Filters (the inverse of filter_values): a BWB id in
    the documents control is a law (every version, the one in force searched); a date
    that is not YYYY-MM-DD is a BronwijzerError the chat shows."""
    chosen = [str(d) for d in documents or ()]
    day = str(valid_on or "").strip()
    return Filters(documents=tuple(d for d in chosen if not BWB_ID.fullmatch(d)),
                   publishers=tuple(publishers or ()), document_types=tuple(types or ()),
                   year_min=_year(year_from), year_max=_year(year_to),
                   laws=tuple(d for d in chosen if BWB_ID.fullmatch(d)),
                   valid_on=parse_day(day, "Geldend op") if day else None)


def _year(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def filter_updates(filters: Filters, choices: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The six filter controls set to a course question's filter (as gr.update arguments).
    A value the index lacks (a document of another corpus, a year outside it) is added to
    its control's choices: Gradio refuses a value outside them on the next question."""
    *values, valid_on = filter_values(filters)
    updates = []
    for name, value in zip(("documents", "publishers", "types", "years", "years"),
                           values, strict=True):
        known = choices[name]
        present = {c[1] if isinstance(c, tuple) else c for c in known}
        wanted = value if isinstance(value, list) else [value]
        missing = [v for v in wanted if v is not None and v not in present]
        updates.append({"value": value, "choices": [*known, *missing]} if missing
                       else {"value": value})
    return [*updates, {"value": valid_on}]
