"""Dated sources: catalogue fields, stale citations and their notice in JSON, CLI, handout;
law versions: a notice only when the cited version is not the one in force."""

from __future__ import annotations

import datetime
import json
from dataclasses import replace

import pytest

from assistant.dated import is_stale, mark_stale, notice
from bronwijzer.domain import Answer, BronwijzerError, Citation, Passage, ScoredPassage
from bronwijzer.versions import LawVersions, Version
from store.sources import SourceCatalogue
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
    assert all((CORPUS / s.file).exists() for s in laws)
    old = [s for s in laws if s.file.endswith(".md")]
    assert len(old) == 11 and all(s.bwb_id and s.bwb_id in s.file for s in old)
    assert all(s.version_date and s.version_date.startswith("2015") for s in old)
    assert all(s.status in ("superseded", "unknown") for s in old)
    gemeentewet = next(s for s in old if s.file.startswith("gemeentewet"))
    assert gemeentewet.current_url == "https://wetten.overheid.nl/BWBR0005416"
    assert gemeentewet.status == "superseded" and gemeentewet.version_date == "2015-11-24"
    # the current versions: regelrecht YAML with provenance, a later version of 6 laws
    new = [s for s in laws if s.file.endswith(".yaml")]
    assert len(new) == 7 and all(s.valid_from and s.sha256 and "regelrecht-corpus@" in
                                 s.extra["origin"] for s in new)
    versions = LawVersions(catalogue.versions())
    assert versions.in_force("BWBR0005416", datetime.date(2016, 1, 1)).document == (
        "gemeentewet_BWBR0005416.md")
    assert versions.in_force("BWBR0005416", TODAY).document == (
        "gemeentewet_BWBR0005416_2026-10-01.yaml")
    assert catalogue.stale_years == {"rapport": 0, "nieuwsbericht": 0}


@pytest.mark.parametrize(("entry", "field"), [
    ('version_date = "24-11-2015"', "version_date"), ('status = "vervallen"', "status"),
    ('valid_from = "2026"', "valid_from"), ('bwb_id = "Gemeentewet"', "bwb_id")])
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
    assert not is_stale(passage(year=2015), 0, TODAY)  # 0: never by age alone
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
    from assistant.pipeline import build_assistant
    from ingest.pipeline import Ingestor
    from presentation.handout import conversation_markdown
    from presentation.settings import Settings
    from store.index import Index

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


def version(document: str, start: str, *, indexed: bool = True) -> Version:
    day = datetime.date.fromisoformat(start)
    return Version(document, "BWBR0005416", day, start, exact=document.endswith(".yaml"),
                   indexed=indexed, title="Gemeentewet")


def law(document: str, **fields) -> Passage:
    return Passage(id=document, document_id="d", document=document, title="Gemeentewet",
                   text="Tekst.", ordinal=0, document_type="wet",
                   current_url="https://wetten.overheid.nl/BWBR0005416", **fields)


def dated(cited: Passage, versions: LawVersions, on: datetime.date,
          age_rule: dict[str, int] | None = None) -> Answer:
    answer = Answer("Vraag?", "Tekst. [1]", [Citation(1, cited.id, cited.document, cited.title,
                                                      None, "Tekst.", end=6)],
                    [ScoredPassage(cited, 1.0)], refused=False)
    return mark_stale(answer, 3, on, versions=versions, age_rule=age_rule)


def test_a_law_version_is_flagged_only_when_another_is_in_force_on_the_asked_date() -> None:
    old = law("gemeentewet_2015.md", version_date="2015-11-24", status="superseded")
    new = law("gemeentewet_2026.yaml", version_date="2026-10-01", valid_from="2026-10-01")
    both = LawVersions([version(old.document, "2015-11-24"),
                        version(new.document, "2026-10-01")])
    assert not dated(new, both, TODAY).notices  # the version in force: no notice
    # 2016: the 2015 text is in force, whatever its catalogue status says
    assert not dated(old, both, datetime.date(2016, 1, 1)).notices
    flagged = dated(old, both, TODAY)  # asked for by name on a later date
    assert flagged.citations[0].stale and flagged.notices == [
        "Let op: Gemeentewet is hier de versie van 2015-11-24; op 2026-11-29 geldt de versie "
        "vanaf 2026-10-01, die hier niet is doorzocht; controleer de geldende tekst op "
        "https://wetten.overheid.nl/BWBR0005416."]
    # the later version known to the catalogue only (the evaluation index): flagged too
    catalogued = LawVersions([version(old.document, "2015-11-24"),
                              version(new.document, "2026-10-01", indexed=False)])
    assert "geldt de versie vanaf 2026-10-01" in dated(old, catalogued, TODAY).notices[0]
    # a version that was not in force yet on the asked date
    assert "pas geldt vanaf 2026-10-01" in dated(new, both, datetime.date(2010, 1, 1)
                                                ).notices[0]


def test_the_age_rule_holds_for_texts_without_known_versions_and_per_type() -> None:
    amvb = law("besluit.md", version_date="2015", status="unknown")
    alone = LawVersions([Version("besluit.md", "BWBR0032251", datetime.date(2015, 1, 1),
                                 "2015", exact=False, indexed=True)])
    assert dated(amvb, alone, TODAY).notices[0].startswith(
        "Let op: Gemeentewet is hier de versie van 2015;")  # no later version known
    news = Passage(id="n", document_id="n", document="nieuws.md", title="Nieuws", text="T.",
                   ordinal=0, year=2021, document_type="nieuwsbericht")
    assert dated(news, LawVersions([]), TODAY).notices  # kamerbrief-like default: 3 years
    assert not dated(news, LawVersions([]), TODAY, {"nieuwsbericht": 0}).notices
