"""The hybrid retriever as a LangChain retriever, with the metadata keys LangChain's loaders use.

Chains written for LangChain's own loaders read `source` and `page` from a Document's
metadata (PyPDFLoader sets both), so the retriever's Documents carry them too:

* `source`: the source file name (Bronwijzer's `Passage.document`; PyPDFLoader puts the
  path it was given there);
* `page`: the 1-based page the passage starts on, as Bronwijzer cites it ("p. 3"). Note
  that PyPDFLoader's `page` is 0-based: its page 2 is Bronwijzer's page 3. Non-paged
  documents (Markdown, HTML, DOCX, law versions) have `page` None;
* `page_label`: the printed page label when the PDF has one (PyPDFLoader's key too);
* `locator`: where a reader finds the passage: "p. 3", "p. 3–4", or for a law without
  pages its article, "art. 172" (`Passage.locator()`);
* `title`, `publisher`, `year`, `document_type`, `section`, `passage_id`, `score`, and
  `document` (the same file name as `source`, kept for chains written against it).

Every Document carries every key, None where it is unknown, so a chain can read
`metadata["page"]` from any of them. Chroma rejects None in metadata: to store these
Documents there, drop the None values first (`{k: v for k, v in m.items() if v is not None}`).
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LangChainDocument
from langchain_core.retrievers import BaseRetriever

from bronwijzer.domain import ScoredPassage


def to_langchain(scored: ScoredPassage) -> LangChainDocument:
    """One retrieved passage as a LangChain Document (text as page_content)."""
    passage = scored.passage
    metadata: dict[str, Any] = {
        "source": passage.document,
        "page": passage.page,  # 1-based; PyPDFLoader's is 0-based (see the module docstring)
        "page_end": passage.page_end,
        "page_label": passage.page_label,
        "locator": passage.locator() or None,
        "title": passage.title,
        "publisher": passage.publisher,
        "year": passage.year,
        "document_type": passage.document_type,
        "section": passage.section or None,
        "passage_id": passage.id,
        "score": round(scored.score, 6),
        "document": passage.document,
        # a law version: its law, first day in force and the article in that version
        "bwb_id": passage.bwb_id,
        "valid_from": passage.valid_from,
        "url": passage.url,
    }
    return LangChainDocument(
        page_content=passage.text, id=passage.id,
        metadata=metadata,
    )


class BronwijzerRetriever(BaseRetriever):
    """The hybrid retriever as a LangChain retriever, for use in users' own chains.

    `retriever` is an `assistant.retrieve.HybridRetriever` (`assistant.retriever`).
    """

    retriever: Any  # HybridRetriever (kept as Any: pydantic cannot validate it)
    k: int = 6
    filters: Any = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LangChainDocument]:
        retrieval = self.retriever(query, self.k, self.filters)
        return [to_langchain(p) for p in retrieval.passages]
