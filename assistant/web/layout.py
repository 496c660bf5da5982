"""The chat page in Gradio: theme, CSS and the Blocks wired to a `WebChat`.

Two tabs: "Vragen" (chat, feedback, filters, and the sources panel beside them) and
"Over Bronwijzer" (the documents in the index, the models in use, and what is stored
for how long). The element ids
are what the browser tests and the CSS select on.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio loads: no calls home

import gradio as gr

from assistant.web.chat import WebChat
from assistant.web.render import NO_SOURCES_HTML

# System fonts: the chat must not fetch fonts from the internet (offline by design).
THEME = gr.themes.Default(font=["system-ui", "Segoe UI", "Arial", "sans-serif"],
                          font_mono=["ui-monospace", "Consolas", "monospace"])
CSS = """
.bw-sources h3 { margin: 0 0 .6em; font-size: 1.05em; }
.bw-time { font-weight: normal; color: #777; font-size: .85em; }
.bw-source { border: 1px solid #d9dde3; border-radius: 8px; padding: .7em .9em;
             margin-bottom: .8em; background: #fff; }
.bw-title { font-weight: 600; }
.bw-n { color: #1d4ed8; }
.bw-meta { color: #555; font-size: .88em; margin: .2em 0 .4em; }
.bw-passage { margin: .3em 0; padding-left: .7em; border-left: 3px solid #cbd5e1;
              font-size: .92em; white-space: pre-wrap; color: #222; }
.bw-passage mark { background: #fde68a; padding: 0 .1em; }
.bw-other { background: #f8fafc; color: #444; }
.bw-more summary { cursor: pointer; color: #444; margin: .4em 0; }
.bw-refusal { font-weight: 600; }
.bw-note, .bw-empty p { color: #555; }
.bw-pdf { font-size: .9em; }
"""


def build_blocks(chat: WebChat) -> gr.Blocks:
    with gr.Blocks(title="Bronwijzer", analytics_enabled=False,
                   delete_cache=(900, 3600)) as blocks:  # handouts: gone within ~1 h
        conversation = gr.State(None)  # per browser session: Conversation
        gr.Markdown("# Bronwijzer\nStel een vraag over de beleidsdocumenten. Elk antwoord "
                    "noemt de passage en pagina waar het vandaan komt.")
        with gr.Tabs():
            with gr.Tab("Vragen", id="chat-tab"), gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    ui = _chat_controls(chat)
                    feedback = _feedback_controls()
                    filters = _filter_controls(chat.filter_choices())
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
        for rating, button in feedback["buttons"].items():
            button.click(_rate(chat, rating), [feedback["comment"], conversation],
                         [feedback["status"], feedback["comment"]])
        ui["chatbot"].like(chat.like, [conversation], None)
        blocks.load(chat.about, None, about)
    return blocks


def _rate(chat: WebChat, rating: str) -> Any:
    """The click handler of one feedback button; Gradio passes the request by its type
    hint (a lambda cannot carry one), which the feedback needs for the opt-in user name."""
    def rate(comment: str, conversation: Any, request: gr.Request) -> tuple[str, str]:
        return chat.give_feedback(rating, comment, conversation, request)

    rate.__name__ = f"feedback_{rating}"  # the API name Gradio shows
    return rate


def _chat_controls(chat: WebChat) -> dict[str, Any]:
    chatbot = gr.Chatbot(label="Gesprek", elem_id="chat", height=480, show_label=False,
                         latex_delimiters=[], placeholder="Hier verschijnt het gesprek.")
    with gr.Row():
        question = gr.Textbox(label="Uw vraag", elem_id="question", scale=5, max_lines=4,
                              placeholder="Bijvoorbeeld: Wat is sociale herovering?")
        ask = gr.Button("Vraag stellen", variant="primary", scale=1, elem_id="ask")
    gr.Examples([[q] for q in chat.examples()], inputs=[question], label="Voorbeeldvragen")
    with gr.Row():
        new = gr.Button("Nieuw gesprek", elem_id="new-conversation")
        download = gr.DownloadButton("Gesprek downloaden (Markdown)", elem_id="download",
                                     interactive=False)
    return {"chatbot": chatbot, "question": question, "ask": ask, "new": new,
            "download": download}


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


def _filter_controls(choices: dict[str, list[Any]]) -> list[Any]:
    """Documents, publishers, types, year from, year to (the order respond() expects)."""
    with gr.Accordion("Zoeken binnen (filters)", open=False, elem_id="filters"):
        documents = gr.Dropdown(choices["documents"], multiselect=True, label="Documenten",
                                elem_id="filter-documents")
        with gr.Row():
            publishers = gr.Dropdown(choices["publishers"], multiselect=True, label="Uitgever")
            types = gr.Dropdown(choices["types"], multiselect=True, label="Soort document")
        with gr.Row():
            year_from = gr.Dropdown(choices["years"], label="Vanaf jaar", value=None)
            year_to = gr.Dropdown(choices["years"], label="Tot en met jaar", value=None)
    return [documents, publishers, types, year_from, year_to]


def _about_controls() -> list[Any]:
    status = gr.Markdown(elem_id="about-status")
    table = gr.Dataframe(
        headers=["Titel", "Uitgever", "Jaar", "Soort", "Pagina's", "Passages", "Bestand"],
        interactive=False, wrap=True, elem_id="about-documents", label="Documenten in de index",
        column_widths=["28%", "20%", "7%", "11%", "9%", "9%", "16%"])
    return [table, status]
