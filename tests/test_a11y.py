"""Accessibility of the web chat (WCAG 2.1 AA, required of Dutch government websites).

axe-core (through the axe-playwright-python package) checks the chat as `make demo` opens
it (corpus/ with the project's course packs) in Debian's Chromium: on arrival, with a
course chosen, with an answer from a 2015 law text (notice, sources panel with every
<details> and the filters open), with a refusal, and on the "Over Bronwijzer" tab. No
axe rule is excluded: none had to be. Then the whole flow with the keyboard alone: ask,
open a source, give feedback, download the handout, pick a course question.
Gradio keeps a connection open, so these tests wait for selectors, never "networkidle".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from presentation.settings import Settings
from presentation.web.app import build_app
from tests.conftest import running
from tests.test_web import (
    ANSWER_TIMEOUT_MS,
    OUT_OF_SCOPE,
    ask,
    csp_violations,
    feedback_rows,
    open_chat,
)

BLOCKING = {"serious", "critical"}  # the bar; moderate and minor are reported too
LAW_QUESTION = "Wie is belast met de handhaving van de openbare orde?"  # the Gemeentewet in force
FOCUSED_OUTLINE = """() => {
    const style = getComputedStyle(document.activeElement);
    return [style.outlineStyle, parseFloat(style.outlineWidth)];
}"""


@pytest.fixture(scope="module")
def demo_server(demo_index, embeddings, tmp_path_factory) -> Iterator[tuple[str, Settings]]:
    from assistant.pipeline import build_assistant

    settings = demo_index.with_(
        feedback_db=tmp_path_factory.mktemp("a11y-feedback") / "feedback.sqlite3")
    with running(build_app(build_assistant(settings, embeddings=embeddings), settings)) as url:
        yield url, settings


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now: rule, impact and the elements."""
    results = Axe().run(page)
    return [{"rule": v["id"], "impact": v["impact"], "help": v["help"],
             "elements": [" ".join(n["target"]) for n in v["nodes"]]}
            for v in results.response["violations"]]


def tab_to(page: Any, selector: str, key: str = "Tab", most: int = 120) -> None:
    """Press Tab (or Shift+Tab) until the element matching `selector` has the focus."""
    for _ in range(most):
        page.keyboard.press(key)
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return
    raise AssertionError(f"{selector} never got the focus with {key}")


def assert_focus_visible(page: Any) -> None:
    page.wait_for_timeout(250)  # Gradio's buttons animate their outline colour
    style, width = page.evaluate(FOCUSED_OUTLINE)
    assert style != "none" and width >= 2, (style, width)


@pytest.mark.slow
@pytest.mark.browser
def test_axe_finds_no_serious_or_critical_violations(browser, demo_server, artifacts) -> None:
    base_url, _ = demo_server
    served = httpx.get(base_url + "/").text
    assert '<html\n\tlang="nl"' in served or '<html lang="nl"' in served
    page = open_chat(browser, base_url)
    found: dict[str, list[dict[str, Any]]] = {}

    # Gradio's i18n sets <html lang> to the browser's language once it has loaded
    page.wait_for_function("document.documentElement.lang === 'nl'")
    page.wait_for_timeout(500)
    assert page.evaluate("document.documentElement.lang") == "nl"
    found["start"] = axe_violations(page)

    page.locator("#course input").click()
    page.get_by_role("option", name="Openbare orde in de wijk").click()
    expect(page.locator("#session input")).to_be_visible()
    found["course chosen"] = axe_violations(page)

    page.locator("#course input").click()
    page.get_by_role("option", name="Geen cursus").click()
    expect(page.locator("#session")).to_have_count(0)
    ask(page, LAW_QUESTION, turn=1)
    expect(page.locator("#sources .bw-cited .bw-version").first).to_be_visible()
    page.get_by_role("button", name="Zoeken binnen (filters)").click()
    expect(page.locator("#filter-documents")).to_be_visible()
    page.locator("#filter-valid-on textarea, #filter-valid-on input").first.fill("2016-01-01")
    page.evaluate("() => document.querySelectorAll('#sources details')"
                  ".forEach(d => { d.open = true; })")
    found["answer, sources and filters open"] = axe_violations(page)
    page.screenshot(path=str(artifacts / "a11y-answer.png"), full_page=True)

    ask(page, OUT_OF_SCOPE, turn=2)
    expect(page.locator("#sources .bw-refusal")).to_be_visible()
    found["refusal"] = axe_violations(page)
    page.screenshot(path=str(artifacts / "a11y-refusal.png"), full_page=True)

    page.get_by_role("tab", name="Over Bronwijzer").click()
    expect(page.locator("#about-documents")).to_contain_text("Gemeentewet", timeout=15_000)
    found["about"] = axe_violations(page)

    (artifacts / "a11y-axe.json").write_text(json.dumps(found, indent=2, ensure_ascii=False),
                                             encoding="utf-8")
    blocking = {state: [v for v in violations if v["impact"] in BLOCKING]
                for state, violations in found.items()}
    assert all(not v for v in blocking.values()), json.dumps(blocking, indent=2)
    assert csp_violations(page) == []  # axe runs in the page without tripping the policy
    page.context.close()


@pytest.mark.slow
@pytest.mark.browser
def test_keyboard_only_ask_open_a_source_feedback_and_handout(
        browser, demo_server, artifacts) -> None:
    base_url, settings = demo_server
    page = open_chat(browser, base_url)
    opened_urls: list[str] = []

    def law_in_force(route: Any) -> None:  # offline: stand in for wetten.overheid.nl
        opened_urls.append(route.request.url)
        route.fulfill(body="<html><body>wettekst</body></html>", content_type="text/html")

    page.context.route("https://wetten.overheid.nl/**", law_in_force)

    # the chat is a polite live region from the start, so the answer is announced
    live = page.locator('#chat [aria-live="polite"]')
    expect(live).to_have_count(1)

    # ask: Tab to the question, type it, Enter
    tab_to(page, "#question textarea")
    assert_focus_visible(page)
    page.keyboard.type(LAW_QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_selector('#sources [data-turn="1"]', timeout=ANSWER_TIMEOUT_MS)
    expect(live).to_contain_text("De burgemeester is belast met de handhaving")

    # open a source: the cited article in the version in force, then the other passages
    tab_to(page, "#sources .bw-cited a.bw-version")
    assert_focus_visible(page)
    with page.context.expect_page() as opened:
        page.keyboard.press("Enter")
    opened.value.close()
    assert opened_urls and opened_urls[0].startswith("https://wetten.overheid.nl/BWBR")
    tab_to(page, "#sources summary")
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    assert page.evaluate("document.querySelector('#sources details').open")

    # feedback: back to the button, Space
    tab_to(page, "#feedback-up", key="Shift+Tab")
    assert_focus_visible(page)
    page.keyboard.press("Space")
    expect(page.locator("#feedback-status")).to_contain_text("Bedankt", timeout=15_000)
    rows = feedback_rows(settings.web.feedback_db, {"up"})
    assert [r["question"] for r in rows if r["rating"] == "up"] == [LAW_QUESTION]

    # the handout: Enter on the download button
    tab_to(page, "#download", key="Shift+Tab")
    assert_focus_visible(page)
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    handout = Path(download.value.path()).read_text("utf-8").replace("\\", "")
    assert LAW_QUESTION in handout and "versie geldend vanaf 2026-10-01" in handout

    # a course question: choose the course with the arrow keys, Tab to a question, Space
    tab_to(page, "#course input")
    assert_focus_visible(page)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#session input")).to_be_visible()
    tab_to(page, "#examples button.bw-example")
    assert_focus_visible(page)
    question = page.evaluate("document.activeElement.innerText").strip()
    asked = live.inner_text().count(question)
    page.keyboard.press("Space")
    page.wait_for_selector('#sources [data-turn="2"]', timeout=ANSWER_TIMEOUT_MS)
    assert live.inner_text().count(question) == asked + 1
    page.screenshot(path=str(artifacts / "a11y-keyboard.png"), full_page=True)
    assert csp_violations(page) == []
    page.context.close()
