"""Structure-aware chunking: sections stay together, sentences stay whole.

A passage never crosses a heading-path boundary, is packed from whole sentences
up to a target size in the embedding model's own tokens, and overlaps its
predecessor by a few sentences. The text that gets embedded is prefixed with
the document title and section, which helps dense retrieval of short law
articles; the passage text itself stays verbatim so quotes can be found back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby

from bronwijzer.domain import Block, Document, Passage
from bronwijzer.text import heading_prefix, sentence_spans

SECTION_SEPARATOR = " › "


@dataclass(frozen=True)
class _Sentence:
    text: str
    start: int  # offset in the document's cleaned text
    end: int
    page: int | None
    page_label: str | None
    tokens: int


class Chunker:
    """Callable: Document -> list[Passage]."""

    def __init__(
        self,
        count_tokens: Callable[[str], int],
        *,
        max_tokens: int,
        target_tokens: int = 220,
        overlap_tokens: int = 40,
    ) -> None:
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.overhead = count_tokens("")  # specials and prefix the model adds
        self.target = min(target_tokens, max_tokens - self.overhead)
        self.overlap = overlap_tokens

    def __call__(self, document: Document) -> list[Passage]:
        passages: list[Passage] = []
        offset = 0
        sentences_by_section: list[tuple[tuple[str, ...], str | None, list[_Sentence]]] = []
        for section, blocks in groupby(document.blocks, key=lambda b: b.section):
            sentences: list[_Sentence] = []
            url = None  # a law article's address in its version: the section's own
            for block in blocks:
                sentences.extend(self._sentences(block, offset))
                offset += len(block.text) + 2  # blocks are joined with "\n\n"
                url = url or block.url
            sentences_by_section.append((section, url, sentences))

        for section, url, sentences in sentences_by_section:
            section_text = SECTION_SEPARATOR.join(section)
            budget = self.target - self._tokens(heading_prefix(document.title, section_text))
            for group in self._pack(sentences, max(budget, 32)):
                passages.append(self._passage(document, section_text, group, len(passages),
                                              url))
        return passages

    def _tokens(self, text: str) -> int:
        return max(self.count_tokens(text) - self.overhead, 0)

    def _sentences(self, block: Block, offset: int) -> list[_Sentence]:
        result = []
        for start, end in sentence_spans(block.text):
            text = block.text[start:end]
            tokens = self._tokens(text)
            for piece_start, piece_end, piece_tokens in self._split_long(text, tokens):
                result.append(
                    _Sentence(
                        text=text[piece_start:piece_end],
                        start=offset + start + piece_start,
                        end=offset + start + piece_end,
                        page=block.page,
                        page_label=block.page_label,
                        tokens=piece_tokens,
                    )
                )
        return result

    def _split_long(self, text: str, tokens: int) -> list[tuple[int, int, int]]:
        """Cut a sentence longer than the target at word boundaries (tables, lists)."""
        if tokens <= self.target:
            return [(0, len(text), tokens)]
        pieces: list[tuple[int, int, int]] = []
        start = 0
        while start < len(text):
            end = len(text)
            # shrink to fit: proportional guess, then step back word by word
            while True:
                piece_tokens = self._tokens(text[start:end])
                if piece_tokens <= self.target:
                    break
                guess = start + int((end - start) * self.target / piece_tokens * 0.95)
                cut = text.rfind(" ", start + 1, max(guess, start + 2))
                end = cut if cut > start else max(guess, start + 1)
            pieces.append((start, end, piece_tokens))
            start = end
            while start < len(text) and text[start] == " ":
                start += 1
        return pieces

    def _pack(self, sentences: list[_Sentence], budget: int) -> list[list[_Sentence]]:
        groups: list[list[_Sentence]] = []
        current: list[_Sentence] = []
        size = 0
        for sentence in sentences:
            if current and size + sentence.tokens > budget:
                groups.append(current)
                current = self._overlap_tail(current, budget - sentence.tokens)
                size = sum(s.tokens for s in current)
            current.append(sentence)
            size += sentence.tokens
        if current:
            groups.append(current)
        return groups

    def _overlap_tail(self, group: list[_Sentence], room: int) -> list[_Sentence]:
        tail: list[_Sentence] = []
        size = 0
        for sentence in reversed(group[1:]):  # never carry the whole group over
            if size + sentence.tokens > min(self.overlap, room):
                break
            tail.insert(0, sentence)
            size += sentence.tokens
        return tail

    def _passage(self, document: Document, section: str, group: list[_Sentence], ordinal: int,
                 url: str | None = None) -> Passage:
        text = " ".join(s.text for s in group)
        pages = [s.page for s in group if s.page is not None]
        return Passage(
            id=f"{document.id}-{document.sha256[:8]}-{ordinal:04d}",
            document_id=document.id,
            document=document.name,
            title=document.title,
            text=text,
            ordinal=ordinal,
            page_start=min(pages) if pages else None,
            page_end=max(pages) if pages else None,
            page_label=group[0].page_label,
            section=section,
            char_start=group[0].start,
            char_end=group[-1].end,
            publisher=document.publisher,
            year=document.year,
            document_type=document.document_type,
            version_date=document.version_date,
            status=document.status,
            current_url=document.current_url,
            bwb_id=document.bwb_id,
            valid_from=document.valid_from,
            publication_date=document.publication_date,
            regulatory_layer=document.regulatory_layer,
            url=url,
        )
