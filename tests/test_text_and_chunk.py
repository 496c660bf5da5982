"""Sentence splitting and chunking, measured with the real e5 tokenizer."""

from __future__ import annotations

from bronwijzer.domain import Block, Document, embedding_text
from bronwijzer.text import split_sentences, stems
from ingest.chunk import Chunker


def test_dutch_abbreviations_do_not_end_sentences():
    text = ("Dit geldt o.a. voor art. 12 van de wet. Zie bijv. blz. 4 en nr. 3. "
            "Het college m.b.t. de Wmo besluit. J. de Vries is het eens.")
    assert split_sentences(text) == [
        "Dit geldt o.a. voor art. 12 van de wet.",
        "Zie bijv. blz. 4 en nr. 3.",
        "Het college m.b.t. de Wmo besluit.",
        "J. de Vries is het eens.",
    ]


def test_enumerations_and_questions():
    assert split_sentences("1. Eerste punt. 2. Tweede punt. Klopt dat? Ja!") == [
        "1. Eerste punt.", "2. Tweede punt.", "Klopt dat?", "Ja!"
    ]


def test_sentences_are_verbatim_substrings():
    text = "Eerste zin  met   spaties.\nTweede zin (met haakjes). ‘Derde’ zin."
    for sentence in split_sentences(text):
        assert sentence in text


def test_dutch_stemming_matches_inflections():
    assert set(stems("gemeenten")) == set(stems("gemeente"))
    assert "de" not in stems("de gemeente")


def _document(blocks: list[Block]) -> Document:
    return Document(path="/tmp/x.pdf", name="x.pdf", sha256="ab" * 32, title="Titel",
                    blocks=blocks, pages=3)


def test_passages_respect_the_model_token_limit_and_pages(embeddings):
    def sentences(first: int) -> str:
        return " ".join(f"Zin {i} gaat over ondersteuning van bewoners in kwetsbare wijken."
                        for i in range(first, first + 30))

    blocks = [
        Block(sentences(0), page=1, section=("Hoofdstuk 1",)),
        Block(sentences(30), page=2, section=("Hoofdstuk 1",)),
        Block("Een korte slotzin over de evaluatie van het beleid.", page=3,
              section=("Hoofdstuk 2",)),
    ]
    chunker = Chunker(embeddings.count_tokens, max_tokens=embeddings.max_tokens,
                      target_tokens=120, overlap_tokens=20)
    passages = chunker(_document(blocks))
    assert len(passages) > 4
    for passage in passages:
        assert embeddings.count_tokens(embedding_text(passage)) <= embeddings.max_tokens
        assert embeddings.count_tokens(embedding_text(passage)) <= 120 + 16
    # pages and sections follow the text
    assert passages[0].page_start == 1
    assert any(p.page_start == 1 and p.page_end == 2 for p in passages)
    assert passages[-1].section == "Hoofdstuk 2" and passages[-1].page_start == 3
    # overlap: the next passage of a section starts with the last sentence(s) of this one
    first_of_second = passages[1].text.split(". ")[0] + "."
    assert first_of_second in passages[0].text
    assert not passages[0].text.startswith(first_of_second)
    # character offsets point into the joined document text
    full = "\n\n".join(b.text for b in blocks)
    last = passages[-1]
    assert full[last.char_start:last.char_end] == last.text


def test_a_sentence_longer_than_the_limit_is_cut_not_truncated(embeddings):
    words = " ".join(f"woord{i}" for i in range(900))  # one "sentence" far over 512 tokens
    chunker = Chunker(embeddings.count_tokens, max_tokens=embeddings.max_tokens,
                      target_tokens=200, overlap_tokens=20)
    passages = chunker(_document([Block(words, page=1)]))
    assert len(passages) > 3
    assert " ".join(p.text for p in passages).split() == words.split()
    assert all(embeddings.count_tokens(embedding_text(p)) <= embeddings.max_tokens
               for p in passages)


def test_locators_are_pages_articles_or_sections():
    from bronwijzer.domain import Passage

    def passage(**fields):
        return Passage(id="p", document_id="d", document="x", title="T", text="t", ordinal=0,
                       **fields)

    assert passage(page_start=3, page_end=3).locator() == "p. 3"
    assert passage(page_start=3, page_end=4).locator() == "p. 3–4"
    assert passage(section="Titel I Begripsbepalingen › Artikel 172a").locator() == "art. 172a"
    assert passage(section="Hoofdstuk 2 › Artikel 2.3.1 › Toelichting").locator() == "art. 2.3.1"
    assert passage(section="1 Inleiding › 1.1 Algemeen").locator() == "1.1 Algemeen"
    assert passage().locator() == ""


def test_quotes_are_exact_spans_and_never_join_separate_sentences():
    from assistant.cite import Quote, cite_quotes
    from bronwijzer.domain import Passage, ScoredPassage

    text = "Eerste zin over de wijk.  Tweede zin\nover de stad. Derde zin over het dorp."
    scored = ScoredPassage(Passage(id="p1", document_id="d", document="x.md", title="T",
                                   text=text, ordinal=0, section="Artikel 4"), 1.0)
    second, third = text.index("Tweede"), text.index("Derde")
    spans = [(0, 24), (second, third - 1), (third, len(text))]
    adjacent = cite_quotes([Quote(scored, *spans[0], 0), Quote(scored, *spans[1], 1)])
    assert len(adjacent.citations) == 1  # neighbours: one contiguous quote
    apart = cite_quotes([Quote(scored, *spans[0], 0), Quote(scored, *spans[2], 2)])
    assert [c.n for c in apart.citations] == [1, 2]  # not neighbours: two citations
    assert apart.text == "Eerste zin over de wijk. [1] Derde zin over het dorp. [2]"
    for cited in (adjacent, apart):
        for citation in cited.citations:
            assert text[citation.start:citation.end] == citation.quote
            assert citation.locator == "art. 4"
    assert adjacent.citations[0].quote == text[:third - 1]
