"""The vocabulary: a question's policy words bring the law's words into BM25 and e5."""

from __future__ import annotations

import re

import numpy as np
import pytest

from assistant.vocabulary import BUNDLED, Vocabulary, load_vocabulary
from bronwijzer.domain import Answer, BronwijzerError, Passage
from presentation.settings import Settings
from store.lexical import LexicalIndex


@pytest.fixture(scope="module")
def bundled() -> Vocabulary:
    return Vocabulary.load(BUNDLED)


def test_policy_words_bring_the_laws_words(bundled) -> None:
    assert bundled.related("Wat kan een burgemeester doen tegen woonoverlast?") == [
        "hinder", "openbare orde", "woning", "erf", "omwonenden"]
    # same stem, and the head of a compound (Dutch compounds end in it)
    assert "toegelaten instelling" in bundled.related("Wat mogen woningcorporaties bouwen?")
    assert "hinder" in bundled.related("Wie pakt geluidsoverlast aan?")
    # a phrase matches as a phrase, not word by word
    assert bundled.related("Wat is huiselijk geweld?") == ["huisverbod"]
    assert bundled.related("Is geweld in huis strafbaar?") == []
    # an abbreviation that is also a common word matches only as written
    assert "openbaar ministerie" in bundled.related("Wanneer schakelt de gemeente het OM in?")
    assert bundled.related("Gaat het om een woning?") == []
    assert bundled.related("") == []


@pytest.mark.parametrize(("text", "message"), [
    ("[terms]\n", "needs a [terms] table"),
    ("terms = 3\n", "needs a [terms] table"),
    ('[terms]\noverlast = "hinder"\n', "'overlast' must be a list of words or phrases"),
    ('[terms]\noverlast = ["hinder", ""]\n', "'overlast' must be a list"),
    ('[terms]\n"?" = ["hinder"]\n', "key '?' has no words"),
    ("[terms\n", "not valid TOML"),
])
def test_a_bad_vocabulary_is_refused_naming_the_file_and_key(tmp_path, text, message) -> None:
    path = tmp_path / "woorden.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BronwijzerError, match=re.escape(message)) as caught:
        Vocabulary.load(path)
    assert str(path) in str(caught.value)


def test_the_vocabulary_setting_is_checked_at_start_up(tmp_path) -> None:
    missing = tmp_path / "geen.toml"
    with pytest.raises(BronwijzerError, match=r"geen\.toml: cannot read the vocabulary"):
        Settings.from_env({"BRONWIJZER_VOCABULARY": str(missing)})
    assert load_vocabulary("off") is None
    assert Settings.from_env({}).retrieval.vocabulary == "bundled"


def test_bm25_adds_the_related_words_at_their_weight() -> None:
    texts = ["De burgemeester kan bij ernstige hinder voor omwonenden een last opleggen.",
             "De burgemeester heeft zijn woonplaats in de gemeente.",
             "Overlast van hangjongeren wordt besproken in de wijk."]
    passages = [Passage(f"p{i}", "d", "wet.md", "Wet", text, 0) for i, text in enumerate(texts)]
    index = LexicalIndex.build(passages, texts, generation=1, stemmer="dutch")
    question = "Wat kan de burgemeester doen tegen overlast?"
    plain = dict(index.search(question, 3))
    assert plain == dict(index.search(question, 3, related="hinder omwonenden"))  # weight 0
    related = dict(index.search(question, 3, related="hinder omwonenden", related_weight=0.5))
    assert related["p0"] > plain["p0"] and related["p1"] == pytest.approx(plain["p1"])
    stronger = dict(index.search(question, 3, related="hinder omwonenden", related_weight=1.0))
    assert np.isclose(stronger["p0"] - plain["p0"], 2 * (related["p0"] - plain["p0"]), rtol=1e-4)
    # a question of unknown words can still be found by its related words alone
    assert [pid for pid, _ in index.search("woonoverlast?", 3, related="hinder",
                                           related_weight=0.5)] == ["p0"]


def test_the_user_sees_which_law_words_were_also_searched() -> None:
    from presentation.handout import turn_markdown
    from presentation.web.render import answer_markdown

    answer = Answer("Wat doet de burgemeester tegen woonoverlast?", "Een last. [1]", [], [],
                    refused=False, also_searched=["hinder", "omwonenden"])
    line = "Ook gezocht op de termen van de wet: hinder, omwonenden"
    assert line in answer_markdown(answer)
    assert line in "\n".join(turn_markdown(1, answer))
    assert answer.to_dict()["also_searched"] == ["hinder", "omwonenden"]
    plain = Answer("Wat is sociale herovering?", "Herovering. [1]", [], [], refused=False)
    assert "Ook gezocht" not in answer_markdown(plain) and plain.to_dict()["also_searched"] == []


def test_every_law_word_is_a_word_the_laws_use(bundled) -> None:
    """The vocabulary's right-hand side comes from the laws' own texts: the bundled corpus
    (current versions and texts of about 2015) and the training corpus's laws."""
    from bronwijzer.text import stems
    from tests.conftest import PROJECT

    training = PROJECT.parent / "shared" / "training_corpus"
    if not training.is_dir():
        pytest.skip(f"../shared/training_corpus not found at {training}")
    paths = [*(PROJECT / "corpus").glob("*.md"), *(PROJECT / "corpus").glob("*.yaml"),
             *training.glob("*.md")]
    used = set(stems("\n".join(p.read_text("utf-8") for p in paths)))
    unknown = [f"{e.key} → {word}" for e in bundled.entries for word in e.related
               if not set(stems(word)) <= used]
    assert not unknown, f"law words no law in corpus/ or the training corpus uses: {unknown}"


def test_no_key_is_the_head_of_a_compound_with_another_meaning(bundled) -> None:
    assert "participatiewet" not in bundled.related("Heeft de betrokkene recht op rechtsbijstand?")


def test_an_unknown_compound_is_searched_by_its_known_parts() -> None:
    from bronwijzer.text import DEFAULT_STEMMER
    from store.lexical import compound_parts

    vocab = {stem: n for n, stem in enumerate(
        ["overlast", "boet", "vergunn", "splitsing", "drug", "handel", "eert", "hard"])}
    assert compound_parts("overlastboet", vocab) == ["boet", "overlast"]
    assert compound_parts("splitsingsvergunn", vocab) == ["vergunn", "splitsing"]
    assert compound_parts("drugshandel", vocab) == ["handel", "drug"]  # the linking s
    assert compound_parts("woonoverlast", vocab) == ["overlast"]  # a long head alone
    assert compound_parts("reageert", vocab) == []  # a short head needs a known modifier
    assert compound_parts("verhard", vocab) == []  # a prefix is no modifier
    assert compound_parts("boet", vocab) == []

    texts = ["De burgemeester legt een boete op bij overlast.", "De gemeente int belasting."]
    passages = [Passage(f"p{i}", "d", "wet.md", "Wet", text, 0) for i, text in enumerate(texts)]
    index = LexicalIndex.build(passages, texts, generation=1, stemmer=DEFAULT_STEMMER)
    assert index.search("Hoe hoog is een overlastboete?", 2) == []  # the word is unknown
    found = index.search("Hoe hoog is een overlastboete?", 2, compound_weight=0.5)
    assert [pid for pid, _ in found] == ["p0"]
