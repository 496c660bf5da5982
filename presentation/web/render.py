"""Answers and passages as the browser shows them: chat Markdown and the sources panel HTML.

Everything that comes from documents, questions or answers is escaped here before it
reaches the browser: the sources panel is HTML built with `html.escape`, and chat
messages are Markdown in which every markup character is backslash-escaped. No Gradio.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from bronwijzer.domain import (
    CAUTION_TEXT,
    Answer,
    Citation,
    Passage,
    ScoredPassage,
    also_searched_line,
    source_name,
)
from bronwijzer.text import markdown_escape

NO_SOURCES_HTML = ('<div class="bw-sources bw-empty"><p>Stel een vraag: hier verschijnen de '
                   "passages waarop het antwoord berust, met document en pagina.</p></div>")
WAITING_HTML = '<div class="bw-sources bw-empty"><p>Bezig met zoeken in de bronnen…</p></div>'


# --- chat messages (escaped Markdown) -------------------------------------------------------
STALE_LABEL = "mogelijk verouderd"  # beside a citation whose text is old or superseded




def citation_line(citation: Citation) -> str:
    """'[1] Gemeentewet (Rijksoverheid, versie geldend vanaf 2026-10-01), art. 151d', or for an
    outdated text '… (Rijksoverheid, versie 2015-11-24), art. 172, mogelijk verouderd'."""
    line = f"{markdown_escape(f'[{citation.n}]')} {source_name(citation).markdown()}"
    if citation.stale:
        line += f", _{markdown_escape(STALE_LABEL)}_"
    return line


def answer_markdown(answer: Answer) -> str:
    parts: list[str] = []
    if answer.rewritten_question:
        parts.append(f"_Gelezen als: {markdown_escape(answer.rewritten_question)}_")
    if answer.also_searched:
        parts.append(f"_{markdown_escape(also_searched_line(answer.also_searched))}_")
    parts.append(markdown_escape(answer.text))
    if answer.caution:
        parts.append(f"_{markdown_escape(CAUTION_TEXT)}_")
    # "Let op: ... versie van 2015 ...": with the answer, not only in the sources panel
    parts += [f"**{markdown_escape(notice)}**" for notice in answer.notices]
    if answer.refused and answer.passages:
        parts.append("De passages die er het dichtst bij kwamen staan rechts.")
    lines = [citation_line(citation) for citation in answer.citations]
    if lines:
        parts.append("**Bronnen:**  \n" + "  \n".join(lines))
    return "\n\n".join(parts)


def chat_messages(answers: Sequence[Answer], pending: tuple[str, str] | None = None
                  ) -> list[dict[str, str]]:
    """Chatbot messages, strictly alternating user/assistant (the like handler relies on it)."""
    messages: list[dict[str, str]] = []
    for answer in answers:
        messages.append({"role": "user", "content": markdown_escape(answer.question)})
        messages.append({"role": "assistant", "content": answer_markdown(answer)})
    if pending is not None:
        question, partial = pending
        messages.append({"role": "user", "content": markdown_escape(question)})
        messages.append({"role": "assistant", "content": markdown_escape(partial) + " …"})
    return messages


# --- the sources panel (HTML, every text escaped) --------------------------------------------
# an https address in a notice, without the full stop that ends the sentence
_URL = re.compile(r"https://[^\s<>\"'`]+?(?=[.,;:)]?(?:\s|$))")
NEW_TAB = '<span class="bw-sr"> (opent in een nieuw tabblad)</span>'  # for screen readers


def quote_span(text: str, citation: Citation) -> tuple[int, int] | None:
    """The offsets of the citation's quote in the passage, if they hold (text[start:end] is
    the quote); None for a citation without offsets, which is then not highlighted."""
    start, end = citation.start, citation.end
    if 0 <= start < end <= len(text) and text[start:end] == citation.quote:
        return start, end
    return None


def highlight(text: str, start: int, end: int) -> str:
    """Escaped `text` with exactly text[start:end] in <mark>: no searching, so a sentence
    that occurs twice is marked where it was quoted."""
    return (f"{html.escape(text[:start])}<mark>{html.escape(text[start:end])}</mark>"
            f"{html.escape(text[end:])}")


def linked(text: str) -> str:
    """Escaped text with its https addresses as links (notices name the text in force)."""
    out: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        url = html.escape(match.group(0))
        out += [html.escape(text[position:match.start()]),
                f'<a href="{url}" target="_blank" rel="noopener noreferrer">{url}{NEW_TAB}</a>']
        position = match.end()
    out.append(html.escape(text[position:]))
    return "".join(out)


def notices_html(answer: Answer) -> str:
    if not answer.notices:
        return ""
    items = "".join(f'<p class="bw-notice">{linked(n)}</p>' for n in answer.notices)
    return f'<div class="bw-notices">{items}</div>'


def meta_line(passage: Passage, citation: Citation | None) -> str:
    """Publisher, year or version date · 'p. 3' or 'art. 172' (· mogelijk verouderd)."""
    name = source_name(citation or passage)
    meta = " · ".join(html.escape(item) for item in (name.about, name.where) if item)
    if citation and citation.stale:
        meta += f' <span class="bw-stale">{html.escape(STALE_LABEL)}</span>'
    return meta


def document_link(passage: Passage, page: int | None, pdf_ids: set[str]) -> str:
    if passage.document_id not in pdf_ids:
        return ""
    target = page or passage.page_start or 1
    href = f"/document/{html.escape(passage.document_id)}.pdf#page={int(target)}"
    return (f'<a class="bw-pdf" href="{href}" target="_blank" rel="noopener noreferrer">'
            f"Open het document op pagina {int(target)} (PDF){NEW_TAB}</a>")


def current_link(passage: Passage, citation: Citation | None = None) -> str:
    """Links for a law: the passage's article in this version (regelrecht's versioned
    address), and the text in force (the catalogue's current_url) unless this version is
    the one in force."""
    links = []
    if passage.url:
        links.append(_link("bw-version", passage.url, "Deze versie op {host}"))
    if not passage.url or (citation is not None and citation.stale):
        links.append(_link("bw-current", passage.current_url, "Geldende tekst op {host}"))
    return "".join(links)


def _link(kind: str, url: str | None, label: str) -> str:
    if not url or not url.startswith("https://") or not _URL.fullmatch(url):
        return ""
    text = html.escape(label.format(host=url.split("/")[2]))
    return (f'<a class="{kind}" href="{html.escape(url)}" target="_blank" '
            f'rel="noopener noreferrer">{text}{NEW_TAB}</a>')


def source_card(scored: ScoredPassage, pdf_ids: set[str], citation: Citation | None = None
                ) -> str:
    p = scored.passage
    page = citation.page if citation and citation.page else p.page_start
    marker = f'<span class="bw-n">[{citation.n}]</span> ' if citation else ""
    span = quote_span(p.text, citation) if citation else None
    body = highlight(p.text, *span) if span else html.escape(p.text)
    kind = "bw-source bw-cited" if citation else "bw-source bw-other"
    section = (f'<div class="bw-section">{html.escape(p.section)}</div>'
               if p.section and p.section != p.locator() else "")
    return (
        f'<article class="{kind}">'
        f'<h3 class="bw-title">{marker}{html.escape(p.title)}</h3>'
        f'<div class="bw-meta">{meta_line(p, citation)}</div>{section}'
        f'<blockquote class="bw-passage">{body}</blockquote>'
        f"{document_link(p, page, pdf_ids)}{current_link(p, citation)}"
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
    parts = [f'<section class="bw-sources" data-turn="{turn}" aria-label="Bronnen">',
             f'<h2>Bronnen bij het laatste antwoord <span class="bw-time">'
             f"({seconds:.1f} s)</span></h2>", notices_html(answer), *cards]
    if others:
        parts += ['<details class="bw-more">',
                  f"<summary>Overige gevonden passages ({len(others)})</summary>", *others,
                  "</details>"]
    parts.append("</section>")
    return "".join(parts)


def refused_sources_html(answer: Answer, pdf_ids: set[str], turn: int = 0) -> str:
    parts = [f'<section class="bw-sources bw-refused" data-turn="{turn}" aria-label="Bronnen">',
             f'<p class="bw-refusal">{html.escape(answer.text)}</p>']
    if answer.passages:
        parts.append("<h2>Dichtstbijzijnde passages</h2><p class='bw-note'>Deze passages lijken "
                     "op de vraag, maar zijn niet voldoende om haar te beantwoorden.</p>")
        parts += [source_card(s, pdf_ids) for s in answer.passages[:3]]
    parts.append("</section>")
    return "".join(parts)
