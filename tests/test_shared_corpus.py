"""End to end over ../shared/corpus: ingest all of it, then ask cited questions.

The index is built once per session (see conftest.py); these are the tests that
prove the product on the documents it is meant for.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.cite import MARKER
from bronwijzer.domain import REFUSAL_TEXT, Filters, embedding_text
from bronwijzer.text import flatten_whitespace
from store.index import Index

pytestmark = pytest.mark.slow

DATASET = Path(__file__).resolve().parents[1] / "evals" / "datasets" / "shared_corpus.jsonl"

OUT_OF_SCOPE = [
    "Hoeveel kost een paspoort bij de gemeente Amsterdam?",
    "Wat is het recept voor Hollandse erwtensoep?",
    "Wie won het Eurovisie Songfestival in 2019?",
    "Hoe hoog is de Mount Everest?",
]


def test_every_shared_corpus_file_is_ingested(shared_index, shared_corpus):
    _, report = shared_index
    if report is None:
        pytest.skip("reusing an existing index (BRONWIJZER_TEST_INDEX): no ingest report")
    files = sorted(p.name for p in shared_corpus.iterdir() if p.is_file())
    assert sorted(f.document for f in report.files) == files
    failed = [(f.document, f.error) for f in report.failed]
    assert failed == [] and report.exit_code == 0
    pdfs = {f.document: f for f in report.files if f.document.endswith(".pdf")}
    assert all(f.pages and f.passages for f in pdfs.values())
    print(f"\ningest of ../shared/corpus: {report.processed_pages()} pages, "
          f"{report.new_passages()} passages in {report.seconds:.0f} s "
          f"({report.processed_pages() / report.seconds:.2f} pages/s)")


def test_passages_stay_within_the_token_limit(shared_index, embeddings):
    settings, _ = shared_index
    index = Index(settings.index, embeddings=embeddings)
    passages = list(index.catalog.iter_passages())
    assert len(passages) > 500
    worst = max(embeddings.count_tokens(embedding_text(p)) for p in passages)
    assert worst <= embeddings.max_tokens


def test_a_known_pdf_quote_comes_back_with_its_page(shared_assistant):
    retrieval = shared_assistant.retrieve("Milieuschade mag niet zonder gevolgen blijven")
    top = retrieval.passages[0].passage
    assert top.document == "kamerbrief_circulaire_economie_IenW_2023.pdf"
    assert top.page == 3
    assert "Milieuschade mag niet zonder gevolgen blijven" in top.text


def _answerable_items(limit: int) -> list[dict]:
    if not DATASET.exists():
        pytest.skip(f"{DATASET} missing")
    items = [json.loads(line) for line in DATASET.read_text("utf-8").splitlines() if line]
    return [i for i in items if i["answerable"]][:limit]


def test_extractive_answers_quote_their_cited_passages(shared_assistant):
    answered = 0
    for item in _answerable_items(30):
        answer = shared_assistant.ask(item["question"])
        if answer.refused:
            continue
        answered += 1
        provided = {p.passage.id: p.passage for p in answer.passages}
        assert answer.citations, item["id"]
        for citation in answer.citations:
            assert citation.passage_id in provided, item["id"]  # every [n] resolves
            passage = provided[citation.passage_id]
            assert citation.document == passage.document and citation.page == passage.page
            # the quote is exactly the passage text between its offsets: nothing joined
            assert passage.text[citation.start:citation.end] == citation.quote, item["id"]
            assert citation.locator == passage.locator() and citation.locator, item["id"]
        numbers = {c.n: c for c in answer.citations}
        # every answer sentence is a verbatim quote from the passage it cites
        for sentence, n in re.findall(r"(.+?) \[(\d+)\](?:\s|$)", answer.text):
            passage = provided[numbers[int(n)].passage_id]
            assert flatten_whitespace(sentence) in flatten_whitespace(passage.text)
        assert 1 <= len(MARKER.findall(answer.text)) <= 5
    assert answered >= 24


@pytest.mark.parametrize("question", OUT_OF_SCOPE)
def test_out_of_scope_questions_are_refused_with_closest_passages(shared_assistant, question):
    answer = shared_assistant.ask(question)
    assert answer.refused and answer.text == REFUSAL_TEXT
    assert answer.citations == [] and answer.passages


def test_filters_restrict_answers_to_the_chosen_documents(shared_assistant):
    question = "Wat zijn de taken van de burgemeester bij de openbare orde?"
    only = Filters(documents=("wet_bibob_BWBR0013798.md",))
    retrieval = shared_assistant.retrieve(question, only)
    assert retrieval.passages
    assert {p.passage.document for p in retrieval.passages} == {"wet_bibob_BWBR0013798.md"}
    kamerbrieven = Filters(document_types=("kamerbrief",), year_min=2023, year_max=2023)
    retrieval = shared_assistant.retrieve("circulaire economie en grondstoffen", kamerbrieven)
    assert retrieval.passages
    assert all(p.passage.document_type == "kamerbrief" and p.passage.year == 2023
               for p in retrieval.passages)


def test_follow_up_questions_are_rewritten_and_answered(shared_assistant):
    first = "Wie mag een bestuurlijke boete opleggen bij overlast in de openbare ruimte?"
    answer = shared_assistant.ask(first)
    follow_up = shared_assistant.ask("En hoe hoog mag die boete zijn?",
                                     history=[(first, answer.text)])
    assert follow_up.rewritten_question and "boete" in follow_up.rewritten_question
    assert "overlast" in follow_up.rewritten_question
    documents = {p.passage.document for p in follow_up.passages[:5]}
    assert documents & {"gemeentewet_BWBR0005416.md",
                        "besluit_bestuurlijke_boete_overlast_openbare_ruimte_BWBR0024941.md"}


def test_answers_are_deterministic(shared_assistant):
    question = "Welke taken heeft een wijkagent volgens het besluit?"
    first, second = shared_assistant.ask(question), shared_assistant.ask(question)
    assert first.text == second.text and first.refused == second.refused
    assert [p.passage.id for p in first.passages] == [p.passage.id for p in second.passages]



def test_law_citations_name_the_article(shared_assistant):
    answer = shared_assistant.ask(
        "Wie is binnen de gemeente verantwoordelijk voor het handhaven van de openbare orde?")
    assert not answer.refused
    laws = [c for c in answer.citations if c.document == "gemeentewet_BWBR0005416.md"]
    assert laws and all(re.fullmatch(r"art\. \d+[a-z]*", c.locator) for c in laws)
    assert all(c.page is None for c in laws)  # a law text has no pages: the article instead
