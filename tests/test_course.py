"""Course packs: loading with clear errors, and handouts read back in every format."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from bronwijzer.domain import BronwijzerError
from presentation.course import load_course
from tests.conftest import PROJECT

COURSE = PROJECT / "courses" / "openbare-orde-in-de-wijk.toml"


def cli_env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(PROJECT)}


def test_the_example_course_loads() -> None:
    course = load_course(COURSE)
    assert course.title.startswith("Openbare orde in de wijk")
    assert [len(s.questions) for s in course.sessions] == [3, 3]
    bibob = course.questions[2]
    assert bibob.filters.laws == ("BWBR0013798",) and bibob.notes  # the law, in force


@pytest.mark.parametrize(("text", "message"), [
    ('audience = "x"\n[[session]]\ntitle = "S"\n[[session.question]]\ntext = "V?"\n',
     "field 'title' must be a non-empty text"),
    ('title = "T"\naudience = "x"\n', "has no \\[\\[session\\]\\]"),
    ('title = "T"\naudience = "x"\n[[session]]\ntitle = "S"\n', "session 1: has no"),
    ('title = "T"\naudience = "x"\n[[session]]\ntitle = "S"\n[[session.question]]\n'
     'text = "V?"\nfilter = ["kleur=rood"]\n', "session 1, question 1: filter 'kleur=rood'"),
    ('title = "T\n', "invalid TOML"),
])
def test_a_bad_course_is_a_clear_error_naming_file_and_field(tmp_path, text, message) -> None:
    path = tmp_path / "cursus.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(BronwijzerError, match=f"cursus.toml: .*{message}|cursus.toml: {message}"):
        load_course(path)


@pytest.mark.slow
def test_handouts_carry_every_question_citation_and_locator(demo_index, tmp_path) -> None:
    import docx

    from assistant.pipeline import build_assistant
    from presentation.course import answer_course
    from presentation.course_handout import write_course_handout

    course = load_course(COURSE)
    answered = answer_course(build_assistant(demo_index), course)
    assert sum(not a.answer.refused for a in answered) >= 5
    out = {suffix: write_course_handout(course, answered, tmp_path / f"h{suffix}")
           for suffix in (".docx", ".html", ".md")}
    text = "\n".join(p.text for p in docx.Document(str(out[".docx"])).paragraphs)
    html = out[".html"].read_text("utf-8")
    for number, item in enumerate(answered, start=1):
        assert f"Vraag {number}: {item.question.text}" in text
        for citation in item.answer.citations:
            assert citation.quote in text  # the exact quote, in full
            assert citation.locator in text  # page or article (a news item has neither)
            assert citation.title in text and citation.title in html
    # each cited law names its version, the one in force, with a link to it
    assert "art. 172" in text and "versie geldend vanaf 2026-10-01" in text
    assert "https://wetten.overheid.nl/BWBR0005416/2026-10-01#Artikel172" in text
    assert "Let op: Gemeentewet" not in text
    assert '<html lang="nl">' in html and "page-break-before: always" in html
    assert "<script" not in html.lower()
    # the same index gives the same bytes
    again = write_course_handout(course, answered, tmp_path / "again.docx")
    assert again.read_bytes() == out[".docx"].read_bytes()


@pytest.mark.slow
def test_the_course_command_writes_the_handout(demo_index, tmp_path) -> None:
    out = tmp_path / "handout.md"
    result = subprocess.run(
        [sys.executable, "-m", "cli", "course", "handout", str(COURSE), "--index",
         str(demo_index.index.index_dir), "--out", str(out), "--trainer"],
        env=cli_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"wrote .*handout.md: 6 questions", result.stdout)
    markdown = out.read_text("utf-8")
    assert markdown.count("### Vraag ") == 6 and "Voor de trainer:" in markdown
    bad = subprocess.run([sys.executable, "-m", "cli", "course", "handout", str(COURSE),
                          "--index", str(demo_index.index.index_dir), "--out",
                          str(tmp_path / "h.pdf")], env=cli_env(), capture_output=True,
                         text=True, timeout=600)
    assert bad.returncode == 1 and "handout format must be one of" in bad.stderr
