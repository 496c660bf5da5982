"""Course handouts: every question of a course with its answer, sources and room for notes.

Three forms of the same content: Markdown, print-ready HTML (a page per question, no
interface around it) and DOCX (python-docx, for trainers who edit in Word). The output
depends only on the course and the index: no clock, and the DOCX zip carries fixed
timestamps, so the same index gives the same bytes.
"""

from __future__ import annotations

import datetime
import io
import zipfile
from collections.abc import Iterator, Sequence
from html import escape
from pathlib import Path

from bronwijzer.domain import CAUTION_TEXT, BronwijzerError, Passage, source_name
from bronwijzer.text import markdown_escape
from presentation.course import AnsweredQuestion, Course

FORMATS = (".md", ".html", ".docx")
NOTES_LINES = 6
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest zip date: no clock in the file


def link_of(passage: Passage | None) -> str | None:
    """A law's link: its article in the cited version, else the text in force."""
    return (passage.url or passage.current_url) if passage is not None else None


def _items(answered: Sequence[AnsweredQuestion]
           ) -> Iterator[tuple[int, AnsweredQuestion, bool, dict[str, Passage]]]:
    """(number, item, first of its session, its passages by id) per question."""
    previous = None
    for number, item in enumerate(answered, start=1):
        new_session = item.session is not previous
        previous = item.session
        passages = {s.passage.id: s.passage for s in item.answer.passages}
        yield number, item, new_session, passages


# --- Markdown ----------------------------------------------------------------------------
def course_markdown(course: Course, answered: Sequence[AnsweredQuestion], *,
                    trainer: bool = False) -> str:
    lines = [f"# {markdown_escape(course.title)}", "",
             f"_Voor: {markdown_escape(course.audience)}_", ""]
    if course.description:
        lines += [markdown_escape(course.description), ""]
    for number, item, new_session, passages in _items(answered):
        if new_session:
            lines += [f"## {markdown_escape(item.session.title)}", ""]
        answer = item.answer
        lines += [f"### Vraag {number}: {markdown_escape(item.question.text)}", "",
                  f"**Antwoord:** {markdown_escape(answer.text)}", ""]
        if answer.caution:
            lines += [f"_{markdown_escape(CAUTION_TEXT)}_", ""]
        lines += [f"**{markdown_escape(n)}**" for n in answer.notices] + (
            [""] if answer.notices else [])
        for citation in answer.citations:
            link = link_of(passages.get(citation.passage_id))
            lines += [f"- [{citation.n}] {source_name(citation).markdown()}"
                      + (f" — {link}" if link else ""),
                      f"  > {markdown_escape(citation.quote)}"]
        if trainer and (item.question.notes or item.question.expected_sources):
            lines += ["", f"_Voor de trainer: {markdown_escape(item.question.notes)}_"
                      + (f" (verwachte bronnen: {', '.join(item.question.expected_sources)})"
                         if item.question.expected_sources else "")]
        lines += ["", "**Aantekeningen:**", "", *(["> "] * NOTES_LINES), ""]
    return "\n".join(lines).rstrip() + "\n"


# --- HTML ----------------------------------------------------------------------------------
PRINT_CSS = """
body { font-family: Georgia, serif; line-height: 1.45; max-width: 46rem; margin: 2rem auto;
       color: #111; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
section.question { border-top: 1px solid #999; padding-top: 1rem; margin-top: 1.5rem; }
blockquote { margin: .3rem 0 .8rem 1rem; padding-left: .8rem; border-left: 3px solid #777; }
.notice { font-weight: bold; } .caution { font-style: italic; }
.notes { border: 1px solid #777; min-height: 9rem; margin-top: 1rem; padding: .4rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  section.question { page-break-before: always; border-top: none; }
  a { color: inherit; text-decoration: none; }
  a[href]::after { content: " (" attr(href) ")"; font-size: 9pt; }
}
"""


def course_html(course: Course, answered: Sequence[AnsweredQuestion], *,
                trainer: bool = False) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="nl">', "<head>", '<meta charset="utf-8">',
             f"<title>{escape(course.title)}</title>", f"<style>{PRINT_CSS}</style>",
             "</head>", "<body>", "<main>", f"<h1>{escape(course.title)}</h1>",
             f"<p><em>Voor: {escape(course.audience)}</em></p>"]
    if course.description:
        parts.append(f"<p>{escape(course.description)}</p>")
    for number, item, new_session, passages in _items(answered):
        answer = item.answer
        parts.append('<section class="question">')
        if new_session:
            parts.append(f"<h2>{escape(item.session.title)}</h2>")
        parts += [f"<h3>Vraag {number}: {escape(item.question.text)}</h3>",
                  f"<p><strong>Antwoord:</strong> {escape(answer.text)}</p>"]
        if answer.caution:
            parts.append(f'<p class="caution">{escape(CAUTION_TEXT)}</p>')
        parts += [f'<p class="notice">{escape(n)}</p>' for n in answer.notices]
        if answer.citations:
            parts.append("<h4>Bronnen</h4><ol>")
            for citation in answer.citations:
                passage = passages.get(citation.passage_id)
                name = source_name(citation)
                link = link_of(passage)
                shown = (f'<a href="{escape(link)}">{escape(name.title)}</a>' if link
                         else escape(name.title))
                parts.append(f'<li value="{citation.n}">{shown}'
                             + (f" ({escape(name.about)})" if name.about else "")
                             + (f", {escape(name.where)}" if name.where else "")
                             + f"<blockquote>{escape(citation.quote)}</blockquote></li>")
            parts.append("</ol>")
        if trainer and (item.question.notes or item.question.expected_sources):
            parts.append(f"<p><em>Voor de trainer: {escape(item.question.notes)}</em></p>")
        parts += ['<div class="notes" aria-label="Ruimte voor aantekeningen">Aantekeningen:'
                  "</div>", "</section>"]
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


# --- DOCX ----------------------------------------------------------------------------------
def course_docx(course: Course, answered: Sequence[AnsweredQuestion], *,
                trainer: bool = False) -> bytes:
    import docx
    from docx.enum.text import WD_BREAK

    document = docx.Document()
    document.core_properties.title = course.title
    document.core_properties.author = "Bronwijzer"
    document.core_properties.created = datetime.datetime(2000, 1, 1)
    document.core_properties.modified = datetime.datetime(2000, 1, 1)
    document.core_properties.last_modified_by = "Bronwijzer"
    document.add_heading(course.title, level=0)
    document.add_paragraph(f"Voor: {course.audience}").italic = True
    if course.description:
        document.add_paragraph(course.description)
    for number, item, new_session, passages in _items(answered):
        answer = item.answer
        if number > 1:  # each question on its own page
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        if new_session:
            document.add_heading(item.session.title, level=1)
        document.add_heading(f"Vraag {number}: {item.question.text}", level=2)
        paragraph = document.add_paragraph()
        paragraph.add_run("Antwoord: ").bold = True
        paragraph.add_run(answer.text)
        if answer.caution:
            document.add_paragraph().add_run(CAUTION_TEXT).italic = True
        for notice in answer.notices:
            document.add_paragraph().add_run(notice).bold = True
        if answer.citations:
            document.add_heading("Bronnen", level=3)
        for citation in answer.citations:
            passage = passages.get(citation.passage_id)
            link = link_of(passage)
            document.add_paragraph(f"[{citation.n}] {source_name(citation).text()}"
                                   + (f" — {link}" if link else ""), style="List Number")
            document.add_paragraph(citation.quote, style="Quote")
        if trainer and (item.question.notes or item.question.expected_sources):
            trainer_note = document.add_paragraph().add_run(
                f"Voor de trainer: {item.question.notes}")
            trainer_note.italic = True
        document.add_heading("Aantekeningen", level=3)
        table = document.add_table(rows=1, cols=1)
        table.style = "Table Grid"
        table.cell(0, 0).text = "\n" * NOTES_LINES
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip_times(buffer.getvalue())


def _fixed_zip_times(data: bytes) -> bytes:
    """The same zip with every entry dated FIXED_TIME, in the same order."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


def write_course_handout(course: Course, answered: Sequence[AnsweredQuestion], out: Path, *,
                         trainer: bool = False) -> Path:
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise BronwijzerError(f"{out}: handout format must be one of {', '.join(FORMATS)}")
    if suffix == ".docx":
        data: bytes = course_docx(course, answered, trainer=trainer)
    elif suffix == ".html":
        data = course_html(course, answered, trainer=trainer).encode("utf-8")
    else:
        data = course_markdown(course, answered, trainer=trainer).encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(out)
    return out
