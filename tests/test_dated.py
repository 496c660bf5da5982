"""Dated sources: catalogue fields, stale citations and their notice in JSON, CLI, handout."""

from __future__ import annotations

import datetime
import json
from dataclasses import replace

import pytest

from assistant.dated import is_stale, mark_stale, notice
from bronwijzer.domain import Answer, BronwijzerError, Citation, Passage, ScoredPassage
from ingest.sources import SourceCatalogue
from tests.conftest import PROJECT

CORPUS = PROJECT / "corpus"
LAW = CORPUS / "besluit_wijkagenten_BWBR0032251.md"
TODAY = datetime.date(2026, 11, 29)


def passage(**fields) -> Passage:
    return Passage(id="p1", document_id="d", document="x.md", title="Wet X", text="Tekst.",
                   ordinal=0, **fields)


def test_the_catalogue_dates_every_bundled_law() -> None:
    catalogue = SourceCatalogue.load(CORPUS / "sources.toml")
    laws = [s for s in catalogue.sources if s.file and "BWBR" in s.file]
    assert len(laws) == 11 and all((CORPUS / s.file).exists() for s in laws)
    assert all(s.version_date and s.version_date.startswith("2015") for s in laws)
    assert all(s.status in ("superseded", "unknown") for s in laws)
    gemeentewet = next(s for s in laws if s.file.startswith("gemeentewet"))
    assert gemeentewet.current_url == "https://wetten.overheid.nl/BWBR0005416"
    assert gemeentewet.status == "superseded" and gemeentewet.version_date == "2015-11-24"


@pytest.mark.parametrize(("entry", "field"), [
    ('version_date = "24-11-2015"', "version_date"), ('status = "vervallen"', "status")])
def test_bad_dating_is_a_clear_error_naming_the_entry(tmp_path, entry, field) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(f'[[source]]\ntitle = "Wet X"\nfile = "wet_x.md"\n{entry}\n', "utf-8")
    with pytest.raises(BronwijzerError, match=rf"sources.toml: source #1 \(wet_x.md\): {field}"):
        SourceCatalogue.load(path)


def test_stale_by_status_or_by_age() -> None:
    assert is_stale(passage(status="superseded", version_date="2025-01-01"), 3, TODAY)
    assert is_stale(passage(version_date="2015-11-24"), 3, TODAY)
    assert is_stale(passage(year=2022), 3, TODAY)
    assert not is_stale(passage(year=2024), 3, TODAY)
    assert not is_stale(passage(), 3, TODAY)  # no date known: no claim either way
    law = passage(version_date="2015", document_type="wet",
                  current_url="https://wetten.overheid.nl/BWBR0032251")
    assert notice(law) == ("Let op: Wet X is hier de versie van 2015; controleer de geldende "
                           "tekst op https://wetten.overheid.nl/BWBR0032251.")
    assert "is van 2020 en is vervangen" in notice(passage(year=2020, status="superseded"))


def test_an_answer_marks_each_stale_citation_and_notes_each_document_once() -> None:
    old, new = passage(version_date="2015"), replace(passage(year=2025), id="p2")
    citations = [Citation(n, p.id, p.document, p.title, None, "Tekst.", end=6)
                 for n, p in ((1, old), (2, new), (3, old))]
    answer = Answer("Vraag?", "Tekst. [1]", citations,
                    [ScoredPassage(old, 1.0), ScoredPassage(new, 0.9)], refused=False)
    marked = mark_stale(answer, 3, TODAY)
    assert [c.stale for c in marked.citations] == [True, False, True]
    assert len(marked.notices) == 1 and marked.to_dict()["notices"] == marked.notices
    assert marked.to_dict()["citations"][0]["stale"] is True


def test_a_law_answer_carries_the_notice_in_json_cli_and_handout(tmp_path, embeddings) -> None:
    from assistant.handout import conversation_markdown
    from assistant.pipeline import build_assistant
    from assistant.settings import Settings
    from ingest.pipeline import Ingestor
    from ingest.store import Index

    settings = Settings.from_env({}, index_dir=tmp_path / "index")
    index = Index(settings.index, create=True, embeddings=embeddings)
    Ingestor(index, sources=SourceCatalogue.load(settings.index.sources))([LAW])
    answer = build_assistant(settings, index=index).ask(
        "Welke werkzaamheden verricht de wijkagent?")
    assert not answer.refused and answer.citations
    assert all(c.stale and c.version_date == "2015" for c in answer.citations)
    assert answer.notices == ["Let op: Besluit wijkagenten is hier de versie van 2015; "
                              "controleer de geldende tekst op "
                              "https://wetten.overheid.nl/BWBR0032251."]
    data = json.loads(json.dumps(answer.to_dict()))
    assert data["citations"][0]["stale"] and data["notices"] == answer.notices
    assert answer.notices[0] in conversation_markdown([answer]).replace("\\", "")
    assert "versie 2015" in conversation_markdown([answer])
