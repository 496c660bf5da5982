"""The chat page in Gradio: theme, CSS and the Blocks wired to a `WebChat`.

Two tabs: "Vragen" (chat, example questions or a course session's questions, feedback,
filters, and the sources panel beside them) and "Over Bronwijzer" (the documents in the
index, the models in use, and what is stored for how long). The element ids are what
the browser tests and the CSS select on.

Accessibility (WCAG 2.1 AA, checked with axe-core in tests/test_a11y.py): a primary
colour with enough contrast, a visible focus ring on everything that takes focus, a
heading structure (h1 page, h2 sections, h3 sources), labels on every control, the page
in Dutch (`lang="nl"`, see LANG_JS) and the chat a polite live region (Gradio's own).
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio loads: no calls home

import gradio as gr

from bronwijzer.text import markdown_escape
from presentation.web.chat import WebChat
from presentation.web.courses import NO_COURSE, CourseExamples
from presentation.web.render import NO_SOURCES_HTML

# System fonts: the chat must not fetch fonts from the internet (offline by design).
# Gradio's orange primary gives white text a contrast of 2.8 (axe: color-contrast); blue
# 700/800 gives 6.7/8.7. Its subdued text (an empty dropdown's input) is neutral 400, 1.9
# on white: 600 gives 7.7; placeholders 500 (4.8).
THEME = gr.themes.Default(
    primary_hue="blue", font=["system-ui", "Segoe UI", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "Consolas", "monospace"],
).set(
    button_primary_background_fill="*primary_700",
    button_primary_background_fill_dark="*primary_700",
    button_primary_background_fill_hover="*primary_800",
    button_primary_background_fill_hover_dark="*primary_800",
    button_primary_text_color="white",
    button_primary_border_color="*primary_700",
    body_text_color_subdued="*neutral_600",
    input_placeholder_color="*neutral_500",
)
CSS = """
.bw-sources h2 { margin: 0 0 .6em; font-size: 1.05em; }
.bw-time { font-weight: normal; color: #595959; font-size: .85em; }
.bw-source { border: 1px solid #d9dde3; border-radius: 8px; padding: .7em .9em;
             margin-bottom: .8em; background: #fff; color: #222; }
.bw-title { font-weight: 600; font-size: 1em; margin: 0; }
.bw-n { color: #1d4ed8; }
.bw-meta, .bw-section { color: #555; font-size: .88em; margin: .2em 0 .4em; }
.bw-stale { color: #9a3412; font-weight: 600; }
.bw-notice { background: #fff7ed; border-left: 4px solid #c2410c; color: #222;
             padding: .4em .7em; margin: 0 0 .8em; font-weight: 600; }
.bw-passage { margin: .3em 0; padding-left: .7em; border-left: 3px solid #cbd5e1;
              font-size: .92em; white-space: pre-wrap; color: #222; }
.bw-passage mark { background: #fde68a; color: #222; padding: 0 .1em; }
.bw-other { background: #f8fafc; color: #444; }
.bw-more summary { cursor: pointer; color: #444; margin: .4em 0; }
.bw-refusal { font-weight: 600; }
.bw-note, .bw-empty p { color: #555; }
.bw-pdf, .bw-current, .bw-version { font-size: .9em; display: inline-block; margin-right: 1em; }
.bw-sources a { color: #1d4ed8; text-decoration: underline; padding: 0; }
.bw-sr { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0;
         overflow: hidden; clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0; }
#examples-heading h2 { font-size: 1em; margin: .2em 0; }
.bw-example { justify-content: flex-start; text-align: left; }
/* visible focus for keyboard users (WCAG 2.4.7): Gradio removes outlines in places */
.gradio-container :is(button, a, summary, input, textarea, select, [tabindex]):focus-visible {
  outline: 3px solid #1d4ed8 !important; outline-offset: 2px; }
"""
# Gradio's i18n sets <html lang> to the browser's locale (en for an English browser); the
# page is Dutch whatever the browser, so lang stays "nl" (WCAG 3.1.1). Run by Gradio on
# load (through Function, which the page's CSP allows for Gradio already).
LANG_JS = """() => {
  const root = document.documentElement;
  const dutch = () => { if (root.lang !== "nl") root.lang = "nl"; };
  dutch();
  new MutationObserver(dutch).observe(root, {attributes: true, attributeFilter: ["lang"]});
}"""
EXAMPLES_HEADING = "## Voorbeeldvragen\nKlik op een vraag om haar te stellen."


def build_blocks(chat: WebChat) -> gr.Blocks:
    with gr.Blocks(title="Bronwijzer", analytics_enabled=False,
                   delete_cache=(900, 3600)) as blocks:  # handouts: gone within ~1 h
        conversation = gr.State(None)  # per browser session: Conversation
        gr.Markdown("# Bronwijzer\nStel een vraag over de beleidsdocumenten. Elk antwoord "
                    "noemt de passage en pagina waar het vandaan komt.")
        with gr.Tabs():
            with gr.Tab("Vragen", id="chat-tab"), gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    ui = _chat_controls()
                    course = _course_controls(chat.course_examples)
                    examples = _example_controls(chat.course_examples)
                    feedback = _feedback_controls()
                    filters, filter_box = _filter_controls(chat.filter_choices())
                with gr.Column(scale=2):
                    sources = gr.HTML(NO_SOURCES_HTML, elem_id="sources", js_on_load=None)
            with gr.Tab("Over Bronwijzer", id="about-tab", elem_id="about"):
                about = _about_controls()
                gr.Markdown(chat.privacy_markdown(), elem_id="about-privacy")

        outputs = [ui["chatbot"], sources, ui["question"], conversation, ui["download"]]
        inputs = [ui["question"], conversation, *filters]
        ui["ask"].click(chat.respond, inputs, outputs)
        ui["question"].submit(chat.respond, inputs, outputs)
        ui["new"].click(chat.new_conversation, None, outputs, queue=False)
        # the chat's own 🗑 button: a new conversation too, not only an empty display
        ui["chatbot"].clear(chat.new_conversation, None, outputs, queue=False)
        for rating, button in feedback["buttons"].items():
            button.click(_rate(chat, rating), [feedback["comment"], conversation],
                         [feedback["status"], feedback["comment"]])
        ui["chatbot"].like(chat.like, [conversation], None)
        _wire_examples(chat, course, examples, [conversation, *filters],
                       [*outputs, *filters, filter_box])
        blocks.load(chat.about, None, about)
    return blocks


def _rate(chat: WebChat, rating: str) -> Any:
    """The click handler of one feedback button; Gradio passes the request by its type
    hint (a lambda cannot carry one), which the feedback needs for the opt-in user name."""
    def rate(comment: str, conversation: Any, request: gr.Request) -> tuple[str, str]:
        return chat.give_feedback(rating, comment, conversation, request)

    rate.__name__ = f"feedback_{rating}"  # the API name Gradio shows
    return rate


def _chat_controls() -> dict[str, Any]:
    # no "share" button: it posts to Hugging Face (and has no accessible name)
    chatbot = gr.Chatbot(label="Gesprek", elem_id="chat", height=480, show_label=False,
                         latex_delimiters=[], placeholder="Hier verschijnt het gesprek.",
                         buttons=["copy", "copy_all"])
    with gr.Row():
        question = gr.Textbox(label="Uw vraag", elem_id="question", scale=5, max_lines=4,
                              placeholder="Bijvoorbeeld: Wat is sociale herovering?")
        ask = gr.Button("Vraag stellen", variant="primary", scale=1, elem_id="ask")
    with gr.Row():
        new = gr.Button("Nieuw gesprek", elem_id="new-conversation")
        download = gr.DownloadButton("Gesprek downloaden (Markdown)", elem_id="download",
                                     interactive=False)
    return {"chatbot": chatbot, "question": question, "ask": ask, "new": new,
            "download": download}


def _course_controls(examples: CourseExamples) -> list[Any]:
    """Course and session selectors; none at all without course packs."""
    titles = examples.course_titles()
    if not titles:
        return []
    with gr.Row(elem_id="course-controls"):
        course = gr.Dropdown([("Geen cursus (algemene voorbeeldvragen)", NO_COURSE),
                              *((t, t) for t in titles)], value=NO_COURSE, label="Cursus",
                             elem_id="course")
        session = gr.Dropdown([], value=None, label="Bijeenkomst", elem_id="session",
                              visible=False)
    return [course, session]


def _example_controls(examples: CourseExamples) -> list[Any]:
    """A heading and as many buttons as the longest list needs; unused ones are hidden."""
    controls = [gr.Markdown(EXAMPLES_HEADING, elem_id="examples-heading")]
    defaults = examples.defaults
    with gr.Column(elem_id="examples"):
        for number in range(examples.most()):
            shown = number < len(defaults)
            controls.append(gr.Button(defaults[number].text if shown else "", visible=shown,
                                      size="sm", elem_classes=["bw-example"],
                                      elem_id=f"example-{number}"))
    return controls


def _shown_examples(examples: CourseExamples, course: str | None, session: str | None,
                    buttons: int) -> list[Any]:
    """Updates of the heading and every button for the chosen course and session."""
    questions = examples.examples(course, session)
    heading = examples.heading(course, session)
    updates = [gr.update(value=f"## {markdown_escape(heading)}\nKlik op een vraag om haar te "
                         "stellen; een eventueel filter van de vraag wordt ingesteld."
                         if heading else EXAMPLES_HEADING)]
    for number in range(buttons):
        shown = number < len(questions)
        updates.append(gr.update(value=questions[number].text if shown else "", visible=shown))
    return updates


def _wire_examples(chat: WebChat, course: list[Any], examples: list[Any], inputs: list[Any],
                   outputs: list[Any]) -> None:
    """Clicking example `n` asks it; choosing a course or session changes the examples."""
    buttons = examples[1:]
    for number, button in enumerate(buttons):
        button.click(_ask_example(chat, number, bool(course)), [*course, *inputs], outputs)
    if not course:
        return
    pack = chat.course_examples

    def choose_course(title: str | None) -> list[Any]:
        sessions = pack.session_titles(title)
        first = sessions[0] if sessions else None
        return [gr.update(choices=sessions, value=first, visible=bool(sessions)),
                *_shown_examples(pack, title, first, len(buttons))]

    def choose_session(title: str | None, session: str | None) -> list[Any]:
        return _shown_examples(pack, title, session, len(buttons))

    course[0].change(choose_course, [course[0]], [course[1], *examples], queue=False)
    course[1].change(choose_session, course, examples, queue=False)


def _ask_example(chat: WebChat, number: int, with_course: bool) -> Any:
    """The click handler of example button `number` (explicit parameters: Gradio passes
    the request by its type hint)."""
    def ask_in_course(course: str | None, session: str | None, conversation: Any,
                      documents: Any, publishers: Any, types: Any, year_from: Any,
                      year_to: Any, valid_on: Any, request: gr.Request) -> Any:
        yield from chat.ask_example(number, course, session, conversation, documents,
                                    publishers, types, year_from, year_to, valid_on,
                                    request=request)

    def ask(conversation: Any, documents: Any, publishers: Any, types: Any, year_from: Any,
            year_to: Any, valid_on: Any, request: gr.Request) -> Any:
        yield from chat.ask_example(number, None, None, conversation, documents,
                                    publishers, types, year_from, year_to, valid_on,
                                    request=request)

    handler = ask_in_course if with_course else ask
    handler.__name__ = f"example_{number}"  # the API name Gradio shows
    return handler


def _feedback_controls() -> dict[str, Any]:
    with gr.Accordion("Feedback op het laatste antwoord", open=True, elem_id="feedback"):
        comment = gr.Textbox(label="Toelichting (optioneel)", elem_id="feedback-comment",
                             max_lines=3)
        with gr.Row():
            buttons = {
                "up": gr.Button("👍 Goed antwoord", elem_id="feedback-up"),
                "down": gr.Button("👎 Niet goed", elem_id="feedback-down"),
                "wrong_source": gr.Button("Bron klopt niet", elem_id="feedback-source"),
            }
        status = gr.Markdown(elem_id="feedback-status")
    return {"comment": comment, "buttons": buttons, "status": status}


def _filter_controls(choices: dict[str, list[Any]]) -> tuple[list[Any], Any]:
    """Documents (a law once, whatever its versions), publishers, types, year from, year to,
    the date whose law is asked about (the order respond() expects), and their accordion."""
    with gr.Accordion("Zoeken binnen (filters)", open=False, elem_id="filters") as box:
        documents = gr.Dropdown(choices["documents"], multiselect=True, label="Documenten",
                                elem_id="filter-documents")
        with gr.Row():
            publishers = gr.Dropdown(choices["publishers"], multiselect=True, label="Uitgever")
            types = gr.Dropdown(choices["types"], multiselect=True, label="Soort document")
        with gr.Row():
            year_from = gr.Dropdown(choices["years"], label="Vanaf jaar", value=None)
            year_to = gr.Dropdown(choices["years"], label="Tot en met jaar", value=None)
        valid_on = gr.Textbox(value="", label="Geldend op (wetten)", elem_id="filter-valid-on",
                              placeholder="JJJJ-MM-DD; leeg: vandaag", max_lines=1,
                              info="Wetten worden beantwoord uit de versie die op deze datum "
                                   "gold.")
    return [documents, publishers, types, year_from, year_to, valid_on], box


def _about_controls() -> list[Any]:
    status = gr.Markdown(elem_id="about-status")
    table = gr.Dataframe(
        headers=["Titel", "Uitgever", "Jaar", "Soort", "Pagina's", "Passages", "Bestand"],
        interactive=False, wrap=True, elem_id="about-documents", label="Documenten in de index",
        column_widths=["28%", "20%", "7%", "11%", "9%", "9%", "16%"])
    return [table, status]
