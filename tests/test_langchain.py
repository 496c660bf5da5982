"""The hybrid retriever as a LangChain retriever, inside a real LCEL chain.

The chain runs the real langchain-openai client against the local fake OpenAI-compatible
server, so what a user's own chain would send to a model is checked, not assumed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pdf_factory
import pytest
from conftest import SAMPLE
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate, format_document
from langchain_core.runnables import RunnablePassthrough
from langchain_openai import ChatOpenAI

from assistant.langchain import BronwijzerRetriever
from assistant.pipeline import build_assistant
from bronwijzer.domain import Filters
from presentation.settings import Settings
from tests.fake_openai import FakeOpenAI

QUESTION = "Wat is sociale herovering?"
# a PDF whose pages are about different things, so the page of a hit is known in advance
NOTA_PAGES = [
    ["Parkeren in de binnenstad", "",
     "Bewoners met een parkeervergunning mogen hun auto in de eigen wijk parkeren. "
     "Bezoekers betalen per uur aan de automaat of met een app op de telefoon."],
    ["Afvalinzameling", "",
     "Het restafval wordt elke twee weken opgehaald. Grof vuil zetten bewoners op "
     "afspraak aan de straat; de gemeente haalt het gratis op."],
    ["Buurtconciërge", "",
     "De buurtconciërge is het vaste aanspreekpunt voor bewoners van de flats aan het "
     "plein. Hij meldt kapotte lampen en zwerfvuil en kent de mensen in de portieken."],
]
PAGE_QUESTION = "Wie is het vaste aanspreekpunt voor bewoners van de flats?"


@pytest.fixture(scope="module")
def index_settings(tmp_path_factory: pytest.TempPathFactory, embeddings) -> Settings:
    """The bundled sample (Markdown, no pages) and a three-page PDF, in small passages."""
    from ingest.pipeline import Ingestor
    from store.index import Index

    folder = tmp_path_factory.mktemp("langchain")
    pdf = pdf_factory.write_text_pdf(folder / "nota_wijkbeheer.pdf", NOTA_PAGES)
    settings = Settings.from_env({}, index_dir=folder / "index", chunk_tokens=60,
                                 chunk_overlap_tokens=10)
    Ingestor(Index(settings.index, create=True, embeddings=embeddings))([Path(SAMPLE), pdf])
    return settings


@pytest.fixture(scope="module")
def retriever(index_settings, embeddings) -> BronwijzerRetriever:
    assistant = build_assistant(index_settings, embeddings=embeddings)
    return BronwijzerRetriever(retriever=assistant.retriever, k=3)


def test_documents_carry_the_passage_and_where_it_comes_from(retriever) -> None:
    documents = retriever.invoke(QUESTION)
    assert 1 <= len(documents) <= 3
    assert all(isinstance(d, Document) and d.id for d in documents)
    assert any("sociale herovering" in d.page_content.lower() for d in documents)
    top = documents[0].metadata
    assert top["source"] == top["document"] == SAMPLE.name  # the file name, as LangChain's key
    assert top["passage_id"] == documents[0].id and isinstance(top["score"], float)
    assert top["title"] and top["publisher"] and top["year"] == 2021
    assert top["page"] is None  # a Markdown file has no pages: the key, with None
    assert "text" not in top  # the text is page_content, not repeated in metadata


def test_pdf_documents_carry_a_one_based_page_and_locator(retriever) -> None:
    top = retriever.invoke(PAGE_QUESTION)[0]
    assert "buurtconciërge" in top.page_content.lower()
    # Bronwijzer counts pages from 1, as printed; PyPDFLoader would say page 2 here
    assert top.metadata["source"] == "nota_wijkbeheer.pdf"
    assert top.metadata["page"] == 3 and top.metadata["locator"] == "p. 3"
    # a chain reads the same keys from every document, paged or not
    markdown = retriever.invoke(QUESTION)[0]
    assert set(top.metadata) == set(markdown.metadata)


def test_filters_apply_inside_the_retriever(retriever) -> None:
    nowhere = retriever.model_copy(update={"filters": Filters(documents=("bestaat-niet.pdf",))})
    assert nowhere.invoke(QUESTION) == []


def test_an_lcel_chain_answers_from_the_retrieved_passages(retriever) -> None:
    prompt = ChatPromptTemplate.from_messages([
        ("system", "Antwoord alleen uit deze passages:\n\n{context}"),
        ("human", "{question}"),
    ])

    def context(documents: list[Document]) -> str:
        return "\n\n".join(f"[{n}] {d.page_content}" for n, d in enumerate(documents, 1))

    with FakeOpenAI() as fake:
        fake.answers.append("Strenge handhaving op crimineel en ongewenst gedrag [1].")
        model = ChatOpenAI(base_url=fake.base_url, model="fake-model", api_key="test")
        chain = ({"context": retriever | context, "question": RunnablePassthrough()}
                 | prompt | model | StrOutputParser())
        reply = chain.invoke(QUESTION)
    assert reply == "Strenge handhaving op crimineel en ongewenst gedrag [1]."
    messages = fake.requests[-1]["messages"]
    assert messages[-1]["content"] == QUESTION
    system = messages[0]["content"]
    passages = retriever.invoke(QUESTION)
    assert all(f"[{n}] {p.page_content}" in system  # every passage went to the model
               for n, p in enumerate(passages, 1))


def test_the_page_reaches_the_prompt_through_a_metadata_template(retriever) -> None:
    """A chain written for PyPDFLoader documents formats `{source}` and `{page}` from the
    metadata with LangChain's own format_document: the 1-based page reaches the model."""
    document_prompt = PromptTemplate.from_template("[{source}, p. {page}] {page_content}")
    pdf_only = retriever.model_copy(
        update={"filters": Filters(documents=("nota_wijkbeheer.pdf",))})
    prompt = ChatPromptTemplate.from_messages([
        ("system", "Noem bij elk antwoord de bron en de pagina.\n\n{context}"),
        ("human", "{question}"),
    ])

    def context(documents: list[Document]) -> str:
        return "\n\n".join(format_document(d, document_prompt) for d in documents)

    with FakeOpenAI() as fake:
        fake.answers.append("De buurtconciërge (nota_wijkbeheer.pdf, p. 3).")
        model = ChatOpenAI(base_url=fake.base_url, model="fake-model", api_key="test")
        chain = ({"context": pdf_only | context, "question": RunnablePassthrough()}
                 | prompt | model | StrOutputParser())
        assert chain.invoke(PAGE_QUESTION) == "De buurtconciërge (nota_wijkbeheer.pdf, p. 3)."
    system = fake.requests[-1]["messages"][0]["content"]
    # the passage on page 3 is introduced with its page (its heading may come first)
    assert re.search(r"\[nota_wijkbeheer\.pdf, p\. 3\] [^\[]*De buurtconciërge is het vaste "
                     r"aanspreekpunt", system)
    pages = {d.metadata["page"] for d in pdf_only.invoke(PAGE_QUESTION)}
    assert pages <= {1, 2, 3} and all(f"p. {page}]" in system for page in pages)
