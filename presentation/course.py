"""Course packs for trainers: a TOML file of sessions with questions, answered from an index.

    title = "…"            audience = "…"            description = "…" (optional)
    [[session]]
    title = "…"
    [[session.question]]
    text = "…"             filter = ["document=…"]   (optional, as `bronwijzer ask --filter`)
    notes = "…"            expected_sources = ["file.md"]   (both optional: for the trainer)

Every error names the file and the field, so a trainer can fix a pack without reading code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bronwijzer.domain import Answer, BronwijzerError, Filters


@dataclass(frozen=True)
class CourseQuestion:
    text: str
    filters: Filters = field(default_factory=Filters)
    notes: str = ""
    expected_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Session:
    title: str
    questions: tuple[CourseQuestion, ...]


@dataclass(frozen=True)
class Course:
    title: str
    audience: str
    sessions: tuple[Session, ...]
    description: str = ""
    path: str = ""

    @property
    def questions(self) -> list[CourseQuestion]:
        return [q for s in self.sessions for q in s.questions]


@dataclass(frozen=True)
class AnsweredQuestion:
    session: Session
    question: CourseQuestion
    answer: Answer


def load_course(path: str | Path) -> Course:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise BronwijzerError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise BronwijzerError(f"{path}: invalid TOML ({exc})") from None
    title = _text(data, "title", str(path))
    sessions = []
    for n, raw in enumerate(_list(data, "session", str(path)), start=1):
        where = f"{path}: session {n}"
        questions = tuple(_question(q, f"{where}, question {m}")
                          for m, q in enumerate(_list(raw, "question", where), start=1))
        if not questions:
            raise BronwijzerError(f"{where}: has no [[session.question]]")
        sessions.append(Session(_text(raw, "title", where), questions))
    if not sessions:
        raise BronwijzerError(f"{path}: has no [[session]]")
    return Course(title, _text(data, "audience", str(path)), tuple(sessions),
                  str(data.get("description", "")).strip(), str(path))


def answer_course(assistant: Any, course: Course) -> list[AnsweredQuestion]:
    """Every question of every session, answered in order, each on its own (no history)."""
    return [AnsweredQuestion(session, question,
                             assistant.ask(question.text, filters=question.filters))
            for session in course.sessions for question in session.questions]


def course_choices(folder: str | Path) -> dict[str, Course]:
    """The courses in `folder` by title (for the chat's selector); bad files are skipped."""
    found = {}
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            course = load_course(path)
        except BronwijzerError:
            continue
        found[course.title] = course
    return found


def _question(raw: Any, where: str) -> CourseQuestion:
    if not isinstance(raw, dict):
        raise BronwijzerError(f"{where}: expected a table with text = \"…\"")
    filters = raw.get("filter", [])
    if not isinstance(filters, list) or not all(isinstance(f, str) for f in filters):
        raise BronwijzerError(f"{where}: filter must be a list of \"field=value\" strings")
    try:
        parsed = Filters.parse(filters)
    except BronwijzerError as exc:
        raise BronwijzerError(f"{where}: {exc}") from None
    expected = raw.get("expected_sources", [])
    if not isinstance(expected, list) or not all(isinstance(e, str) for e in expected):
        raise BronwijzerError(f"{where}: expected_sources must be a list of file names")
    return CourseQuestion(_text(raw, "text", where), parsed, str(raw.get("notes", "")).strip(),
                          tuple(expected))


def _text(data: dict[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BronwijzerError(f"{where}: field '{name}' must be a non-empty text")
    return value.strip()


def _list(data: dict[str, Any], name: str, where: str) -> list[Any]:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise BronwijzerError(f"{where}: '{name}' must be a list of tables ([[{name}]])")
    return value
