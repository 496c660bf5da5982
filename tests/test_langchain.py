"""The hybrid retriever as a LangChain retriever, inside a real LCEL chain.

The chain runs the real langchain-openai client against the local fake OpenAI-compatible
server, so what a user's own chain would send to a model is checked, not assumed.
"""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_openai import ChatOpenAI

from assistant.pipeline import build_assistant
from assistant.retrieve import BronwijzerRetriever
from bronwijzer.domain import Filters
from tests.fake_openai import FakeOpenAI

QUESTION = "Wat is sociale herovering?"


@pytest.fixture(scope="module")
def retriever(sample_index, embeddings) -> BronwijzerRetriever:
    assistant = build_assistant(sample_index, embeddings=embeddings)
    return BronwijzerRetriever(retriever=assistant.retriever, k=3)


def test_documents_carry_the_passage_and_where_it_comes_from(retriever) -> None:
    documents = retriever.invoke(QUESTION)
    assert 1 <= len(documents) <= 3
    assert all(isinstance(d, Document) and d.id for d in documents)
    assert any("sociale herovering" in d.page_content.lower() for d in documents)
    top = documents[0].metadata
    assert top["document"].endswith(".md") and top["title"] and "score" in top
    assert "text" not in top  # the text is page_content, not repeated in metadata


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
