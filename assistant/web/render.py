"""Answers and passages as the browser shows them: chat Markdown and the sources panel HTML.

Everything that comes from documents, questions or answers is escaped here before it
reaches the browser: the sources panel is HTML built with `html.escape`, and chat
messages are Markdown in which every markup character is backslash-escaped. No Gradio.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from assistant.cite import quote_parts
from bronwijzer.domain import CAUTION_TEXT, Answer, Citation, ScoredPassage

NO_SOURCES_HTML = ('<div class="bw-sources bw-empty"><p>Stel een vraag: hier verschijnen de '
                   "passages waarop het antwoord berust, met document en pagina.</p></div>")
WAITING_HTML = '<div class="bw-sources bw-empty"><p>Bezig met zoeken in de bronnen…</p></div>'


# --- chat messages (escaped Markdown) -------------------------------------------------------
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~$])")


def md_text(text: str) -> str:
    """Text that a Markdown renderer shows literally: no links, images, HTML or maths."""
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", text), quote=False)


def location(page: int | None, section: str) -> str:
    return f"p. {page}" if page else section


def answer_markdown(answer: Answer) -> str:
    parts: list[str] = []
    if answer.rewritten_question:
        parts.append(f"_Gelezen als: {md_text(answer.rewritten_question)}_")
    parts.append(md_text(answer.text))
    if answer.caution:
        parts.append(f"_{md_text(CAUTION_TEXT)}_")
    if answer.refused and answer.passages:
        parts.append("De passages die er het dichtst bij kwamen staan rechts.")
    lines = []
    for citation in answer.citations:
        where = location(citation.page, citation.section)
        lines.append(f"{md_text(f'[{citation.n}]')} {md_text(citation.title)}"
                     + (f", {md_text(where)}" if where else ""))
    if lines:
        parts.append("**Bronnen:**  \n" + "  \n".join(lines))
    return "\n\n".join(parts)


def chat_messages(answers: Sequence[Answer], pending: tuple[str, str] | None = None
                  ) -> list[dict[str, str]]:
    """Chatbot messages, strictly alternating user/assistant (the like handler relies on it)."""
    messages: list[dict[str, str]] = []
    for answer in answers:
        messages.append({"role": "user", "content": md_text(answer.question)})
        messages.append({"role": "assistant", "content": answer_markdown(answer)})
    if pending is not None:
        question, partial = pending
        messages.append({"role": "user", "content": md_text(question)})
        messages.append({"role": "assistant", "content": md_text(partial) + " …"})
    return messages


# --- the sources panel (HTML, every text escaped) --------------------------------------------
def highlight(text: str, quote: str) -> str:
    """Escaped `text` with the quoted sentence(s) in <mark>."""
    spans: list[tuple[int, int]] = []
    for part in quote_parts(quote):
        words = part.split()
        if not words:
            continue
        match = re.search(r"\s+".join(re.escape(w) for w in words), text)
        if match:
            spans.append(match.span())
    out: list[str] = []
    position = 0
    for start, end in sorted(spans):
        if start < position:
            continue
        out.append(html.escape(text[position:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        position = end
    out.append(html.escape(text[position:]))
    return "".join(out)


def meta_line(scored: ScoredPassage, page: int | None) -> str:
    p = scored.passage
    items = [v for v in (p.publisher, str(p.year) if p.year else None) if v]
    if page:
        items.append(f"p. {page}")
    elif p.page_start:
        items.append(p.location())
    if p.section:
        items.append(p.section)
    return " · ".join(html.escape(item) for item in items)


def document_link(scored: ScoredPassage, page: int | None, pdf_ids: set[str]) -> str:
    p = scored.passage
    if p.document_id not in pdf_ids:
        return ""
    target = page or p.page_start or 1
    href = f"/document/{html.escape(p.document_id)}.pdf#page={int(target)}"
    return (f'<a class="bw-pdf" href="{href}" target="_blank" rel="noopener noreferrer">'
            f"Open het document op pagina {int(target)} (PDF)</a>")


def source_card(scored: ScoredPassage, pdf_ids: set[str], citation: Citation | None = None
                ) -> str:
    p = scored.passage
    page = citation.page if citation and citation.page else p.page_start
    marker = f'<span class="bw-n">[{citation.n}]</span> ' if citation else ""
    body = highlight(p.text, citation.quote) if citation else html.escape(p.text)
    kind = "bw-source bw-cited" if citation else "bw-source bw-other"
    return (
        f'<article class="{kind}">'
        f'<div class="bw-title">{marker}{html.escape(p.title)}</div>'
        f'<div class="bw-meta">{meta_line(scored, page)}</div>'
        f'<blockquote class="bw-passage">{body}</blockquote>'
        f"{document_link(scored, page, pdf_ids)}"
        "</article>"
    )


def sources_html(answer: Answer | None, pdf_ids: set[str], turn: int = 0) -> str:
    """The panel for one answer; data-turn lets tests (and styles) tell answers apart."""
    if answer is None:
        return NO_SOURCES_HTML
    if answer.refused:
        return refused_sources_html(answer, pdf_ids, turn)
    by_id = {scored.passage.id: scored for scored in answer.passages}
    cards = [source_card(by_id[c.passage_id], pdf_ids, c)
             for c in answer.citations if c.passage_id in by_id]
    cited = {c.passage_id for c in answer.citations}
    others = [source_card(s, pdf_ids) for s in answer.passages if s.passage.id not in cited]
    seconds = answer.timings.get("total", 0.0) / 1000
    parts = [f'<div class="bw-sources" data-turn="{turn}">',
             f'<h3>Bronnen bij het laatste antwoord <span class="bw-time">'
             f"({seconds:.1f} s)</span></h3>", *cards]
    if others:
        parts += ['<details class="bw-more">',
                  f"<summary>Overige gevonden passages ({len(others)})</summary>", *others,
                  "</details>"]
    parts.append("</div>")
    return "".join(parts)


def refused_sources_html(answer: Answer, pdf_ids: set[str], turn: int = 0) -> str:
    parts = [f'<div class="bw-sources bw-refused" data-turn="{turn}">',
             f'<p class="bw-refusal">{html.escape(answer.text)}</p>']
    if answer.passages:
        parts.append("<h3>Dichtstbijzijnde passages</h3><p class='bw-note'>Deze passages lijken "
                     "op de vraag, maar zijn niet voldoende om haar te beantwoorden.</p>")
        parts += [source_card(s, pdf_ids) for s in answer.passages[:3]]
    parts.append("</div>")
    return "".join(parts)
